"""Reading and writing image files, and turning any image a user hands over into uint8 RGB.

:func:`load_image` reads a file defensively: every way a file can be unusable (missing, empty,
not an image, corrupt, truncated, too large, too small) is a one-line
:class:`~tinct.errors.ImageError` naming the file; EXIF orientation is applied; 16-bit data is
scaled to 8 bits as value / 257; alpha (also palette transparency) is kept apart. :func:`as_rgb`
does the same conversion for the Python API (PIL images and numpy arrays), and
:func:`save_image` writes atomically, never over an existing file unless asked.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from tinct.errors import ImageError

MAX_PIXELS = 100_000_000  # default decompression-bomb limit of load_image
MIN_SIDE = 8  # smallest width/height load_image accepts by default
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP"}
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
INPUT_EXTENSIONS = frozenset(FORMATS) | {".gif"}  # what a folder scan picks up
# decoders load_image may use: raster formats only (EPS and PDF would run Ghostscript)
READ_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "AVIF")
_SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
               b"BM": "BMP"}
_STRICT_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """An image file as tinct uses it: EXIF orientation applied, 8-bit RGB plus optional alpha."""

    rgb: np.ndarray  # (H, W, 3) uint8
    alpha: np.ndarray | None  # (H, W) uint8, or None when the file has no transparency
    mode: str  # PIL mode of the file ("L", "I;16", "RGBA", "P", "CMYK", ...)
    format: str | None  # PIL format name ("JPEG", "PNG", ...)
    size: tuple[int, int]  # (width, height) after EXIF orientation
    exif: bytes | None = None  # EXIF to carry to the output (orientation tag removed)
    icc_profile: bytes | None = None  # an RGB ICC profile to carry to the output
    bit_depth: int = 8  # bits per sample of the file (16 for 16-bit PNG/TIFF)
    animated: bool = False  # more than one frame in the file (only the first is used)
    path: Path | None = None


# ------------------------------------------------------------------------------------------ reading
def load_image(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS, min_side: int = MIN_SIDE) -> LoadedImage:
    """Read an image file (JPEG, PNG, WebP, TIFF, BMP, GIF, ...) into a :class:`LoadedImage`.

    Raises :class:`ImageError` with a one-line message naming the file when it cannot be used.
    ``max_pixels`` (None: no limit) guards against decompression bombs; images with a side
    shorter than ``min_side`` pixels are refused. Animated files give their first frame.
    """
    p = Path(path)
    _check_file(p)
    try:
        with _strict_loading(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (checked below), "corrupt EXIF" notes
            with Image.open(p, formats=_read_formats()) as im:
                _check_size(p, im.size, max_pixels, min_side)
                wide = _wide_rawmode(im)
                animated = _is_animated(im)
                im.load()
                loaded = _from_pil(p, im, wide)
                loaded.animated = animated
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
        detail = f"{int(found[1]) / 1e6:.3g} megapixels; Pillow's limit is {int(found[2]) / 1e6:.3g}" if found else str(exc)
        raise ImageError(f"{p}: image too large ({detail}); refusing to decode it") from None
    except UnidentifiedImageError:
        raise ImageError(_unidentified_message(p)) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError) as exc:
        raise ImageError(_decode_message(p, exc)) from None
    _check_size(p, loaded.size, max_pixels, min_side)
    return loaded


def _read_formats() -> list[str]:
    Image.init()
    return [f for f in READ_FORMATS if f in Image.OPEN]


def _check_file(p: Path) -> None:
    if not p.exists():
        raise ImageError(f"{p}: file not found")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory, not an image file")
    if not p.is_file():
        raise ImageError(f"{p}: not a regular file")
    if not os.access(p, os.R_OK):
        raise ImageError(f"{p}: permission denied")
    if p.stat().st_size == 0:
        raise ImageError(f"{p}: empty file (0 bytes)")


def _check_size(p: Path, size: tuple[int, int], max_pixels: int | None, min_side: int) -> None:
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(f"{p}: image too large ({w}x{h} = {w * h / 1e6:.3g} megapixels; "
                         f"the limit is {max_pixels / 1e6:g} megapixels)")
    if min(w, h) < min_side:
        raise ImageError(f"{p}: image too small ({w}x{h}; at least {min_side}x{min_side} pixels needed)")


@contextlib.contextmanager
def _strict_loading():
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


def _is_animated(im: Image.Image) -> bool:
    try:
        return bool(getattr(im, "is_animated", False))
    except Exception:  # a damaged later frame does not matter: only the first is read
        return False
    finally:
        try:
            im.seek(0)
        except Exception:
            pass


def _head(p: Path) -> bytes:
    with open(p, "rb") as f:
        return f.read(16)


def _unidentified_message(p: Path) -> str:
    head = _head(p)
    fmt = "WebP" if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else next(
        (name for sig, name in _SIGNATURES.items() if head.startswith(sig)), None)
    if fmt:
        return f"{p}: corrupt or truncated {fmt} file (cannot read its header)"
    return f"{p}: not an image file (the data is not JPEG, PNG, WebP, TIFF, BMP or GIF)"


def _decode_message(p: Path, exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return f"{p}: not enough memory to decode this image"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if "truncated" in reason.lower() or isinstance(exc, EOFError) or _riff_cut(p):
        return f"{p}: truncated image file (the data ends early)"
    return f"{p}: corrupt image data ({reason})"


def _riff_cut(p: Path) -> bool:
    """A WebP file shorter than its RIFF header says (Pillow reports it as a decoder error)."""
    head = _head(p)
    return head[:4] == b"RIFF" and p.stat().st_size < int.from_bytes(head[4:8], "little") + 8


# ------------------------------------------------------------------------------------ PIL -> arrays
def _from_pil(p: Path, im: Image.Image, wide: str | None) -> LoadedImage:
    mode, fmt = im.mode, im.format
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # unreadable EXIF: no orientation
        orientation = 1
    exif = _clean_exif(im.info.get("exif"))
    icc = im.info.get("icc_profile") or None
    bit_depth = 16 if wide or mode.startswith("I;16") else 32 if mode in ("I", "F") else 8
    rgb = alpha = None
    if wide:
        rgb, alpha = _read_16bit_color(p, im, wide, orientation)
    if rgb is None:
        upright = ImageOps.exif_transpose(im) if orientation != 1 else im
        rgb, alpha = pil_to_arrays(upright)
    if icc is not None and _icc_space(icc) != "RGB ":
        icc = None  # a gray or CMYK profile does not describe the RGB output
    h, w = rgb.shape[:2]
    return LoadedImage(rgb=rgb, alpha=alpha, mode=mode, format=fmt, size=(w, h), exif=exif, icc_profile=icc,
                       bit_depth=bit_depth, path=p)


def _clean_exif(raw: bytes | None) -> bytes | None:
    """EXIF bytes without the orientation tag (it has been applied to the pixels)."""
    if not raw:
        return None
    try:
        exif = Image.Exif()
        exif.load(raw)
        exif.pop(0x0112, None)
        return exif.tobytes() if len(exif) else None
    except Exception:  # damaged EXIF is dropped, not fatal
        return None


def _icc_space(icc: bytes) -> str:
    return icc[16:20].decode("latin-1") if len(icc) >= 20 else ""


def pil_to_arrays(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any PIL image -> (HxWx3 uint8 RGB, HxW uint8 alpha or None). No orientation is applied."""
    mode = im.mode
    if mode == "F":
        return _gray3(_float_image_to_uint8(np.asarray(im))), None
    if mode == "I" or mode.startswith("I;16"):
        gray = scale_to_uint8(np.asarray(im), what=f"mode {mode} image", int16_range=True)
        return _gray3(gray), None
    if "transparency" in im.info and mode in ("1", "L", "RGB", "P"):
        im = im.convert("RGBA")
    elif mode in ("P", "PA", "La", "RGBa"):
        im = im.convert("RGBA" if (mode != "P") else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode == "CMYK":
        im = _cmyk_to_rgb(im)
    if im.mode == "L":
        return _gray3(np.asarray(im)), None
    if im.mode == "LA":
        arr = np.asarray(im)
        return _gray3(arr[:, :, 0]), np.ascontiguousarray(arr[:, :, 1])
    if im.mode == "RGBA":
        arr = np.asarray(im)
        return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])
    if im.mode != "RGB":
        try:
            im = im.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageError(f"unsupported image mode {mode!r} ({exc})") from None
    return np.ascontiguousarray(np.asarray(im)), None


def _gray3(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded CMYK ICC profile when there is one, else Pillow's
    (multiplicative) conversion."""
    icc = im.info.get("icc_profile")
    if icc and _icc_space(icc) == "CMYK":
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


def _wide_rawmode(im: Image.Image) -> str | None:
    """The raw mode of a 16-bit-per-sample color file, which Pillow decodes to 8 bits by keeping
    the high byte. None for everything else."""
    if im.mode not in ("RGB", "RGBA") or len(im.tile) == 0:
        return None
    modes = {t.args if isinstance(t.args, str) else (t.args[0] if t.args else None) for t in im.tile}
    if len(modes) != 1:
        return None
    raw = modes.pop()
    return raw if raw in _WIDE else None


def _low_rawmode(raw: str) -> str:
    """The raw mode that makes Pillow's unpacker keep the low byte of every 16-bit sample."""
    if raw == "LA;16B":
        return "RGBA"  # 4 bytes per pixel unpacked as is: L high, L low, A high, A low
    order = raw[-1]
    if order == "N":
        order = "L" if sys.byteorder == "little" else "B"
    return raw[:-1] + {"B": "L", "L": "B"}[order]


def _read_16bit_color(p: Path, hi: Image.Image, raw: str, orientation: int):
    """Decode the file a second time for the low bytes and combine them with the high bytes
    Pillow already decoded, so 16-bit color scales as value / 257. (None, None) when that fails
    (the 8-bit high-byte image is then used as it is)."""
    try:
        with Image.open(p, formats=_read_formats()) as lo:
            lo.tile = [t._replace(args=_low_rawmode(raw) if isinstance(t.args, str)
                                  else (_low_rawmode(raw), *t.args[1:])) for t in lo.tile]
            lo.load()
            if orientation != 1:
                lo = ImageOps.exif_transpose(lo)
            lo_arr = np.asarray(lo).astype(np.uint32)
        hi_arr = np.asarray(ImageOps.exif_transpose(hi) if orientation != 1 else hi).astype(np.uint32)
    except Exception:
        return None, None
    if raw == "LA;16B":  # lo holds the raw bytes: L high, L low, A high, A low
        return _gray3(_to8(lo_arr[:, :, 0] * 256 + lo_arr[:, :, 1])), _to8(lo_arr[:, :, 2] * 256 + lo_arr[:, :, 3])
    if hi_arr.shape != lo_arr.shape:
        return None, None
    full = _to8(hi_arr * 256 + lo_arr)
    alpha = np.ascontiguousarray(full[:, :, 3]) if hi.mode == "RGBA" else None
    return np.ascontiguousarray(full[:, :, :3]), alpha


def _to8(v: np.ndarray) -> np.ndarray:
    return ((v + 128) // 257).astype(np.uint8)


# ------------------------------------------------------------------------------------- Python API
def as_rgb(image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image or numpy array -> (HxWx3 uint8 RGB, HxW uint8 alpha or None).

    Arrays may be HxW, HxWx1 (gray), HxWx2 (gray + alpha), HxWx3 (RGB) or HxWx4 (RGBA) of uint8,
    uint16 (scaled by 1/257) or float in [0, 1]. PIL images of any mode are converted as
    :func:`load_image` converts files (no EXIF orientation is applied here).
    """
    if isinstance(image, LoadedImage):
        return image.rgb, image.alpha
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise ImageError(f"empty image ({image.width}x{image.height})")
        return pil_to_arrays(image)
    if not isinstance(image, np.ndarray):
        if not hasattr(image, "__array__"):
            raise ImageError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
        image = np.asarray(image)
    arr = image
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 array (channels last), got shape {image.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"empty image array of shape {image.shape}")
    arr = scale_to_uint8(arr, what="image array")
    c = arr.shape[2]
    alpha = np.ascontiguousarray(arr[:, :, c - 1]) if c in (2, 4) else None
    rgb = _gray3(arr[:, :, 0]) if c in (1, 2) else np.ascontiguousarray(arr[:, :, :3])
    return rgb, alpha


# ------------------------------------------------------------------------------------------ writing
def format_for(path: str | os.PathLike) -> str:
    """PIL format name for an output path, from its extension."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: cannot tell the output format from {Path(path).suffix or 'no extension'!r}; "
                         "use .jpg, .png, .webp, .tif or .bmp")
    return fmt


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None, *,
               like: LoadedImage | None = None, overwrite: bool = False, quality: int = 95) -> Path:
    """Write an HxWx3 uint8 image (plus HxW uint8 alpha) atomically to ``path``.

    The format follows the extension. Alpha is kept in PNG, WebP and TIFF; a JPEG or BMP output
    with (not fully opaque) alpha is an error. ``like`` carries EXIF and the ICC profile of the
    source. An existing file is only replaced when ``overwrite`` is true.
    """
    p = Path(path)
    fmt = format_for(p)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"{p}: expected an HxWx3 uint8 image, got {rgb.dtype} array of shape {rgb.shape}")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2] or alpha.dtype != np.uint8:
            raise ImageError(f"{p}: alpha must be an HxW uint8 array matching the image, got {alpha.dtype} {alpha.shape}")
        if fmt not in ALPHA_FORMATS:
            if (alpha < 255).any():
                raise ImageError(f"{p}: {fmt} cannot hold transparency; save as .png, .webp or .tif instead")
            alpha = None
    if p.is_dir():
        raise ImageError(f"{p}: is a directory")
    if p.exists() and not overwrite:
        raise ImageError(f"{p}: already exists (not overwritten)")
    im = Image.fromarray(rgb, "RGB")
    if alpha is not None:
        im.putalpha(Image.fromarray(alpha, "L"))
    options = _save_options(fmt, like, quality)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"{p}: cannot create the folder ({exc.strerror or exc})") from None
    tmp = p.parent / f".{p.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as f:
            im.save(f, format=fmt, **options)
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, p, overwrite)
    except ImageError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageError(f"{p}: cannot write ({getattr(exc, 'strerror', None) or exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def _save_options(fmt: str, like: LoadedImage | None, quality: int) -> dict:
    opts: dict = {}
    if fmt in ("JPEG", "WEBP"):
        opts["quality"] = int(quality)
    if fmt == "TIFF":
        opts["compression"] = "tiff_deflate"
    if like is not None:
        if like.icc_profile and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
            opts["icc_profile"] = like.icc_profile
        if like.exif and fmt in ("JPEG", "PNG", "WEBP"):
            opts["exif"] = like.exif
    return opts


def _publish(tmp: Path, p: Path, overwrite: bool) -> None:
    """Move the finished temporary file into place; without ``overwrite`` never replace a file
    that appeared in the meantime (a hard link fails if the name exists)."""
    if overwrite:
        os.replace(tmp, p)
        return
    try:
        os.link(tmp, p)
    except FileExistsError:
        raise ImageError(f"{p}: already exists (not overwritten)") from None
    except OSError:  # no hard links on this file system
        if p.exists():
            raise ImageError(f"{p}: already exists (not overwritten)") from None
        os.replace(tmp, p)
