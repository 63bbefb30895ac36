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
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.export.onnx import export_onnx

    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise TinctError(f"{out}: the output must end in .onnx")
    if out.exists() and not args.overwrite:
        raise TinctError(f"{out} already exists; use --overwrite to replace it")
    export_onnx(args.model, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
