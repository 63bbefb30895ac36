"""The outputs of ``tinct bench``: the Markdown table, ``bench.json``, ``bench.md`` and the
contact sheet (rows = images; columns = gray | each model | original), all written atomically."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tinct.imageio import atomic_write_bytes

SHEET_TILE_MAX = 256  # contact-sheet tiles are the benchmark size, at most this many pixels
SHEET_HEADER = 18  # pixels above the first row for the column labels

_QUALITY = (("PSNR", "psnr", "{:.2f}"), ("SSIM", "ssim", "{:.4f}"), ("CF", "cf", "{:.2f}"), ("CF spread", "cf_spread", "{:.2f}"),
            ("dCF", "delta_cf", "{:.2f}"), ("CIEDE2000", "ciede2000", "{:.2f}"), ("AuC %", "auc", "{:.2f}"),
            ("a bias", "bias_a", "{:+.2f}"), ("b bias", "bias_b", "{:+.2f}"))


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return spec.format(value)


def format_params(n: int | None) -> str:
    """3412345 -> '3.41M'."""
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def markdown_table(report: dict[str, Any]) -> str:
    """The summary table of a report, one row per model (gray baseline and ground truth included)."""
    rows = report["rows"]
    sizes = report["settings"].get("latency_sizes", [])
    ratio = any("speed_ratio" in r for r in rows)
    train = any("train_s" in r for r in rows)
    head = ["model", "params", *[q[0] for q in _QUALITY], *[f"{s}px ms" for s in sizes]]
    if ratio:
        head += [f"{s}px vs ref" for s in sizes]
    if train:
        head += ["train s", "final loss"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["label"].replace("|", "\\|"), format_params(r.get("params"))]
        cells += [_fmt(r.get(key), spec) for _, key, spec in _QUALITY]
        lat = r.get("latency_ms", {})
        cells += [_fmt(lat.get(str(s)), "{:.0f}") for s in sizes]
        if ratio:
            cells += [_fmt(r.get("speed_ratio", {}).get(str(s)), "{:.2f}x") for s in sizes]
        if train:
            cells += [_fmt(r.get("train_s"), "{:.0f}"), _fmt(r.get("final_loss"), "{:.4f}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def source_table(report: dict[str, Any]) -> str:
    """Per-source rows (``report["sources"]``): for every source, the gray input and each model."""
    head = ["source", "images", "model", *[q[0] for q in _QUALITY]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for src, entry in report.get("sources", {}).items():
        for r in entry["rows"]:
            cells = [src, str(entry["n_images"]), r["label"].replace("|", "\\|")]
            cells += [_fmt(r.get(key), spec) for _, key, spec in _QUALITY]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def realism_table(report: dict[str, Any]) -> list[str]:
    """The classifier test's lines for ``bench.md`` (:mod:`tinct.bench.realism`)."""
    rows = report["realism"]
    n = next(iter(rows.values()))["n"]
    lines = [f"Classifier test (EfficientNet-Lite2, ImageNet top-1 / top-5 on the {n} images with an ImageNet "
             "label; `recovered`: share of the gray-to-original top-1 gap the colors win back):", "",
             "| images | top-1 % | top-5 % | recovered |", "|---|---|---|---|"]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['top1']:.1f} | {r['top5']:.1f} | {_fmt(r['recovered'], '{:+.2f}')} |")
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    """``bench.md``: settings, the table and how to read it."""
    st, mach = report["settings"], report["machine"]
    cf = ("DDColor variant (abs of rg and yb)" if st["cf_variant"] == "ddcolor-abs"
          else "plain Hasler-Suesstrunk 2003 (no abs)")
    notes = [
        f"# tinct bench: {st['n_images']} images from `{st['data']}` at {st['size']}x{st['size']}",
        "",
        markdown_table(report),
        "",
        *([f"Per source (subfolders of `{st['data']}`):", "", source_table(report), ""]
          if report.get("sources") else []),
        *(realism_table(report) if report.get("realism") else []),
        f"- Protocol: {st['protocol']}.",
        (f"- Colorfulness (CF): {cf}; dCF = |mean CF of the outputs - mean CF of the originals|; "
         "`ground truth` shows the originals' CF."),
        ("- CIEDE2000: mean over pixels; AuC: share of pixels with ab within t of the truth, "
         "t = 0..150, averaged (Zhang et al. 2016), in %; a bias / b bias: mean a / b of the outputs minus "
         "the originals' (CIE Lab; b > 0 is a yellow cast, a > 0 a red one)."),
    ]
    sizes = [f"{r['label']} {r['render_size']} px" for r in report["rows"] if r.get("render_size")]
    if sizes:
        notes.append("- Working size (the longer side the model predicts at; its colors are then put on the "
                     f"{st['size']}x{st['size']} L): " + ", ".join(sizes) + ".")
    if any(r.get("kind") == "arch" for r in report["rows"]):
        notes.append("- `arch:NAME` rows are architectures with random weights, timed only (quality shown as -).")
    if st.get("latency"):
        notes.append(f"- Latency: median of {st['latency_runs']} runs after a warm-up, CPU, fp32, batch 1, "
                     f"{st['threads']} torch threads, a `Colorizer` call on a gray image of that size "
                     "with render_size = that size.")
    if st.get("speed_ref"):
        notes.append(f"- `vs ref`: latency divided by that of `{st['speed_ref']}` (same run).")
    if report.get("train"):
        t = report["train"]
        notes.append(f"- Trained in this run: {t['steps']} steps, batch {t['batch_size']}, crop {t['crop']}, "
                     f"seed {t['seed']}, data `{t['data']}`; `train s` is the training wall time, "
                     "`final loss` the last epoch's generator loss.")
    notes.append(f"- tinct {report['tinct_version']}, {report['date']}, {mach['processor'] or mach['machine']}, "
                 f"{mach['cpu_count']} CPUs, torch {mach['torch']}.")
    return "\n".join(notes) + "\n"


def _json_safe(x: Any) -> Any:
    """NaN / inf -> None (strict JSON); numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x




def _fit_label(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def contact_sheet(rows: list[list[np.ndarray]], labels: list[str], tile: int | None = None) -> Image.Image:
    """A grid image: one row per image, one column per entry of ``labels``, labels on top.
    Tiles are ``tile`` pixels (default: the image size, at most ``SHEET_TILE_MAX``)."""
    if not rows:
        raise ValueError("a contact sheet needs at least one row")
    tile = tile or min(rows[0][0].shape[0], SHEET_TILE_MAX)
    sheet = Image.new("RGB", (tile * len(labels), SHEET_HEADER + tile * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for j, label in enumerate(labels):
        draw.text((j * tile + 3, 3), _fit_label(draw, label, font, tile - 6), fill="black", font=font)
    for i, images in enumerate(rows):
        for j, img in enumerate(images):
            im = Image.fromarray(img)
            if im.size != (tile, tile):
                im = im.resize((tile, tile), Image.BICUBIC)
            sheet.paste(im, (j * tile, SHEET_HEADER + i * tile))
    return sheet


def write_outputs(report: dict[str, Any], sheet_rows: list[list[np.ndarray]] | None,
                  sheet_labels: list[str] | None, out: Path) -> dict[str, Path]:
    """Write ``bench.json``, ``bench.md`` and (when there are rows) ``contact_sheet.png`` into ``out``."""
    out = Path(out)
    paths = {"json": out / "bench.json", "md": out / "bench.md"}
    atomic_write_bytes(paths["json"], (json.dumps(_json_safe(report), indent=2) + "\n").encode())
    atomic_write_bytes(paths["md"], markdown(report).encode())
    if sheet_rows and sheet_labels:
        buf = io.BytesIO()
        contact_sheet(sheet_rows, sheet_labels).save(buf, format="PNG")
        paths["sheet"] = out / "contact_sheet.png"
        atomic_write_bytes(paths["sheet"], buf.getvalue())
    report.setdefault("outputs", {}).update({k: str(v) for k, v in paths.items()})
    return paths
