"""Temporal consistency of colorized video, and its measure.

:class:`Stabilizer` steadies a stream of predicted colors (ab at the working size) frame by
frame. For frame ``t`` with gray image ``g_t``:

- DIS optical flow (OpenCV) both ways between ``g_t`` and ``g_{t-1}``; the previous output colors
  are warped to ``t`` along the backward flow;
- a pixel is reliable where the forward-backward check holds,
  ``|b(x) + f(x + b(x))|^2 < 0.01 (|b|^2 + |f|^2) + 0.5`` (Sundaram et al. 2010), and the warped
  previous gray matches ``g_t`` within 12 levels; the reliability map is smoothed;
- ``out_t = w * warped + (1 - w) * pred_t`` with ``w = keep * reliability``: colors stay put and
  follow the surface as it moves, occluded and new areas take the fresh prediction;
- a shot cut (:func:`is_cut`: :func:`cut_score` above ``cut_threshold``) starts afresh.

:func:`warp_error` is the flicker measure: the mean ab distance between each output frame and the
previous output warped to it by the flow of the gray frames, over reliable pixels.
"""

from __future__ import annotations

import numpy as np

CUT_THRESHOLD = 0.3  # real pans and fast motion in the DAVIS clips score at most 0.18
HIST_BINS = 32


def _dis():
    import cv2

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def gray_histogram(gray: np.ndarray) -> np.ndarray:
    h = np.bincount((gray.astype(np.int32).ravel() * HIST_BINS) // 256, minlength=HIST_BINS).astype(np.float64)
    return h / max(h.sum(), 1.0)


def cut_score(a: np.ndarray, b: np.ndarray) -> float:
    """How unlike two gray frames are, 0 to 1: the larger of half the L1 distance of their
    histograms, and their mean absolute difference as 32-px-wide thumbnails over 0.4 (capped at
    1; a pan moves a thumbnail by a fraction of a pixel, a new shot changes it everywhere)."""
    import cv2

    hist = float(np.abs(gray_histogram(a) - gray_histogram(b)).sum() / 2)
    size = (32, max(1, round(32 * a.shape[0] / a.shape[1])))
    ta = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    tb = cv2.resize(b, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return max(hist, min(1.0, float(np.abs(ta - tb).mean()) / 255 / 0.4))


def is_cut(a: np.ndarray, b: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    return cut_score(a, b) > threshold


def _remap(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` (H, W[, C]) sampled at x + flow(x) (bilinear, edges replicated)."""
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable_flow(gray_t: np.ndarray, gray_prev: np.ndarray, dis=None) -> tuple[np.ndarray, np.ndarray]:
    """(backward flow t -> t-1 (H, W, 2), reliability (H, W) in [0, 1]) of two uint8 gray frames."""
    import cv2

    dis = dis or _dis()
    bw = dis.calc(gray_t, gray_prev, None)
    fw = dis.calc(gray_prev, gray_t, None)
    fw_at = _remap(fw, bw)
    err = ((bw + fw_at) ** 2).sum(-1)
    tol = 0.01 * ((bw**2).sum(-1) + (fw_at**2).sum(-1)) + 0.5
    photometric = np.abs(_remap(gray_prev, bw).astype(np.float32) - gray_t.astype(np.float32)) < 12
    ok = ((err < tol) & photometric).astype(np.float32)
    return bw, cv2.GaussianBlur(cv2.erode(ok, np.ones((3, 3), np.uint8)), (5, 5), 0)


class Stabilizer:
    """Steadies predicted colors over a stream of frames (see the module docstring)."""

    def __init__(self, keep: float = 0.85, cut_threshold: float = CUT_THRESHOLD):
        if not 0.0 <= keep < 1.0:
            raise ValueError("keep must be in [0, 1)")
        self.keep, self.cut_threshold = keep, cut_threshold
        self.dis = _dis()
        self.cuts = 0
        self.reset()

    def reset(self) -> None:
        self.prev_gray: np.ndarray | None = None
        self.prev_ab: np.ndarray | None = None

    def step(self, gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """``gray`` (H, W) uint8 and predicted ``ab`` (2, H, W) float32 -> steadied ab (2, H, W)."""
        out = ab
        if self.prev_gray is not None and self.prev_gray.shape == gray.shape:
            if is_cut(self.prev_gray, gray, self.cut_threshold):
                self.cuts += 1
            else:
                bw, rel = reliable_flow(gray, self.prev_gray, self.dis)
                warped = _remap(np.ascontiguousarray(self.prev_ab.transpose(1, 2, 0)), bw).transpose(2, 0, 1)
                w = (self.keep * rel)[None]
                out = (w * warped + (1 - w) * ab).astype(np.float32)
        self.prev_gray, self.prev_ab = gray, out
        return out


def warp_error(outputs: list[np.ndarray], grays: list[np.ndarray], cut_threshold: float = CUT_THRESHOLD) -> float:
    """Color flicker: the mean ab distance (CIE Lab) between each output frame and the previous
    output warped to it, over reliable pixels, the flow taken from the gray frames; pairs across
    a shot cut are left out. (The lightness is the input's own, so only the colors are compared.)"""
    from tinct.metrics import rgb_to_lab

    outputs = [rgb_to_lab(o)[..., 1:].astype(np.float32) for o in outputs]
    dis = _dis()
    errs, weights = [], []
    for t in range(1, len(outputs)):
        if is_cut(grays[t - 1], grays[t], cut_threshold):
            continue
        bw, rel = reliable_flow(grays[t], grays[t - 1], dis)
        mask = rel > 0.5
        if not mask.any():
            continue
        warped = _remap(outputs[t - 1], bw)
        errs.append(float(np.sqrt(((warped - outputs[t]) ** 2).sum(-1))[mask].mean()))
        weights.append(float(mask.sum()))
    return float(np.average(errs, weights=weights)) if errs else 0.0


def still_flicker(outputs: list[np.ndarray], grays: list[np.ndarray], tolerance: int = 2) -> float:
    """Flicker where nothing moves: the mean ab distance (CIE Lab) between consecutive output
    frames over the pixels whose gray input changed by at most ``tolerance`` levels (no flow
    needed: for a real black-and-white film, the one measure that needs no color original)."""
    from tinct.metrics import rgb_to_lab

    total, count = 0.0, 0
    prev_ab = rgb_to_lab(outputs[0])[..., 1:]
    for t in range(1, len(outputs)):
        ab = rgb_to_lab(outputs[t])[..., 1:]
        still = np.abs(grays[t].astype(np.int16) - grays[t - 1].astype(np.int16)) <= tolerance
        if still.any():
            total += float(np.sqrt(((ab - prev_ab) ** 2).sum(-1))[still].sum())
            count += int(still.sum())
        prev_ab = ab
    return total / count if count else 0.0


def ab_histogram(rgb: np.ndarray, bins: int = 22, limit: float = 110.0) -> np.ndarray:
    """Normalized 2-D histogram of a frame's ab (CIE Lab), ``bins`` x ``bins`` over [-limit, limit]."""
    from tinct.metrics import rgb_to_lab

    ab = rgb_to_lab(rgb)[..., 1:].reshape(-1, 2)
    h, _, _ = np.histogram2d(ab[:, 0], ab[:, 1], bins=bins, range=[[-limit, limit], [-limit, limit]])
    return h / max(h.sum(), 1.0)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, 0 to 1) of two histograms."""
    p, q = p.ravel(), q.ravel()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log2(a[nz] / m[nz])).sum())

    return (kl(p) + kl(q)) / 2


def cdc(outputs: list[np.ndarray], steps: tuple[int, ...] = (1, 2, 4)) -> float:
    """Color distribution consistency (Liu et al.): the mean Jensen-Shannon divergence between the
    ab histograms of frames t and t + k, averaged over ``steps`` (lower = steadier)."""
    hists = [ab_histogram(o) for o in outputs]
    per_k = [np.mean([js_divergence(hists[t], hists[t + k]) for t in range(len(hists) - k)])
             for k in steps if len(hists) > k]
    return float(np.mean(per_k)) if per_k else 0.0
