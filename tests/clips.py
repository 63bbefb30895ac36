"""Small real video files for the tests, written with PyAV (no data files needed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from conftest import random_rgb


def scene(seed: int, h: int, w: int) -> np.ndarray:
    """A smooth, colorful background bigger than the frame, to pan over."""
    return random_rgb(h + 40, w + 40, seed=seed)


def frames(n: int = 12, h: int = 64, w: int = 96, cut_at: int | None = None, still: int = 0,
           grain: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames panning over a scene (2 px per frame); from ``cut_at`` on another scene (a
    shot cut); the first ``still`` frames do not move; ``grain``: std of per-frame noise."""
    rng = np.random.default_rng(seed + 100)
    out = []
    for i in range(n):
        bg = scene(seed if cut_at is None or i < cut_at else seed + 7, h, w)
        if cut_at is not None and i >= cut_at:
            bg = 255 - bg  # a different shot: other colors and lightness
        dx = 0 if i < still else 2 * (i - still)
        f = bg[10:10 + h, dx % 40:dx % 40 + w].astype(np.float64)
        if grain:
            f += rng.normal(0, grain, f.shape[:2])[..., None]
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


def write_clip(path: Path, rgb_frames: list[np.ndarray], rate: int = 12, codec: str = "libx264",
               audio: bool = False, fmt: str | None = None, rotation: int = 0) -> Path:
    """Encode ``rgb_frames`` (and, with ``audio``, a 440 Hz AAC tone as long as the clip);
    ``rotation``: a display matrix turning the stored frames counter-clockwise (a phone clip)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = rgb_frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as c:
        v = c.add_stream(codec, rate=rate)
        v.width, v.height = w, h
        v.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if rotation:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=44100) if audio else None
        for i, rgb in enumerate(rgb_frames):
            fr = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            fr.pts = i
            fr.time_base = Fraction(1, rate)
            for p in v.encode(fr):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            samples = int(44100 * len(rgb_frames) / rate)
            t = np.arange(samples) / 44100
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, start:start + 1024], format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = start
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def packets(path: Path, kind: str) -> list[tuple[int | None, int]]:
    """(pts, size) of every packet of the first stream of ``kind`` ('video' or 'audio')."""
    import av

    with av.open(str(path)) as c:
        s = getattr(c.streams, kind)[0]
        return [(p.pts, p.size) for p in c.demux(s) if p.size]
