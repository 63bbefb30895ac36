"""``tinct bench``: the field's automatic-colorization protocol (docs/BENCHMARKS.md) on a folder of
color images, for any set of model files, always beside the gray baseline (ab = 0).

Each image is resized so its shorter side is ``size`` and center-cropped to ``size x size``; the
model sees the gray image made from its L (through :class:`tinct.pipeline.Colorizer`, the one
inference path, at the model's own working size as ``tinct colorize`` uses it, or ``size`` for a
model that records none; ``render_size`` sets one for all) and its output is compared with the
original. Model
specs: a shipped name (``photo``), a model file, ``LABEL=FILE`` to name a row, or ``arch:NAME``
(optionally ``arch:NAME:key=value,...``): that architecture with random weights, timed only.

:func:`run_train_budget` is the architecture study: train every colorizer of the zoo with the same
data, steps, batch, crop and seed, then benchmark the exported files in one table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinct import __version__, color, imageio, metrics
from tinct.errors import TinctError
from tinct.hints import GRID_CELLS, Hints

LATENCY_SIZES = (256, 512)
GRAY_LABEL = "gray (ab=0)"
TRUTH_LABEL = "ground truth"
PROTOCOL = ("each image resized so its shorter side is {size} px (bicubic), center-cropped to "
            "{size}x{size}; the model sees the gray image made from L (ab = 0) and is compared with "
            "the original; metrics averaged per image")


# ---------------------------------------------------------------- data
def find_data_dir(path: str | os.PathLike) -> Path:
    """A data folder given by a user, which must exist."""
    p = Path(path)
    if not p.is_dir():
        raise TinctError(f"data folder not found: {p}")
    return p


def list_images(data_dir: Path, limit: int | None = None) -> list[Path]:
    """The image files directly inside ``data_dir``, sorted by name, at most ``limit``. A folder
    with no images of its own but subfolders with images is a set of sources: their images are
    listed (each source's sorted, at most ``limit`` per source), see :func:`source_of`."""
    def direct(d: Path) -> list[Path]:
        return imageio.list_images(d, recursive=False)

    files = direct(Path(data_dir))
    if not files:
        for sub in sorted(p for p in Path(data_dir).iterdir() if p.is_dir()):
            files += direct(sub)[:limit] if limit else direct(sub)
        if files:
            return files
    if not files:
        raise TinctError(f"no images ({', '.join(sorted(imageio.INPUT_EXTENSIONS))}) in {data_dir} or its subfolders")
    return files[:limit] if limit else files


def source_of(path: Path, data_dir: Path) -> str | None:
    """The source (subfolder) of a benchmark image, or None for an image directly in ``data_dir``."""
    rel = path.relative_to(data_dir)
    return rel.parts[0] if len(rel.parts) > 1 else None


center_crop_resize = imageio.center_crop_resize


def load_eval_image(path: Path, size: int) -> np.ndarray:
    """One benchmark image: ``size x size x 3`` uint8 RGB, as the field's protocol."""
    return imageio.load_square(path, size)


def gray_input(rgb: np.ndarray) -> np.ndarray:
    """The gray image (ab = 0, same L) of a uint8 RGB image: the model input and the baseline."""
    return color.to_uint8(color.gray_rgb(color.to_tensor(rgb)))


# ---------------------------------------------------------------- models
@dataclass
class BenchModel:
    label: str
    spec: str
    colorizer: Any  # tinct.pipeline.Colorizer
    params: int
    quality: bool  # False for ``arch:NAME`` (random weights): timed only


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_model_spec(text: str) -> tuple[str, str, dict[str, Any] | str]:
    """``(kind, label, target)``: ``("arch", "arch:NAME", kwargs)`` or ``("file", label, name_or_path)``."""
    if text.startswith("arch:"):
        name, _, opts = text[5:].partition(":")
        kwargs: dict[str, Any] = {}
        for item in filter(None, opts.split(",")):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise TinctError(f"bad model option {item!r} in {text!r}; use arch:NAME:key=value,...")
            kwargs[key.strip()] = _parse_value(value.strip())
        if not name:
            raise TinctError(f"bad model spec {text!r}; use arch:NAME")
        return "arch", text, {"name": name, **kwargs}
    m = re.match(r"^([\w.-]+)=(.+)$", text)
    if m and not Path(text).exists():
        return "file", m.group(1), m.group(2)
    stem = Path(text).stem if text.endswith(".safetensors") else text
    return "file", stem, text


def load_bench_model(text: str, size: int, label: str | None = None) -> BenchModel:
    """Build the :class:`~tinct.pipeline.Colorizer` of one model spec."""
    from tinct.pipeline import Colorizer
    from tinct.registry import create_model, get_spec

    kind, default_label, target = parse_model_spec(text)
    if kind == "arch":
        kwargs = dict(target)  # type: ignore[arg-type]
        name = kwargs.pop("name")
        spec = get_spec(name)
        if spec.role != "colorizer":
            raise TinctError(f"{name!r} is a {spec.role}, not a colorizer")
        if "pretrained" in spec.cls.init_only_kwargs:
            kwargs.setdefault("pretrained", False)  # random weights: no download, no file read
        torch.manual_seed(0)
        colorizer = Colorizer(create_model(name, **kwargs), render_size=size)
    else:
        colorizer = Colorizer(target, render_size=size)  # type: ignore[arg-type]
    params = sum(p.numel() for p in colorizer.model.parameters())
    return BenchModel(label or default_label, text, colorizer, params, quality=kind != "arch")


def measure_latency(colorizer, size: int, runs: int, seed: int = 0) -> float:
    """Median milliseconds of a call of the ``Colorizer`` on a ``size x size`` gray image at
    ``render_size = size``, over ``runs`` runs after one warm-up run."""
    rng = np.random.default_rng(seed)
    gray = np.repeat(rng.integers(0, 256, (size, size, 1), dtype=np.uint8), 3, axis=2)
    colorizer(gray, render_size=size)
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        colorizer(gray, render_size=size)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


# ---------------------------------------------------------------- the benchmark
@dataclass
class BenchConfig:
    models: list[str]
    """model specs: shipped name, model file, LABEL=FILE, or arch:NAME[:k=v,...] (timed only)"""
    data: Path
    out: Path = Path("runs/bench")
    size: int = 256
    limit: int | None = None
    latency_runs: int = 10
    threads: int = 2
    latency: bool = True
    sheet_count: int = 8
    speed_ref: str | None = None
    """label or spec of the model whose latency the others are divided by"""
    cf_abs: bool = False
    """DDColor's colorfulness variant (abs of rg and yb) instead of plain Hasler-Suesstrunk"""
    progress: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    """optional row label per model spec"""
    render_size: int | None = None
    """working size of every model (None: each model's own, else ``size``)"""
    grid: bool = False
    """also score each hint model with the 14x14 color grid taken from the original (the artwork report's hint)"""
    realism: bool = False
    """also run the classifier test (:mod:`tinct.bench.realism`) on the images with an ImageNet label"""


GRID_SUFFIX = " + 14x14 grid"


def grid_of(rgb: np.ndarray, cells: int = GRID_CELLS) -> np.ndarray:
    """The ``cells x cells`` grid of mean colors of an image: the color grid a user would paint."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((cells, cells), Image.BOX))


def machine_info(threads: int) -> dict[str, Any]:
    return {"processor": platform.processor(), "machine": platform.machine(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "torch": torch.__version__}


def _check_config(cfg: BenchConfig) -> None:
    if not 32 <= cfg.size <= 4096:
        raise TinctError(f"--size must be between 32 and 4096, got {cfg.size}")
    for name, value, low in (("--limit", cfg.limit, 1), ("--latency-runs", cfg.latency_runs, 1),
                             ("--threads", cfg.threads, 1), ("--sheet-count", cfg.sheet_count, 0)):
        if value is not None and value < low:
            raise TinctError(f"{name} must be at least {low}, got {value}")
    if cfg.render_size is not None:
        from tinct.rendersize import check_render_size

        check_render_size(cfg.render_size, what="--render-size")


def _unique_labels(models: list[BenchModel]) -> None:
    seen: dict[str, int] = {}
    for m in models:
        if m.label in seen or m.label in (GRAY_LABEL, TRUTH_LABEL):
            seen[m.label] = seen.get(m.label, 1) + 1
            m.label = f"{m.label}#{seen[m.label]}"
        else:
            seen[m.label] = 1


def _render_size(cfg: BenchConfig, m: BenchModel) -> int:
    """The working size a model is scored at: the one given, else the model's own, else the bench size."""
    return cfg.render_size or m.colorizer.model.render_size or cfg.size


def _mean_row(label: str, kind: str, per_image: list[dict[str, float]], gt_cf_mean: float) -> dict[str, Any]:
    row: dict[str, Any] = {"label": label, "kind": kind}
    for key in ("psnr", "ssim", "cf", "cf_spread", "ciede2000", "auc", "bias_a", "bias_b"):
        if all(key in r for r in per_image):
            row[key] = float(np.mean([r[key] for r in per_image]))
    row["delta_cf"] = metrics.delta_cf([r["cf"] for r in per_image], [gt_cf_mean])
    return row


def _source_rows(sources: list[str | None], gt_cf: list[float],
                 per_model: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Mean rows per source: ``{source: {"n_images", "rows": [ground truth, gray, models...]}}``."""
    out: dict[str, Any] = {}
    for src in sorted({s for s in sources if s}):
        idx = [i for i, s in enumerate(sources) if s == src]
        gt = float(np.mean([gt_cf[i] for i in idx]))
        rows = [{"label": TRUTH_LABEL, "kind": "truth", "cf": gt, "delta_cf": 0.0}]
        for label, per in per_model.items():
            rows.append(_mean_row(label, "gray" if label == GRAY_LABEL else "model", [per[i] for i in idx], gt))
        out[src] = {"n_images": len(idx), "rows": rows}
    return out


def label_of(path: Path) -> int | None:
    from tinct.bench.realism import label_of as _label_of

    return _label_of(path)


def run_bench(cfg: BenchConfig, extra: dict[str, dict[str, Any]] | None = None,
              train: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the benchmark and write ``bench.json``, ``bench.md`` and ``contact_sheet.png`` into
    ``cfg.out``. ``extra`` adds columns to model rows by label; ``train`` is a training record
    stored in the report. Returns the report."""
    from tqdm import tqdm

    from tinct.bench import report as bench_report

    _check_config(cfg)
    specs = list(cfg.models)
    known = set(specs) | {cfg.labels.get(s) or parse_model_spec(s)[1] for s in specs}
    if cfg.speed_ref and cfg.speed_ref not in known:
        specs.append(cfg.speed_ref)  # e.g. --speed-ref arch:cic without listing it in --models
    files = list_images(cfg.data, cfg.limit)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        models = [load_bench_model(s, cfg.size, cfg.labels.get(s)) for s in specs]
        _unique_labels(models)
        scored = [m for m in models if m.quality]
        # (label, model, with the grid): the grid rows follow their model's row
        entries = [(m.label + suffix, m, bool(suffix)) for m in scored
                   for suffix in (("", GRID_SUFFIX) if cfg.grid and m.colorizer.supports_hints else ("",))]
        names, gt_cf, gray_rows = [], [], []
        per_model: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in entries}
        sheet_rows: list[list[np.ndarray]] = []
        judge, hits = None, {TRUTH_LABEL: [], GRAY_LABEL: [], **{label: [] for label, _, _ in entries}}
        if cfg.realism:
            from tinct.bench.realism import Judge

            judge = Judge()
        for path in tqdm(files, desc="bench", unit="img", disable=not cfg.progress):
            rgb = load_eval_image(path, cfg.size)
            gray = gray_input(rgb)
            names.append(path.name)
            gt_cf.append(metrics.colorfulness(rgb, abs_values=cfg.cf_abs))
            gray_rows.append(metrics.image_metrics(gray, rgb, cf_abs=cfg.cf_abs))
            outputs = []
            for label, m, with_grid in entries:
                hints = Hints(grid=grid_of(rgb)) if with_grid else None
                out = m.colorizer(gray, hints, render_size=_render_size(cfg, m))
                per_model[label].append(metrics.image_metrics(out, rgb, cf_abs=cfg.cf_abs))
                outputs.append(out)
            cls = label_of(path) if judge is not None else None
            if cls is not None:
                for label, img in ((TRUTH_LABEL, rgb), (GRAY_LABEL, gray), *zip([e[0] for e in entries], outputs)):
                    hits[label].append(judge(img, cls))
            if len(sheet_rows) < cfg.sheet_count:
                sheet_rows.append([gray, *outputs, rgb])
        gt_mean = float(np.mean(gt_cf))
        rows = [{"label": TRUTH_LABEL, "kind": "truth", "cf": gt_mean, "delta_cf": 0.0},
                _mean_row(GRAY_LABEL, "gray", gray_rows, gt_mean)]
        for m in models:
            row = _mean_row(m.label, "model", per_model[m.label], gt_mean) if m.quality else \
                {"label": m.label, "kind": "arch"}
            row.update(spec=m.spec, params=m.params, **(extra or {}).get(m.label, {}))
            if m.quality:
                row["render_size"] = _render_size(cfg, m)
            if cfg.latency:
                row["latency_ms"] = {str(s): measure_latency(m.colorizer, s, cfg.latency_runs) for s in LATENCY_SIZES}
            rows.append(row)
            if m.label + GRID_SUFFIX in per_model:
                rows.append({**_mean_row(m.label + GRID_SUFFIX, "model", per_model[m.label + GRID_SUFFIX], gt_mean),
                             "spec": m.spec, "params": m.params, "hints": "14x14 grid from the original"})
    finally:
        torch.set_num_threads(prev_threads)
    speed_ref = _add_speed_ratios(rows, models, cfg.speed_ref) if cfg.speed_ref and cfg.latency else None
    report = {
        "tinct_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(cfg.threads),
        "settings": {"data": str(cfg.data), "n_images": len(files), "size": cfg.size,
                     "protocol": PROTOCOL.format(size=cfg.size), "limit": cfg.limit, "render_size": cfg.render_size,
                     "cf_variant": "ddcolor-abs" if cfg.cf_abs else "hasler-suesstrunk",
                     "threads": cfg.threads, "latency": cfg.latency, "latency_runs": cfg.latency_runs,
                     "latency_sizes": list(LATENCY_SIZES) if cfg.latency else [],
                     "speed_ref": speed_ref, "models": specs},
        "rows": rows,
        "per_image": {"images": names, "gt_cf": gt_cf, "models": {GRAY_LABEL: gray_rows, **per_model}},
    }
    sources = [source_of(p, Path(cfg.data)) for p in files]
    if any(sources):
        report["sources"] = _source_rows(sources, gt_cf, {GRAY_LABEL: gray_rows, **per_model})
    if cfg.realism:
        from tinct.bench.realism import summarize

        if not hits[TRUTH_LABEL]:
            raise TinctError(f"--realism: no image in {cfg.data} has an ImageNet label in its name "
                             "(an Imagenette synset id such as n01440764)")
        report["realism"] = summarize(hits, TRUTH_LABEL, GRAY_LABEL)
    if train is not None:
        report["train"] = train
    sheet_labels = ["gray", *[label for label, _, _ in entries], "original"]
    bench_report.write_outputs(report, sheet_rows, sheet_labels, Path(cfg.out))
    return report


def _add_speed_ratios(rows: list[dict[str, Any]], models: list[BenchModel], speed_ref: str) -> str:
    """Add each row's latency divided by the reference model's; returns the reference's label."""
    ref = next((m for m in models if speed_ref in (m.label, m.spec)), None)
    ref_row = next((r for r in rows if ref is not None and r["label"] == ref.label), None)
    if ref is None or ref_row is None:
        raise TinctError(f"--speed-ref {speed_ref!r} is none of the benchmarked models")
    for r in rows:
        if "latency_ms" in r:
            r["speed_ratio"] = {s: r["latency_ms"][s] / ref_row["latency_ms"][s] for s in r["latency_ms"]}
    return ref.label


# ---------------------------------------------------------------- the architecture study
@dataclass
class TrainBudget:
    steps: int
    data: Path
    archs: list[str] | None = None
    """architectures to train (default: every colorizer of the zoo)"""
    batch_size: int = 16
    crop: int = 128
    seed: int = 0


def _final_loss(final: dict[str, Any]) -> float | None:
    for key in ("G_loss", "loss", "rec_loss"):
        v = final.get(key)
        if isinstance(v, (int, float)) and np.isfinite(v):
            return float(v)
    return None


def run_train_budget(cfg: BenchConfig, budget: TrainBudget, train_fn: Callable | None = None) -> dict[str, Any]:
    """Train each architecture with the same budget through ``tinct.train.train``, then benchmark the
    exported model files (plus ``cfg.models``) in one table with training time and final loss."""
    from tinct.registry import get_spec, list_models

    try:
        from tinct.train import TrainConfig, train
    except ModuleNotFoundError as exc:
        if exc.name not in ("tinct.train",):
            raise
        raise TinctError("training is not available in this tinct (no tinct.train module)") from None
    train_fn = train_fn or train
    if budget.steps < 1:
        raise TinctError(f"--train-budget must be at least 1 step, got {budget.steps}")
    archs = budget.archs or [s.name for s in list_models(role="colorizer") if s.cls.trainable
                             and s.cls.output_kind == "ab"]  # photo colorizers; line art has its bench
    for a in archs:
        if get_spec(a).role != "colorizer":
            raise TinctError(f"{a!r} is not a colorizer architecture")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    runs, extra, labels = [], {}, dict(cfg.labels)
    for arch in archs:
        kw = {"model": arch, "data": str(budget.data), "out": str(Path(cfg.out) / arch), "steps": budget.steps,
              "batch_size": budget.batch_size, "crop": budget.crop, "seed": budget.seed, "model_kwargs": {},
              "loss": None, "threads": cfg.threads, "quiet": not cfg.progress}
        t0 = time.perf_counter()
        result = train_fn(TrainConfig(**{k: v for k, v in kw.items() if k in known}))
        wall = time.perf_counter() - t0
        history = list(getattr(result, "history", []) or [])
        final = dict(getattr(result, "final", None) or (history[-1] if history else {}))
        path = str(result.model_path)
        labels[path] = arch
        extra[arch] = {"train_s": wall, "final_loss": _final_loss(final)}
        runs.append({"arch": arch, "model_path": path, "wall_s": wall, "final": final, "history": history})
    cfg = dataclasses.replace(cfg, models=[r["model_path"] for r in runs] + list(cfg.models), labels=labels)
    record = {"steps": budget.steps, "data": str(budget.data), "batch_size": budget.batch_size,
              "crop": budget.crop, "seed": budget.seed, "runs": runs}
    return run_bench(cfg, extra, train=record)
