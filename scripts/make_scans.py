"""A folder of archive-like test scans for ``tinct bench throughput``: gray JPEGs of a given size
(default 4000x3000, 12 MP) made from the photos of a folder, with film grain, EXIF (date, make,
model) and an sRGB ICC profile, as a scanning service would deliver them.

    python scripts/make_scans.py ../shared/data/photos/val ../shared/data/photos/train -o scans/ --count 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from tinct.bench import list_images


def make_scan(src: Path, dst: Path, long_side: int, seed: int, icc: bytes) -> None:
    im = Image.open(src).convert("L")
    short = long_side * 3 // 4
    im = im.resize((long_side, short) if im.width >= im.height else (short, long_side), Image.BICUBIC)
    grain = np.random.default_rng(seed).normal(0, 6, (im.height, im.width))
    im = Image.fromarray(np.clip(np.asarray(im, np.float32) + grain, 0, 255).astype(np.uint8), "L")
    exif = Image.Exif()
    exif[0x0132], exif[0x010F], exif[0x0110] = "1962:05:01 10:00:00", "Kodak", "Retina"  # date, make, model
    im.save(dst, quality=90, exif=exif.tobytes(), icc_profile=icc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, nargs="+", help="folders of photos (or of source folders of photos), in turn")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--long-side", type=int, default=4000)
    args = ap.parse_args()
    if args.count < 1 or not 64 <= args.long_side <= 20000:
        print("--count must be at least 1 and --long-side 64-20000", file=sys.stderr)
        return 2
    files = [f for d in args.data for f in list_images(d)][: args.count]
    if not files:
        print(f"no images in {', '.join(map(str, args.data))}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for i, src in enumerate(files):
        make_scan(src, args.out / f"scan{i:04d}.jpg", args.long_side, i, icc)
    print(f"{len(files)} scans in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
