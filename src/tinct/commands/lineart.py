"""``tinct lineart``: images to line drawings (Canny or XDoG), as line-art training pairs are made."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinct.errors import TinctError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("lineart", help="turn images into line drawings (Canny or XDoG)",
                       description="Make line art from images: dark lines on white, grayscale PNG.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    p.add_argument("--method", choices=["xdog", "canny", "random"], default="xdog",
                   help="xdog (pen-like, default), canny (seed report 002's edges), or random (as in training)")
    p.add_argument("--low", type=float, default=80, help="canny: lower threshold (default 80)")
    p.add_argument("--high", type=float, default=160, help="canny: upper threshold (default 160)")
    p.add_argument("--width", type=int, default=1, help="canny: line width in pixels, 1-5 (default 1)")
    p.add_argument("--sigma", type=float, default=0.6, help="xdog: blur sigma (default 0.6)")
    p.add_argument("--eps", type=float, default=0.02, help="xdog: threshold (default 0.02; lower = fewer lines)")
    p.add_argument("--pencil", type=float, metavar="DARKNESS",
                   help="a pencil look: gray strokes of about this darkness (0.1-1; real sketches 0.4-0.7), "
                        "pressure varying over the page, broken in places, soft-edged")
    p.add_argument("--manga", type=float, metavar="PERIOD",
                   help="a manga look: the image's darkest tones as black fills, its middle tones as screentone "
                        "dots this many pixels apart (3-12)")
    p.add_argument("--noise", action="store_true", help="add scan-like paper tone, blur and grain")
    p.add_argument("--seed", type=int, default=0, help="seed for --method random, --pencil, --manga and --noise")
    p.add_argument("--overwrite", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tinct.imageio import load_image, save_image
    from tinct.lineart import canny, pencil, random_lineart, scan_noise, screentone, xdog

    out = Path(args.output)
    to_file = len(args.inputs) == 1 and out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
    if not to_file and out.suffix:
        raise TinctError(f"-o {args.output}: give an image file name (one input) or a folder without an extension")
    probe = np.zeros((8, 8), np.uint8)  # the settings are checked before any file is read
    if args.method == "canny":
        canny(probe, args.low, args.high, args.width)
    else:
        xdog(probe, sigma=args.sigma, eps=args.eps)
    if args.pencil is not None:
        pencil(probe, np.random.default_rng(0), args.pencil)
    if args.manga is not None:
        screentone(probe, probe, None, period=args.manga)
    gen = np.random.default_rng(args.seed)
    failed = 0
    for text in args.inputs:
        src = Path(text)
        dst = out if to_file else out / f"{src.stem}.png"
        try:
            rgb = load_image(src).rgb
            if args.method == "canny":
                lines = canny(rgb, args.low, args.high, args.width)
            elif args.method == "xdog":
                lines = xdog(rgb, sigma=args.sigma, eps=args.eps)
            else:
                lines = random_lineart(rgb, gen, p_noise=0.0, p_pencil=0.0)
            if args.pencil is not None:
                lines = pencil(lines, gen, args.pencil)
            if args.manga is not None:
                lines = screentone(lines, rgb, gen, period=args.manga)
            if args.noise:
                lines = scan_noise(lines, gen)
            save_image(dst, np.repeat(lines[..., None], 3, axis=2), None, overwrite=args.overwrite)
        except TinctError as exc:
            failed += 1
            print(f"skip {src}: {exc}")
    return 1 if failed else 0
