"""Line extraction (Canny, XDoG, scan noise) and ``tinct lineart``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tinct.cli import main
from tinct.errors import TinctError
from tinct.lineart import canny, pencil, random_lineart, scan_noise, screentone, xdog


def shapes(h=96, w=128) -> np.ndarray:
    """A filled red disc and a blue square on white: flat areas with clear outlines."""
    img = np.full((h, w, 3), 255, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    img[(yy - 48) ** 2 + (xx - 40) ** 2 < 25**2] = (200, 30, 30)
    img[20:70, 80:120] = (30, 60, 200)
    return img


def test_lines_are_dark_on_the_outlines_and_white_inside():
    img = shapes()
    for lines in (canny(img), xdog(img)):
        assert lines.shape == img.shape[:2] and lines.dtype == np.uint8
        assert lines[48, 40] > 200 and lines[45, 100] > 200 and lines[5, 5] > 200  # inside and background
        ring = lines[48, 12:20]  # across the disc's left edge (x = 15)
        assert ring.min() < 128
        assert (lines < 128).mean() < 0.2  # a drawing, mostly paper


def test_canny_width_and_checks():
    img = shapes()
    thin, thick = (canny(img, width=1) < 128).sum(), (canny(img, width=3) < 128).sum()
    assert thick > 2 * thin
    for bad in (dict(low=-1), dict(low=100, high=50), dict(width=9)):
        with pytest.raises(TinctError):
            canny(img, **bad)
    with pytest.raises(TinctError):
        xdog(img, sigma=float("nan"))
    with pytest.raises(TinctError):
        xdog(np.zeros((4, 4, 3), np.float32))


def test_random_lineart_is_seeded_and_varied():
    img = shapes()
    a = random_lineart(img, np.random.default_rng(3))
    b = random_lineart(img, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    outs = {random_lineart(img, np.random.default_rng(s)).tobytes() for s in range(6)}
    assert len(outs) == 6
    noisy = scan_noise(np.full((32, 32), 255, np.uint8), np.random.default_rng(0), grain=8)
    assert 200 < noisy.mean() <= 255 and noisy.std() > 0


def test_pencil_look_is_lighter_broken_and_soft():
    lines = xdog(shapes())
    ink = lines < 128
    a = pencil(lines, np.random.default_rng(1), darkness=0.5, breaks=0.3)
    np.testing.assert_array_equal(a, pencil(lines, np.random.default_rng(1), darkness=0.5, breaks=0.3))
    assert a.shape == lines.shape and a.dtype == np.uint8
    assert a[~ink].mean() > 245  # paper stays white
    assert 50 < a.min() < 200 and a[ink].mean() > lines[ink].mean() + 60  # gray strokes, not black
    darker = pencil(lines, np.random.default_rng(1), darkness=0.9, breaks=0.3)
    assert darker[ink].mean() < a[ink].mean() - 20
    whole = pencil(lines, np.random.default_rng(1), darkness=0.5, breaks=0.0, softness=0.0)
    broken = pencil(lines, np.random.default_rng(1), darkness=0.5, breaks=0.8, softness=0.0)
    assert (broken[ink] > 230).mean() > (whole[ink] > 230).mean() + 0.3  # strokes fade in places
    sharp = pencil(lines, np.random.default_rng(1), softness=0.0)
    soft = pencil(lines, np.random.default_rng(1), softness=1.5)
    assert ((soft < 250) & ~ink).sum() > ((sharp < 250) & ~ink).sum()  # graphite spreads past the line
    for bad in (dict(darkness=0), dict(darkness=float("nan")), dict(breaks=1.0), dict(softness=-1)):
        with pytest.raises(TinctError):
            pencil(lines, np.random.default_rng(0), **bad)
    with pytest.raises(TinctError):
        pencil(shapes(), np.random.default_rng(0))  # RGB is not a drawing
    share = np.mean([random_lineart(shapes(), np.random.default_rng(s), p_noise=0.0).min() > 40 for s in range(40)])
    assert 0.1 < share < 0.6  # training drawings: about 30 % pencil


def tones(h=120, w=160) -> np.ndarray:
    """Three flat gray bands on white: near black, middle gray, light gray."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[:, :40], img[:, 40:80], img[:, 80:120] = 20, 110, 200
    return img


def test_manga_look_has_black_fills_screens_of_dots_and_keeps_the_lines():
    img = tones()
    lines = np.full(img.shape[:2], 255, np.uint8)
    lines[60, :] = 0  # one horizontal stroke across every band
    out = screentone(lines, img, None, black=0.3, toned=0.8, period=6.0, angle=45.0, levels=2)
    assert out.shape == lines.shape and out.dtype == np.uint8
    assert (out[60] == 0).all()  # the lines stay over the tones
    inner = lambda x0, x1: out[5:55, x0 + 5 : x1 - 5]  # away from the bands' blurred edges and the stroke
    assert (inner(0, 40) == 0).mean() > 0.98  # the darkest tone: solid black
    mid, light = (inner(40, 80) == 0).mean(), (inner(80, 120) == 0).mean()
    assert 0.25 < mid < 0.6 and 0.05 < light < mid  # dots, denser where the picture is darker
    assert (inner(122, 160) == 255).all()  # white stays paper
    # a screen: ink in small separate dots, about one per period x period cell
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats((inner(80, 120) == 0).astype(np.uint8), connectivity=8)
    assert n - 1 >= 0.5 * inner(80, 120).size / 36 and stats[1:, cv2.CC_STAT_AREA].max() <= 36
    shifted = screentone(lines, img, np.random.default_rng(1), black=0.3, toned=0.8, period=6.0)
    assert not np.array_equal(shifted, out) and abs((shifted == 0).mean() - (out == 0).mean()) < 0.02
    for bad in (dict(black=0.6), dict(toned=0.95), dict(period=2), dict(levels=5), dict(angle=float("nan"))):
        with pytest.raises(TinctError):
            screentone(lines, img, None, **bad)
    with pytest.raises(TinctError):
        screentone(lines, img[:50])  # not the drawing's image
    share = np.mean([(random_lineart(tones(), np.random.default_rng(s), p_noise=0.0, p_pencil=0.0, p_tone=0.5)
                      [:, :40] == 0).mean() > 0.5 for s in range(40)])
    assert 0.25 < share < 0.75  # training drawings: about half with the manga look here
    assert all((random_lineart(tones(), np.random.default_rng(s), p_noise=0.0, p_pencil=0.0)[:, :40] == 0).mean()
               < 0.5 for s in range(10))  # by default none


def test_cli_lineart(tmp_path, capsys):
    Image.fromarray(shapes()).save(tmp_path / "a.png")
    assert main(["lineart", str(tmp_path / "a.png"), "-o", str(tmp_path / "a_lines.png"), "--method", "canny",
                 "--width", "2"]) == 0
    out = np.asarray(Image.open(tmp_path / "a_lines.png").convert("L"))
    np.testing.assert_array_equal(out, canny(shapes(), width=2))
    Image.fromarray(shapes()).save(tmp_path / "b.png")
    assert main(["lineart", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "dir"),
                 "--noise"]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["a.png", "b.png"]
    Image.fromarray(tones()).save(tmp_path / "t.png")
    assert main(["lineart", str(tmp_path / "t.png"), "-o", str(tmp_path / "t_manga.png"), "--manga", "6"]) == 0
    manga = np.asarray(Image.open(tmp_path / "t_manga.png").convert("L"))
    assert (manga[5:55, 5:35] == 0).mean() > 0.9 and 0.2 < (manga[5:55, 45:75] < 128).mean() < 0.6  # fills, dots
    assert main(["lineart", str(tmp_path / "t.png"), "-o", str(tmp_path / "t2.png"), "--manga", "50"]) == 2
    assert "period must be between 3 and 12" in capsys.readouterr().err
    (tmp_path / "bad.png").write_bytes(b"no")
    code = main(["lineart", str(tmp_path / "bad.png"), "-o", str(tmp_path / "d2")])
    assert code == 1 and "skip" in capsys.readouterr().out
    assert main(["lineart", str(tmp_path / "a.png"), "-o", str(tmp_path / "x.png"), "--width", "9",
                 "--method", "canny"]) == 2
    assert main(["lineart", str(tmp_path / "a.png"), "-o", str(tmp_path / "p.png"), "--pencil", "0.5", "--seed", "4"]) == 0
    out = np.asarray(Image.open(tmp_path / "p.png").convert("L"))
    np.testing.assert_array_equal(out, pencil(xdog(shapes()), np.random.default_rng(4), 0.5))
    assert main(["lineart", str(tmp_path / "a.png"), "-o", str(tmp_path / "q.png"), "--pencil", "2"]) == 2
    assert not (tmp_path / "q.png").exists()
