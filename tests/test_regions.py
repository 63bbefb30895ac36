"""Line art region by region: enclosed areas with gaps closed, flat colors, layers that stack."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tinct.lineart.regions import compose, flat_layers, line_mask, regions


def drawing_with_gaps(gap: int) -> np.ndarray:
    """White paper, a circle and a square outlined in 2-px pencil-gray lines, each line broken by a
    ``gap``-pixel opening, and paper grain."""
    rng = np.random.default_rng(gap)
    img = np.full((128, 160), 235, np.uint8)
    cv2.circle(img, (45, 64), 30, 90, 2)
    cv2.rectangle(img, (95, 30), (145, 100), 70, 2)
    img[62 : 62 + gap, 10:20] = 235  # the circle's left side opened
    img[30:35, 115 : 115 + gap] = 235  # the square's top opened
    return np.clip(img.astype(int) + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("gap", [1, 2, 3, 4])
def test_gaps_up_to_four_pixels_keep_each_enclosed_area_one_region(gap):
    img = drawing_with_gaps(gap)
    lines = line_mask(img)
    assert lines[64, 74:77].any() and not lines[5, 5] and lines.mean() < 0.2  # the lines found, not the paper
    labels = regions(lines, gap=4)
    inside_circle, outside = labels[64, 45], labels[5, 5]
    inside_square = labels[65, 120]
    assert inside_circle != outside and inside_square != outside and inside_circle != inside_square
    yy, xx = np.mgrid[0:128, 0:160]
    disc = (yy - 64) ** 2 + (xx - 45) ** 2 < 25**2
    assert (labels[disc] == inside_circle).mean() > 0.99  # the whole inside is one region


def test_flat_layers_stack_to_the_result_exactly_and_regions_are_flat():
    img = drawing_with_gaps(3)
    lines = line_mask(img)
    labels = regions(lines, gap=4)
    rng = np.random.default_rng(0)
    painted = np.stack([img] * 3, -1).astype(int)
    painted[..., 0] += (labels == labels[64, 45]) * 60  # a reddish disc, a bluish square, with noise
    painted[..., 2] += (labels == labels[65, 120]) * 60
    painted = np.clip(painted + rng.normal(0, 6, painted.shape), 0, 255).astype(np.uint8)
    flat, shading, alpha = flat_layers(painted, img, labels, lines)
    for k in np.unique(labels):
        px = flat[labels == k].reshape(-1, 3)
        assert (px == px[0]).all()  # one flat color per region
    assert flat[64, 45, 0] > flat[64, 45, 2] and flat[65, 120, 2] > flat[65, 120, 0]
    shown = compose(flat, shading, alpha)
    assert shown.shape == painted.shape and shown.dtype == np.uint8
    assert np.array_equal(shown, compose(flat, shading, alpha))
    assert (alpha[~lines] == 0).all() and (alpha[lines] > 0).mean() > 0.9


def test_cli_layers_stack_to_the_written_result_exactly(tmp_path, capsys):
    from PIL import Image

    from tinct.cli import main

    src = tmp_path / "sketch.png"
    Image.fromarray(drawing_with_gaps(2)).save(src)
    out, layers = tmp_path / "painted.png", tmp_path / "layers"
    assert main(["colorize", str(src), "-o", str(out), "--model", "lineart", "--layers", str(layers)]) == 0
    shown = np.asarray(Image.open(out).convert("RGB"))
    flat = np.asarray(Image.open(layers / "flats.png").convert("RGB"))
    shading = np.asarray(Image.open(layers / "shading.png")).astype(np.uint16)
    ink = np.asarray(Image.open(layers / "lines.png"))
    assert ink.shape[2] == 4 and (ink[..., :3] == 0).all()
    assert np.array_equal(compose(flat, shading, ink[..., 3]), shown)  # the layers stack to the result
    assert "layers in" in capsys.readouterr().out
    assert main(["colorize", str(src), "-o", str(tmp_path / "p.png"), "--layers", str(layers)]) == 2  # photo: no
    assert "line-art models" in capsys.readouterr().err


def two_area_painting(img: np.ndarray, leak: int = 0) -> np.ndarray:
    """The gap drawing painted red in the circle and blue elsewhere; ``leak`` px of red outside it."""
    yy, xx = np.mgrid[0:128, 0:160]
    red = (yy - 64) ** 2 + (xx - 45) ** 2 < (30 + leak) ** 2
    out = np.zeros((*img.shape, 3), np.uint8)
    out[red] = (200, 60, 50)
    out[~red] = (60, 90, 200)
    ink = img < 150
    out[ink] = img[ink][:, None]
    return out


def test_flat_share_and_crossing_measure_what_a_colorist_sees():
    from tinct.lineart.measure import boundary_pixels, crossing_share, flat_share

    img = drawing_with_gaps(2)
    truth = two_area_painting(img)
    assert flat_share(truth, img) > 0.97
    rng = np.random.default_rng(1)
    blotchy = np.clip(truth + rng.normal(0, 25, truth.shape), 0, 255).astype(np.uint8)
    assert flat_share(blotchy, img) < 0.5
    near = boundary_pixels(img, truth)
    yy, xx = np.mgrid[0:128, 0:160]
    ring = np.abs(np.hypot(yy - 64, xx - 45) - 30) < 4
    assert near.any() and near[ring].mean() > 0.15 and not near[~ring].any()  # the circle is the one color edge
    assert crossing_share(truth, img, truth) == 0.0
    assert crossing_share(two_area_painting(img, leak=4), img, truth) > 0.3  # red spilt over the line


def test_paint_regions_flattens_each_area_and_a_hint_fills_only_its_own():
    from tinct.lineart.regions import paint_regions

    img = drawing_with_gaps(3)
    from tinct.color import l_from_uint8

    l = l_from_uint8(np.repeat(img[:, :, None], 3, axis=2))  # the drawing's L, as the pipeline reads it
    rng = np.random.default_rng(2)
    ab = rng.normal(0, 20, (*img.shape, 2)).astype(np.float32) + np.array([10, 10], np.float32)
    flat = paint_regions(l, ab)
    labels = regions(line_mask(img))
    from tinct.lineart.regions import INK_GRAY

    paper = img >= INK_GRAY  # ink fades to neutral (test_lineart_models: black fills stay black)
    for k in np.unique(labels):
        assert np.ptp(flat[(labels == k) & paper], axis=0).max() == 0  # one color per area
    mask = np.zeros(img.shape, bool)
    mask[64, 45] = True  # a point inside the circle, whose outline has a 3-px gap
    hint = np.zeros((*img.shape, 2), np.float32)
    hint[64, 45] = (-40, 50)
    filled = paint_regions(l, ab, hint, mask)
    inside = labels == labels[64, 45]
    assert np.allclose(filled[inside & paper], (-40, 50)) and np.allclose(filled[~inside], flat[~inside])


def test_the_shipped_line_art_model_paints_one_flat_color_per_area():
    """Colorizer('lineart') on a pencil-gray drawing with gaps: the areas the lines enclose come out
    flat (what a colorist keeps), the lightness still shaded by the network."""
    from tinct import Colorizer
    from tinct.lineart.measure import flat_share

    img = drawing_with_gaps(3)
    out = Colorizer("lineart")(np.repeat(img[:, :, None], 3, axis=2))
    assert out.shape == (*img.shape, 3)
    assert flat_share(out, img) > 0.85  # the network's paint itself: 0.38 here


def test_line_art_video_is_steadied_then_painted_flat():
    """A drawing clip through the video path: the paint is steadied at the working size first,
    then every frame is painted region by region (flat areas, not steadied smears across lines)."""
    from tinct.lineart.measure import flat_share
    from tinct.video import VideoColorizer

    img = drawing_with_gaps(3)
    clip = [np.repeat(np.roll(img, 2 * i, axis=1)[:, :, None], 3, axis=2) for i in range(3)]
    out = list(VideoColorizer("lineart").frames(clip))
    assert len(out) == 3 and out[0].shape == clip[0].shape
    assert min(flat_share(o, f[..., 0]) for o, f in zip(out, clip)) > 0.85


def _stack_openraster(data: bytes) -> np.ndarray:
    """Compose an OpenRaster file by its stack.xml with the spec's blend formulas (src-over,
    multiply, plus), bottom layer first, on a white canvas; RGB uint8."""
    import io
    import xml.etree.ElementTree as ET
    import zipfile

    from PIL import Image

    zf = zipfile.ZipFile(io.BytesIO(data))
    root = ET.fromstring(zf.read("stack.xml"))
    h, w = int(root.get("h")), int(root.get("w"))
    out = np.ones((h, w, 3))
    for layer in reversed(root.find("stack").findall("layer")):
        px = np.asarray(Image.open(io.BytesIO(zf.read(layer.get("src")))).convert("RGBA")).astype(float) / 255
        c, a = px[..., :3], px[..., 3:] * float(layer.get("opacity"))
        blended = {"svg:src-over": c, "svg:multiply": out * c, "svg:plus": np.minimum(out + c, 1.0)}[layer.get("composite-op")]
        out = blended * a + out * (1 - a)
    return np.round(out * 255).astype(np.uint8)


def test_openraster_file_stacks_to_the_result_in_a_painting_programs_blend_modes():
    import io
    import zipfile

    from tinct.lineart.openraster import line_layer, ora_bytes, png_bytes

    rng = np.random.default_rng(1)
    flat = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    shading = rng.uniform(0, 4, (40, 50)).astype(np.float32)  # darkening and brightening factors
    alpha = np.where(rng.random((40, 50)) < 0.2, rng.integers(1, 256, (40, 50)), 0).astype(np.uint8)
    result = compose(flat, shading, alpha)
    data = ora_bytes(flat, shading, result, png_bytes(line_layer(alpha)), png_bytes(flat))
    zf = zipfile.ZipFile(io.BytesIO(data))
    first = zf.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert zf.read("mimetype") == b"image/openraster"
    assert {"stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"} <= set(zf.namelist())
    stacked = _stack_openraster(data)
    assert np.abs(stacked.astype(int) - result).max() <= 2  # the 8-bit shading layers' rounding
    assert (stacked != flat).any()  # not the flats alone


def test_cli_layers_write_an_openraster_file_of_the_same_stack(tmp_path):
    from PIL import Image

    from tinct.cli import main

    src = tmp_path / "sketch.png"
    Image.fromarray(drawing_with_gaps(2)).save(src)
    out, layers = tmp_path / "painted.png", tmp_path / "layers"
    assert main(["colorize", str(src), "-o", str(out), "--model", "lineart", "--layers", str(layers)]) == 0
    shown = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(_stack_openraster((layers / "layers.ora").read_bytes()) - shown).max() <= 2


def test_flat_shading_keeps_a_share_of_the_shading_inside_each_area():
    from tinct.lineart.regions import flat_shading

    img = drawing_with_gaps(2)
    lines = line_mask(img)
    labels = regions(lines)
    rng = np.random.default_rng(5)
    ratio = rng.uniform(0.5, 2.0, img.shape).astype(np.float32)
    flat = flat_shading(ratio, lines, labels, keep=0.0)
    for k in np.unique(labels):
        area = labels == k
        assert np.ptp(flat[area]) == 0  # one lightness per area ...
        assert flat[area][0] == np.median(ratio[area & ~lines])  # ... its median off the lines
    np.testing.assert_allclose(flat_shading(ratio, lines, labels, keep=1.0), ratio, rtol=1e-5)
    half = flat_shading(ratio, lines, labels)  # the shipped share: the geometric middle of the two
    np.testing.assert_allclose(half, np.sqrt(flat * ratio), rtol=1e-5)
