"""``tinct train-fusion``: add the learned hint fusion stage to a hint model file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    from tinct.commands.train import add_config_arguments
    from tinct.train.config import FusionConfig

    p = sub.add_parser("train-fusion", help="train the point-hint fusion stage of a hint model",
                       description="Freeze a hint model (effunet with hints), precompute its colors and "
                       "their propagation for sampled hints on a folder of color images, train the fusion "
                       "CNN that combines them, and write base + fusion as one model file.")
    add_config_arguments(p, FusionConfig, required=("data", "out"), positional=("base",))
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.commands.train import config_from_args
    from tinct.train.fusion import FusionConfig, train_fusion

    cfg = config_from_args(FusionConfig, args)
    scores = train_fusion(cfg)
    if "precomputed" in scores:
        print(f"{scores['precomputed']} samples written to {cfg.cache.split(',')[0]}")
        return 0
    plain = "".join(f", {name} {scores[f'mse_{key}_before']:.5f}" for key, name in
                    (("plain", "plain Levin"), ("matched", "matched hints")) if f"mse_{key}_before" in scores)
    print(f"validation ab MSE: network {scores['mse_net_before']:.5f}, propagation {scores['mse_propagated_before']:.5f}"
          f"{plain}, fused {scores['mse_fused']:.5f}")
    print(f"model written to {cfg.out}")
    return 0
