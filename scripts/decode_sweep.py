"""Choose a model's decoding on a validation folder: run the network once per image (the field's
protocol: 256x256 center crop, gray in) and score every (temperature, blend) decoding of its two
heads, per source (subfolder): PSNR, colorfulness (CF, dCF) and the mean a / b cast, beside the
gray input. Writes a JSON report and prints one table.

    python scripts/decode_sweep.py src/tinct/weights/photo.safetensors /work/data/photo_v7/val \
        --temperatures 0.4 0.5 0.6 --blends 0.3 0.5 0.7 1.0 --out runs/sweep.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct import bench, color, metrics
from tinct.modelfile import load_model


def decode(model, out, t: float, blend: float) -> torch.Tensor:
    """Normalized ab at the regression head's size: blend * regression + (1 - blend) * annealed mean."""
    am = color.normalize_ab(color.annealed_mean(out["logits"], model.bins, t))
    return blend * out["ab"] + (1 - blend) * color.resize_ab(am, out["ab"].shape[-2:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("data", type=Path)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.4, 0.5, 0.6])
    ap.add_argument("--blends", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    ap.add_argument("--limit", type=int, help="images per source")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.model, role="colorizer")
    files = bench.list_images(args.data, args.limit)
    combos = [(t, b) for t in args.temperatures for b in args.blends]
    scores: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in tqdm(files, desc="sweep", unit="img"):
        src = bench.source_of(path, args.data) or "all"
        rgb = bench.load_eval_image(path, args.size)
        gray = bench.gray_input(rgb)
        l = torch.from_numpy(color.l_from_uint8(rgb))[None, None]
        with torch.inference_mode():
            out = model(color.normalize_l(l))
        rows = {"gray": gray}
        for t, b in combos:
            ab = color.resize_ab(color.denormalize_ab(decode(model, out, t, b)), (args.size, args.size))
            rows[f"T{t:g}/b{b:g}"] = color.lab_to_uint8(l[0, 0].numpy(), *ab[0].numpy())
        for key, pred in rows.items():
            lab_p, lab_t = metrics.rgb_to_lab(pred), metrics.rgb_to_lab(rgb)
            bias = (lab_p[..., 1:] - lab_t[..., 1:]).reshape(-1, 2).mean(0)
            scores[src][key].append((metrics.psnr(pred, rgb), metrics.colorfulness(pred), float(bias[0]),
                                     float(bias[1])))
        scores[src]["truth"].append((0.0, metrics.colorfulness(rgb), 0.0, 0.0))
    report = {}
    for src, per in sorted(scores.items()):
        gt_cf = float(np.mean([s[1] for s in per["truth"]]))
        report[src] = {k: {"psnr": float(np.mean([s[0] for s in v])), "cf": float(np.mean([s[1] for s in v])),
                           "dcf": abs(float(np.mean([s[1] for s in v])) - gt_cf),
                           "bias_a": float(np.mean([s[2] for s in v])), "bias_b": float(np.mean([s[3] for s in v])),
                           "n": len(v)} for k, v in per.items() if k != "truth"}
    print("| source | decoding | PSNR | vs gray | CF | dCF | a bias | b bias |\n|---|---|---|---|---|---|---|---|")
    for src, rows in report.items():
        g = rows["gray"]["psnr"]
        for k, r in rows.items():
            print(f"| {src} | {k} | {r['psnr']:.2f} | {r['psnr'] - g:+.2f} | {r['cf']:.1f} | {r['dcf']:.1f} | "
                  f"{r['bias_a']:+.2f} | {r['bias_b']:+.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
