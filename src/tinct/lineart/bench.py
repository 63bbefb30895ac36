"""``tinct bench lineart``: line-art colorizers on held-out color images.

Each image (shorter side resized to SIZE, center crop SIZExSIZE) becomes a drawing three times:
with Canny (80/160, the seed's way), with XDoG (default settings), and as a manga page would draw
it (the XDoG lines over black fills and screentone dots, :func:`tinct.lineart.extract.screentone` at
its defaults); each drawing is colorized by each
model with no hint, with the automatic hint (models that have one), with the original's 512-bin
histogram (the seed's hint) and with 10 point hints taken from the original (seeded). PSNR, SSIM
and CIEDE2000 against the original, colorfulness (CF) against the originals' CF, and what a
colorist checks (:mod:`tinct.lineart.measure`): the share of pixels in areas of one flat color and
the color crossing the lines. The seed report's
three rows (L2 CNN, c-GAN, c-GAN + auto hint) are picked out in their own table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinct import metrics
from tinct.bench import list_images, load_bench_model, load_eval_image
from tinct.bench.report import contact_sheet
from tinct.imageio import atomic_write_bytes
from tinct.errors import TinctError
from tinct.hints import Hints, Point
from tinct.lineart.extract import canny, screentone, xdog
from tinct.lineart.measure import crossing_share, flat_share

DRAWINGS = {"canny": lambda img: canny(img, 80, 160, 1), "xdog": lambda img: xdog(img),
            "manga": lambda img: screentone(xdog(img), img)}
HINT_KINDS = ("none", "auto", "histogram", "10 points")
POINTS = 10


def drawing_rgb(lines: np.ndarray) -> np.ndarray:
    """A gray drawing as the RGB image a user would give."""
    return np.repeat(lines[:, :, None], 3, axis=2)


def truth_points(img: np.ndarray, n: int, seed: int) -> list[Point]:
    """``n`` point hints at seeded random places, each with the original's mean color of a 5x5 patch."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        y, x = int(rng.integers(2, h - 2)), int(rng.integers(2, w - 2))
        rgb = img[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0).round().astype(int)
        out.append(Point(x=x, y=y, rgb=tuple(int(v) for v in rgb)))
    return out


def colorize(colorizer, drawing: np.ndarray, kind: str, original: np.ndarray, seed: int) -> np.ndarray | None:
    """One output of ``colorizer`` for a hint kind; None when the model has no such input."""
    model = colorizer.model
    auto = model.auto_hint
    if kind == "auto" and not auto:
        return None
    if kind != "none" and not colorizer.supports_hints:
        return None
    if auto:
        model.use_auto = kind == "auto"
    try:
        hints = {"none": None, "auto": None, "histogram": Hints(reference=original),
                 "10 points": Hints(points=truth_points(original, POINTS, seed))}[kind]
        return colorizer(drawing_rgb(drawing), hints)
    finally:
        if auto:
            model.use_auto = True


def score(pred: np.ndarray, drawing: np.ndarray, original: np.ndarray) -> dict[str, float]:
    """The field's metrics of one output plus the colorist's (flat share, crossing)."""
    return {**metrics.image_metrics(pred, original), "flat_share": flat_share(pred, drawing),
            "crossing": crossing_share(pred, drawing, original)}


def run_lineart_bench(data: Path, models: list[str], out: Path, size: int = 256, limit: int | None = None,
                      seed: int = 0, sheet_count: int = 6, progress: bool = True) -> dict[str, Any]:
    files = list_images(data, limit)
    if not files:
        raise TinctError(f"no images in {data}")
    loaded = [load_bench_model(m, size) for m in models]
    for m in loaded:
        if m.colorizer.output_kind != "lab":
            raise TinctError(f"{m.label!r} is not a line-art model (it colors a gray photo's own lightness)")
    scores: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    gt_cf: list[float] = []
    sheet: list[list[np.ndarray]] = []
    labels = ["drawing (xdog)"] + [f"{m.label} {k}" for m in loaded for k in HINT_KINDS
                                   if not (k == "auto" and not m.colorizer.model.auto_hint)] + ["original"]
    for i, path in enumerate(tqdm(files, desc="lineart bench", disable=not progress, unit="img")):
        img = load_eval_image(path, size)
        gt_cf.append(metrics.colorfulness(img))
        row = None
        for draw_name, draw in DRAWINGS.items():
            drawing = draw(img)
            if draw_name == "xdog" and i < sheet_count:
                row = [drawing_rgb(drawing)]
            for m in loaded:
                for kind in HINT_KINDS:
                    pred = colorize(m.colorizer, drawing, kind, img, seed * 100_003 + i)
                    if pred is None:
                        continue
                    scores.setdefault((m.label, draw_name, kind), []).append(score(pred, drawing, img))
                    if row is not None and draw_name == "xdog":
                        row.append(pred)
        if row is not None:
            sheet.append(row + [img])
    rows = []
    mean_cf = float(np.mean(gt_cf))
    for (label, draw_name, kind), per in scores.items():
        mean = {k: float(np.nanmean([p[k] for p in per])) for k in ("psnr", "ssim", "ciede2000", "cf", "flat_share",
                                                                    "crossing")}
        rows.append({"model": label, "drawing": draw_name, "hint": kind, **mean, "delta_cf": abs(mean["cf"] - mean_cf),
                     "images": len(per)})
    report = {"data": str(data), "images": len(files), "size": size, "seed": seed, "original_cf": mean_cf, "rows": rows,
              "models": {m.label: {"spec": m.spec, "params": m.params} for m in loaded}}
    report["markdown"] = markdown(report)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "lineart_bench.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "lineart_bench.md", report["markdown"].encode())
    if sheet:
        contact_sheet(sheet, labels).save(out / "lineart_sheet.png")
    return report


def markdown(report: dict[str, Any]) -> str:
    head = (f"Line art -> color: {report['images']} images, {report['size']}x{report['size']}, "
            f"originals' CF {report['original_cf']:.1f}\n\n"
            "| model | drawing | hint | PSNR | SSIM | CIEDE2000 | CF | dCF | flat % | crossing % |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    fmt = (lambda r: f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['ciede2000']:.2f} | {r['cf']:.1f} | "
           f"{r['delta_cf']:.1f} | {100 * r.get('flat_share', float('nan')):.1f} | "
           f"{100 * r.get('crossing', float('nan')):.1f} |")
    lines = [f"| {r['model']} | {r['drawing']} | {r['hint']} | " + fmt(r) for r in report["rows"]]
    seed = [r for r in report["rows"] if r["drawing"] == "canny" and r["hint"] in ("histogram", "auto")]
    seed.sort(key=lambda r: (r["hint"] == "auto", r["psnr"]))
    table = ("\n\nThe seed report's rows (Canny drawings; its CNN, c-GAN and c-GAN + auto hint):\n\n"
             "| model | hint | PSNR | SSIM | CIEDE2000 | CF | dCF | flat % | crossing % |\n"
             "|---|---|---|---|---|---|---|---|---|\n")
    table += "\n".join(f"| {r['model']} | {'automatic' if r['hint'] == 'auto' else 'original histogram'} | " + fmt(r)
                       for r in seed)
    return head + "\n".join(lines) + table + "\n"
