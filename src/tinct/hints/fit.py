"""What point hints say about the whole picture: a global color transform of the network's colors,
fitted to the hints.

A network that guesses colors from lightness alone is often wrong in a way that is the same over
the whole image: a color cast, colors too muted or too vivid, a hue turned. Even a few true
colors reveal that, far beyond the region each one sits in. :func:`fit_color_transform` fits,
per image, an affine map of the network's normalized ab,

    ab' = A ab + b + c (L - mean L)        (A: 2x2, b: 2, c: 2),

to the hinted pixels by ridge regression toward the identity (A = I, b = c = 0): every hint
patch (a connected group of hinted pixels) counts as one observation whatever its size, and
``strength`` = (s_gain, s_offset[, s_lightness]) is how many hints' worth of evidence the
identity is worth for A (scaled by the image's mean squared ab, so that it is in the same units),
for b, and for c (scaled by the variance of L; the term is left out with two strengths): a cast
that differs between shadows and highlights, as an old print's or a wrong white balance's does.
With few hints the fit stays near the identity; with many it follows the hints.

A single point is a local edit, not a statement about the whole picture: with ``first_local`` the
first hint carries no global evidence (the data weigh ``(n - 1) / n`` for ``n`` hints), so one
click changes only its own region and the transform grows in as more hints come.

Nor are several unrelated corrections (a green uniform here, a red car there): with ``gate`` the
transform is pulled toward the identity by how little of the points' disagreement with the
network it explains out of sample, each point predicted by the fit to the others (leave-one-out).
True colors of one scene share a cast and keep the transform; colors that have nothing to do
with each other stay local edits.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

MIN_AB_POWER = 1e-4  # floor of the mean squared ab that scales the gain's prior (a near-gray prediction)


def hint_patches(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels (H, W; 0 = no hint) of the connected hint patches of a boolean mask, and their number."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return labels, int(n)


def count_points(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, 1, 1) number of hint patches (at least 1) of each image's mask (N, 1, H, W)."""
    counts = [max(1, hint_patches((m[0] > 0.5).cpu().numpy())[1]) for m in mask]
    return torch.tensor(counts, dtype=torch.float32).view(-1, 1, 1, 1)


def _design(net_ab: torch.Tensor, l: torch.Tensor | None) -> torch.Tensor:
    """(3 or 4, H*W): ab, 1 and, with ``l``, L minus its mean."""
    rows = [net_ab.detach().double().reshape(2, -1), net_ab.new_ones(1, net_ab[0].numel(), dtype=torch.float64)]
    if l is not None:
        lc = l.detach().double().reshape(1, -1)
        rows.append(lc - lc.mean())
    return torch.cat(rows)


def fit_one(net_ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, strength=(0.3, 0.3),
            first_local: bool = True, l: torch.Tensor | None = None, gate: bool = False) -> torch.Tensor | None:
    """The affine map ``[A | b]`` (2, 3), or ``[A | b | c]`` (2, 4) with a third strength and
    ``l``, for one image (all (C, H, W); normalized ab and L), or None when the hints carry no
    global evidence (none, or a single one with ``first_local``). With ``gate`` the map is
    pulled toward the identity by how little of the points' disagreement with the network it
    explains out of sample (:func:`_explained`)."""
    strength = [float(v) for v in strength]
    if len(strength) == 3 and l is None:
        raise ValueError("a fit with a lightness term needs L")
    return _fit(_design(net_ab, l if len(strength) == 3 else None), ab_hint, mask, strength, first_local, gate)


def _fit(full: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, strength: list[float], first_local: bool,
         gate: bool) -> torch.Tensor | None:
    """:func:`fit_one` on the image's design matrix ``full`` (:func:`_design`)."""
    m = (mask[0] > 0.5).cpu().numpy()
    labels, n = hint_patches(m)
    data_weight = (n - 1) / n if first_local and n else 1.0
    if n == 0 or data_weight <= 0:
        return None
    patch = torch.from_numpy(labels[m] - 1)  # each hinted pixel's patch, 0..n-1
    sizes = torch.bincount(patch, minlength=n).double()
    w = 1.0 / sizes[patch]  # every patch counts as one hint
    d = full[:, torch.from_numpy(m).flatten()]  # (k, P)
    t = ab_hint.detach().double()[:, torch.from_numpy(m)]  # (2, P)
    power = max(float(full[:2].pow(2).mean()), MIN_AB_POWER)
    prior = [strength[0] * power, strength[0] * power, strength[1]]
    if len(strength) == 3:
        prior.append(strength[2] * max(float(full[3].pow(2).mean()), MIN_AB_POWER))
    lam = torch.diag(torch.tensor(prior, dtype=torch.float64))
    identity = torch.eye(2, len(prior), dtype=torch.float64)
    k = len(prior)
    # per-patch sufficient statistics: gram (n, k, k) and right-hand side (n, 2, k)
    gram_p = torch.zeros(n, k, k, dtype=torch.float64).index_add_(0, patch, (d.T[:, :, None] * d.T[:, None, :]) * w[:, None, None])
    rhs_p = torch.zeros(n, 2, k, dtype=torch.float64).index_add_(0, patch, (t.T[:, :, None] * d.T[:, None, :]) * w[:, None, None])
    gram, rhs = gram_p.sum(0), rhs_p.sum(0)
    theta = torch.linalg.solve(data_weight * gram + lam, (data_weight * rhs + identity @ lam).T).T
    if gate:
        theta = identity + _explained(gram, rhs, gram_p, rhs_p, lam, identity, d, t, w, patch) * (theta - identity)
    return theta


def _explained(gram, rhs, gram_p, rhs_p, lam, identity, d, t, w, patch) -> float:
    """The share (0 to 1) of the points' squared disagreement with the network's colors that the
    transform removes out of sample: each patch predicted by the fit to all the others
    (leave-one-out), against the network's own colors. True colors of one scene share a cast and
    score high; a user's unrelated corrections (a red blanket on green grass) score low, so they
    stay local edits."""
    if gram_p.shape[0] < 2:
        return 0.0
    loo = torch.linalg.solve(gram[None] - gram_p + lam, (rhs[None] - rhs_p + identity @ lam).transpose(1, 2))
    pred = torch.einsum("pkc,kp->cp", loo[patch], d)  # (2, P): each pixel by the fit without its patch
    e_fit = float(((pred - t) ** 2).sum(0).mul(w).sum())
    e_net = float(((d[:2] - t) ** 2).sum(0).mul(w).sum())
    return 0.0 if e_net <= 1e-12 else min(1.0, max(0.0, 1.0 - e_fit / e_net))


def fit_color_transform(net_ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, strength=(0.3, 0.3),
                        first_local: bool = True, l: torch.Tensor | None = None, gate: bool = False) -> torch.Tensor:
    """``net_ab`` (N, 2, H, W) mapped by each image's transform fitted to its hints (``ab_hint``,
    ``mask`` and normalized ``l``, needed with a lightness strength, at the same size); images
    whose hints carry no global evidence are returned as they are."""
    strength = [float(v) for v in strength]
    if len(strength) == 3 and l is None:
        raise ValueError("a fit with a lightness term needs L")
    out = net_ab.clone()
    for i in range(net_ab.shape[0]):
        full = _design(net_ab[i], l[i] if len(strength) == 3 else None)
        theta = _fit(full, ab_hint[i], mask[i], strength, first_local, gate)
        if theta is not None:
            out[i] = (theta @ full).reshape(net_ab[i].shape).to(net_ab.dtype)
    return out
