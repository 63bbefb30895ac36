"""Colorize a folder of real black-and-white photos (no color original exists) and report how
colorful the results are: the mean Hasler-Suesstrunk colorfulness (CF) of the outputs, and a
contact sheet of gray | colorized pairs; also the mean a and b of the outputs (no truth exists,
but a warm cast over every photo shows as a large mean b).

    python scripts/bw_report.py ../shared/data/bw_photos --model photo --out docs/bw_photos_sheet.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from tinct import color, metrics
from tinct.bench import list_images
from tinct.imageio import load_image
from tinct.pipeline import Colorizer


def tile(rgb: np.ndarray, side: int) -> Image.Image:
    im = Image.fromarray(rgb)
    im.thumbnail((side, side), Image.LANCZOS)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
    return canvas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--render-size", type=int, help="working size (default: the model's own)")
    ap.add_argument("--out", default="docs/bw_photos_sheet.jpg")
    ap.add_argument("--columns", type=int, default=5, help="pairs per row")
    ap.add_argument("--tile", type=int, default=180)
    args = ap.parse_args()
    colorizer = Colorizer(args.model, render_size=args.render_size)
    files = list_images(Path(args.folder))
    pairs, cf_in, cf_out, ab_out = [], [], [], []
    for f in tqdm(files, desc="colorize", unit="img"):
        img = load_image(f)
        out = colorizer(img.rgb)
        assert out.shape == img.rgb.shape  # full resolution
        cf_in.append(metrics.colorfulness(img.rgb))
        cf_out.append(metrics.colorfulness(out))
        ab_out.append(metrics.rgb_to_lab(out)[..., 1:].reshape(-1, 2).mean(0))
        gray = color.to_uint8(color.gray_rgb(color.to_tensor(img.rgb)))  # what the model sees
        pairs.append((tile(gray, args.tile), tile(out, args.tile)))
    cols, t = args.columns, args.tile
    rows = (len(pairs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * 2 * t + (cols - 1) * 8, rows * t + 24), (255, 255, 255))
    for i, (a, b) in enumerate(pairs):
        x, y = (i % cols) * (2 * t + 8), 24 + (i // cols) * t
        sheet.paste(a, (x, y))
        sheet.paste(b, (x + t, y))
    ImageDraw.Draw(sheet).text((4, 6), f"{len(pairs)} black-and-white photos | tinct model '{args.model}' "
                               f"(render size {colorizer.render_size}); mean CF of outputs {np.mean(cf_out):.1f}", fill=(0, 0, 0))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    summary = {"images": len(files), "model": args.model, "mean_cf_input": float(np.mean(cf_in)),
               "mean_cf_output": float(np.mean(cf_out)), "min_cf_output": float(np.min(cf_out)),
               "mean_a_output": float(np.mean([v[0] for v in ab_out])),
               "mean_b_output": float(np.mean([v[1] for v in ab_out])),
               "sheet": args.out}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
