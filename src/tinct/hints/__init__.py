"""Hints: everything a user can say about the colors, and how the models follow it.

Below the models (it imports none of them); the hint network :mod:`tinct.models.effunet` and the
pipeline use it.

- :mod:`~tinct.hints.user`: :class:`Hints`, :class:`Point` and :class:`Stroke`, their checks, and
  :func:`to_tensors`: hints rendered as the network's inputs (ab_hint, mask, 513-d global hint).
- :mod:`~tinct.hints.io`: the one parser of hints as users write them: command-line strings and
  the hints JSON of files and of the HTTP API (points, strokes, palette, grid, reference image).
- :mod:`~tinct.hints.sampling`: hints taken from the ground truth, for training and the benchmark.
- :mod:`~tinct.hints.levin`: Levin et al.'s colorization by optimization (a sparse solve), with a
  prior and an edge guide.
- :mod:`~tinct.hints.fit`: a global color transform of the network's colors fitted to the points.
- :mod:`~tinct.hints.fusion`: the stage that combines the network's colors with the propagated,
  fitted and matched points (:class:`~tinct.hints.fusion.HintFusion`).

The history of what was tried and measured on this subsystem: ``docs/hints_history.md``.
"""

from tinct.hints.sampling import grid_hint_from_truth, sample_points, sample_training_hints
from tinct.hints.user import (GRID_CELLS, HIST_BINS, MAX_PATCH, Hints, Point, Stroke, auto_patch, check_point, check_rgb,
                              global_from_histogram, palette_histogram, parse_color, reference_histogram, rgb_to_ab,
                              to_tensors)

__all__ = ["GRID_CELLS", "HIST_BINS", "MAX_PATCH", "Hints", "Point", "Stroke", "auto_patch", "check_point", "check_rgb",
           "global_from_histogram", "grid_hint_from_truth", "palette_histogram", "parse_color", "reference_histogram",
           "rgb_to_ab", "sample_points", "sample_training_hints", "to_tensors"]
