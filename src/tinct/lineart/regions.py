"""Line art colored region by region, as a colorist does: the areas a drawing's lines enclose, one
flat color each, and layers that stack to the result.

- :func:`line_mask`: the line pixels of a drawing (ink or pencil on paper): darker than the paper
  around them (a local threshold, so uneven scans and gray pencil work alike).
- :func:`regions`: the areas the lines enclose, gaps in the lines up to ``gap`` pixels closed (the
  lines are thickened by half the gap before the areas are found, then every pixel goes to the
  nearest area, so thin areas such as hair strands keep their own region if they are wider than
  the gap).
- :func:`flat_layers`: each region's robust color (the median of the painted colors in Lab) as the
  flat layer, the painted lightness over the flat's as the shading layer, the lines on
  transparency; :func:`compose` stacks them (flat x shading, lines over it) into the shown result;
  :func:`write_layers` writes them as PNGs (the shading as 16-bit gray, value / 16384 = factor).
"""

from __future__ import annotations

import cv2
import numpy as np

from tinct import color

LINE_BLOCK = 25  # pixels: the neighbourhood the paper's brightness is measured over
LINE_CONTRAST = 12  # gray levels a pixel must be below its neighbourhood to be a line
MIN_REGION = 12  # pixels: smaller enclosed specks join their neighbour


def line_mask(gray: np.ndarray, contrast: float = LINE_CONTRAST) -> np.ndarray:
    """HxW bool: the drawing's line pixels, from its HxW uint8 gray image."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected an HxW uint8 drawing, got {gray.shape} {gray.dtype}")
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    local = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, LINE_BLOCK,
                                  contrast)
    return (local > 0) | (smooth < 60)


def regions(lines: np.ndarray, gap: int = 4, min_region: int = MIN_REGION) -> np.ndarray:
    """HxW int32 labels 1..n of the areas ``lines`` (HxW bool) enclose, gaps up to ``gap`` pixels
    closed; every pixel, line pixels included, carries the label of the nearest area."""
    if not 0 <= gap <= 64:
        raise ValueError(f"gap must be 0-64 pixels, got {gap}")
    r = (gap + 1) // 2
    thick = lines.astype(np.uint8)
    if r > 0:
        thick = cv2.dilate(thick, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    n, labels = cv2.connectedComponents((thick == 0).astype(np.uint8), connectivity=4)
    if n > 1:
        areas = np.bincount(labels.ravel(), minlength=n)
        labels[(areas[labels] < min_region) & (labels > 0)] = 0  # specks are given back to their neighbours
    if not (labels > 0).any():
        return np.ones(lines.shape, np.int32)
    from scipy import ndimage

    # every unlabelled pixel (lines, the thickened band, specks) takes the nearest area's label
    _, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    out = labels[iy, ix]
    _, compact = np.unique(out, return_inverse=True)
    return (compact.reshape(out.shape) + 1).astype(np.int32)


def flat_layers(painted: np.ndarray, drawing: np.ndarray, labels: np.ndarray, lines: np.ndarray):
    """(flat HxWx3 uint8, shading HxW float32, line alpha HxW uint8) of a painted drawing: each
    region's median Lab color (line pixels left out of the median), the painted lightness over the
    flat's (1 = none), and the drawing's darkness where its lines are."""
    from tinct.metrics import rgb_to_lab

    lab = rgb_to_lab(painted).astype(np.float32)
    n = int(labels.max())
    flat_lab = np.zeros((n + 1, 3), np.float32)
    inside = ~lines
    for k in range(1, n + 1):
        sel = (labels == k) & inside
        if not sel.any():
            sel = labels == k
        flat_lab[k] = np.median(lab[sel], axis=0)
    flat_l = flat_lab[labels]
    flat = np.empty(painted.shape, np.uint8)
    color.lab_to_uint8(np.ascontiguousarray(flat_l[..., 0]), np.ascontiguousarray(flat_l[..., 1]),
                       np.ascontiguousarray(flat_l[..., 2]), out=flat)
    shading = np.clip((lab[..., 0] + 1.0) / (flat_l[..., 0] + 1.0), 0.0, 4.0).astype(np.float32)
    alpha = np.where(lines, 255 - drawing, 0).astype(np.uint8)
    return flat, shading, alpha


SHADING_ONE = 16384  # the shading layer's 16-bit value for a factor of 1 (it holds 0-4)


def quantize_shading(shading: np.ndarray) -> np.ndarray:
    """The shading factors (0-4) as the 16-bit gray values of the shading layer's PNG."""
    return np.clip(np.round(shading * SHADING_ONE), 0, 65535).astype(np.uint16)


def compose(flat: np.ndarray, shading: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The shown result from the layers: the flat colors multiplied by the shading, the lines (black
    at ``alpha``) over them. Exactly what a painting program's multiply and normal blends give,
    rounded to uint8."""
    if shading.dtype == np.uint16:  # the layer as stored
        shading = shading.astype(np.float32) / SHADING_ONE
    shaded = np.clip(flat.astype(np.float32) * shading[..., None], 0, 255)
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.round(shaded * (1 - a)).astype(np.uint8)


def layer_files(painted: np.ndarray, drawing: np.ndarray, gap: int = 4) -> tuple[dict[str, bytes], np.ndarray]:
    """Regions, flats and shading of a painted drawing as PNG files: ``lines.png`` (black on
    transparency), ``flats.png`` and ``shading.png`` (16-bit, value / 16384 = factor), and the
    result they stack to (:func:`compose`)."""
    import io

    from PIL import Image

    lines = line_mask(drawing)
    labels = regions(lines, gap=gap)
    flat, shading, alpha = flat_layers(painted, drawing, labels, lines)
    shading16 = quantize_shading(shading)
    ink = np.zeros((*alpha.shape, 4), np.uint8)
    ink[..., 3] = alpha
    files = {}
    for name, img in (("lines.png", Image.fromarray(ink, "RGBA")), ("flats.png", Image.fromarray(flat)),
                      ("shading.png", Image.fromarray(shading16))):
        buf = io.BytesIO()
        img.save(buf, "PNG")
        files[name] = buf.getvalue()
    return files, compose(flat, shading16, alpha)


def write_layers(folder, painted: np.ndarray, drawing: np.ndarray, gap: int = 4) -> np.ndarray:
    """:func:`layer_files` written to ``folder`` (atomically); returns the result they stack to."""
    from pathlib import Path

    from tinct.imageio import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files, result = layer_files(painted, drawing, gap)
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    return result
