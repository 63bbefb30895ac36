"""Where the model is guessing: per-pixel confidence and suggested colors, read off the network's
own distribution over Zhang et al.'s 313 ab bins (its bin head, taken at temperature 1, the
calibrated distribution the cross-entropy trained).

- :func:`confidence` (N, 1, h, w) in [0, 1]: the probability the network gives to colors within
  :data:`RADIUS` ab units of the color it shows. 1: it is sure of what it painted; near 0: the
  shown color is one guess among several (a sweater that could be red or blue).
- :func:`suggestions`: the most likely distinct colors at one place, best first: the modes of the
  distribution there (bins merged within :data:`MERGE` ab units), each with its probability.

The confidence costs one softmax over the working-size logits; the pipeline returns it upsampled
to the full resolution when asked (``Colorizer(...)(image, confidence=True)``)."""

from __future__ import annotations

import torch

from tinct import color

RADIUS = 15.0  # ab units: the shown color and its neighbours (bins are 10 apart; CIEDE2000 10 is about 10-15 ab)
MERGE = 22.0  # ab units within which two bins are one suggestion
MAX_SUGGESTIONS = 8


def distribution(logits: torch.Tensor) -> torch.Tensor:
    """The network's distribution (N, Q, h, w) over the ab bins: softmax at temperature 1."""
    return torch.softmax(logits.float(), dim=1)


def confidence(logits: torch.Tensor, bins: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """(N, 1, h, w) probability mass within :data:`RADIUS` of the shown raw ab (N, 2, H', W'; resized
    to the logits' size) under the network's distribution."""
    p = distribution(logits)
    ab = color.resize_ab(ab.float(), logits.shape[-2:])
    b = bins.to(p)
    # |ab - bin|^2 = |ab|^2 - 2 ab.bin + |bin|^2, without a (N, Q, 2, h, w) difference tensor
    d2 = (ab**2).sum(1, keepdim=True) - 2 * torch.einsum("nchw,qc->nqhw", ab, b) + (b**2).sum(1)[None, :, None, None]
    return (p * (d2 <= RADIUS**2)).sum(1, keepdim=True).clamp_(0.0, 1.0)


def upsample(conf: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """A working-size confidence (N, 1, h, w) at ``hw`` (bilinear, as the colors are upsampled;
    OpenCV's kernel, the same numbers as ``F.interpolate(..., align_corners=False)``)."""
    import cv2
    import numpy as np

    h, w = hw
    planes = [cv2.resize(np.ascontiguousarray(c[0].float().numpy()), (w, h), interpolation=cv2.INTER_LINEAR)
              for c in conf]
    return torch.from_numpy(np.stack(planes)[:, None]).clamp_(0.0, 1.0)


def suggestions(p: torch.Tensor, bins: torch.Tensor, k: int = 5) -> list[tuple[tuple[float, float], float]]:
    """The ``k`` most likely distinct colors of one pixel's distribution ``p`` (Q,): ``[((a, b), prob)]``,
    best first. Greedy: the most probable bin not yet taken seeds a suggestion, which takes the mass
    of the bins within :data:`MERGE` of it; its color is their probability-weighted mean; the
    suggestions are then ordered by that mass."""
    if not 1 <= k <= MAX_SUGGESTIONS:
        raise ValueError(f"k must be between 1 and {MAX_SUGGESTIONS}, got {k}")
    p = p.double().clone()
    bins = bins.double()
    out = []
    while len(out) < 2 * k and float(p.sum()) > 1e-4:
        q = int(p.argmax())
        near = ((bins - bins[q]) ** 2).sum(1) <= MERGE**2
        mass = p * near
        total = float(mass.sum())
        ab = (mass[:, None] * bins).sum(0) / total
        out.append(((float(ab[0]), float(ab[1])), total))
        p[near] = 0.0
    return sorted(out, key=lambda s: -s[1])[:k]


def suggest(colorizer, image, x: float, y: float, k: int = 5, hints=None,
            render_size: int | None = None) -> list[tuple[tuple[int, int, int], float]]:
    """The ``k`` most likely distinct colors at pixel (``x``, ``y``) of ``image`` (PIL or HxWx3
    array, as :class:`~tinct.pipeline.Colorizer` takes it), best first: ``[((r, g, b), probability)]``,
    each color at that pixel's own lightness, ready to be a point hint. One network pass."""
    import numpy as np

    from tinct.errors import TinctError
    from tinct.imageio import as_rgb

    if not colorizer.supports_confidence:
        raise TinctError(f"model {colorizer.name!r} gives no color distribution, so no suggested colors")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SUGGESTIONS:
        raise TinctError(f"the number of suggestions must be an integer from 1 to {MAX_SUGGESTIONS}, got {k!r}")
    rgb, _ = as_rgb(image)
    h, w = rgb.shape[:2]
    for name, v, limit in (("x", x, w), ("y", y, h)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not 0 <= v < limit:
            raise TinctError(f"{name} must be a pixel coordinate from 0 to {limit - 1}, got {v!r}")
    extras: dict = {}
    l_full, _ = colorizer.predict_l(colorizer.lightness(rgb), hints, render_size, extras)
    logits = extras["logits"]
    gy = min(logits.shape[-2] - 1, int((float(y) + 0.5) * logits.shape[-2] / h))
    gx = min(logits.shape[-1] - 1, int((float(x) + 0.5) * logits.shape[-1] / w))
    lum = float(l_full[0, 0, int(y), int(x)])
    out = []
    for (a, b), prob in suggestions(distribution(logits)[0, :, gy, gx], colorizer.model.bins, k):
        lab = torch.tensor([[[[lum]], [[a]], [[b]]]], dtype=torch.float32)
        r, g, bl = (round(float(c) * 255) for c in color.lab_to_rgb(lab)[0, :, 0, 0])
        out.append(((r, g, bl), prob))
    return out
