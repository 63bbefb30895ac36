"""Long work for the server: a clip or a batch of images colorized in the background, as a job.

- :class:`JobStore`: job state in SQLite (``jobs.sqlite``) beside the job files, in a private
  folder (mode 0700). A server restart loses no finished result; a job that was queued or running
  when the server stopped is marked ``interrupted``.
- :class:`JobRunner`: one background thread runs the jobs in order on the server's models
  (the same :class:`tinct.pipeline.Colorizer` as the image API), updates their progress, and
  stops a job between frames or images when it is cancelled.

A job's files are removed when its result is downloaded, when it is cancelled or fails, and when
its result expires unread (``Settings.job_ttl_s``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import shutil
import sqlite3
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinct.errors import TinctError

log = logging.getLogger("tinct.serve.jobs")

ACTIVE = ("queued", "running")
COLUMNS = ("id", "kind", "status", "created", "updated", "done", "total", "message", "model", "render_size",
           "result", "name", "expires")
INTERRUPTED = "the server stopped while this job ran; submit it again"


class JobCancelled(Exception):
    """Raised inside a running job when it is cancelled."""


class JobStore:
    """Job rows in SQLite and job folders under ``root``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "jobs.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kind TEXT, status TEXT, created REAL, "
                         "updated REAL, done INTEGER, total INTEGER, message TEXT, model TEXT, render_size INTEGER, "
                         "result TEXT, name TEXT, expires REAL)")
        with self._lock:  # jobs of a previous run that never finished
            stale = [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE status IN "
                                                    "('receiving', 'queued', 'running')")]
            self._db.execute("UPDATE jobs SET status = 'interrupted', message = ?, updated = ? "
                             "WHERE status IN ('receiving', 'queued', 'running')", (INTERRUPTED, time.time()))
        for job_id in stale:
            self.remove_files(job_id)

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def create(self, kind: str, model: str, render_size: int | None, name: str) -> str:
        job_id = secrets.token_urlsafe(12)
        self.folder(job_id).mkdir(mode=0o700)
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO jobs VALUES (?, ?, 'receiving', ?, ?, 0, 0, '', ?, ?, NULL, ?, NULL)",
                             (job_id, kind, now, now, model, render_size, name))
        return job_id

    def update(self, job_id: str, **fields: Any) -> None:
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(zip(COLUMNS, row)) if row else None

    def active(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs WHERE status IN "
                                    "('receiving', 'queued', 'running')").fetchone()[0]

    def remove_files(self, job_id: str) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def forget(self, job_id: str) -> None:
        """Remove a job entirely (a submission that was refused)."""
        self.remove_files(job_id)
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def expire(self, now: float | None = None) -> None:
        """Results not downloaded in time are removed."""
        now = time.time() if now is None else now
        with self._lock:
            gone = [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE status = 'done' AND expires < ?", (now,))]
            self._db.execute("UPDATE jobs SET status = 'expired' WHERE status = 'done' AND expires < ?", (now,))
        for job_id in gone:
            self.remove_files(job_id)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JobRunner:
    """Runs queued jobs one at a time in a background thread."""

    def __init__(self, store: JobStore, models, ttl_s: float):
        self.store, self.models, self.ttl_s = store, models, ttl_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancelled: set[str] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tinct-jobs", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def submit(self, job_id: str) -> None:
        self.store.update(job_id, status="queued")
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            job = self.store.get(job_id)
            if job is None or job["status"] != "queued" or job_id in self._cancelled:
                continue
            self.store.update(job_id, status="running")
            try:
                result = self._run(job)
            except JobCancelled:
                self.store.remove_files(job_id)
                continue  # the cancel request has set its state
            except TinctError as exc:
                self.store.update(job_id, status="failed", message=str(exc))
                self.store.remove_files(job_id)
                continue
            except Exception as exc:
                log.exception("job %s failed", job_id)
                self.store.update(job_id, status="failed", message=f"internal error ({type(exc).__name__})")
                self.store.remove_files(job_id)
                continue
            self.store.update(job_id, status="done", result=result.name, expires=time.time() + self.ttl_s)

    def _check(self, job_id: str) -> None:
        if job_id in self._cancelled:
            raise JobCancelled

    def _run(self, job: dict[str, Any]) -> Path:
        colorizer = self.models.get(job["model"])
        folder = self.store.folder(job["id"])
        inputs = sorted(p for p in folder.iterdir() if p.name.startswith("upload-"))
        if job["kind"] == "video":
            return self._video(job, colorizer, inputs[0], folder)
        return self._images(job, colorizer, inputs, folder)

    def _video(self, job, colorizer, src: Path, folder: Path) -> Path:
        from tinct.video import VideoColorizer

        last = [0.0]

        def progress(done: int, total: int) -> None:
            self._check(job["id"])
            if time.monotonic() - last[0] > 0.5 or done == total:
                last[0] = time.monotonic()
                self.store.update(job["id"], done=done, total=total)

        vc = VideoColorizer(colorizer, render_size=job["render_size"])
        out = folder / "result.mp4"
        res = vc.colorize(src, out, progress=progress)
        self.store.update(job["id"], done=res.frames, total=res.frames,
                          message=f"{len(res.damaged)} damaged frame(s) skipped" if res.damaged else "")
        write_preview(folder / PREVIEW, film_stills(res.out, res.frames))
        return res.out

    @staticmethod
    def _album_hints(folder: Path):
        """The job's one look for every image (palette and/or reference), or None."""
        from tinct.hints import Hints
        from tinct.hints.io import hints_from_dict, load_reference

        hints = Hints()
        if (folder / "palette.json").is_file():
            hints = hints_from_dict(json.loads((folder / "palette.json").read_text()), None)
        if (folder / "reference.img").is_file():
            hints.reference = load_reference(folder / "reference.img")
        return None if hints.is_empty() else hints

    def _images(self, job, colorizer, inputs: list[Path], folder: Path) -> Path:
        from tinct.imageio import load_image, save_image

        names = json.loads((folder / "names.json").read_text())
        hints = self._album_hints(folder)
        out = folder / "result.zip"
        report, used, thumbs = [], set(), []
        self.store.update(job["id"], total=len(inputs))
        with zipfile.ZipFile(out, "w") as zf:
            for i, src in enumerate(inputs):
                self._check(job["id"])
                name = names.get(src.name, src.name)
                stem = Path(name).stem or f"image-{i}"
                try:
                    img = load_image(src)
                    rgb = colorizer(img.rgb, hints, job["render_size"])
                    ext = ".jpg" if (img.format == "JPEG" and img.alpha is None) else ".png"
                    arc = f"{stem}-color{ext}"
                    k = 1
                    while arc in used:
                        arc, k = f"{stem}-color-{k}{ext}", k + 1
                    used.add(arc)
                    tmp = folder / f"out{ext}"
                    save_image(tmp, rgb, img.alpha, like=img, overwrite=True)
                    if len(thumbs) < PREVIEW_COUNT:
                        thumbs.append(thumbnail(rgb))
                    zf.write(tmp, arc, compress_type=zipfile.ZIP_STORED if ext == ".jpg" else zipfile.ZIP_DEFLATED)
                    tmp.unlink()
                    report.append({"file": name, "status": "done", "output": arc})
                except TinctError as exc:
                    report.append({"file": name, "status": "failed", "reason": str(exc).replace(str(src), name)})
                self.store.update(job["id"], done=i + 1)
            zf.writestr("report.json", json.dumps(report, indent=2) + "\n")
        if thumbs:
            write_preview(folder / PREVIEW, thumbs)
        failed = sum(r["status"] == "failed" for r in report)
        self.store.update(job["id"], message=f"{failed} of {len(report)} image(s) could not be read" if failed else "")
        return out


PREVIEW = "preview.jpg"  # a finished job's contact sheet, beside its result
PREVIEW_COUNT = 12  # results (photos) or stills (film) on it
PREVIEW_CELL = 200  # each fits in a square of this side
PREVIEW_COLUMNS = 4


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A result (8- or 16-bit RGB) shrunk to fit :data:`PREVIEW_CELL`, as 8-bit RGB."""
    from PIL import Image

    img = rgb if rgb.dtype == np.uint8 else (rgb.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    im = Image.fromarray(np.ascontiguousarray(img[:, :, :3]))
    im.thumbnail((PREVIEW_CELL, PREVIEW_CELL), Image.LANCZOS)
    return np.asarray(im)


def film_stills(path: Path, frames: int, count: int = 4) -> list[np.ndarray]:
    """``count`` evenly spaced frames of a colorized film, as thumbnails."""
    from tinct.video.io import read_frames

    wanted = {round(i * (frames - 1) / max(count - 1, 1)) for i in range(count)} if frames else set()
    return [thumbnail(f.rgb) for f in read_frames(path) if f.index in wanted]


def write_preview(path: Path, thumbs: list[np.ndarray]) -> None:
    """The thumbnails on a white sheet, :data:`PREVIEW_COLUMNS` to a row, as a JPEG (written atomically)."""
    import io

    from PIL import Image

    from tinct.imageio import atomic_write_bytes

    if not thumbs:
        return
    cols = min(PREVIEW_COLUMNS, len(thumbs))
    rows = -(-len(thumbs) // cols)
    gap = 6
    sheet = Image.new("RGB", (cols * (PREVIEW_CELL + gap) + gap, rows * (PREVIEW_CELL + gap) + gap), "white")
    for i, t in enumerate(thumbs):
        h, w = t.shape[:2]
        x = gap + (i % cols) * (PREVIEW_CELL + gap) + (PREVIEW_CELL - w) // 2
        y = gap + (i // cols) * (PREVIEW_CELL + gap) + (PREVIEW_CELL - h) // 2
        sheet.paste(Image.fromarray(t), (x, y))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=85)
    atomic_write_bytes(path, buf.getvalue())

