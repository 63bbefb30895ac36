"""``patchgan``: the 70x70 PatchGAN discriminator of pix2pix (Isola et al. 2017).

C64-C128-C256-C512 (4x4 convs with strides 2, 2, 2, 1; no norm on the first, BatchNorm after
the others, LeakyReLU 0.2) and a last 4x4 conv to one channel. Each output logit judges one 70x70
patch of the (L, ab) input, so the discriminator only models high-frequency structure and works
at any input size.
"""

from __future__ import annotations

import torch
from torch import nn

from tinct.models.base import Discriminator
from tinct.registry import register_model


@register_model(
    "patchgan",
    role="discriminator",
    summary="70x70 PatchGAN discriminator on (L, ab): one logit per image patch",
    source="Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks",
    tiny={"ndf": 8},
)
class PatchGAN(Discriminator):
    """pix2pix ``n_layers=3`` discriminator; ``ndf`` is the first layer's width (64)."""

    def __init__(self, ndf: int = 64, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        cin = ndf
        for mult, stride in ((2, 2), (4, 2), (8, 1)):
            cout = ndf * mult
            layers += [nn.Conv2d(cin, cout, 4, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def receptive_field(net: nn.Module) -> int:
    """Receptive field (in input pixels) of one output unit of a plain conv/pool stack."""
    rf, jump = 1, 1
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            d = m.dilation if isinstance(getattr(m, "dilation", 1), int) else m.dilation[0]
            rf += (k - 1) * d * jump
            jump *= s
    return rf
