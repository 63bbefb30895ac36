"""``tinct video``: colorize video files (mp4, mov, mkv, avi, webm) into H.264 mp4, with steady
colors (optical-flow temporal consistency; ``--per-frame`` for the plain per-frame path).

A bad file is reported as one line and the other clips go on; a damaged frame in the middle is
reported and skipped. Outputs are written atomically, never over an existing file unless
``--overwrite``; ``--resume`` skips clips whose output already exists and plays."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.errors import HintError, TinctError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("video", help="colorize video files (H.264 mp4 out, audio kept)",
                       description="Colorize black-and-white video files with steady colors. Frame rate, time "
                                   "stamps, frame count, resolution and audio are kept.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files and/or folders of videos")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder, or an .mp4 file name with exactly one input file")
    p.add_argument("--model", default="photo", metavar="NAME|FILE", help="model (default: photo)")
    p.add_argument("--render-size", type=int, default=None, metavar="PX",
                   help="working size (default: the model's own: 224 for photo, 160 for art, 512 for line art; see `tinct models`)")
    p.add_argument("--temperature", type=float, default=None, metavar="T", help="decoding temperature")
    p.add_argument("--per-frame", action="store_true", help="colorize every frame on its own (no temporal steadying)")
    p.add_argument("--keep", type=float, default=0.85, metavar="W",
                   help="how much of the previous frame's colors a reliably tracked pixel keeps, 0-0.99 (default 0.85)")
    p.add_argument("--palette", metavar="SPEC", help='colors for the whole clip, e.g. "#aa3300:2,#3366ff"')
    p.add_argument("--reference", metavar="IMAGE", help="an image whose colors the whole clip should follow")
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    ow.add_argument("--resume", action="store_true", help="skip clips whose output already exists and plays")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads for torch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    return p


def plan(inputs: list[str], output: str) -> list[tuple[Path, Path]]:
    from tinct.video.io import VIDEO_EXTENSIONS

    out = Path(output)
    sources: list[tuple[Path, Path | None]] = []
    for text in inputs:
        p = Path(text)
        if not p.exists():
            raise TinctError(f"{text}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise TinctError(f"{text}: no video files found in this folder")
            sources += [(f, p) for f in found]
        else:
            sources.append((p, None))
    if out.suffix.lower() == ".mp4" and not out.is_dir():
        if len(sources) != 1 or sources[0][1] is not None:
            raise TinctError(f"-o {output}: a file name works with exactly one input file; give a folder instead")
        jobs = [(sources[0][0], out)]
    else:
        if out.exists() and not out.is_dir():
            raise TinctError(f"-o {output}: exists and is not a folder")
        if out.suffix:
            raise TinctError(f"-o {output}: video output is .mp4; name an .mp4 file or a folder without an extension")
        jobs = [(f, (out / f.relative_to(root).parent if root else out) / f"{f.stem}.mp4") for f, root in sources]
    targets: dict[Path, Path] = {}
    for src, dst in jobs:
        if dst.resolve() == src.resolve():
            raise TinctError(f"output {dst} would overwrite the input; choose another -o")
        if dst.resolve() in targets:
            raise TinctError(f"inputs {targets[dst.resolve()]} and {src} would both be written to {dst}")
        targets[dst.resolve()] = src
    return jobs


def _plays(path: Path) -> bool:
    from tinct.video.io import probe

    try:
        probe(path)
        return True
    except TinctError:
        return False


def run(args: argparse.Namespace) -> int:
    from tinct.hints.io import load_reference, parse_palette
    from tinct.hints import Hints

    from tinct.batch.jobs import remove_stale_temporaries
    from tinct.batch.config import RunConfig

    RunConfig.from_args(args)  # the options a video shares with a folder run, checked alike
    if not 0 <= args.keep < 1:
        raise TinctError(f"--keep must be at least 0 and below 1, got {args.keep}")
    hints = Hints(palette=parse_palette(args.palette) if args.palette else None,
                  reference=load_reference(args.reference) if args.reference else None)
    jobs = plan(args.inputs, args.output)
    todo = [j for j in jobs if not (args.resume and j[1].is_file() and _plays(j[1]))]
    if not args.resume and not args.overwrite:
        existing = [dst for _, dst in todo if dst.exists()]
        if existing:
            raise TinctError(f"output {existing[0]} already exists; use --overwrite to replace or --resume to skip")
    if args.resume or args.overwrite:
        remove_stale_temporaries(dst for _, dst in todo)
    skipped = len(jobs) - len(todo)
    counts = {"done": 0, "failed": 0}
    try:
        _run(args, todo, hints, counts)
    except KeyboardInterrupt:
        print(f"interrupted: colorized {counts['done']}, skipped {skipped}, failed {counts['failed']} "
              "(run again with --resume)", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"colorized {counts['done']}, skipped {skipped}, failed {counts['failed']}")
    return 1 if counts["failed"] else 0


def _run(args, todo, hints, counts: dict[str, int]) -> None:
    from tqdm import tqdm

    from tinct.video import VideoColorizer

    if args.threads:
        from tinct.pipeline import set_threads

        set_threads(args.threads)
    if not todo:
        return
    vc = VideoColorizer(args.model, args.render_size, hints if not hints.is_empty() else None, args.per_frame,
                        args.temperature, args.keep)
    for src, dst in todo:
        bar = tqdm(desc=src.name, unit="frame", file=sys.stderr, disable=args.quiet or not sys.stderr.isatty())

        def progress(n, total, bar=bar):
            if total and bar.total != total:
                bar.total = total
            bar.update(n - bar.n)

        try:
            res = vc.colorize(src, dst, overwrite=args.overwrite or args.resume, progress=progress,
                              on_damage=lambda m: tqdm.write(f"warning: {m}", file=sys.stderr))
            counts["done"] += 1
            if not args.quiet:
                tqdm.write(f"{src} -> {res.out}: {res.frames} frames, {res.frames / max(res.seconds, 1e-9):.1f} "
                           f"frames/s, {res.cuts} cuts", file=sys.stderr)
        except HintError:
            raise
        except TinctError as exc:
            counts["failed"] += 1
            tqdm.write(f"skip {src}: {exc}", file=sys.stderr)
        finally:
            bar.close()
