"""The network's answer about a picture, kept for the requests that ask about it again.

The page asks ``/suggest`` at every click and ``/confidence`` at each toggle of its overlay, each
time for the picture it shows, with the same model, working size, hints and reference. One network
pass answers them all: :class:`Predictions` keeps the last few answers (the full-resolution
lightness, the working-size colors and the network's distribution), keyed by a digest of
the upload's bytes and of every field that changes the answer, in a thread-safe LRU bounded by
bytes. A hit skips the decode and the network; a miss costs what it cost before.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

MAX_BYTES = 192 * 2**20  # the answers kept, at most (a 12 MP photo's answer is about 52 MB)
MAX_ITEMS = 16


@dataclass
class Prediction:
    l_full: torch.Tensor  # (1, 1, H, W) raw L of the picture as read
    ab: torch.Tensor  # (1, 2, h, w) raw ab at the working size
    logits: torch.Tensor  # (1, Q, h', w') the distribution's logits
    confidence: torch.Tensor  # (1, 1, h', w')

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.l_full, self.ab, self.logits, self.confidence))


def digest(*parts: bytes | str | int | None) -> str:
    """A short digest of the parts (None and "" kept apart)."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        data = b"\x00none" if p is None else p if isinstance(p, bytes) else str(p).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class Predictions:
    def __init__(self, max_bytes: int = MAX_BYTES, max_items: int = MAX_ITEMS):
        self.max_bytes, self.max_items = max_bytes, max_items
        self._items: OrderedDict[str, Prediction] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Prediction | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return found

    def put(self, key: str, value: Prediction) -> None:
        size = value.nbytes()
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes()
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._items) > self.max_items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes()

    def predict(self, colorizer, key: str, pixels, hints, render_size: int | None) -> Prediction:
        """The kept answer for ``key``, else ``colorizer.predict`` on ``pixels()`` (called only on a
        miss: the decode is skipped on a hit), kept."""
        found = self.get(key)
        if found is not None:
            return found
        extras: dict = {}
        l_full, ab = colorizer.predict(pixels(), hints, render_size, extras)
        value = Prediction(l_full, ab, extras["logits"], extras["confidence"])
        self.put(key, value)
        return value
