"""Image files of every kind in, uint8 RGB (+ alpha) out; every bad file a one-line ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from tinct.errors import ImageError
from tinct.imageio import (
    as_rgb,
    load_image,
    load_image_bytes,
    probe_image_bytes,
    save_image,
)


def gradient(h=48, w=64) -> np.ndarray:
    """A smooth RGB image (lossy codecs keep it close)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(np.uint8)


def noise(shape, seed=0, dtype=np.uint8, high=256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


def to8(v: np.ndarray) -> np.ndarray:
    return np.round(v.astype(np.float64) / 257).astype(np.uint8)


def write_png16(path, arr: np.ndarray) -> None:
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA), which Pillow cannot write for color."""
    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[1 if arr.ndim == 2 else arr.shape[2]]
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------- good files
@pytest.mark.parametrize("ext,fmt,tol", [("jpg", "JPEG", 4), ("png", "PNG", 0), ("webp", "WEBP", 6),
                                         ("tif", "TIFF", 0), ("bmp", "BMP", 0)])
def test_rgb_formats(tmp_path, ext, fmt, tol):
    src = gradient()
    p = tmp_path / f"a.{ext}"
    Image.fromarray(src).save(p, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    img = load_image(p)
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (48, 64, 3)
    assert img.size == (64, 48) and img.format == fmt and img.alpha is None
    assert np.abs(img.rgb.astype(int) - src).mean() <= tol


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp"])
def test_gray(tmp_path, ext):
    g = gradient()[:, :, 0]
    p = tmp_path / f"g.{ext}"
    Image.fromarray(g, "L").save(p)
    img = load_image(p)
    assert img.mode == "L" and img.alpha is None
    assert (img.rgb[:, :, 0] == img.rgb[:, :, 1]).all() and (img.rgb[:, :, 1] == img.rgb[:, :, 2]).all()
    assert np.abs(img.rgb[:, :, 0].astype(int) - g).max() <= (3 if ext == "jpg" else 0)


@pytest.mark.parametrize("ext", ["png", "webp", "tif"])
def test_rgba_alpha_kept(tmp_path, ext):
    rgba = noise((32, 40, 4), seed=1)
    p = tmp_path / f"a.{ext}"
    Image.fromarray(rgba, "RGBA").save(p, **({"lossless": True} if ext == "webp" else {}))
    img = load_image(p)
    assert img.alpha is not None and np.array_equal(img.alpha, rgba[:, :, 3])
    opaque = rgba[:, :, 3] == 255  # WebP may drop the color of fully transparent pixels
    assert np.array_equal(img.rgb[opaque], rgba[:, :, :3][opaque])


def test_la(tmp_path):
    la = noise((16, 20, 2), seed=2)
    p = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(p)
    img = load_image(p)
    assert np.array_equal(img.alpha, la[:, :, 1]) and np.array_equal(img.rgb[:, :, 2], la[:, :, 0])


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_palette_transparency_becomes_alpha(tmp_path, ext):
    im = Image.new("P", (16, 16), 1)
    im.putpalette([0, 0, 0, 200, 30, 10, 10, 200, 30] + [0] * (256 * 3 - 9))
    im.paste(2, (0, 0, 8, 16))
    p = tmp_path / f"p.{ext}"
    im.save(p, transparency=2)
    img = load_image(p)
    assert img.mode == "P" and img.alpha is not None
    assert (img.alpha[:, :8] == 0).all() and (img.alpha[:, 8:] == 255).all()
    assert tuple(img.rgb[0, 12]) == (200, 30, 10)


def test_palette_without_transparency(tmp_path):
    im = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE)
    p = tmp_path / "p.png"
    im.save(p)
    img = load_image(p)
    assert img.alpha is None and np.array_equal(img.rgb, np.asarray(im.convert("RGB")))


@pytest.mark.parametrize("ext,tol", [("tif", 0), ("jpg", 3)])
def test_cmyk(tmp_path, ext, tol):
    p = tmp_path / f"c.{ext}"
    Image.new("CMYK", (16, 16), (0, 128, 255, 50)).save(p, **({"quality": 100} if ext == "jpg" else {}))
    img = load_image(p)
    assert img.mode == "CMYK"
    # (255 - C)(255 - K)/255 per channel: (205, 102, 0)
    assert np.abs(img.rgb[8, 8].astype(int) - [205, 102, 0]).max() <= tol


@pytest.mark.parametrize("ext", ["png", "bmp", "tif"])
def test_one_bit(tmp_path, ext):
    bits = noise((24, 24), seed=3, high=2).astype(bool)
    p = tmp_path / f"b.{ext}"
    Image.fromarray(bits).save(p)
    img = load_image(p)
    assert img.mode == "1" and set(np.unique(img.rgb)) <= {0, 255}
    assert np.array_equal(img.rgb[:, :, 0] == 255, bits)


def test_16bit_gray_png(tmp_path):
    g = noise((20, 30), seed=4, dtype=np.uint16, high=65536)
    p = tmp_path / "g16.png"
    Image.fromarray(g).save(p)  # Pillow writes mode I;16 as a 16-bit PNG
    img = load_image(p)
    assert img.mode == "I;16" and img.bit_depth == 16
    assert np.array_equal(img.rgb[:, :, 0], to8(g))


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_color_png_scaled_not_truncated(tmp_path, channels):
    a = noise((20, 30, channels), seed=5, dtype=np.uint16, high=65536)
    p = tmp_path / "c16.png"
    write_png16(p, a)
    img = load_image(p)
    assert img.bit_depth == 16
    if channels == 2:
        assert np.array_equal(img.rgb[:, :, 1], to8(a[:, :, 0])) and np.array_equal(img.alpha, to8(a[:, :, 1]))
    else:
        assert np.array_equal(img.rgb, to8(a[:, :, :3]))
        assert (img.alpha is None) == (channels == 3)
        if channels == 4:
            assert np.array_equal(img.alpha, to8(a[:, :, 3]))


def test_16bit_png_rotated_by_exif(tmp_path):
    a = noise((20, 30, 3), seed=6, dtype=np.uint16, high=65536)
    plain = tmp_path / "plain.png"
    write_png16(plain, a)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = plain.read_bytes()
    chunk = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif\x00\x00") else exif.tobytes()
    exif_chunk = struct.pack(">I", len(chunk)) + b"eXIf" + chunk + struct.pack(">I", zlib.crc32(b"eXIf" + chunk) & 0xFFFFFFFF)
    p = tmp_path / "rot.png"
    p.write_bytes(data[:33] + exif_chunk + data[33:])  # after the 8-byte signature and the IHDR chunk
    img = load_image(p)
    assert img.size == (20, 30)
    assert np.array_equal(img.rgb, np.rot90(to8(a), k=-1))  # orientation 6: rotate 90 degrees clockwise


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_16bit_tiff(tmp_path, byteorder):
    tifffile = pytest.importorskip("tifffile")
    rgb = noise((20, 30, 3), seed=7, dtype=np.uint16, high=65536)
    gray = noise((20, 30), seed=8, dtype=np.uint16, high=65536)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, byteorder=byteorder)
    tifffile.imwrite(tmp_path / "rgbz.tif", rgb, byteorder=byteorder, compression="zlib")
    tifffile.imwrite(tmp_path / "gray.tif", gray, byteorder=byteorder)
    for name in ("rgb.tif", "rgbz.tif"):
        img = load_image(tmp_path / name)
        assert img.bit_depth == 16 and np.array_equal(img.rgb, to8(rgb)), name
    img = load_image(tmp_path / "gray.tif")
    assert img.mode in ("I;16", "I;16B") and np.array_equal(img.rgb[:, :, 0], to8(gray))


def test_float_tiff(tmp_path):
    f = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    img = load_image(tmp_path / "f.tif")
    assert img.mode == "F" and img.rgb[0, 0, 0] == 0 and img.rgb[-1, -1, 0] == 255
    Image.fromarray(f * 255, "F").save(tmp_path / "f255.tif")  # Pillow's own float scale
    assert np.array_equal(load_image(tmp_path / "f255.tif").rgb, img.rgb)
    Image.fromarray(f * 300, "F").save(tmp_path / "big.tif")
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        load_image(tmp_path / "big.tif")


def test_exif_orientation_6(tmp_path):
    im = Image.new("RGB", (40, 20), (200, 200, 200))
    im.paste((0, 0, 0), (0, 0, 10, 5))  # dark patch at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    p = tmp_path / "rot.jpg"
    im.save(p, exif=exif.tobytes(), quality=95)
    img = load_image(p)
    assert img.size == (20, 40) and img.rgb.shape == (40, 20, 3)
    # rotated 90 degrees clockwise for display: the patch is now at the top-right
    assert img.rgb[:8, -3:].mean() < 30 and img.rgb[:8, :10].mean() > 170 and img.rgb[-10:, -3:].mean() > 170
    carried = Image.Exif()
    carried.load(img.exif)
    assert 0x0112 not in carried and carried[0x010F] == "TestCam"


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), (v, v, v)) for v in (10, 200, 90)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    img = load_image(p)
    assert img.animated and tuple(img.rgb[0, 0]) == (10, 10, 10)


def test_icc_profile_carried(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    p = tmp_path / "icc.jpg"
    Image.fromarray(gradient()).save(p, icc_profile=icc)
    img = load_image(p)
    assert img.icc_profile == icc
    out = save_image(tmp_path / "out.png", img.rgb, like=img)
    with Image.open(out) as o:
        assert o.info.get("icc_profile") == icc


# -------------------------------------------------------------------------------- bad files
def _err(path, **kw) -> str:
    with pytest.raises(ImageError) as info:
        load_image(path, **kw)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def _saved(tmp_path, fmt, ext) -> bytes:
    p = tmp_path / f"full.{ext}"
    Image.fromarray(noise((64, 64, 3), seed=9)).save(p, fmt)
    return p.read_bytes()


def test_missing_dir_empty_text(tmp_path):
    assert "not found" in _err(tmp_path / "nope.jpg")
    assert "directory" in _err(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in _err(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("just some text, renamed\n")
    assert "not an image" in _err(tmp_path / "text.jpg")
    (tmp_path / "eps.jpg").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert "not an image" in _err(tmp_path / "eps.jpg")  # never handed to Ghostscript


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif"), ("BMP", "bmp")])
def test_truncated(tmp_path, fmt, ext):
    data = _saved(tmp_path, fmt, ext)
    p = tmp_path / f"half.{ext}"
    p.write_bytes(data[: len(data) // 2])
    assert "truncated" in _err(p)
    p.write_bytes(data[:20])  # only the start of the header
    assert "truncated" in _err(p)


def test_truncated_even_when_pillow_is_told_to_load_them(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _saved(tmp_path, "JPEG", "jpg")
    p = tmp_path / "half.jpg"
    p.write_bytes(data[: len(data) // 2])
    assert "truncated" in _err(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_corrupt_png(tmp_path):
    data = bytearray(_saved(tmp_path, "PNG", "png"))
    data[200:400] = noise(200, seed=10).tobytes()
    p = tmp_path / "bad.png"
    p.write_bytes(bytes(data))
    assert "corrupt" in _err(p)


def test_decompression_bomb(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    Image.fromarray(gradient()).save(p)
    msg = _err(p, max_pixels=1000)
    assert "too large" in msg and "64x48" in msg
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow's own limit is far lower still
    assert "too large" in _err(p)


def test_too_small(tmp_path):
    p = tmp_path / "tiny.png"
    Image.new("L", (5, 12)).save(p)
    assert "too small" in _err(p)
    assert load_image(p, min_side=1).size == (5, 12)


# ------------------------------------------------------------------------ bytes in memory
def _same(a, b) -> None:
    assert np.array_equal(a.rgb, b.rgb) and (a.alpha is None) == (b.alpha is None)
    assert a.alpha is None or np.array_equal(a.alpha, b.alpha)
    assert (a.size, a.mode, a.format, a.bit_depth, a.exif, a.animated) == (b.size, b.mode, b.format, b.bit_depth,
                                                                           b.exif, b.animated)


def test_bytes_load_like_files(tmp_path):
    write_png16(tmp_path / "c16.png", noise((20, 30, 4), seed=18, dtype=np.uint16, high=65536))
    rot = Image.fromarray(gradient())
    exif = Image.Exif()
    exif[0x0112] = 6
    rot.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    Image.fromarray(noise((16, 20, 2), seed=19), "LA").save(tmp_path / "la.png")
    for name in ("c16.png", "rot.jpg", "la.png"):
        p = tmp_path / name
        from_file, from_bytes = load_image(p), load_image_bytes(p.read_bytes(), name)
        _same(from_bytes, from_file)
        assert from_file.path == p and from_bytes.path is None
    loaded = load_image_bytes((tmp_path / "c16.png").read_bytes())
    assert loaded.bit_depth == 16 and loaded.alpha is not None
    with Image.open(tmp_path / "c16.png") as high_byte_only:  # what Pillow alone gives: value // 256
        assert not np.array_equal(loaded.rgb, np.asarray(high_byte_only.convert("RGB")))
    assert load_image_bytes((tmp_path / "rot.jpg").read_bytes()).size == (48, 64)


def _bytes_err(data: bytes, kind: str, **kw) -> str:
    with pytest.raises(ImageError) as info:
        load_image_bytes(data, "scan-7.png", **kw)
    msg = str(info.value)
    assert msg.startswith("scan-7.png: ") and "\n" not in msg and info.value.kind == kind, (msg, info.value.kind)
    return msg


def test_bytes_errors(tmp_path):
    assert "empty" in _bytes_err(b"", "empty")
    assert "not an image" in _bytes_err(b"just some text, renamed\n" * 4, "not_image")
    assert "not an image" in _bytes_err(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n", "not_image")
    png = _saved(tmp_path, "PNG", "png")
    assert "truncated" in _bytes_err(png[: len(png) // 2], "truncated")
    assert "truncated" in _bytes_err(png[:20], "truncated")
    header = b"\x89PNG\r\n\x1a\n" + noise(200, seed=20).tobytes()
    assert "corrupt or truncated PNG" in _bytes_err(header, "corrupt")
    webp = _saved(tmp_path, "WEBP", "webp")
    assert "truncated" in _bytes_err(webp[: len(webp) // 2], "truncated")
    assert "too large" in _bytes_err(png, "too_large", max_pixels=1000)
    assert "too small" in _bytes_err(png, "too_small", min_side=100)
    assert load_image_bytes(png, min_side=64).size == (64, 64)


@pytest.mark.parametrize("fmt,ext,cut", [("PNG", "png", 2), ("JPEG", "jpg", 2), ("WEBP", "webp", 2), ("PNG", "png", 100)])
def test_bytes_and_file_errors_read_the_same(tmp_path, fmt, ext, cut):
    data = _saved(tmp_path, fmt, ext)
    p = tmp_path / f"cut.{ext}"
    p.write_bytes(data[: len(data) // cut])
    with pytest.raises(ImageError) as from_file:
        load_image(p)
    with pytest.raises(ImageError) as from_bytes:
        load_image_bytes(p.read_bytes(), "an upload")
    assert str(from_file.value).replace(str(p), "an upload") == str(from_bytes.value)
    assert from_file.value.kind == from_bytes.value.kind is not None


def test_file_errors_have_kinds(tmp_path):
    for path, kind in ((tmp_path / "nope.jpg", "not_found"), (tmp_path, "not_a_file")):
        with pytest.raises(ImageError) as info:
            load_image(path)
        assert info.value.kind == kind
    Image.fromarray(np.full((16, 16), 300.0, np.float32), "F").save(tmp_path / "big.tif")  # neither [0, 1] nor 0-255
    with pytest.raises(ImageError) as info:
        load_image(tmp_path / "big.tif")
    assert str(info.value).startswith(f"{tmp_path / 'big.tif'}: ") and info.value.kind == "unsupported"


def test_probe_reads_the_header_only(tmp_path, monkeypatch):
    im = Image.fromarray(gradient())
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    big = io.BytesIO()
    Image.new("L", (3000, 3000)).save(big, "PNG")
    decoded = []
    for cls in (Image.Image, ImageFile.ImageFile):
        monkeypatch.setattr(cls, "load", lambda self: decoded.append(1))
    header = probe_image_bytes(buf.getvalue())
    assert header.size == (48, 64) and header.format == "JPEG" and header.mode == "RGB"
    with pytest.raises(ImageError) as info:
        probe_image_bytes(big.getvalue(), max_pixels=1_000_000)
    assert info.value.kind == "too_large" and "3000x3000" in str(info.value)
    with pytest.raises(ImageError) as info:
        probe_image_bytes(b"hello" * 10, "x")
    assert info.value.kind == "not_image" and str(info.value).startswith("x: ")
    assert not decoded


def test_quiet_overlapping_uses_restore_the_filters():
    """Two threads reading images at once: entries and exits interleave (A in, B in, A out, B out)."""
    import warnings

    from tinct.imageio.decode import QUIET

    before = list(warnings.filters)
    a, b = QUIET, QUIET
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    with warnings.catch_warnings(record=True) as caught:  # B still reads: still quiet
        warnings.warn("from Pillow", UserWarning)
    assert caught == []
    b.__exit__(None, None, None)
    assert warnings.filters == before


# ---------------------------------------------------------------------------------- as_rgb
def test_as_rgb_arrays():
    g = noise((8, 9), seed=11)
    rgb, alpha = as_rgb(g)
    assert rgb.shape == (8, 9, 3) and alpha is None and np.array_equal(rgb[:, :, 2], g)
    assert np.array_equal(as_rgb(g[:, :, None])[0], rgb)
    rgba = noise((8, 9, 4), seed=12)
    rgb, alpha = as_rgb(rgba)
    assert np.array_equal(rgb, rgba[:, :, :3]) and np.array_equal(alpha, rgba[:, :, 3])
    u16 = noise((8, 9, 3), seed=13, dtype=np.uint16, high=65536)
    assert np.array_equal(as_rgb(u16)[0], to8(u16))
    f = np.linspace(0, 1, 72, dtype=np.float32).reshape(8, 9)
    rgb, _ = as_rgb(f)
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255


@pytest.mark.parametrize("bad,match", [
    (np.zeros((8, 8), dtype=bool), "boolean"),
    (np.full((8, 8), 1.5, dtype=np.float32), r"\[0, 1\]"),
    (np.full((8, 8), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((8, 8, 5), dtype=np.uint8), "shape"),
    (np.zeros((3, 8, 8, 1), dtype=np.uint8), "shape"),
    (np.zeros((0, 8), dtype=np.uint8), "empty"),
    (np.zeros((8, 8), dtype=np.int64), "data type"),
    ("not an image", "PIL image or a numpy array"),
])
def test_as_rgb_rejects(bad, match):
    with pytest.raises(ImageError, match=match):
        as_rgb(bad)


def test_as_rgb_pil_modes():
    base = Image.fromarray(gradient())
    for mode in ("L", "RGB", "CMYK", "1", "I", "I;16", "F", "YCbCr", "HSV"):
        rgb, alpha = as_rgb(base.convert(mode) if mode not in ("I;16",) else Image.fromarray(
            (np.asarray(base.convert("L")).astype(np.uint16) * 257)))
        assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8 and alpha is None, mode
    rgb, alpha = as_rgb(Image.fromarray(gradient()[:, :, 0], "L").convert("I"))
    assert rgb[0, 0, 0] == 0  # mode I holds 16-bit data
    rgb, alpha = as_rgb(base.convert("RGBA"))
    assert alpha is not None and (alpha == 255).all()
    rgb, alpha = as_rgb(base.convert("LA"))
    assert alpha is not None and np.array_equal(rgb[:, :, 0], np.asarray(base.convert("L")))


# ---------------------------------------------------------------------------------- saving
def _no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("ext", ["png", "webp", "tif"])
def test_save_keeps_alpha(tmp_path, ext):
    rgb, alpha = noise((16, 20, 3), seed=14), noise((16, 20), seed=15)
    out = save_image(tmp_path / f"o.{ext}", rgb, alpha, quality=100)
    with Image.open(out) as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im)[:, :, 3], alpha)
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize("ext", ["jpg", "jpeg", "bmp"])
def test_save_alpha_refused_where_it_cannot_be_kept(tmp_path, ext):
    rgb, alpha = noise((16, 20, 3), seed=16), noise((16, 20), seed=17)
    with pytest.raises(ImageError, match=r"\.png"):
        save_image(tmp_path / f"o.{ext}", rgb, alpha)
    assert not list(tmp_path.iterdir())
    save_image(tmp_path / f"o.{ext}", rgb, np.full((16, 20), 255, np.uint8))  # opaque alpha: nothing lost
    assert load_image(tmp_path / f"o.{ext}", min_side=1).alpha is None


def test_save_never_overwrites_unless_asked(tmp_path):
    p = tmp_path / "o.png"
    p.write_bytes(b"precious")
    with pytest.raises(ImageError, match="already exists"):
        save_image(p, noise((16, 16, 3)))
    assert p.read_bytes() == b"precious"
    save_image(p, noise((16, 16, 3)), overwrite=True)
    assert load_image(p).size == (16, 16) and _no_temp_files(tmp_path)


def test_save_failure_leaves_nothing(tmp_path, monkeypatch):
    def broken(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(ImageError, match="No space left"):
        save_image(tmp_path / "o.png", noise((16, 16, 3)))
    assert not list(tmp_path.iterdir())


def test_save_bad_extension_and_inputs(tmp_path):
    with pytest.raises(ImageError, match="output format"):
        save_image(tmp_path / "o.xyz", noise((16, 16, 3)))
    with pytest.raises(ImageError, match="HxWx3 uint8"):
        save_image(tmp_path / "o.png", noise((16, 16)))
    with pytest.raises(ImageError, match="alpha"):
        save_image(tmp_path / "o.png", noise((16, 16, 3)), noise((8, 8)))


def test_save_carries_exif_without_orientation(tmp_path):
    im = Image.fromarray(gradient())
    exif = Image.Exif()
    exif[0x0112] = 8
    exif[0x010F] = "TestCam"
    im.save(tmp_path / "in.jpg", exif=exif.tobytes())
    img = load_image(tmp_path / "in.jpg")
    out = save_image(tmp_path / "out.jpg", img.rgb, like=img)
    with Image.open(out) as o:
        e = o.getexif()
        assert e.get(0x010F) == "TestCam" and 0x0112 not in e
        assert o.size == (48, 64)


def test_save_formats_roundtrip(tmp_path):
    rgb = gradient()
    for ext, tol in (("png", 0), ("tif", 0), ("bmp", 0), ("jpg", 4), ("webp", 6)):
        out = save_image(tmp_path / f"o.{ext}", rgb)
        assert np.abs(load_image(out).rgb.astype(int) - rgb).mean() <= tol, ext
    assert _no_temp_files(tmp_path)


def test_save_creates_parent_folders(tmp_path):
    out = save_image(tmp_path / "a" / "b" / "o.png", noise((16, 16, 3)))
    assert out.is_file()


def test_pil_image_bytes_roundtrip():
    buf = io.BytesIO()
    Image.fromarray(gradient()).save(buf, "PNG")
    rgb, alpha = as_rgb(Image.open(io.BytesIO(buf.getvalue())))
    assert np.array_equal(rgb, gradient()) and alpha is None


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_output_round_trip_with_metadata(tmp_path, ext):
    """A uint16 image is written with 16 bits (PNG by our own writer, TIFF by tifffile), with
    the source's ICC profile, EXIF text and XMP, and reads back sample for sample."""
    from PIL import ImageCms

    a = noise((24, 36, 3), seed=8, dtype=np.uint16, high=65536)
    src = tmp_path / "src.png"
    write_png16(src, a)
    like = load_image(src)
    exif = Image.Exif()
    exif[0x0132] = "1931:05:04 10:00:00"
    exif[0x010E] = "harbour, 1931"
    like.exif = exif.tobytes()
    like.icc_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    like.xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc>rights of the archive</dc></x:xmpmeta>'
    alpha = noise((24, 36), seed=9)
    out = save_image(tmp_path / f"out.{ext}", a, alpha, like=like)
    back = load_image(out)
    assert back.bit_depth == 16 and np.array_equal(back.rgb16, a) and np.array_equal(back.alpha, alpha)
    assert back.icc_profile == like.icc_profile and b"rights of the archive" in back.xmp
    tags = Image.Exif()
    tags.load(back.exif)
    assert tags.get(0x0132) == "1931:05:04 10:00:00" and tags.get(0x010E) == "harbour, 1931"
    with pytest.raises(ImageError, match="8 bits per sample"):
        save_image(tmp_path / "out.jpg", a)


def test_16bit_png_keeps_16bit_samples_upright(tmp_path):
    a = noise((20, 30, 3), seed=6, dtype=np.uint16, high=65536)
    exif = Image.Exif()
    exif[0x0112] = 6
    from tinct.imageio.depth16 import write_png16 as ours

    with open(tmp_path / "rot.png", "wb") as f:
        ours(f, a, exif=exif.tobytes())
    img = load_image(tmp_path / "rot.png")
    assert np.array_equal(img.rgb16, np.rot90(a, k=-1)) and np.array_equal(img.rgb, np.rot90(to8(a), k=-1))
