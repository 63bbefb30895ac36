"""Training: ``train(TrainConfig(...)) -> TrainResult`` for any colorizer of the zoo.

``train`` is imported on first use, so that reading the options (``tinct train --help``) does not
load torch."""

from tinct.train.config import TrainConfig, TrainResult

__all__ = ["TrainConfig", "TrainResult", "train"]


def __getattr__(name: str):
    if name == "train":
        from tinct.train.loop import train

        return train
    raise AttributeError(f"module 'tinct.train' has no attribute {name!r}")
