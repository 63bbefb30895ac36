"""``tinct train-alternatives``: add learned alternatives to a colorizer's model file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    from tinct.commands.train import add_config_arguments
    from tinct.train.config import AlternativesConfig

    p = sub.add_parser("train-alternatives", help="train the learned alternatives of a colorizer",
                       description="Freeze a colorizer with a color distribution (effunet), train K small "
                       "heads that each give a coherent other reading of the picture where the network is "
                       "unsure (multiple-choice learning), and write base + alternatives as one model file.")
    add_config_arguments(p, AlternativesConfig, required=("data", "out"), positional=("base",))
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.commands.train import config_from_args
    from tinct.train.alternatives import AlternativesConfig, train_alternatives

    cfg = config_from_args(AlternativesConfig, args)
    scores = train_alternatives(cfg)
    if scores:
        alts = ", ".join(f"{scores[f'psnr_{j}']:.2f}" for j in range(1, cfg.k + 1))
        print(f"validation PSNR: shown {scores['psnr_shown']:.2f}, alternatives {alts}, "
              f"best per image {scores['psnr_best']:.2f}")
    print(f"model written to {cfg.out}")
    return 0
