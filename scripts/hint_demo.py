"""Show what hints do, with numbers and pictures for the docs.

1. One point hint: the mean ab change inside the hinted region vs outside it, and a
   gray | automatic | with the hint side-by-side PNG.
2. A reference image of another scene: the output's color-histogram distance to the reference,
   without and with the reference as a global hint.

Images default to scikit-image's bundled samples, so nothing from the training data is shown.

    python scripts/hint_demo.py --out-point docs/hint_point.png --out-reference docs/hint_reference.png
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from PIL import Image

from tinct import color
from tinct.bench_hints import point_effect, reference_shift, save_side_by_side
from tinct.hintio import parse_point
from tinct.imageio import load_image
from tinct.pipeline import Colorizer


def sample(name: str) -> np.ndarray:
    if name.startswith("skimage:"):
        import skimage.data as skdata

        return np.asarray(getattr(skdata, name.split(":", 1)[1])())[:, :, :3]
    return load_image(name).rgb


def gray(rgb: np.ndarray) -> np.ndarray:
    return color.to_uint8(color.gray_rgb(color.to_tensor(rgb)))


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
    print(json.dumps({"point": {k: eff[k] for k in ("inside", "outside", "ratio", "region_pixels")},
                      "reference": {k: shift[k] for k in ("before", "after", "closer")}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
