"""The user-hint benchmark of Zhang et al. (SIGGRAPH 2017), and two checks of what hints do.

Protocol (docs BENCHMARKS.md; the authors' ``test_sweep.py`` in richzhang/colorization-pytorch):
each image is resized so its shorter side is ``size`` and center-cropped to ``size`` x ``size``
(the authors squash it to 256x256 instead); for every hint count, ``count`` square patches of
side ``patch`` (6, as ``opt.sample_Ps = [6]`` in that script) are placed with centers ~ Normal(image
center, sigma = side / 4) and filled with the patch's mean ground-truth ab
(:func:`tinct.hints.sample_points`). Every method sees the same hints: they are drawn once per
(image, count) from a ``torch.Generator`` seeded by ``(seed, image index, count)``. The score is
PSNR on uint8 RGB (L of the truth + predicted ab), averaged over images.

``python -m tinct.bench.hints DATA_DIR --models levin [FILE ...] --out DIR [--limit N]``
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from tinct import color, metrics
from tinct.bench import field as bench
from tinct.imageio import atomic_write_bytes
from tinct.errors import ImageError, ModelFileError, TinctError
from tinct.hints import sample_points
from tinct.modelfile import resolve_model
from tinct.pipeline import Colorizer
from tinct.registry import create_model, list_models
from tinct.rendersize import STRIDE

COUNTS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)
SIGGRAPH17_PSNR = dict(zip(COUNTS, (24.43, 25.37, 26.20, 27.39, 28.42, 29.34, 30.42, 31.13, 31.70, 32.14)))
SIGGRAPH17_LABEL = "SIGGRAPH17 (paper, ImageNet)"
GRAY = "gray (ab = 0)"
PATCH = 6


# ---------------------------------------------------------------- images and scores
def list_images(data_dir: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """Image files directly in ``data_dir``, sorted by name, the first ``limit`` of them."""
    d = Path(data_dir)
    if not d.is_dir():
        raise ImageError(f"image folder not found: {d}")
    return bench.list_images(d, limit)


def render(l: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """Raw L (1, 1, H, W) + raw ab (1, 2, h, w) -> H x W x 3 uint8."""
    return color.to_uint8(color.recombine(l, ab))


# ---------------------------------------------------------------- methods
def open_method(name: str | os.PathLike) -> Colorizer:
    """A shipped model name, a model file, or a weightless zoo model such as ``"levin"``."""
    try:
        return Colorizer(resolve_model(name))
    except ModelFileError:
        weightless = {s.name for s in list_models("colorizer") if not s.cls.trainable}
        if str(name) not in weightless:
            raise
        return Colorizer(create_model(str(name)))


def network_only(colorizer: Colorizer) -> Colorizer:
    """The same model with its hint fusion stage removed (the network's own use of the hints)."""
    return Colorizer(colorizer.model, colorizer.render_size, colorizer.temperature)


def _method_names(models: Sequence[str | os.PathLike]) -> list[str]:
    names: list[str] = []
    for m in models:
        base = Path(m).stem if str(m).endswith(".safetensors") else str(m)
        name, k = base, 2
        while name in names:
            name, k = f"{base} ({k})", k + 1
        names.append(name)
    return names


# ---------------------------------------------------------------- the benchmark
def _open_methods(models: Sequence[str | os.PathLike]) -> dict[str, Colorizer]:
    """Named colorizers for ``models``; a fused model is also scored without its fusion stage."""
    methods = dict(zip(_method_names(models), (open_method(m) for m in models)))
    for name, colorizer in list(methods.items()):
        if colorizer.fusion is not None:
            methods[f"{name} (network only)"] = network_only(colorizer)
    return methods


def _score_image(methods: dict[str, Colorizer], i: int, path: Path, size: int, seed: int, counts: Sequence[int],
                 patch: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """PSNR of gray and of every method at every hint count on image ``i``, and the seconds spent."""
    truth = bench.load_eval_image(path, size)
    lab = color.rgb_to_lab(color.to_tensor(truth))
    l, ab = lab[:, :1], color.normalize_ab(lab[0, 1:])
    gray = np.full(len(counts), metrics.psnr(render(l, torch.zeros_like(lab[:, 1:])), truth))
    rows = {name: np.zeros(len(counts)) for name in methods}
    seconds = dict.fromkeys(methods, 0.0)
    for j, count in enumerate(counts):
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, i, count]).generate_state(1)[0]))
        ab_hint, mask = sample_points(ab, count, patch, gen)
        for name, colorizer in methods.items():
            t0 = time.perf_counter()
            pred = colorizer.predict_tensors(l, ab_hint[None], mask[None])[0]
            seconds[name] += time.perf_counter() - t0
            rows[name][j] = metrics.psnr(render(l, pred), truth)
    return gray, rows, seconds


_WORKER_METHODS: dict[str, Colorizer] = {}


def _init_worker(models: Sequence[str], parent: int) -> None:
    torch.set_num_threads(1)
    _exit_with_parent(parent)
    _WORKER_METHODS.update(_open_methods(models))


def _exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """A worker left behind by a killed benchmark (its parent process ``parent`` gone) exits
    instead of idling on."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _score_in_worker(args):
    return _score_image(_WORKER_METHODS, *args)


def run_hint_bench(data_dir: str | os.PathLike, models: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                   size: int = 256, limit: int | None = None, seed: int = 0, counts: Sequence[int] = COUNTS,
                   patch: int = PATCH, progress: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Run the SIGGRAPH17 hint sweep; write ``hints_bench.md``, ``hints_bench.json`` and
    ``hints_curve.png`` to ``out_dir`` and return the JSON record (mean PSNR per method and count).
    ``jobs`` > 1 scores that many images at once in worker processes of one torch thread each
    (the same hints and scores as one job: every draw is seeded by the image's index)."""
    from tqdm import tqdm

    if size % STRIDE:
        raise TinctError(f"benchmark size must be a multiple of {STRIDE}, got {size}")
    counts = [int(c) for c in counts]
    if not counts or min(counts) < 0:
        raise TinctError("hint counts must be zero or more")
    if jobs < 1:
        raise TinctError(f"jobs must be 1 or more, got {jobs}")
    files = list_images(data_dir, limit)
    methods = _open_methods(models)  # opened here too, so a bad model name fails before any work
    names = list(methods)
    scores = {n: np.zeros((len(files), len(counts))) for n in [*names, GRAY]}
    seconds = dict.fromkeys(names, 0.0)
    work = [(i, path, size, seed, counts, patch) for i, path in enumerate(files)]
    bar = tqdm(total=len(files), desc="hint bench", unit="img", disable=not progress)
    if jobs == 1:
        results = (_score_image(methods, *w) for w in work)
        pool = None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=([str(m) for m in models], os.getpid()))
        results = pool.map(_score_in_worker, work)
    try:
        for i, (gray, rows, secs) in enumerate(results):
            scores[GRAY][i] = gray
            for name in names:
                scores[name][i] = rows[name]
                seconds[name] += secs[name]
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    n = len(files)
    result: dict[str, Any] = {
        "benchmark": "SIGGRAPH17 user hints",
        "protocol": {"size": size, "crop": "shorter side resized, center crop", "patch": patch,
                     "center_sigma": "side / 4", "hint_color": "patch mean of the truth", "seed": seed,
                     "counts": counts, "metric": "PSNR (dB) on uint8 RGB, mean over images"},
        "data_dir": str(data_dir), "images": [p.name for p in files],
        "methods": {name: {"psnr": s.mean(axis=0).round(3).tolist(),
                           "stderr": (s.std(axis=0) / math.sqrt(n)).round(3).tolist(),
                           "seconds_per_colorization": round(seconds[name] / (n * len(counts)), 4) if name in seconds else None,
                           "per_image": s.round(3).tolist()}
                    for name, s in scores.items()},
        "reference": {SIGGRAPH17_LABEL: [SIGGRAPH17_PSNR.get(c) for c in counts]},
    }
    write_results(result, out_dir)
    return result


def write_results(result: dict[str, Any], out_dir: str | os.PathLike) -> None:
    """``hints_bench.json``, ``hints_bench.md`` and ``hints_curve.png`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "hints_bench.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(out / "hints_bench.md", markdown_table(result).encode())
    atomic_write_bytes(out / "hints_curve.png", plot_curve(result))


def merge_results(result: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """Add the methods of an ``earlier`` run that ``result`` lacks (a slow baseline such as Levin
    need not be re-run). The two runs must share the protocol (hints are drawn per seed, image and
    count, so the same protocol means the same hints) and the image list."""
    if earlier.get("protocol") != result["protocol"] or earlier.get("images") != result["images"]:
        raise TinctError("the earlier hint-bench run used another protocol or other images; it cannot be merged")
    merged = dict(result, methods=dict(result["methods"]))
    for name, row in earlier["methods"].items():
        merged["methods"].setdefault(name, row)
    return merged


def markdown_table(result: dict[str, Any]) -> str:
    """Rows = methods (and the SIGGRAPH17 reference), columns = hint counts, mean PSNR in dB."""
    counts = result["protocol"]["counts"]
    p = result["protocol"]
    lines = [(f"PSNR (dB) vs number of hints: {len(result['images'])} images, {p['size']}x{p['size']}, "
              f"{p['patch']}x{p['patch']} patches, seed {p['seed']}"), "",
             "| method | " + " | ".join(str(c) for c in counts) + " |", "|---" * (len(counts) + 1) + "|"]
    rows = {k: v["psnr"] for k, v in result["methods"].items()} | result["reference"]
    for name, vals in rows.items():
        lines.append(f"| {name} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in vals) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the curve
def _x(count: int) -> float:
    return count if count > 0 else 0.4  # 0 hints sits left of 1 on the log axis


def plot_curve(result: dict[str, Any]) -> bytes:
    """PNG bytes of PSNR vs number of hints (log x, 0 at the left), one line per method."""
    counts = result["protocol"]["counts"]
    series = {k: v["psnr"] for k, v in result["methods"].items()}
    series |= {k: v for k, v in result["reference"].items() if any(x is not None for x in v)}
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return _plot_pil(counts, series)
    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, vals in series.items():
        pts = [(_x(c), v) for c, v in zip(counts, vals) if v is not None]
        style = "k--s" if name == SIGGRAPH17_LABEL else ("-" if name == GRAY else "-o")
        ax.plot(*zip(*pts), style, label=name, markersize=4)
    ax.set_xscale("log")
    ax.set_xticks([_x(c) for c in counts], [str(c) for c in counts])
    ax.minorticks_off()
    ax.set_xlabel("number of hints")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _plot_pil(counts: list[int], series: dict[str, list]) -> bytes:
    """The same curve drawn with PIL, for installs without matplotlib."""
    w, h, m = 640, 420, 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    vals = [v for s in series.values() for v in s if v is not None]
    lo, hi = math.floor(min(vals)), math.ceil(max(vals)) + 1e-9
    xs = [math.log(_x(c)) for c in counts]

    def px(c: int) -> float:
        return m + (math.log(_x(c)) - min(xs)) / max(max(xs) - min(xs), 1e-9) * (w - 2 * m)

    def py(v: float) -> float:
        return h - m - (v - lo) / (hi - lo) * (h - 2 * m)

    d.rectangle([m, m, w - m, h - m], outline="black")
    for c in counts:
        d.text((px(c) - 6, h - m + 6), str(c), fill="black")
    for v in range(lo, math.ceil(hi) + 1):
        d.text((6, py(v) - 6), f"{v}", fill="black")
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#000000"]
    for k, (name, s) in enumerate(series.items()):
        c = palette[k % len(palette)]
        pts = [(px(n), py(v)) for n, v in zip(counts, s) if v is not None]
        d.line(pts, fill=c, width=2)
        d.text((m + 8, m + 6 + 14 * k), name, fill=c)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tinct.bench.hints", description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", help="folder of color test images")
    ap.add_argument("--models", nargs="+", default=["levin"], help="shipped names, model files or 'levin'")
    ap.add_argument("--out", default="hints_bench", help="output folder")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None, help="use the first N images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--counts", default=",".join(map(str, COUNTS)), help="comma-separated hint counts")
    ap.add_argument("--patch", type=int, default=PATCH, help="hint patch side in pixels")
    ap.add_argument("--jobs", type=int, default=1, help="images scored at once, in worker processes (one torch "
                    "thread each); the same scores as one job")
    ap.add_argument("--merge", help="hints_bench.json of an earlier run with the same protocol and images: "
                    "its methods missing here are added to the table and plot")
    args = ap.parse_args(argv)
    try:
        counts = [int(c) for c in args.counts.split(",")]
        earlier = None
        if args.merge:
            try:
                earlier = json.loads(Path(args.merge).read_text())
            except (OSError, ValueError) as exc:
                raise TinctError(f"--merge {args.merge}: not a readable hint-bench JSON ({type(exc).__name__})") from None
        result = run_hint_bench(args.data_dir, args.models, args.out, args.size, args.limit, args.seed, counts, args.patch,
                                jobs=args.jobs)
        if earlier is not None:
            result = merge_results(result, earlier)
            write_results(result, args.out)
    except (TinctError, ValueError) as exc:
        print(f"tinct.bench.hints: error: {exc}", file=sys.stderr)
        return 2
    print(markdown_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
