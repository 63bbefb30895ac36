"""The metadata a colorized file keeps from its source: EXIF (orientation removed once applied;
a TIFF's own descriptive tags read as EXIF), the ICC profile and XMP, plus tinct's provenance
mark (:mod:`tinct.imageio.provenance`), as Pillow's save options for each output format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from tinct.imageio.files import LoadedImage

TIFF_EXIF_TAGS = (0x010E, 0x010F, 0x0110, 0x0112, 0x0131, 0x0132, 0x013B, 0x8298)  # description, make, model,
# orientation, software, date, artist, copyright: what a TIFF's own tags say that EXIF also says


def tiff_exif(im: Image.Image) -> bytes | None:
    """The EXIF of a TIFF (its descriptive tags and its EXIF and GPS directories) as EXIF bytes."""
    try:
        src = im.getexif()
        out = Image.Exif()
        for tag in TIFF_EXIF_TAGS:
            if tag in src:
                out[tag] = src[tag]
        for ifd in (0x8769, 0x8825):
            sub = src.get_ifd(ifd)
            if sub:
                out.get_ifd(ifd).update(sub)
        return out.tobytes() if len(out) or out._ifds else None
    except Exception:  # unreadable tags: no EXIF
        return None


def xmp_of(im: Image.Image) -> bytes | None:
    """The XMP packet of a JPEG, WebP, PNG (iTXt) or TIFF (tag 700), as bytes."""
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if raw is None and im.format == "TIFF":
        raw = getattr(im, "tag_v2", {}).get(700)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if isinstance(raw, tuple):  # some TIFF readers give a tuple of ints
        raw = bytes(raw)
    return raw if isinstance(raw, bytes) and raw.strip() else None


def clean_exif(raw: bytes | None) -> bytes | None:
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


def output_xmp(like: LoadedImage | None, provenance: dict | None) -> bytes | None:
    """The source's XMP packet with tinct's provenance mark added (when asked for)."""
    xmp = like.xmp if like is not None else None
    if provenance:
        from tinct.imageio.provenance import xmp_packet

        xmp = xmp_packet(xmp, provenance)
    return xmp


def save_options(fmt: str, like: LoadedImage | None, quality: int, provenance: dict | None = None) -> dict:
    """Pillow's save options for ``fmt``: quality, compression, and the metadata of ``like`` plus the mark."""
    opts: dict = {}
    xmp = output_xmp(like, provenance)
    if xmp and fmt in ("JPEG", "WEBP"):
        opts["xmp"] = xmp
    elif xmp and fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
        opts["pnginfo"] = info
    if fmt == "TIFF" and (xmp or (like is not None and like.exif)):
        tags = Image.Exif()  # TIFF keeps EXIF among its own tags: one directory with both
        if like is not None and like.exif:
            tags.load(like.exif)
            tags.pop(0x8769, None)  # sub-IFD pointers of the source file are meaningless here
            tags.pop(0x8825, None)
        if xmp:
            tags[700] = xmp
        opts["tiffinfo"] = tags
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
