"""``effunet``: a U-Net whose encoder is the ImageNet-trained EfficientNet-Lite0.

The gray input goes through the pretrained encoder as a gray sRGB image; a light decoder with
skip links predicts at 1/2 resolution a regression ab map and, at 1/4 resolution, logits over
Zhang et al.'s 313 ab bins (decoded by the annealed mean, vivid colors). With ``hints=True`` the
SIGGRAPH17 hint tensors (ab_hint, mask) enter at the stem and again at the last decoder stage,
and a global color histogram (palette / reference image) biases the bottleneck; all hint paths
start at zero, so an untrained hint path leaves the automatic colorizer unchanged. What the
network's colors then become where the user placed points is the hint stage's work
(:mod:`tinct.hints.fusion`, the model file's second component), composed in
:class:`tinct.pipeline.Colorizer`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tinct import color
from tinct.models.base import GLOBAL_HINT_DIM, ColorNet, UpBlock, conv_bn_act, pool_to
from tinct.models.efficientnet_lite import (
    FEATURE_CHANNELS,
    EfficientNetLite0,
    efficientnet_lite0,
)
from tinct.registry import register_model
from tinct.rendersize import MAX_RENDER_SIZE, STRIDE


GLOBAL_RATIO_LOG_CAP = math.log(4.0)  # a palette raises or lowers a color's odds at most 4x (before the exponent)


@register_model(
    "effunet",
    summary="U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder; ab regression + 313-bin heads",
    source="Tan & Le 2019 encoder; Ronneberger et al. 2015 U-Net; Zhang et al. 2016/2017 heads and hints",
    tiny={"pretrained": False, "width": 8, "hints": True},
    default_loss="l1+cls",
)
class EffUNet(ColorNet):
    init_only_kwargs = ("pretrained",)
    has_distribution = True
    hint_weights = True

    def __init__(self, width: int = 32, pretrained: bool = True, hints: bool = False, temperature: float = 0.4,
                 blend: float = 0.5, global_prior: float = 0.0, render_size: int | None = None):
        """Decoding: the annealed mean of the bin head at ``temperature``, with ``blend`` of the
        regression head mixed in (0 = bins only, vivid; 1 = the regression head only, muted).
        ``global_prior``: a palette or reference image also reweights the bin distribution by its
        colors over the colors the picture would have without it (their ratio per image, at most 4x
        either way), with this exponent (0 = off), and the regression head is then left out of the
        decoding. ``render_size``: the working size the pipeline uses when the user gives none (None:
        the pipeline's default; the network judges colors best near the scale it was trained at)."""
        super().__init__()
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {blend}")
        if render_size is not None and not STRIDE <= render_size <= MAX_RENDER_SIZE:
            raise ValueError(f"render_size must be in [{STRIDE}, {MAX_RENDER_SIZE}], got {render_size}")
        self.blend = blend
        self.render_size = render_size
        self.global_prior = global_prior
        self.hints = hints
        self.global_hint_dim = GLOBAL_HINT_DIM if hints else 0
        self.default_temperature = temperature
        self.encoder = efficientnet_lite0(pretrained=pretrained)
        # classifier head of the ImageNet net is not used
        del self.encoder._conv_head, self.encoder._bn1, self.encoder._fc
        c2, c4, c8, c16, c32 = FEATURE_CHANNELS
        w = width
        if hints:
            self.hint_stem = nn.Conv2d(3, 32, 3, 2, 1)
            self.global_fc = nn.Linear(GLOBAL_HINT_DIM, c32)
            for layer in (self.hint_stem, self.global_fc):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.up16 = UpBlock(c32, c16, 8 * w)
        self.up8 = UpBlock(8 * w, c8, 4 * w)
        self.up4 = UpBlock(4 * w, c4, 2 * w)
        self.up2 = UpBlock(2 * w, c2 + (3 if hints else 0), w)
        self.ab_head = nn.Conv2d(w, 2, 3, 1, 1)
        self.register_buffer("bins", color.ab_bins(), persistent=True)
        self.logit_head = nn.Sequential(conv_bn_act(2 * w, 2 * w), nn.Conv2d(2 * w, self.bins.shape[0], 1))

    def _forward(self, l, ab_hint, mask, global_hint) -> dict[str, torch.Tensor]:
        """``ab`` (1/2 resolution), ``logits`` (1/4), the decoder ``features`` at 1/4 (what a hint
        stage matches points by) and, with a palette or reference, the ``log_prior`` it adds."""
        hint = self.pack_input(l, ab_hint, mask)[:, 1:]  # (ab_hint * mask, mask); empty without hints
        g = self.check_global(l, global_hint)
        rgb = color.lab_to_rgb(torch.cat([color.denormalize_l(l), l.new_zeros(l.shape[0], 2, *l.shape[2:])], 1))
        x = EfficientNetLite0.normalize(rgb)
        f2, f4, f8, f16, f32 = self.encoder.features(x, self.hint_stem(hint) if self.hints else None)
        if self.hints:
            f32 = f32 + self.global_fc(g)[:, :, None, None]
        x = self.up16(f32, f16)
        x = self.up8(x, f8)
        x4 = self.up4(x, f4)
        skip2 = f2
        if self.hints:
            skip2 = torch.cat([f2, pool_to(hint, f2.shape[-2:])], dim=1)
        x2 = self.up2(x4, skip2)
        out = {"ab": self.ab_head(x2), "logits": self.logit_head(x4), "features": x4}
        if global_hint is not None and self.global_prior > 0:
            given = global_hint[:, -1:]  # rows without a histogram get a flat prior
            prior = color.histogram_ab_prior(global_hint[:, :-1], self.bins)
            # the wanted colors over the ones the picture would have: the picture's histogram
            # moves toward the palette's, rather than toward its most common (grayish) colors
            # (capped: a color the picture has no place for stays out of it)
            seen = torch.softmax(out["logits"].float(), dim=1).mean(dim=(2, 3)).clamp(min=1e-6)
            ratio = (prior.log() - seen.log()).clamp(-GLOBAL_RATIO_LOG_CAP, GLOBAL_RATIO_LOG_CAP)
            out["log_prior"] = self.global_prior * given * ratio.to(out["logits"].dtype)
        return out

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None) -> torch.Tensor:
        """The network's colors (normalized ab, 1/2 resolution): the annealed mean at
        ``temperature`` (the model's own when None) blended with the regression head."""
        if self.blend >= 1.0 and "log_prior" not in out:
            return out["ab"]
        t = self.default_temperature if temperature is None else temperature
        ab = color.normalize_ab(color.annealed_mean(out["logits"], self.bins, t, out.get("log_prior")))
        if self.blend > 0 and "log_prior" not in out:
            ab = self.blend * out["ab"] + (1 - self.blend) * color.resize_ab(ab, out["ab"].shape[-2:])
        return ab

    def hint_parameters(self) -> list[nn.Parameter]:
        """Freeze the network but for the weights only the hints feed, and return those: the hint
        stem's and the global-hint layer's weights (not their biases: without hints their input is
        zero and the bias is all they give) and the last decoder stage's first convolution's
        weights on the pooled-hint channels (the gradient of its other weights is masked to 0).
        Trained alone, in eval mode (batch norms frozen), they change what hints do and leave the
        output without hints bit for bit as it was."""
        if not self.hints:
            raise ValueError("hint_parameters needs a hint model (hints=True)")
        for p in self.parameters():
            p.requires_grad_(False)
        conv = self.up2.conv[0][0]
        keep = torch.zeros_like(conv.weight)
        keep[:, conv.in_channels - 3 :] = 1  # the skip's last 3 channels: ab_hint * mask, mask
        params = [self.hint_stem.weight, self.global_fc.weight, conv.weight]
        for p in params:
            p.requires_grad_(True)
        conv.weight.register_hook(lambda g: g * keep)
        return params
