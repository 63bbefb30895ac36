"""Decoding with Pillow for :mod:`tinct.imageio`: guards, any PIL mode -> uint8 RGB + alpha, 16-bit color.

:func:`strict_loading` makes truncated files raise; :data:`QUIET` silences Pillow's warnings and
may be entered from several threads at once. :func:`pil_to_arrays` handles every Pillow mode (palette, CMYK through its ICC profile, 1-bit,
16-bit and float gray); :func:`scale_to_uint8` scales arrays (uint16 / 257, float [0, 1] * 255).
Pillow decodes 16-bit color (RGB, RGBA, gray + alpha) to 8 bits by keeping the high byte of every
sample, value // 256 rather than value / 257: :func:`read_16bit_color` decodes such a file a second
time with a raw mode that keeps the low bytes and combines both halves, so 16-bit color scales
exactly as 16-bit gray does.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import warnings
from collections.abc import Callable, Iterator

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps

from tinct.errors import ImageError

_STRICT_LOCK = threading.Lock()


# --------------------------------------------------------------------------- guards around decoding
@contextlib.contextmanager
def strict_loading() -> Iterator[None]:
    """Truncated files must raise, not load half gray. Pillow's global switch is only touched
    (and restored) when something else turned it on."""
    if not ImageFile.LOAD_TRUNCATED_IMAGES:
        yield
        return
    with _STRICT_LOCK:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = True


class _Quiet:
    """Warnings off while any thread reads an image. ``warnings.catch_warnings`` saves and restores
    process-wide filters, so overlapping uses in several threads (the server decodes in worker
    threads while it checks headers) could leave them changed for good; one counted use cannot."""

    def __init__(self) -> None:
        self._lock, self._users, self._saved = threading.Lock(), 0, None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = warnings.catch_warnings()
                self._saved.__enter__()
                warnings.simplefilter("ignore")
            self._users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._saved.__exit__(None, None, None)


QUIET = _Quiet()


# ------------------------------------------------------------------------------------ PIL -> arrays
def icc_space(icc: bytes) -> str:
    """The color space an ICC profile describes ("RGB ", "GRAY", "CMYK", ...)."""
    return icc[16:20].decode("latin-1") if len(icc) >= 20 else ""


def pil_to_arrays(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any PIL image -> (HxWx3 uint8 RGB, HxW uint8 alpha or None). No orientation is applied."""
    mode = im.mode
    if mode == "F":
        return gray3(_float_image_to_uint8(np.asarray(im))), None
    if mode == "I" or mode.startswith("I;16"):
        gray = scale_to_uint8(np.asarray(im), what=f"mode {mode} image", int16_range=True)
        return gray3(gray), None
    if "transparency" in im.info and mode in ("1", "L", "RGB", "P"):
        im = im.convert("RGBA")
    elif mode in ("P", "PA", "La", "RGBa"):
        im = im.convert("RGBA" if (mode != "P") else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode == "CMYK":
        im = _cmyk_to_rgb(im)
    if im.mode == "L":
        return gray3(np.asarray(im)), None
    if im.mode == "LA":
        arr = np.asarray(im)
        return gray3(arr[:, :, 0]), np.ascontiguousarray(arr[:, :, 1])
    if im.mode == "RGBA":
        arr = np.asarray(im)
        return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])
    if im.mode != "RGB":
        try:
            im = im.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageError(f"unsupported image mode {mode!r} ({exc})") from None
    return np.ascontiguousarray(np.asarray(im)), None


def gray3(gray: np.ndarray) -> np.ndarray:
    """HxW -> HxWx3, the gray value in every channel."""
    if gray.ndim == 2 and gray.size and gray.dtype in (np.uint8, np.uint16):  # OpenCV: 7x faster at 12 MP
        return cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded CMYK ICC profile when there is one, else Pillow's
    (multiplicative) conversion."""
    icc = im.info.get("icc_profile")
    if icc and icc_space(icc) == "CMYK":
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # a broken profile falls back to the plain conversion
            pass
    return im.convert("RGB")


def _float_image_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Pillow's float mode: [0, 1] data (float TIFFs) or 0-255 data (Pillow's own conversions)."""
    if arr.size and np.isfinite(arr).all() and arr.min() >= 0 and 1 < arr.max() <= 255:
        return (arr.astype(np.float32) + 0.5).astype(np.uint8)
    try:
        return scale_to_uint8(arr, what="mode F image")
    except ImageError as exc:
        raise ImageError(f"{exc} (or 0-255)") from None


def scale_to_uint8(arr: np.ndarray, what: str = "array", int16_range: bool = False) -> np.ndarray:
    """uint8 as is; uint16 / 257; float in [0, 1] * 255. With ``int16_range`` other integer
    types are taken as 16-bit data (clipped to 0-65535), as Pillow's modes I and I;16S hold it."""
    if arr.dtype == np.bool_:
        raise ImageError(f"{what}: boolean data is not an image; convert it to uint8 (0-255) first")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if arr.dtype.kind in "iu" and int16_range:
        return ((np.clip(arr, 0, 65535).astype(np.uint32) + 128) // 257).astype(np.uint8)
    if arr.dtype.kind == "f":
        if arr.size and not np.isfinite(arr).all():
            raise ImageError(f"{what}: float data contains NaN or infinity")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ImageError(f"{what}: float data must lie in [0, 1], got [{float(arr.min()):g}, {float(arr.max()):g}]")
        return (arr.astype(np.float32) * 255 + 0.5).astype(np.uint8)
    raise ImageError(f"{what}: unsupported data type {arr.dtype}; use uint8, uint16 or float in [0, 1]")


# ---------------------------------------------------------------------- 16-bit color PNG and TIFF
_WIDE = frozenset(f"{m};16{o}" for m in ("RGB", "RGBA", "RGBX") for o in "BLN") | {"LA;16B"}


def wide_rawmode(im: Image.Image) -> str | None:
    """The raw mode of a 16-bit-per-sample color file, which Pillow decodes to 8 bits by keeping
    the high byte. None for everything else."""
    if im.mode not in ("RGB", "RGBA") or len(im.tile) == 0:
        return None
    modes = {t.args if isinstance(t.args, str) else (t.args[0] if t.args else None) for t in im.tile}
    if len(modes) != 1:
        return None
    raw = modes.pop()
    return raw if raw in _WIDE else None


def low_rawmode(raw: str) -> str:
    """The raw mode that makes Pillow's unpacker keep the low byte of every 16-bit sample."""
    if raw == "LA;16B":
        return "RGBA"  # 4 bytes per pixel unpacked as is: L high, L low, A high, A low
    order = raw[-1]
    if order == "N":
        order = "L" if sys.byteorder == "little" else "B"
    return raw[:-1] + {"B": "L", "L": "B"}[order]


def read_16bit_color(reopen: Callable[[], Image.Image], hi: Image.Image, raw: str,
                     orientation: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Decode the file a second time (``reopen()`` opens it again, header only) for the low bytes
    and combine them with the high bytes Pillow already decoded into ``hi``. Returns (HxWx3 uint16
    RGB, HxW uint16 alpha or None), EXIF ``orientation`` applied, or (None, None) when that fails
    (the 8-bit high-byte image is then used as it is). :func:`to8` scales them as value / 257."""
    try:
        with reopen() as lo:
            lo.tile = [t._replace(args=low_rawmode(raw) if isinstance(t.args, str)
                                  else (low_rawmode(raw), *t.args[1:])) for t in lo.tile]
            lo.load()
            if orientation != 1:
                lo = ImageOps.exif_transpose(lo)
            lo_arr = np.asarray(lo).astype(np.uint32)
        hi_arr = np.asarray(ImageOps.exif_transpose(hi) if orientation != 1 else hi).astype(np.uint32)
    except Exception:
        return None, None
    if raw == "LA;16B":  # lo holds the raw bytes: L high, L low, A high, A low
        return (gray3((lo_arr[:, :, 0] * 256 + lo_arr[:, :, 1]).astype(np.uint16)),
                (lo_arr[:, :, 2] * 256 + lo_arr[:, :, 3]).astype(np.uint16))
    if hi_arr.shape != lo_arr.shape:
        return None, None
    full = (hi_arr * 256 + lo_arr).astype(np.uint16)
    alpha = np.ascontiguousarray(full[:, :, 3]) if hi.mode == "RGBA" else None
    return np.ascontiguousarray(full[:, :, :3]), alpha


def to8(v: np.ndarray) -> np.ndarray:
    """16-bit values (any integer dtype) -> uint8, rounded: (v + 128) // 257."""
    return ((v.astype(np.uint32) + 128) // 257).astype(np.uint8)
