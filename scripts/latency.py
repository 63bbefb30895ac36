"""Median wall time of one colorization of a blank SIZE x SIZE drawing or photo (not a unit test):
the whole inference path (working size = SIZE), after a warm-up, torch and optionally ONNX.

    python scripts/latency.py --model lineart --size 512 --threads 2 --backends torch onnx
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tinct import Colorizer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lineart")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--backends", nargs="+", default=["torch"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    img = np.full((args.size, args.size, 3), 255, np.uint8)
    img[rng.integers(0, args.size, 4000), rng.integers(0, args.size, 4000)] = 0  # some ink
    for backend in args.backends:
        c = Colorizer(args.model, render_size=args.size, backend=backend)
        c(img)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            c(img)
            times.append(time.perf_counter() - t0)
        print(f"{args.model} {args.size}x{args.size} {backend}: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
