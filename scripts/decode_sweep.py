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

from tinct import bench, color, metrics, uncertainty
from tinct.modelfile import load_model


def decode(model, out, t: float, blend: float, chroma: tuple[float, float] | None = None,
           gate: str = "hue", neutral: float = 0.0) -> torch.Tensor:
    """Normalized ab at the regression head's size: blend * regression + (1 - blend) * annealed mean,
    then, with ``chroma`` = (Q, P), made more colorful by ``gate``: "hue" / "confidence": chroma
    raised towards the Q-quantile of the distribution's chroma by the hues' agreement or the shipped
    confidence (:func:`tinct.uncertainty.confidence`) to the power P (:func:`tinct.color.raise_chroma`);
    "spread": colors moved away from the image's mean by the gain Q, by confidence^P; "vivid": that
    spread raised towards Q ab units by at most the gain P, by confidence (:func:`raise_spread`)."""
    am = color.normalize_ab(color.annealed_mean(out["logits"], model.bins, t))
    ab = blend * out["ab"] + (1 - blend) * color.resize_ab(am, out["ab"].shape[-2:])
    if chroma is None:
        return ab
    raw = color.denormalize_ab(ab)
    if gate == "hue":
        target, sure = color.chroma_target(out["logits"], model.bins, chroma[0])
        return color.normalize_ab(color.raise_chroma(raw, target, sure ** chroma[1]))
    conf = uncertainty.confidence(out["logits"], model.bins, raw)
    if gate == "confidence":
        target, _ = color.chroma_target(out["logits"], model.bins, chroma[0])
        return color.normalize_ab(color.raise_chroma(raw, target, conf ** chroma[1]))
    if gate == "spread":  # a fixed gain: an unreachable target spread, the gain its cap
        return color.normalize_ab(raise_spread(raw, conf ** chroma[1], float("inf"), chroma[0]))
    return color.normalize_ab(raise_spread(raw, conf, chroma[0], chroma[1], neutral))


def raise_spread(ab: torch.Tensor, weight: torch.Tensor, target: float, max_gain: float,
                 neutral: float = 0.0) -> torch.Tensor:
    """Raw ab (N, 2, H, W) with each image's colors moved away from its own mean color (which stays)
    by a gain that brings the spread of its colors (root of the summed variances of a and b) up to
    ``target``, at most ``max_gain``, never down; in full where ``weight`` (N, 1, h, w) is 1;
    colors of less chroma than ``neutral`` moved in proportion to their chroma."""
    if weight.shape[-2:] != ab.shape[-2:]:
        weight = torch.nn.functional.interpolate(weight, size=ab.shape[-2:], mode="bilinear", align_corners=False)
    if neutral > 0:
        weight = weight * (ab.norm(dim=1, keepdim=True) / neutral).clamp(max=1.0)
    mean = ab.mean(dim=(2, 3), keepdim=True)
    spread = (ab - mean).pow(2).mean(dim=(2, 3), keepdim=True).sum(1, keepdim=True).sqrt()
    gain = (target / spread.clamp(min=1e-3)).clamp(1.0, max_gain)
    return mean + (ab - mean) * (1 + (gain - 1) * weight)


def overall(scores) -> dict:
    """The same figures over every image of every source."""
    keys = next(iter(scores.values())).keys()
    pooled = {k: [s for per in scores.values() for s in per[k]] for k in keys}
    gt_cf = float(np.mean([s[1] for s in pooled["truth"]]))
    return {k: {"psnr": float(np.mean([s[0] for s in v])), "cf": float(np.mean([s[1] for s in v])),
                "dcf": abs(float(np.mean([s[1] for s in v])) - gt_cf), "bias_a": float(np.mean([s[2] for s in v])),
                "bias_b": float(np.mean([s[3] for s in v])), "spread": float(np.mean([s[4] for s in v])), "n": len(v)}
            for k, v in pooled.items() if k != "truth"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("data", type=Path)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.4, 0.5, 0.6])
    ap.add_argument("--blends", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    ap.add_argument("--chroma", nargs="*", default=[], metavar="Q,P",
                    help="also each decoding with chroma raised to quantile Q by hue sureness^P (e.g. 0.7,2)")
    ap.add_argument("--gate", choices=["hue", "confidence", "spread", "vivid"], default="hue",
                    help="what --chroma Q,P means: chroma raised to quantile Q by the hues' agreement^P or by the "
                         "shipped confidence^P; 'spread': colors moved from the image's mean by gain Q, by "
                         "confidence^P; 'vivid': that spread raised towards Q ab units by at most gain P, by "
                         "confidence")
    ap.add_argument("--neutral", type=float, default=0.0, help="vivid: chroma below which colors move less")
    ap.add_argument("--render-size", type=int, help="the network's working size (default: --size)")
    ap.add_argument("--limit", type=int, help="images per source")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.model, role="colorizer")
    files = bench.list_images(args.data, args.limit)
    chromas = [None] + [tuple(float(v) for v in c.split(",")) for c in args.chroma]
    combos = [(t, b, c) for t in args.temperatures for b in args.blends for c in chromas]
    work = args.render_size or args.size
    scores: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in tqdm(files, desc="sweep", unit="img"):
        src = bench.source_of(path, args.data) or "all"
        rgb = bench.load_eval_image(path, args.size)
        gray = bench.gray_input(rgb)
        l = torch.from_numpy(color.l_from_uint8(rgb))[None, None]
        l_work = torch.nn.functional.interpolate(l, size=(work, work), mode="bilinear", align_corners=False,
                                                 antialias=True) if work != args.size else l
        with torch.inference_mode():
            out = model(color.normalize_l(l_work))
        rows = {"gray": gray}
        for t, b, c in combos:
            with torch.inference_mode():
                dec = decode(model, out, t, b, c, args.gate, args.neutral)
                ab = color.resize_ab(color.denormalize_ab(dec), (args.size, args.size))
            key = f"T{t:g}/b{b:g}" + (f"/q{c[0]:g}p{c[1]:g}" if c else "")
            rows[key] = color.lab_to_uint8(l[0, 0].numpy(), *ab[0].numpy())
        for key, pred in rows.items():
            lab_p, lab_t = metrics.rgb_to_lab(pred), metrics.rgb_to_lab(rgb)
            bias = (lab_p[..., 1:] - lab_t[..., 1:]).reshape(-1, 2).mean(0)
            scores[src][key].append((metrics.psnr(pred, rgb), metrics.colorfulness(pred), float(bias[0]),
                                     float(bias[1]), metrics.colorfulness_spread(pred)))
        scores[src]["truth"].append((0.0, metrics.colorfulness(rgb), 0.0, 0.0, metrics.colorfulness_spread(rgb)))
    report = {}
    for src, per in sorted(scores.items()):
        gt_cf = float(np.mean([s[1] for s in per["truth"]]))
        report[src] = {k: {"psnr": float(np.mean([s[0] for s in v])), "cf": float(np.mean([s[1] for s in v])),
                           "dcf": abs(float(np.mean([s[1] for s in v])) - gt_cf),
                           "bias_a": float(np.mean([s[2] for s in v])), "bias_b": float(np.mean([s[3] for s in v])),
                           "spread": float(np.mean([s[4] for s in v])),
                           "n": len(v)} for k, v in per.items() if k != "truth"}
    report["all"] = overall(scores)
    print("| source | decoding | PSNR | vs gray | CF | dCF | CF spread | a bias | b bias |\n|---|---|---|---|---|---|---|---|---|")
    for src, rows in report.items():
        g = rows["gray"]["psnr"]
        for k, r in rows.items():
            print(f"| {src} | {k} | {r['psnr']:.2f} | {r['psnr'] - g:+.2f} | {r['cf']:.1f} | {r['dcf']:.1f} | {r['spread']:.1f} | "
                  f"{r['bias_a']:+.2f} | {r['bias_b']:+.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
