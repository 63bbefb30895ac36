"""How should a palette or reference image reweight the network's colors? On validation photos
with each photo's own original as the reference (the best reference there can be), score the
automatic output and each way of turning the reference's color histogram into a prior over the
313 bins: PSNR gain over no hint and colorfulness (CF), per decoding.

    python scripts/global_hint_sweep.py data/photo_v7/val --limit 20

``plain g``: the shipped rule, the distribution times prior^g. ``ratio g``: the distribution times
(prior / the image's mean predicted distribution)^g, which moves the picture's overall color
histogram toward the reference's instead of toward its most common (often gray) colors."""

from __future__ import annotations

import argparse

import numpy as np
import torch
from tqdm import tqdm

from tinct import bench, color, metrics
from tinct.hints import Hints, to_tensors
from tinct.pipeline import Colorizer, working_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--model", default="photo")
    ap.add_argument("--exponents", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    args = ap.parse_args()
    torch.set_num_threads(1)
    col = Colorizer(args.model)
    m = col.model
    rows: dict[str, list] = {}
    t = m.default_temperature
    for path in tqdm(bench.list_images(args.data, args.limit), unit="img"):
        rgb = bench.load_eval_image(path, 256)
        l_full = col.lightness(bench.gray_input(rgb))
        hw = working_size((256, 256), col.render_size)
        l_work = torch.nn.functional.interpolate(l_full, size=hw, mode="bilinear", align_corners=False, antialias=True)
        _, _, glob = to_tensors(Hints(reference=rgb), (256, 256), hw)
        with torch.inference_mode():
            auto = col.predict_tensors(l_work)[0]
            out = m(color.normalize_l(l_work), global_hint=glob)
            prior = color.histogram_ab_prior(glob[:, :-1], m.bins)
            pbar = torch.softmax(out["logits"], 1).mean((2, 3)).clamp(min=1e-6)
            variants = {"auto": auto}
            for g in args.exponents:
                for name, lp in ((f"plain {g:g}", g * prior.log()), (f"ratio {g:g}", g * (prior.log() - pbar.log()))):
                    variants[name] = color.annealed_mean(out["logits"], m.bins, t, lp)
        for name, ab in variants.items():
            pred = col.finish(l_full, ab)
            rows.setdefault(name, []).append((metrics.psnr(pred, rgb), metrics.colorfulness(pred)))
        rows.setdefault("truth", []).append((0.0, metrics.colorfulness(rgb)))
    base = np.mean([r[0] for r in rows["auto"]])
    print(f"{'decoding':10s} PSNR gain over auto | CF (originals {np.mean([r[1] for r in rows['truth']]):.1f})")
    for name, r in rows.items():
        if name != "truth":
            print(f"{name:10s} {np.mean([v[0] for v in r]) - base:+.2f} dB | {np.mean([v[1] for v in r]):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
