"""``tinct colorize``: colorize image files and folders with one model, loaded once.

Inputs are files and folders (searched recursively; the folder's tree is mirrored under the
output folder). A bad file is reported as one line and the others go on; the run ends with a
summary line and exit code 1 when any file failed. Outputs are written atomically and never
over an existing file (unless ``--overwrite``) nor over an input.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tinct.errors import HintError, ImageError, TinctError

OUT_EXT = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}

EPILOG = """\
examples:
  tinct colorize old.jpg -o old_color.jpg
  tinct colorize scans/ -o colored/ --resume
  tinct colorize portrait.png -o out/ --hint 120,80,#c08060 --palette "#aa3300:2,#3366ff"
  tinct colorize photo.jpg -o out/ --hints hints.json

hints JSON: {"points": [{"x": 10, "y": 20, "color": "#ff0000", "size": 5}], "grid": "grid.png",
             "palette": [{"color": "#aa3300", "weight": 2}, "#3366ff"], "reference": "ref.jpg"}
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "colorize", help="colorize image files and folders",
        description="Colorize black-and-white images (color images are recolored from their lightness). "
                    "Outputs keep the input's full resolution and transparency, with EXIF orientation applied.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (created if needed; a folder input's tree is mirrored in it); with exactly "
                        "one input file OUT may also be a file name with an image extension")
    p.add_argument("--model", default="photo", metavar="NAME|FILE",
                   help="shipped model name or model file (.safetensors); default: photo (see `tinct models`)")
    p.add_argument("--render-size", type=int, default=None, metavar="PX",
                   help="working size of the network, longer side in pixels (default: the model's own, 256 for "
                        "photos, 512 for line art); larger sizes give finer color detail and take longer. The "
                        "output keeps the input's resolution")
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="for classification models: lower = more vivid colors, higher = safer (default: the model's)")
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    ow.add_argument("--resume", action="store_true",
                    help="skip inputs whose output already exists and is a readable image")
    p.add_argument("--format", choices=["same", "png", "jpg", "webp"], default="same",
                   help="output format (default: same as the input; inputs with transparency going to "
                        "JPEG or BMP are written as .png)")
    p.add_argument("--depth", choices=["auto", "8"], default="auto",
                   help="bits per sample of the output: auto keeps the 16 bits of a 16-bit PNG or TIFF scan "
                        "in a PNG or TIFF output (default); 8 writes 8 bits always")
    p.add_argument("--suffix", default="", help="added to each output file name before the extension, e.g. _color")
    h = p.add_argument_group("hints (models trained with hints, such as 'photo')")
    h.add_argument("--hint", action="append", default=[], metavar="X,Y,#RRGGBB[,SIZE]",
                   help="a color at pixel (X, Y) of the input as displayed (after EXIF rotation); SIZE: "
                        "patch side in working pixels, 0 = automatic (repeatable; one input image only)")
    h.add_argument("--hints", metavar="FILE.json", help="hints from a JSON file (see below)")
    h.add_argument("--grid", metavar="IMAGE",
                   help="a coarse color layout: any image, read as a 14x14 grid of colors "
                        "(transparent cells give no hint; one input image only)")
    h.add_argument("--palette", metavar="SPEC", help='colors the result should use, e.g. "#aa3300:2,#3366ff" '
                                                     "(COLOR[:WEIGHT], comma separated)")
    h.add_argument("--reference", metavar="IMAGE", help="an image whose colors the result should follow")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads for torch (default: torch's)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes, each with its own model and a share of the files (default 1); "
                        "torch threads are split between them")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on a Ray cluster (Ray Data; pip install 'tinct[ray]'): ADDRESS as 'ray start' printed "
                        "it (host:port, or 'auto' on a cluster node); alone: a Ray instance on this machine. "
                        "--jobs actors of --threads (default 1) threads each; files on storage every node sees")
    p.add_argument("--report", metavar="FILE.csv|FILE.json",
                   help="also write one row per file (file, output, status, reason, seconds): an audit trail")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="onnx: run the network with ONNX Runtime (exported on first use; hints still use torch)")
    p.add_argument("--onnx", metavar="FILE.onnx", help="with --backend onnx: this exported graph (tinct export) "
                                                        "instead of the one cached on first use")
    p.add_argument("--no-provenance", action="store_true",
                   help="do not mark the outputs as colorized (by default their XMP says tinct colorized them: "
                        "version, model, date; the input's EXIF, ICC profile and XMP are kept either way)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary (errors still print)")
    return p


@dataclass
class Job:
    src: Path
    out: Path
    explicit_out: bool = False  # -o named this very file
    deep: bool = True  # a 16-bit input keeps its 16 bits in a PNG or TIFF output (--depth auto)


# -------------------------------------------------------------------------------------- planning
def _scan(folder: Path, skip: Path | None) -> list[Path]:
    """Image files under ``folder``, sorted, without hidden entries and without ``skip`` (the
    output folder when it lies inside the input folder)."""
    from tinct.imageio import INPUT_EXTENSIONS

    found = []
    for root, dirs, files in os.walk(folder):
        r = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (r / d).resolve() != skip))
        found += [r / f for f in sorted(files) if not f.startswith(".") and Path(f).suffix.lower() in INPUT_EXTENSIONS]
    return sorted(found, key=lambda q: q.relative_to(folder).parts)


def _out_name(src: Path, fmt: str, suffix: str) -> str:
    from tinct.imageio import FORMATS

    ext = OUT_EXT.get(fmt) or (src.suffix if src.suffix.lower() in FORMATS else ".png")
    return f"{src.stem}{suffix}{ext}"


def plan(inputs: list[str], output: str, fmt: str = "same", suffix: str = "") -> list[Job]:
    """Input arguments -> jobs (input file, output file). Raises TinctError for bad arguments,
    outputs that would overwrite an input, and two inputs that would share one output."""
    from tinct.imageio import FORMATS

    out = Path(output)
    sources: list[tuple[Path, Path | None]] = []  # (file, folder it was found in)
    for text in inputs:
        p = Path(text)
        if not p.exists():
            raise TinctError(f"{text}: no such file or folder")
        if p.is_dir():
            files = _scan(p, out.resolve())
            if not files:
                raise TinctError(f"{text}: no image files found in this folder")
            sources += [(f, p) for f in files]
        else:
            sources.append((p, None))
    if not sources:
        raise TinctError("no input images")
    file_out = out.suffix.lower() in FORMATS and not out.is_dir()
    if file_out:
        if len(sources) != 1 or sources[0][1] is not None:
            raise TinctError(f"-o {output}: a file name works with exactly one input file; give a folder instead")
        if fmt != "same" and FORMATS[out.suffix.lower()] != FORMATS[OUT_EXT[fmt]]:
            raise TinctError(f"--format {fmt} does not match the output file {output}")
        if suffix:
            raise TinctError("--suffix applies to output folders, not to an output file name")
        jobs = [Job(sources[0][0], out, explicit_out=True)]
    else:
        if out.exists() and not out.is_dir():
            raise TinctError(f"-o {output}: exists and is not a folder")
        if out.suffix and not out.exists() and len(sources) == 1 and sources[0][1] is None:
            raise TinctError(f"-o {output}: {out.suffix} is not an image format ({', '.join(sorted(set(FORMATS)))}); "
                             "name an output file with one of these, or a folder without an extension")
        jobs = [Job(f, (out / f.relative_to(root).parent if root else out) / _out_name(f, fmt, suffix))
                for f, root in sources]
    _check_collisions(jobs)
    return jobs


def _check_collisions(jobs: list[Job]) -> None:
    inputs = {j.src.resolve(): j.src for j in jobs}
    seen: dict[Path, Path] = {}
    for j in jobs:
        target = j.out.resolve()
        if target in inputs:
            raise TinctError(f"output {j.out} would overwrite the input {inputs[target]}; choose another -o or a --suffix")
        if target in seen:
            raise TinctError(f"inputs {seen[target]} and {j.src} would both be written to {j.out}")
        seen[target] = j.src


def _alt_png(job: Job) -> Path | None:
    """Where an output goes when the image has transparency its format cannot hold."""
    from tinct.imageio import ALPHA_FORMATS, format_for

    if job.explicit_out or format_for(job.out) in ALPHA_FORMATS:
        return None
    return job.out.with_suffix(".png")


def _readable(path: Path) -> bool:
    from tinct.imageio import load_image

    try:
        load_image(path, max_pixels=None, min_side=1)
        return True
    except ImageError:
        return False


def _done(job: Job) -> bool:
    """For --resume: the output (or its .png stand-in) exists and reads as an image."""
    alt = _alt_png(job)
    if alt is not None and alt.resolve() == job.src.resolve():
        alt = None  # the input itself is no output
    return any(p is not None and p.is_file() and _readable(p) for p in (job.out, alt))


# -------------------------------------------------------------------------------------- hints
def build_hints(args: argparse.Namespace):
    """The hints given on the command line (None when there are none)."""
    from tinct.hints import Hints
    from tinct.hints.io import (
        load_grid,
        load_hints_json,
        load_reference,
        merge_hints,
        parse_palette,
        parse_point,
    )

    base = load_hints_json(args.hints) if args.hints else Hints()
    extra = Hints(points=[parse_point(t) for t in args.hint])
    if args.grid:
        extra.grid = load_grid(args.grid)
    if args.palette:
        extra.palette = parse_palette(args.palette)
    if args.reference:
        extra.reference = load_reference(args.reference)
    hints = merge_hints(base, extra)
    return None if hints.is_empty() else hints


def _check_model_hints(colorizer, hints) -> None:
    if hints is None:
        return
    if not colorizer.supports_hints:
        raise HintError(f"model {colorizer.name!r} takes no hints (--hint, --hints, --grid, --palette, --reference); "
                        "use a hint model such as 'photo'")
    if hints.has_global and not colorizer.supports_global_hints:
        raise HintError(f"model {colorizer.name!r} takes no palette or reference hints")


# -------------------------------------------------------------------------------------- running
def _reason(exc: BaseException, src: Path) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    prefix = f"{src}: "
    msg = msg.removeprefix(prefix)
    return msg if isinstance(exc, TinctError) else f"{type(exc).__name__}: {msg}"


def _colorize_one(colorizer, job: Job, hints, overwrite: bool, provenance: dict | None = None) -> Path:
    from tinct.imageio import load_image

    img = load_image(job.src)
    return _save_one(job, img, colorizer.colorize_array(pixels(img, job), hints), overwrite, provenance)


def pixels(img, job: Job):
    """What the network colors: the 16-bit samples of a 16-bit scan going to a PNG or TIFF output
    (unless --depth 8), else the 8-bit ones."""
    from tinct.imageio import DEEP_FORMATS, format_for

    if job.deep and img.rgb16 is not None and format_for(job.out) in DEEP_FORMATS:
        return img.rgb16
    return img.rgb


def _save_one(job: Job, img, rgb, overwrite: bool, provenance: dict | None = None) -> Path:
    from tinct.imageio import save_image

    out, alpha = job.out, img.alpha
    alt = _alt_png(job)
    if alpha is not None and alt is not None and (alpha < 255).any():
        out = alt
    if out != job.out and out.resolve() == job.src.resolve():
        raise ImageError(f"the image has transparency, and its .png output {out} would overwrite the input")
    return save_image(out, rgb, alpha, like=img, overwrite=overwrite, provenance=provenance)


def check_run_options(args: argparse.Namespace) -> None:
    """--threads, --temperature and --render-size, shared with ``tinct video``."""
    import math

    if args.threads is not None and args.threads < 1:
        raise TinctError(f"--threads must be 1 or more, got {args.threads}")
    if args.temperature is not None and not (math.isfinite(args.temperature) and args.temperature > 0):
        raise TinctError(f"--temperature must be a number above 0, got {args.temperature}")
    from tinct.pipeline import MAX_RENDER_SIZE

    if args.render_size is not None and not 32 <= args.render_size <= MAX_RENDER_SIZE:
        raise TinctError(f"--render-size must be between 32 and {MAX_RENDER_SIZE} (the memory budget), "
                         f"got {args.render_size}")
    if getattr(args, "onnx", None) and args.backend != "onnx":
        raise TinctError("--onnx needs --backend onnx")
    if not 1 <= getattr(args, "jobs", 1) <= 64:
        raise TinctError(f"--jobs must be between 1 and 64, got {args.jobs}")


def run(args: argparse.Namespace) -> int:
    check_run_options(args)
    hints = build_hints(args)
    jobs = plan(args.inputs, args.output, args.format, args.suffix)
    for job in jobs:
        job.deep = args.depth == "auto"
    if hints is not None and (hints.points or hints.grid is not None) and len(jobs) > 1:
        raise HintError(f"point and grid hints fit one image, but {len(jobs)} inputs were given "
                        "(palette and reference hints work for many)")
    todo = jobs
    if args.resume:
        todo = [j for j in jobs if not _done(j)]
    elif not args.overwrite:
        existing = [j.out for j in jobs if j.out.exists()]
        if existing:
            what = f"outputs {existing[0]} and {len(existing) - 1} more already exist" if len(existing) > 1 \
                else f"output {existing[0]} already exists"
            raise TinctError(f"{what}; use --overwrite to replace or --resume to skip")
    if args.resume or args.overwrite:
        _remove_stale_temporaries(todo)
    skipped = len(jobs) - len(todo)
    counts = {"done": 0, "failed": 0}
    try:
        if todo:
            _run_jobs(args, todo, hints, counts)
    except KeyboardInterrupt:
        left = len(todo) - counts["done"] - counts["failed"]
        print(f"interrupted: colorized {counts['done']}, skipped {skipped}, failed {counts['failed']}, "
              f"not done {left} (run again with --resume to finish)", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"colorized {counts['done']}, skipped {skipped}, failed {counts['failed']}")
    return 1 if counts["failed"] else 0


def _remove_stale_temporaries(jobs: list[Job]) -> None:
    remove_stale_temporaries(out for job in jobs for out in {job.out, _alt_png(job) or job.out})


def remove_stale_temporaries(outputs) -> None:
    """Temporary files an earlier, killed run left beside these outputs (``.NAME.XXXXXXXX.tmp``);
    shared with ``tinct video``."""
    import re

    for out in outputs:
        if out.parent.is_dir():
            pattern = re.compile(rf"\.{re.escape(out.name)}\.[0-9a-f]{{8}}\.tmp")
            for tmp in out.parent.glob(f".{out.name}.*.tmp"):
                if pattern.fullmatch(tmp.name) and tmp.is_file():
                    tmp.unlink()


def provenance_of(colorizer) -> dict[str, str]:
    """What the outputs' XMP says: tinct, its version, the model (name and file hash), the date."""
    from tinct.imageio import provenance
    from tinct.modelfile import file_sha256

    return provenance.record(colorizer.name, file_sha256(colorizer.path) if colorizer.path is not None else None)


def _run_jobs(args: argparse.Namespace, todo: list[Job], hints, counts: dict[str, int]) -> None:
    from tqdm import tqdm

    from tinct.pipeline import Colorizer, set_threads

    if getattr(args, "ray", None):
        from tinct.commands.colorize_ray import run_ray

        report: list[dict] = []
        try:
            run_ray(args, todo, hints, counts, report)
        finally:
            if args.report:
                write_report(Path(args.report), sorted(report, key=lambda r: r["file"]))
        return None
    if args.jobs > 1 and len(todo) > 1:
        return _run_processes(args, todo, hints, counts)
    if args.threads:
        set_threads(args.threads)
    colorizer = Colorizer(args.model, render_size=args.render_size, temperature=args.temperature,
                          backend=args.backend, onnx_file=args.onnx)
    _check_model_hints(colorizer, hints)
    mark = None if args.no_provenance else provenance_of(colorizer)
    bar = tqdm(total=len(todo), unit="image", desc="colorize", file=sys.stderr,
               disable=args.quiet or not sys.stderr.isatty())
    report: list[dict] = []
    try:
        run_pipelined(colorizer, todo, hints, args.overwrite or args.resume, mark, counts, report, bar)
    finally:
        bar.close()
        if args.report:
            write_report(Path(args.report), sorted(report, key=lambda r: r["file"]))


def _worker(args: argparse.Namespace, shard: list[Job], hints, threads: int, progress) -> tuple[dict, list]:
    """One worker process: its own model, the pipelined run over its share of the files."""
    from tinct.pipeline import Colorizer, set_threads

    set_threads(threads)
    colorizer = Colorizer(args.model, render_size=args.render_size, temperature=args.temperature,
                          backend=args.backend, onnx_file=args.onnx)
    mark = None if args.no_provenance else provenance_of(colorizer)

    class Tick:
        def update(self, n):
            progress.put(n)

    counts, report = {"done": 0, "failed": 0}, []
    run_pipelined(colorizer, shard, hints, args.overwrite or args.resume, mark, counts, report, Tick())
    return counts, report


def _run_processes(args: argparse.Namespace, todo: list[Job], hints, counts: dict[str, int]) -> None:
    """``--jobs N``: N worker processes (spawned), the files dealt out in turn, one progress bar."""
    import multiprocessing as mp
    import queue

    from tqdm import tqdm

    from tinct.pipeline import Colorizer

    _check_model_hints(Colorizer(args.model, render_size=args.render_size), hints)  # one clear error, before forking
    n = min(args.jobs, len(todo))
    threads = max(1, (args.threads or os.cpu_count() or 1) // n)
    ctx = mp.get_context("spawn")
    report: list[dict] = []
    bar = tqdm(total=len(todo), unit="image", desc=f"colorize x{n}", file=sys.stderr,
               disable=args.quiet or not sys.stderr.isatty())
    with ctx.Manager() as manager:
        progress = manager.Queue()
        with ctx.Pool(n) as pool:
            pending = [pool.apply_async(_worker, (args, todo[i::n], hints, threads, progress)) for i in range(n)]
            while not all(p.ready() for p in pending):
                try:
                    bar.update(progress.get(timeout=0.2))
                except queue.Empty:
                    pass
            for p in pending:
                c, rows = p.get()
                counts["done"] += c["done"]
                counts["failed"] += c["failed"]
                report.extend(rows)
    bar.close()  # (the workers printed their skipped files)
    if args.report:
        write_report(Path(args.report), sorted(report, key=lambda r: r["file"]))


QUEUE = 2  # decoded images waiting for the network, and results waiting to be written
WRITERS = 2  # threads that recombine full-resolution color and encode (the heaviest stage of a 12 MP scan)


def report_row(job: Job, status: str, reason: str, t0: float) -> dict:
    """One row of the run's report (``--report``): file, output, status, reason, seconds since ``t0``."""
    import time

    return {"file": str(job.src), "output": str(job.out) if status == "done" else "", "status": status,
            "reason": reason, "seconds": round(time.perf_counter() - t0, 3)}


def run_pipelined(colorizer, todo: list[Job], hints, overwrite: bool, mark, counts: dict[str, int],
                  report: list[dict], bar) -> None:
    """Decode, predict and encode overlap: a reader thread decodes the next images (and takes their
    lightness), ``WRITERS`` writer threads recombine full-resolution color and encode the finished
    ones, while the network works on the current one (on one thread fewer: the others keep a core
    busy); bounded queues keep at most ``QUEUE`` images on each side in memory. One bad file is
    reported and skipped."""
    import queue
    import threading
    import time

    import torch
    from tqdm import tqdm

    from tinct.imageio import load_image
    from tinct.pipeline import set_threads

    decoded: queue.Queue = queue.Queue(QUEUE)
    finished: queue.Queue = queue.Queue(QUEUE)
    stop = threading.Event()
    lock = threading.Lock()

    def record(job: Job, status: str, reason: str, t0: float) -> None:
        with lock:
            counts["done" if status == "done" else "failed"] += 1
            report.append(report_row(job, status, reason, t0))
        if status != "done":
            tqdm.write(f"skip {job.src}: {reason}", file=sys.stderr)
        bar.update(1)

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        for job in todo:
            t0 = time.perf_counter()
            try:
                img = load_image(job.src)
                px = pixels(img, job)
                item = (job, img, colorizer.lightness(px), 16 if px.dtype.itemsize == 2 else 8, None, t0)
            except Exception as exc:  # noqa: BLE001  reported by the main thread, in order
                item = (job, None, None, 8, exc, t0)
            if not put(decoded, item):
                return
        put(decoded, None)

    def writer() -> None:
        while True:
            item = finished.get()
            if item is None:
                return
            job, img, (l_full, ab, depth), t0 = item
            try:
                _save_one(job, img, colorizer.finish(l_full, ab, depth), overwrite, mark)
                record(job, "done", "", t0)
            except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
                record(job, "failed", _reason(exc, job.src), t0)

    writers = [threading.Thread(target=writer, daemon=True) for _ in range(WRITERS if len(todo) > 1 else 1)]
    for t in [threading.Thread(target=reader, daemon=True), *writers]:
        t.start()
    threads = torch.get_num_threads()
    if len(todo) > 1:  # the reader and writers keep a core busy: the network's threads would only wait for it
        set_threads(max(1, threads - 1))

    def close_writers(timeout: float | None = None) -> None:
        for _ in writers:
            put(finished, None)
        for t in writers:
            t.join(timeout)

    try:
        while True:
            item = decoded.get()
            if item is None:
                break
            job, img, l_full, depth, exc, t0 = item
            if exc is not None:
                record(job, "failed", _reason(exc, job.src), t0)
                continue
            try:
                l_full, ab = colorizer.predict_l(l_full, hints)
            except HintError:
                raise  # hints come from the command line: a usage error, not a bad file
            except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
                record(job, "failed", _reason(exc, job.src), t0)
                continue
            put(finished, (job, img, (l_full, ab, depth), t0))
        close_writers()
    except KeyboardInterrupt:  # what the network has finished is still written, then the run stops
        close_writers(timeout=60)
        raise
    finally:
        stop.set()
        set_threads(threads)


def write_report(path: Path, rows: list[dict]) -> None:
    """The run's audit trail: one row per file (file, output, status, reason, seconds), CSV or JSON
    by the extension, written atomically."""
    import csv
    import io
    import json
    import os

    if path.suffix.lower() == ".json":
        data = json.dumps(rows, indent=2) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["file", "output", "status", "reason", "seconds"])
        w.writeheader()
        w.writerows(rows)
        data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data)
    os.replace(tmp, path)
