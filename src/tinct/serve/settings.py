"""Settings of the web application and HTTP API: one frozen dataclass, validated on creation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tinct.errors import TinctError

from tinct.rendersize import MAX_RENDER_SIZE, STRIDE as MIN_RENDER_SIZE


@dataclass(frozen=True)
class Settings:
    """Everything ``tinct serve`` can be told. Sizes are in bytes and pixels."""

    host: str = "127.0.0.1"  # loopback only unless asked: there is no authentication
    port: int = 8000
    models: tuple[str, ...] = ()  # extra model names or files (--model), besides the shipped ones
    default_model: str | None = None  # None: 'photo' if shipped, else the first of ``models``
    max_upload_bytes: int = 20_000_000  # 20 MB
    max_pixels: int = 40_000_000  # 40 megapixels
    queue_size: int = 4  # requests admitted at once (running + waiting); more get 503
    upload_slots: int = 4  # uploads of the largest size that may arrive at once (the upload budget)
    workers: int = 1  # inference threads
    timeout_s: float = 120.0  # per request, waiting + running; past it the request gets 503
    header_timeout_s: float = 10.0  # a connection must send a request's head within this (else closed)
    body_timeout_s: float = 30.0  # an upload may pause at most this long (else 408)
    jobs_dir: str | None = None  # job files and their SQLite state; default: ~/.cache/tinct/jobs (private)
    max_jobs: int = 4  # jobs received, queued or running at once; more get 503
    max_job_bytes: int = 500_000_000  # one job's upload (a clip, or all its images)
    max_job_images: int = 200
    max_video_s: float = 1800.0  # the longest clip a job takes
    job_ttl_s: float = 3600.0  # a finished result is kept this long for download
    torch_threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    render_size: int | None = None  # default working size (longer side); None: each model's own (photo 256, line art 512)
    max_render_size: int = 1024  # the largest working size a request may ask for
    backend: str = "torch"  # "onnx": hint-free colorizations on ONNX Runtime (hints still on torch)
    preload: bool = True  # load the default model at startup rather than on the first request
    allowed_hosts: tuple[str, ...] = ()  # extra host names the server answers to (besides localhost and its address)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        object.__setattr__(self, "allowed_hosts", tuple(str(h) for h in self.allowed_hosts))
        checks = [
            (0 <= self.port <= 65535, f"port must be 0-65535, got {self.port}"),
            (self.max_upload_bytes >= 1024, "the upload limit must be at least 1 KB"),
            (self.max_pixels >= 1024, "the pixel limit must be at least 1024"),
            (self.queue_size >= 1, f"queue size must be at least 1, got {self.queue_size}"),
            (self.workers >= 1, f"workers must be at least 1, got {self.workers}"),
            (self.timeout_s > 0, f"timeout must be positive, got {self.timeout_s}"),
            (0 < self.header_timeout_s <= 3600, f"header timeout must be 0-3600 s, got {self.header_timeout_s}"),
            (0 < self.body_timeout_s <= 3600, f"body timeout must be 0-3600 s, got {self.body_timeout_s}"),
            (self.max_jobs >= 1, f"max jobs must be at least 1, got {self.max_jobs}"),
            (self.max_job_bytes >= 1024, "the job upload limit must be at least 1 KB"),
            (1 <= self.max_job_images <= 10_000, f"max job images must be 1-10000, got {self.max_job_images}"),
            (0 < self.max_video_s <= 86_400, f"max video length must be 0-86400 s, got {self.max_video_s}"),
            (0 < self.job_ttl_s <= 7 * 86_400, f"job result lifetime must be 0-604800 s, got {self.job_ttl_s}"),
            (self.torch_threads >= 0, f"torch threads must be 0 (default) or more, got {self.torch_threads}"),
            (MIN_RENDER_SIZE <= self.max_render_size <= MAX_RENDER_SIZE,
             f"max render size must be {MIN_RENDER_SIZE}-{MAX_RENDER_SIZE}, got {self.max_render_size}"),
            (self.render_size is None or MIN_RENDER_SIZE <= self.render_size <= self.max_render_size,
             f"render size must be {MIN_RENDER_SIZE}-{self.max_render_size}, got {self.render_size}"),
            (self.backend in ("torch", "onnx"), f"backend must be torch or onnx, got {self.backend!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TinctError(message)

    def jobs_folder(self) -> Path:
        """Where job files and their state live (created private, mode 0700)."""
        if self.jobs_dir:
            return Path(self.jobs_dir)
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "tinct" / "jobs"

    @property
    def upload_budget_bytes(self) -> int:
        """The request bytes held in memory while they arrive, over all uploads at once."""
        return self.upload_slots * (self.max_upload_bytes + 64 * 1024)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def human_bytes(n: int) -> str:
    """1_500_000 -> '1.5 MB' (decimal units, as the limits are stated)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"
