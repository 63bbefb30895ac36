"""``effunet``: a U-Net whose encoder is the ImageNet-trained EfficientNet-Lite0.

The gray input goes through the pretrained encoder as a gray sRGB image; a light decoder with
skip links predicts at 1/2 resolution a regression ab map and, at 1/4 resolution, logits over
Zhang et al.'s 313 ab bins (decoded by the annealed mean, vivid colors). With ``hints=True`` the
SIGGRAPH17 hint tensors (ab_hint, mask) enter at the stem and again at the last decoder stage,
and a global color histogram (palette / reference image) biases the bottleneck; all hint paths
start at zero, so an untrained hint path leaves the automatic colorizer unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tinct import color
from tinct.models.base import GLOBAL_HINT_DIM, ColorNet, UpBlock, conv_bn_act, pool_to
from tinct.hints.fusion import HintFusion
from tinct.models.efficientnet_lite import (
    FEATURE_CHANNELS,
    EfficientNetLite0,
    efficientnet_lite0,
)
from tinct.registry import register_model


GLOBAL_RATIO_LOG_CAP = math.log(4.0)  # a palette raises or lowers a color's odds at most 4x (before the exponent)


@register_model(
    "effunet",
    summary="U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder; ab regression + 313-bin heads",
    source="Tan & Le 2019 encoder; Ronneberger et al. 2015 U-Net; Zhang et al. 2016/2017 heads and hints",
    tiny={"pretrained": False, "width": 8, "hints": True},
    default_loss="l1+cls",
    legacy_defaults={"temperature": 0.38, "blend": 0.0},
)
class EffUNet(ColorNet):
    init_only_kwargs = ("pretrained",)
    # switches of the fusion stage that are now its behaviour (or were removed: fusion_stats), and
    # the value a file must record for them; files without a fusion stage may record anything
    retired_kwargs = {"fusion_stats": False, "fusion_global": True, "fusion_match": True, "fusion_obey": True,
                      "fusion_obey_fade": True, "fusion_fit_gate": True}

    @classmethod
    def retired_applies(cls, name: str, kwargs: dict) -> bool:
        """Whether a retired switch's recorded value matters for this file."""
        if not kwargs.get("fusion"):
            return False
        return name != "fusion_fit_gate" or bool(kwargs.get("fusion_fit"))

    def __init__(self, width: int = 32, pretrained: bool = True, hints: bool = False, bins_head: bool = True,
                 prefer_bins: bool = True, temperature: float = 0.4, blend: float = 0.5, fusion: bool = False,
                 global_prior: float = 0.0, fusion_prior: float = 1e-4, fusion_guide=None, fusion_fit=None,
                 fusion_confine=None, fusion_width: int = 32, render_size: int | None = None):
        """``prefer_bins``: decode with the annealed mean of the bin head at ``temperature`` (vivid)
        rather than the regression head (muted); ``blend`` mixes that much of the regression head
        into the annealed mean (0 = bins only). ``fusion``: point hints also go through an edge-aware
        propagation with the network's colors as prior (weight ``fusion_prior``) and a learned
        per-pixel fusion (:mod:`tinct.hints.fusion`); ``fusion_guide`` =
        (ab weight, feature weight) makes the propagations also stop at edges of the network's
        colors and features, as it sees them without the points (a second, hint-free pass);
        ``fusion_fit`` = (gain, offset[, lightness]) strengths first maps the network's colors by a global
        color transform fitted to the points (:mod:`tinct.hints.fit`); ``fusion_confine`` =
        (falloff, agreement): a lone point's change fades with the distance from it over that share
        of the shorter side, unless its color lies within about ``agreement`` ab units of the
        network's (:func:`tinct.hints.fusion.confined`; None = as fused); ``fusion_width``: the
        fusion stage's channels. ``render_size``: the working size the pipeline uses when the user
        gives none (None: the pipeline's default; the network judges colors best near the scale it
        was trained at).
        ``global_prior``:
        a palette or reference image also reweights the bin distribution by its colors over the
        colors the picture would have without it (their ratio per image, at most 4x either way), with
        this exponent (0 = off), and the regression head is then left out of the decoding."""
        super().__init__()
        if fusion and not hints:
            raise ValueError("fusion needs hints=True")
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {blend}")
        if render_size is not None and not 32 <= render_size <= 2048:
            raise ValueError(f"render_size must be in [32, 2048], got {render_size}")
        self.blend = blend
        self.render_size = render_size
        self.global_prior = global_prior
        self.hints = hints
        self.global_hint_dim = GLOBAL_HINT_DIM if hints else 0
        self.prefer_bins = prefer_bins and bins_head
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
        self.bins_head = bins_head
        if bins_head:
            self.register_buffer("bins", color.ab_bins(), persistent=True)
            self.logit_head = nn.Sequential(conv_bn_act(2 * w, 2 * w), nn.Conv2d(2 * w, self.bins.shape[0], 1))
        self.expose_features = False  # set to get the decoder features with hints (fusion training)
        self.fusion = (HintFusion(width=fusion_width, prior_weight=fusion_prior, guide=fusion_guide,
                                  fit=fusion_fit, confine=fusion_confine) if fusion else None)

    def _forward(self, l, ab_hint, mask, global_hint):
        out, x4 = self._net(l, ab_hint, mask, global_hint)
        if mask is not None and (self.expose_features or getattr(self.fusion, "needs_features", False)):
            out["features"] = x4  # what the fusion stage matches hints by
        if self.fusion is not None and mask is not None:
            out.update(l=l, ab_hint=ab_hint, mask=mask)
            if self.fusion.guided:  # edges of the scene as the network sees it without the points
                out["guide_ab"], out["guide_features"] = self.hint_free(l)
        return out

    def hint_free(self, l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's own colors (normalized ab) and decoder features for ``l`` without any
        hint: what the fusion stage's guide is made of."""
        free, x4 = self._net(l, None, None, None)
        return self._decode_net(free), x4

    def _net(self, l, ab_hint, mask, global_hint) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The network's heads and its decoder features at 1/4 resolution."""
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
        out = {"ab": self.ab_head(x2)}
        if self.bins_head:
            out["logits"] = self.logit_head(x4)
            if global_hint is not None and self.global_prior > 0:
                given = global_hint[:, -1:]  # rows without a histogram get a flat prior
                prior = color.histogram_ab_prior(global_hint[:, :-1], self.bins)
                # the wanted colors over the ones the picture would have: the picture's histogram
                # moves toward the palette's, rather than toward its most common (grayish) colors
                # (capped: a color the picture has no place for stays out of it)
                seen = torch.softmax(out["logits"].float(), dim=1).mean(dim=(2, 3)).clamp(min=1e-6)
                ratio = (prior.log() - seen.log()).clamp(-GLOBAL_RATIO_LOG_CAP, GLOBAL_RATIO_LOG_CAP)
                out["log_prior"] = self.global_prior * given * ratio.to(out["logits"].dtype)
        return out, x4

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None) -> torch.Tensor:
        ab = self._decode_net(out, temperature)
        if "mask" in out:
            ab = self.fusion(out["l"], ab, out["ab_hint"], out["mask"], out.get("features"),
                             out.get("guide_ab"), out.get("guide_features"))
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

    def _decode_net(self, out: dict[str, torch.Tensor], temperature: float | None = None) -> torch.Tensor:
        """The network's own colors (normalized ab), before any fusion with point hints."""
        ab = out["ab"]
        if "logits" in out and (self.prefer_bins or temperature is not None or "log_prior" in out):
            t = self.default_temperature if temperature is None else temperature
            ab = color.normalize_ab(color.annealed_mean(out["logits"], self.bins, t, out.get("log_prior")))
            if self.blend > 0 and "log_prior" not in out:
                ab = self.blend * out["ab"] + (1 - self.blend) * color.resize_ab(ab, out["ab"].shape[-2:])
        return ab
