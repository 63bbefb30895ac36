"""``tinct export``: a model's network as an ONNX graph (for ONNX Runtime, ``--backend onnx``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinct.errors import TinctError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help="export a model's network to ONNX",
                       description="Write the hint-free network of a model as an ONNX graph (dynamic batch and "
                                   "size, multiples of 32). Its metadata names the model file (SHA-256) and the "
                                   "outputs; tinct decodes them as the PyTorch path does. `tinct colorize "
                                   "--backend onnx` exports on first use by itself.")
    p.add_argument("model", metavar="MODEL", help="shipped model name or model file")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--int8", metavar="DIR", help="quantize to int8 (static, per-channel), calibrated on the images "
                                                 "of DIR (images like the ones to be colorized)")
    p.add_argument("--calibration-images", type=int, default=64, metavar="N",
                   help="with --int8: calibrate on the first N images of DIR by name (default 64)")
    p.add_argument("--size", type=int, default=256, metavar="PX", help="with --int8: the working size calibrated at")
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.export.onnx import export_onnx

    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise TinctError(f"{out}: the output must end in .onnx")
    if out.exists() and not args.overwrite:
        raise TinctError(f"{out} already exists; use --overwrite to replace it")
    calibrate = None
    if args.int8:
        from tinct.bench import list_images
        from tinct.pipeline import check_render_size

        if not 1 <= args.calibration_images <= 10_000:
            raise TinctError(f"--calibration-images must be 1-10000, got {args.calibration_images}")
        check_render_size(args.size)
        if not Path(args.int8).is_dir():
            raise TinctError(f"--int8 {args.int8}: not a folder of images")
        calibrate = list_images(args.int8, args.calibration_images)
        if not calibrate:
            raise TinctError(f"--int8 {args.int8}: no images in it")
    export_onnx(args.model, out, calibrate, args.size)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
