"""Learned alternatives: K other readings of a picture, each one coherent, where the network is unsure.

:class:`AlternativeHeads` sits on a frozen colorizer (``effunet``): from the decoder's features
at 1/4 resolution, their statistics over the whole picture (so that a head reads the picture as a
whole: one sweater, one color), the shown colors and the network's doubt (1 - confidence), it
predicts K changes of the shown colors, each multiplied by the doubt. So the alternatives agree
with the shown colors where the network is sure and differ where it guesses, by construction.

Trained by multiple-choice learning (Guzman-Rivera et al. 2012; Lee et al. 2016): per picture only
the head closest to the true colors learns fully (the others a little, so none is left behind).
Each head then becomes one committed reading of the pictures it wins, rather than the average of
all readings the shown colors are; the best of them is what the "oracle" figure of diverse
colorization measures. Trained by :mod:`tinct.train.alternatives`; stored in the model file as its
``alternatives`` component; used by :func:`tinct.uncertainty.variants`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct import color

CF_MARGIN = 1.0  # an alternative is at least this colorful, relative to the shown colors


class AlternativeHeads(nn.Module):
    def __init__(self, k: int = 3, in_channels: int = 64, width: int = 64, scale: float = 1.0, power: float = 1.0):
        """``k`` alternatives from ``in_channels`` decoder features, ``width`` channels inside. The
        changes are ``scale * doubt ** power`` times what the heads predict (trained at 1 and 1; a
        shipped file may temper them: smaller steps, or fewer where the model is fairly sure)."""
        super().__init__()
        if not 1 <= k <= 16 or not 1 <= in_channels <= 1024 or not 4 <= width <= 512:
            raise ValueError(f"bad alternative-head settings: k={k}, in_channels={in_channels}, width={width}")
        if not 0 < scale <= 4 or not 0.5 <= power <= 4:
            raise ValueError(f"alternatives' scale must be in (0, 4] and power in [0.5, 4], got {scale}, {power}")
        self.kwargs = {"k": k, "in_channels": in_channels, "width": width, "scale": scale, "power": power}
        self.k, self.scale, self.power = k, scale, power
        self.context = nn.Linear(2 * in_channels, width)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels + width + 3, width, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * k, 1),
        )

    def forward(self, features: torch.Tensor, ab: torch.Tensor, doubt: torch.Tensor) -> torch.Tensor:
        """(N, K, 2, h, w) changes of the shown colors, in normalized ab, at the features' size
        (h, w). ``features`` (N, C, h, w); ``ab`` the shown normalized ab (any size);
        ``doubt`` (N, 1, any size) in [0, 1]."""
        n, _, h, w = features.shape
        f = features.float()
        ab = color.resize_ab(ab.float(), (h, w))
        doubt = F.interpolate(doubt.float(), size=(h, w), mode="area") if doubt.shape[-2:] != (h, w) else doubt.float()
        ctx = self.context(torch.cat([f.mean((2, 3)), f.std((2, 3))], 1))[:, :, None, None].expand(-1, -1, h, w)
        delta = self.body(torch.cat([f, ctx, ab, doubt], 1)).view(n, self.k, 2, h, w)
        gate = doubt if self.power == 1 else doubt.clamp(0, 1) ** self.power
        return delta * (self.scale * gate)[:, None]

    def colors(self, features: torch.Tensor, ab: torch.Tensor, doubt: torch.Tensor) -> torch.Tensor:
        """(N, K, 2, H, W): the K alternatives' normalized ab at the size of the shown ``ab``."""
        delta = self(features, ab, doubt)
        n, k, _, h, w = delta.shape
        up = color.resize_ab(delta.reshape(n, k * 2, h, w), ab.shape[-2:]).view(n, k, 2, *ab.shape[-2:])
        return ab[:, None].float() + up


def multiple_choice_loss(alternatives: torch.Tensor, truth: torch.Tensor, relax: float = 0.05,
                         shown: torch.Tensor | None = None) -> torch.Tensor:
    """The relaxed multiple-choice loss of (N, K, 2, H, W) alternatives against (N, 2, H, W) true
    normalized ab: per picture, the head of least squared error takes ``1 - relax`` of the L1
    loss's weight and every head shares ``relax``. With the ``shown`` colors (N, 2, H, W), they
    compete too, and a picture they are best for teaches the heads only through ``relax``: no
    head learns to repeat what is shown already (the best of shown and alternatives is what counts)."""
    err = (alternatives - truth[:, None]).abs().mean((2, 3, 4))  # (N, K) L1
    sq = ((alternatives - truth[:, None]) ** 2).mean((2, 3, 4))
    k = alternatives.shape[1]
    weight = torch.full_like(err, relax / k)
    best, winner = sq.min(1, keepdim=True)
    won = torch.full_like(err[:, :1], 1 - relax)
    if shown is not None:
        won = won * (best < ((shown - truth) ** 2).mean((1, 2, 3))[:, None])
    weight.scatter_add_(1, winner, won)
    return (weight.detach() * err).sum(1).mean()


def colorfulness(l: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk's colorfulness (:func:`tinct.metrics.colorfulness`) of the picture of raw
    L (1, h, w) and raw ab (2, h, w), without rounding to 8 bits."""
    rgb = color.lab_to_rgb(torch.cat([l, ab])[None].float())[0] * 255.0
    rg, yb = rgb[0] - rgb[1], 0.5 * (rgb[0] + rgb[1]) - rgb[2]
    spread = (rg.var(unbiased=False) + yb.var(unbiased=False)).sqrt()
    return spread + 0.3 * (rg.mean() ** 2 + yb.mean() ** 2).sqrt()


def as_colorful(l: torch.Tensor, alt: torch.Tensor, shown: torch.Tensor, doubt: torch.Tensor,
                margin: float = CF_MARGIN, max_gain: float = 4.0, steps: int = 10) -> torch.Tensor:
    """An alternative's raw ab (2, h, w) made at least ``margin`` x as colorful as the ``shown``
    ab over the same raw L (1, h, w): where it is less, its colors are raised by ``1 + t doubt``
    (hue kept; the sure parts stay as they are), ``t`` the least in [0, ``max_gain``] that does it
    (bisection). Judged over the whole picture, not per pixel: an alternative may take the color
    out of one object the shown output painted wrongly, if it is as colorful elsewhere."""
    target = margin * colorfulness(l, shown)
    if colorfulness(l, alt) >= target:
        return alt
    lo, hi = 0.0, max_gain
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if colorfulness(l, alt * (1 + mid * doubt)) >= target:
            hi = mid
        else:
            lo = mid
    return alt * (1 + hi * doubt)
