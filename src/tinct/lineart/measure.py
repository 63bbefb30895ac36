"""What a colorist checks in painted line art, as numbers (``tinct bench lineart`` prints them).

- :func:`flat_share`: the share of a painting's pixels that sit in an area of one flat color: within
  CIEDE2000 ``tol`` of their area's color (the area's median chroma), the lightness left out (the
  shading a colorist keeps is lightness), the line pixels left out.
- :func:`crossing_share`: color that crosses the lines: of the pixels within 2 px of a line that
  separates two differently colored sides in the original (CIEDE2000 > 10 between the sides), the
  share whose chroma is more than CIEDE2000 10 from the original's there.

Both take the drawing (HxW uint8) and measure on its own line mask and areas
(:func:`tinct.lineart.regions.line_mask`, :func:`~tinct.lineart.regions.regions`).
"""

from __future__ import annotations

import cv2
import numpy as np

from tinct.lineart.regions import line_mask, region_medians, regions
from tinct.metrics import ciede2000, rgb_to_lab

SIDE = 3  # px: how far on each side of a line pixel its two sides are read
NEAR = 2  # px: how close to a line a pixel must be to count for crossing
BOUNDARY = 10.0  # CIEDE2000 between the original's two sides for a line to be a color boundary
WRONG = 10.0  # CIEDE2000 of chroma for a pixel's color to count as crossed


def _chroma_delta(lab: np.ndarray, ab_ref: np.ndarray) -> np.ndarray:
    """CIEDE2000 between each pixel and the reference chroma at the pixel's own lightness."""
    ref = np.concatenate([lab[..., :1], ab_ref], axis=-1)
    return ciede2000(lab, ref)


def flat_share(painted: np.ndarray, drawing: np.ndarray, tol: float = 3.0) -> float:
    """Share (0-1) of the non-line pixels within CIEDE2000 ``tol`` of their area's median chroma."""
    lines = line_mask(drawing)
    labels = regions(lines)
    lab = rgb_to_lab(painted).astype(np.float32)
    inside = ~lines
    delta = _chroma_delta(lab, region_medians(lab[..., 1:], labels, inside)[labels])
    return float((delta[inside] <= tol).mean()) if inside.any() else 1.0


def boundary_pixels(drawing: np.ndarray, original: np.ndarray) -> np.ndarray:
    """HxW bool: the non-line pixels within ``NEAR`` px of a line pixel whose two sides (``SIDE`` px
    away, horizontally or vertically, both off the lines) differ by more than ``BOUNDARY`` in the
    original."""
    lines = line_mask(drawing)
    lab = rgb_to_lab(original).astype(np.float32)
    h, w = lines.shape
    found = np.zeros((h, w), bool)
    ys, xs = np.nonzero(lines)
    for dy, dx in ((0, SIDE), (SIDE, 0)):
        y1, x1, y2, x2 = ys - dy, xs - dx, ys + dy, xs + dx
        ok = (y1 >= 0) & (x1 >= 0) & (y2 < h) & (x2 < w)
        y1, x1, y2, x2, yl, xl = y1[ok], x1[ok], y2[ok], x2[ok], ys[ok], xs[ok]
        off = ~lines[y1, x1] & ~lines[y2, x2]
        diff = ciede2000(lab[y1[off], x1[off]], lab[y2[off], x2[off]]) > BOUNDARY
        found[yl[off][diff], xl[off][diff]] = True
    near = cv2.dilate(found.astype(np.uint8), np.ones((2 * NEAR + 1, 2 * NEAR + 1), np.uint8)) > 0
    return near & ~lines


def crossing_share(painted: np.ndarray, drawing: np.ndarray, original: np.ndarray) -> float:
    """Share (0-1) of the pixels along color-boundary lines (:func:`boundary_pixels`) whose chroma is
    more than ``WRONG`` from the original's; NaN when the drawing has no such line."""
    near = boundary_pixels(drawing, original)
    if not near.any():
        return float("nan")
    lab = rgb_to_lab(painted).astype(np.float32)
    truth = rgb_to_lab(original).astype(np.float32)
    return float((_chroma_delta(lab, truth[..., 1:])[near] > WRONG).mean())
