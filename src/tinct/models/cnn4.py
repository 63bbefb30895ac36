"""``cnn4``: the simple 4-layer CNN baseline (Kaggle "Image Colorization CNN" style).

Two stride-2 3x3 convolutions shrink the gray image to 1/4, two stride-2 transposed
convolutions bring it back; ReLU between layers and ``tanh`` on the 2 output channels (normalized
ab). No normalization, no skip links: the point of this model is to be the floor the others beat.
"""

from __future__ import annotations

import torch
from torch import nn

from tinct.models.base import ColorNet
from tinct.registry import register_model


@register_model(
    "cnn4",
    summary="4-layer CNN baseline (2 strided convs down, 2 transposed convs up), ab regression",
    source='Kaggle "Image Colorization CNN" baseline, as used in the MMM team report (seed 003)',
    tiny={"width": 8},
    default_loss="l2",
)
class CNN4(ColorNet):
    """Four convolutions: ``width`` and ``2 * width`` channels, output ab at input resolution."""

    def __init__(self, width: int = 64, hints: bool = False):
        super().__init__()
        self.hints = hints
        cin = self.in_channels(hints)
        self.net = nn.Sequential(
            nn.Conv2d(cin, width, 3, 2, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, 2, 1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, 2, 4, 2, 1),
            nn.Tanh(),
        )

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        self.check_global(l, global_hint)
        return {"ab": self.net(self.pack_input(l, ab_hint, mask))}
