"""End-to-end ``tinct video`` speed (not a unit test): every clip of a folder decoded, colorized
and encoded to H.264 by :class:`tinct.VideoColorizer`, steadied and per frame, in one process
(the model loaded once, not timed; modes alternated clip by clip), frames/s for each and their ratio.

    python scripts/video_speed.py ../shared/data/video --pattern 'davis_*.mp4' --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--pattern", default="*.mp4")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    from tinct.pipeline import Colorizer
    from tinct.video import VideoColorizer
    from tinct.video.io import probe

    torch.set_num_threads(args.threads)
    colorizer = Colorizer(args.model)
    modes = {"steadied": VideoColorizer(colorizer), "per_frame": VideoColorizer(colorizer, per_frame=True)}
    clips = sorted(Path(args.folder).glob(args.pattern))
    if not clips:
        raise SystemExit(f"no clips matching {args.pattern} in {args.folder}")
    rows, totals = [], {m: [0, 0.0] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        modes_of = list(modes)
        VideoColorizer(colorizer).colorize(clips[0], Path(tmp) / "warm.mp4")  # warm-up, not timed
        for k, clip in enumerate(clips):
            info = probe(clip)
            row = {"clip": clip.name, "size": f"{info.width}x{info.height}"}
            for m in (modes_of if k % 2 == 0 else modes_of[::-1]):
                t = time.perf_counter()
                res = modes[m].colorize(clip, Path(tmp) / f"{m}_{clip.name}", overwrite=True)
                dt = time.perf_counter() - t
                row[f"fps_{m}"] = round(res.frames / dt, 2)
                totals[m][0] += res.frames
                totals[m][1] += dt
            rows.append(row)
            print(json.dumps(row), flush=True)
    fps = {m: n / s for m, (n, s) in totals.items()}
    print(json.dumps({"frames": totals["steadied"][0], "fps_steadied": round(fps["steadied"], 2),
                      "fps_per_frame": round(fps["per_frame"], 2),
                      "time_ratio_steadied_over_per_frame": round(fps["per_frame"] / fps["steadied"], 3),
                      "threads": args.threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
