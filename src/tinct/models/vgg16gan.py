"""``vgg16gan`` and ``vgg16d``: the VGG16-based GAN of the "Automatic Image Colorization" report
(Li, Li & Wang, DS1008 2018; seed 001).

Both networks start with the 13 convolutions of VGG16 in 5 stages of widths 64, 128, 256, 512,
512 (2, 2, 3, 3, 3 convs), each conv followed by BatchNorm and LeakyReLU and each stage by a 2x2
max-pool. The generator goes back up to full resolution with a decoder that concatenates each
stage's output (U-Net skip links) and predicts ab with ``tanh``. The discriminator sees the Lab
image (L, a, b), max-pools the ``512 x H/32 x W/32`` features once more, pools them to a fixed 4x4
grid (any input size), flattens and applies "Encode" units (Linear-BatchNorm-LeakyReLU-Dropout)
and a last linear layer giving one logit (the sigmoid is in the loss).

``vgg16_weights`` loads the 13 conv layers from a torchvision-layout VGG16 state dict
(``features.{0,2,5,...,28}.{weight,bias}``); the generator averages the first conv's RGB kernel
into its L channel (hint channels start at zero). ``width`` divides every channel count (1 gives
VGG16's widths, needed to load the weights).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from tinct.errors import ModelFileError
from tinct.models.base import ColorNet, Discriminator, UpBlock, conv_bn_act
from tinct.registry import register_model

VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
# index of each conv layer in torchvision's ``vgg16().features``
TORCHVISION_CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def _vgg_block(cin: int, cout: int) -> nn.Sequential:
    # conv keeps its bias so VGG16 weights load one to one
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True))


def vgg16_stages(cin: int, width: int = 1) -> nn.ModuleList:
    """The 5 VGG16 conv stages (no pooling inside), channels divided by ``width``."""
    stages = nn.ModuleList()
    for cout, n in VGG16_STAGES:
        cout = max(cout // width, 1)
        blocks = []
        for _ in range(n):
            blocks.append(_vgg_block(cin, cout))
            cin = cout
        stages.append(nn.Sequential(*blocks))
    return stages


def vgg16_convs(stages: nn.ModuleList) -> list[nn.Conv2d]:
    """The 13 conv layers of ``stages`` in VGG16 order."""
    return [m for m in stages.modules() if isinstance(m, nn.Conv2d)]


def load_vgg16_weights(stages: nn.ModuleList, path: str | os.PathLike, average_rgb: bool) -> None:
    """Copy the conv weights of a torchvision-layout VGG16 state dict file into ``stages``.

    ``average_rgb``: the first conv takes L (and maybe hint channels) instead of RGB; its RGB
    kernel is averaged into input channel 0 and the other input channels start at zero.
    """
    if not os.path.isfile(path):
        raise ModelFileError(f"VGG16 weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of many kinds
        raise ModelFileError(f"{path}: not a torch state dict file ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: holds a {type(state).__name__}, expected a VGG16 state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    convs = vgg16_convs(stages)
    new: list[tuple[torch.Tensor, torch.Tensor]] = []
    for i, (conv, idx) in enumerate(zip(convs, TORCHVISION_CONV_INDEX)):
        wkey, bkey = f"features.{idx}.weight", f"features.{idx}.bias"
        if wkey not in state or bkey not in state:
            raise ModelFileError(f"{path}: no {wkey} / {bkey}; expected a torchvision VGG16 state dict")
        w, b = state[wkey], state[bkey]
        cin = 3 if i == 0 else conv.in_channels
        want = (conv.out_channels, cin, 3, 3)
        if tuple(w.shape) != want or tuple(b.shape) != (conv.out_channels,):
            raise ModelFileError(
                f"{path}: {wkey} has shape {tuple(w.shape)}, expected {want} (VGG16 weights need width=1)"
            )
        w = w.float()
        if i == 0 and average_rgb:
            first = torch.zeros_like(conv.weight)
            first[:, :1] = w.mean(dim=1, keepdim=True)
            w = first
        elif i == 0 and conv.in_channels != 3:
            raise ModelFileError(f"{path}: first conv takes {conv.in_channels} channels, VGG16 takes 3")
        new.append((w, b.float()))
    with torch.no_grad():
        for conv, (w, b) in zip(convs, new):
            conv.weight.copy_(w)
            conv.bias.copy_(b)


@register_model(
    "vgg16gan",
    summary="GAN generator: VGG16 conv stages (BN, LeakyReLU) + skip-linked decoder, ab regression",
    source="Li, Li & Wang, Automatic Image Colorization, DS1008 2018 (seed 001)",
    tiny={"width": 16},
    discriminator="vgg16d",
    default_loss="pix2pix",
)
class VGG16GAN(ColorNet):
    """VGG16 encoder + U-Net style decoder; ``vgg16_weights`` optionally initializes the encoder."""

    init_only_kwargs = ("vgg16_weights",)

    def __init__(self, width: int = 1, hints: bool = False, vgg16_weights: str | None = None):
        super().__init__()
        self.hints = hints
        self.encoder = vgg16_stages(self.in_channels(hints), width)
        enc = [max(c // width, 1) for c, _ in VGG16_STAGES]
        self.bottleneck = conv_bn_act(enc[4], enc[4], act="lrelu")
        dec = [max(c // width, 1) for c in (512, 256, 128, 64, 32)]
        cin = enc[4]
        self.decoder = nn.ModuleList()
        for cskip, cout in zip(reversed(enc), dec):
            self.decoder.append(UpBlock(cin, cskip, cout))
            cin = cout
        self.head = nn.Conv2d(cin, 2, 1)
        if vgg16_weights is not None:
            load_vgg16_weights(self.encoder, vgg16_weights, average_rgb=True)

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        self.check_global(l, global_hint)
        x = self.pack_input(l, ab_hint, mask)
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, skip in zip(self.decoder, reversed(skips)):
            x = up(x, skip)
        return {"ab": torch.tanh(self.head(x))}


@register_model(
    "vgg16d",
    role="discriminator",
    summary="VGG16 conv stages on (L, ab), then Linear-BN-LeakyReLU-Dropout units: one logit per image",
    source="Li, Li & Wang, Automatic Image Colorization, DS1008 2018 (seed 001)",
    tiny={"width": 16},
)
class VGG16D(Discriminator):
    """Image-level discriminator; ``vgg16_weights`` optionally initializes the conv stages."""

    init_only_kwargs = ("vgg16_weights",)

    def __init__(self, width: int = 1, fc: tuple[int, ...] = (1024, 256), dropout: float = 0.5,
                 vgg16_weights: str | None = None):
        super().__init__()
        self.features = vgg16_stages(3, width)
        cin = max(512 // width, 1) * 16
        units: list[nn.Module] = []
        for n in fc:
            n = max(n // width, 1)
            units += [nn.Linear(cin, n), nn.BatchNorm1d(n), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]
            cin = n
        units.append(nn.Linear(cin, 1))
        self.classifier = nn.Sequential(*units)
        if vgg16_weights is not None:
            load_vgg16_weights(self.features, vgg16_weights, average_rgb=False)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.features:
            x = F.max_pool2d(stage(x), 2, ceil_mode=True)
        x = F.max_pool2d(x, 2, ceil_mode=True)
        x = F.adaptive_avg_pool2d(x, 4)
        return self.classifier(x.flatten(1))
