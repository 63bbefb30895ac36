"""ONNX Runtime (the cached float export, and with ``--graph FILE`` another exported graph of the
same model) against PyTorch on the same model and inputs, in one run (not a unit test): the median time of the automatic colorization at each size
(runs interleaved), the ratios, the largest output difference in uint8 levels over a folder of
images, and with ``--psnr DIR`` the benchmark PSNR of each backend on DIR (a folder of images or of
source subfolders, ``--psnr-limit`` images per source).

    python scripts/onnx_speed.py --model photo --sizes 256 512 --threads 2 --data ../shared/data/photos/val \
        --graph runs/photo-other.onnx --psnr data/photo_v7/val --psnr-limit 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tinct import Colorizer
from tinct.bench import gray_input, list_images, load_eval_image


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
    ap.add_argument("--graph", help="another ONNX graph of the same model (e.g. quantized elsewhere)")
    ap.add_argument("--psnr", help="score every backend's PSNR on this folder (256x256, the benchmark's protocol)")
    ap.add_argument("--psnr-limit", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backends = {"torch": Colorizer(args.model), "onnx": Colorizer(args.model, backend="onnx")}
    if args.graph:
        backends["graph"] = Colorizer(args.model, backend="onnx", onnx_file=args.graph)
    ref, fast = backends["torch"], backends["onnx"]
    rng = np.random.default_rng(0)
    for size in args.sizes:
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        times = {k: [] for k in backends}
        for _ in range(args.runs):  # interleaved: a busy machine slows every backend alike
            for k, c in backends.items():
                times[k].append(median_ms(lambda c=c: c(img, render_size=size), 1))
        ms = {k: statistics.median(v) for k, v in times.items()}
        print(f"{size} px: " + ", ".join(f"{k} {v:.0f} ms" for k, v in ms.items()) + "; "
              + ", ".join(f"{k} {ms['torch'] / v:.2f}x faster than torch" for k, v in ms.items() if k != "torch"))
    if args.psnr:
        from pathlib import Path

        from tinct import metrics

        root = Path(args.psnr)
        groups = sorted(p for p in root.iterdir() if p.is_dir()) or [root]
        for g in groups:
            scores = {k: [] for k in backends}
            for path in list_images(g, args.psnr_limit):
                truth = load_eval_image(path, 256)
                gray = gray_input(truth)
                for k, c in backends.items():
                    scores[k].append(metrics.psnr(c(gray, render_size=256), truth))
            print(f"PSNR {g.name} ({len(scores['torch'])} images): "
                  + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items()))
    if args.data:
        worst, n = 0, 0
        for path in list_images(args.data, args.limit):
            img = load_eval_image(path, 256)
            diff = np.abs(ref(img).astype(int) - fast(img).astype(int))
            worst, n = max(worst, int(diff.max())), n + 1
        print(f"largest output difference over {n} images: {worst} level(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
