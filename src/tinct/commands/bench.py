"""``tinct bench``: PSNR, SSIM, colorfulness, CIEDE2000, AuC and CPU latency of model files on a
folder of color images, beside the gray baseline; ``--train-budget`` trains every architecture of
the zoo with one budget first; ``--hints`` runs the user-guided (hint) benchmark instead."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench", help="measure colorization quality and speed of models",
        description="Benchmark models with the field's protocol: each image resized (shorter side SIZE) and "
                    "center-cropped to SIZExSIZE, colorized from its gray version, compared with the original. "
                    "Writes bench.json, bench.md and contact_sheet.png into --out and prints the table.")
    p.add_argument("--models", nargs="+", metavar="MODEL", default=None,
                   help="shipped model names, model files, LABEL=FILE, or arch:NAME[:key=value,...] "
                        "(random weights, speed only); default: photo (none with --train-budget)")
    p.add_argument("--data", help="folder of color images (default: ../shared/data/photos/val if it exists)")
    p.add_argument("--size", type=int, default=256, help="benchmark image size (default 256)")
    p.add_argument("--render-size", type=int, help="working size of every model (default: each model's own, as "
                   "tinct colorize uses it; SIZE for a model that records none)")
    p.add_argument("--limit", type=int, help="use only the first N images (sorted by name)")
    p.add_argument("--out", default="runs/bench", help="output folder (default runs/bench)")
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("architecture study (--train-budget)")
    g.add_argument("--train-budget", type=int, metavar="STEPS",
                   help="first train every colorizer architecture for STEPS steps with one budget, then benchmark them")
    g.add_argument("--archs", help="comma-separated architectures to train (default: every colorizer of the zoo)")
    g.add_argument("--train-data", help="training images (default: ../shared/data/photos/train if it exists)")
    g.add_argument("--batch-size", type=int, default=16, help="training batch size (default 16)")
    g.add_argument("--crop", type=int, default=128, help="training crop (default 128)")
    g.add_argument("--seed", type=int, default=0, help="training / hint sampling seed (default 0)")
    p.add_argument("--hints", action="store_true", help="run the user-guided hint benchmark (tinct.bench.hints)")
    p.add_argument("--video", action="store_true",
                   help="flicker benchmark: --data is a folder of color clips; steadied against per-frame colorization")
    p.add_argument("--max-frames", type=int, default=60, help="with --video: frames per clip (default 60)")
    p.add_argument("--throughput", metavar="DIR",
                   help="images/s and peak memory on DIR of the serial loop, the pipelined run, --jobs 2 and "
                        "ONNX, each in a fresh process, as ratios (one model: --models NAME)")
    p.add_argument("--lineart", action="store_true",
                   help="line-art benchmark: drawings made from --data's color images (Canny, XDoG), colorized "
                        "with no hint, the automatic hint, the original's histogram and 10 points")
    p.add_argument("--jobs", type=int, default=1,
                   help="with --hints: images scored at once in worker processes of one torch thread (default 1)")
    return p


def run(args: argparse.Namespace) -> int:
    from tinct import bench
    from tinct.bench import report as bench_report
    from tinct.errors import TinctError

    if args.video:
        from tinct.video.bench import run_video_bench

        if args.max_frames < 2:
            raise TinctError(f"--max-frames must be at least 2, got {args.max_frames}")
        data = bench.find_data_dir(args.data, Path("../shared/data/video"), "--data")
        models = args.models or ["photo"]
        if len(models) != 1:
            raise TinctError("--video measures one model at a time")
        report = run_video_bench(data, models[0], Path(args.out), args.size, args.max_frames,
                                 progress=not args.no_progress)
        print(report["markdown"])
        return 0
    if args.throughput:
        from tinct.bench import throughput

        models = args.models or ["photo"]
        if len(models) != 1:
            raise TinctError("--throughput measures one model at a time")
        report = throughput.run_throughput(Path(args.throughput), models[0], args.size, threads=args.threads)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
        print(throughput.markdown(report), end="")
        return 0
    if args.lineart:
        from tinct.lineart.bench import run_lineart_bench

        data = bench.find_data_dir(args.data, bench.DEFAULT_DATA, "--data")
        report = run_lineart_bench(data, args.models or ["lineart"], Path(args.out), args.size, args.limit,
                                   args.seed, args.sheet_count, progress=not args.no_progress)
        print(report["markdown"], end="")
        return 0
    data = bench.find_data_dir(args.data, bench.DEFAULT_DATA, "--data")
    if args.hints:
        from tinct.bench.hints import run_hint_bench

        result = run_hint_bench(data, args.models or ["photo"], Path(args.out), args.size, args.limit, args.seed,
                                progress=not args.no_progress, jobs=args.jobs)
        text = result.get("markdown") if isinstance(result, dict) else None
        print(text if text else f"hint benchmark written to {args.out}")
        return 0
    cfg = bench.BenchConfig(
        models=args.models if args.models is not None else ([] if args.train_budget else ["photo"]),
        data=data, out=Path(args.out), size=args.size, limit=args.limit, latency_runs=args.latency_runs,
        threads=args.threads, latency=not args.no_latency, sheet_count=args.sheet_count,
        speed_ref=args.speed_ref, cf_abs=args.cf_ddcolor, progress=not args.no_progress, grid=args.grid,
        render_size=args.render_size, realism=args.realism)
    if args.train_budget is not None:
        budget = bench.TrainBudget(
            steps=args.train_budget,
            data=bench.find_data_dir(args.train_data, bench.DEFAULT_TRAIN_DATA, "--train-data"),
            archs=[a.strip() for a in args.archs.split(",") if a.strip()] if args.archs else None,
            batch_size=args.batch_size, crop=args.crop, seed=args.seed)
        report = bench.run_train_budget(cfg, budget)
    else:
        report = bench.run_bench(cfg)
    print(bench_report.markdown(report), end="")
    print("wrote " + ", ".join(report.get("outputs", {}).values()))
    return 0
