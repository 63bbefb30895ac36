"""``tinct bench KIND``: the project's measurements, one subcommand each with only its own options.

- ``field`` (the default when no kind is named): PSNR, SSIM, colorfulness, CIEDE2000, AuC and CPU
  latency of models on a folder of color images, beside the gray baseline (the field's protocol);
- ``study``: every architecture of the zoo trained with one budget, then ``field`` on them;
- ``hints``: the user-guided benchmark (PSNR against the number of true-colored points);
- ``lineart``: drawings made from color images, colorized without and with hints;
- ``video``: flicker of steadied against per-frame colorization on color clips;
- ``throughput``: images per second and peak memory of the ways to run a folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KINDS = ("field", "study", "hints", "lineart", "video", "throughput")


def _common(p: argparse.ArgumentParser, models_default: str, data_help: str, out: str) -> None:
    p.add_argument("--models", nargs="+", metavar="MODEL", default=None,
                   help=f"shipped model names or model files (default: {models_default})")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--out", default=out, help=f"output folder (default {out})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _field_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=256, help="benchmark image size (default 256)")
    p.add_argument("--render-size", type=int, help="working size of every model (default: each model's own, as "
                   "tinct colorize uses it; SIZE for a model that records none)")
    p.add_argument("--limit", type=int, help="use only the first N images (sorted by name; per source)")
    p.add_argument("--latency-runs", type=int, default=10, help="timed runs per model and size (median; default 10)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--speed-ref", metavar="MODEL",
                   help="report latency ratios to this model (a label or spec, e.g. arch:effunet; added if not listed)")
    p.add_argument("--sheet-count", type=int, default=8, help="images in the contact sheet (default 8; 0 = none)")
    p.add_argument("--cf-ddcolor", action="store_true",
                   help="colorfulness as DDColor's code (abs of rg and yb) instead of plain Hasler-Suesstrunk")
    p.add_argument("--grid", action="store_true",
                   help="also score each hint model with the 14x14 color grid of the original (the artwork report's hint)")
    p.add_argument("--realism", action="store_true",
                   help="also the classifier test: ImageNet top-1/top-5 of EfficientNet-Lite2 on the originals, the "
                        "gray inputs and the colorizations of images named by an Imagenette synset id")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="measure colorization quality and speed of models",
                       description=__doc__.split("\n\n")[0].split(": ", 1)[1] + " Kinds: " + ", ".join(KINDS)
                       + " (field when none is named).")
    kinds = p.add_subparsers(dest="bench_kind", metavar="KIND")
    f = kinds.add_parser("field", help="quality and latency on color photos (the field's protocol)",
                         description="Each image resized (shorter side SIZE) and center-cropped to SIZExSIZE, "
                         "colorized from its gray version, compared with the original. Writes bench.json, "
                         "bench.md and contact_sheet.png into --out and prints the table.")
    _common(f, "photo; also LABEL=FILE, or arch:NAME[:key=value,...] for random weights, speed only",
            "folder of color images (or of source subfolders, reported per source)", "runs/bench")
    _field_options(f)
    s = kinds.add_parser("study", help="train every zoo architecture with one budget, then benchmark them")
    _common(s, "none besides the trained ones", "folder of color validation images", "runs/bench")
    _field_options(s)
    s.add_argument("--train-budget", type=int, required=True, metavar="STEPS", help="training steps of every architecture")
    s.add_argument("--archs", help="comma-separated architectures to train (default: every colorizer of the zoo)")
    s.add_argument("--train-data", required=True, help="training images")
    s.add_argument("--batch-size", type=int, default=16, help="training batch size (default 16)")
    s.add_argument("--crop", type=int, default=128, help="training crop (default 128)")
    s.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    h = kinds.add_parser("hints", help="PSNR against the number of true-colored point hints")
    _common(h, "photo", "folder of color images", "runs/bench_hints")
    h.add_argument("--size", type=int, default=256, help="benchmark image size (default 256)")
    h.add_argument("--limit", type=int, help="use only the first N images")
    h.add_argument("--seed", type=int, default=0, help="hint sampling seed (default 0)")
    h.add_argument("--jobs", type=int, default=1, help="images scored at once in worker processes of one torch thread")
    la = kinds.add_parser("lineart", help="drawings made from color images, colorized without and with hints")
    _common(la, "lineart", "folder of color images to make drawings from (Canny, XDoG)", "runs/bench_lineart")
    la.add_argument("--size", type=int, default=256, help="benchmark image size (default 256)")
    la.add_argument("--limit", type=int, help="use only the first N images")
    la.add_argument("--seed", type=int, default=0, help="seed of the 10 sampled points (default 0)")
    la.add_argument("--sheet-count", type=int, default=8, help="images in the contact sheet (default 8; 0 = none)")
    v = kinds.add_parser("video", help="flicker of steadied against per-frame colorization on color clips")
    _common(v, "photo (one model)", "folder of color clips", "runs/bench_video")
    v.add_argument("--size", type=int, default=256, help="frame size (default 256)")
    v.add_argument("--max-frames", type=int, default=60, help="frames per clip (default 60)")
    t = kinds.add_parser("throughput", help="images/s and peak memory of the serial loop, the pipelined run, "
                         "--jobs 2 and ONNX on one folder, each in a fresh process")
    t.add_argument("folder", metavar="DIR", help="folder of images to colorize")
    t.add_argument("--models", nargs=1, metavar="MODEL", default=None, help="one model (default: photo)")
    t.add_argument("--size", type=int, default=256, help="working size (default 256)")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    t.add_argument("--out", default="runs/bench_throughput", help="output folder (default runs/bench_throughput)")
    return p


def default_kind(argv: list[str]) -> list[str]:
    """``tinct bench [options]`` means ``tinct bench field [options]``."""
    if argv[:1] == ["bench"] and (len(argv) == 1 or (argv[1].startswith("-") and argv[1] not in ("-h", "--help"))):
        return ["bench", "field", *argv[1:]]
    return argv


def run(args: argparse.Namespace) -> int:
    from tinct import bench
    from tinct.bench import report as bench_report
    from tinct.errors import TinctError

    kind = args.bench_kind or "field"
    models = args.models
    if kind == "video":
        from tinct.video.bench import run_video_bench

        if args.max_frames < 2:
            raise TinctError(f"--max-frames must be at least 2, got {args.max_frames}")
        if models and len(models) != 1:
            raise TinctError("video measures one model at a time")
        report = run_video_bench(bench.find_data_dir(args.data), (models or ["photo"])[0], Path(args.out), args.size,
                                 args.max_frames, progress=not args.no_progress)
        print(report["markdown"])
        return 0
    if kind == "throughput":
        from tinct.bench import throughput

        report = throughput.run_throughput(bench.find_data_dir(args.folder), (models or ["photo"])[0], args.size,
                                           threads=args.threads)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
        print(throughput.markdown(report), end="")
        return 0
    data = bench.find_data_dir(args.data)
    if kind == "lineart":
        from tinct.lineart.bench import run_lineart_bench

        report = run_lineart_bench(data, models or ["lineart"], Path(args.out), args.size, args.limit, args.seed,
                                   args.sheet_count, progress=not args.no_progress)
        print(report["markdown"], end="")
        return 0
    if kind == "hints":
        from tinct.bench.hints import markdown_table, run_hint_bench

        result = run_hint_bench(data, models or ["photo"], Path(args.out), args.size, args.limit, args.seed,
                                progress=not args.no_progress, jobs=args.jobs)
        print(markdown_table(result), end="")
        return 0
    cfg = bench.BenchConfig(
        models=models if models is not None else ([] if kind == "study" else ["photo"]),
        data=data, out=Path(args.out), size=args.size, limit=args.limit, latency_runs=args.latency_runs,
        threads=args.threads, latency=not args.no_latency, sheet_count=args.sheet_count,
        speed_ref=args.speed_ref, cf_abs=args.cf_ddcolor, progress=not args.no_progress, grid=args.grid,
        render_size=args.render_size, realism=args.realism)
    if kind == "study":
        budget = bench.TrainBudget(
            steps=args.train_budget, data=bench.find_data_dir(args.train_data),
            archs=[a.strip() for a in args.archs.split(",") if a.strip()] if args.archs else None,
            batch_size=args.batch_size, crop=args.crop, seed=args.seed)
        report = bench.run_train_budget(cfg, budget)
    else:
        report = bench.run_bench(cfg)
    print(bench_report.markdown(report), end="")
    print("wrote " + ", ".join(report.get("outputs", {}).values()))
    return 0
