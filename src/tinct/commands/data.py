"""``tinct data build``: the photo model's training and validation folders from fetched snapshots
of public collections (:mod:`tinct.dataset`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cap(text: str) -> tuple[str, int]:
    name, _, n = text.partition("=")
    from tinct.dataset.sources import SOURCES

    if name not in {s.name for s in SOURCES} or not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"expected SOURCE=N with N >= 1 and SOURCE one of "
                                         f"{', '.join(s.name for s in SOURCES)}, got {text!r}")
    return name, int(n)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("data", help="build training/validation folders from public collections",
                       description="Build train/<source>/ and val/<source>/ folders, manifest.csv and "
                                   "summary.json from fetched git snapshots (see shared/data/SOURCES.md).")
    p.add_argument("action", choices=["build"])
    p.add_argument("-o", "--out", required=True, help="output folder (new or empty)")
    p.add_argument("--mirror", default="/work/.mirror", help="folder of fetched snapshots (<owner>+<name>/repo)")
    p.add_argument("--sources", nargs="+", help="only these sources (default: all)")
    p.add_argument("--exclude", nargs="*", default=[], help="folders whose images (and near-duplicates) never enter")
    p.add_argument("--max-side", type=_positive, default=256, help="longer side of the written images")
    p.add_argument("--max-distance", type=int, default=4, choices=range(0, 16), metavar="0..15",
                   help="perceptual-hash bits within which two images are near-duplicates")
    p.add_argument("--max-train", type=_cap, nargs="*", default=[], help="SOURCE=N: at most N training images")
    p.add_argument("--jobs", type=_positive, default=1, help="worker processes")
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.dataset.build import build
    from tinct.dataset.sources import source_by_name
    from tinct.errors import TinctError

    try:
        sources = [source_by_name(n) for n in args.sources] if args.sources else None
    except KeyError as exc:
        raise TinctError(f"unknown source {exc.args[0]!r}") from None
    summary = build(Path(args.mirror), Path(args.out), sources, [Path(e) for e in args.exclude],
                    args.max_side, args.max_distance, dict(args.max_train), args.jobs)
    for name, c in summary["sources"].items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    return 0
