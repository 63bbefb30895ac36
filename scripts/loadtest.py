#!/usr/bin/env python
"""Load and soak test for ``tinct serve`` (not a unit test): N concurrent clients for T seconds.

    python scripts/loadtest.py --url http://127.0.0.1:8000 --clients 8 --seconds 60 --pid 12345
    python scripts/loadtest.py --soak --clients 8 --seconds 120 --pid 12345   # good, bad and worst-case mixed

With ``--soak`` each request is drawn (seeded) from a mix: good images, bad requests (not an
image, broken hints JSON, a NaN / 1e308 palette weight, an unknown model, a render size out of
range, a truncated PNG) and worst-case ones (1000 point hints at the largest render size the
server allows). Status counts are printed per kind; after ``--cooldown`` seconds the server's RSS
is compared with its RSS before the run.

Each client posts an image to ``/api/v1/colorize`` in a loop until the time is up (a client that
gets 503 waits the server's ``Retry-After``, capped by ``--max-backoff``, as a polite client
would). At the end it prints requests/s, latency percentiles, the count of each status code,
and, when ``--pid`` names the server process, its resident memory over time. Loopback targets
only; every loop is bounded in time and stops by itself. Exit code 1 when any answer was a 5xx
other than 503, a request failed at the transport level, or the server is gone at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import ipaddress
import json
import math
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def loopback_only(url: str) -> None:
    """Refuse any target that does not resolve to a loopback address."""
    host = urlsplit(url).hostname or ""
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        sys.exit(f"loadtest: cannot resolve {host!r}: {exc}")
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        sys.exit(f"loadtest: refusing {host!r}: only loopback targets (127.0.0.0/8, ::1) are allowed")


def make_image(width: int, height: int) -> bytes:
    """A gray test image (PNG) without any file on disk."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width]
    arr = 128 + 60 * np.sin(x / 23.0) * np.cos(y / 17.0) + 40 * (x / width - 0.5)
    arr += np.random.default_rng(0).normal(0, 8, arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MB (Linux /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def soak_requests(image: bytes, max_render: int) -> list[tuple[str, str, dict, dict]]:
    """(kind, name, files, form) of the soak mix."""
    import random

    rng = random.Random(0)
    img = ("load.png", image, "image/png")
    points = [{"x": rng.randrange(0, 640), "y": rng.randrange(0, 480), "color": "#%06x" % rng.randrange(1 << 24)}
              for _ in range(1000)]
    return [
        ("good", "image", {"image": img}, {}),
        ("good", "image + 3 points", {"image": img}, {"hints": json.dumps({"points": points[:3]})}),
        ("bad", "not an image", {"image": ("notes.png", b"hello " * 100, "image/png")}, {}),
        ("bad", "truncated png", {"image": ("cut.png", image[: len(image) // 2], "image/png")}, {}),
        ("bad", "broken hints json", {"image": img}, {"hints": '{"points": [{"x": 1,'}),
        ("bad", "NaN palette weight", {"image": img}, {"hints": '{"palette": [{"color": "#ff0000", "weight": NaN}]}'}),
        ("bad", "1e308 palette weight", {"image": img}, {"hints": '{"palette": [{"color": "#ff0000", "weight": 1e308}]}'}),
        ("bad", "unknown model", {"image": img}, {"model": "no-such-model"}),
        ("bad", "render size too large", {"image": img}, {"render_size": "99999"}),
        ("worst", f"1000 points at {max_render} px", {"image": img},
         {"hints": json.dumps({"points": points}), "render_size": str(max_render)}),
    ]


async def client_loop(http, url: str, files: dict, form: dict, deadline: float, max_backoff: float,
                      latencies: list[tuple[int, float]], statuses: collections.Counter,
                      failures: collections.Counter, mix: list | None = None, per_kind: dict | None = None,
                      seed: int = 0) -> None:
    import random

    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind = name = None
        if mix:  # the soak: good 50 %, bad 40 %, worst case 10 %
            u = rng.random()
            pool = [m for m in mix if m[0] == ("good" if u < 0.5 else "bad" if u < 0.9 else "worst")]
            kind, name, files, form = rng.choice(pool)
        start = time.perf_counter()
        try:
            r = await http.post(url, files=files, data=form)
        except Exception as exc:  # noqa: BLE001  (transport failure: count it, keep going)
            failures[f"{type(exc).__name__} ({name})" if name else type(exc).__name__] += 1
            await asyncio.sleep(0.2)
            continue
        latencies.append((r.status_code, time.perf_counter() - start))
        statuses[r.status_code] += 1
        if per_kind is not None:
            per_kind.setdefault(f"{kind}: {name}", collections.Counter())[r.status_code] += 1
        if r.status_code == 503 and max_backoff > 0:
            asked = float(r.headers.get("retry-after", "1") or 1)
            wait = min(asked, max_backoff, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(wait)


async def sample_memory(pid: int, deadline: float, every: float, samples: list[tuple[float, float]]) -> None:
    t0 = time.monotonic()
    while True:
        mb = rss_mb(pid)
        if mb is not None:
            samples.append((time.monotonic() - t0, mb))
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))


async def run(args: argparse.Namespace) -> int:
    import httpx

    base = args.url.rstrip("/")
    image = Path(args.image).read_bytes() if args.image else make_image(args.width, args.height)
    files = {"image": (Path(args.image).name if args.image else "load.png", image, "application/octet-stream")}
    form = {k: v for k, v in {"model": args.model, "render_size": args.render_size and str(args.render_size),
                               "format": args.format}.items() if v}
    latencies: list[tuple[int, float]] = []
    statuses: collections.Counter = collections.Counter()
    failures: collections.Counter = collections.Counter()
    memory: list[tuple[float, float]] = []
    timeout = httpx.Timeout(args.request_timeout)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        health = await http.get(f"{base}/health")
        health.raise_for_status()
        print(f"target {base}: {health.json()}")
        print(f"{args.clients} clients x {args.seconds:g} s, image {len(image) / 1e3:.0f} KB, form {form or '{}'}")
        mix, per_kind = None, {}
        if args.soak:
            config = (await http.get(f"{base}/api/v1/config")).json()
            mix = soak_requests(image, int(config["render_size"]["max"]))
        rss_before = rss_mb(args.pid) if args.pid else None
        start = time.monotonic()
        deadline = start + args.seconds
        tasks = [client_loop(http, f"{base}/api/v1/colorize", files, form, deadline, args.max_backoff,
                             latencies, statuses, failures, mix, per_kind, seed=i) for i in range(args.clients)]
        if args.pid:
            tasks.append(sample_memory(args.pid, deadline, args.memory_every, memory))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
        try:
            alive = (await http.get(f"{base}/health")).status_code == 200
        except Exception:  # noqa: BLE001  (any failure means the server is not answering)
            alive = False
        if args.pid and args.cooldown > 0:
            await asyncio.sleep(args.cooldown)
        rss_after = rss_mb(args.pid) if args.pid else None

    ok = statuses.get(200, 0)

    def summary(values: list[float]) -> dict:
        v = sorted(values)
        out = {f"p{q}": round(percentile(v, q) * 1000, 1) for q in (50, 95, 99)}
        out["max"] = round(v[-1] * 1000, 1) if v else math.nan
        out["mean"] = round(sum(v) / len(v) * 1000, 1) if v else math.nan
        return out

    report = {
        "clients": args.clients, "seconds": round(elapsed, 1), "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 2), "ok_per_s": round(ok / elapsed, 2),
        "latency_ms": summary([t for _, t in latencies]),
        "latency_ms_200": summary([t for code, t in latencies if code == 200]),
        "latency_ms_503": summary([t for code, t in latencies if code == 503]),
        "status": {str(k): v for k, v in sorted(statuses.items())},
        "transport_failures": dict(failures), "server_alive_after": alive,
    }
    if per_kind:
        report["status_by_kind"] = {k: {str(c): n for c, n in sorted(v.items())} for k, v in sorted(per_kind.items())}
    if rss_before is not None and rss_after is not None:
        report["rss_before_after_mb"] = [round(rss_before, 1), round(rss_after, 1)]
    if memory:
        half = [mb for t, mb in memory if t >= elapsed / 2]
        report["rss_mb"] = {"first": round(memory[0][1], 1), "last": round(memory[-1][1], 1),
                            "min": round(min(mb for _, mb in memory), 1), "max": round(max(mb for _, mb in memory), 1),
                            "second_half_range": round(max(half) - min(half), 1) if half else None,
                            "samples": [(round(t), round(mb, 1)) for t, mb in memory[:: max(1, len(memory) // 12)]]}
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    bad = sum(v for k, v in statuses.items() if k >= 500 and k != 503)
    return 1 if bad or failures or not alive else 0


def print_report(r: dict) -> None:
    print(f"\nrequests   {r['requests']} in {r['seconds']} s: {r['requests_per_s']} req/s "
          f"({r['ok_per_s']} colorized/s)")
    for key, label in (("latency_ms", "all"), ("latency_ms_200", "200"), ("latency_ms_503", "503")):
        lat = r[key]
        print(f"latency {label:>3}  p50 {lat['p50']} ms   p95 {lat['p95']} ms   p99 {lat['p99']} ms   "
              f"max {lat['max']} ms   mean {lat['mean']} ms")
    print("status     " + "   ".join(f"{k}: {v}" for k, v in r["status"].items()))
    if r["transport_failures"]:
        print(f"failures   {r['transport_failures']}")
    for kind, counts in r.get("status_by_kind", {}).items():
        print(f"  {kind:<40} " + "  ".join(f"{k}: {v}" for k, v in counts.items()))
    print(f"server     {'alive' if r['server_alive_after'] else 'GONE'} after the run")
    if "rss_before_after_mb" in r:
        before, after = r["rss_before_after_mb"]
        print(f"server RSS before {before} MB, after the cool-down {after} MB ({after - before:+.1f} MB)")
    if "rss_mb" in r:
        m = r["rss_mb"]
        print(f"server RSS first {m['first']} MB, last {m['last']} MB, min {m['min']}, max {m['max']}, "
              f"range over the second half {m['second_half_range']} MB")
        print("           " + "  ".join(f"{t}s:{mb}" for t, mb in m["samples"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback only)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seconds", type=float, default=60, help="duration (default 60)")
    p.add_argument("--image", help="image file to post (default: a generated gray PNG)")
    p.add_argument("--width", type=int, default=640, help="generated image width (default 640)")
    p.add_argument("--height", type=int, default=480, help="generated image height (default 480)")
    p.add_argument("--model", help="model name to ask for")
    p.add_argument("--render-size", type=int, help="render size to ask for")
    p.add_argument("--format", choices=["png", "jpeg", "webp"], help="output format")
    p.add_argument("--pid", type=int, help="server process id: sample its RSS over time")
    p.add_argument("--memory-every", type=float, default=2.0, help="seconds between RSS samples (default 2)")
    p.add_argument("--max-backoff", type=float, default=1.0,
                   help="longest wait after a 503, seconds (default 1; 0 retries at once)")
    p.add_argument("--request-timeout", type=float, default=120.0, help="per-request timeout, seconds")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--soak", action="store_true", help="mix good, bad and worst-case requests (see above)")
    p.add_argument("--cooldown", type=float, default=10.0, help="seconds to wait before the final RSS (default 10)")
    args = p.parse_args(argv)
    if args.clients < 1 or args.clients > 256 or not 0 < args.seconds <= 3600:
        p.error("clients must be 1-256 and seconds 0-3600")
    loopback_only(args.url)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
