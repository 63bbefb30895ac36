"""Is a point hint a local edit? For every photo of a folder, ``--clicks`` trials of ``--points``
saturated points of random hues at random places (seeded), placed at once, against the same photo
without hints: the mean |delta ab| (CIE Lab) of pixels farther than 30 % of the shorter side from
every point, against the mean within 10 % of any of them. Prints the mean of both, the mean far/near ratio, and the share of clicks
whose ratio is at most 0.25 (issue 16's criterion); ``--sheet`` writes a before/after sheet of the
first clicks (no hint | the click with ``--compare`` | the click with ``--model``).

    python scripts/hint_locality.py ../shared/data/bw_photos --model photo --clicks 10 --sheet docs/hint_locality.png
"""

from __future__ import annotations

import argparse
import colorsys
import json

import numpy as np
from PIL import Image, ImageDraw

from tinct import metrics
from tinct.bench import list_images
from tinct.hints import Hints, Point
from tinct.imageio import load_image
from tinct.pipeline import Colorizer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--clicks", type=int, default=10, help="trials per photo")
    ap.add_argument("--points", type=int, default=1, help="unrelated points placed at once in a trial")
    ap.add_argument("--max-side", type=int, default=512, help="photos are scaled to this longer side first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", help="before/after sheet of the first click of the first 6 photos")
    ap.add_argument("--compare", help="another model (say, without confinement) shown beside --model in the sheet")
    args = ap.parse_args()
    c = Colorizer(args.model)
    other = Colorizer(args.compare) if args.compare else None
    rng = np.random.default_rng(args.seed)
    rows, sheet = [], []
    for path in list_images(args.data):
        im = Image.fromarray(load_image(path).rgb)
        im.thumbnail((args.max_side, args.max_side), Image.BICUBIC)
        rgb = np.asarray(im)
        h, w = rgb.shape[:2]
        base = metrics.rgb_to_lab(c(rgb))[..., 1:]
        yy, xx = np.mgrid[0:h, 0:w]
        short = min(h, w)
        for k in range(args.clicks):
            pts = []
            for _ in range(args.points):
                x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
                hue = float(rng.random())
                col = tuple(int(round(v * 255)) for v in colorsys.hsv_to_rgb(hue, 1.0, 1.0))
                pts.append(Point(x=x, y=y, rgb=col))
            out = c(rgb, Hints(points=pts))
            d = np.sqrt(((metrics.rgb_to_lab(out)[..., 1:] - base) ** 2).sum(-1))
            dist = np.min([np.hypot(yy - p.y, xx - p.x) for p in pts], axis=0)
            near, far = float(d[dist <= 0.1 * short].mean()), float(d[dist > 0.3 * short].mean()) if (dist > 0.3 * short).any() else 0.0
            rows.append({"image": path.name, "points": [(p.x, p.y, p.rgb) for p in pts], "near": near, "far": far,
                         "ratio": far / max(near, 1e-6)})
            if args.sheet and k == 0 and len(sheet) < 6:
                tiles = [Image.fromarray(c(rgb))]
                for result in ([other(rgb, Hints(points=pts))] if other else []) + [out]:
                    marked = Image.fromarray(result)
                    for p in pts:
                        ImageDraw.Draw(marked).ellipse((p.x - 6, p.y - 6, p.x + 6, p.y + 6), outline=(255, 255, 255),
                                                       width=2)
                    tiles.append(marked)
                sheet.append(tiles)
    near = float(np.mean([r["near"] for r in rows]))
    far = float(np.mean([r["far"] for r in rows]))
    ratio = float(np.mean([r["ratio"] for r in rows]))
    ok = float(np.mean([r["ratio"] <= 0.25 for r in rows]))
    print(json.dumps({"trials": len(rows), "points": args.points, "mean_near": round(near, 2), "mean_far": round(far, 2),
                      "far_over_near_of_means": round(far / near, 3), "mean_ratio": round(ratio, 3),
                      "share_ratio_at_most_0.25": round(ok, 3)}))
    if args.sheet and sheet:
        tw = 256
        rows = [[t.resize((tw, round(tw * t.height / t.width))) for t in row] for row in sheet]
        hgt = max(r[0].height for r in rows)
        canvas = Image.new("RGB", (len(rows[0]) * tw, hgt * len(rows)), "white")
        for i, row in enumerate(rows):
            for j, t in enumerate(row):
                canvas.paste(t, (j * tw, i * hgt))
        canvas.save(args.sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
