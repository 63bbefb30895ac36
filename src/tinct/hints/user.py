"""What a user says about the colors (:class:`Hints`: points, a 14x14 grid, a palette, a reference
image), checked, and rendered into the explicit inputs of a hint network (Zhang et al. SIGGRAPH
2017) by :func:`to_tensors`: ``ab_hint`` (N, 2, h, w) normalized ab, ``mask`` (N, 1, h, w), and a
``global_hint`` (N, 513): the 512-bin RGB histogram of a palette or reference image plus a
"given" flag.

Point hints give (x, y) in the pixels of the full-resolution input and a color whose chroma (ab) is
used; the image keeps its own lightness. The 14x14 color grid of the artistic-colorization report
is a coarse color layout: each cell's color becomes a patch hint at the cell's center. Every
function is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from tinct import color
from tinct.errors import HintError

GRID_CELLS = 14
HIST_BINS = 8  # per channel: 512 bins
MAX_PATCH = 64  # largest point-hint patch side, in working-size pixels


@dataclass(frozen=True)
class Point:
    x: float  # pixel column in the full-resolution image
    y: float  # pixel row
    rgb: tuple[int, int, int]
    size: int = 0  # patch side in working-size pixels; 0 = automatic (about 1/64 of the longer side)


@dataclass
class Hints:
    """Everything a user can say about the colors they want. All parts are optional."""

    points: list[Point] = field(default_factory=list)
    grid: np.ndarray | None = None  # (g, g, 3) uint8 colors or (g, g, 4) with alpha 0 = no hint
    palette: list[tuple[tuple[int, int, int], float]] | None = None  # [(rgb, weight), ...]
    reference: np.ndarray | None = None  # HxWx3 uint8 reference image

    def is_empty(self) -> bool:
        return not self.points and self.grid is None and not self.palette and self.reference is None

    @property
    def has_global(self) -> bool:
        return bool(self.palette) or self.reference is not None


def parse_color(text: str) -> tuple[int, int, int]:
    """'#RRGGBB', 'RRGGBB' or 'r,g,b' (0-255) -> an RGB triple."""
    t = text.strip()
    h = t[1:] if t.startswith("#") else t
    if len(h) == 6 and all(c in "0123456789abcdefABCDEF" for c in h):
        return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    parts = t.split(",")
    if len(parts) == 3:
        try:
            vals = tuple(int(p) for p in parts)
        except ValueError:
            vals = ()
        if len(vals) == 3 and all(0 <= v <= 255 for v in vals):
            return vals  # type: ignore[return-value]
    raise HintError(f"bad color {text!r}: use #RRGGBB or r,g,b with values 0-255")


def _number(value, what: str) -> float:
    """A finite real number given by a user, or a HintError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise HintError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise HintError(f"{what} must be finite, got {value!r}")
    return float(value)


def check_rgb(rgb) -> tuple[int, int, int]:
    """An (r, g, b) triple of integers 0-255, or a HintError."""
    try:
        vals = tuple(rgb)
    except TypeError:
        vals = ()
    if len(vals) != 3 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255
                                 for v in vals):
        raise HintError(f"a color must be three integers 0-255, got {rgb!r}")
    return tuple(int(v) for v in vals)  # type: ignore[return-value]


def check_point(p: Point, full_hw: tuple[int, int]) -> None:
    """A point hint's numbers: inside the image, a valid color, a patch side 0-64."""
    if not isinstance(p, Point):
        raise HintError(f"point hints must be tinct.hints.Point, got {type(p).__name__}")
    x, y = _number(p.x, "hint x"), _number(p.y, "hint y")
    fh, fw = full_hw
    if not (0 <= x < fw and 0 <= y < fh):
        raise HintError(f"hint point ({x:g}, {y:g}) lies outside the {fw}x{fh} image")
    check_rgb(p.rgb)
    if isinstance(p.size, bool) or not isinstance(p.size, (int, np.integer)) or not 0 <= p.size <= MAX_PATCH:
        raise HintError(f"hint patch size must be an integer 0-{MAX_PATCH}, got {p.size!r}")


def rgb_to_ab(rgb: tuple[int, int, int] | np.ndarray) -> torch.Tensor:
    """Normalized ab of 8-bit RGB color(s): (..., 3) -> (..., 2)."""
    arr = torch.as_tensor(np.asarray(rgb, dtype=np.float32) / 255.0)
    flat = arr.reshape(-1, 3)
    lab = color.rgb_to_lab(flat.T[None, :, :, None])[0, :, :, 0].T
    return color.normalize_ab(lab[:, 1:]).reshape(*arr.shape[:-1], 2)


def auto_patch(work_hw: tuple[int, int]) -> int:
    return max(1, round(max(work_hw) / 64))


def _start(center: float, size: int) -> int:
    """First index of a ``size``-pixel run centered on the continuous coordinate ``center``
    (pixel i spans [i, i + 1)); halves round up, never to even as Python's ``round`` does."""
    return math.floor(center - size / 2 + 0.5)


def _paint(ab_hint: torch.Tensor, mask: torch.Tensor, cy: float, cx: float, size: int, ab: torch.Tensor) -> None:
    h, w = mask.shape[-2:]
    y0 = _start(cy, size)
    x0 = _start(cx, size)
    y0, x0 = min(max(y0, 0), h - 1), min(max(x0, 0), w - 1)
    y1, x1 = min(y0 + size, h), min(x0 + size, w)
    ab_hint[0, :, y0:y1, x0:x1] = ab.view(2, 1, 1)
    mask[0, :, y0:y1, x0:x1] = 1.0


def global_from_histogram(hist: torch.Tensor) -> torch.Tensor:
    """(N, 512) histogram -> (N, 513) global hint with the "given" flag set."""
    return torch.cat([hist, hist.new_ones(hist.shape[0], 1)], dim=1)


def palette_histogram(palette: list[tuple[tuple[int, int, int], float]]) -> torch.Tensor:
    """(1, 512) histogram of weighted palette colors."""
    if not palette:
        raise HintError("empty palette")
    weights = [_number(w, "palette weight") for _, w in palette]
    if any(w < 0 for w in weights):
        raise HintError("palette weights must not be negative")
    top = max(weights)
    scale = 1.0 / top if top > 1e6 else 1.0  # only relative weights matter; huge ones would overflow
    hist = torch.zeros(1, HIST_BINS**3)
    for (rgb, _), weight in zip(palette, weights):
        c = torch.tensor(check_rgb(rgb), dtype=torch.float32).view(1, 3, 1, 1) / 255.0
        hist += color.rgb_histogram(c, HIST_BINS) * (weight * scale)
    if hist.sum() <= 0:
        raise HintError("palette weights sum to zero")
    return hist / hist.sum()


def reference_histogram(reference: np.ndarray) -> torch.Tensor:
    """(1, 512) histogram of a reference image (any size; subsampled to at most 256 px)."""
    t = color.to_tensor(reference)
    scale = 256 / max(t.shape[-2:])
    if scale < 1:
        t = F.interpolate(t, scale_factor=scale, mode="area")
    return color.rgb_histogram(t, HIST_BINS)


def to_tensors(hints: Hints | None, full_hw: tuple[int, int], work_hw: tuple[int, int]):
    """Render ``hints`` for a network working at ``work_hw`` on an input of ``full_hw``.
    Returns (ab_hint (1,2,h,w), mask (1,1,h,w), global_hint (1,513) or None)."""
    h, w = work_hw
    ab_hint = torch.zeros(1, 2, h, w)
    mask = torch.zeros(1, 1, h, w)
    glob = None
    if hints is None:
        return ab_hint, mask, glob
    if not isinstance(hints, Hints):
        raise HintError(f"hints must be a tinct.Hints, got {type(hints).__name__}")
    fh, fw = full_hw
    sy, sx = h / fh, w / fw
    for p in hints.points:
        check_point(p, full_hw)
        # the center of full-resolution pixel (x, y) is (x + 0.5, y + 0.5)
        _paint(ab_hint, mask, (p.y + 0.5) * sy, (p.x + 0.5) * sx, p.size or auto_patch(work_hw), rgb_to_ab(p.rgb))
    if hints.grid is not None:
        g = np.asarray(hints.grid)
        if g.ndim != 3 or g.shape[2] not in (3, 4):
            raise HintError("a color grid must be an RGB or RGBA image")
        gh, gw = g.shape[:2]
        ab = rgb_to_ab(g[:, :, :3])
        size = max(1, int(min(h / gh, w / gw) / 2))
        for i in range(gh):
            for j in range(gw):
                if g.shape[2] == 4 and g[i, j, 3] < 128:
                    continue
                _paint(ab_hint, mask, (i + 0.5) * h / gh, (j + 0.5) * w / gw, size, ab[i, j])
    if hints.palette:
        glob = global_from_histogram(palette_histogram(hints.palette))
    if hints.reference is not None:
        ref = global_from_histogram(reference_histogram(hints.reference))
        glob = ref if glob is None else (glob + ref) / 2
    return ab_hint, mask, glob
