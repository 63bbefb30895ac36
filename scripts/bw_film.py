"""A real black-and-white film colorized in both modes (not a unit test): the flicker where the
gray input does not change (:func:`tinct.video.temporal.still_flicker`), the warping error along
the gray frames' flow, the colorfulness, and a strip of every 10th frame (gray, per frame, steadied).

    python scripts/bw_film.py ../shared/data/video/bw_film_v04.mp4 --strip docs/bw_film_strip.jpg
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("film")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--max-frames", type=int, default=0, help="0 = all")
    ap.add_argument("--strip", help="write the frame strip here")
    args = ap.parse_args()
    from tinct import metrics
    from tinct.pipeline import Colorizer
    from tinct.video import VideoColorizer
    from tinct.video.bench import strip_image
    from tinct.video.io import read_frames
    from tinct.video.temporal import still_flicker, warp_error

    frames = []
    for f in read_frames(args.film, upright=True):
        frames.append(f.rgb)
        if args.max_frames and len(frames) >= args.max_frames:
            break
    grays = [np.asarray(np.round(f.astype(np.float32) @ [0.299, 0.587, 0.114]), np.uint8) for f in frames]
    colorizer = Colorizer(args.model)
    outs = {"per frame": list(VideoColorizer(colorizer, per_frame=True).frames(frames)),
            "steadied": list(VideoColorizer(colorizer).frames(frames))}
    res = {"film": args.film, "frames": len(frames), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}"}
    for name, o in outs.items():
        key = name.replace(" ", "_")
        res[f"still_flicker_{key}"] = round(still_flicker(o, grays), 3)
        res[f"warp_error_{key}"] = round(warp_error(o, grays), 3)
        res[f"cf_{key}"] = round(float(np.mean([metrics.colorfulness(x) for x in o])), 2)
    res["still_flicker_ratio"] = round(res["still_flicker_steadied"] / max(res["still_flicker_per_frame"], 1e-9), 3)
    res["input_cf"] = round(float(np.mean([metrics.colorfulness(x) for x in frames])), 2)
    print(json.dumps(res))
    if args.strip:
        pick = slice(0, len(frames), 10)
        strip_image({"gray": frames[pick], **{k: v[pick] for k, v in outs.items()}}).save(args.strip, quality=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
