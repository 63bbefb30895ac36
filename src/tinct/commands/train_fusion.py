"""``tinct train-fusion``: add the learned hint fusion stage to a hint model file."""

from __future__ import annotations

import argparse
import dataclasses


def add_parser(sub) -> argparse.ArgumentParser:
    from tinct.commands.train import _field_docs
    from tinct.train.fusion import FusionConfig

    p = sub.add_parser("train-fusion", help="train the point-hint fusion stage of a hint model",
                       description="Freeze a hint model (effunet with hints), precompute its colors and "
                       "Levin's propagation for sampled hints on a folder of color images, train the fusion "
                       "CNN that combines them, and write base + fusion as one model file.")
    docs = _field_docs(FusionConfig)
    for f in dataclasses.fields(FusionConfig):
        helptext = docs.get(f.name, "")
        if f.name == "base":
            p.add_argument("base", help=helptext)
        elif f.name in ("data", "out"):
            p.add_argument("--" + f.name, required=True, help=helptext)
        elif f.type in (bool, "bool"):
            p.add_argument("--" + f.name.replace("_", "-"), action="store_true", help=helptext)
        else:
            typ = {"int": int, "float": float, "int | None": int}.get(str(f.type), str)
            p.add_argument("--" + f.name.replace("_", "-"), type=typ, default=f.default,
                           help=f"{helptext} (default: {f.default})".strip())
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.train.fusion import FusionConfig, train_fusion

    names = {f.name for f in dataclasses.fields(FusionConfig)}
    cfg = FusionConfig(**{k: v for k, v in vars(args).items() if k in names})
    scores = train_fusion(cfg)
    print(f"validation ab MSE: network {scores['mse_net_before']:.5f}, propagation {scores['mse_propagated_before']:.5f}, "
          f"fused {scores['mse_fused']:.5f}")
    print(f"model written to {cfg.out}")
    return 0
