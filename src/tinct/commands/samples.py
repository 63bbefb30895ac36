"""``tinct samples DIR``: write black-and-white sample photos to try tinct on.

The photos come from scikit-image's bundled ``data`` module (public-domain and CC0 images that
ship inside its wheel), so nothing is downloaded."""

from __future__ import annotations

import argparse
from pathlib import Path

SAMPLES = ["astronaut", "coffee", "chelsea", "rocket", "camera"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("samples", help="write black-and-white sample photos (from scikit-image) to DIR",
                       description="Write black-and-white versions of scikit-image's sample photos to DIR.")
    p.add_argument("dir", help="output folder")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        import skimage.data as skdata
    except ImportError:
        from tinct.errors import TinctError

        raise TinctError("the samples come from scikit-image: pip install 'tinct[samples]'") from None
    import numpy as np
    from PIL import Image

    from tinct import color

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        img = np.asarray(getattr(skdata, name)())
        if img.ndim == 3:
            img = color.to_uint8(color.gray_rgb(color.to_tensor(img[:, :, :3])))[:, :, 0]
        path = out / f"{name}.png"
        Image.fromarray(img).save(path)
        print(path)
    return 0
