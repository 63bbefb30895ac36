"""Line-art colorizers: networks that see a line drawing and paint the whole image (``output_kind``
"lab": lightness and color, so flat areas are filled and lines stay dark).

- ``lineart_unet``: the c-GAN generator of seed report 002 as a U-Net on the ImageNet-pretrained
  EfficientNet-Lite0 encoder, decoding up to full resolution with the drawing as the last skip;
  trained with L1 + a PatchGAN (``tinct train --loss pix2pix``).
- ``lineart_cnn``: the report's baseline, a plain stack of convolutions and ReLUs without skip
  links, trained with L2.

Both take the report's hint, a 512-bin RGB histogram of the wanted colors (the ``global_hint`` of
:mod:`tinct.models.base`, from a palette or a reference image), and point hints. ``lineart_unet``
also has the report's automatic hint: a small head predicts the histogram from the drawing's
features; when no histogram is given, that prediction is used in its place (``use_auto``; set it
False for the plain "no hint" output).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct import color
from tinct.hints.user import global_from_histogram
from tinct.models.base import GLOBAL_HINT_DIM, ColorNet, UpBlock, conv_bn_act, pool_to
from tinct.models.efficientnet_lite import (
    FEATURE_CHANNELS,
    EfficientNetLite0,
    efficientnet_lite0,
)
from tinct.registry import register_model

HIST_BINS = GLOBAL_HINT_DIM - 1


def drawing_rgb(l: torch.Tensor) -> torch.Tensor:
    """The drawing (normalized L, N x 1 x H x W) as a gray sRGB image in [0, 1]."""
    zeros = l.new_zeros(l.shape[0], 2, *l.shape[2:])
    return color.lab_to_rgb(torch.cat([color.denormalize_l(l), zeros], 1))


class LabOutput(ColorNet):
    """Shared decoding of the ``"lab"`` networks: the painted Lab, its L, a and b then moved toward
    a given histogram (palette or reference; not the automatic one) by ``hist_match``
    (:func:`tinct.color.match_histogram`): the hint sets the picture's overall tones and colors."""

    output_kind = "lab"
    render_size = 512  # line art needs its lines: work at 512 px unless told otherwise
    max_render_size = 1024  # its full-resolution last stage: 2048 px took +2.9 GB, over the 1.5 GB budget
    hist_match = 0.0
    fills_regions = True  # a flat color per area the lines enclose, hints fill theirs (tinct.lineart.regions)

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None) -> torch.Tensor:
        return self._decoded(out)[:, 1:]

    def decode_l(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._decoded(out)[:, :1]

    def _decoded(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalized Lab, histogram-matched once per output dict."""
        if "decoded" not in out:
            lab = out["lab"].clamp(-1, 1)
            if self.hist_match > 0 and "hist" in out:
                raw = torch.cat([color.denormalize_l(lab[:, :1]), color.denormalize_ab(lab[:, 1:])], 1)
                raw = color.match_histogram(raw, out["hist"], self.hist_match)
                lab = torch.cat([color.normalize_l(raw[:, :1]), color.normalize_ab(raw[:, 1:])], 1).clamp(-1, 1)
            out["decoded"] = lab
        return out["decoded"]

    def _setup(self, hints: bool, hist_match: float) -> None:
        """What both line-art networks set first: hint inputs and the histogram matching strength."""
        if not 0.0 <= hist_match <= 1.0:
            raise ValueError(f"hist_match must be in [0, 1], got {hist_match}")
        self.hist_match = hist_match
        self.hints = hints
        self.global_hint_dim = GLOBAL_HINT_DIM if hints else 0

    @staticmethod
    def wanted_histogram(g: torch.Tensor) -> torch.Tensor:
        """(N, 512) histograms of a global hint, zero rows where none is given."""
        return g[:, :-1] * (g[:, -1:] > 0)


@register_model(
    "lineart_unet",
    summary="line art -> full color: U-Net on a pretrained EfficientNet-Lite0, histogram + point hints, auto hint",
    source="Fu, Wang & Liu, Automatic Colorization for Line Arts (seed 002): c-GAN with color-histogram hint",
    tiny={"pretrained": False, "width": 8},
    discriminator="patchgan",
    default_loss="pix2pix",
)
class LineArtUNet(LabOutput):
    init_only_kwargs = ("pretrained",)

    def __init__(self, width: int = 32, pretrained: bool = True, hints: bool = True, auto_hint: bool = True,
                 hist_match: float = 0.7, auto_temperature: float = 1.0):
        """``hist_match``: how far the output's tones and colors move toward the wanted histogram
        (0-1; see :class:`LabOutput`); ``auto_temperature``: the automatic hint is the histogram
        head's softmax at this temperature (above 1: a flatter guess, which paints more colors;
        below 1: sharper, piled onto a few mostly pale bins)."""
        super().__init__()
        if not 0.05 <= auto_temperature <= 5:
            raise ValueError(f"auto_temperature must be in [0.05, 5], got {auto_temperature}")
        self.auto_temperature = float(auto_temperature)
        self._setup(hints, hist_match)
        self.auto_hint = auto_hint and hints
        self.use_auto = True  # a run-time switch, not a stored option
        self.encoder = efficientnet_lite0(pretrained=pretrained)
        del self.encoder._conv_head, self.encoder._bn1, self.encoder._fc
        c2, c4, c8, c16, c32 = FEATURE_CHANNELS
        w = width
        extra = 3 if hints else 0
        if hints:
            self.hint_stem = nn.Conv2d(3, 32, 3, 2, 1)
            self.global_fc = nn.Linear(GLOBAL_HINT_DIM, c32)
            self.global_fc8 = nn.Linear(GLOBAL_HINT_DIM, 4 * w)
        if self.auto_hint:
            self.hist_head = nn.Sequential(nn.Linear(c32 + c16, 256), nn.ReLU(inplace=True), nn.Linear(256, HIST_BINS))
        self.up16 = UpBlock(c32, c16, 8 * w)
        self.up8 = UpBlock(8 * w, c8, 4 * w)
        self.up4 = UpBlock(4 * w, c4, 2 * w)
        self.up2 = UpBlock(2 * w, c2 + extra, w)
        self.up1 = UpBlock(w, 1 + extra, w)
        self.head = nn.Conv2d(w, 3, 3, 1, 1)

    def _forward(self, l, ab_hint, mask, global_hint):
        hint = self.pack_input(l, ab_hint, mask)[:, 1:]
        g = self.check_global(l, global_hint)
        x = EfficientNetLite0.normalize(drawing_rgb(l))
        f2, f4, f8, f16, f32 = self.encoder.features(x, self.hint_stem(hint) if self.hints else None)
        out: dict[str, torch.Tensor] = {}
        if self.hints:
            out["hist"] = self.wanted_histogram(g)  # a given histogram only: the automatic one is too loose to match
        if self.auto_hint:
            pooled = torch.cat([f32.mean((2, 3)), f16.mean((2, 3))], 1).detach()  # a probe: it does not train the encoder
            out["hist_logits"] = self.hist_head(pooled)
            if self.use_auto:
                auto = global_from_histogram(F.softmax(out["hist_logits"] / self.auto_temperature, 1).detach())
                g = torch.where(g[:, -1:] > 0, g, auto)
        if self.hints:
            f32 = f32 + self.global_fc(g)[:, :, None, None]
        x = self.up16(f32, f16)
        x = self.up8(x, f8)
        if self.hints:
            x = x + self.global_fc8(g)[:, :, None, None]
        x = self.up4(x, f4)
        skip2, skip1 = f2, l
        if self.hints:
            skip2 = torch.cat([f2, pool_to(hint, f2.shape[-2:])], 1)
            skip1 = torch.cat([l, hint], 1)
        x = self.up2(x, skip2)
        x = self.up1(x, skip1)
        out["lab"] = self.head(x)
        return out


@register_model(
    "lineart_cnn",
    summary="line art -> full color: the seed's plain CNN baseline (convs + ReLU, no skip links), L2",
    source="Fu, Wang & Liu, Automatic Colorization for Line Arts (seed 002): CNN baseline with L2 loss",
    tiny={"width": 8},
    default_loss="l2",
)
class LineArtCNN(LabOutput):
    def __init__(self, width: int = 32, hints: bool = True, hist_match: float = 0.7):
        super().__init__()
        self._setup(hints, hist_match)
        w = width
        cin = self.in_channels(hints)
        self.down = nn.Sequential(conv_bn_act(cin, w), conv_bn_act(w, 2 * w, stride=2), conv_bn_act(2 * w, 4 * w, stride=2),
                                  conv_bn_act(4 * w, 8 * w, stride=2), conv_bn_act(8 * w, 8 * w))
        if hints:
            self.global_fc = nn.Linear(GLOBAL_HINT_DIM, 8 * w)
        layers: list[nn.Module] = []
        for cin_, cout in ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w)):
            layers += [nn.ConvTranspose2d(cin_, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.up = nn.Sequential(*layers, nn.Conv2d(w, 3, 3, 1, 1))

    def _forward(self, l, ab_hint, mask, global_hint):
        x = self.down(self.pack_input(l, ab_hint, mask))
        out = {}
        if self.hints:
            g = self.check_global(l, global_hint)
            x = x + self.global_fc(g)[:, :, None, None]
            out["hist"] = self.wanted_histogram(g)
        out["lab"] = self.up(x)
        return out
