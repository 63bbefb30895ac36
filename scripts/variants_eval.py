"""Are the alternatives (``tinct.uncertainty.variants``) useful? On a validation folder (the field's
protocol, 256x256, gray in): each variant's PSNR against the main output's, its colorfulness, the
mean pairwise |delta ab| between the variants in the least and the most confident quarter of the
pixels, and the best of the variants per image (the "oracle" figure diverse colorizers report).
Writes a contact sheet (gray | main | variants | original) of the first images.

    python scripts/variants_eval.py data/photo_v7/val --limit 50 --n 4 --sheet docs/variants_sheet.jpg
    python scripts/variants_eval.py data/photo_v7/val --skip 50 --limit 50 --n 4   # the next 50 of each source
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from tinct import bench, metrics, uncertainty
from tinct.pipeline import Colorizer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--skip", type=int, default=0, help="leave out the first SKIP images of each source (another part of the set)")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--sheet")
    args = ap.parse_args()
    torch.set_num_threads(1)
    col = Colorizer(args.model)
    psnr, cf, low_d, high_d, best, sheet = [], [], [], [], [], []
    listed = bench.list_images(args.data, args.skip + args.limit)
    kept = [p for p in listed if sum(q.parent == p.parent and q <= p for q in listed) > args.skip]
    for path in tqdm(kept, unit="img"):
        rgb = bench.load_eval_image(path, 256)
        gray = bench.gray_input(rgb)
        outs = uncertainty.variants(col, gray, args.n)
        _, conf = col(gray, confidence=True)
        scores = [metrics.psnr(o, rgb) for o in outs]
        psnr.append(scores)
        cf.append([metrics.colorfulness(o) for o in outs])
        best.append(max(scores) - scores[0])
        ab = [metrics.rgb_to_lab(o)[..., 1:] for o in outs]
        lo, hi = conf <= np.quantile(conf, 0.25), conf >= np.quantile(conf, 0.75)
        pairs = list(itertools.combinations(range(len(ab)), 2))
        d = [np.sqrt(((ab[i] - ab[j]) ** 2).sum(-1)) for i, j in pairs]
        low_d.append(np.mean([x[lo].mean() for x in d]))
        high_d.append(np.mean([x[hi].mean() for x in d]))
        if args.sheet and len(sheet) < 6:
            sheet.append(np.hstack([gray, *outs, rgb]))
    psnr, cf = np.array(psnr), np.array(cf)
    print(f"{len(psnr)} images, {args.n} variants (the first is the main output)")
    for v in range(1, args.n):
        print(f"variant {v}: PSNR {psnr[:, v].mean():.2f} ({psnr[:, v].mean() - psnr[:, 0].mean():+.2f} dB against the "
              f"main output), CF {cf[:, v].mean():.1f} (main {cf[:, 0].mean():.1f})")
    print(f"mean pairwise |delta ab|: least confident quarter {np.mean(low_d):.2f}, most confident quarter "
          f"{np.mean(high_d):.2f}; the best of the {args.n} per image {np.mean(best):+.2f} dB over the main output")
    if args.sheet:
        Image.fromarray(np.vstack(sheet)).save(args.sheet, quality=88)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
