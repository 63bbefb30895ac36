"""The form fields of ``POST /api/v1/colorize``, checked: 400 for bad hints, 422 for bad options."""

from __future__ import annotations

from dataclasses import dataclass

from tinct.hints import Hints
from tinct.hints.io import hints_from_json
from tinct.hints.user import check_point, check_stroke
from tinct.serve.errors import ApiError
from tinct.serve.images import DEEP_OUTPUTS, OUTPUT_FORMATS
from tinct.serve.multipart import Part
from tinct.serve.settings import MIN_RENDER_SIZE, Settings

FIELDS = ("image", "hints", "reference", "model", "render_size", "format", "quality", "depth")


@dataclass(frozen=True)
class Options:
    model: str | None
    render_size: int | None  # None: the server's default, else the model's own
    format: str
    quality: int | None
    deep: bool = True  # a 16-bit upload keeps its 16 bits in a PNG or TIFF answer (depth "auto")


def number_field(parts: dict[str, Part], name: str, lo: float, hi: float) -> float:
    """A required number from ``lo`` to ``hi`` (inclusive) in form field ``name``, or 422."""
    import math

    if name not in parts:
        raise ApiError(422, f"the form field {name!r} is missing")
    text = parts[name].text().strip()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ApiError(422, f"{name} must be a number from {lo:g} to {hi:g}, got {text[:40]!r}")
    return value


def int_field(parts: dict[str, Part], name: str, lo: int, hi: int) -> int | None:
    """An optional whole number from ``lo`` to ``hi`` in form field ``name`` (None when absent), or 422."""
    return _int_field(parts, name, lo, hi)


def _int_field(parts: dict[str, Part], name: str, lo: int, hi: int) -> int | None:
    if name not in parts:
        return None
    text = parts[name].text().strip()
    try:
        value = int(text)
    except ValueError:
        raise ApiError(422, f"{name} must be a whole number from {lo} to {hi}, got {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise ApiError(422, f"{name} must be from {lo} to {hi}, got {value}")
    return value


def parse_options(parts: dict[str, Part], settings: Settings, extra_fields: tuple[str, ...] = ()) -> Options:
    """model, render_size, format, quality and depth from the form; unknown fields (beyond
    ``extra_fields``, an endpoint's own) are refused."""
    known = FIELDS + extra_fields
    unknown = sorted(set(parts) - set(known))
    if unknown:
        raise ApiError(422, f"unknown form field {unknown[0]!r}; the fields are: {', '.join(known)}")
    model = parts["model"].text().strip() or None if "model" in parts else None
    render = _int_field(parts, "render_size", MIN_RENDER_SIZE, settings.max_render_size)
    fmt = parts["format"].text().strip().lower() if "format" in parts else "png"
    fmt = {"jpg": "jpeg"}.get(fmt, fmt)
    if fmt not in OUTPUT_FORMATS:
        raise ApiError(422, f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt[:20]!r}")
    quality = _int_field(parts, "quality", 1, 100)
    depth = parts["depth"].text().strip().lower() if "depth" in parts else "auto"
    if depth not in ("auto", "8"):
        raise ApiError(422, f"depth must be 'auto' (16 bits for a 16-bit PNG or TIFF) or '8', got {depth[:20]!r}")
    return Options(model, render or settings.render_size, fmt, quality, depth == "auto" and fmt in DEEP_OUTPUTS)


def parse_hints(text: str, size: tuple[int, int]) -> Hints | None:
    """The ``hints`` field -> :class:`Hints` for an image of ``size`` = (width, height): the hints
    JSON of :mod:`tinct.hints.io` (the CLI's ``--hints`` schema; here without file paths), every
    point and stroke inside the image. None when empty; 400 (:class:`HintError`) otherwise."""
    if not text.strip():
        return None
    hints = hints_from_json(text)
    w, h = size
    for p in hints.points:
        check_point(p, (h, w))
    for st in hints.strokes:
        check_stroke(st, (h, w))
    return None if hints.is_empty() else hints
