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
