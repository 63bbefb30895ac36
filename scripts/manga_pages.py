"""Side-by-side sheet of line-art models on black-and-white manga pages (screentones, black fills,
lettering; pages printed in color are left out): page | each model's automatic colors, plus what a colorist would check on the page as
numbers: the chroma left on the page's black ink (should be none) and the share of the page's
white paper made darker than light gray (mud).

    python scripts/manga_pages.py ~/.cache/tinct/data/mantra --pages 6 --models lineart v5=RUN/model.safetensors \
        --out docs/lineart_manga.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tinct import Colorizer
from tinct.bench import list_images
from tinct.metrics import rgb_to_lab

HEIGHT = 480  # sheet tile height


def page_figures(page: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """Chroma on the page's ink (gray < 40) and the share of its paper (gray > 230) shown below L 80."""
    gray = page.mean(2)
    lab = rgb_to_lab(out)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    ink, paper = gray < 40, gray > 230
    return {"ink_chroma": float(chroma[ink].mean()) if ink.any() else float("nan"),
            "paper_mud": float((lab[..., 0][paper] < 80).mean()) if paper.any() else float("nan")}


def in_color(path: Path) -> bool:
    """A page printed in color (mean channel spread above 8 levels), not a black-and-white one."""
    a = np.asarray(Image.open(path).convert("RGB").reduce(4)).astype(np.int16)
    return float((a.max(2) - a.min(2)).mean()) > 8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--pages", type=int, default=6, help="pages in the sheet (every page is measured)")
    ap.add_argument("--limit", type=int, default=None, help="measure at most this many pages (spread evenly)")
    ap.add_argument("--models", nargs="+", default=["lineart"], help="names or LABEL=FILE")
    ap.add_argument("--out", default="docs/lineart_manga.jpg")
    args = ap.parse_args()
    files = [f for f in list_images(Path(args.folder)) if not in_color(f)]  # black-and-white pages only
    if args.limit:
        files = files[:: max(1, len(files) // args.limit)][: args.limit]
    if not files:
        print(f"no images in {args.folder}", file=sys.stderr)
        return 2
    models = [(m.split("=", 1) if "=" in m else (m, m)) for m in args.models]
    colorizers = [(label, Colorizer(src)) for label, src in models]
    sheet_every = max(1, len(files) // max(1, args.pages))
    rows, figures = [], {label: [] for label, _ in models}
    for i, f in enumerate(files):
        page = np.asarray(Image.open(f).convert("RGB"))
        outs = [c(page) for _, c in colorizers]
        for (label, _), out in zip(colorizers, outs):
            figures[label].append(page_figures(page, out))
        if i % sheet_every == 0 and len(rows) < args.pages:
            w = round(page.shape[1] * HEIGHT / page.shape[0])
            rows.append([np.asarray(Image.fromarray(x).resize((w, HEIGHT), Image.LANCZOS)) for x in [page, *outs]])
    summary = {label: {k: float(np.nanmean([r[k] for r in rs])) for k in ("ink_chroma", "paper_mud")}
               for label, rs in figures.items()}
    print(json.dumps({"pages": len(files), **summary}, indent=2))
    labels = ["page"] + [label for label, _ in models]
    lines = [np.hstack(r) for r in rows]
    width = max(x.shape[1] for x in lines)
    sheet = Image.new("RGB", (width, 16 + sum(x.shape[0] for x in lines)), "white")
    draw, y = ImageDraw.Draw(sheet), 16
    for j, label in enumerate(labels):
        draw.text((j * rows[0][0].shape[1] + 3, 2), label, fill="black")
    for x in lines:
        sheet.paste(Image.fromarray(x), (0, y))
        y += x.shape[0]
    sheet.save(args.out, quality=85)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
