"""Hints sampled from the ground truth, for training and for the benchmark (SIGGRAPH17's
protocol): ``(ab_hint, mask)`` of points and grids taken from an image's true colors, and a
training batch's mix of none, points, a grid and the image's own histogram. Every function is
pure; the random ones take a ``torch.Generator``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tinct import color
from tinct.hints.user import GRID_CELLS, HIST_BINS, _start, global_from_histogram


def _patch_mean(ab: torch.Tensor, cy: int, cx: int, size: int) -> tuple[slice, slice, torch.Tensor]:
    h, w = ab.shape[-2:]
    # keep the whole square inside the image, as SIGGRAPH17's sampler clips the patch corner
    y0 = min(max(0, cy - size // 2), max(0, h - size))
    x0 = min(max(0, cx - size // 2), max(0, w - size))
    ys, xs = slice(y0, min(h, y0 + size)), slice(x0, min(w, x0 + size))
    return ys, xs, ab[:, ys, xs].mean(dim=(1, 2))


def sample_points(ab: torch.Tensor, n_points: int, size: int, gen: torch.Generator, sigma_frac: float = 0.25):
    """SIGGRAPH17 benchmark hints for one image: ``n_points`` square patches of side ``size``,
    centers ~ Normal(image center, sigma = sigma_frac * side), each filled with the patch's mean
    ground-truth ab. ``ab`` is (2, H, W) normalized. Returns (ab_hint (2,H,W), mask (1,H,W))."""
    h, w = ab.shape[-2:]
    ab_hint = torch.zeros_like(ab)
    mask = torch.zeros(1, h, w, dtype=ab.dtype)
    for _ in range(n_points):
        cy = int((torch.randn(1, generator=gen).item() * sigma_frac * h + h / 2))
        cx = int((torch.randn(1, generator=gen).item() * sigma_frac * w + w / 2))
        cy, cx = min(max(cy, 0), h - 1), min(max(cx, 0), w - 1)
        ys, xs, mean = _patch_mean(ab, cy, cx, size)
        ab_hint[:, ys, xs] = mean.view(2, 1, 1)
        mask[:, ys, xs] = 1.0
    return ab_hint, mask


def grid_hint_from_truth(ab: torch.Tensor, cells: int = GRID_CELLS) -> tuple[torch.Tensor, torch.Tensor]:
    """The 14x14 color grid a user would paint, taken from the ground truth: each cell's mean ab
    painted as a half-cell patch at its center (as :func:`to_tensors` renders a grid)."""
    h, w = ab.shape[-2:]
    cell_ab = F.adaptive_avg_pool2d(ab[None], (cells, cells))[0]
    ab_hint = torch.zeros_like(ab)
    mask = torch.zeros(1, h, w, dtype=ab.dtype)
    size = max(1, int(min(h / cells, w / cells) / 2))
    for i in range(cells):
        for j in range(cells):
            cy, cx = (i + 0.5) * h / cells, (j + 0.5) * w / cells
            y0, x0 = _start(cy, size), _start(cx, size)
            ab_hint[:, y0 : y0 + size, x0 : x0 + size] = cell_ab[:, i, j].view(2, 1, 1)
            mask[:, y0 : y0 + size, x0 : x0 + size] = 1.0
    return ab_hint, mask


def sample_training_hints(ab: torch.Tensor, rgb: torch.Tensor, gen: torch.Generator, p_none: float = 0.5,
                          p_grid: float = 0.1, p_global: float = 0.2):
    """Hints for a training batch, sampled as SIGGRAPH17 does: the number of points is geometric
    (p = 1/8), patch sides uniform in 1..9, centers ~ Normal(center, side/4). With ``p_none`` an
    image gets no points (the automatic case), with ``p_grid`` a 14x14 grid, and with ``p_global``
    its own color histogram as the global hint. ``ab`` (N,2,H,W) normalized, ``rgb`` (N,3,H,W)."""
    n, _, h, w = ab.shape
    ab_hint = torch.zeros_like(ab)
    mask = torch.zeros(n, 1, h, w, dtype=ab.dtype)
    glob = torch.zeros(n, HIST_BINS**3 + 1, dtype=ab.dtype)
    for i in range(n):
        u = torch.rand(3, generator=gen)
        if u[0] < p_grid:
            ab_hint[i], mask[i] = grid_hint_from_truth(ab[i])
        elif u[0] >= p_none:
            k = 1 + int(math.floor(math.log(1 - torch.rand(1, generator=gen).item()) / math.log(1 - 1 / 8)))
            for _ in range(min(k, 64)):
                size = int(torch.randint(1, 10, (1,), generator=gen).item())
                a, m = sample_points(ab[i], 1, size, gen)
                ab_hint[i] = torch.where(m.bool(), a, ab_hint[i])
                mask[i] = torch.maximum(mask[i], m)
        if u[1] < p_global:
            glob[i] = global_from_histogram(color.rgb_histogram(rgb[i : i + 1], HIST_BINS))[0]
    return ab_hint, mask, glob
