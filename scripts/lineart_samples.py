"""Contact sheet of a line-art model on folders of illustrations and real sketches:
drawing | automatic | with a reference | the reference | original.

A picture that is already a drawing (mostly paper, hardly any color) is used as it is; a side-by-side
"color | sketch" demo image (twice as wide as high) is split; any other color picture becomes a
drawing by XDoG and its own histogram is the reference. A real sketch has no original: it gets the
next color picture of the folder as its reference.

    python scripts/lineart_samples.py ../shared/data/illustration/samples [PENCIL_DIR ...] --model lineart \
        --out docs/lineart_samples.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tinct import Colorizer, Hints, metrics
from tinct.bench.report import contact_sheet
from tinct.lineart import xdog

TILE = 256


def is_drawing(rgb: np.ndarray) -> bool:
    """Mostly light paper and almost no color."""
    a = rgb.astype(np.float32)
    chroma = (a.max(2) - a.min(2)).mean()
    return chroma < 12 and (a.mean(2) > 200).mean() > 0.5


def split_demo(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(color, drawing) halves of a side-by-side demo image, or None."""
    h, w = rgb.shape[:2]
    if w < 1.6 * h:
        return None
    left, right = rgb[:, : w // 2], rgb[:, w // 2 : w // 2 * 2]
    if is_drawing(right) and not is_drawing(left):
        return left, right
    return None


def square(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb)
    s = min(im.size)
    x, y = (im.width - s) // 2, (im.height - s) // 2
    return np.asarray(im.crop((x, y, x + s, y + s)).resize((TILE, TILE), Image.BICUBIC))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--model", default="lineart")
    ap.add_argument("--out", default="docs/lineart_samples.jpg")
    args = ap.parse_args()
    files = [p for folder in args.folders
             for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    items = []  # (name, drawing, original or None)
    for p in files:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        demo = split_demo(rgb)
        if demo is not None:
            items.append((p.name, demo[1], demo[0]))
        elif is_drawing(rgb):
            items.append((p.name, rgb, None))
        else:
            items.append((p.name, np.repeat(xdog(rgb)[:, :, None], 3, 2), rgb))
    colors = [o for _, _, o in items if o is not None]
    if not colors:
        raise SystemExit("no color picture in the folder to take a reference from")
    c = Colorizer(args.model)
    rows, report, k = [], [], 0
    blank = np.full((TILE, TILE, 3), 255, np.uint8)
    for name, drawing, original in items:
        if original is None:
            reference, k = colors[k % len(colors)], k + 1
        else:
            reference = original
        auto = c(drawing)
        guided = c(drawing, Hints(reference=reference))
        row = [square(x) for x in (drawing, auto, guided, reference)] + [square(original) if original is not None else blank]
        rows.append(row)
        entry = {"file": name, "real_sketch": original is None}
        if original is not None and original.shape == auto.shape:
            entry.update(psnr_auto=metrics.psnr(auto, original), psnr_reference=metrics.psnr(guided, original),
                         cf_auto=metrics.colorfulness(auto), cf_reference=metrics.colorfulness(guided),
                         cf_original=metrics.colorfulness(original))
        report.append(entry)
        print(json.dumps(entry))
    labels = ["drawing", f"{args.model}: automatic", f"{args.model}: with the reference", "reference", "original"]
    sheet = contact_sheet(rows, labels, tile=TILE // 2 * 2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
