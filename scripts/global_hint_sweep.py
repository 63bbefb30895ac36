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
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct import bench, color, metrics
from tinct.hints import Hints, to_tensors
from tinct.pipeline import Colorizer, lightness, working_size


def dominant_colors(rgb: np.ndarray, k: int = 3) -> list[tuple[tuple[int, int, int], float]]:
    """The ``k`` dominant colors of an image (k-means in RGB, seeded) with their shares as weights."""
    import cv2

    px = rgb.reshape(-1, 3).astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centers = cv2.kmeans(px, k, None, crit, 3, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / labels.size
    return [(tuple(int(round(v)) for v in c), float(w)) for c, w in zip(centers, shares)]


def sheet(col, args) -> int:
    """Rows of: automatic | the palette under the rule before (prior^g) | under the ratio rule | the
    reference image under the ratio rule, for each photo of ``args.data``."""
    from PIL import Image

    from tinct.hints.io import parse_palette
    from tinct.imageio import load_image

    m = col.model
    palette = parse_palette(args.sheet_palette)
    ref = load_image(args.sheet_reference).rgb if args.sheet_reference else None
    rows = []
    for path in bench.list_images(Path(args.data)):
        im = Image.fromarray(load_image(path).rgb)
        im.thumbnail((320, 320))
        rgb = np.asarray(im)
        h, w = rgb.shape[:2]
        l_full = lightness(rgb)
        hw = working_size((h, w), col.render_size)
        l_work = torch.nn.functional.interpolate(l_full, size=hw, mode="bilinear", align_corners=False, antialias=True)
        _, _, glob = to_tensors(Hints(palette=palette), (h, w), hw)
        with torch.inference_mode():
            out = m(color.normalize_l(l_work), global_hint=glob)
            before = color.annealed_mean(out["logits"], m.bins, m.default_temperature,
                                         m.global_prior * color.histogram_ab_prior(glob[:, :-1], m.bins).log())
        tiles = [col(rgb), col.finish(l_full, before), col(rgb, hints=Hints(palette=palette))]
        if ref is not None:
            tiles.append(col(rgb, hints=Hints(reference=ref)))
        rows.append(np.hstack(tiles))
    width = max(r.shape[1] for r in rows)
    canvas = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    Image.fromarray(canvas).save(args.sheet, quality=88)
    print(f"wrote {args.sheet}: automatic | {args.sheet_palette} before | now"
          + (f" | reference {args.sheet_reference} now" if ref is not None else ""))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--model", default="photo")
    ap.add_argument("--exponents", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    ap.add_argument("--sheet", help="instead: write a sheet (automatic | palette before | palette now | reference "
                    "now) of the photos of DATA with --sheet-palette and the --sheet-reference image")
    ap.add_argument("--sheet-palette", default="#c04020:2,#3060a0")
    ap.add_argument("--sheet-reference")
    ap.add_argument("--caps", type=float, nargs="*", default=[], help="also the ratio clamped to [1/C, C]")
    ap.add_argument("--palette", action="store_true",
                    help="hint with a palette of the original's 3 dominant colors (weights: their shares) instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    col = Colorizer(args.model)
    m = col.model
    if args.sheet:
        return sheet(col, args)
    rows: dict[str, list] = {}
    t = m.default_temperature
    for path in tqdm(bench.list_images(args.data, args.limit), unit="img"):
        rgb = bench.load_eval_image(path, 256)
        l_full = lightness(bench.gray_input(rgb))
        hw = working_size((256, 256), col.render_size)
        l_work = torch.nn.functional.interpolate(l_full, size=hw, mode="bilinear", align_corners=False, antialias=True)
        hints = Hints(palette=dominant_colors(rgb)) if args.palette else Hints(reference=rgb)
        _, _, glob = to_tensors(hints, (256, 256), hw)
        with torch.inference_mode():
            auto = col.predict_tensors(l_work)[0]
            out = m(color.normalize_l(l_work), global_hint=glob)
            prior = color.histogram_ab_prior(glob[:, :-1], m.bins)
            pbar = torch.softmax(out["logits"], 1).mean((2, 3)).clamp(min=1e-6)
            variants = {"auto": auto}
            ratio = prior.log() - pbar.log()
            for g in args.exponents:
                cands = [(f"plain {g:g}", g * prior.log()), (f"ratio {g:g}", g * ratio)]
                cands += [(f"ratio {g:g} cap {c:g}", g * ratio.clamp(-np.log(c), np.log(c))) for c in args.caps]
                for name, lp in cands:
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
