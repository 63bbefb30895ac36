"""Learned fusion of a network's colors with an edge-aware propagation of the user's points.

A hint network alone spreads a point only as far as it has learned to; Levin et al.'s
optimization (:mod:`tinct.hints.levin`) spreads it exactly along lightness edges but knows nothing of
the scene, and a lone hint paints the whole image. Here the propagation keeps the network's
colors as a prior (:func:`tinct.hints.levin.propagate_with_prior`, weight ``prior_weight``, lowered as
hints get denser), so a lone hint recolors its own region and fades beyond it.
:class:`HintFusion` sees the network's colors and that propagation (plus L, the hints and how
dense they are nearby and overall) and predicts, per pixel, how much to trust each, and a small
correction:

    ab = a * propagated + (1 - a) * net + 0.1 * c,    with hint pixels set to the hint exactly.

With ``global_source`` it also gets plain Levin (no prior: the hints' colors reach everywhere,
which carries the image's overall color cast that even one true-colored hint reveals) and mixes
the three sources with per-pixel softmax weights:

    ab = w_net * net + w_local * propagated + w_global * plain + 0.1 * c.

With ``match_source`` it also gets each pixel's hint colors matched by the network's own decoder
features (:func:`match_hints`: cosine similarity to the hinted cells, a soft nearest hint), which
reaches the same kind of surface elsewhere in the image, across edges the propagation stops at,
with the best similarity as its confidence; it is a fourth source in the same softmax.

Trained on true-colored hints, the mix learns to hedge: a lone hint is worth little against the
network's colors, so a click would barely change its region. With ``obey`` a user's point is a
command where it reaches: the output there is the local propagation, weighted by the hints'
reach (1 at a hint, fading to 0 where the propagation's prior takes over), and the learned mix
elsewhere: ``ab = reach * propagated + (1 - reach) * fused``. With ``obey_fade`` the weight is
``reach ** n`` for ``n`` points: a lone click is obeyed over its whole region, and as the points
get denser the obeyed zone shrinks to their surroundings and the learned mix decides the rest
(with many points their reach covers the picture, and obeying it all would leave the mix no say).

With ``fit`` = (gain, offset[, lightness]) strengths the network's colors are first mapped by a
global color transform fitted to the points (:mod:`tinct.hints.fit`; from the second point
on), before they go into the propagation as its prior and into the mix as a source: a few true
colors correct a cast, muted colors or a turned hue over the whole picture.

With ``guide`` = (ab weight, feature weight) both propagations also stop at edges of the
network's own colors and decoder features (:func:`guide_for`; the ``guide`` of
:func:`tinct.hints.levin.affinity_weights`), not only at lightness edges: two surfaces of one lightness
but of different colors or kinds no longer bleed into each other.

It is a small dilated CNN (about 50k weights, run at half resolution), trained with the base
network frozen (:mod:`tinct.train.fusion`). With no point hints it is not run at all, so the automatic output
is the base network's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tinct import color
from tinct.hints.levin import affinity_weights, propagate_with_prior
from tinct.hints.fit import count_points, fit_color_transform

IN_CHANNELS = 1 + 2 + 2 + 2 + 1 + 3  # L, net ab, propagated ab, hint ab, mask, 3 hint densities
GLOBAL_CHANNELS = 2  # plain Levin ab, with global_source
MATCH_CHANNELS = 3  # feature-matched hint ab and its confidence, with match_source
MATCH_TEMPERATURE = 0.15  # softmax temperature over cosine similarities to the hinted cells
PRIOR_WEIGHT = 1e-4  # one hint's influence fades over about 100 px of flat area at the working size
ONE_HINT_DENSITY = 36 / 256**2  # a 6x6 hint on a 256x256 image
MAX_PIXELS = 512 * 512  # larger working sizes are fused at this many pixels (the sparse solve grows fast)
CORRECTION_SCALE = 0.1
MATCH_BLOCK = 1 << 22  # similarities held at once by match_hints (16 MB of float32)


def hint_density(mask: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) log-scaled hint density around each pixel (9 px, 1/16 of the side) and overall."""
    n, _, h, w = mask.shape
    local = F.avg_pool2d(mask, 9, stride=1, padding=4, count_include_pad=False)
    k = max(1, min(h, w) // 16)
    mid = F.interpolate(F.avg_pool2d(mask, k, ceil_mode=True), size=(h, w), mode="bilinear", align_corners=False)
    overall = mask.mean(dim=(2, 3), keepdim=True).expand(n, 1, h, w)
    d = torch.cat([local, mid, overall], dim=1)
    return torch.log1p(1000 * d) / np.log(1001.0)


def effective_prior_weight(mask: np.ndarray, prior_weight: float) -> float:
    """The prior weight for one image's hint mask: ``prior_weight`` for up to about one hint's worth
    of hinted pixels, falling as 1/density beyond, so that with many hints they reach further
    (they cover the image anyway) while a lone click stays in its region."""
    density = float((mask > 0.5).mean())
    return prior_weight * min(1.0, ONE_HINT_DENSITY / max(density, 1e-12))


def guide_for(net_ab: torch.Tensor, features: torch.Tensor | None, weights) -> torch.Tensor | None:
    """The propagation guide (N, C, H, W) at ``net_ab``'s size: the network's normalized ab times
    sqrt(ab weight) and its unit-length decoder features (upsampled) times sqrt(feature weight),
    so a neighbor's weight falls by ``exp(-w_ab |d ab|^2 - w_feat |d f|^2)`` beyond the lightness
    term. None without weights."""
    w_ab, w_feat = (float(v) for v in (weights or (0.0, 0.0)))
    parts = []
    if w_ab > 0:
        parts.append(net_ab.float() * w_ab**0.5)
    if w_feat > 0:
        if features is None:
            raise ValueError("a feature guide needs the network's features")
        f = F.interpolate(F.normalize(features.float(), dim=1), size=net_ab.shape[-2:], mode="bilinear",
                          align_corners=False)
        parts.append(f * w_feat**0.5)
    return torch.cat(parts, dim=1) if parts else None


def affinities(l: torch.Tensor, guide: torch.Tensor | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Levin's neighbor weights (:func:`tinct.hints.levin.affinity_weights`) of every image of normalized
    L (N, 1, H, W) with ``guide`` (N, C, H, W or None): build them once for several solves."""
    l_raw = color.denormalize_l(l.detach().double().cpu()).numpy()
    g = None if guide is None else guide.detach().double().cpu().numpy()
    return [affinity_weights(l_raw[i, 0] / 100.0, None if g is None else g[i]) for i in range(l.shape[0])]


def propagate(l: torch.Tensor, prior_ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor,
              prior_weight: float = PRIOR_WEIGHT, return_reach: bool = False, guide: torch.Tensor | None = None,
              weights: list | None = None):
    """Propagate normalized hints over normalized L (N, 1, H, W) with ``prior_ab`` (normalized,
    same size) as the prior, weight :func:`effective_prior_weight`; ``prior_weight`` 0 is plain
    Levin. ``guide`` (N, C, H, W): extra edges (:func:`guide_for`); ``weights``: :func:`affinities`
    of ``l`` and ``guide``, built beforehand (``guide`` is then not read). Returns normalized ab
    and, with ``return_reach``, the hints' reach (N, 1, H, W)."""
    l_raw = color.denormalize_l(l.detach().double().cpu()).numpy()
    hints, masks = ab_hint.detach().double().cpu().numpy(), mask.detach().double().cpu().numpy()
    prior = prior_ab.detach().double().cpu().numpy()
    if weights is None:
        weights = affinities(l, guide)
    res = [propagate_with_prior(l_raw[i, 0], prior[i], hints[i], masks[i, 0],
                                effective_prior_weight(masks[i, 0], prior_weight), return_reach=return_reach,
                                weights=weights[i])
           for i in range(l.shape[0])]
    if not return_reach:
        return torch.stack([torch.from_numpy(a) for a in res]).to(device=l.device, dtype=l.dtype)
    ab = torch.stack([torch.from_numpy(a) for a, _ in res]).to(device=l.device, dtype=l.dtype)
    reach = torch.stack([torch.from_numpy(r)[None] for _, r in res]).to(device=l.device, dtype=l.dtype)
    return ab, reach


def propagations(l, net_ab, ab_hint, mask, prior_weight: float = PRIOR_WEIGHT, obey: bool = False,
                 global_source: bool = False, guide_weights=None, features=None, guide_ab=None, guide_features=None):
    """The local propagation (network colors as prior, ``prior_weight``), the hints' reach in it
    (with ``obey``, else None) and plain Levin (with ``global_source``, else None), both guided
    where ``guide_weights`` (:func:`guide_for`) say so by ``guide_ab`` and ``guide_features`` (the
    network's colors and features without the points; default ``net_ab`` and ``features``). One
    affinity build per image serves both solves."""
    guide = guide_for(net_ab if guide_ab is None else guide_ab,
                      features if guide_features is None else guide_features, guide_weights)
    weights = affinities(l, guide)
    if obey:
        prop, reach = propagate(l, net_ab, ab_hint, mask, prior_weight, return_reach=True, weights=weights)
    else:
        prop, reach = propagate(l, net_ab, ab_hint, mask, prior_weight, weights=weights), None
    plain = propagate(l, net_ab, ab_hint, mask, 0.0, weights=weights) if global_source else None
    return prop, reach, plain


def match_hints(features: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, size: tuple[int, int],
                temperature: float = MATCH_TEMPERATURE) -> torch.Tensor:
    """(N, 3, *size): for every pixel, the hint colors weighted by how alike the network's
    ``features`` (N, C, h, w) are there and at the hinted cells (softmax of cosine similarity /
    ``temperature``), and the best similarity (0 to 1; 0 without hints). ``ab_hint``/``mask`` are at
    any size; they are pooled to the feature grid (a cell is hinted where any hint pixel lies)."""
    n, c, h, w = features.shape
    f = F.normalize(features.float(), dim=1).flatten(2)  # (N, C, hw)
    cover = F.adaptive_avg_pool2d(mask, (h, w))
    cell_ab = (F.adaptive_avg_pool2d(ab_hint * mask, (h, w)) / cover.clamp(min=1e-6)).flatten(2)
    out = features.new_zeros(n, 3, h * w, dtype=torch.float32)
    for i in range(n):
        hinted = (cover[i, 0].flatten() > 0).nonzero().flatten()
        if len(hinted) == 0:
            continue
        # rows in blocks of at most MATCH_BLOCK similarities: memory stays bounded whatever the
        # number of hinted cells (softmax is per row, so the blocks give the same numbers)
        rows = max(1, MATCH_BLOCK // len(hinted))
        fk, ab_k = f[i][:, hinted], cell_ab[i][:, hinted].T
        for r0 in range(0, h * w, rows):
            sim = f[i][:, r0:r0 + rows].T @ fk  # (rows, k)
            out[i, 2, r0:r0 + rows] = sim.max(dim=1).values.clamp(min=0)
            out[i, :2, r0:r0 + rows] = (torch.softmax(sim.div_(temperature), dim=1) @ ab_k).T
    out = out.view(n, 3, h, w)
    return F.interpolate(out, size=size, mode="bilinear", align_corners=False).to(ab_hint.dtype)


class HintFusion(nn.Module):
    def __init__(self, width: int = 32, prior_weight: float = PRIOR_WEIGHT, global_source: bool = False,
                 match_source: bool = False, obey: bool = False, guide=None, fit=None, obey_fade: bool = False,
                 fit_gate: bool = False):
        super().__init__()
        self.obey_fade = obey_fade
        self.fit_gate = fit_gate
        self.fit = tuple(float(v) for v in fit) if fit else None
        if self.fit is not None and (len(self.fit) not in (2, 3) or min(self.fit) <= 0):
            raise ValueError(f"fit must be (gain, offset[, lightness]) strengths, all above 0, got {fit}")
        self.prior_weight = prior_weight
        self.guide = tuple(float(v) for v in guide) if guide else (0.0, 0.0)
        if len(self.guide) != 2 or min(self.guide) < 0:
            raise ValueError(f"guide must be (ab weight, feature weight), both 0 or more, got {guide}")
        self.obey = obey
        self.global_source = global_source
        self.match_source = match_source
        self.sources = 2 + int(global_source) + int(match_source)
        in_ch = IN_CHANNELS + (GLOBAL_CHANNELS if global_source else 0) + (MATCH_CHANNELS if match_source else 0)
        layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, 1, 1), nn.ReLU(inplace=True)]
        for d in (2, 4, 8, 16, 1):
            layers += [nn.Conv2d(width, width, 3, 1, d, dilation=d), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, 3 if self.sources == 2 else self.sources + 2, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        if self.sources > 2:  # start as the two-source fusion: even net/local, the others off
            with torch.no_grad():
                self.out.bias[2 : self.sources] = -6.0

    def fuse(self, l, net_ab, prop, ab_hint, mask, plain=None, matched=None) -> torch.Tensor:
        """All normalized, (N, C, H, W) at one size: the fused normalized ab. ``plain`` (plain
        Levin) is required with ``global_source``, ``matched`` (:func:`match_hints`) with
        ``match_source``; each is ignored without."""
        parts = [l, net_ab, prop, ab_hint * mask, mask, hint_density(mask)]
        sources = [net_ab, prop]
        for on, extra, name in ((self.global_source, plain, "plain propagation"),
                                (self.match_source, matched, "feature-matched hints")):
            if on:
                if extra is None:
                    raise ValueError(f"this fusion stage needs the {name} too")
                parts.append(extra)
                sources.append(extra[:, :2])
        x = torch.cat(parts, dim=1)
        # the weights are smooth: predict them at half resolution, apply them at full
        o = self.out(self.body(F.avg_pool2d(x, 2, ceil_mode=True)))
        o = F.interpolate(o, size=x.shape[-2:], mode="bilinear", align_corners=False)
        k = self.sources
        if k > 2:
            w = torch.softmax(o[:, :k], dim=1)
            ab = sum(w[:, j : j + 1] * src for j, src in enumerate(sources)) + CORRECTION_SCALE * o[:, k:]
        else:
            a = torch.sigmoid(o[:, :1])
            ab = a * prop + (1 - a) * net_ab + CORRECTION_SCALE * o[:, 1:]
        return torch.where(mask > 0.5, ab_hint, ab)

    @property
    def needs_features(self) -> bool:
        """Whether it needs the network's decoder features (to match hints or to guide)."""
        return self.match_source or self.guide[1] > 0

    @property
    def guided(self) -> bool:
        return any(w > 0 for w in self.guide)

    def propagations(self, l, net_ab, ab_hint, mask, features=None, guide_ab=None, guide_features=None):
        """:func:`propagations` with this stage's settings."""
        return propagations(l, net_ab, ab_hint, mask, self.prior_weight, self.obey, self.global_source, self.guide,
                            features, guide_ab, guide_features)

    def forward(self, l, net_ab, ab_hint, mask, features=None, guide_ab=None, guide_features=None) -> torch.Tensor:
        """Fuse at the hints' size; images without a hint pixel keep ``net_ab`` (resized). Above
        :data:`MAX_PIXELS` the fusion runs at a reduced size (hint patches kept, by max-pooling the
        mask) and is upsampled; the hint pixels are then set exactly again. ``features``: the
        network's decoder features, required with ``match_source``; ``guide_ab`` and
        ``guide_features``: what the guide is made of (:meth:`propagations`)."""
        if self.needs_features and features is None:
            raise ValueError("this fusion stage needs the network's features")
        size = mask.shape[-2:]
        net_ab = color.resize_ab(net_ab, size)
        if guide_ab is not None:
            guide_ab = color.resize_ab(guide_ab, size)
        if l.shape[-2:] != size:
            l = F.interpolate(l, size=size, mode="bilinear", align_corners=False)
        h, w = size
        if h * w > MAX_PIXELS:
            s = (MAX_PIXELS / (h * w)) ** 0.5
            small = (max(8, int(h * s)), max(8, int(w * s)))
            weight = F.adaptive_avg_pool2d(mask, small)
            hint_small = F.adaptive_avg_pool2d(ab_hint * mask, small) / weight.clamp(min=1e-6)
            fused = self._fuse_hinted(F.adaptive_avg_pool2d(l, small), F.adaptive_avg_pool2d(net_ab, small),
                                      hint_small, F.adaptive_max_pool2d(mask, small), features,
                                      None if guide_ab is None else F.adaptive_avg_pool2d(guide_ab, small), guide_features)
            has = (mask > 0.5).flatten(1).any(dim=1)[:, None, None, None]
            fused = torch.where(has, color.resize_ab(fused, size), net_ab)
            return torch.where(mask > 0.5, ab_hint, fused)
        return self._fuse_hinted(l, net_ab, ab_hint, mask, features, guide_ab, guide_features)

    def _fuse_hinted(self, l, net_ab, ab_hint, mask, features=None, guide_ab=None, guide_features=None) -> torch.Tensor:
        has = (mask > 0.5).flatten(1).any(dim=1)
        if not bool(has.any()):
            return net_ab
        out = net_ab.clone()
        idx = has.nonzero().flatten()
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        if self.fit is not None:  # what the points say about the whole picture (tinct.hints.fit)
            net_ab = net_ab.clone()
            net_ab[idx] = fit_color_transform(net_ab[idx], ab_hint[idx], mask[idx], self.fit, l=l[idx],
                                              gate=self.fit_gate)
        prop, reach, plain = self.propagations(l[idx], net_ab[idx], ab_hint[idx], mask[idx], pick(features),
                                               pick(guide_ab), pick(guide_features))
        matched = match_hints(features[idx], ab_hint[idx], mask[idx], mask.shape[-2:]) if self.match_source else None
        fused = self.fuse(l[idx], net_ab[idx], prop, ab_hint[idx], mask[idx], plain, matched)
        if self.obey:  # where the user's points reach, their propagation wins over the learned mix
            if self.obey_fade:  # n points: reach ** n, the obeyed zone shrinks as the points get denser
                reach = reach ** count_points(mask[idx]).to(reach)
            fused = reach * prop + (1 - reach) * fused
        out[idx] = fused
        return out
