"""Video: colorize films with stable colors, and turn videos into training folders.

- :mod:`tinct.video.io`: reading and writing with PyAV (FFmpeg's libraries): frames with their
  time stamps, H.264 output, audio streams copied untouched, atomic output files.
- :mod:`tinct.video.temporal`: temporal consistency: DIS optical flow on the gray frames, the
  previous colors warped along it and blended where the flow is reliable (forward-backward
  check), shot cuts detected and reset; the warping error (flicker) metric.
- :mod:`tinct.video.colorizer`: :class:`VideoColorizer`, ``tinct video``'s engine, on the one
  inference path (:class:`tinct.pipeline.Colorizer`).
- :mod:`tinct.video.frames`: ``tinct frames``: frames for training, near-duplicates dropped by a
  frame-subtraction score, shot cuts found, gray frames skipped, a manifest.
"""

from tinct.video.colorizer import VideoColorizer

__all__ = ["VideoColorizer"]
