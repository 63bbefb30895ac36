"""What every zoo network shares: the input contract, hint channels and output decoding.

A colorizer takes the normalized L channel ``l`` (N, 1, H, W) in [-1, 1] and, when built with
``hints=True``, the explicit hint tensors of Zhang et al. SIGGRAPH 2017:

- ``ab_hint`` (N, 2, H, W): normalized ab of the user's colors, 0 elsewhere;
- ``mask`` (N, 1, H, W): 1 where a hint is given;
- ``global_hint`` (N, 513): a 512-bin RGB histogram (palette / reference image) and a flag in
  the last slot, 1 when the histogram is given (only networks with ``global_hint_dim`` use it).

``forward`` returns a dict: ``"ab"`` (N, 2, h, w) normalized ab for regression networks and/or
``"logits"`` (N, Q, h, w) over the quantized ab bins for classification networks. ``decode``
turns that dict into normalized ab, the one thing the inference path needs.

Output kinds (``output_kind``): ``"ab"`` networks color the input's own lightness; ``"lab"``
networks (line art) predict the whole image, ``"lab"`` (N, 3, h, w) normalized L and ab, and
``decode_l`` gives their lightness (None for ``"ab"`` networks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinct import color
from tinct.errors import HintError

GLOBAL_HINT_DIM = 513  # 8x8x8 RGB histogram + 1 "given" flag


class ColorNet(nn.Module):
    """Base of the colorizers. Subclasses set ``self.hints`` and implement ``_forward``. The class
    attributes below are what a network can do; the pipeline, the trainer, the benchmarks and the
    server read them (and nothing else) to know."""

    hints: bool = False  # takes point hints (ab_hint, mask)
    global_hint_dim: int = 0  # takes a palette / reference histogram of this size (0: none)
    output_kind: str = "ab"  # "ab": color the input's L; "lab": predict L too (line art)
    has_distribution: bool = False  # predicts logits over the ab ``bins`` (confidence, suggestions, variants)
    fills_regions: bool = False  # a flat color per area the lines enclose, hints fill theirs (lineart.regions)
    trainable: bool = True  # has weights to learn (the trainer refuses the others)
    hint_weights: bool = False  # hint_parameters(): the weights only the hints feed can train alone (--hint-only)
    auto_hint: bool = False  # predicts its own histogram hint when none is given (use_auto switches it)
    render_size: int | None = None  # the working size it judges colors best at (None: the pipeline's)
    max_render_size: int = 2048  # the largest working size within the memory budget
    init_only_kwargs: tuple[str, ...] = ()  # constructor options not needed to rebuild from a file
    arch: str = ""
    kwargs: dict = {}

    def in_channels(self, hints: bool) -> int:
        return 4 if hints else 1

    def pack_input(self, l: torch.Tensor, ab_hint: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        """Concatenate L with the hint channels (zeros where no hint is given)."""
        if not self.hints:
            if ab_hint is not None or mask is not None:
                raise HintError(f"model {self.arch or type(self).__name__!r} was not trained with hints")
            return l
        n, _, h, w = l.shape
        if ab_hint is None:
            ab_hint = l.new_zeros(n, 2, h, w)
        if mask is None:
            mask = l.new_zeros(n, 1, h, w)
        if ab_hint.shape[-2:] != l.shape[-2:] or mask.shape[-2:] != l.shape[-2:]:
            raise HintError("hint tensors must have the spatial size of L")
        return torch.cat([l, ab_hint * mask, mask], dim=1)

    def check_global(self, l: torch.Tensor, global_hint: torch.Tensor | None) -> torch.Tensor | None:
        if global_hint is None:
            return l.new_zeros(l.shape[0], self.global_hint_dim) if self.global_hint_dim else None
        if not self.global_hint_dim:
            raise HintError(f"model {self.arch or type(self).__name__!r} takes no palette or reference hint")
        return global_hint

    def forward(self, l, ab_hint=None, mask=None, global_hint=None) -> dict[str, torch.Tensor]:
        return self._forward(l, ab_hint, mask, global_hint)

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None) -> torch.Tensor:
        """Normalized ab (N, 2, h, w) from the raw output. Classification heads use the annealed
        mean at ``temperature`` (the model's own default when None)."""
        if "logits" in out and (temperature is not None or "ab" not in out or self.prefer_bins):
            t = self.default_temperature if temperature is None else temperature
            return color.normalize_ab(color.annealed_mean(out["logits"], self.bins, t))
        return out["ab"]

    def decode_l(self, out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Normalized L (N, 1, h, w) of a ``"lab"`` network; None: keep the input's lightness."""
        return None

    prefer_bins: bool = False
    default_temperature: float = 0.38


class Discriminator(nn.Module):
    """Conditional discriminator: sees L (N, 1, H, W) and ab (N, 2, H, W), returns logits."""

    arch: str = ""
    kwargs: dict = {}
    init_only_kwargs: tuple[str, ...] = ()
    output_kind: str | None = None  # judges colors, makes none
    hints: bool = False

    def forward(self, l: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self._forward(torch.cat([l, ab], dim=1))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def pool_to(x: torch.Tensor, size) -> torch.Tensor:
    """Average-pool ``x`` to ``size``: a plain 2x2 pooling when that is exact (it exports to ONNX
    with any input size), else adaptive pooling."""
    if x.shape[-2] == 2 * size[0] and x.shape[-1] == 2 * size[1]:
        return F.avg_pool2d(x, 2)
    return F.adaptive_avg_pool2d(x, size)


def conv_bn_act(cin: int, cout: int, k: int = 3, stride: int = 1, act: str = "relu", bn: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True) if act == "lrelu" else nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UpBlock(nn.Module):
    """U-Net decoder stage: upsample to the skip's size, concatenate, two conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(conv_bn_act(cin + cskip, cout), conv_bn_act(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))
