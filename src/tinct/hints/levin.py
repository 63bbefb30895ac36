"""Levin, Lischinski & Weiss, "Colorization using optimization" (SIGGRAPH 2004).

Neighboring pixels with similar lightness should get similar colors: each unconstrained pixel's
ab is the weighted mean of its 3x3 neighbors, with weights

    w_rs  proportional to  exp(-(Y_r - Y_s)^2 / (2 sigma_r^2)),

normalized over the neighbors, and each hint pixel keeps its hint. This is one sparse linear
system ``A x = b`` shared by a and b, factorized once (SuperLU) and solved for both channels.

As in the authors' reference code (``getColorExact.m``; here ``Y = L / 100`` in [0, 1] in place
of its YIQ luma), ``2 sigma_r^2`` is 0.6 times the variance of ``Y`` over the pixel's 3x3 window
(clipped at the border), floored so that the most similar neighbor keeps a weight of at least
0.01, and at ``2e-6``.

An optional **guide** (C, H, W) adds ``min(|g_r - g_s|^2, 30)`` to the exponent: the weights then
also fall across edges of the guide, e.g. a network's predicted colors or its features, where two
surfaces share a lightness (the cap keeps a region walled in by guide edges connected, so the
system stays regular). No guide is the method of the paper. The build is vectorized over the 8 neighbor offsets; no per-pixel Python loops.

The unknowns are put in nested-dissection order (split the grid by one-pixel separator lines,
recursively; separators last), which SuperLU then factorizes without reordering or pivoting:
about half the fill and 2-3x faster than its default COLAMD ordering on 256x256 images. The
matrix is row diagonally dominant, so elimination without pivoting is stable; should it meet a
zero pivot anyway, the solve falls back to SuperLU's own ordering with partial pivoting.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from tinct import cancel
from tinct.errors import HintError

VARIANCE_FACTOR = 0.6  # 2 sigma_r^2 = 0.6 * window variance (reference code)
MIN_NEIGHBOR_WEIGHT = 0.01  # the most similar neighbor's weight is at least this
MIN_DENOMINATOR = 2e-6  # floor of 2 sigma_r^2 for flat windows (Y in [0, 1])
MAX_GUIDE_TERM = 30.0  # a guide edge divides a weight by at most e^30: regions stay connected, the system regular

_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _neighbors(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values (8, H, W) of the 8 neighbors of every pixel and their validity (inside the image)."""
    h, w = y.shape
    pad = np.pad(y, 1)
    valid_pad = np.pad(np.ones((h, w), dtype=bool), 1)
    vals = np.stack([pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _OFFSETS])
    valid = np.stack([valid_pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _OFFSETS])
    return vals, valid


def affinity_weights(y: np.ndarray, guide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normalized neighbor weights (8, H, W) for lightness ``y`` (H, W) in [0, 1], with the
    validity mask of each neighbor. Weights of a pixel sum to 1 over its valid neighbors.
    ``guide`` (C, H, W), already scaled: its squared neighbor differences are added to the exponent."""
    vals, valid = _neighbors(y)
    count = valid.sum(axis=0) + 1  # window size including the center
    mean = (np.where(valid, vals, 0.0).sum(axis=0) + y) / count
    cancel.check()
    var = (np.where(valid, (vals - mean) ** 2, 0.0).sum(axis=0) + (y - mean) ** 2) / count
    d2 = np.where(valid, (vals - y) ** 2, np.inf)
    cancel.check()
    denom = VARIANCE_FACTOR * var
    denom = np.maximum(denom, d2.min(axis=0) / -np.log(MIN_NEIGHBOR_WEIGHT))
    denom = np.maximum(denom, MIN_DENOMINATOR)
    e = np.where(valid, d2, 0.0) / denom
    cancel.check()
    if guide is not None:
        e = e + np.minimum(guide_differences(guide), MAX_GUIDE_TERM)
        cancel.check()
        e = e - np.where(valid, e, np.inf).min(axis=0)  # same weights after normalizing, no underflow
    cancel.check()
    wts = np.where(valid, np.exp(-e), 0.0)
    return wts / wts.sum(axis=0), valid


GUIDE_BLOCK = 1 << 21  # guide values differenced at once (16 MB of float64): a cancellation is seen between blocks


def guide_differences(guide: np.ndarray) -> np.ndarray:
    """(8, H, W): ``|g_r - g_s|^2`` summed over the guide's channels for each pixel ``r`` and its
    neighbor ``s`` at each of the 8 offsets (meaningless where the neighbor is outside). Computed
    for 4 offsets, in blocks of rows (bounded memory; :func:`tinct.cancel.check` between them); the
    opposite offset is the same difference seen from the neighbor."""
    g = np.asarray(guide, dtype=np.float64)
    c, h, w = g.shape
    gp = np.pad(g, ((0, 0), (1, 1), (1, 1)))
    out = np.empty((len(_OFFSETS), h, w))
    rows = max(1, GUIDE_BLOCK // max(1, c * w))
    d = np.empty((c, min(rows, h), w))
    for k in range(len(_OFFSETS) // 2, len(_OFFSETS)):
        dy, dx = _OFFSETS[k]
        for y0 in range(0, h, rows):
            cancel.check()
            y1 = min(h, y0 + rows)
            dk = d[:, : y1 - y0]
            np.subtract(gp[:, 1 + dy + y0 : 1 + dy + y1, 1 + dx : 1 + dx + w], g[:, y0:y1], out=dk)
            out[k, y0:y1] = np.einsum("chw,chw->hw", dk, dk)
        back = np.pad(out[k], 1)  # offset -o at pixel p is offset o at pixel p - o
        out[len(_OFFSETS) - 1 - k] = back[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
    return out


@functools.lru_cache(maxsize=8)
def dissection_order(h: int, w: int) -> np.ndarray:
    """Nested-dissection order of the pixels of an h x w grid (8-connected): ``order[k]`` is the
    row-major index of the k-th unknown."""
    idx = np.arange(h * w).reshape(h, w)
    parts: list[np.ndarray] = []

    def split(block: np.ndarray) -> None:
        bh, bw = block.shape
        if bh * bw <= 64 or min(bh, bw) < 3:
            parts.append(block.ravel())
        elif bh >= bw:
            split(block[: bh // 2])
            split(block[bh // 2 + 1 :])
            parts.append(block[bh // 2])
        else:
            split(block[:, : bw // 2])
            split(block[:, bw // 2 + 1 :])
            parts.append(block[:, bw // 2])

    split(idx)
    order = np.concatenate(parts)
    order.setflags(write=False)
    return order


def affinity_matrix(y: np.ndarray, fixed: np.ndarray, order: np.ndarray | None = None,
                    prior_weight: float = 0.0, guide: np.ndarray | None = None,
                    weights: tuple[np.ndarray, np.ndarray] | None = None) -> sp.csc_matrix:
    """The (HW, HW) system matrix: ``(1 + prior_weight) I - W`` on free pixels, identity rows on
    ``fixed`` pixels. Unknowns are in row-major order, or in ``order`` (``order[k]`` = pixel of
    unknown k). ``prior_weight`` > 0 ties free pixels to a prior (see :func:`propagate_with_prior`);
    ``guide``: see :func:`affinity_weights`; ``weights``: its result for ``y`` and ``guide``,
    computed beforehand (then ``guide`` is not read)."""
    h, w = y.shape
    n = h * w
    wts, valid = affinity_weights(y, guide) if weights is None else weights
    pos = np.arange(n) if order is None else np.argsort(order)  # pixel -> unknown
    idx = np.arange(n).reshape(h, w)
    free = ~fixed
    rows, cols, data = [pos], [pos], [np.where(free.ravel(), 1.0 + prior_weight, 1.0)]
    for k, (dy, dx) in enumerate(_OFFSETS):
        cancel.check()
        sel = valid[k] & free
        r = idx[sel]
        rows.append(pos[r])
        cols.append(pos[r + dy * w + dx])  # neighbor pixel; valid[k] keeps it inside the image
        data.append(-wts[k][sel])
    coo = (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols)))
    return cancel.interruptible(sp.csc_matrix, coo, shape=(n, n))  # the sort into columns: one long call


KILLABLE_UNKNOWNS = 200_000  # from this many pixels on, a solve runs where a cancellation kills it (cancel.killable)


def _factor_solve(matrix, rhs: np.ndarray) -> np.ndarray:
    """The sparse LU of ``matrix`` in the given (nested-dissection) order, applied to ``rhs``."""
    return splu(matrix, permc_spec="NATURAL", diag_pivot_thresh=0.0).solve(rhs)


def _solve(y: np.ndarray, fixed: np.ndarray, rhs: np.ndarray, prior_weight: float = 0.0,
           guide: np.ndarray | None = None, weights=None) -> np.ndarray:
    """Solve the system for ``rhs`` (HW, k) in row-major pixel order."""
    order = dissection_order(*y.shape)
    if weights is None:
        weights = affinity_weights(y, guide)
    try:
        matrix = affinity_matrix(y, fixed, order, prior_weight, weights=weights)
        ordered = np.ascontiguousarray(rhs[order])
        # one long call that cannot stop midway: for a large system, in a child process that a
        # cancellation kills (nothing left running for an abandoned request); else in a helper
        # thread an abandoned request does not wait for
        if matrix.shape[0] >= KILLABLE_UNKNOWNS:
            solved = cancel.killable(_factor_solve, matrix, ordered, shape=ordered.shape)
        else:
            solved = cancel.interruptible(_factor_solve, matrix, ordered)
        out = np.empty_like(rhs)
        out[order] = solved
        if np.isfinite(out).all():
            return out
    except RuntimeError:  # an exactly zero pivot
        pass
    return splu(affinity_matrix(y, fixed, prior_weight=prior_weight, weights=weights)).solve(np.ascontiguousarray(rhs))


def _check(l, ab_hint, mask, guide=None, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    l = np.asarray(l, dtype=np.float64)
    ab_hint = np.asarray(ab_hint, dtype=np.float64)
    mask = np.asarray(mask)
    if l.ndim != 2:
        raise HintError(f"L must be a 2-D (H, W) array, got shape {l.shape}")
    h, w = l.shape
    if ab_hint.shape != (2, h, w) or mask.shape != (h, w):
        raise HintError(f"hints must be (2, {h}, {w}) with a ({h}, {w}) mask, got {ab_hint.shape} and {mask.shape}")
    if guide is not None and (np.ndim(guide) != 3 or np.shape(guide)[1:] != (h, w)):
        raise HintError(f"the guide must be (C, {h}, {w}), got {np.shape(guide)}")
    if weights is not None and (len(weights) != 2 or any(np.shape(a) != (len(_OFFSETS), h, w) for a in weights)):
        raise HintError(f"the affinity weights must be affinity_weights()'s pair of (8, {h}, {w}) arrays")
    return l, ab_hint, mask > 0.5


def propagate_with_prior(l: np.ndarray, prior_ab: np.ndarray, ab_hint: np.ndarray, mask: np.ndarray,
                         prior_weight: float, return_reach: bool = False, guide: np.ndarray | None = None,
                         weights: tuple[np.ndarray, np.ndarray] | None = None):
    """Levin's propagation with a prior color everywhere: each free pixel's ab minimizes
    ``(ab_r - sum_s w_rs ab_s)^2 + prior_weight (ab_r - prior_r)^2``, hint pixels keep their
    hint. A hint's influence then fades with the affinity distance (about ``1/sqrt(prior_weight)``
    pixels in flat areas, sooner across edges) and far regions keep ``prior_ab`` (2, H, W), e.g. a
    network's colors. ``prior_weight`` 0 is plain :func:`levin_colorize`. Units as there.

    ``return_reach``: also return the hints' reach (H, W), the same solve with 1 at the hints and
    a prior of 0: 1 at a hint, falling to 0 where the prior has taken over (1 everywhere for
    ``prior_weight`` 0 with a hint, 0 everywhere without one). ``guide``: see :func:`affinity_weights`;
    ``weights``: ``affinity_weights(l / 100, guide)`` computed beforehand, so that several solves on
    one image share one build (``guide`` is then not read)."""
    l, ab_hint, fixed = _check(l, ab_hint, mask, guide, weights)
    prior_ab = np.asarray(prior_ab, dtype=np.float64)
    if prior_ab.shape != ab_hint.shape:
        raise HintError(f"the prior must be {ab_hint.shape}, got {prior_ab.shape}")
    if prior_weight < 0:
        raise HintError(f"prior weight must be 0 or more, got {prior_weight}")
    full = np.full(l.shape, float(fixed.any()))
    if prior_weight == 0:
        out = levin_colorize(l, ab_hint, mask, guide, weights)
        return (out, full) if return_reach else out
    if not fixed.any() or fixed.all():
        out = prior_ab.copy() if not fixed.any() else ab_hint.copy()
        return (out, full) if return_reach else out
    rhs = np.where(fixed, ab_hint, prior_weight * prior_ab).reshape(2, -1).T
    if return_reach:
        rhs = np.concatenate([rhs, fixed.reshape(-1, 1).astype(np.float64)], axis=1)
    sol = _solve(l / 100.0, fixed, rhs, prior_weight, guide, weights).T
    cancel.check()
    out = sol[:2].reshape(prior_ab.shape)
    out[:, fixed] = ab_hint[:, fixed]
    if not return_reach:
        return out
    return out, np.clip(sol[2].reshape(l.shape), 0.0, 1.0)


def levin_colorize(l: np.ndarray, ab_hint: np.ndarray, mask: np.ndarray, guide: np.ndarray | None = None,
                   weights: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Propagate hint colors over the image by Levin et al.'s optimization.

    ``l`` (H, W): lightness in Lab units (0-100). ``ab_hint`` (2, H, W): the hint colors in raw
    Lab ab units, read where ``mask`` (H, W) is above 0.5. Returns ab (2, H, W) float64 in the
    same units as ``ab_hint`` (the solve is linear, so normalized ab in gives normalized ab out;
    the ``levin`` zoo model relies on that). Hint pixels keep their hint exactly; with no hint
    pixel at all the result is ab = 0 (gray). ``guide`` (C, H, W): extra edges, see
    :func:`affinity_weights` (None: the paper's method); ``weights``: as in
    :func:`propagate_with_prior`.
    """
    l, ab_hint, fixed = _check(l, ab_hint, mask, guide, weights)
    h, w = l.shape
    if not fixed.any():
        return np.zeros((2, h, w))
    if fixed.all():
        return ab_hint.copy()
    rhs = np.where(fixed, ab_hint, 0.0).reshape(2, -1).T
    out = _solve(l / 100.0, fixed, rhs, guide=guide, weights=weights).T.reshape(2, h, w)
    out[:, fixed] = ab_hint[:, fixed]  # exact at the hints (the solve is exact up to rounding)
    return out
