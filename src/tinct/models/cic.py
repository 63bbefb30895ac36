"""``cic``: "Colorful Image Colorization" (Zhang, Isola & Efros, ECCV 2016).

Eight VGG-style blocks of 3x3 convs with ReLU, each ending in BatchNorm: conv1..conv3 halve the
resolution with their last conv (stride 2), conv4 stays at 1/8, conv5 and conv6 use dilation 2
(a wider view at 1/8), conv7 plain, conv8 upsamples once (4x4 transposed conv, stride 2) to 1/4.
A 1x1 conv gives logits over the Q = 313 in-gamut ab bins; :meth:`ColorNet.decode` turns them into
ab by the annealed mean (temperature 0.38). The default config has the paper's widths (~32M
parameters); ``width`` divides them for small configs.
"""

from __future__ import annotations

import torch
from torch import nn

from tinct import color
from tinct.models.base import ColorNet
from tinct.registry import register_model


def _block(cin: int, cout: int, n: int, last_stride: int = 1, dilation: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        stride = last_stride if i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, dilation, dilation=dilation),
                   nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


@register_model(
    "cic",
    summary="Colorful Image Colorization: 8 VGG-style blocks, dilated conv5/6, 313-bin logits at 1/4",
    source="Zhang, Isola & Efros 2016, Colorful Image Colorization (ECCV)",
    tiny={"width": 16},
    default_loss="cls",
)
class CIC(ColorNet):
    """Classification colorizer; returns ``{"logits": (N, 313, H/4, W/4)}``."""

    prefer_bins = True
    has_distribution = True
    default_temperature = 0.38

    def __init__(self, width: int = 1, hints: bool = False):
        super().__init__()
        self.hints = hints
        c64, c128, c256, c512 = (max(c // width, 1) for c in (64, 128, 256, 512))
        self.register_buffer("bins", color.ab_bins())
        self.model1 = _block(self.in_channels(hints), c64, 2, last_stride=2)
        self.model2 = _block(c64, c128, 2, last_stride=2)
        self.model3 = _block(c128, c256, 3, last_stride=2)
        self.model4 = _block(c256, c512, 3)
        self.model5 = _block(c512, c512, 3, dilation=2)
        self.model6 = _block(c512, c512, 3, dilation=2)
        self.model7 = _block(c512, c512, 3)
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(c512, c256, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c256, c256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c256, c256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c256, self.bins.shape[0], 1),
        )

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        self.check_global(l, global_hint)
        x = self.pack_input(l, ab_hint, mask)
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6,
                      self.model7, self.model8):
            x = block(x)
        return {"logits": x}
