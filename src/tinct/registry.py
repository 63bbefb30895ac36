"""The model zoo: ``@register_model`` on each architecture, ``create_model(name, **kw)`` to build one."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from tinct.errors import TinctError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    cls: type
    role: str  # "colorizer" or "discriminator"
    summary: str
    source: str  # the paper or report it comes from
    tiny: dict[str, Any] = field(default_factory=dict)  # a small config for tests
    discriminator: str | None = None  # the discriminator it trains with, for GAN generators
    default_loss: str = "l1"
    legacy_defaults: dict[str, Any] = field(default_factory=dict)  # defaults of format-1 files that have changed


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    role: str = "colorizer",
    summary: str,
    source: str,
    tiny: dict[str, Any] | None = None,
    discriminator: str | None = None,
    default_loss: str = "l1",
    legacy_defaults: dict[str, Any] | None = None,
) -> Callable[[type], type]:
    """Class decorator adding an architecture to the zoo under ``name``. ``legacy_defaults``: the
    constructor defaults that have changed since model files began to record every constructor
    argument (format 2); format-1 files, which recorded only the arguments passed, are read with them."""

    def deco(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, cls, role, summary, source, dict(tiny or {}), discriminator, default_loss,
                                    dict(legacy_defaults or {}))
        return cls

    return deco


def _ensure_loaded() -> None:
    import tinct.models  # noqa: F401  (registers the zoo)


def get_spec(name: str) -> ModelSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise TinctError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_models(role: str | None = None) -> list[ModelSpec]:
    _ensure_loaded()
    return [s for s in sorted(_REGISTRY.values(), key=lambda s: s.name) if role is None or s.role == role]


def resolved_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every constructor argument of ``cls``: ``kwargs`` with the defaults filled in (a model file
    then says exactly how its model was built, whatever later versions change the defaults to)."""
    sig = inspect.signature(cls)
    bound = sig.bind(**kwargs)
    bound.apply_defaults()
    full: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            full.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            full[name] = value
    return full


def create_model(name: str, **kwargs: Any):
    """Build architecture ``name``; records ``arch`` and every constructor argument (``kwargs``
    with the defaults filled in) on it for self-describing saves."""
    spec = get_spec(name)
    try:
        full = resolved_kwargs(spec.cls, kwargs)
        model = spec.cls(**kwargs)
    except TypeError as exc:
        raise TinctError(f"bad options for model {name!r}: {exc}") from None
    model.arch = name
    model.kwargs = full
    return model
