"""Reading and writing image files, and turning any image a user hands over into uint8 RGB.

:func:`load_image` reads a file defensively: every way a file can be unusable (missing, empty,
not an image, corrupt, truncated, too large, too small) is a one-line
:class:`~tinct.errors.ImageError` naming the file (its ``kind`` says which); EXIF orientation is
applied; 16-bit data is scaled to 8 bits as value / 257 (:mod:`tinct.imageio.decode`); alpha (also
palette transparency) is kept apart. :func:`load_image_bytes` does the same for a file held in
memory (an upload) and :func:`probe_image_bytes` checks its header alone. :func:`as_rgb`
does the same conversion for the Python API (PIL images and numpy arrays), and
:func:`save_image` writes atomically, never over an existing file unless asked.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tinct.errors import ImageError
from tinct.imageio import decode as imagedecode
from tinct.imageio.decode import gray3, icc_space, pil_to_arrays, read_16bit_color, scale_to_uint8, to8, wide_rawmode
from tinct.imageio.metadata import clean_exif, output_xmp, save_options, tiff_exif, xmp_of
from tinct.imageio.paths import FORMATS

MAX_PIXELS = 100_000_000  # default decompression-bomb limit of load_image
MIN_SIDE = 8  # smallest width/height load_image accepts by default
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
DEEP_FORMATS = {"PNG", "TIFF"}  # the formats a 16-bit image is written to with 16 bits
# decoders load_image may use: raster formats only (EPS and PDF would run Ghostscript)
READ_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "AVIF", "TGA")
READ_FORMATS_IN_WORDS = "PNG, JPEG, WebP, TIFF, BMP, GIF, PNM, TGA or AVIF"  # what messages, the API and the page say
_SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
               b"BM": "BMP"}
VIDEO_HINT = "colorize videos with `tinct video` (or as a job on the web page)"


def video_format(head: bytes) -> str | None:
    """The video container a file's first bytes announce (MP4/QuickTime, Matroska/WebM, AVI), or None."""
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "MP4/QuickTime"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "Matroska/WebM"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return None


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
    xmp: bytes | None = None  # the file's XMP packet (captions, rights, keywords), carried to the output
    bit_depth: int = 8  # bits per sample of the file (16 for 16-bit PNG/TIFF)
    rgb16: np.ndarray | None = None  # (H, W, 3) uint16 of a 16-bit file, for a 16-bit output
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
    return _load(_Source(p, path=p), max_pixels, min_side)


def load_image_bytes(data: bytes, name: str = "upload", *, max_pixels: int | None = MAX_PIXELS,
                     min_side: int = MIN_SIDE) -> LoadedImage:
    """:func:`load_image` for an image file held in memory (an upload): the same checks and
    conversions, with ``name`` in place of the path in error messages."""
    return _load(_bytes_source(data, name), max_pixels, min_side)


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an image file tells before any pixel is decoded."""

    size: tuple[int, int]  # (width, height) after EXIF orientation
    format: str | None
    mode: str


def probe_image_bytes(data: bytes, name: str = "upload", *, max_pixels: int | None = MAX_PIXELS,
                      min_side: int = MIN_SIDE) -> ImageHeader:
    """Check an in-memory image file as far as its header allows (the same errors as
    :func:`load_image_bytes`, the pixel limit included) without decoding pixels."""
    with _opened(_bytes_source(data, name), max_pixels, min_side) as im:
        w, h = im.size
        return ImageHeader(size=(h, w) if _header_orientation(im) in (5, 6, 7, 8) else (w, h), format=im.format,
                           mode=im.mode)


@dataclass(frozen=True)
class _Source:
    """An image file: on disk (``path``) or in memory (``data``); ``label`` names it in errors."""

    label: str | Path
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> Image.Image:
        """Open with Pillow (reads the header only), restricted to :data:`READ_FORMATS`."""
        return Image.open(self.path if self.data is None else io.BytesIO(self.data), formats=_read_formats())

    def head(self) -> bytes:
        if self.data is not None:
            return self.data[:16]
        with open(self.path, "rb") as f:
            return f.read(16)

    def nbytes(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size


def _bytes_source(data: bytes, name: str) -> _Source:
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)", kind="empty")
    return _Source(name, data=data if isinstance(data, bytes) else bytes(data))


def _load(src: _Source, max_pixels: int | None, min_side: int) -> LoadedImage:
    """The one implementation behind :func:`load_image` and :func:`load_image_bytes`."""
    with _opened(src, max_pixels, min_side) as im:
        wide = wide_rawmode(im)
        animated = _is_animated(im)
        im.load()
        loaded = _from_pil(src, im, wide)
        loaded.animated = animated
    _check_size(src.label, loaded.size, max_pixels, min_side)
    return loaded


@contextlib.contextmanager
def _opened(src: _Source, max_pixels: int | None, min_side: int) -> Iterator[Image.Image]:
    """The file opened by Pillow with its size checked. Whatever goes wrong inside the block
    (decoding included) becomes a one-line :class:`ImageError` naming the file."""
    try:
        # no bomb warnings (the size is checked here), no "corrupt EXIF" notes
        with imagedecode.strict_loading(), imagedecode.QUIET, src.open() as im:
            _check_size(src.label, im.size, max_pixels, min_side)
            yield im
    except ImageError as exc:
        if exc.kind is not None:
            raise
        raise ImageError(f"{src.label}: {exc}", kind="unsupported") from None  # a conversion error
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
        detail = f"{int(found[1]) / 1e6:.3g} megapixels; Pillow's limit is {int(found[2]) / 1e6:.3g}" if found else str(exc)
        raise ImageError(f"{src.label}: image too large ({detail}); refusing to decode it", kind="too_large") from None
    except UnidentifiedImageError:
        raise _unidentified(src) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError) as exc:
        raise _decode_error(src, exc) from None


def _read_formats() -> list[str]:
    Image.init()
    return [f for f in READ_FORMATS if f in Image.OPEN]


def _check_file(p: Path) -> None:
    if not p.exists():
        raise ImageError(f"{p}: file not found", kind="not_found")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory, not an image file", kind="not_a_file")
    if not p.is_file():
        raise ImageError(f"{p}: not a regular file", kind="not_a_file")
    if not os.access(p, os.R_OK):
        raise ImageError(f"{p}: permission denied", kind="permission")
    if p.stat().st_size == 0:
        raise ImageError(f"{p}: empty file (0 bytes)", kind="empty")


def _check_size(label: str | Path, size: tuple[int, int], max_pixels: int | None, min_side: int) -> None:
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(f"{label}: image too large ({w}x{h} = {w * h / 1e6:.3g} megapixels; "
                         f"the limit is {max_pixels / 1e6:g} megapixels)", kind="too_large")
    if min(w, h) < min_side:
        raise ImageError(f"{label}: image too small ({w}x{h}; at least {min_side}x{min_side} pixels needed)",
                         kind="too_small")


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


def _header_orientation(im: Image.Image) -> int:
    """The EXIF orientation, read without decoding pixels (1 when unknown)."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1  # Pillow would decode the whole PNG to look for an eXIf chunk after the pixels
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # damaged EXIF: treat as upright, as decoding does
        return 1


def _unidentified(src: _Source) -> ImageError:
    head = src.head()
    fmt = "WebP" if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else next(
        (name for sig, name in _SIGNATURES.items() if head.startswith(sig)), None)
    if fmt:
        return ImageError(f"{src.label}: corrupt or truncated {fmt} file (cannot read its header)", kind="corrupt")
    video = video_format(head)
    if video:
        return ImageError(f"{src.label}: a video ({video}), not an image: {VIDEO_HINT}", kind="video")
    return ImageError(f"{src.label}: not an image file (the data is not {READ_FORMATS_IN_WORDS})",
                      kind="not_image")


def _decode_error(src: _Source, exc: BaseException) -> ImageError:
    if isinstance(exc, MemoryError):
        return ImageError(f"{src.label}: not enough memory to decode this image", kind="memory")
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if "truncated" in reason.lower() or isinstance(exc, EOFError) or _riff_cut(src):
        return ImageError(f"{src.label}: truncated image file (the data ends early)", kind="truncated")
    return ImageError(f"{src.label}: corrupt image data ({reason})", kind="corrupt")


def _riff_cut(src: _Source) -> bool:
    """A WebP file shorter than its RIFF header says (Pillow reports it as a decoder error)."""
    head = src.head()
    return head[:4] == b"RIFF" and src.nbytes() < int.from_bytes(head[4:8], "little") + 8


# ------------------------------------------------------------------------------------ PIL -> arrays
def _from_pil(src: _Source, im: Image.Image, wide: str | None) -> LoadedImage:
    mode, fmt = im.mode, im.format
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # unreadable EXIF: no orientation
        orientation = 1
    exif = clean_exif(im.info.get("exif") or (tiff_exif(im) if fmt == "TIFF" else None))
    icc = im.info.get("icc_profile") or None
    xmp = xmp_of(im)
    bit_depth = 16 if wide or mode.startswith("I;16") else 32 if mode in ("I", "F") else 8
    rgb = alpha = rgb16 = None
    if wide:
        rgb16, alpha16 = read_16bit_color(src.open, im, wide, orientation)
        if rgb16 is not None:
            rgb, alpha = to8(rgb16), None if alpha16 is None else to8(alpha16)
    if rgb is None:
        upright = ImageOps.exif_transpose(im) if orientation != 1 else im
        rgb, alpha = pil_to_arrays(upright)
        if mode.startswith("I;16"):  # 16-bit gray
            rgb16 = gray3(np.clip(np.asarray(upright), 0, 65535).astype(np.uint16))
    if icc is not None and icc_space(icc) != "RGB ":
        icc = None  # a gray or CMYK profile does not describe the RGB output
    h, w = rgb.shape[:2]
    return LoadedImage(rgb=rgb, alpha=alpha, mode=mode, format=fmt, size=(w, h), exif=exif, icc_profile=icc,
                       xmp=xmp, bit_depth=bit_depth, rgb16=rgb16, path=src.path)


# ------------------------------------------------------------------------------------- Python API
def like_input(image, out: np.ndarray, alpha: np.ndarray | None):
    """An HxWx3 result in the kind of the input: PIL in, PIL out; arrays stay arrays; alpha put back."""
    if isinstance(image, Image.Image):
        result = Image.fromarray(out)
        if alpha is not None:
            result.putalpha(Image.fromarray(alpha))
        return result
    return np.dstack([out, alpha]) if alpha is not None else out


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
    rgb = gray3(arr[:, :, 0]) if c in (1, 2) else np.ascontiguousarray(arr[:, :, :3])
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
               like: LoadedImage | None = None, overwrite: bool = False, quality: int = 95,
               provenance: dict[str, str] | None = None) -> Path:
    """Write an HxWx3 uint8 image (plus HxW uint8 alpha) atomically to ``path``.

    The format follows the extension; a uint16 image (a 16-bit scan) is written with 16 bits per
    sample, as PNG or TIFF only. Alpha is kept in PNG, WebP and TIFF; a JPEG or BMP output
    with (not fully opaque) alpha is an error. ``like`` carries EXIF, the ICC profile and the XMP
    of the source; ``provenance`` (:func:`tinct.imageio.provenance.record`) adds tinct's mark to the XMP
    (JPEG, PNG, WebP, TIFF). An existing file is only replaced when ``overwrite`` is true.
    """
    p = Path(path)
    fmt = format_for(p)
    rgb = np.asarray(rgb)
    wide = rgb.dtype == np.uint16
    if wide and fmt not in DEEP_FORMATS:
        raise ImageError(f"{p}: {fmt} holds 8 bits per sample; save a 16-bit image as .png or .tif")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"{p}: expected an HxWx3 uint8 (or uint16) image, got {rgb.dtype} array of shape {rgb.shape}")
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
    im = None if wide else Image.fromarray(rgb, "RGB")
    if alpha is not None and im is not None:
        im.putalpha(Image.fromarray(alpha, "L"))
    options = save_options(fmt, like, quality, provenance)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"{p}: cannot create the folder ({exc.strerror or exc})") from None
    tmp = p.parent / f".{p.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as f:
            if wide:
                from tinct.imageio.depth16 import write16

                write16(f, fmt, rgb, None if alpha is None else alpha.astype(np.uint16) * 257,
                        icc=options.get("icc_profile"), exif=like.exif if like is not None else None,
                        xmp=output_xmp(like, provenance))
            else:
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


def center_crop_resize(img: Image.Image, size: int) -> np.ndarray:
    """Resize so the shorter side is ``size`` (bicubic), then center-crop ``size x size``: the
    field's benchmark protocol, also how hint-stage training images are cut."""
    w, h = img.size
    s = size / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.array(img.crop((left, top, left + size, top + size)))


def load_square(path: str | os.PathLike, size: int) -> np.ndarray:
    """A color image file as ``size x size x 3`` uint8 RGB (:func:`center_crop_resize`)."""
    try:
        with Image.open(path) as im:
            return center_crop_resize(im.convert("RGB"), size)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None
