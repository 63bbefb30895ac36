"""Uploaded bytes -> image and image -> response bytes, all in memory.

The content decides, never the file name or the declared type: bytes are opened with Pillow
restricted to a list of raster formats (no EPS/PDF, which would run external programs). Opening
reads only the header, so the pixel limit is checked before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from tinct.errors import ImageError
from tinct.imageio import as_rgb
from tinct.serve.errors import ApiError

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "TGA", "AVIF")
OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
_TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def open_image(data: bytes, max_pixels: int) -> tuple[Image.Image, tuple[int, int]]:
    """Open uploaded bytes (header only). Returns the image and its upright (width, height).
    415 when the bytes are no image of a known format, 413 past ``max_pixels``, 400 when damaged."""
    if not data:
        raise ApiError(400, "the uploaded file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.UnidentifiedImageError:
        raise ApiError(415, "that file is not an image (or not in a format tinct reads: PNG, JPEG, WebP, "
                            "TIFF, BMP, GIF, PNM, TGA, AVIF)") from None
    except Image.DecompressionBombError:
        raise ApiError(413, f"the image has too many pixels (limit {max_pixels / 1e6:g} megapixels)") from None
    except Exception:  # noqa: BLE001  (any other failure of a decoder on the header: a damaged file)
        raise ApiError(400, "the image is damaged and cannot be read") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise ApiError(400, "the image has no pixels")
    if w * h > max_pixels:
        raise ApiError(413, f"the image is {w}x{h} = {w * h / 1e6:.1f} megapixels; "
                            f"the limit is {max_pixels / 1e6:g} megapixels")
    return img, ((h, w) if _orientation(img) in _TRANSPOSED else (w, h))


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation, read without decoding pixels (1 when unknown)."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1  # Pillow would decode the whole PNG to look for an eXIf chunk after the pixels
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001  (damaged EXIF: treat as upright, as decoding does)
        return 1


def decode(img: Image.Image) -> np.ndarray:
    """Decode the pixels of an opened image, upright: HxWx3 or HxWx4 uint8 (alpha kept)."""
    try:
        img.load()
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001, S110  (damaged EXIF: the pixels are fine, keep them as stored)
            pass
        rgb, alpha = as_rgb(img)
    except ImageError as exc:
        raise ApiError(400, f"the image cannot be used: {exc}") from None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001  (Pillow raises OSError, ValueError, SyntaxError, EOFError... on damaged data)
        raise ApiError(400, "the image is damaged or truncated and cannot be decoded") from None
    return rgb if alpha is None else np.dstack([rgb, alpha])


def encode(arr: np.ndarray, fmt: str, quality: int | None = None) -> tuple[bytes, str]:
    """HxWx3/4 uint8 -> (bytes, media type) in ``fmt`` ('png', 'jpeg', 'webp')."""
    pil_format, media = OUTPUT_FORMATS[fmt]
    img = Image.fromarray(arr)
    if pil_format == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")  # JPEG has no alpha
    buf = io.BytesIO()
    options = {"PNG": {"compress_level": 6}, "JPEG": {"quality": quality or 92, "optimize": True},
               "WEBP": {"quality": quality or 90}}[pil_format]
    img.save(buf, pil_format, **options)
    return buf.getvalue(), media
