"""Is the confidence map calibrated? On a validation folder (the field's protocol: 256x256 center
crops, gray in), per pixel: the CIEDE2000 error of the shipped output against the original, and
each confidence measure of the network's distribution. Prints, per measure, the mean error of each
tenth of the pixels ordered by confidence and the AUROC of the confidence as a detector of pixels
with error > 10 (low confidence = flagged); writes JSON and a plot.

    python scripts/confidence_calibration.py data/photo_v7/val --limit 50 --out docs/confidence

Suggested colors: at ``--points`` random pixels per image, how often the original's color is within
CIEDE2000 10 of one of the top 3 suggestions (:func:`tinct.uncertainty.suggestions`) against how
often it is within 10 of the automatic output.

Measures: ``mass`` (:func:`tinct.uncertainty.confidence`, shipped), ``entropy`` (1 - normalized
entropy) and ``hue`` (how much the probable hues agree, :func:`tinct.color.chroma_target`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct import bench, color, metrics, uncertainty
from tinct.pipeline import Colorizer, lightness

ERROR_THRESHOLD = 10.0


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` ranking positives first (Mann-Whitney U, ties averaged)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):  # average ranks of ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--model", default="photo")
    ap.add_argument("--limit", type=int, help="images per source")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--pixels", type=int, default=4000, help="random pixels kept per image")
    ap.add_argument("--points", type=int, default=5, help="random pixels per image for the suggestions")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    col = Colorizer(args.model)
    model = col.model
    rng = np.random.default_rng(0)
    errs, scores = [], {"mass": [], "entropy": [], "hue": []}
    hits = {"top1": 0, "top3": 0, "auto": 0, "n": 0}
    for path in tqdm(bench.list_images(args.data, args.limit), desc="calibration", unit="img"):
        rgb = bench.load_eval_image(path, args.size)
        l_full = lightness(bench.gray_input(rgb))
        extras: dict = {}
        l_full, ab = col.predict(l_full, None, None, extras=extras)
        out = col.finish(l_full, ab)
        err = metrics.ciede2000(metrics.rgb_to_lab(out), metrics.rgb_to_lab(rgb)).reshape(-1)
        logits = extras["logits"]
        p = uncertainty.distribution(logits)
        ent = 1 - (-(p * p.clamp(min=1e-12).log()).sum(1, keepdim=True) / np.log(p.shape[1]))
        _, hue = color.chroma_target(logits, model.bins, 0.5)
        hw = (args.size, args.size)
        maps = {"mass": extras["confidence"], "entropy": ent, "hue": hue}
        lab_t, lab_o = metrics.rgb_to_lab(rgb), metrics.rgb_to_lab(out)
        p0 = uncertainty.distribution(logits)[0]
        for _ in range(args.points):
            y, x = int(rng.integers(0, args.size)), int(rng.integers(0, args.size))
            gy, gx = y * logits.shape[-2] // args.size, x * logits.shape[-1] // args.size
            sug = uncertainty.suggestions(p0[:, gy, gx], model.bins, 3)
            cand = np.array([[lab_t[y, x, 0], a, b] for (a, b), _ in sug])
            d = metrics.ciede2000(cand, np.repeat(lab_t[y : y + 1, x], len(cand), axis=0))
            hits["top1"] += int(d[0] <= ERROR_THRESHOLD)
            hits["top3"] += int(d.min() <= ERROR_THRESHOLD)
            hits["auto"] += int(metrics.ciede2000(lab_o[y : y + 1, x], lab_t[y : y + 1, x])[0] <= ERROR_THRESHOLD)
            hits["n"] += 1
        idx = rng.choice(err.size, size=min(args.pixels, err.size), replace=False)
        errs.append(err[idx])
        for k, m in maps.items():
            scores[k].append(uncertainty.upsample(m, hw)[0, 0].numpy().reshape(-1)[idx])
    err = np.concatenate(errs)
    report = {"pixels": int(err.size), "threshold": ERROR_THRESHOLD, "share_above": float((err > ERROR_THRESHOLD).mean()),
              "measures": {}}
    for k, v in scores.items():
        c = np.concatenate(v)
        order = np.argsort(c, kind="mergesort")
        tenths = [float(err[part].mean()) for part in np.array_split(order, 10)]  # least confident first
        report["measures"][k] = {"tenths_least_to_most": tenths, "ratio_least_most": tenths[0] / max(tenths[-1], 1e-9),
                                 "monotone": bool(all(a >= b for a, b in zip(tenths, tenths[1:]))),
                                 "auroc": auroc(-c, err > ERROR_THRESHOLD)}
        r = report["measures"][k]
        print(f"{k:8s} AUROC {r['auroc']:.3f}  least/most confident tenth error {tenths[0]:.2f} / {tenths[-1]:.2f} "
              f"({r['ratio_least_most']:.2f}x, monotone {r['monotone']}): " + " ".join(f"{t:.1f}" for t in tenths))
    n = max(hits["n"], 1)
    report["suggestions"] = {"points": hits["n"], "top1_within_10": hits["top1"] / n, "top3_within_10": hits["top3"] / n,
                             "automatic_within_10": hits["auto"] / n,
                             "top3_vs_automatic": hits["top3"] / max(hits["auto"], 1)}
    sg = report["suggestions"]
    print(f"suggestions at {hits['n']} points: the original within CIEDE2000 10 of the top suggestion "
          f"{100 * sg['top1_within_10']:.1f} %, of one of the top 3 {100 * sg['top3_within_10']:.1f} %, of the "
          f"automatic output {100 * sg['automatic_within_10']:.1f} % ({sg['top3_vs_automatic']:.2f}x)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "calibration.json").write_text(json.dumps(report, indent=1))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.6))
        for k, r in report["measures"].items():
            ax.plot(range(1, 11), r["tenths_least_to_most"], marker="o", label=f"{k} (AUROC {r['auroc']:.2f})")
        ax.set_xlabel("tenth of the pixels by confidence (1 = least confident)")
        ax.set_ylabel("mean CIEDE2000 against the original")
        ax.set_title(f"{args.model}: error by confidence ({report['pixels']:,} pixels)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "calibration.png", dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
