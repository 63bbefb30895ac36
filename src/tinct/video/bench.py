"""``tinct bench video --data DIR``: flicker and fidelity of colorized clips, steadied against per frame.

Each color clip of ``DIR`` (at most ``max_frames`` frames, scaled to at most ``max_side`` px)
is made gray and colorized twice by the same model, with temporal steadying and ``--per-frame``.
Reported per clip and on average: the color warping error (:func:`tinct.video.temporal.warp_error`,
mean ab distance between consecutive output frames along the optical flow, lower = steadier),
the same for the original color frames (the floor a faithful result can reach), the color
distribution consistency (:func:`tinct.video.temporal.cdc`, k = 1, 2, 4), PSNR, colorfulness and
mean b cast against the originals, frames per second and the process's peak memory. The
steadied/per-frame ratios are measured in the same run. A strip image per clip (every 10th frame:
original, per frame, steadied) goes into ``out``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tinct import metrics
from tinct.imageio import atomic_write_bytes
from tinct.errors import TinctError
from tinct.video.io import VIDEO_EXTENSIONS, read_frames
from tinct.video.temporal import cdc, warp_error


def load_clip(path: Path, max_frames: int, max_side: int) -> list[np.ndarray]:
    out = []
    for f in read_frames(path, upright=True):
        im = Image.fromarray(f.rgb)
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.BICUBIC)
            im = im.crop((0, 0, im.width - im.width % 2, im.height - im.height % 2))
        out.append(np.asarray(im))
        if len(out) >= max_frames:
            break
    return out


def strip_image(rows: dict[str, list[np.ndarray]], width: int = 160) -> Image.Image:
    """One row per entry (its name on the left), the frames side by side, aspect kept."""
    from PIL import ImageDraw

    first = next(iter(rows.values()))[0]
    height = round(width * first.shape[0] / first.shape[1])
    label_w, n = 70, max(len(v) for v in rows.values())
    sheet = Image.new("RGB", (label_w + n * width, len(rows) * height), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, frames) in enumerate(rows.items()):
        draw.text((4, i * height + height // 2 - 6), name, fill="black")
        for j, f in enumerate(frames):
            sheet.paste(Image.fromarray(f).resize((width, height), Image.BICUBIC), (label_w + j * width, i * height))
    return sheet


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
               "truth_warp": warp_error(truth, grays), "truth_cdc": cdc(truth),
               "truth_cf": float(np.mean([metrics.colorfulness(t) for t in truth]))}
        strips = {"original": truth[::10]}
        for name, vc in modes.items():
            t0 = time.perf_counter()
            outs = list(vc.frames(grays_rgb))
            secs = time.perf_counter() - t0
            strips[name] = outs[::10]
            row[name] = {"warp": warp_error(outs, grays), "cdc": cdc(outs), "fps": len(outs) / secs,
                         "psnr": float(np.mean([metrics.psnr(o, t) for o, t in zip(outs, truth)])),
                         "cf": float(np.mean([metrics.colorfulness(o) for o in outs])),
                         "bias_b": float(np.mean([metrics.image_metrics(o, t)["bias_b"] for o, t in
                                                  zip(outs[::10], truth[::10])]))}
        row["ratio"] = row["steadied"]["warp"] / max(row["per frame"]["warp"], 1e-9)
        row["time_ratio"] = row["per frame"]["fps"] / max(row["steadied"]["fps"], 1e-9)
        rows.append(row)
        out.mkdir(parents=True, exist_ok=True)
        strip_image(strips).save(out / f"{clip.stem}_strip.png")
    mean = {k: float(np.mean([r[m][k] for r in rows])) for m in modes for k in ("warp",)}
    import resource

    report = {"model": model, "render_size": render_size, "max_frames": max_frames, "max_side": max_side,
              "clips": rows, "mean_ratio": float(np.mean([r["ratio"] for r in rows])), "mean": mean,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    lines = ["| clip | frames | size | warp error: original / steadied / per frame (ratio) | CDC: original / "
             "steadied / per frame | PSNR steadied / per frame | CF original / steadied / per frame | "
             "fps steadied / per frame |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, p = r["steadied"], r["per frame"]
        lines.append(f"| {r['clip']} | {r['frames']} | {r['size']} | {r['truth_warp']:.2f} / {s['warp']:.2f} / "
                     f"{p['warp']:.2f} ({r['ratio']:.2f}) | {r['truth_cdc']:.4f} / {s['cdc']:.4f} / {p['cdc']:.4f} | "
                     f"{s['psnr']:.2f} / {p['psnr']:.2f} | {r['truth_cf']:.1f} / {s['cf']:.1f} / {p['cf']:.1f} | "
                     f"{s['fps']:.1f} / {p['fps']:.1f} |")
    lines.append(f"\nMean steadied/per-frame warping-error ratio: {report['mean_ratio']:.2f}; peak memory "
                 f"{report['peak_rss_mb']:.0f} MB (color warping error: mean ab distance between consecutive "
                 "frames along the optical flow of the gray frames, occluded pixels masked; CDC: Jensen-Shannon "
                 "divergence of the ab histograms of frames t and t+k, k = 1, 2, 4).")
    report["markdown"] = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "video_bench.json", json.dumps(report, indent=1).encode())
    atomic_write_bytes(out / "video_bench.md", (report["markdown"] + "\n").encode())
    return report
