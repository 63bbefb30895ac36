"""The fusion stage of a hint network: point hints combined with the network's colors.

Inputs (all normalized, at the hints' working size): L, the network's colors ``net``, the hint
colors and mask, and the network's decoder features. With no hint pixel the stage returns
``net`` unchanged (the automatic output is the network's). Otherwise, per image:

1. ``net`` is mapped by the points' global color transform (:mod:`tinct.hints.fit`; from the
   second point on, gated by how much it explains out of sample);
2. two sparse solves over one set of Levin affinities (lightness edges, and edges of the
   network's hint-free colors and features, weights ``guide``): ``prop``, the points propagated
   with ``net`` as prior (weight ``prior_weight``, falling as 1/density beyond one hint's worth),
   with ``reach`` (1 at a hint, 0 where the prior has taken over); and ``plain``, plain Levin;
3. ``matched``: each pixel's hint colors weighted by the cosine similarity of its features to the
   hinted cells' (softmax, temperature 0.15), and the best similarity as a confidence;
4. a small dilated CNN (about 50k weights, at half resolution) gives per-pixel softmax weights
   ``w`` over the four sources and a correction ``c``:
   ``fused = w_net net + w_prop prop + w_plain plain + w_match matched + 0.1 c``;
5. the points win where they reach: ``out = r prop + (1 - r) fused`` with ``r = reach ** n`` for
   ``n`` points; hint pixels keep their color exactly;
6. with ``confine`` = (falloff, agreement), one to three points are local edits (:func:`confined`):
   each point's change is kept to its reach and fades with the distance from it, unless its color
   is close to what the network saw there (then it may correct the whole picture).

Working sizes above :data:`MAX_PIXELS` are fused at a reduced size and upsampled. The stage is
trained with the network frozen (:mod:`tinct.train.fusion`). What was tried on the way and
measured: ``docs/hints_history.md``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tinct import cancel, color
from tinct.hints.levin import affinity_weights, propagate_with_prior
from tinct.hints.fit import count_points, fit_color_transform, hint_patches

IN_CHANNELS = 1 + 2 + 2 + 2 + 1 + 3  # L, net ab, propagated ab, hint ab, mask, 3 hint densities
GLOBAL_CHANNELS = 2  # plain Levin ab
MATCH_CHANNELS = 3  # feature-matched hint ab and its confidence
SOURCES = 4  # network, local propagation, plain Levin, matched hints
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
        cancel.check()
        f = F.interpolate(F.normalize(features.float(), dim=1), size=net_ab.shape[-2:], mode="bilinear",
                          align_corners=False)
        cancel.check()
        parts.append(f * w_feat**0.5)
    return torch.cat(parts, dim=1) if parts else None


def affinities(l: torch.Tensor, guide: torch.Tensor | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Levin's neighbor weights (:func:`tinct.hints.levin.affinity_weights`) of every image of normalized
    L (N, 1, H, W) with ``guide`` (N, C, H, W or None): build them once for several solves."""
    l_raw = color.denormalize_l(l.detach().double().cpu()).numpy()
    g = None if guide is None else guide.detach().double().cpu().numpy()
    cancel.check()
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


def propagations(l, net_ab, ab_hint, mask, prior_weight: float = PRIOR_WEIGHT, guide_weights=None, features=None,
                 guide_ab=None, guide_features=None):
    """(local propagation with the network's colors as prior (``prior_weight``), the hints' reach
    in it, plain Levin), both guided where ``guide_weights`` (:func:`guide_for`) say so by
    ``guide_ab`` and ``guide_features`` (the network's colors and features without the points;
    default ``net_ab`` and ``features``). One affinity build per image serves both solves."""
    guide = guide_for(net_ab if guide_ab is None else guide_ab,
                      features if guide_features is None else guide_features, guide_weights)
    cancel.check()
    weights = affinities(l, guide)
    cancel.check()
    prop, reach = propagate(l, net_ab, ab_hint, mask, prior_weight, return_reach=True, weights=weights)
    cancel.check()
    plain = propagate(l, net_ab, ab_hint, mask, 0.0, weights=weights)
    cancel.check()
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
            cancel.check()
            sim = f[i][:, r0:r0 + rows].T @ fk  # (rows, k)
            out[i, 2, r0:r0 + rows] = sim.max(dim=1).values.clamp(min=0)
            out[i, :2, r0:r0 + rows] = (torch.softmax(sim.div_(temperature), dim=1) @ ab_k).T
    out = out.view(n, 3, h, w)
    return F.interpolate(out, size=size, mode="bilinear", align_corners=False).to(ab_hint.dtype)


CONFINE_MAX_POINTS = 3  # up to this many points are each a local edit (more say something about the picture)


def confined(net_ab: torch.Tensor, fused: torch.Tensor, reach: torch.Tensor, mask: torch.Tensor, ab_hint: torch.Tensor,
             falloff: float, agree: float = 0.0, seen_ab: torch.Tensor | None = None) -> torch.Tensor:
    """A few points are local edits: for images with 1 to :data:`CONFINE_MAX_POINTS` hint patches,
    ``seen + E (fused - seen)`` with the envelope ``E = max over the points of s + (1 - s) reach
    exp(-(r / (falloff * shorter side))^2)`` around ``seen``, the network's colors without the points
    (``seen_ab``; default ``net_ab``: a network that reads the points may answer one of them all over
    the picture, so the base is its hint-free pass), ``r`` the distance to that patch's center and
    ``reach`` the points' edge-aware reach. ``s`` is how far a point may speak for the whole
    picture: ``exp(-(d / agree)^2)``, ``d`` the distance (CIE ab units) between the point's color and
    the network's own color there (``seen_ab``: without the points; default ``net_ab``), 0 when
    ``agree`` is 0. A point close to what the network saw (a truer shade of it) may correct the
    whole picture's cast; one that contradicts it (a red coat where the network saw gray) stays in
    its region and neighborhood, and two or three unrelated corrections stay two or three local
    edits. More points are left as fused (what they say about the picture is
    :mod:`tinct.hints.fit`'s to judge). Hint pixels keep their color."""

    n = count_points(mask).flatten()
    out = fused.clone()
    h, w = mask.shape[-2:]
    yy = torch.arange(h, dtype=fused.dtype).view(h, 1)
    xx = torch.arange(w, dtype=fused.dtype).view(1, w)
    seen = net_ab if seen_ab is None else seen_ab
    for i in ((n >= 1) & (n <= CONFINE_MAX_POINTS)).nonzero().flatten().tolist():
        m = (mask[i, 0] > 0.5).to(fused.dtype)
        labels, count = hint_patches(m.cpu().numpy() > 0.5)
        labels = torch.from_numpy(labels)
        env = torch.zeros(h, w, dtype=fused.dtype)
        for k in range(1, max(count, 1) + 1):
            mk = (labels == k).to(fused.dtype) if count else m
            total = mk.sum()
            if total <= 0:
                continue
            cy, cx = (mk * yy).sum() / total, (mk * xx).sum() / total
            env_k = reach[i, 0] * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (falloff * min(h, w)) ** 2)
            if agree > 0:
                d = color.denormalize_ab(((ab_hint[i] - seen[i]) * mk).sum(dim=(1, 2)) / total).norm()
                share = torch.exp(-(d / agree) ** 2)
                env_k = share + (1 - share) * env_k
            env = torch.maximum(env, env_k)
        out[i] = torch.where(m > 0, fused[i], seen[i] + env * (fused[i] - seen[i]))
    return out


class HintFusion(nn.Module):
    """The fusion stage (see the module docstring); ``guide`` = (ab weight, feature weight) of the
    propagations' extra edges, along the network's colors and features as it sees the picture
    without the points (None = lightness edges only), ``fit`` = (gain, offset[, lightness])
    strengths of the points' global color transform (None = none), ``confine`` = (falloff,
    agreement) of one to three points' local edits (None = as fused)."""

    def __init__(self, width: int = 32, prior_weight: float = PRIOR_WEIGHT, guide=None, fit=None,
                 confine: float | None = None):
        super().__init__()
        if isinstance(confine, (int, float)):
            confine = (confine, 0.0)
        self.confine = tuple(float(v) for v in confine) if confine else None
        if self.confine is not None and (len(self.confine) != 2 or not 0 < self.confine[0] <= 10
                                         or not 0 <= self.confine[1] <= 500):
            raise ValueError(f"confine must be (falloff as a share of the shorter side in (0, 10], agreement in "
                             f"ab units 0-500), got {confine}")
        self.fit = tuple(float(v) for v in fit) if fit else None
        if self.fit is not None and (len(self.fit) not in (2, 3) or min(self.fit) <= 0):
            raise ValueError(f"fit must be (gain, offset[, lightness]) strengths, all above 0, got {fit}")
        self.prior_weight = prior_weight
        self.guide = tuple(float(v) for v in guide) if guide else (0.0, 0.0)
        if len(self.guide) != 2 or min(self.guide) < 0:
            raise ValueError(f"guide must be (ab weight, feature weight), both 0 or more, got {guide}")
        # what a model file records to rebuild this stage (tinct.modelfile)
        self.kwargs = {"width": width, "prior_weight": float(prior_weight),
                       "guide": list(self.guide) if any(self.guide) else None,
                       "fit": list(self.fit) if self.fit else None,
                       "confine": list(self.confine) if self.confine else None}
        layers: list[nn.Module] = [nn.Conv2d(IN_CHANNELS + GLOBAL_CHANNELS + MATCH_CHANNELS, width, 3, 1, 1),
                                   nn.ReLU(inplace=True)]
        for d in (2, 4, 8, 16, 1):
            layers += [nn.Conv2d(width, width, 3, 1, d, dilation=d), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, SOURCES + 2, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        with torch.no_grad():  # start as an even mix of the network and the local propagation
            self.out.bias[2:SOURCES] = -6.0

    def fuse(self, l, net_ab, prop, ab_hint, mask, plain, matched) -> torch.Tensor:
        """All normalized, (N, C, H, W) at one size: the mix of the four sources (network, local
        propagation, ``plain`` Levin, ``matched`` hints (:func:`match_hints`, ab + confidence))
        plus the correction, with hint pixels set to the hint."""
        x = torch.cat([l, net_ab, prop, ab_hint * mask, mask, hint_density(mask), plain, matched], dim=1)
        # the weights are smooth: predict them at half resolution, apply them at full
        o = self.out(self.body(F.avg_pool2d(x, 2, ceil_mode=True)))
        o = F.interpolate(o, size=x.shape[-2:], mode="bilinear", align_corners=False)
        w = torch.softmax(o[:, :SOURCES], dim=1)
        sources = (net_ab, prop, plain, matched[:, :2])
        ab = sum(w[:, j : j + 1] * src for j, src in enumerate(sources)) + CORRECTION_SCALE * o[:, SOURCES:]
        return torch.where(mask > 0.5, ab_hint, ab)

    @staticmethod
    def obeyed(fused: torch.Tensor, prop: torch.Tensor, reach: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Where the points reach, their propagation wins: ``reach ** n * prop + (1 - reach ** n) * fused``
        for ``n`` points (:func:`tinct.hints.fit.count_points`)."""
        r = reach ** count_points(mask).to(reach)
        return r * prop + (1 - r) * fused

    @property
    def guided(self) -> bool:
        return any(w > 0 for w in self.guide)

    def propagations(self, l, net_ab, ab_hint, mask, features=None, guide_ab=None, guide_features=None):
        """:func:`propagations` with this stage's settings."""
        return propagations(l, net_ab, ab_hint, mask, self.prior_weight, self.guide, features, guide_ab,
                            guide_features)

    def forward(self, l, net_ab, ab_hint, mask, features=None, guide_ab=None, guide_features=None) -> torch.Tensor:
        """Fuse at the hints' size; images without a hint pixel keep ``net_ab`` (resized). Above
        :data:`MAX_PIXELS` the fusion runs at a reduced size (hint patches kept, by max-pooling the
        mask) and is upsampled; the hint pixels are then set exactly again. ``features``: the
        network's decoder features (required); ``guide_ab`` and
        ``guide_features``: what the guide is made of (:meth:`propagations`)."""
        if features is None:
            raise ValueError("the fusion stage needs the network's features")
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
        own = net_ab  # the network's colors before the points' global transform: a local edit's base
        if self.fit is not None:  # what the points say about the whole picture (tinct.hints.fit)
            net_ab = net_ab.clone()
            net_ab[idx] = fit_color_transform(net_ab[idx], ab_hint[idx], mask[idx], self.fit, l=l[idx], gate=True)
        prop, reach, plain = self.propagations(l[idx], net_ab[idx], ab_hint[idx], mask[idx], pick(features),
                                               pick(guide_ab), pick(guide_features))
        matched = match_hints(features[idx], ab_hint[idx], mask[idx], mask.shape[-2:])
        fused = self.fuse(l[idx], net_ab[idx], prop, ab_hint[idx], mask[idx], plain, matched)
        fused = self.obeyed(fused, prop, reach, mask[idx])
        if self.confine is not None:
            fused = confined(own[idx], fused, reach, mask[idx], ab_hint[idx], *self.confine,
                             seen_ab=pick(guide_ab))
        out[idx] = fused
        return out
