"""Uploaded bytes -> image and image -> response bytes, all in memory.

Uploads go through the same checks and conversions as image files (:func:`tinct.imageio.load_image_bytes`:
EXIF orientation, exact 16-bit color, palette/CMYK/alpha, truncation, decompression bombs, images
too small to use). The content decides, never the file name or the declared type, and only raster
formats are read (no EPS/PDF, which would run external programs). :func:`open_image` reads the
header alone, so the pixel limit is checked before any pixel is decoded; :func:`decode` decodes
later, in an inference thread. Each :class:`~tinct.errors.ImageError` ``kind`` maps to a status.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tinct.errors import ImageError
from tinct.imageio import load_image_bytes, probe_image_bytes
from tinct.imageio.files import READ_FORMATS_IN_WORDS
from tinct.serve.errors import ApiError

UPLOAD_NAME = "the uploaded image"  # how error messages of tinct.imageio name an upload
OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp"),
                  "tiff": ("TIFF", "image/tiff")}
DEEP_OUTPUTS = ("png", "tiff")  # the formats that hold a 16-bit scan's 16 bits
NOT_AN_IMAGE = f"that file is not an image (or not in a format tinct reads: {READ_FORMATS_IN_WORDS})"


@dataclass(frozen=True)
class Upload:
    """Uploaded bytes whose header passed the checks, waiting to be decoded."""

    data: bytes
    size: tuple[int, int]  # (width, height) after EXIF orientation
    max_pixels: int


def open_image(data: bytes, max_pixels: int) -> tuple[Upload, tuple[int, int]]:
    """Check uploaded bytes (header only). Returns the upload and its upright (width, height).
    415 when the bytes are no image of a known format, 413 past ``max_pixels``, 400 when damaged
    or too small."""
    try:
        header = probe_image_bytes(data, UPLOAD_NAME, max_pixels=None)  # the limit is checked below, in API words
    except ImageError as exc:
        raise api_error(exc, max_pixels) from None
    w, h = header.size
    if w * h > max_pixels:
        raise ApiError(413, f"the image is {w}x{h} = {w * h / 1e6:.1f} megapixels; "
                            f"the limit is {max_pixels / 1e6:g} megapixels")
    return Upload(data, header.size, max_pixels), header.size


def decode(upload: Upload, deep: bool = False) -> np.ndarray:
    """Decode the pixels of a checked upload, upright: HxWx3 or HxWx4 uint8 (alpha kept); with
    ``deep``, a 16-bit file's own uint16 samples (alpha scaled to 16 bits)."""
    try:
        loaded = load_image_bytes(upload.data, UPLOAD_NAME, max_pixels=upload.max_pixels)
    except ImageError as exc:
        raise api_error(exc, upload.max_pixels) from None
    if deep and loaded.rgb16 is not None:
        rgb, alpha = loaded.rgb16, None if loaded.alpha is None else loaded.alpha.astype(np.uint16) * 257
    else:
        rgb, alpha = loaded.rgb, loaded.alpha
    return rgb if alpha is None else np.dstack([rgb, alpha])


def api_error(exc: ImageError, max_pixels: int) -> ApiError:
    """The HTTP answer to an upload that :mod:`tinct.imageio` refused, chosen by the error's kind."""
    kind = getattr(exc, "kind", None)
    if kind == "empty":
        return ApiError(400, "the uploaded file is empty")
    if kind == "not_image":
        return ApiError(415, NOT_AN_IMAGE)
    if kind == "video":
        return ApiError(415, "that file is a video, not an image: send videos as a job (POST /api/v1/jobs, "
                             "or the page's file picker), which colorizes them frame by frame")
    if kind == "too_large":
        return ApiError(413, f"the image has too many pixels (limit {max_pixels / 1e6:g} megapixels)")
    if kind == "memory":
        return ApiError(413, "the image is too large to decode on this server")
    if kind in ("corrupt", "truncated"):
        return ApiError(400, f"the image is damaged and cannot be read: {_reason(exc)}")
    return ApiError(400, f"the image cannot be used: {_reason(exc)}")  # too small, unsupported mode, ...


def _reason(exc: ImageError) -> str:
    """The message of ``exc`` without the upload's name in front."""
    text = str(exc)
    return text[len(UPLOAD_NAME) + 2:] if text.startswith(f"{UPLOAD_NAME}: ") else text


def encode(arr: np.ndarray, fmt: str, quality: int | None = None, fast: bool = False) -> tuple[bytes, str]:
    """HxWx3/4 (or HxW gray) uint8 -> (bytes, media type) in ``fmt`` ('png', 'jpeg', 'webp', 'tiff'); a
    uint16 array (a 16-bit upload) -> a 16-bit PNG or TIFF. ``fast``: the least PNG compression (maps
    the page only overlays)."""
    pil_format, media = OUTPUT_FORMATS[fmt]
    if arr.dtype == np.uint16:
        from tinct.imageio.depth16 import write16

        buf = io.BytesIO()
        write16(buf, pil_format, arr[:, :, :3], arr[:, :, 3] if arr.shape[2] == 4 else None)
        return buf.getvalue(), media
    img = Image.fromarray(arr)
    if pil_format == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")  # JPEG has no alpha
    buf = io.BytesIO()
    options = {"PNG": {"compress_level": 1 if fast else 6}, "JPEG": {"quality": quality or 92, "optimize": True},
               "WEBP": {"quality": quality or 90}, "TIFF": {"compression": "tiff_deflate"}}[pil_format]
    img.save(buf, pil_format, **options)
    return buf.getvalue(), media


KILLABLE_PIXELS = 2_000_000  # from this size on, an answer is compressed where a cancellation kills it


def encode_answer(arr: np.ndarray, fmt: str, quality: int | None = None) -> tuple[bytes, str]:
    """:func:`encode` for a request's answer: a large picture (seconds of PNG compression at 12 MP)
    in a child process that a cancelled request kills (:func:`tinct.cancel.killable`), a small one
    in a helper thread an abandoned request does not wait for."""
    from tinct import cancel

    if arr.shape[0] * arr.shape[1] < KILLABLE_PIXELS:
        return cancel.interruptible(encode, arr, fmt, quality)
    # the answer is never larger than the raw pixels with a filter byte per row and 1 % of framing
    bound = int(arr.nbytes * 1.01) + arr.shape[0] * (1 + arr.itemsize) + 1_000_000
    data = cancel.killable(lambda: encode(arr, fmt, quality)[0], max_bytes=bound)
    return data, OUTPUT_FORMATS[fmt][1]
