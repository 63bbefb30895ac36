"""End-to-end time and peak memory of colorizing one large photo (default 12 megapixels).

Runs each measurement in a fresh subprocess so peak RSS is that of the job alone:
  1. baseline: decode the JPEG and encode it again (no model), the I/O floor;
  2. tinct: decode, predict at the working size, full-resolution recombination, encode
     (the same calls `tinct colorize` makes).
Prints wall time (median of --runs), peak RSS, and the ratio to the baseline.

    python scripts/bench_large.py [--model photo] [--megapixels 12] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(int(sys.argv[4]))
t0 = time.perf_counter()
from tinct.imageio import load_image, save_image
mode, src, dst, _, model, render = sys.argv[1:7]
if mode == "tinct":
    from tinct.pipeline import Colorizer
    c = Colorizer(model, render_size=int(render))
t1 = time.perf_counter()
img = load_image(src)
rgb = c(img.rgb) if mode == "tinct" else img.rgb
save_image(dst, rgb, overwrite=True, quality=92)
t2 = time.perf_counter()
print(json.dumps({"setup_s": t1 - t0, "job_s": t2 - t1, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_photo(path: Path, megapixels: float) -> tuple[int, int]:
    import numpy as np
    from PIL import Image

    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 128 + 60 * np.sin(xx / 97.0) * np.cos(yy / 131.0) + rng.normal(0, 12, (h, w)).astype(np.float32)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").save(path, quality=92)
    return w, h


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--render-size", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "large.jpg"
        w, h = make_photo(src, args.megapixels)
        results = {}
        for mode in ("baseline", "tinct"):
            runs = []
            for _ in range(args.runs):
                out = subprocess.run([sys.executable, "-c", CHILD, mode, str(src), str(Path(tmp) / "out.jpg"),
                                      str(args.threads), args.model, str(args.render_size)],
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            results[mode] = {"job_s": statistics.median(r["job_s"] for r in runs),
                             "setup_s": statistics.median(r["setup_s"] for r in runs),
                             "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    b, t = results["baseline"], results["tinct"]
    print(f"{w}x{h} ({w * h / 1e6:.1f} MP) gray JPEG, model {args.model!r}, render size {args.render_size}, "
          f"{args.threads} threads, median of {args.runs} runs, each in a fresh process")
    print("| job | decode+predict+encode (s) | model load (s) | peak RSS (MB) |")
    print("|---|---|---|---|")
    print(f"| baseline: decode + encode only | {b['job_s']:.2f} | - | {b['peak_rss_mb']:.0f} |")
    print(f"| tinct colorize | {t['job_s']:.2f} | {t['setup_s']:.2f} | {t['peak_rss_mb']:.0f} |")
    print(f"ratio tinct / baseline: {t['job_s'] / b['job_s']:.2f}x time, {t['peak_rss_mb'] / b['peak_rss_mb']:.2f}x memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
