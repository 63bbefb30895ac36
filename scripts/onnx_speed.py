"""ONNX Runtime against PyTorch on the same model and inputs, in one run (not a unit test): the
median time of the network's automatic path at each size, their ratio, and the largest output
difference in uint8 levels over a folder of images.

    python scripts/onnx_speed.py --model photo --sizes 256 512 --threads 2 --data ../shared/data/photos/val
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tinct import Colorizer
from tinct.bench import list_images, load_eval_image


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--data", help="images to compare outputs on")
    ap.add_argument("--limit", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref, fast = Colorizer(args.model), Colorizer(args.model, backend="onnx")
    rng = np.random.default_rng(0)
    for size in args.sizes:
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        t_torch = median_ms(lambda: ref.colorize_array(img, render_size=size), args.runs)
        t_onnx = median_ms(lambda: fast.colorize_array(img, render_size=size), args.runs)
        print(f"{size} px: torch {t_torch:.0f} ms, onnx {t_onnx:.0f} ms, onnx {t_torch / t_onnx:.2f}x faster")
    if args.data:
        worst, n = 0, 0
        for path in list_images(args.data, args.limit):
            img = load_eval_image(path, 256)
            diff = np.abs(ref.colorize_array(img).astype(int) - fast.colorize_array(img).astype(int))
            worst, n = max(worst, int(diff.max())), n + 1
        print(f"largest output difference over {n} images: {worst} level(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
