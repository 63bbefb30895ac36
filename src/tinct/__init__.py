"""tinct: colorize black-and-white photos, art and video.

>>> from tinct import Colorizer
>>> colorize = Colorizer()            # the shipped default model
>>> color_image = colorize(pil_image)  # PIL or numpy in, same out
"""

__version__ = "0.1.0"

__all__ = ["Colorizer", "Hints", "VideoColorizer", "__version__"]


def __getattr__(name: str):  # lazy: importing tinct must not import torch
    if name == "Colorizer":
        from tinct.pipeline import Colorizer

        return Colorizer
    if name == "Hints":
        from tinct.hints import Hints

        return Hints
    if name == "VideoColorizer":
        from tinct.video import VideoColorizer

        return VideoColorizer
    raise AttributeError(name)
