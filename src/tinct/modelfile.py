"""Self-describing model files: one ``.safetensors`` whose header metadata holds a JSON record of
the architecture, constructor kwargs, color normalization, tinct version and training provenance.

Loading is strict: a file of another architecture, another format version, or with missing or
unexpected tensors is refused with a one-line :class:`~tinct.errors.ModelFileError`.

Format 2 records every constructor argument (the defaults filled in). Format 1 recorded only the
arguments passed; such files are still read, with the defaults they were written under
(``legacy_defaults`` of the architecture's registration) where those have changed since.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tinct import __version__, color
from tinct.errors import ModelFileError, TinctError

FORMAT = "tinct-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
META_KEY = "tinct"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a model file (what exports and provenance marks name it by)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def recorded_kwargs(model: torch.nn.Module) -> dict[str, Any]:
    """The constructor arguments a model file records for ``model`` (all but the init-only ones)."""
    return {k: v for k, v in model.kwargs.items() if k not in getattr(model, "init_only_kwargs", ())}


def model_record(model: torch.nn.Module, provenance: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON record saved beside the weights."""
    arch = getattr(model, "arch", "")
    if not arch:
        raise ModelFileError("only models built by tinct.registry.create_model can be saved")
    kwargs = recorded_kwargs(model)
    from tinct.registry import get_spec

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tinct_version": __version__,
        "arch": arch,
        "role": get_spec(arch).role,
        "output": getattr(model, "output_kind", None),  # "ab" (colors the input's L) or "lab" (paints L too)
        "kwargs": kwargs,
        "normalization": color.normalization(),
        "provenance": provenance or {},
        **extra,
    }


def save_model(model: torch.nn.Module, path: str | os.PathLike, provenance: dict[str, Any] | None = None,
               half: bool = False, **extra: Any) -> Path:
    """Write ``model`` atomically to ``path`` (float16 weights when ``half``)."""
    path = Path(path)
    record = model_record(model, provenance, **extra)
    record["dtype"] = "float16" if half else "float32"
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.half()
        tensors[k] = v.clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(record)})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON record of a model file, validated."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path}: not a safetensors model file ({exc})") from None
    if META_KEY not in meta:
        raise ModelFileError(f"{path}: a safetensors file without tinct metadata (not a tinct model)")
    try:
        record = json.loads(meta[META_KEY])
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: damaged tinct metadata") from None
    if record.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a tinct model file")
    if record.get("format_version") not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path}: model file format {record.get('format_version')} (tinct {record.get('tinct_version')}); "
            f"this tinct {__version__} reads formats {', '.join(map(str, READABLE_VERSIONS))}"
        )
    if record.get("normalization") != color.normalization():
        raise ModelFileError(f"{path}: model was trained with other color scaling {record.get('normalization')}")
    return record


def load_model(path: str | os.PathLike, arch: str | None = None, role: str | None = None,
               device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild and strictly load a model file. ``arch`` / ``role``, when given, must match."""
    from safetensors.torch import load_file

    from tinct.registry import create_model, get_spec

    record = read_record(path)
    if arch is not None and record["arch"] != arch:
        raise ModelFileError(f"{path}: holds a {record['arch']!r} model, expected {arch!r}")
    if role is not None and record.get("role") != role:
        raise ModelFileError(f"{path}: holds a {record.get('role')} ({record['arch']!r}), expected a {role}")
    try:
        spec = get_spec(record["arch"])
    except TinctError:
        raise ModelFileError(f"{path}: architecture {record['arch']!r} is not known to tinct {__version__}") from None
    kwargs = dict(record["kwargs"])
    if record["format_version"] == 1:  # only the passed arguments were recorded, under the defaults of then
        kwargs = {**spec.legacy_defaults, **kwargs}
    applies = getattr(spec.cls, "retired_applies", lambda name, kw: True)
    for name, value in getattr(spec.cls, "retired_kwargs", {}).items():
        if name in kwargs:
            if kwargs.pop(name) != value and applies(name, record["kwargs"]):
                raise ModelFileError(f"{path}: made with {name}={record['kwargs'][name]!r}, an option this tinct "
                                     f"{__version__} no longer has (docs/hints_history.md); retrain it")
    if "pretrained" in spec.cls.init_only_kwargs:
        kwargs["pretrained"] = False
    model = create_model(record["arch"], **kwargs)
    if record.get("output") not in (None, getattr(model, "output_kind", None)):
        raise ModelFileError(f"{path}: made for {record['output']!r} output, but {record['arch']!r} gives "
                             f"{getattr(model, 'output_kind', None)!r} in this tinct {__version__}")
    state = load_file(str(path))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(f"{path}: weights do not fit architecture {record['arch']!r}: {first}") from None
    return model.to(device).eval(), record
