"""``tinct colorize --ray [ADDRESS]``: the folder run on a Ray cluster, through Ray Data.

The files to do are a dataset of (input, output) rows; a pool of actors, each holding one
:class:`tinct.pipeline.Colorizer` (the model is loaded once per actor), reads, colorizes and
writes every row exactly as the local run does (:func:`tinct.batch.jobs.colorize_one`: same decoding, same
16-bit rule, same atomic writes, same provenance mark, made once by the driver), and returns a
report row; the driver gathers the rows into the same summary and ``--report``. Inputs and
outputs must be on storage every node sees (a shared or network file system). Needs the
optional extra ``tinct[ray]``.
"""

from __future__ import annotations

import sys
import time

from tinct.errors import TinctError


class _Worker:
    """One Ray actor: a model, and the local run's per-file code."""

    def __init__(self, model, render_size, temperature, backend, onnx_file, threads, hints, overwrite, mark):
        from tinct.pipeline import Colorizer, set_threads

        set_threads(threads)
        self.colorizer = Colorizer(model, render_size=render_size, temperature=temperature, backend=backend,
                                   onnx_file=onnx_file)
        self.hints, self.overwrite, self.mark = hints, overwrite, mark

    def __call__(self, batch: dict) -> dict:
        from pathlib import Path

        from tinct.batch.jobs import Job, colorize_one, failure_reason, report_row

        rows: dict[str, list] = {k: [] for k in ("file", "output", "status", "reason", "seconds")}
        for src, out, explicit, deep in zip(batch["src"], batch["out"], batch["explicit"], batch["deep"]):
            job = Job(Path(src), Path(out), bool(explicit), bool(deep))
            t0 = time.perf_counter()
            try:
                colorize_one(self.colorizer, job, self.hints, self.overwrite, self.mark)
                status, reason = "done", ""
            except Exception as exc:  # noqa: BLE001  one bad file must not stop the run
                status, reason = "failed", failure_reason(exc, job.src)
            for k, v in report_row(job, status, reason, t0).items():
                rows[k].append(v)
        return rows


def _check_reachable(address: str) -> None:
    """A host:port address answers on TCP (a quick, clear error instead of Ray's long retries)."""
    import socket

    if address in ("local", "auto") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TinctError(f"--ray {address}: expected HOST:PORT (as 'ray start --head' printed it), 'auto' or nothing")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise TinctError(f"--ray {address}: cannot join the Ray cluster ({exc.strerror or exc})") from None


def run_ray(cfg, todo: list, hints, counts: dict[str, int], report: list[dict]) -> None:
    """Colorize ``todo`` (:class:`tinct.batch.jobs.Job` items) on the Ray cluster at ``cfg.ray`` ("local":
    start one on this machine), ``cfg.jobs`` actors of ``cfg.threads`` (default 1) torch threads
    (``cfg``: a :class:`tinct.batch.config.RunConfig`)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise TinctError("--ray needs Ray Data: pip install 'tinct[ray]'") from None
    from tqdm import tqdm

    from tinct.batch.jobs import provenance_of
    from tinct.pipeline import Colorizer

    probe = Colorizer(cfg.model, render_size=cfg.render_size, temperature=cfg.temperature)
    probe.check_hints(hints)  # one clear error before any cluster work
    mark = None if cfg.no_provenance else provenance_of(probe)
    threads = cfg.threads or 1
    started = not ray.is_initialized()
    if started:
        _check_reachable(cfg.ray)
        try:
            ray.init(address=None if cfg.ray == "local" else cfg.ray, log_to_driver=False,
                     logging_level="ERROR", include_dashboard=False,
                     **({"num_cpus": max(cfg.jobs * threads, 1)} if cfg.ray == "local" else {}))
        except (ConnectionError, ValueError, RuntimeError, SystemExit) as exc:  # Ray exits when it gives up
            raise TinctError(f"--ray {cfg.ray}: cannot join the Ray cluster ({' '.join(str(exc).split())[:160]})") from None
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        rows = [{"src": str(j.src), "out": str(j.out), "explicit": j.explicit_out, "deep": j.deep} for j in todo]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * cfg.jobs)))
        ds = ds.map_batches(_Worker, batch_size=1, concurrency=cfg.jobs, num_cpus=threads,
                            fn_constructor_kwargs={"model": str(probe.path or cfg.model),
                                                   "render_size": cfg.render_size, "temperature": cfg.temperature,
                                                   "backend": cfg.backend, "onnx_file": cfg.onnx,
                                                   "threads": threads, "hints": hints,
                                                   "overwrite": cfg.overwrite or cfg.resume, "mark": mark})
        bar = tqdm(total=len(todo), unit="image", desc=f"colorize (ray x{cfg.jobs})", file=sys.stderr,
                   disable=cfg.quiet or not sys.stderr.isatty())
        try:
            for row in ds.iter_rows():
                row = {k: row[k] for k in ("file", "output", "status", "reason", "seconds")}
                counts["done" if row["status"] == "done" else "failed"] += 1
                if row["status"] != "done":
                    tqdm.write(f"skip {row['file']}: {row['reason']}", file=sys.stderr)
                report.append(row)
                bar.update(1)
        finally:
            bar.close()
    finally:
        if started:
            ray.shutdown()
