"""Training data: a folder of color images, deterministic per-sample augmentation (so a resumed
run sees exactly the batches it would have seen), and the batch order of a run."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile
from torch.utils.data import Dataset, Sampler

from tinct.metrics import colorfulness

def list_images(root: str | Path) -> list[Path]:
    """The training images under ``root`` (:func:`tinct.imageio.list_images`), or a TinctError."""
    from tinct.errors import TinctError
    from tinct.imageio import list_images as images_under

    if not Path(root).is_dir():
        raise TinctError(f"training data folder not found: {root}")
    return images_under(root)


def split(files: list[Path], fraction: float, max_val: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Deterministic train/validation split."""
    order = list(range(len(files)))
    random.Random(seed).shuffle(order)
    n_val = max(1, min(max_val, int(round(len(files) * fraction)))) if len(files) > 1 else 0
    val = sorted(files[i] for i in order[:n_val])
    train = sorted(files[i] for i in order[n_val:])
    return train, val


def _load_rgb(path: Path) -> Image.Image:
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with Image.open(path) as im:
        im.load()
        return im.convert("RGB")


def _resize_short(im: Image.Image, short: int) -> Image.Image:
    w, h = im.size
    s = short / min(w, h)
    return im.resize((max(short, round(w * s)), max(short, round(h * s))), Image.BICUBIC)


class ColorImages(Dataset):
    """Items are ``(index, aug_seed)``; returns (3, crop, crop) sRGB in [0, 1].
    Training: shorter side resized to crop * U(1, 1.3), random crop, random flip.
    Validation (``train=False``): shorter side to crop, center crop.
    ``lineart``: a fourth channel holds a line drawing of the crop (:func:`tinct.lineart.random_lineart`,
    seeded by the item's seed, so validation drawings are fixed; ``tone``: the share given the manga
    look). ``min_colorfulness``: a training
    image less colorful than this (measured after the resize) is skipped like an unreadable one
    (its next neighbour is used)."""

    def __init__(self, files: list[Path], crop: int, train: bool = True, lineart: bool = False,
                 min_colorfulness: float = 0.0, tone: float = 0.0):
        self.files, self.crop, self.train, self.lineart, self.tone = files, crop, train, lineart, tone
        self.min_colorfulness = min_colorfulness

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item) -> torch.Tensor:
        idx, aug_seed = item if isinstance(item, tuple) else (item, 0)
        rng = np.random.default_rng(aug_seed)
        c = self.crop
        short = int(round(c * rng.uniform(1.0, 1.3))) if self.train else c
        for attempt in range(len(self.files)):
            try:
                im = _load_rgb(self.files[(idx + attempt) % len(self.files)])
            except (OSError, ValueError, Image.DecompressionBombError):
                continue  # an unreadable training file is skipped, its neighbour used instead
            if self.train:
                im = _resize_short(im, short)
                if self.min_colorfulness > 0 and colorfulness(np.asarray(im)) < self.min_colorfulness:
                    continue
            break
        else:
            raise RuntimeError("no readable training image")
        if self.train:
            w, h = im.size
            x, y = int(rng.integers(0, w - c + 1)), int(rng.integers(0, h - c + 1))
            im = im.crop((x, y, x + c, y + c))
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            im = _resize_short(im, c)
            w, h = im.size
            x, y = (w - c) // 2, (h - c) // 2
            im = im.crop((x, y, x + c, y + c))
        rgb = np.asarray(im)
        if self.lineart:
            from tinct.lineart import random_lineart

            lines = random_lineart(rgb, np.random.default_rng([aug_seed, idx, 2]), p_tone=self.tone)
            rgb = np.dstack([rgb, lines])
        return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0


class RunBatches(Sampler):
    """Batches of ``(index, aug_seed)`` for steps ``start..steps-1`` of a run: a fresh seeded
    permutation per pass over the data, so step ``k`` gets the same batch whether or not the
    run was interrupted and resumed. ``rank``/``world`` shard each batch for DDP."""

    def __init__(self, n: int, batch_size: int, steps: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.n, self.bs, self.steps, self.seed, self.start = n, batch_size, steps, seed, start
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.steps - self.start

    def _perm(self, epoch: int) -> torch.Tensor:
        if getattr(self, "_perm_epoch", None) != epoch:
            gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            self._perm_cache, self._perm_epoch = torch.randperm(self.n, generator=gen), epoch
        return self._perm_cache

    def batch(self, step: int) -> list[tuple[int, int]]:
        first = step * self.bs * self.world + self.rank * self.bs
        out = []
        for j in range(first, first + self.bs):
            epoch, pos = divmod(j, self.n)
            out.append((int(self._perm(epoch)[pos]), (self.seed * 1_000_003 + j) % (2**63)))
        return out

    def __iter__(self):
        for step in range(self.start, self.steps):
            yield self.batch(step)
