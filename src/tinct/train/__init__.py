"""Training: ``train(TrainConfig(...)) -> TrainResult`` for any colorizer of the zoo."""

from tinct.train.config import TrainConfig, TrainResult
from tinct.train.loop import train

__all__ = ["TrainConfig", "TrainResult", "train"]
