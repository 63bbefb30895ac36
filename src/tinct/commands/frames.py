"""``tinct frames``: videos to a training folder (near-duplicate frames dropped, shot cuts found,
gray frames skipped, a manifest); ``tinct train --data DIR`` trains on it directly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.errors import TinctError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("frames", help="turn videos into a folder of training frames",
                       description="Extract training frames from videos: a frame is kept when its frame-subtraction "
                                   "score against the last kept frame reaches --threshold.")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (new or empty)")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="mean absolute gray difference (0-1) to the last kept frame needed to keep a frame (default 0.05)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="look at every N-th frame only (default 1)")
    p.add_argument("--max-per-shot", type=int, default=None, metavar="N", help="keep at most N frames per shot")
    p.add_argument("--keep-gray", action="store_true", help="keep gray and near-gray frames too")
    p.add_argument("--max-side", type=int, default=512, metavar="PX", help="longer side of the written frames (0 = as is)")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tinct.video.frames import extract
    from tinct.video.io import probe

    if args.max_side < 0:
        raise TinctError(f"--max-side must be 0 or more, got {args.max_side}")
    videos = [Path(v) for v in args.videos]
    for v in videos:
        probe(v)  # one line for a file that is not a readable video, before anything is written
    bar = tqdm(unit="frame", desc="frames", file=sys.stderr, disable=args.quiet or not sys.stderr.isatty())
    summary = extract(videos, Path(args.output), args.threshold, args.every, args.max_per_shot, not args.keep_gray,
                      args.max_side or None, progress=lambda name, i: bar.update(1),
                      on_damage=lambda m: tqdm.write(f"warning: {m}", file=sys.stderr))
    bar.close()
    if not args.quiet:
        t = summary["total"]
        print(", ".join(f"{k} {v}" for k, v in t.items()))
    return 0
