"""Shared fixtures: single-threaded torch and small generated RGB images (no data files needed)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine is shared: keep torch on one CPU thread."""
    import torch

    torch.set_num_threads(1)
    yield


def random_rgb(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth, colorful random uint8 RGB image (H, W, 3): upsampled 8x8 noise plus a gradient."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(8, 8, 3))
    ys = np.linspace(0, 7, h)
    xs = np.linspace(0, 7, w)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, 7), np.minimum(x0 + 1, 7)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x1] * fx
    bottom = coarse[y1][:, x0] * (1 - fx) + coarse[y1][:, x1] * fx
    img = top * (1 - fy) + bottom * fy
    img += rng.normal(0, 6, size=img.shape)  # a little texture
    return np.clip(img, 0, 255).round().astype(np.uint8)


@pytest.fixture
def make_rgb():
    """Factory fixture: ``make_rgb(h=64, w=64, seed=0)`` -> uint8 (H, W, 3) image."""
    return random_rgb


@pytest.fixture
def rgb_image() -> np.ndarray:
    """One 64x64 uint8 RGB test image."""
    return random_rgb(64, 64, seed=0)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The server's job folder (under XDG_CACHE_HOME) stays inside the test run."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
