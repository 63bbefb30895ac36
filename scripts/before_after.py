"""The README's before/after strip: gray input | tinct output for a few scikit-image sample photos.

    python scripts/before_after.py [--model photo] [--out docs/before_after.png]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tinct import color
from tinct.bench.hint_effects import save_side_by_side
from tinct.pipeline import Colorizer

SAMPLES = ("coffee", "chelsea", "astronaut")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--out", default="docs/before_after.png")
    args = ap.parse_args()
    import skimage.data as skdata

    c = Colorizer(args.model)
    panels, labels = [], []
    for name in SAMPLES:
        rgb = np.asarray(getattr(skdata, name)())[:, :, :3]
        gray = color.to_uint8(color.gray_rgb(color.to_tensor(rgb)))
        h = 318
        panels += [gray, c(gray)]
        labels += ["input", f"tinct {c.name}"]
    # one height for all panels
    from PIL import Image

    panels = [np.asarray(Image.fromarray(p).resize((round(p.shape[1] * h / p.shape[0]), h), Image.LANCZOS))
              for p in panels]
    print(save_side_by_side(args.out, panels, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
