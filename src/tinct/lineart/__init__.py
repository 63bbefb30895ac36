"""Line art: drawings made from color images, the training inputs of a line-art colorizer and a
tool on their own (``tinct lineart``).

- :mod:`tinct.lineart.extract`: Canny edges (seed report 002's way) and XDoG (closer to an
  artist's pen), with line width, a pencil look, a manga look (black fills and screentone dots) and
  scan-like noise; :func:`random_lineart` draws all of it
  from a seeded generator for training pairs.
"""

from tinct.lineart.extract import canny, pencil, random_lineart, scan_noise, screentone, xdog

__all__ = ["canny", "pencil", "random_lineart", "scan_noise", "screentone", "xdog"]
