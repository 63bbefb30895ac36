"""Colorization quality metrics, per image, on uint8 RGB ``HxWx3`` arrays (the field's protocol,
see docs/BENCHMARKS.md): PSNR, SSIM, colorfulness (CF) and Delta-CF, CIEDE2000 and the AuC of
Zhang et al. 2016. All Lab conversions go through :mod:`tinct.color`; every function is pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tinct import color

PSNR_CAP = 100.0  # dB reported for identical images
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11x11 window: int(3.5 * 1.5 + 0.5), as scikit-image / Wang et al. 2004
AUC_MAX_THRESHOLD = 150  # ab units, Zhang et al. 2016


def _check_pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected two HxWx3 images of one shape, got {pred.shape} and {target.shape}")
    return pred, target


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {rgb.shape}")
    return rgb


def psnr(pred: np.ndarray, target: np.ndarray, cap: float = PSNR_CAP) -> float:
    """``20*log10(255/sqrt(MSE))`` over all pixels and channels of two uint8 RGB images, in dB;
    ``cap`` for identical images (and never more than ``cap``)."""
    pred, target = _check_pair(pred, target)
    mse = float(np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2))
    if mse == 0.0:
        return float(cap)
    return float(min(cap, 20.0 * np.log10(255.0 / np.sqrt(mse))))


def _gaussian_kernel(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable filter of (..., H, W) by ``k``, keeping only pixels whose window fits inside."""
    n = k.size
    h, w = x.shape[-2] - n + 1, x.shape[-1] - n + 1
    rows = sum(k[i] * x[..., i : i + h, :] for i in range(n))
    return sum(k[i] * rows[..., :, i : i + w] for i in range(n))


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM of Wang et al. 2004: Gaussian 11x11 window (sigma 1.5), C1 = (0.01*255)^2,
    C2 = (0.03*255)^2, population (co)variances, per RGB channel, averaged. Border pixels whose
    window leaves the image are not counted (as scikit-image's ``structural_similarity``)."""
    pred, target = _check_pair(pred, target)
    if min(pred.shape[:2]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs images of at least {2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} pixels")
    x = np.moveaxis(pred.astype(np.float64), 2, 0)
    y = np.moveaxis(target.astype(np.float64), 2, 0)
    mu_x, mu_y, xx, yy, xy = _blur_valid(np.stack([x, y, x * x, y * y, x * y]), _gaussian_kernel())
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(s.mean(axis=(1, 2)).mean())


def colorfulness(rgb: np.ndarray, abs_values: bool = False) -> float:
    """Hasler & Suesstrunk 2003 colorfulness of a 0-255 RGB image: ``rg = R-G``,
    ``yb = (R+G)/2 - B``, ``sqrt(std(rg)^2 + std(yb)^2) + 0.3*sqrt(mean(rg)^2 + mean(yb)^2)``.
    ``abs_values=True`` is DDColor's variant, which takes ``|rg|`` and ``|yb|`` first."""
    rgb = _check_rgb(rgb).astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    if abs_values:
        rg, yb = np.abs(rg), np.abs(yb)
    return float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def colorfulness_spread(rgb: np.ndarray) -> float:
    """The spread part of colorfulness, ``sqrt(std(rg)^2 + std(yb)^2)``: unlike CF's mean term, a
    uniform tint (a sepia wash) adds nothing to it; only different colors in one image do."""
    rgb = _check_rgb(rgb).astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return float(np.sqrt((r - g).std() ** 2 + (0.5 * (r + g) - b).std() ** 2))


def delta_cf(pred_cf: Sequence[float], target_cf: Sequence[float]) -> float:
    """``|mean CF(outputs) - mean CF(ground truths)|`` over a set."""
    if len(pred_cf) == 0 or len(target_cf) == 0:
        raise ValueError("delta-CF needs at least one image")
    return float(abs(np.mean(pred_cf) - np.mean(target_cf)))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 sRGB -> HxWx3 float64 CIE Lab (D65), through :func:`tinct.color.rgb_to_lab`."""
    rgb = _check_rgb(rgb)
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float64) / 255.0).permute(2, 0, 1)[None]
    return color.rgb_to_lab(t)[0].permute(1, 2, 0).numpy()


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, kl: float = 1.0, kc: float = 1.0, kh: float = 1.0) -> np.ndarray:
    """CIEDE2000 color difference of Lab arrays ``(..., 3)``, elementwise (Sharma, Wu & Dalal 2005)."""
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    # (2)-(7): a' stretched by G, then C', h' (h' in [0, 2pi), 0 for a neutral color)
    c_ab = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    c7 = c_ab**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.mod(np.arctan2(b1, a1p), 2 * np.pi))
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.mod(np.arctan2(b2, a2p), 2 * np.pi))
    # (8)-(10): differences
    dl = l2 - l1
    dc = c2p - c1p
    cc = c1p * c2p
    dh = h2p - h1p
    dh = np.where(dh > np.pi, dh - 2 * np.pi, np.where(dh < -np.pi, dh + 2 * np.pi, dh))
    dh = np.where(cc == 0, 0.0, dh)
    d_big_h = 2.0 * np.sqrt(cc) * np.sin(dh / 2.0)
    # (12)-(22): weighting functions
    lbar = 0.5 * (l1 + l2)
    cbar = 0.5 * (c1p + c2p)
    hsum = h1p + h2p
    far = np.abs(h1p - h2p) > np.pi
    hbar = np.where(far, np.where(hsum < 2 * np.pi, (hsum + 2 * np.pi) / 2, (hsum - 2 * np.pi) / 2), hsum / 2)
    hbar = np.where(cc == 0, hsum, hbar)
    t = (1.0 - 0.17 * np.cos(hbar - np.deg2rad(30.0)) + 0.24 * np.cos(2 * hbar)
         + 0.32 * np.cos(3 * hbar + np.deg2rad(6.0)) - 0.20 * np.cos(4 * hbar - np.deg2rad(63.0)))
    dtheta = np.deg2rad(30.0) * np.exp(-(((np.rad2deg(hbar) - 275.0) / 25.0) ** 2))
    cbar7 = cbar**7
    rc = 2.0 * np.sqrt(cbar7 / (cbar7 + 25.0**7))
    sl = 1.0 + 0.015 * (lbar - 50.0) ** 2 / np.sqrt(20.0 + (lbar - 50.0) ** 2)
    sc = 1.0 + 0.045 * cbar
    sh = 1.0 + 0.015 * cbar * t
    rt = -np.sin(2.0 * dtheta) * rc
    tl, tc, th = dl / (kl * sl), dc / (kc * sc), d_big_h / (kh * sh)
    return np.sqrt(np.maximum(tl**2 + tc**2 + th**2 + rt * tc * th, 0.0))


def ciede2000_mean(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 difference between two uint8 RGB images."""
    pred, target = _check_pair(pred, target)
    return float(ciede2000(rgb_to_lab(pred), rgb_to_lab(target)).mean())


def _auc_ab(ab_p: np.ndarray, ab_t: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    dist = np.sort(np.sqrt(((ab_p - ab_t) ** 2).sum(axis=-1)).ravel())
    thresholds = np.arange(max_threshold + 1, dtype=np.float64)
    within = np.searchsorted(dist, thresholds, side="right") / dist.size
    return float(100.0 * within.mean())


def auc(pred: np.ndarray, target: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Zhang et al. 2016 "raw accuracy" AuC in %: the share of pixels whose ab lies within ``t``
    (Euclidean, ``<= t``) of the truth, averaged over the integer thresholds ``t = 0..max_threshold``."""
    pred, target = _check_pair(pred, target)
    return _auc_ab(rgb_to_lab(pred)[..., 1:], rgb_to_lab(target)[..., 1:], max_threshold)


def image_metrics(pred: np.ndarray, target: np.ndarray, cf_abs: bool = False) -> dict[str, float]:
    """Every per-image metric of a prediction against its original: PSNR, SSIM, CF (of the
    prediction) and its spread part, CIEDE2000, AuC, and the color cast: the mean a and b of the prediction minus the
    original's (``bias_a`` > 0 reddish, ``bias_b`` > 0 yellowish)."""
    pred, target = _check_pair(pred, target)
    lab_p, lab_t = rgb_to_lab(pred), rgb_to_lab(target)
    bias = (lab_p[..., 1:] - lab_t[..., 1:]).reshape(-1, 2).mean(0)
    return {
        "bias_a": float(bias[0]),
        "bias_b": float(bias[1]),
        "psnr": psnr(pred, target),
        "ssim": ssim(pred, target),
        "cf": colorfulness(pred, abs_values=cf_abs),
        "cf_spread": colorfulness_spread(pred),
        "ciede2000": float(ciede2000(lab_p, lab_t).mean()),
        "auc": _auc_ab(lab_p[..., 1:], lab_t[..., 1:]),
    }
