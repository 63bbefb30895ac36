"""The local folder run: one process with its reader and writer threads overlapping decoding,
the network and encoding (:func:`run_pipelined`), or ``--jobs N`` worker processes each running
it on a share of the files, or the Ray path (:mod:`tinct.batch.cluster`); one progress bar and one
report either way."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tinct.batch.config import RunConfig
from tinct.batch.jobs import (
    Job,
    colorize_one,
    failure_reason,
    pixels,
    provenance_of,
    report_row,
    save_one,
    write_report,
)
from tinct.errors import HintError

QUEUE = 2  # decoded images waiting for the network, and results waiting to be written
WRITERS = 2  # threads that recombine full-resolution color and encode (the heaviest stage of a 12 MP scan)


def run_jobs(cfg: RunConfig, todo: list[Job], hints, counts: dict[str, int]) -> None:
    """Colorize ``todo`` as ``cfg`` says (Ray, worker processes, one pipelined process, or the
    serial loop), counting into ``counts`` and writing ``cfg.report``."""
    from tqdm import tqdm

    report: list[dict] = []
    try:
        if cfg.ray:
            from tinct.batch.cluster import run_ray

            return run_ray(cfg, todo, hints, counts, report)
        if cfg.jobs > 1 and len(todo) > 1:
            return _run_processes(cfg, todo, hints, counts, report)
        colorizer = cfg.colorizer()
        colorizer.check_hints(hints)
        mark = None if cfg.no_provenance else provenance_of(colorizer)
        bar = tqdm(total=len(todo), unit="image", desc="colorize", file=sys.stderr,
                   disable=cfg.quiet or not sys.stderr.isatty())
        try:
            run = run_serial if cfg.serial else run_pipelined
            run(colorizer, todo, hints, cfg.overwrite or cfg.resume, mark, counts, report, bar)
        finally:
            bar.close()
    finally:
        if cfg.report:
            write_report(Path(cfg.report), sorted(report, key=lambda r: r["file"]))


def _worker(cfg: RunConfig, shard: list[Job], hints, threads: int, progress) -> tuple[dict, list]:
    """One worker process: its own model, the pipelined run over its share of the files."""
    colorizer = cfg.colorizer(threads)
    mark = None if cfg.no_provenance else provenance_of(colorizer)

    class Tick:
        def update(self, n):
            progress.put(n)

    counts, report = {"done": 0, "failed": 0}, []
    run_pipelined(colorizer, shard, hints, cfg.overwrite or cfg.resume, mark, counts, report, Tick())
    return counts, report


def _run_processes(cfg: RunConfig, todo: list[Job], hints, counts: dict[str, int], report: list[dict]) -> None:
    """``--jobs N``: N worker processes (spawned), the files dealt out in turn, one progress bar."""
    import multiprocessing as mp
    import queue

    from tqdm import tqdm

    from tinct.pipeline import Colorizer

    Colorizer(cfg.model, render_size=cfg.render_size).check_hints(hints)  # one clear error, before forking
    n = min(cfg.jobs, len(todo))
    threads = max(1, (cfg.threads or os.cpu_count() or 1) // n)
    ctx = mp.get_context("spawn")
    bar = tqdm(total=len(todo), unit="image", desc=f"colorize x{n}", file=sys.stderr,
               disable=cfg.quiet or not sys.stderr.isatty())
    with ctx.Manager() as manager:
        progress = manager.Queue()
        with ctx.Pool(n) as pool:
            pending = [pool.apply_async(_worker, (cfg, todo[i::n], hints, threads, progress)) for i in range(n)]
            while not all(p.ready() for p in pending):
                try:
                    bar.update(progress.get(timeout=0.2))
                except queue.Empty:
                    pass
            for p in pending:
                c, rows = p.get()
                counts["done"] += c["done"]
                counts["failed"] += c["failed"]
                report.extend(rows)
    bar.close()  # (the workers printed their skipped files)


def run_serial(colorizer, todo: list[Job], hints, overwrite: bool, mark, counts: dict[str, int],
               report: list[dict], bar) -> None:
    """Decode, predict and encode each file in turn (:func:`tinct.batch.jobs.colorize_one`); one bad
    file is reported and skipped."""
    import time

    from tqdm import tqdm

    for job in todo:
        t0 = time.perf_counter()
        try:
            colorize_one(colorizer, job, hints, overwrite, mark)
            status, reason = "done", ""
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
            status, reason = "failed", failure_reason(exc, job.src)
            tqdm.write(f"skip {job.src}: {reason}", file=sys.stderr)
        counts["done" if status == "done" else "failed"] += 1
        report.append(report_row(job, status, reason, t0))
        bar.update(1)


def run_pipelined(colorizer, todo: list[Job], hints, overwrite: bool, mark, counts: dict[str, int],
                  report: list[dict], bar) -> None:
    """Decode, predict and encode overlap: a reader thread decodes the next images (and takes their
    lightness), ``WRITERS`` writer threads recombine full-resolution color and encode the finished
    ones, while the network works on the current one (on one thread fewer: the others keep a core
    busy); bounded queues keep at most ``QUEUE`` images on each side in memory. One bad file is
    reported and skipped."""
    import queue
    import threading
    import time

    import torch
    from tqdm import tqdm

    from tinct.imageio import load_image
    from tinct.pipeline import lightness, set_threads

    decoded: queue.Queue = queue.Queue(QUEUE)
    finished: queue.Queue = queue.Queue(QUEUE)
    stop = threading.Event()
    lock = threading.Lock()

    def record(job: Job, status: str, reason: str, t0: float) -> None:
        with lock:
            counts["done" if status == "done" else "failed"] += 1
            report.append(report_row(job, status, reason, t0))
        if status != "done":
            tqdm.write(f"skip {job.src}: {reason}", file=sys.stderr)
        bar.update(1)

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        for job in todo:
            t0 = time.perf_counter()
            try:
                img = load_image(job.src)
                px = pixels(img, job)
                item = (job, img, lightness(px), 16 if px.dtype.itemsize == 2 else 8, None, t0)
            except Exception as exc:  # noqa: BLE001  reported by the main thread, in order
                item = (job, None, None, 8, exc, t0)
            if not put(decoded, item):
                return
        put(decoded, None)

    def writer() -> None:
        while True:
            item = finished.get()
            if item is None:
                return
            job, img, (l_full, ab, depth), t0 = item
            try:
                save_one(job, img, colorizer.finish(l_full, ab, depth), overwrite, mark)
                record(job, "done", "", t0)
            except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
                record(job, "failed", failure_reason(exc, job.src), t0)

    writers = [threading.Thread(target=writer, daemon=True) for _ in range(WRITERS if len(todo) > 1 else 1)]
    for t in [threading.Thread(target=reader, daemon=True), *writers]:
        t.start()
    threads = torch.get_num_threads()
    if len(todo) > 1:  # the reader and writers keep a core busy: the network's threads would only wait for it
        set_threads(max(1, threads - 1))

    def close_writers(timeout: float | None = None) -> None:
        for _ in writers:
            put(finished, None)
        for t in writers:
            t.join(timeout)

    try:
        while True:
            item = decoded.get()
            if item is None:
                break
            job, img, l_full, depth, exc, t0 = item
            if exc is not None:
                record(job, "failed", failure_reason(exc, job.src), t0)
                continue
            try:
                l_full, ab = colorizer.predict(l_full, hints)
            except HintError:
                raise  # hints come from the command line: a usage error, not a bad file
            except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
                record(job, "failed", failure_reason(exc, job.src), t0)
                continue
            put(finished, (job, img, (l_full, ab, depth), t0))
        close_writers()
    except KeyboardInterrupt:  # what the network has finished is still written, then the run stops
        close_writers(timeout=60)
        raise
    finally:
        stop.set()
        set_threads(threads)
