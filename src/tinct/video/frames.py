"""Videos to a training folder, the way seed report 004 builds its set: frames are read in order,
and a frame is kept only when its frame-subtraction score against the last kept frame reaches
``threshold`` (near-identical neighbours are dropped). Shot cuts (:func:`tinct.video.temporal.is_cut`)
start a new shot, whose first frame is always a candidate; ``every`` looks at every n-th frame
only and ``max_per_shot`` caps the frames kept per shot. Gray and near-gray frames are skipped
(they teach a colorizer nothing). Writes ``<video stem>_<frame>.jpg`` files, ``manifest.csv``
(file, video, frame, time, shot, score) and ``summary.json`` (kept and dropped, per reason)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.errors import TinctError
from tinct.video.io import read_frames
from tinct.video.temporal import cut_score, CUT_THRESHOLD

SCORE_WIDTH = 64  # frames are compared as gray thumbnails this wide


def thumb(rgb: np.ndarray) -> np.ndarray:
    """The gray thumbnail (float32, 0-1) the scores compare."""
    im = Image.fromarray(rgb).convert("L")
    h = max(1, round(im.height * SCORE_WIDTH / im.width))
    return np.asarray(im.resize((SCORE_WIDTH, h), Image.BILINEAR), dtype=np.float32) / 255.0


def difference_score(a: np.ndarray, b: np.ndarray) -> float:
    """Frame subtraction: mean absolute difference of two gray thumbnails (0 same, 1 opposite)."""
    return float(np.abs(a - b).mean())


def extract(videos: list[Path], out: Path, threshold: float = 0.05, every: int = 1, max_per_shot: int | None = None,
            skip_gray: bool = True, max_side: int | None = 512, quality: int = 95,
            progress: Callable[[str, int], None] | None = None, on_damage: Callable[[str], None] | None = None) -> dict:
    from tinct.dataset.build import is_near_gray

    if not 0 <= threshold <= 1:
        raise TinctError(f"threshold must be between 0 and 1, got {threshold}")
    if every < 1 or (max_per_shot is not None and max_per_shot < 1):
        raise TinctError("every and max-per-shot must be 1 or more")
    if (out / "manifest.csv").exists():
        raise TinctError(f"{out} already holds extracted frames (manifest.csv): choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    rows, counts, per_video = [], Counter(), {}
    for video in videos:
        c = Counter()
        last_kept = last_seen = None
        shot, in_shot = 0, 0
        for f in read_frames(video, on_damage, upright=True):
            t = thumb(f.rgb)
            g8 = (t * 255).astype(np.uint8)
            cut = last_seen is not None and cut_score(last_seen, g8) > CUT_THRESHOLD
            last_seen = g8
            if cut:
                shot, in_shot, last_kept = shot + 1, 0, None
                c["shot cuts"] += 1
            if progress:
                progress(video.name, f.index)
            if f.index % every:
                c["dropped: not every n-th"] += 1
                continue
            score = 1.0 if last_kept is None else difference_score(last_kept, t)
            if score < threshold:
                c["dropped: near-duplicate"] += 1
                continue
            if max_per_shot is not None and in_shot >= max_per_shot:
                c["dropped: shot full"] += 1
                continue
            small = Image.fromarray(f.rgb)
            small.thumbnail((96, 96))
            if skip_gray and is_near_gray(np.asarray(small)):
                c["dropped: gray"] += 1
                continue
            im = Image.fromarray(f.rgb)
            if max_side and max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.BICUBIC)
            name = f"{video.stem}_{f.index:06d}.jpg"
            im.save(out / name, quality=quality)
            rows.append({"file": name, "video": str(video), "frame": f.index, "time_s": round(f.time_s, 4),
                         "shot": shot, "score": round(score, 5)})
            last_kept, in_shot = t, in_shot + 1
            c["kept"] += 1
        per_video[str(video)] = dict(sorted(c.items()))
        counts.update(c)
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "video", "frame", "time_s", "shot", "score"])
        w.writeheader()
        w.writerows(rows)
    summary = {"threshold": threshold, "every": every, "max_per_shot": max_per_shot, "skip_gray": skip_gray,
               "total": dict(sorted(counts.items())), "videos": per_video}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
