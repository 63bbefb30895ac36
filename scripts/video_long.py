"""A long clip end to end (not a unit test): writes a MINUTES-long 1920x1080 H.264 clip with a
stereo AAC track (a slow pan and zoom over a photo, with film grain), runs ``tinct video`` on it
in a fresh process, and prints the run's peak memory (max RSS), its frames/s, and whether the
output has the input's frame count, duration and audio packets (byte for byte).

    python scripts/video_long.py --photo ../shared/data/bw_photos/bw_bopb_05477bdc7e.jpg \\
        --minutes 10 --fps 5 --work runs/long
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_clip(path: Path, photo: Path, minutes: float, fps: int, w: int = 1920, h: int = 1080) -> None:
    import av
    from PIL import Image

    base = Image.open(photo).convert("L")
    scale = 1.3 * max(w / base.width, h / base.height)
    big = np.asarray(base.resize((round(base.width * scale), round(base.height * scale)), Image.BICUBIC))
    n = int(minutes * 60 * fps)
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "veryfast", "crf": "23"}
        a = c.add_stream("aac", rate=48000, layout="stereo")
        for i in range(n):
            t = i / max(n - 1, 1)
            y0 = int((big.shape[0] - h) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))
            x0 = int((big.shape[1] - w) * t)
            g = big[y0:y0 + h, x0:x0 + w].astype(np.int16) + rng.integers(-6, 7, (h, w), dtype=np.int16)
            g8 = np.clip(g, 0, 255).astype(np.uint8)
            fr = av.VideoFrame.from_ndarray(np.repeat(g8[:, :, None], 3, axis=2), format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, fps)
            for p in v.encode(fr):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        total = int(48000 * n / fps)
        for start in range(0, total, 1024):
            k = min(1024, total - start)
            t = (start + np.arange(k)) / 48000
            tone = np.stack([0.2 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
            af = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, start
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def audio_digest(path: Path) -> tuple[int, str]:
    import av

    h = hashlib.sha256()
    n = 0
    with av.open(str(path)) as c:
        for p in c.demux(c.streams.audio[0]):
            if p.size:
                h.update(bytes(p))
                h.update(str(p.pts).encode())
                n += 1
    return n, h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", required=True, help="the picture the clip pans over")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--work", default="runs/long")
    ap.add_argument("--per-frame", action="store_true", help="the per-frame mode instead of the steadied one")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src, out = work / f"long_{args.minutes:g}min_{args.fps}fps.mp4", work / "long_color.mp4"
    if not src.exists():
        t = time.perf_counter()
        write_clip(src, Path(args.photo), args.minutes, args.fps)
        print(f"wrote {src} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "tinct", "video", str(src), "-o", str(out), "-q"] + (["--per-frame"] if args.per_frame else [])
    t = time.perf_counter()
    proc = subprocess.Popen(cmd)
    samples = []  # (seconds, RSS MB) every 2 s: memory must not grow with the clip's length
    while proc.poll() is None:
        try:
            kb = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0])
            samples.append((time.perf_counter() - t, kb / 1024))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(2)
    if proc.returncode:
        raise SystemExit(f"tinct video failed ({proc.returncode})")
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    quarters = [round(max((m for s, m in samples if q * seconds / 4 <= s < (q + 1) * seconds / 4), default=0))
                for q in range(4)]
    from tinct.video.io import probe

    a, b = probe(src), probe(out)
    sa, sb = audio_digest(src), audio_digest(out)
    print(json.dumps({"clip": src.name, "size": f"{a.width}x{a.height}", "frames_in": a.frames, "frames_out": b.frames,
                      "duration_in_s": round(a.duration_s, 3), "duration_out_s": round(b.duration_s, 3),
                      "audio_packets": sa[0], "audio_identical": sa == sb, "seconds": round(seconds, 1),
                      "fps": round(b.frames / seconds, 2), "peak_rss_mb": round(peak_mb),
                      "peak_rss_mb_by_quarter": quarters,
                      "mode": "per-frame" if args.per_frame else "steadied"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
