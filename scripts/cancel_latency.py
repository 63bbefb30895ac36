"""How soon an abandoned request stops working on the server: ``tinct serve``'s app under a real
uvicorn, a worst-case request (a 12 MP photo, 100 point hints, 1024 px) abandoned after
``--after`` seconds, then a small photo timed; against the small photo alone, in one run. With
``--stop-time``, also how long after the disconnect the server stops using the CPU.

    python scripts/cancel_latency.py [--model photo] [--after 1.0 1.5 2.0] [--repeats 3] [--stop-time]
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import statistics
import sys
import threading
import time

import numpy as np
from PIL import Image


def form(png: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    b = "tinctcancel"
    parts = [f"--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
             f"Content-Type: image/png\r\n\r\n".encode() + png + b"\r\n"]
    parts += [f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode() for k, v in fields.items()]
    return b"".join(parts) + f"--{b}--\r\n".encode(), b


def post(port: int, body: bytes, boundary: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall((f"POST /api/v1/colorize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; "
               f"boundary={boundary}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    return s


def answer(s: socket.socket) -> int:
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split()[1]) if data else 0


def cpu_seconds() -> float:
    """CPU seconds of this process, its reaped children and its live children (Linux /proc)."""
    import os

    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    tick = os.sysconf("SC_CLK_TCK")
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                kids = f.read().split()
        except OSError:
            continue
        for pid in kids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def stop_time(closed: float, idle_share: float = 0.05, quiet_s: float = 0.2, give_up_s: float = 15.0) -> float:
    """Seconds from a disconnect at ``closed`` until the server (this process) stops working: the
    last 10-ms sample in which it used more than ``idle_share`` of a core, once it has stayed below
    that for ``quiet_s``. Every thread counts, an abandoned helper thread at idle priority too, and
    every child process (a killable call's, :func:`tinct.cancel.killable`)."""
    last_busy, prev_cpu, prev_t = closed, cpu_seconds(), time.perf_counter()
    while True:
        time.sleep(0.01)
        cpu, t = cpu_seconds(), time.perf_counter()
        if (cpu - prev_cpu) / (t - prev_t) > idle_share:
            last_busy = t
        prev_cpu, prev_t = cpu, t
        if t - last_busy > quiet_s or t - closed > give_up_s:
            return last_busy - closed


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--after", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stop-time", action="store_true", help="also time, for each abandonment, how long the server "
                    "keeps using the CPU after the disconnect (the process's CPU time, sampled every 10 ms)")
    args = ap.parse_args()
    import uvicorn

    from tinct.commands.serve import uvicorn_config
    from tinct.serve import Settings, create_app

    settings = Settings(models=(args.model,), default_model=args.model, torch_threads=args.threads, workers=1,
                        max_render_size=1024, max_upload_bytes=60_000_000, max_pixels=20_000_000)
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn_config(app, settings, "warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = sock.getsockname()[1]
    rng = np.random.default_rng(0)
    big = (rng.random((3000, 4000)) * 40 + np.linspace(60, 200, 4000)[None]).astype(np.uint8)
    points = [{"x": int(x), "y": int(y), "color": "#%02x%02x%02x" % tuple(rng.integers(0, 255, 3))}
              for x, y in zip(rng.integers(0, 4000, 100), rng.integers(0, 3000, 100))]
    worst, wb = form(png_bytes(big), {"hints": json.dumps({"points": points}), "render_size": "1024"})
    small, sb = form(png_bytes((rng.random((240, 320)) * 255).astype(np.uint8)), {})

    def small_time() -> float:
        t0 = time.perf_counter()
        assert answer(post(port, small, sb)) == 200
        return time.perf_counter() - t0

    small_time()  # warm
    alone = statistics.median(small_time() for _ in range(5))
    t0 = time.perf_counter()
    assert answer(post(port, worst, wb)) == 200
    full = time.perf_counter() - t0
    rows = []
    for after in args.after:
        waits, stops = [], []
        for _ in range(args.repeats):
            s = post(port, worst, wb)
            time.sleep(after)
            s.close()  # the client goes away
            waits.append(small_time())
            time.sleep(0.5)
        for _ in range(args.repeats if args.stop_time else 0):
            s = post(port, worst, wb)
            time.sleep(after)
            s.close()
            stops.append(stop_time(time.perf_counter()))
            time.sleep(0.3)
        row = {"abandoned_after_s": after, "small_s": round(statistics.median(waits), 3),
               "ratio_to_alone": round(statistics.median(waits) / alone, 2)}
        if stops:
            row["work_stops_after_s"] = {"median": round(statistics.median(stops), 2), "max": round(max(stops), 2)}
        rows.append(row)
    print(json.dumps({"small_alone_s": round(alone, 3), "worst_case_full_s": round(full, 2), "rows": rows}, indent=1))
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
