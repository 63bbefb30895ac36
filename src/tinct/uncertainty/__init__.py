"""Where the model is guessing: per-pixel confidence and suggested colors, read off the network's
own distribution over Zhang et al.'s 313 ab bins (its bin head, taken at temperature 1, the
calibrated distribution the cross-entropy trained).

- :func:`confidence` (N, 1, h, w) in [0, 1]: the probability the network gives to colors within
  :data:`RADIUS` ab units of the color it shows. 1: it is sure of what it painted; near 0: the
  shown color is one guess among several (a sweater that could be red or blue).
- :func:`suggestions`: the most likely distinct colors at one place, best first: the modes of the
  distribution there (bins merged within :data:`MERGE` ab units), each with its probability.
- :func:`variants`: several plausible colorizations that differ where the model is unsure and
  agree where it is sure, one color per region.

The confidence costs one softmax over the working-size logits; the pipeline returns it upsampled
to the full resolution when asked (``Colorizer(...)(image, confidence=True)``)."""

from __future__ import annotations

import numpy as np
import torch

from tinct import color
from tinct.uncertainty.heads import as_colorful

RADIUS = 15.0  # ab units: the shown color and its neighbours (bins are 10 apart; CIEDE2000 10 is about 10-15 ab)
MERGE = 22.0  # ab units within which two bins are one suggestion
MAX_SUGGESTIONS = 8
MAX_VARIANTS = 8


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
    l_full, _ = colorizer.predict(rgb, hints, render_size, extras)
    return suggest_from(extras["logits"], l_full, colorizer.model.bins, x, y, k)


def suggest_from(logits: torch.Tensor, l_full: torch.Tensor, bins: torch.Tensor, x: float, y: float,
                 k: int = 5) -> list[tuple[tuple[int, int, int], float]]:
    """:func:`suggest` from a prediction already made: its logits (1, Q, h', w') and the picture's
    raw L (1, 1, H, W); (``x``, ``y``) a checked pixel of the picture."""
    h, w = l_full.shape[-2:]
    gy = min(logits.shape[-2] - 1, int((float(y) + 0.5) * logits.shape[-2] / h))
    gx = min(logits.shape[-1] - 1, int((float(x) + 0.5) * logits.shape[-1] / w))
    lum = float(l_full[0, 0, int(y), int(x)])
    out = []
    for (a, b), prob in suggestions(distribution(logits)[0, :, gy, gx], bins, k):
        lab = torch.tensor([[[[lum]], [[a]], [[b]]]], dtype=torch.float32)
        r, g, bl = (round(float(c) * 255) for c in color.lab_to_rgb(lab)[0, :, 0, 0])
        out.append(((r, g, bl), prob))
    return out


VARIANT_CLASSES = 8  # hue sectors a segment's leading color falls in (plus one for near-gray)
GRAY_CHROMA = 8.0  # ab units: a leading color this close to gray is its own class
HOLD_AB = (3.0, 10.0)  # ab units: where the hints changed the colors by more than the first, a chosen
# alternative gives way, fully from the second on
VARIANT_POWER = 2.0  # a variant moves a region by doubt ** this: little where the model is fairly sure


def _segments(p: torch.Tensor, bins: torch.Tensor) -> tuple[np.ndarray, int]:
    """Regions of one image's distribution (Q, h, w) that lead with the same kind of color: each
    pixel's most probable bin, classed by hue sector (or near-gray), split into connected regions.
    One object the network sees as one color is one region."""
    import cv2

    lead = bins[p.argmax(0)]  # (h, w, 2)
    hue = torch.atan2(lead[..., 1], lead[..., 0])
    cls = ((hue + np.pi) / (2 * np.pi) * VARIANT_CLASSES).long().clamp_(0, VARIANT_CLASSES - 1) + 1
    cls[lead.norm(dim=-1) < GRAY_CHROMA] = 0
    cls = cls.numpy().astype(np.uint8)
    labels = np.zeros(cls.shape, np.int32)
    count = 0
    for c in np.unique(cls):
        n, lab = cv2.connectedComponents((cls == c).astype(np.uint8), connectivity=4)
        labels[lab > 0] = lab[lab > 0] + count
        count += n - 1
    return labels, count


def variants(colorizer, image, n: int = 4, hints=None, render_size: int | None = None, only: int | None = None) -> list:
    """``n`` plausible colorizations of ``image`` (each the same kind as ``Colorizer`` returns): the
    first is the colorizer's own output. With a model file that has learned alternatives
    (:mod:`tinct.uncertainty.heads`, K of them), variants 1..K are those: each a coherent other
    reading of the whole picture, changing the colors by as much as the model is unsure. Any
    further variant (and every one, without learned alternatives): every region of the picture
    (:func:`_segments`) takes another of its likely colors (:func:`suggestions` of the region's
    mean distribution, the next one down for each variant), by the model's doubt there
    (1 - :func:`confidence`) squared. So the variants differ where the model guesses and agree
    where it is sure, one color per region. One network pass (two with hints).

    With hints, the regions and their likely colors are those of the picture without the hints (a
    variant is the same choice whatever the user adds later) and the hints apply on top of each
    variant: the variant's changes are added to the hinted colors, by the doubt of the model with
    the hints where that is smaller, and not where the hints changed the colors (the user's own
    pixels, and their surroundings by how much the hints moved them, :data:`HOLD_AB`).
    ``only``: return just that variant (0 = the colorizer's own output), as a list of one."""
    from tinct.errors import TinctError
    from tinct.imageio import as_rgb

    if not colorizer.supports_confidence:
        raise TinctError(f"model {colorizer.name!r} gives no color distribution, so no alternatives")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_VARIANTS:
        raise TinctError(f"the number of variants must be an integer from 1 to {MAX_VARIANTS}, got {n!r}")
    if only is not None and (isinstance(only, bool) or not isinstance(only, int) or not 0 <= only < n):
        raise TinctError(f"the variant must be an integer from 0 to {n - 1}, got {only!r}")
    rgb, alpha = as_rgb(image)
    extras: dict = {"alternatives": None}
    l_full, ab = colorizer.predict(rgb, hints, render_size, extras)
    base = ab  # the colors the variants change
    hinted_doubt, free = None, 1.0
    if hints is not None and not hints.is_empty() and only != 0:
        # the alternatives are the picture's own, as the model sees it without the hints
        hinted_doubt = (1 - extras["confidence"][0, 0]).clamp(0, 1)
        if "hint_mask" in extras:  # the user's own pixels keep their color exactly
            free = 1 - extras["hint_mask"].float()
        extras = {"alternatives": None}
        _, ab = colorizer.predict(rgb, None, render_size, extras)
        # where the hints changed the colors, the user's colors stand (HOLD_AB)
        moved = (base - color.resize_ab(ab, base.shape[-2:])).norm(dim=1, keepdim=True)
        free = free * (1 - ((moved - HOLD_AB[0]) / (HOLD_AB[1] - HOLD_AB[0])).clamp(0, 1))
    logits, conf = extras["logits"], extras["confidence"]
    low = color.resize_ab(ab, logits.shape[-2:])[0]  # the shown colors at the logits' size
    doubt = (1 - conf[0, 0]).clamp(0, 1)
    shifts = torch.zeros(n - 1, 2, *logits.shape[-2:])
    learned = extras["alternatives"]
    first = 1  # the first variant the regions' modes make
    if learned is not None:
        first = min(n, learned.shape[1] + 1)
        shifts[: first - 1] = learned[0, : first - 1]
    if first < n:  # the variants the learned ones leave: each region's next likely colors
        p = distribution(logits)[0]
        bins = colorizer.model.bins.float()
        labels, count = _segments(p, bins)
        lab_t = torch.from_numpy(labels)
        for s in range(1, count + 1):
            region = lab_t == s
            modes = suggestions(p[:, region].mean(1), bins, k=min(MAX_SUGGESTIONS, n))
            shown = low[:, region].mean(1)
            for v in range(first, n):
                target = torch.tensor(modes[v % len(modes)][0]) if len(modes) > 1 else shown
                shifts[v - 1][:, region] = (target - shown)[:, None] * doubt[region][None] ** VARIANT_POWER
    if hinted_doubt is not None:  # where the hints made the model sure (their own pixels: fully), they stand
        sure = (hinted_doubt.clamp(max=1) / doubt.clamp(min=1e-6)).clamp(max=1) ** VARIANT_POWER
        free = free * torch.nn.functional.interpolate(sure[None, None], size=base.shape[-2:], mode="bilinear",
                                                      align_corners=False)
    from tinct.imageio import like_input

    # each variant's change of the picture without hints, no variant less colorful than its shown
    # colors (heads.as_colorful, judged at the colors' size), then added to the hinted colors
    size = ab.shape[-2:]
    l_small = torch.nn.functional.interpolate(l_full, size=size, mode="area")[0]
    gain_at = torch.nn.functional.interpolate(doubt[None, None], size=size, mode="bilinear", align_corners=False)[0]
    outs = []
    for v in range(n) if only is None else [only]:
        ab_v = base
        if v > 0:
            alt = as_colorful(l_small, (ab + color.resize_ab(shifts[v - 1][None], size))[0], ab[0], gain_at)[None]
            ab_v = base + color.resize_ab(alt - ab, base.shape[-2:]) * free
        outs.append(like_input(image, colorizer.finish(l_full, ab_v, depth=16 if rgb.dtype == np.uint16 else 8), alpha))
    return outs
