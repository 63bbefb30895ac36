"""``tinct bench --video DIR``: flicker and fidelity of colorized clips, steadied against per frame.

Each color clip of ``DIR`` (at most ``max_frames`` frames, scaled to at most ``max_side`` px)
is made gray and colorized twice by the same model, with temporal steadying and ``--per-frame``.
Reported per clip and on average: the color warping error (:func:`tinct.video.temporal.warp_error`,
mean ab distance between consecutive output frames along the optical flow, lower = steadier),
the same for the original color frames (the floor a faithful result can reach), PSNR and mean
b cast against the originals, and frames per second. The steadied/per-frame warping-error ratio is
measured in the same run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tinct import bench_report, metrics
from tinct.errors import TinctError
from tinct.video.io import VIDEO_EXTENSIONS, read_frames
from tinct.video.temporal import warp_error


def load_clip(path: Path, max_frames: int, max_side: int) -> list[np.ndarray]:
    out = []
    for f in read_frames(path):
        im = Image.fromarray(f.rgb)
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.BICUBIC)
            im = im.crop((0, 0, im.width - im.width % 2, im.height - im.height % 2))
        out.append(np.asarray(im))
        if len(out) >= max_frames:
            break
    return out


def run_video_bench(data: Path, model: str, out: Path, render_size: int = 256, max_frames: int = 60,
                    max_side: int = 480, progress: bool = True) -> dict:
    from tqdm import tqdm

    from tinct import color
    from tinct.video.colorizer import VideoColorizer

    clips = sorted(p for p in Path(data).iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not clips:
        raise TinctError(f"no video files in {data}")
    modes = {"steadied": VideoColorizer(model, render_size), "per frame": VideoColorizer(model, render_size, per_frame=True)}
    rows = []
    for clip in tqdm(clips, desc="video bench", unit="clip", disable=not progress):
        truth = load_clip(clip, max_frames, max_side)
        grays_rgb = [color.to_uint8(color.gray_rgb(color.to_tensor(f))) for f in truth]
        grays = [g[..., 0] for g in grays_rgb]
        row = {"clip": clip.name, "frames": len(truth), "size": f"{truth[0].shape[1]}x{truth[0].shape[0]}",
               "truth_warp": warp_error(truth, grays)}
        for name, vc in modes.items():
            t0 = time.perf_counter()
            outs = list(vc.frames(grays_rgb))
            secs = time.perf_counter() - t0
            row[name] = {"warp": warp_error(outs, grays), "fps": len(outs) / secs,
                         "psnr": float(np.mean([metrics.psnr(o, t) for o, t in zip(outs, truth)])),
                         "bias_b": float(np.mean([metrics.image_metrics(o, t)["bias_b"] for o, t in
                                                  zip(outs[::10], truth[::10])]))}
        row["ratio"] = row["steadied"]["warp"] / max(row["per frame"]["warp"], 1e-9)
        rows.append(row)
    mean = {k: float(np.mean([r[m][k] for r in rows])) for m in modes for k in ("warp",)}
    report = {"model": model, "render_size": render_size, "max_frames": max_frames, "max_side": max_side,
              "clips": rows, "mean_ratio": float(np.mean([r["ratio"] for r in rows])), "mean": mean}
    lines = ["| clip | frames | size | warp error: original | steadied | per frame | ratio | PSNR steadied / per frame "
             "| fps steadied / per frame |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, p = r["steadied"], r["per frame"]
        lines.append(f"| {r['clip']} | {r['frames']} | {r['size']} | {r['truth_warp']:.2f} | {s['warp']:.2f} | "
                     f"{p['warp']:.2f} | {r['ratio']:.2f} | {s['psnr']:.2f} / {p['psnr']:.2f} | "
                     f"{s['fps']:.1f} / {p['fps']:.1f} |")
    lines.append(f"\nMean steadied/per-frame warping-error ratio: {report['mean_ratio']:.2f} "
                 "(color warping error: mean ab distance between consecutive frames along the optical flow).")
    report["markdown"] = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    bench_report.atomic_write_bytes(out / "video_bench.json", json.dumps(report, indent=1).encode())
    bench_report.atomic_write_bytes(out / "video_bench.md", (report["markdown"] + "\n").encode())
    return report
