"""Semantic interpretability (Zhang et al. 2016's "colorization Turing test" by a classifier): an
ImageNet classifier that no colorizer uses, EfficientNet-Lite2 with its bundled weights, labels the
originals, the gray inputs and the colorizations; colors that help lift its top-1 above the gray
input's. ``recovered`` is the share of the gray-to-original gap a colorizer wins back (1 = as good as
the true colors, 0 = no better than gray, < 0 = the colors mislead).

Only images whose file name carries an ImageNet synset id of a known class are scored (Imagenette's
ten classes, e.g. ``val_n01440764_ILSVRC2012_val_00017472.jpg``); :func:`label_of` is that rule."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

JUDGE_SIZE = 260  # EfficientNet-Lite2's input side
# ImageNet-1k class indices of the Imagenette synsets (the sorted-synset order of ILSVRC2012)
IMAGENET_INDEX = {"n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
                  "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701}
_SYNSET = re.compile(r"n\d{8}")


def label_of(path: Path) -> int | None:
    """The ImageNet class index named by a file's path (its synset id), or None."""
    for wnid in _SYNSET.findall(str(path)):
        if wnid in IMAGENET_INDEX:
            return IMAGENET_INDEX[wnid]
    return None


class Judge:
    """``Judge()(rgb) -> (top-1 hit, top-5 hit)`` for an HxWx3 uint8 image and its class index."""

    def __init__(self):
        from tinct.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite2

        self.net = efficientnet_lite2()
        self.normalize = EfficientNetLite0.normalize

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, label: int) -> tuple[bool, bool]:
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(JUDGE_SIZE, JUDGE_SIZE), mode="bicubic", align_corners=False).clamp(0, 1)
        top5 = self.net(self.normalize(x))[0].topk(5).indices.tolist()
        return top5[0] == label, label in top5


def summarize(hits: dict[str, list[tuple[bool, bool]]], truth: str, gray: str) -> dict[str, dict[str, float]]:
    """Per label: top-1 and top-5 in % and ``recovered`` (share of the gray-to-truth top-1 gap)."""
    out = {}
    for label, h in hits.items():
        out[label] = {"top1": 100.0 * float(np.mean([a for a, _ in h])), "top5": 100.0 * float(np.mean([b for _, b in h])),
                      "n": len(h)}
    t, g = out[truth]["top1"], out[gray]["top1"]
    for r in out.values():
        r["recovered"] = (r["top1"] - g) / (t - g) if t != g else float("nan")
    return out
