"""What a hint does to one image, beside the benchmark's averages: how far a point's change
reaches (:func:`point_effect`), whether a reference image moves the output's colors toward its
own (:func:`reference_shift`, by histogram distances), and before/after sheets
(:func:`save_side_by_side`)."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from tinct import color
from tinct.imageio import atomic_write_bytes
from tinct.errors import HintError, ImageError
from tinct.hints import Hints, Point, reference_histogram
from tinct.imageio import as_rgb
from tinct.pipeline import Colorizer

def _ab_histogram(rgb: np.ndarray, step: float = 10.0) -> np.ndarray:
    """Normalized 2-D histogram of ab (bins of ``step`` over [-110, 110]^2), at most 256 px."""
    t = color.to_tensor(rgb)
    if max(t.shape[-2:]) > 256:
        t = torch.nn.functional.interpolate(t, scale_factor=256 / max(t.shape[-2:]), mode="area")
    ab = color.rgb_to_lab(t)[0, 1:].reshape(2, -1).numpy()
    edges = np.arange(-110, 110 + step, step)
    hist, _, _ = np.histogram2d(ab[0], ab[1], bins=[edges, edges])
    return hist.ravel() / max(hist.sum(), 1)


def histogram_distances(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """Chi-square (0.5 sum (p-q)^2/(p+q), in [0, 1]), L1 and Hellinger distance of two histograms."""
    s = p + q
    nz = s > 0
    chi2 = 0.5 * float(np.sum((p[nz] - q[nz]) ** 2 / s[nz]))
    hell = math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q)))))
    return {"chi2": chi2, "l1": float(np.abs(p - q).sum()), "hellinger": hell}


def _distances(out: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    rgb = histogram_distances(reference_histogram(out)[0].numpy(), reference_histogram(ref)[0].numpy())
    ab = histogram_distances(_ab_histogram(out), _ab_histogram(ref))
    return {f"rgb_{k}": v for k, v in rgb.items()} | {f"ab_{k}": v for k, v in ab.items()}


def reference_shift(colorizer: Colorizer, image, reference, return_images: bool = False) -> dict[str, Any]:
    """Colorize ``image`` without and with ``reference`` (a different scene) as a global hint and
    give the histogram distances of each output to the reference: 512-bin RGB histogram
    (chi-square, L1, Hellinger) and ab 2-D histogram (same). Smaller after = it followed the
    reference."""
    rgb, _ = as_rgb(image)
    ref, _ = as_rgb(reference)
    before = colorizer(rgb, None)
    after = colorizer(rgb, Hints(reference=ref))
    res: dict[str, Any] = {"before": _distances(before, ref), "after": _distances(after, ref)}
    res["closer"] = {k: res["after"][k] < res["before"][k] for k in res["before"]}
    if return_images:
        res["images"] = {"before": before, "after": after}
    return res


def point_effect(colorizer: Colorizer, image, point: Point, radius: float | None = None,
                 region: np.ndarray | None = None, return_images: bool = False) -> dict[str, Any]:
    """Mean ab change (Lab units) of the output caused by one point hint, inside the hint's region
    and outside it. The region is ``region`` (H x W bool) or else the disc of ``radius`` pixels
    (default: 1/8 of the longer side) around the point."""
    rgb, _ = as_rgb(image)
    h, w = rgb.shape[:2]
    before = colorizer(rgb, None)
    after = colorizer(rgb, Hints(points=[point]))
    ab0 = color.rgb_to_lab(color.to_tensor(before))[0, 1:]
    ab1 = color.rgb_to_lab(color.to_tensor(after))[0, 1:]
    change = torch.linalg.vector_norm(ab1 - ab0, dim=0).numpy()
    if region is None:
        r = radius if radius is not None else max(h, w) / 8
        yy, xx = np.mgrid[0:h, 0:w]
        region = (yy + 0.5 - (point.y + 0.5)) ** 2 + (xx + 0.5 - (point.x + 0.5)) ** 2 <= r * r
    region = np.asarray(region, dtype=bool)
    if region.shape != (h, w) or region.all() or not region.any():
        raise HintError(f"the region must be an {h}x{w} mask with pixels inside and outside it")
    inside, outside = float(change[region].mean()), float(change[~region].mean())
    res: dict[str, Any] = {"inside": inside, "outside": outside, "ratio": inside / max(outside, 1e-6),
                           "region_pixels": int(region.sum())}
    if return_images:
        res["images"] = {"before": before, "after": after}
    return res


def save_side_by_side(path: str | os.PathLike, images: Sequence, labels: Sequence[str] | None = None,
                      marks: Sequence[tuple[float, float]] = ()) -> Path:
    """Write images (same height) side by side as a PNG, with optional labels and ring marks at
    ``marks`` (x, y) pixel positions on every panel. Written atomically."""
    panels = [Image.fromarray(as_rgb(im)[0]) for im in images]
    if len({p.height for p in panels}) != 1:
        raise ImageError("side-by-side images must have the same height")
    gap, top = 8, 18 if labels else 0
    canvas = Image.new("RGB", (sum(p.width for p in panels) + gap * (len(panels) - 1), panels[0].height + top), "white")
    d = ImageDraw.Draw(canvas)
    x = 0
    for k, p in enumerate(panels):
        canvas.paste(p, (x, top))
        if labels:
            d.text((x + 2, 2), labels[k], fill="black")
        for mx, my in marks:
            r = max(4, p.width // 60)
            cx, cy = x + mx + 0.5, top + my + 0.5
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline="white", width=2)
            d.ellipse([cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2], outline="black", width=1)
        x += p.width + gap
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())
    return out


