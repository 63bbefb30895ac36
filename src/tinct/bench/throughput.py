"""``tinct bench throughput DIR``: images per second and peak memory of the ways to run a folder,
on the same files in one run: the serial loop (decode, predict, encode in turn), the pipelined
run (reader and writer threads), ``--jobs 2`` (worker processes) and the ONNX Runtime backend;
each in a fresh process running :func:`tinct.batch.local.run_jobs` with that mode's
:class:`~tinct.batch.config.RunConfig`, as a ratio to the serial loop. Outputs go to a temporary folder that is
removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tinct.errors import TinctError

MODES = ("serial", "pipelined", "jobs2", "onnx")

def _child(mode: str, model: str, src: str, out: str, render: int, threads: int) -> dict[str, float]:
    """One mode's run in this (fresh) process: the folder run of ``tinct colorize``
    (:func:`tinct.batch.local.run_jobs`) with the mode's :class:`~tinct.batch.config.RunConfig`."""
    import resource
    import time

    from tinct.batch.config import RunConfig
    from tinct.batch.jobs import plan
    from tinct.batch.local import run_jobs

    cfg = RunConfig(model=model, render_size=render, threads=threads, jobs=2 if mode == "jobs2" else 1,
                    backend="onnx" if mode == "onnx" else "torch", no_provenance=True, quiet=True,
                    serial=mode == "serial").check()
    todo, counts = plan([src], out), {"done": 0, "failed": 0}
    t0 = time.perf_counter()
    run_jobs(cfg, todo, None, counts)
    wall = time.perf_counter() - t0
    kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"code": 1 if counts["failed"] else 0, "seconds": wall, "peak_mb": kb / 1024}


def run_throughput(data: Path, model: str = "photo", render_size: int = 256, modes=MODES,
                   threads: int = 2) -> dict[str, Any]:
    """Time each mode in a fresh process on the images of ``data``; returns the figures."""
    from tinct.bench import list_images

    files = list_images(data)
    if not files:
        raise TinctError(f"no images in {data}")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise TinctError(f"unknown throughput mode {unknown[0]!r}; use {', '.join(MODES)}")
    if "onnx" in modes:  # the one-off export is not part of the timed run
        from tinct.export.onnx import cached_export
        from tinct.modelfile import resolve_model

        cached_export(resolve_model(model))
    rows = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="tinct-throughput-") as out:
            res = subprocess.run([sys.executable, "-m", "tinct.bench.throughput", mode, str(model), str(data), out,
                                  str(render_size), str(threads)], capture_output=True, text=True, env=dict(os.environ))
            lines = res.stdout.strip().splitlines()
            if not lines:
                raise TinctError(f"throughput {mode}: {(res.stderr.strip().splitlines() or ['failed'])[-1]}")
            r = json.loads(lines[-1])
        rows.append({"mode": mode, "images": len(files), "seconds": round(r["seconds"], 2), "exit": r["code"],
                     "images_per_s": round(len(files) / r["seconds"], 3), "peak_mb": round(r["peak_mb"])})
    base = rows[0]["images_per_s"]
    for row in rows:
        row["ratio"] = round(row["images_per_s"] / base, 2)
    return {"data": str(data), "model": model, "render_size": render_size, "threads": threads, "rows": rows}


def markdown(report: dict[str, Any]) -> str:
    head = (f"Throughput on {report['rows'][0]['images']} images of {report['data']} ({report['model']}, "
            f"render size {report['render_size']}, {report['threads']} threads)\n\n"
            "| mode | images/s | ratio to serial | seconds | peak memory (MB) |\n|---|---|---|---|---|\n")
    return head + "\n".join(f"| {r['mode']} | {r['images_per_s']:.2f} | {r['ratio']:.2f}x | {r['seconds']:.1f} | "
                            f"{r['peak_mb']} |" for r in report["rows"]) + "\n"


if __name__ == "__main__":  # one mode in a fresh process (run_throughput starts it)
    mode, model, src, out, render, threads = sys.argv[1:7]
    print(json.dumps(_child(mode, model, src, out, int(render), int(threads))))
