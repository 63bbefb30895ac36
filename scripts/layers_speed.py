"""What painting region by region costs: a line drawing colorized by a line-art model as its raw
paint (the network's colors, no regions), as shown (painted region by region, the pipeline's
default) and with its flats and shading layers on top (``tinct colorize --layers``), median of
several interleaved runs in one process, as ratios to the raw paint.

    python scripts/layers_speed.py [--model lineart] [--size 512] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def drawing(size: int, seed: int = 0) -> np.ndarray:
    """White paper with random closed boxes and ellipses drawn in black, as 8-bit RGB."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((size, size), 255, np.uint8)
    for _ in range(12):
        x, y = (int(v) for v in rng.integers(0, size - size // 4, 2))
        w, h = (int(v) for v in rng.integers(size // 10, size // 4, 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + w, y + h), 0, 2)
        else:
            cv2.ellipse(img, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 0, 2)
    return np.repeat(img[:, :, None], 3, axis=2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lineart")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from tinct.lineart.regions import layer_files
    from tinct.pipeline import Colorizer, set_threads

    set_threads(args.threads)
    c = Colorizer(args.model, render_size=args.size)
    img = drawing(args.size)
    c(img)  # warm

    def paint():
        c.model.fills_regions = False  # the network's colors as they are
        try:
            c(img)
        finally:
            c.model.fills_regions = True

    def regions():
        c(img)

    def layered():
        layer_files(c(img), img[:, :, 0])

    times = {"paint": [], "regions": [], "layers": []}
    for _ in range(args.runs):  # interleaved: all see the same machine
        for name, fn in (("paint", paint), ("regions", regions), ("layers", layered)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"size": args.size, **{f"{k}_s": round(v, 3) for k, v in med.items()},
                      "regions_ratio": round(med["regions"] / med["paint"], 2),
                      "layers_ratio": round(med["layers"] / med["paint"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
