"""What a user says about the colors (:class:`Hints`: points, a 14x14 grid, a palette, a reference
image), checked, and rendered into the explicit inputs of a hint network (Zhang et al. SIGGRAPH
2017) by :func:`to_tensors`: ``ab_hint`` (N, 2, h, w) normalized ab, ``mask`` (N, 1, h, w), and a
``global_hint`` (N, 513): the 512-bin RGB histogram of a palette or reference image plus a
"given" flag.

Point hints give (x, y) in the pixels of the full-resolution input and a color whose chroma (ab) is
used; the image keeps its own lightness. A stroke is a brush line of one color through a list of
such points, ``width`` pixels wide: every working-size pixel it covers is a hint pixel, as if the
user had clicked all along it. The 14x14 color grid of the artistic-colorization report
is a coarse color layout: each cell's color becomes a patch hint at the cell's center. Every
function is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from tinct import color
from tinct.errors import HintError

GRID_CELLS = 14
HIST_BINS = 8  # per channel: 512 bins
MAX_PATCH = 64  # largest point-hint patch side, in working-size pixels
MAX_STROKE_POINTS = 10_000  # points of one stroke
MAX_STROKE_WIDTH = 500.0  # pixels of the full-resolution image


@dataclass(frozen=True)
class Point:
    x: float  # pixel column in the full-resolution image
    y: float  # pixel row
    rgb: tuple[int, int, int]
    size: int = 0  # patch side in working-size pixels; 0 = automatic (about 1/64 of the longer side)


@dataclass(frozen=True)
class Stroke:
    points: tuple[tuple[float, float], ...]  # (x, y) in the full-resolution image's pixels, in drawing order
    rgb: tuple[int, int, int]
    width: float = 8.0  # brush width in full-resolution pixels (at least one working-size pixel is painted)


@dataclass
class Hints:
    """Everything a user can say about the colors they want. All parts are optional."""

    points: list[Point] = field(default_factory=list)
    strokes: list[Stroke] = field(default_factory=list)
    grid: np.ndarray | None = None  # (g, g, 3) uint8 colors or (g, g, 4) with alpha 0 = no hint
    palette: list[tuple[tuple[int, int, int], float]] | None = None  # [(rgb, weight), ...]
    reference: np.ndarray | None = None  # HxWx3 uint8 reference image

    def is_empty(self) -> bool:
        return (not self.points and not self.strokes and self.grid is None and not self.palette
                and self.reference is None)

    @property
    def has_global(self) -> bool:
        return bool(self.palette) or self.reference is not None

    def resized(self, old_hw: tuple[int, int], new_hw: tuple[int, int]) -> "Hints":
        """The same hints for the picture resized from ``old_hw`` to ``new_hw``: points and strokes
        moved (and stroke widths scaled) with it; the grid, palette and reference unchanged."""
        sy, sx = new_hw[0] / old_hw[0], new_hw[1] / old_hw[1]
        fx = lambda x: min(float(x) * sx, new_hw[1] - 1.0)  # noqa: E731
        fy = lambda y: min(float(y) * sy, new_hw[0] - 1.0)  # noqa: E731
        return Hints(points=[replace(p, x=fx(p.x), y=fy(p.y)) for p in self.points],
                     strokes=[replace(s, points=tuple((fx(x), fy(y)) for x, y in s.points),
                                      width=max(1.0, float(s.width) * (sx + sy) / 2)) for s in self.strokes],
                     grid=self.grid, palette=self.palette, reference=self.reference)


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


def check_number(value, what: str) -> float:
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
    x, y = check_number(p.x, "hint x"), check_number(p.y, "hint y")
    fh, fw = full_hw
    if not (0 <= x < fw and 0 <= y < fh):
        raise HintError(f"hint point ({x:g}, {y:g}) lies outside the {fw}x{fh} image")
    check_rgb(p.rgb)
    if isinstance(p.size, bool) or not isinstance(p.size, (int, np.integer)) or not 0 <= p.size <= MAX_PATCH:
        raise HintError(f"hint patch size must be an integer 0-{MAX_PATCH}, got {p.size!r}")


def check_stroke(st: Stroke, full_hw: tuple[int, int]) -> None:
    """A stroke's numbers: 1 to :data:`MAX_STROKE_POINTS` points inside the image, a valid color,
    a width above 0 and at most :data:`MAX_STROKE_WIDTH`."""
    if not isinstance(st, Stroke):
        raise HintError(f"strokes must be tinct.hints.Stroke, got {type(st).__name__}")
    if not isinstance(st.points, (list, tuple)) or not 1 <= len(st.points) <= MAX_STROKE_POINTS:
        n = len(st.points) if isinstance(st.points, (list, tuple)) else st.points
        raise HintError(f"a stroke has 1 to {MAX_STROKE_POINTS} points, got {n!r}")
    fh, fw = full_hw
    for i, pt in enumerate(st.points):
        if not isinstance(pt, (list, tuple)) or len(pt) != 2:
            raise HintError(f"stroke point {i} must be (x, y), got {pt!r}")
        x, y = check_number(pt[0], "stroke x"), check_number(pt[1], "stroke y")
        if not (0 <= x < fw and 0 <= y < fh):
            raise HintError(f"stroke point ({x:g}, {y:g}) lies outside the {fw}x{fh} image")
    check_rgb(st.rgb)
    width = check_number(st.width, "stroke width")
    if not 0 < width <= MAX_STROKE_WIDTH:
        raise HintError(f"stroke width must be above 0 and at most {MAX_STROKE_WIDTH:g} pixels, got {width:g}")


def _paint_stroke(ab_hint: torch.Tensor, mask: torch.Tensor, st: Stroke, sy: float, sx: float) -> None:
    """Rasterize a stroke at the working size (OpenCV's anti-aliasing off: a pixel is in or out)."""
    import cv2

    h, w = mask.shape[-2:]
    layer = np.zeros((h, w), np.uint8)
    shift = 4  # sub-pixel precision of the polyline's vertices
    pts = np.array([[(x + 0.5) * sx * 16 - 8, (y + 0.5) * sy * 16 - 8] for x, y in st.points], np.float64)
    pts = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(1, round(float(st.width) * min(sy, sx)))
    if len(pts) == 1:
        cv2.circle(layer, tuple(int(v) for v in pts[0, 0]), (thickness // 2) << shift, 1, -1, cv2.LINE_8, shift)
    else:
        cv2.polylines(layer, [pts], False, 1, thickness, cv2.LINE_8, shift)
    if not layer.any():  # thinner than a pixel: its first point's pixel at least
        x, y = st.points[0]
        layer[min(h - 1, int((y + 0.5) * sy)), min(w - 1, int((x + 0.5) * sx))] = 1
    on = torch.from_numpy(layer.astype(bool))
    ab_hint[0, :, on] = rgb_to_ab(st.rgb).view(2, 1)
    mask[0, 0, on] = 1.0


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
    weights = [check_number(w, "palette weight") for _, w in palette]
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
    for st in hints.strokes:
        check_stroke(st, full_hw)
        _paint_stroke(ab_hint, mask, st, sy, sx)
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
