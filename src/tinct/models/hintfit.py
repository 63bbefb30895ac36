"""What point hints say about the whole picture: a global color transform of the network's colors,
fitted to the hints.

A network that guesses colors from lightness alone is often wrong in a way that is the same over
the whole image: a color cast, colors too muted or too vivid, a hue turned. Even a few true
colors reveal that, far beyond the region each one sits in. :func:`fit_color_transform` fits,
per image, an affine map of the network's normalized ab,

    ab' = A ab + b        (A: 2x2, b: 2),

to the hinted pixels by ridge regression toward the identity (A = I, b = 0): every hint patch
(a connected group of hinted pixels) counts as one observation whatever its size, and
``strength`` = (s_gain, s_offset) is how many hints' worth of evidence the identity is worth for A
(scaled by the image's mean squared ab, so that it is in the same units) and for b. With few hints
the fit stays near the identity; with many it follows the hints.

A single point is a local edit, not a statement about the whole picture: with ``first_local`` the
first hint carries no global evidence (the data weigh ``(n - 1) / n`` for ``n`` hints), so one
click changes only its own region and the transform grows in as more hints come.
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


def fit_one(net_ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, strength=(0.3, 0.3),
            first_local: bool = True) -> torch.Tensor | None:
    """The (2, 3) affine map ``[A | b]`` for one image (all (C, H, W), normalized ab), or None when
    the hints carry no global evidence (none, or a single one with ``first_local``)."""
    m = (mask[0] > 0.5).cpu().numpy()
    labels, n = hint_patches(m)
    data_weight = (n - 1) / n if first_local and n else 1.0
    if n == 0 or data_weight <= 0:
        return None
    lab = labels[m]
    sizes = np.bincount(lab, minlength=n + 1)[lab].astype(np.float64)
    w = torch.from_numpy(data_weight / sizes)  # every patch counts as one hint
    x = net_ab.detach().double()[:, torch.from_numpy(m)]  # (2, P)
    t = ab_hint.detach().double()[:, torch.from_numpy(m)]
    d = torch.cat([x, torch.ones(1, x.shape[1], dtype=x.dtype)])  # (3, P)
    power = max(float(net_ab.detach().double().pow(2).mean()), MIN_AB_POWER)
    s_gain, s_offset = (float(v) for v in strength)
    lam = torch.diag(torch.tensor([s_gain * power, s_gain * power, s_offset], dtype=x.dtype))
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=x.dtype)
    gram = (d * w) @ d.T + lam
    rhs = (t * w) @ d.T + identity @ lam
    return torch.linalg.solve(gram, rhs.T).T


def fit_color_transform(net_ab: torch.Tensor, ab_hint: torch.Tensor, mask: torch.Tensor, strength=(0.3, 0.3),
                        first_local: bool = True) -> torch.Tensor:
    """``net_ab`` (N, 2, H, W) mapped by each image's transform fitted to its hints (``ab_hint``,
    ``mask`` at the same size); images whose hints carry no global evidence are returned as they are."""
    out = net_ab.clone()
    for i in range(net_ab.shape[0]):
        theta = fit_one(net_ab[i], ab_hint[i], mask[i], strength, first_local)
        if theta is None:
            continue
        flat = net_ab[i].detach().double().reshape(2, -1)
        out[i] = (theta[:, :2] @ flat + theta[:, 2:]).reshape(net_ab[i].shape).to(net_ab.dtype)
    return out
