"""``resenc``: the residual encoder network of Ryan Dahl's "Automatic Colorization", as
implemented in Armour's Automatic-Image-Colorization repository.

A VGG16-like encoder (conv1_1..conv4_3, 3x3 convs, max-pools between stages) is tapped at
``conv1_2``, ``conv2_2``, ``conv3_3`` and ``conv4_3``. The decoder walks back up: each tap is
batch-normalized and *added* to the upsampled decoder features, then a conv shrinks the width
for the next scale (``b_conv4`` is 1x1, the others 3x3); at full resolution the batch-normalized
input is added too, and a last 3x3 conv predicts ab (``tanh`` instead of the original sigmoid, as
tinct's ab is centered on 0). Trained from scratch here (no VGG weights offline), so the encoder
convs carry BatchNorm; the channel widths are ``width * (1, 2, 4, 8)`` (64 in VGG16).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct.models.base import ColorNet, conv_bn_act
from tinct.registry import register_model


def _up_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


@register_model(
    "resenc",
    summary="residual encoder: VGG-like encoder taps added back into the decoder (Dahl / Armour)",
    source="R. Dahl, Automatic Colorization (2016); Armour/Automatic-Image-Colorization (seed 003)",
    tiny={"width": 8},
    default_loss="l2",
)
class ResEnc(ColorNet):
    """Residual encoder colorizer; ``width`` is VGG's first-stage width (64)."""

    def __init__(self, width: int = 64, hints: bool = False):
        super().__init__()
        self.hints = hints
        # the gray image enters as 3 equal channels like the VGG input; hints add their own
        self.c0 = 4 if hints else 3
        w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
        self.conv1 = nn.Sequential(conv_bn_act(self.c0, w1), conv_bn_act(w1, w1))
        self.conv2 = nn.Sequential(conv_bn_act(w1, w2), conv_bn_act(w2, w2))
        self.conv3 = nn.Sequential(conv_bn_act(w2, w3), conv_bn_act(w3, w3), conv_bn_act(w3, w3))
        self.conv4 = nn.Sequential(conv_bn_act(w3, w4), conv_bn_act(w4, w4), conv_bn_act(w4, w4))
        self.bn_4, self.bn_3, self.bn_2, self.bn_1 = (nn.BatchNorm2d(c) for c in (w4, w3, w2, w1))
        self.bn_0 = nn.BatchNorm2d(self.c0)
        self.b_conv4 = conv_bn_act(w4, w3, k=1, bn=False)
        self.b_conv3 = conv_bn_act(w3, w2)
        self.b_conv2 = conv_bn_act(w2, w1)
        self.b_conv1 = conv_bn_act(w1, self.c0)
        self.b_conv0 = conv_bn_act(self.c0, self.c0)
        self.out = nn.Conv2d(self.c0, 2, 3, 1, 1)

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        self.check_global(l, global_hint)
        x0 = self.pack_input(l, ab_hint, mask)
        if not self.hints:
            x0 = x0.expand(-1, 3, -1, -1)
        f1 = self.conv1(x0)
        f2 = self.conv2(F.max_pool2d(f1, 2))
        f3 = self.conv3(F.max_pool2d(f2, 2))
        f4 = self.conv4(F.max_pool2d(f3, 2))
        x = self.b_conv4(self.bn_4(f4))
        x = self.b_conv3(self.bn_3(f3) + _up_to(x, f3))
        x = self.b_conv2(self.bn_2(f2) + _up_to(x, f2))
        x = self.b_conv1(self.bn_1(f1) + _up_to(x, f1))
        x = self.b_conv0(self.bn_0(x0) + x)
        return {"ab": torch.tanh(self.out(x))}
