"""The shipped model's output pinned on a fixed image: no hints, 1, 10 and 100 point hints, and a
palette. Written once by ``python tests/test_hint_pins.py --write`` and checked on every run, so
that moving or reshaping the hint code cannot change what users get. A new shipped model file is
re-pinned on purpose (the pins record its SHA-256)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PINS = Path(__file__).parent / "pins"
CASES = ("none", "points1", "points10", "points100", "palette")


def fixed_image() -> np.ndarray:
    """A 160x224 photo-like RGB image made from scikit-image's bundled coffee photo."""
    import skimage.data

    return np.asarray(Image.fromarray(skimage.data.coffee()).resize((224, 160), Image.BICUBIC))


def case_hints(name: str, rgb: np.ndarray):
    from tinct.hints import Hints, Point

    if name == "none":
        return None
    if name == "palette":
        return Hints(palette=[((40, 90, 160), 2.0), ((200, 120, 40), 1.0)])
    n = int(name[len("points"):])
    rng = np.random.default_rng(n)
    h, w = rgb.shape[:2]
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    return Hints(points=[Point(x=int(x), y=int(y), rgb=tuple(int(v) for v in rgb[y, x])) for y, x in zip(ys, xs)])


def outputs() -> dict[str, np.ndarray]:
    from tinct.pipeline import Colorizer

    rgb = fixed_image()
    c = Colorizer("photo")
    return {name: c(rgb, case_hints(name, rgb)) for name in CASES}


def model_sha() -> str:
    from tinct.modelfile import resolve_model

    return hashlib.sha256(resolve_model("photo").read_bytes()).hexdigest()


def write() -> None:
    PINS.mkdir(exist_ok=True)
    record = {"model_sha256": model_sha(), "sha256": {}}
    for name, out in outputs().items():
        Image.fromarray(out).save(PINS / f"{name}.png")
        record["sha256"][name] = hashlib.sha256(out.tobytes()).hexdigest()
    (PINS / "pins.json").write_text(json.dumps(record, indent=1) + "\n")


@pytest.mark.slow
def test_shipped_output_is_pinned():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    record = json.loads((PINS / "pins.json").read_text())
    assert record["model_sha256"] == model_sha(), "the shipped model changed: re-pin with --write"
    for name, out in outputs().items():
        pinned = np.asarray(Image.open(PINS / f"{name}.png"))
        diff = np.abs(out.astype(int) - pinned.astype(int))
        # bit-identical on the machine that wrote the pins; another CPU's float kernels may round
        # a few pixels one level apart, nothing more
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, f"{name}: output moved (max {diff.max()})"


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)  # as the test runs: the float kernels' order, so the pins are bit-identical here
    if "--write" in sys.argv:
        write()
    else:
        same = {n: hashlib.sha256(o.tobytes()).hexdigest() for n, o in outputs().items()}
        pinned = json.loads((PINS / "pins.json").read_text())["sha256"]
        print({n: same[n] == pinned[n] for n in CASES})
