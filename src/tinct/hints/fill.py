"""The line-art hint stage: point hints fill the areas a drawing's lines enclose, as a paint
bucket does (no weights; :class:`tinct.pipeline.Colorizer` runs it for line-art models)."""

from __future__ import annotations

import torch
from scipy import ndimage

from tinct import color

LINE_L = 55.0  # lightness below which a pixel is ink: the border of the areas a point fills


def fill_enclosed(l: torch.Tensor, ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor,
                  line_l: float = LINE_L) -> torch.Tensor:
    """Normalized ``ab`` (N, 2, H, W) with every pixel of an area enclosed by the drawing's lines
    (normalized ``l`` lighter than ``line_l``, 4-connected) set to the color of the nearest point
    inside that area; areas without a point, and images without one, keep ``ab``."""
    out = ab.clone()
    for i in range(ab.shape[0]):
        m = (mask[i, 0] > 0.5).detach().cpu().numpy()
        if not m.any():
            continue
        paper = color.denormalize_l(l[i, 0]).detach().cpu().numpy() > line_l
        areas, _ = ndimage.label(paper)
        _, (iy, ix) = ndimage.distance_transform_edt(~m, return_indices=True)
        same = torch.from_numpy((areas > 0) & (areas[iy, ix] == areas) | m).to(ab.device)
        hint = torch.from_numpy(ab_hint[i].detach().cpu().numpy()[:, iy, ix]).to(ab)
        out[i] = torch.where(same[None], hint, ab[i])
    return out
