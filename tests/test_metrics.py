"""Colorization metrics against hand-computed values and scikit-image (a test-only dependency)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from tinct import metrics

skmetrics = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")


def _rand(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _sk_ssim(a, b):
    return skmetrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                           data_range=255, channel_axis=2)


# ---- PSNR
def test_psnr_hand_values():
    a = np.full((4, 5, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 1) == pytest.approx(20 * math.log10(255.0))  # MSE = 1
    assert metrics.psnr(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(0.0)
    b = a.copy()
    b[0, 0, 0] = 110  # one value off by 10 out of 60: MSE = 100 / 60
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255.0 / math.sqrt(100 / 60)))


def test_psnr_identical_is_the_cap():
    a = _rand((8, 8, 3), 0)
    assert metrics.psnr(a, a) == metrics.PSNR_CAP == 100.0
    assert metrics.psnr(a, a, cap=60.0) == 60.0


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


# ---- SSIM
def test_ssim_of_constant_images_by_hand():
    a, b = np.full((16, 16, 3), 40, np.uint8), np.full((16, 16, 3), 200, np.uint8)
    c1 = (0.01 * 255) ** 2  # variances and covariance are 0, so only the luminance term is left
    assert metrics.ssim(a, b) == pytest.approx((2 * 40 * 200 + c1) / (40**2 + 200**2 + c1))
    assert metrics.ssim(a, a) == pytest.approx(1.0)


@pytest.mark.parametrize("shape,seed", [((64, 64, 3), 1), ((37, 50, 3), 2), ((11, 11, 3), 3)])
def test_ssim_matches_scikit_image(shape, seed):
    a = _rand(shape, seed)
    noise = np.random.default_rng(seed + 10).integers(-60, 61, shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    assert metrics.ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-10)
    c = _rand(shape, seed + 20)
    assert metrics.ssim(a, c) == pytest.approx(_sk_ssim(a, c), abs=1e-10)


def test_ssim_matches_scikit_image_on_a_smooth_image():
    y, x = np.mgrid[0:48, 0:40]
    a = np.stack([x * 6, y * 5, (x + y) * 3], axis=2).clip(0, 255).astype(np.uint8)
    b = np.roll(a, 3, axis=1)
    assert metrics.ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-10)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError):
        metrics.ssim(np.zeros((10, 20, 3), np.uint8), np.zeros((10, 20, 3), np.uint8))


# ---- colorfulness
def test_colorfulness_of_gray_is_zero():
    g = np.repeat(_rand((20, 30, 1), 4), 3, axis=2)
    assert metrics.colorfulness(g) == 0.0
    assert metrics.colorfulness(g, abs_values=True) == 0.0


def test_colorfulness_hand_value():
    img = np.zeros((2, 2, 3), np.uint8)
    img[0] = (255, 0, 0)  # half pure red, half black
    # rg in {255, 0}: mean 127.5, std 127.5; yb in {127.5, 0}: mean 63.75, std 63.75
    root = math.sqrt(127.5**2 + 63.75**2)
    assert metrics.colorfulness(img) == pytest.approx(root + 0.3 * root)


def test_colorfulness_abs_variant_differs_by_hand():
    img = np.zeros((1, 2, 3), np.uint8)
    img[0, 0], img[0, 1] = (150, 100, 125), (100, 150, 125)  # rg = +50 / -50, yb = 0
    assert metrics.colorfulness(img) == pytest.approx(50.0)  # std 50, mean 0
    assert metrics.colorfulness(img, abs_values=True) == pytest.approx(0.3 * 50.0)  # |rg| = 50: std 0


def test_delta_cf():
    assert metrics.delta_cf([10.0, 20.0], [30.0]) == pytest.approx(15.0)
    assert metrics.delta_cf([40.0], [30.0, 34.0]) == pytest.approx(8.0)
    with pytest.raises(ValueError):
        metrics.delta_cf([], [1.0])


# ---- CIEDE2000
# Pairs and differences from Sharma, Wu & Dalal 2005, Table 1 (test data of the paper).
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, -1.0, 2.0), (50.0, 0.0, 0.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


def test_ciede2000_sharma_test_data():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(metrics.ciede2000(lab1, lab2), expected, atol=5e-5)


def test_ciede2000_matches_scikit_image_on_random_pairs():
    rng = np.random.default_rng(5)
    n = 20000
    lab1 = np.stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n), rng.uniform(-110, 110, n)], axis=1)
    lab2 = np.stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n), rng.uniform(-110, 110, n)], axis=1)
    lab1[:200, 1:] = 0.0  # neutral colors (undefined hue)
    lab2[100:300, 1:] = 0.0
    lab2[300:600] = lab1[300:600] + rng.normal(0, 1, (300, 3))  # small differences
    lab2[600:900, 1:] = -lab1[600:900, 1:]  # hues about 180 degrees apart
    ours = metrics.ciede2000(lab1, lab2)
    theirs = skcolor.deltaE_ciede2000(lab1, lab2)
    assert np.abs(ours - theirs).max() < 1e-6
    assert np.all(metrics.ciede2000(lab1, lab1) == 0.0)


def test_ciede2000_mean_of_images_matches_scikit_image():
    a, b = _rand((12, 9, 3), 6), _rand((12, 9, 3), 7)
    expected = skcolor.deltaE_ciede2000(skcolor.rgb2lab(a), skcolor.rgb2lab(b)).mean()
    assert metrics.ciede2000_mean(a, b) == pytest.approx(expected, abs=1e-3)
    assert metrics.ciede2000_mean(a, a) == 0.0


def test_rgb_to_lab_matches_scikit_image():
    a = _rand((10, 10, 3), 8)
    np.testing.assert_allclose(metrics.rgb_to_lab(a), skcolor.rgb2lab(a), atol=1e-3)


# ---- AuC
def test_auc_of_identical_images_is_100():
    a = _rand((16, 16, 3), 9)
    assert metrics.auc(a, a) == pytest.approx(100.0)


def test_auc_hand_value():
    # left half identical, right half gray against a color: ab distance d there
    target = np.zeros((4, 4, 3), np.uint8)
    target[:] = (30, 160, 90)
    pred = target.copy()
    lab = metrics.rgb_to_lab(target[:1, :1])[0, 0]
    gray = round(float(np.clip(lab[0], 0, 100)) * 2.55)
    pred[:, 2:] = gray
    d = float(np.hypot(*(metrics.rgb_to_lab(pred[:1, 2:3])[0, 0, 1:] - lab[1:])))
    assert 0 < d < 150
    within_far = sum(1 for t in range(151) if t >= d)  # thresholds t = 0..150 the far half passes
    expected = 100.0 * (151 + within_far) / (2 * 151)
    assert metrics.auc(pred, target) == pytest.approx(expected)


def test_auc_is_lower_for_worse_predictions():
    target = _rand((16, 16, 3), 10)
    gray = np.repeat(target.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert metrics.auc(gray, target) < 100.0
    assert metrics.auc(255 - target, target) < metrics.auc(gray, target)


def test_image_metrics_agrees_with_the_single_metrics():
    a, b = _rand((24, 24, 3), 11), _rand((24, 24, 3), 12)
    m = metrics.image_metrics(a, b, cf_abs=True)
    assert m == pytest.approx({"psnr": metrics.psnr(a, b), "ssim": metrics.ssim(a, b),
                               "cf": metrics.colorfulness(a, abs_values=True),
                               "cf_spread": metrics.colorfulness_spread(a),
                               "ciede2000": metrics.ciede2000_mean(a, b), "auc": metrics.auc(a, b),
                               "bias_a": float((metrics.rgb_to_lab(a) - metrics.rgb_to_lab(b))[..., 1].mean()),
                               "bias_b": float((metrics.rgb_to_lab(a) - metrics.rgb_to_lab(b))[..., 2].mean())})


def test_colorfulness_spread_ignores_a_uniform_tint():
    gray = np.repeat(60 + _rand((24, 24, 1), 3) // 2, 3, axis=2)  # 60-187: the tint never clips
    sepia = np.clip(gray.astype(int) + np.array([30, 10, -25]), 0, 255).astype(np.uint8)
    assert metrics.colorfulness(sepia) > 10 and metrics.colorfulness_spread(sepia) < 2
    assert metrics.colorfulness_spread(_rand((24, 24, 3), 4)) > 30


def test_metrics_module_does_not_import_scikit_image():
    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "skimage" not in imported
    assert imported <= {"__future__", "collections", "numpy", "torch", "tinct"}
