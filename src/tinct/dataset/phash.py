"""Perceptual hash (DCT of a 32x32 gray thumbnail, the 8x8 lowest frequencies against their
median: 64 bits) and an index that finds hashes within a small Hamming distance.

The index splits each hash into ``max_distance + 1`` chunks: two hashes within ``max_distance``
bits agree exactly on at least one chunk (pigeonhole), so only those candidates are compared."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn


def phash(im: Image.Image) -> int:
    """The 64-bit perceptual hash of a PIL image."""
    g = np.asarray(im.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float64)
    low = dctn(g, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class HashIndex:
    """Hashes added so far; :meth:`near` answers whether one lies within ``max_distance`` bits."""

    def __init__(self, max_distance: int = 4):
        if not 0 <= max_distance < 16:
            raise ValueError("max_distance must be in 0..15")
        self.max_distance = max_distance
        self.parts = max_distance + 1
        self.width = 64 // self.parts
        self.tables: list[dict[int, list[int]]] = [{} for _ in range(self.parts)]

    def _chunks(self, h: int) -> list[int]:
        mask = (1 << self.width) - 1
        out = [(h >> (i * self.width)) & mask for i in range(self.parts - 1)]
        out.append(h >> ((self.parts - 1) * self.width))
        return out

    def near(self, h: int) -> bool:
        for table, c in zip(self.tables, self._chunks(h)):
            for other in table.get(c, ()):
                if hamming(h, other) <= self.max_distance:
                    return True
        return False

    def add(self, h: int) -> None:
        for table, c in zip(self.tables, self._chunks(h)):
            table.setdefault(c, []).append(h)
