"""The public collections tinct's photo model trains and validates on (``shared/data/SOURCES.md``).

Each :class:`Source` names a git repository snapshot (as ``fetch`` brings it), the commit, the
folder, how a file is assigned to a split, and the terms. ``split`` maps a path inside the
repository to ``"train"``, ``"val"`` or ``None`` (not used); files of a collection's own
validation or test split never go to training."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass


def path_fraction(path: str) -> float:
    """A fixed pseudo-random number in [0, 1) from a path: a split that never changes."""
    return int(hashlib.sha1(path.encode()).hexdigest()[:8], 16) / 2**32


def by_hash(val_fraction: float) -> Callable[[str], str]:
    return lambda p: "val" if path_fraction(p) < val_fraction else "train"


def by_folder(train: tuple[str, ...], val: tuple[str, ...]) -> Callable[[str], str | None]:
    def split(p: str) -> str | None:
        if any(f"/{t}/" in f"/{p}" for t in val):
            return "val"
        if any(f"/{t}/" in f"/{p}" for t in train):
            return "train"
        return None
    return split


@dataclass(frozen=True)
class Source:
    name: str
    repo: str
    commit: str
    path: str
    split: Callable[[str], str | None]
    val_count: int
    """validation images taken (the first by path hash, after filtering)"""
    terms: str
    what: str


SOURCES = [
    Source("places", "rathull/CTFs", "f35c219885f163ca00a045236dd44be489598837", "data/images",
           by_folder(("train",), ("val",)), 600, "Places (MIT Miniplaces): non-commercial research",
           "100 indoor and outdoor scene types, 128x128"),
    Source("imagenette", "thunderInfy/imagenette", "b850f030ff0701c36a4adc8b928ea9483a46915b", "",
           by_folder(("train",), ("val",)), 600, "ImageNet terms: non-commercial research",
           "10 ImageNet classes"),
    Source("faces", "delonyohan/deeplearn-agepred", "b06607bf2477c8295b33facb5dea7aada27cac01",
           "dataset/UTKFace", by_hash(0.05), 400, "UTKFace: non-commercial research",
           "faces of all ages, 200x200"),
    Source("pets", "chanakya2734/Image-classification-using-CNN", "bf746c6e53f1edacd97b383de350f7a495cef0e1",
           "dataset", by_folder(("train", "training_set"), ("test", "test_set")), 300,
           "not stated by the repository: research use", "cats and dogs at home"),
    Source("clothing", "alexeygrigorev/clothing-dataset", "7ed86a9cc56763b6acb35e41cb35184e43a5d218",
           "images", by_hash(0.1), 200, "CC0", "clothing worn and laid out"),
    Source("flowers", "martinwestin/flower_classification", "c169e7e4038bc0e0e2fe80090b6dc8919539816f",
           "flowers", by_hash(0.1), 200, "not stated by the repository: research use",
           "5 kinds of flowers, heavily compressed"),
]


def source_by_name(name: str) -> Source:
    for s in SOURCES:
        if s.name == name:
            return s
    raise KeyError(name)
