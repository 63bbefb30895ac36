"""Self-describing model files: one ``.safetensors`` whose header metadata holds a JSON record of
the architecture, constructor kwargs, color normalization, tinct version and training provenance.

Loading is strict: a file of another architecture, another format version, or with missing or
unexpected tensors is refused with a one-line :class:`~tinct.errors.ModelFileError`.

Format 3 holds up to three components: the **network** (``kwargs``: every constructor argument,
the defaults filled in; its tensors under their own names); for hint networks, the **hint
fusion stage** (``fusion``: ``{"kwargs": ...}`` of :class:`tinct.hints.fusion.HintFusion`, its
tensors under ``fusion.``), or ``fusion: null``; and, optionally, the **learned alternatives**
(``alternatives``: ``{"kwargs": ...}`` of :class:`tinct.uncertainty.heads.AlternativeHeads`, its
tensors under ``alternatives.``; absent or null when none). :func:`load_model` rebuilds the
network, :func:`load_fusion` and :func:`load_alternatives` the others;
:class:`tinct.pipeline.Colorizer` composes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tinct import __version__, color
from tinct.errors import ModelFileError, TinctError

FORMAT = "tinct-model"
FORMAT_VERSION = 3
READABLE_VERSIONS = (3,)
META_KEY = "tinct"
WEIGHTS_DIR = Path(__file__).parent / "weights"  # the shipped model files
FUSION_PREFIX = "fusion."
ALTERNATIVES_PREFIX = "alternatives."


def shipped_models() -> dict[str, Path]:
    """Names of the model files shipped inside the package."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A shipped model name ('photo') or a path to a model file."""
    shipped = shipped_models()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or p.exists():
        if not p.is_file():
            raise ModelFileError(f"model file not found: {p}")
        return p
    raise ModelFileError(f"unknown model {str(name_or_path)!r}; shipped: {', '.join(shipped) or 'none'}")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a model file (what exports and provenance marks name it by)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def recorded_kwargs(model: torch.nn.Module) -> dict[str, Any]:
    """The constructor arguments a model file records for ``model`` (all but the init-only ones)."""
    return {k: v for k, v in model.kwargs.items() if k not in model.init_only_kwargs}


def model_record(model: torch.nn.Module, provenance: dict[str, Any] | None = None,
                 fusion: torch.nn.Module | None = None, alternatives: torch.nn.Module | None = None,
                 **extra: Any) -> dict[str, Any]:
    """The JSON record saved beside the weights (``fusion``: the hint fusion stage, if any;
    ``alternatives``: the learned alternatives, if any)."""
    arch = model.arch
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
        "output": model.output_kind,  # "ab" (colors the input's L) or "lab" (paints L too)
        "kwargs": kwargs,
        "fusion": None if fusion is None else {"kwargs": fusion.kwargs},
        **({} if alternatives is None else {"alternatives": {"kwargs": alternatives.kwargs}}),
        "normalization": color.normalization(),
        "provenance": provenance or {},
        **extra,
    }


def save_model(model: torch.nn.Module, path: str | os.PathLike, provenance: dict[str, Any] | None = None,
               half: bool = False, fusion: torch.nn.Module | None = None,
               alternatives: torch.nn.Module | None = None, **extra: Any) -> Path:
    """Write the network ``model``, its hint ``fusion`` stage and its learned ``alternatives`` (if
    any) atomically to ``path`` (float16 weights when ``half``)."""
    path = Path(path)
    if fusion is not None and not model.hints:
        raise ModelFileError("a hint fusion stage needs a network with hint inputs (hints=True)")
    if alternatives is not None and not getattr(model, "has_distribution", False):
        raise ModelFileError("learned alternatives need a network with a color distribution")
    record = model_record(model, provenance, fusion, alternatives, **extra)
    record["dtype"] = "float16" if half else "float32"
    tensors = {}
    state = dict(model.state_dict())
    if fusion is not None:
        state.update({FUSION_PREFIX + k: v for k, v in fusion.state_dict().items()})
    if alternatives is not None:
        state.update({ALTERNATIVES_PREFIX + k: v for k, v in alternatives.state_dict().items()})
    for k, v in state.items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.half()
        tensors[k] = v.clone()
    from tinct.imageio import atomic_path

    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(record)})
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
    """Rebuild and strictly load the network of a model file. ``arch`` / ``role``, when given, must match."""
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
    if "pretrained" in spec.cls.init_only_kwargs:
        kwargs["pretrained"] = False
    try:
        model = create_model(record["arch"], **kwargs)
    except (TinctError, ValueError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    if record.get("output") not in (None, model.output_kind):
        raise ModelFileError(f"{path}: made for {record['output']!r} output, but {record['arch']!r} gives "
                             f"{model.output_kind!r} in this tinct {__version__}")
    own = lambda k: not k.startswith((FUSION_PREFIX, ALTERNATIVES_PREFIX))  # noqa: E731
    _load_strict(model, _tensors(path, own), path, f"architecture {record['arch']!r}")
    return model.to(device).eval(), record


def load_fusion(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module | None:
    """The hint fusion stage of a model file (:class:`tinct.hints.fusion.HintFusion`), or None when it has none."""
    from tinct.hints.fusion import HintFusion

    return _load_component(path, "fusion", FUSION_PREFIX, HintFusion, "fusion stage", device)


def load_alternatives(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module | None:
    """The learned alternatives of a model file (:class:`tinct.uncertainty.heads.AlternativeHeads`),
    or None when it has none."""
    from tinct.uncertainty.heads import AlternativeHeads

    return _load_component(path, "alternatives", ALTERNATIVES_PREFIX, AlternativeHeads, "alternatives", device)


def _load_component(path, key: str, prefix: str, cls, what: str, device) -> torch.nn.Module | None:
    """The component ``key`` of a model file (its record's kwargs for ``cls``, its tensors under
    ``prefix``), strictly loaded, or None when the file has none."""
    record = read_record(path)
    if not record.get(key):
        return None
    try:
        module = cls(**record[key]["kwargs"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: bad {what} settings: {exc}") from None
    n = len(prefix)
    state = {k[n:]: v for k, v in _tensors(path, lambda k: k.startswith(prefix)).items()}
    _load_strict(module, state, path, f"the {what}")
    return module.to(device).eval()


def _tensors(path, keep) -> dict[str, torch.Tensor]:
    """The file's tensors whose names pass ``keep``, as float32 where they are floating point."""
    with safe_open(str(path), framework="pt") as f:
        return {k: (lambda v: v.float() if v.is_floating_point() else v)(f.get_tensor(k)) for k in f.keys() if keep(k)}


def _load_strict(module: torch.nn.Module, state: dict, path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(f"{path}: weights do not fit {what}: {first}") from None
