"""The working-size rule, in one place and without torch (the server's settings load it too).

The network colors a copy of the picture whose longer side is about the *render size* (DeOldify's
render_factor), both sides multiples of the encoder's deepest stride; the colors are then put back
on the full-resolution lightness.
"""

from __future__ import annotations

import numbers

from tinct.errors import TinctError

STRIDE = 32  # working sizes are multiples of the deepest encoder stride (and the smallest one)
MAX_RENDER_SIZE = 2048  # the largest working size: its network pass peaks near the 1.5 GB budget (4096: +5.9 GB)
DEFAULT_RENDER_SIZE = 256  # for a model that records no working size of its own


def check_render_size(value, limit: int = MAX_RENDER_SIZE, what: str = "render size") -> int:
    """A working size given by a user: an integer from :data:`STRIDE` to ``limit`` (at most
    :data:`MAX_RENDER_SIZE`), or a TinctError that says so, naming it ``what`` (an option's flag)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TinctError(f"{what} must be an integer between {STRIDE} and {limit}, got {value!r}")
    if not STRIDE <= value <= limit:
        raise TinctError(f"{what} must be between {STRIDE} and {limit} (the memory budget), got {value}")
    return int(value)


def working_size(hw: tuple[int, int], render_size: int) -> tuple[int, int]:
    """Scale so the longer side is about ``render_size``, both sides multiples of :data:`STRIDE`."""
    h, w = hw
    s = render_size / max(h, w)
    return max(STRIDE, round(h * s / STRIDE) * STRIDE), max(STRIDE, round(w * s / STRIDE) * STRIDE)
