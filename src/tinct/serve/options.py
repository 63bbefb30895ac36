"""The form fields of ``POST /api/v1/colorize``, checked: 400 for bad hints, 422 for bad options."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from tinct.errors import HintError
from tinct.hints import Hints, Point, parse_color
from tinct.serve.errors import ApiError
from tinct.serve.images import DEEP_OUTPUTS, OUTPUT_FORMATS
from tinct.serve.multipart import Part
from tinct.serve.settings import MIN_RENDER_SIZE, Settings

FIELDS = ("image", "hints", "reference", "model", "render_size", "format", "quality", "depth")
MAX_POINTS = 1000
MAX_PALETTE = 64
MAX_POINT_SIZE = 64


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


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HintError(f"{what} must be a number, got {json.dumps(value)[:40]}")
    return float(value)


def _point(item: Any, i: int, size: tuple[int, int]) -> Point:
    if not isinstance(item, dict):
        raise HintError(f"hint point {i} must be an object with x, y and color")
    missing = [k for k in ("x", "y", "color") if k not in item]
    if missing:
        raise HintError(f"hint point {i} has no {missing[0]!r}")
    x, y = _number(item["x"], f"hint point {i} x"), _number(item["y"], f"hint point {i} y")
    w, h = size
    if not (0 <= x < w and 0 <= y < h):
        raise HintError(f"hint point {i} at ({x:g}, {y:g}) lies outside the {w}x{h} image")
    if not isinstance(item["color"], str):
        raise HintError(f"hint point {i} color must be a string such as '#c05020'")
    psize = item.get("size", 0)
    if psize is None:
        psize = 0
    psize = _number(psize, f"hint point {i} size")
    if psize != int(psize) or not 0 <= psize <= MAX_POINT_SIZE:
        raise HintError(f"hint point {i} size must be a whole number from 0 (automatic) to {MAX_POINT_SIZE}")
    return Point(x=x, y=y, rgb=parse_color(item["color"]), size=int(psize))


def _palette_entry(item: Any, i: int) -> tuple[tuple[int, int, int], float]:
    if isinstance(item, str):
        return parse_color(item), 1.0
    if isinstance(item, dict) and isinstance(item.get("color"), str):
        weight = _number(item.get("weight", 1.0), f"palette entry {i} weight")
        if weight < 0:
            raise HintError(f"palette entry {i} weight must not be negative")
        return parse_color(item["color"]), weight
    raise HintError(f"palette entry {i} must be a color string or {{\"color\": ..., \"weight\": ...}}")


def parse_hints(text: str, size: tuple[int, int]) -> Hints | None:
    """The ``hints`` JSON -> :class:`Hints` for an image of ``size`` = (width, height).

    Format: ``{"points": [{"x": 10, "y": 20, "color": "#rrggbb", "size": 0}], "palette": ["#rrggbb",
    {"color": "#rrggbb", "weight": 2}]}``; x, y in the uploaded image's pixels. None when empty."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise HintError("hints are not valid JSON") from None
    if not isinstance(data, dict):
        raise HintError('hints must be a JSON object such as {"points": [...], "palette": [...]}')
    unknown = sorted(set(data) - {"points", "palette"})
    if unknown:
        raise HintError(f"unknown hints key {unknown[0]!r}; use 'points' and 'palette'")
    points, palette = data.get("points") or [], data.get("palette") or []
    if not isinstance(points, list) or not isinstance(palette, list):
        raise HintError("hints 'points' and 'palette' must be lists")
    if len(points) > MAX_POINTS or len(palette) > MAX_PALETTE:
        raise HintError(f"too many hints (at most {MAX_POINTS} points and {MAX_PALETTE} palette colors)")
    hints = Hints(points=[_point(p, i, size) for i, p in enumerate(points)],
                  palette=[_palette_entry(c, i) for i, c in enumerate(palette)] or None)
    if hints.palette and sum(wt for _, wt in hints.palette) <= 0:
        raise HintError("palette weights sum to zero")
    return None if hints.is_empty() else hints
