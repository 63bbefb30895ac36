"""``levin``: Levin et al. 2004 hint propagation as a zoo colorizer with no weights.

It takes the same hint tensors as the hint networks and needs no training, so it goes through
:class:`tinct.pipeline.Colorizer` and the hint benchmark like any model. The solver runs per
image on the CPU in float64 (:func:`tinct.hints.levin.levin_colorize`); the result comes back on the
input's device and dtype. Without point hints the output is gray (ab = 0). It has no use for a
palette or reference image and refuses one, as other models without a global hint path do.
"""

from __future__ import annotations

import torch

from tinct import color
from tinct.errors import HintError
from tinct.hints.levin import levin_colorize
from tinct.models.base import ColorNet
from tinct.registry import register_model


@register_model(
    "levin",
    summary="Levin et al. 2004 optimization: propagates point hints over a lightness affinity; no weights",
    source="Levin, Lischinski & Weiss, Colorization using optimization, SIGGRAPH 2004",
    tiny={},
)
class LevinColorizer(ColorNet):
    hints = True
    trainable = False  # nothing to learn: the trainer refuses it

    def _forward(self, l, ab_hint, mask, global_hint):
        self.check_global(l, global_hint)
        n, _, h, w = l.shape
        if ab_hint is None or mask is None:
            return {"ab": l.new_zeros(n, 2, h, w)}
        if ab_hint.shape[-2:] != (h, w) or mask.shape[-2:] != (h, w):
            raise HintError("hint tensors must have the spatial size of L")
        # raw L for the affinity; the solve is linear, so normalized ab in -> normalized ab out
        l_raw = color.denormalize_l(l.detach().double().cpu()).numpy()
        hints = ab_hint.detach().double().cpu().numpy()
        masks = mask.detach().double().cpu().numpy()
        out = [torch.from_numpy(levin_colorize(l_raw[i, 0], hints[i], masks[i, 0])) for i in range(n)]
        return {"ab": torch.stack(out).to(device=l.device, dtype=l.dtype)}
