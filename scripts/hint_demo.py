"""Show what hints do, with numbers and pictures for the docs.

1. One point hint: the mean ab change inside the hinted region vs outside it, and a
   gray | automatic | with the hint side-by-side PNG.
2. A reference image of another scene: the output's color-histogram distance to the reference,
   without and with the reference as a global hint.
3. Several true-colored points (the hint benchmark's draw, on a 256x256 crop): PSNR and a
   gray | automatic | points without the fitted color transform | as shipped | original PNG.

Images default to scikit-image's bundled samples, so nothing from the training data is shown.

    python scripts/hint_demo.py --out-point docs/hint_point.png --out-reference docs/hint_reference.png
"""

from __future__ import annotations

import argparse
import copy
import json
import sys

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from tinct import bench, color, metrics
from tinct.bench.hint_effects import point_effect, reference_shift, save_side_by_side
from tinct.bench.hints import render
from tinct.hints.io import parse_point
from tinct.hints import sample_points
from tinct.hints.fit import hint_patches
from tinct.imageio import load_image
from tinct.pipeline import Colorizer


def sample(name: str) -> np.ndarray:
    if name.startswith("skimage:"):
        import skimage.data as skdata

        return np.asarray(getattr(skdata, name.split(":", 1)[1])())[:, :, :3]
    return load_image(name).rgb


def gray(rgb: np.ndarray) -> np.ndarray:
    return color.to_uint8(color.gray_rgb(color.to_tensor(rgb)))


def several_points(c: Colorizer, rgb: np.ndarray, count: int, out: str) -> dict:
    """PSNR of the automatic output and of ``count`` true-colored points (drawn as the hint
    benchmark draws them, seed 0) with the model as it is and without its fitted color transform,
    on the benchmark's 256x256 crop; writes the five-panel PNG."""
    truth = bench.center_crop_resize(Image.fromarray(rgb), 256)
    lab = color.rgb_to_lab(color.to_tensor(truth))
    l, ab = lab[:, :1], color.normalize_ab(lab[0, 1:])
    ab_hint, mask = sample_points(ab, count, 6, torch.Generator().manual_seed(0))
    plain = Colorizer(c.model, c.render_size, c.temperature, fusion=copy.deepcopy(c.fusion))
    plain.fusion.fit = None
    outs = {"automatic": render(l, c.predict_tensors(l)[0]),
            "points, no fit": render(l, plain.predict_tensors(l, ab_hint[None], mask[None])[0]),
            "points": render(l, c.predict_tensors(l, ab_hint[None], mask[None])[0])}
    labels, n = hint_patches(mask[0].numpy() > 0.5)
    centers = [(float(x), float(y)) for y, x in ndimage.center_of_mass(mask[0].numpy(), labels, range(1, n + 1))]
    save_side_by_side(out, [gray(truth), outs["automatic"], outs["points, no fit"], outs["points"], truth],
                      ["gray input", "automatic", f"{count} points, no fit", f"{count} points", "original"],
                      marks=centers)
    return {name: round(metrics.psnr(img, truth), 2) for name, img in outs.items()} | {"hint_patches": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--image", default="skimage:coffee")
    ap.add_argument("--point", default="300,330,#1f9e3a,8", help="X,Y,#RRGGBB[,SIZE] on the image")
    ap.add_argument("--radius", type=float, default=60.0, help="radius of the hinted region in pixels")
    ap.add_argument("--reference", default="skimage:rocket")
    ap.add_argument("--ref-image", default="skimage:astronaut")
    ap.add_argument("--out-point", default="docs/hint_point.png")
    ap.add_argument("--out-reference", default="docs/hint_reference.png")
    ap.add_argument("--fit-image", default="skimage:chelsea", help="color image for the several-points demo")
    ap.add_argument("--fit-points", type=int, default=10, help="true-colored points drawn as the hint benchmark")
    ap.add_argument("--out-fit", default="docs/hint_fit.png")
    args = ap.parse_args()
    c = Colorizer(args.model)
    img = gray(sample(args.image))
    point = parse_point(args.point)
    eff = point_effect(c, img, point, radius=args.radius, return_images=True)
    save_side_by_side(args.out_point, [img, eff["images"]["before"], eff["images"]["after"]],
                      ["gray input", "automatic", f"one hint {args.point}"], marks=[(point.x, point.y)])
    ref = sample(args.reference)
    img2 = gray(sample(args.ref_image))
    shift = reference_shift(c, img2, ref, return_images=True)
    ref_tile = np.asarray(Image.fromarray(ref).resize((round(ref.shape[1] * img2.shape[0] / ref.shape[0]), img2.shape[0])))
    save_side_by_side(args.out_reference, [shift["images"]["before"], shift["images"]["after"], ref_tile],
                      ["automatic", "with the reference image", "reference"])
    report = {"point": {k: eff[k] for k in ("inside", "outside", "ratio", "region_pixels")},
              "reference": {k: shift[k] for k in ("before", "after", "closer")}}
    if c.fusion is not None:
        report["points"] = several_points(c, sample(args.fit_image), args.fit_points, args.out_fit)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
