"""The settings of a folder run (:class:`RunConfig`): which model and how, on which engine, and what
it may overwrite. ``tinct colorize`` builds one from its options, whose help text is the field
docstrings below; :func:`tinct.batch.local.run_jobs` takes it."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass
class RunConfig:
    model: str = "photo"
    """shipped model name or model file (.safetensors); default: photo (see `tinct models`)"""
    render_size: int | None = None
    """working size of the network, longer side in pixels (default: the model's own: 224 for photo, 160 for art, 512 for line art; see `tinct models`); larger sizes give finer color detail (for photo also more vivid but more often wrong colors) and take longer. The output keeps the input's resolution"""
    temperature: float | None = None
    """for classification models: lower = more vivid colors, higher = safer (default: the model's)"""
    threads: int | None = None
    """CPU threads for torch (default: torch's)"""
    jobs: int = 1
    """worker processes, each with its own model and a share of the files (default 1); torch threads are split between them"""
    ray: str | None = None
    """run on a Ray cluster (Ray Data; pip install 'tinct[ray]'): ADDRESS as 'ray start' printed it (host:port, or 'auto' on a cluster node); alone: a Ray instance on this machine. --jobs actors of --threads (default 1) threads each; files on storage every node sees"""
    backend: str = "torch"
    """onnx: run the network with ONNX Runtime (exported on first use; hints still use torch)"""
    onnx: str | None = None
    """with --backend onnx: this exported graph (tinct export) instead of the one cached on first use"""
    overwrite: bool = False
    """replace outputs that already exist"""
    resume: bool = False
    """skip inputs whose output already exists and is a readable image"""
    no_provenance: bool = False
    """do not mark the outputs as colorized (by default their XMP says tinct colorized them: version, model, date; the input's EXIF, ICC profile and XMP are kept either way)"""
    report: str | None = None
    """also write one row per file (file, output, status, reason, seconds): an audit trail"""
    quiet: bool = False
    """no progress bar and no summary (errors still print)"""
    serial: bool = False
    """decode, predict and encode in turn in one process (no reader and writer threads): the baseline of the throughput benchmark"""

    @classmethod
    def from_args(cls, args) -> "RunConfig":
        """The fields an argparse namespace (``tinct colorize``, ``tinct video``) has, checked."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names}).check()

    def check(self) -> "RunConfig":
        """Every number and choice checked, or a TinctError naming the option."""
        from tinct.errors import TinctError
        from tinct.rendersize import check_render_size

        if self.threads is not None and self.threads < 1:
            raise TinctError(f"--threads must be 1 or more, got {self.threads}")
        if self.temperature is not None and not (math.isfinite(self.temperature) and self.temperature > 0):
            raise TinctError(f"--temperature must be a number above 0, got {self.temperature}")
        if self.render_size is not None:
            check_render_size(self.render_size, what="--render-size")
        if self.backend not in ("torch", "onnx"):
            raise TinctError(f"--backend must be torch or onnx, got {self.backend!r}")
        if self.onnx and self.backend != "onnx":
            raise TinctError("--onnx needs --backend onnx")
        if not 1 <= self.jobs <= 64:
            raise TinctError(f"--jobs must be between 1 and 64, got {self.jobs}")
        if self.overwrite and self.resume:
            raise TinctError("--overwrite and --resume exclude each other")
        return self

    def colorizer(self, threads: int | None = None):
        """The run's :class:`tinct.pipeline.Colorizer` (torch set to ``threads``, else the run's)."""
        from tinct.pipeline import Colorizer, set_threads

        if threads or self.threads:
            set_threads(threads or self.threads)
        return Colorizer(self.model, render_size=self.render_size, temperature=self.temperature,
                         backend=self.backend, onnx_file=self.onnx)


def field_help() -> dict[str, str]:
    """The field docstrings of :class:`RunConfig`: the help text of the options that set them."""
    from tinct.commands.train import _field_docs

    return _field_docs(RunConfig)
