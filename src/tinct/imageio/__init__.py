"""Image files in and out: reading any file or in-memory image defensively (:mod:`.files`, with
Pillow decoding and its guards in :mod:`.decode`), 16-bit PNG and TIFF output (:mod:`.depth16`),
the source's metadata carried into the output (:mod:`.metadata`), the provenance mark a
colorized file carries (:mod:`.provenance`), and the one image lister, extension set and atomic
writer (:mod:`.paths`). The reading and writing
functions are importable from here."""

from tinct.imageio.paths import (
    FORMATS,
    INPUT_EXTENSIONS,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    is_image_name,
    list_images,
)
from tinct.imageio.files import (
    ALPHA_FORMATS,
    DEEP_FORMATS,
    MAX_PIXELS,
    MIN_SIDE,
    ImageHeader,
    LoadedImage,
    as_rgb,
    center_crop_resize,
    format_for,
    load_image,
    load_image_bytes,
    like_input,
    load_square,
    probe_image_bytes,
    save_image,
)

__all__ = ["ALPHA_FORMATS", "DEEP_FORMATS", "FORMATS", "INPUT_EXTENSIONS", "MAX_PIXELS", "MIN_SIDE", "ImageHeader",
           "LoadedImage", "as_rgb", "atomic_path", "atomic_write_bytes", "atomic_write_text", "is_image_name",
           "list_images", "center_crop_resize", "format_for", "load_image", "load_image_bytes",
           "like_input", "load_square", "probe_image_bytes", "save_image"]
