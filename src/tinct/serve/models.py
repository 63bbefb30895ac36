"""The models a server offers: the shipped ones plus the files named at startup, each loaded once
(lazily, or at startup for the default) into one :class:`tinct.pipeline.Colorizer` per name."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinct.errors import ModelFileError, TinctError
from tinct.modelfile import read_record
from tinct.modelfile import resolve_model, shipped_models
from tinct.pipeline import DEFAULT_MODEL, Colorizer


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    record: dict[str, Any]
    shipped: bool

    @property
    def hints(self) -> bool:
        return bool(self.record.get("kwargs", {}).get("hints"))

    def describe(self) -> dict[str, Any]:
        from tinct.registry import get_spec

        try:
            spec = get_spec(self.record["arch"])
            summary, kind = spec.summary, spec.cls.output_kind
        except TinctError:
            summary, kind = "", "ab"
        prov = self.record.get("provenance") or {}
        # the model card's benchmark figures (recorded when it was packaged), not training-time numbers
        return {"name": self.name, "arch": self.record["arch"], "hints": self.hints, "summary": summary,
                "purpose": self.record.get("purpose") or summary, "kind": kind,
                "shipped": self.shipped, "metrics": prov.get("benchmark") or {}}


class ModelStore:
    """Name -> model file, validated at startup; name -> Colorizer, built once and cached."""

    def __init__(self, extra: tuple[str, ...] = (), default: str | None = None, render_size: int | None = None,
                 backend: str = "torch"):
        self.render_size, self.backend = render_size, backend
        self.entries: dict[str, ModelEntry] = {}
        for name, path in shipped_models().items():
            self.entries[name] = ModelEntry(name, path, read_record(path), True)
        for item in extra:
            path = resolve_model(item)
            name = item if item in self.entries and self.entries[item].path == path else path.stem
            known = self.entries.get(name)
            if known is not None and known.path.resolve() != path.resolve():
                raise ModelFileError(f"two models are named {name!r}: {known.path} and {path}; rename one file")
            if known is None:
                self.entries[name] = ModelEntry(name, path, read_record(path), False)
        if not self.entries:
            raise ModelFileError(f"no model to serve: the shipped model {DEFAULT_MODEL!r} is not installed; "
                                 "pass --model PATH to a tinct model file")
        if default is None:
            default = DEFAULT_MODEL if DEFAULT_MODEL in self.entries else self._first_extra(extra)
        elif default not in self.entries:
            default = self._name_of(default)
        self.default = default
        self._cache: dict[str, Colorizer] = {}
        self._locks = {name: threading.Lock() for name in self.entries}

    def _first_extra(self, extra: tuple[str, ...]) -> str:
        return self._name_of(extra[0]) if extra else next(iter(self.entries))

    def _name_of(self, item: str) -> str:
        try:
            path = resolve_model(item).resolve()
        except ModelFileError:
            path = None
        for entry in self.entries.values():
            if entry.name == item or entry.path.resolve() == path:
                return entry.name
        raise ModelFileError(f"default model {item!r} is not among the served models: {', '.join(self.entries)}")

    def entry(self, name: str | None) -> ModelEntry:
        """The entry for ``name`` (the default when None); :class:`KeyError` when unknown."""
        return self.entries[name or self.default]

    def loaded(self) -> list[str]:
        return sorted(self._cache)

    def get(self, name: str) -> Colorizer:
        """The cached Colorizer of ``name``, loading it on first use (thread-safe)."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._locks[name]:
            if name not in self._cache:
                self._cache[name] = Colorizer(self.entries[name].path, render_size=self.render_size,
                                              backend=self.backend)
            return self._cache[name]

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for entry in self.entries.values():
            d = entry.describe()
            d["default"] = entry.name == self.default
            d["loaded"] = entry.name in self._cache
            out.append(d)
        return out
