"""Line-art layers as one OpenRaster file (``.ora``, the layered format Krita, GIMP and MyPaint open):
the flat colors, the shading as two blend layers, the lines on top.

An 8-bit multiply layer can only darken, while the shading factor (painted lightness over the flat's)
runs 0-4; so the shading is split: a *multiply* layer holds ``min(factor, 1)`` and an *add*
(``svg:plus``) layer holds what brightening adds, ``flat x (factor - 1)`` where the factor is above 1.
Stacked with OpenRaster's blend modes they give the shown result to within 2 levels of 255 (the
8-bit rounding of the two shading layers). Layout (OpenRaster 0.0.6): ``mimetype`` first and
uncompressed, ``stack.xml`` (top layer first), ``data/*.png``, ``mergedimage.png`` (the result) and
``Thumbnails/thumbnail.png`` (at most 256 px)."""

from __future__ import annotations

import io
import zipfile

import numpy as np

MIMETYPE = "image/openraster"
THUMBNAIL = 256

# (name, file, composite op), top of the stack first
STACK = (
    ("lines", "data/lines.png", "svg:src-over"),
    ("shading (lighten)", "data/shading_add.png", "svg:plus"),
    ("shading (darken)", "data/shading_multiply.png", "svg:multiply"),
    ("flats", "data/flats.png", "svg:src-over"),
)


def shading_layers(flat: np.ndarray, shading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(multiply HxWx3 uint8, add HxWx3 uint8): the shading factors (HxW, 0-4) over ``flat``
    (HxWx3 uint8) as a multiply layer (darkening, factor at most 1) and an add layer (the flat's
    extra brightness where the factor is above 1)."""
    s = shading.astype(np.float32)[..., None]
    mult = np.round(255.0 * np.minimum(s, 1.0)).astype(np.uint8)
    add = np.minimum(flat.astype(np.float32) * np.maximum(s - 1.0, 0.0), 255.0 - flat)
    return np.repeat(mult, 3, axis=2), np.round(add).astype(np.uint8)


def line_layer(alpha: np.ndarray) -> np.ndarray:
    """HxWx4 uint8: the drawing's lines, black at ``alpha`` (HxW uint8), on transparency."""
    ink = np.zeros((*alpha.shape, 4), np.uint8)
    ink[..., 3] = alpha
    return ink


def png_bytes(arr: np.ndarray) -> bytes:
    """``arr`` (HxW uint8 / uint16, HxWx3 or HxWx4 uint8) as a PNG file."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def ora_bytes(flat: np.ndarray, shading: np.ndarray, result: np.ndarray, lines_png: bytes, flats_png: bytes) -> bytes:
    """The OpenRaster file of a painted drawing's layers: ``flat`` (HxWx3 uint8) and its ``shading``
    factors (HxW float, 0-4), the ``result`` they stack to (HxWx3 uint8; stored as the merged image
    and thumbnail), and the line and flat layers already encoded (``lines_png``:
    :func:`line_layer` as PNG; ``flats_png``: ``flat`` as PNG)."""
    from PIL import Image

    h, w = shading.shape
    mult, add = shading_layers(flat, shading)
    data = dict(zip((src for _, src, _ in STACK), (lines_png, png_bytes(add), png_bytes(mult), flats_png)))
    thumb = Image.fromarray(result)
    thumb.thumbnail((THUMBNAIL, THUMBNAIL))
    layers = "".join(f'<layer name="{name}" src="{src}" x="0" y="0" opacity="1.0" visibility="visible" '
                     f'composite-op="{op}"/>' for name, src, op in STACK)
    stack = (f"<?xml version='1.0' encoding='UTF-8'?>\n<image version=\"0.0.6\" w=\"{w}\" h=\"{h}\">"
             f"<stack>{layers}</stack></image>\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr("stack.xml", stack)
        for name, blob in data.items():
            zf.writestr(name, blob, compress_type=zipfile.ZIP_STORED)  # PNGs are compressed already
        zf.writestr("mergedimage.png", png_bytes(result), compress_type=zipfile.ZIP_STORED)
        zf.writestr("Thumbnails/thumbnail.png", png_bytes(np.asarray(thumb)), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()
