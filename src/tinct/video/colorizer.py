"""``VideoColorizer``: a film in, a colorized film out, on the one inference path.

Each frame goes through :meth:`tinct.pipeline.Colorizer.predict` (the network at the working
size, with the clip's palette or reference if any), its colors are steadied by
:class:`tinct.video.temporal.Stabilizer` (unless ``per_frame``), and
:meth:`~tinct.pipeline.Colorizer.finish` puts them on the frame's full-resolution lightness.
Frames are streamed: memory does not grow with the clip's length."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tinct.errors import HintError
from tinct.hints import Hints
from tinct.pipeline import Colorizer, lightness
from tinct.video.io import VideoWriter, probe, read_frames, turn
from tinct.video.temporal import Stabilizer


@dataclass
class VideoResult:
    out: Path
    frames: int
    seconds: float
    cuts: int
    damaged: list[str] = field(default_factory=list)


class VideoColorizer:
    """``VideoColorizer("photo").colorize("film.mp4", "film_color.mp4")``.

    ``hints``: a palette and/or reference for the whole clip (point and grid hints belong to one
    picture and are refused). ``per_frame``: no temporal steadying (each frame on its own)."""

    def __init__(self, model: str | os.PathLike | torch.nn.Module | Colorizer = "photo", render_size: int | None = None,
                 hints: Hints | None = None, per_frame: bool = False, temperature: float | None = None,
                 keep: float = 0.85):
        self.colorizer = model if isinstance(model, Colorizer) else Colorizer(model, render_size, temperature)
        if hints is not None:
            if not isinstance(hints, Hints):
                raise HintError(f"hints must be a tinct.Hints, got {type(hints).__name__}")
            if hints.points or hints.grid is not None:
                raise HintError("point and grid hints belong to one picture; a clip takes a palette or a reference")
            if hints.is_empty():
                hints = None
        self.hints, self.per_frame, self.keep = hints, per_frame, keep
        self.render_size = render_size  # None: the colorizer's own
        self.cuts = 0  # shot cuts found in the last stream

    def frames(self, rgb_frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Colorize a stream of HxWx3 uint8 frames (a new stream starts afresh)."""
        stab = None if self.per_frame else Stabilizer(self.keep)
        later = stab is not None and self.colorizer.model.fills_regions  # line art: steady the paint, then flats
        for rgb in rgb_frames:
            l_drawing = lightness(rgb) if later else None
            extras = {} if later else None  # line art: the areas found for the lightness, reused for the colors
            l_full, ab = self.colorizer.predict(rgb if l_drawing is None else l_drawing.clone(), self.hints,
                                                self.render_size, extras, regions=not later)
            if stab is not None:
                gray = F.interpolate(l_full, size=ab.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
                g8 = np.clip(gray[0, 0].numpy() * 2.55 + 0.5, 0, 255).astype(np.uint8)
                ab = torch.from_numpy(stab.step(g8, ab[0].numpy().astype(np.float32)))[None]
            if later:
                ab = self.colorizer.paint_regions(l_drawing, ab, extras.get("areas"))
            yield self.colorizer.finish(l_full, ab)
        self.cuts = stab.cuts if stab is not None else 0

    def colorize(self, src: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 on_damage: Callable[[str], None] | None = None) -> VideoResult:
        """Colorize the video file ``src`` into ``out`` (H.264 mp4, audio copied, time stamps kept).
        ``progress(done, total)`` is called after every frame (total 0 when unknown)."""
        info = probe(src)
        damaged: list[str] = []

        def damage(msg: str) -> None:
            damaged.append(msg)
            if on_damage:
                on_damage(msg)

        writer = VideoWriter(out, info, info.width, info.height, overwrite=overwrite)
        # the network sees the picture upright; the frames are written back as stored, with the
        # input's display matrix, so players turn them as they turned the input
        t0, n = time.perf_counter(), 0
        try:
            stream = read_frames(src, damage, upright=True)
            pts = []

            def rgbs():
                for f in stream:
                    pts.append(f.pts)
                    yield f.rgb

            for rgb in self.frames(rgbs()):
                writer.write(turn(rgb, -info.rotation), pts.pop(0))
                n += 1
                if progress:
                    progress(n, info.frames)
            path = writer.close()
        except BaseException:
            writer.discard()
            raise
        return VideoResult(path, n, time.perf_counter() - t0, self.cuts, damaged)




__all__ = ["VideoColorizer", "VideoResult"]
