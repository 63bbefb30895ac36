"""16-bit output for 16-bit scans: PNG written chunk by chunk (Pillow cannot write 16-bit RGB) and
TIFF through ``tifffile``, with the source's ICC profile, EXIF and XMP as the 8-bit writers carry
them (:func:`tinct.imageio.save_image` calls :func:`write16` for uint16 images)."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEY = b"XML:com.adobe.xmp"
TIFF_TEXT_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)  # description, make, model,
# software, date, artist, copyright: the EXIF of the source that a TIFF says in its own tags


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _pixels(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    return np.dstack([rgb, alpha]) if alpha is not None else rgb


def write_png16(f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None = None, *, icc: bytes | None = None,
                exif: bytes | None = None, xmp: bytes | None = None, level: int = 6) -> None:
    """A 16-bit RGB (or RGBA) PNG: rows with the Sub filter, deflated; iCCP, eXIf and iTXt (XMP)."""
    px = _pixels(rgb, alpha)
    h, w, c = px.shape
    rows = px.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    bpp = c * 2
    sub = rows.copy()
    sub[:, bpp:] -= rows[:, :-bpp]  # uint8 arithmetic wraps, as the Sub filter wants
    raw = np.concatenate([np.ones((h, 1), np.uint8), sub], axis=1).tobytes()
    f.write(PNG_SIGNATURE)
    f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6 if alpha is not None else 2, 0, 0, 0)))
    if icc:
        f.write(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        f.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    if xmp:
        f.write(_chunk(b"iTXt", XMP_KEY + b"\x00\x00\x00\x00\x00" + xmp))
    f.write(_chunk(b"IDAT", zlib.compress(raw, level)))
    f.write(_chunk(b"IEND", b""))


def write_tiff16(f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None = None, *, icc: bytes | None = None,
                 exif: bytes | None = None, xmp: bytes | None = None) -> None:
    """A 16-bit RGB (or RGBA) TIFF, deflated; the ICC profile, XMP and the source's EXIF text tags."""
    import tifffile
    from PIL import Image

    tags = []
    if xmp:
        tags.append((700, "B", len(xmp), xmp, True))
    if exif:
        e = Image.Exif()
        e.load(exif)
        for code in TIFF_TEXT_TAGS:
            v = e.get(code)
            if isinstance(v, str) and v:
                tags.append((code, "s", 0, v, True))
    tifffile.imwrite(f, _pixels(rgb, alpha), photometric="rgb", compression="zlib", iccprofile=icc,
                     extrasamples=("unassalpha",) if alpha is not None else None, extratags=tags, metadata=None)


def write16(f: BinaryIO, fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, **meta) -> None:
    """``fmt`` "PNG" or "TIFF" (the formats that hold 16 bits)."""
    (write_png16 if fmt == "PNG" else write_tiff16)(f, rgb, alpha, **meta)
