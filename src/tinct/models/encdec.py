"""``encdec`` and ``unet``: the encoder-decoder pair of the artistic colorization report.

Both share one body: ``depth`` stages down (2x (conv-BN-ReLU), then 2x2 max-pool), a bottleneck,
and ``depth`` stages up (bilinear upsampling, then 2x (conv-BN-ReLU)), with channel widths
``base * 2**i``. ``unet`` concatenates each encoder stage's output into the decoder stage of the
same resolution (Ronneberger et al. 2015 skip links); ``encdec`` does not, so the two differ only
by the skip links and compare fairly. A 1x1 conv and ``tanh`` give normalized ab at the input
resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct.errors import TinctError
from tinct.models.base import ColorNet, conv_bn_act
from tinct.registry import register_model


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_bn_act(cin, cout), conv_bn_act(cout, cout))


class EncDec(ColorNet):
    """Encoder-decoder without skip links (``skips = False``); :class:`UNet` turns them on."""

    skips: bool = False

    def __init__(self, base: int = 32, depth: int = 4, hints: bool = False):
        super().__init__()
        if not 1 <= depth <= 5:
            raise TinctError(f"encdec/unet depth must be 1..5 (inputs are multiples of 32), got {depth}")
        self.hints = hints
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = self.in_channels(hints)
        for w in widths[:-1]:
            self.down.append(double_conv(cin, w))
            cin = w
        self.bottleneck = double_conv(cin, widths[-1])
        self.up = nn.ModuleList()
        cin = widths[-1]
        for w in reversed(widths[:-1]):
            self.up.append(double_conv(cin + (w if self.skips else 0), w))
            cin = w
        self.head = nn.Conv2d(cin, 2, 1)

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        self.check_global(l, global_hint)
        x = self.pack_input(l, ab_hint, mask)
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for stage, skip in zip(self.up, reversed(skips)):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if self.skips:
                x = torch.cat([x, skip], dim=1)
            x = stage(x)
        return {"ab": torch.tanh(self.head(x))}


register_model(
    "encdec",
    summary="encoder-decoder without skip links (conv-BN-ReLU x2 per stage), ab regression",
    source="Sun, Zhang & Liu, Artistic Image Colorization with Visual Generative Networks (seed 000)",
    tiny={"base": 8, "depth": 3},
    default_loss="l2",
)(EncDec)


@register_model(
    "unet",
    summary="U-Net: the encdec network with skip links; pix2pix generator with a PatchGAN",
    source="Ronneberger et al. 2015; Isola et al. 2017 (pix2pix); artistic colorization report (seed 000)",
    tiny={"base": 8, "depth": 3},
    discriminator="patchgan",
    default_loss="l2",
)
class UNet(EncDec):
    """The same network as ``encdec`` with U-Net skip links (encoder features concatenated)."""

    skips = True
