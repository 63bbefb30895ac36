"""Hints as users write them (command-line strings, a JSON file, a color-grid image) turned into
:class:`tinct.hints.Hints`. Every malformed part is a one-line :class:`~tinct.errors.HintError`.

The hints JSON, the one schema of ``tinct colorize --hints FILE``, the HTTP API's ``hints`` field
and :func:`hints_from_dict` (paths are relative to the JSON file)::

    {"points": [{"x": 10, "y": 20, "color": "#ff0000", "size": 5}, "40,12,#00ff00"],
     "strokes": [{"points": [[10, 20], [40, 22], [60, 30]], "color": "#2f5d2a", "width": 12}],
     "grid": "grid.png",
     "palette": [{"color": "#aa3300", "weight": 2}, "#3366ff"],
     "reference": "ref.jpg"}

x, y and width are in pixels of the input image; a color is ``"#RRGGBB"`` or ``[r, g, b]``.
``grid`` may also be a list of rows of colors (null = no hint in that cell); ``palette`` may also
be a CLI string such as ``"#aa3300:2,#3366ff"``. Where no file may be read (the HTTP API:
``base_dir=None``), ``grid`` must be rows of colors and the reference comes as an upload.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tinct.errors import HintError, ImageError
from tinct.hints.user import GRID_CELLS, MAX_STROKE_POINTS, Hints, Point, Stroke, check_number, parse_color

POINT_FORMAT = "X,Y,#RRGGBB[,SIZE]"
HINT_KEYS = ("points", "strokes", "grid", "palette", "reference")
POINT_KEYS = ("x", "y", "color", "size")
STROKE_KEYS = ("points", "color", "width")
MAX_POINTS = 1000  # point hints in one document
MAX_STROKES = 200
MAX_PALETTE = 64


def _coord(value: Any, what: str) -> float:
    v = check_number(value, what)
    if v < 0:
        raise HintError(f"{what} must not be negative, got {value!r}")
    return v


def _size(value: Any, what: str) -> int:
    if value is None:
        return 0  # automatic
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value != int(value)):
        raise HintError(f"{what} must be a whole number of pixels, got {value!r}")
    if value < 0:
        raise HintError(f"{what} must not be negative, got {value!r}")
    return int(value)


def _color(value: Any, what: str) -> tuple[int, int, int]:
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return tuple(value)  # type: ignore[return-value]
    if not isinstance(value, str):
        raise HintError(f"{what}: bad color {value!r}: use \"#RRGGBB\" or [r, g, b] with values 0-255")
    try:
        return parse_color(value)
    except HintError as exc:
        raise HintError(f"{what}: {exc}") from None


def parse_point(text: str) -> Point:
    """'X,Y,#RRGGBB' or 'X,Y,#RRGGBB,SIZE' (X, Y in pixels of the input image; SIZE the patch side
    in working-size pixels, 0 = automatic) -> a :class:`Point`. 'X,Y,R,G,B[,SIZE]' works too."""
    parts = [t.strip() for t in str(text).split(",")]
    if len(parts) in (3, 4):
        color_text, rest = parts[2], parts[3:]
    elif len(parts) in (5, 6):
        color_text, rest = ",".join(parts[2:5]), parts[5:]
    else:
        raise HintError(f"bad hint {text!r}: expected {POINT_FORMAT}")
    try:
        x, y = float(parts[0]), float(parts[1])
        size = int(rest[0]) if rest else 0
    except ValueError:
        raise HintError(f"bad hint {text!r}: expected {POINT_FORMAT} with numbers for X, Y and SIZE") from None
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        raise HintError(f"bad hint {text!r}: X and Y must be pixel positions (0 or more)")
    if size < 0:
        raise HintError(f"bad hint {text!r}: SIZE must not be negative")
    try:
        rgb = parse_color(color_text)
    except HintError as exc:
        raise HintError(f"bad hint {text!r}: {exc}") from None
    return Point(x=x, y=y, rgb=rgb, size=size)


def parse_palette(text: str) -> list[tuple[tuple[int, int, int], float]]:
    """'#RRGGBB:W,#RRGGBB' (weight 1 when left out) -> [(rgb, weight), ...]."""
    entries = [t.strip() for t in str(text).split(",") if t.strip()]
    if not entries:
        raise HintError(f"bad palette {text!r}: expected #RRGGBB[:WEIGHT],#RRGGBB[:WEIGHT],...")
    palette = []
    for entry in entries:
        color_text, _, weight_text = entry.partition(":")
        try:
            rgb = parse_color(color_text)
        except HintError as exc:
            raise HintError(f"bad palette {text!r}: {exc}") from None
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise HintError(f"bad palette {text!r}: weight {weight_text!r} is not a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise HintError(f"bad palette {text!r}: weights must be 0 or more, got {weight_text}")
        palette.append((rgb, weight))
    if sum(w for _, w in palette) <= 0:
        raise HintError(f"bad palette {text!r}: the weights sum to zero")
    return palette


def load_grid(path: str | os.PathLike, cells: int = GRID_CELLS) -> np.ndarray:
    """A color-grid image (any size) -> (cells, cells, 3) uint8, or (cells, cells, 4) when it has
    transparency (a cell with alpha below 128 gives no hint). Resized with a box filter."""
    from tinct.imageio import load_image

    try:
        img = load_image(path, min_side=1)
    except ImageError as exc:
        raise HintError(f"color grid: {exc}") from None
    im = Image.fromarray(img.rgb)
    if img.alpha is not None:
        im.putalpha(Image.fromarray(img.alpha))
    return np.asarray(im.resize((cells, cells), Image.Resampling.BOX)).copy()


def _grid_from_list(rows: Any, cells: int = GRID_CELLS) -> np.ndarray:
    """Rows of colors (null = no hint) -> an RGBA grid of ``cells`` x ``cells``."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise HintError("grid: expected an image path or a list of rows of colors")
    if len({len(r) for r in rows}) != 1:
        raise HintError("grid: all rows must have the same number of cells")
    g = np.zeros((len(rows), len(rows[0]), 4), dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                g[i, j, :3] = _color(value, f"grid[{i}][{j}]")
                g[i, j, 3] = 255
    if g.shape[:2] == (cells, cells):
        return g
    return np.asarray(Image.fromarray(g, "RGBA").resize((cells, cells), Image.Resampling.NEAREST)).copy()


def _points_from(value: Any) -> list[Point]:
    if not isinstance(value, list):
        raise HintError("points: expected a list")
    points = []
    for i, item in enumerate(value):
        what = f"points[{i}]"
        if isinstance(item, str):
            points.append(parse_point(item))
            continue
        if not isinstance(item, dict):
            raise HintError(f"{what}: expected {{\"x\": X, \"y\": Y, \"color\": \"#RRGGBB\"}} or \"{POINT_FORMAT}\"")
        unknown = sorted(set(item) - set(POINT_KEYS))
        if unknown:
            raise HintError(f"{what}: unknown key {unknown[0]!r} (expected {', '.join(POINT_KEYS)})")
        for key in ("x", "y", "color"):
            if key not in item:
                raise HintError(f"{what}: missing {key!r}")
        points.append(Point(x=_coord(item["x"], f"{what}.x"), y=_coord(item["y"], f"{what}.y"),
                            rgb=_color(item["color"], f"{what}.color"), size=_size(item.get("size", 0), f"{what}.size")))
    return points


def _strokes_from(value: Any) -> list[Stroke]:
    if not isinstance(value, list):
        raise HintError("strokes: expected a list")
    if len(value) > MAX_STROKES:
        raise HintError(f"strokes: at most {MAX_STROKES} strokes, got {len(value)}")
    strokes = []
    for i, item in enumerate(value):
        what = f"strokes[{i}]"
        if not isinstance(item, dict):
            raise HintError(f'{what}: expected {{"points": [[x, y], ...], "color": "#RRGGBB", "width": W}}')
        unknown = sorted(set(item) - set(STROKE_KEYS))
        if unknown:
            raise HintError(f"{what}: unknown key {unknown[0]!r} (expected {', '.join(STROKE_KEYS)})")
        for key in ("points", "color"):
            if key not in item:
                raise HintError(f"{what}: missing {key!r}")
        pts = item["points"]
        if not isinstance(pts, list) or not 1 <= len(pts) <= MAX_STROKE_POINTS:
            raise HintError(f"{what}.points: expected 1 to {MAX_STROKE_POINTS} [x, y] pairs")
        coords = []
        for j, pt in enumerate(pts):
            if not isinstance(pt, list) or len(pt) != 2:
                raise HintError(f"{what}.points[{j}]: expected [x, y], got {pt!r}"[:200])
            coords.append((_coord(pt[0], f"{what}.points[{j}].x"), _coord(pt[1], f"{what}.points[{j}].y")))
        width = check_number(item.get("width", 8), f"{what}.width")
        if width <= 0:
            raise HintError(f"{what}.width must be above 0, got {width:g}")
        strokes.append(Stroke(points=tuple(coords), rgb=_color(item["color"], f"{what}.color"), width=width))
    return strokes


def _palette_from(value: Any) -> list[tuple[tuple[int, int, int], float]]:
    if isinstance(value, str):
        return parse_palette(value)
    if not isinstance(value, list) or not value:
        raise HintError("palette: expected a non-empty list of colors")
    palette = []
    for i, item in enumerate(value):
        what = f"palette[{i}]"
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"color", "weight"})
            if unknown:
                raise HintError(f"{what}: unknown key {unknown[0]!r} (expected color, weight)")
            if "color" not in item:
                raise HintError(f"{what}: missing 'color'")
            weight = check_number(item.get("weight", 1), f"{what}.weight")
            if weight < 0:
                raise HintError(f"{what}.weight must not be negative, got {weight:g}")
            palette.append((_color(item["color"], what), weight))
        else:
            palette.append((_color(item, what), 1.0))
    if sum(w for _, w in palette) <= 0:
        raise HintError("palette: the weights sum to zero")
    return palette


def _path(value: Any, base_dir: Path, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise HintError(f"{what}: expected a file path, got {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def load_reference(path: str | os.PathLike) -> np.ndarray:
    """A reference image whose colors guide the result -> HxWx3 uint8."""
    from tinct.imageio import load_image

    try:
        return load_image(path, min_side=1).rgb
    except ImageError as exc:
        raise HintError(f"reference image: {exc}") from None


def hints_from_dict(d: Any, base_dir: str | os.PathLike | None = ".") -> Hints:
    """The hints JSON (see the module docstring) -> :class:`Hints`. Paths of the grid and reference
    images are taken relative to ``base_dir``; with ``base_dir=None`` no file is read (the HTTP
    API): a path is refused with a line saying what to send instead."""
    if not isinstance(d, dict):
        raise HintError(f"hints: expected an object with keys {', '.join(HINT_KEYS)}")
    keys = HINT_KEYS if base_dir is not None else tuple(k for k in HINT_KEYS if k != "reference")
    unknown = sorted(set(d) - set(keys))
    if unknown:
        extra = " (send the reference image as its own upload)" if unknown[0] == "reference" else ""
        raise HintError(f"hints: unknown key {unknown[0]!r} (expected {', '.join(keys)}){extra}")
    hints = Hints()
    if d.get("points") is not None:
        hints.points = _points_from(d["points"])
        if len(hints.points) > MAX_POINTS:
            raise HintError(f"points: at most {MAX_POINTS} point hints, got {len(hints.points)}")
    if d.get("strokes") is not None:
        hints.strokes = _strokes_from(d["strokes"])
    if d.get("grid") is not None:
        grid = d["grid"]
        if isinstance(grid, str) and base_dir is None:
            raise HintError("grid: send the 14x14 grid as rows of colors here, not a file path")
        hints.grid = load_grid(_path(grid, Path(base_dir), "grid")) if isinstance(grid, str) else _grid_from_list(grid)
    if d.get("palette") is not None:
        hints.palette = _palette_from(d["palette"])
        if len(hints.palette) > MAX_PALETTE:
            raise HintError(f"palette: at most {MAX_PALETTE} colors, got {len(hints.palette)}")
    if d.get("reference") is not None:
        hints.reference = load_reference(_path(d["reference"], Path(base_dir), "reference"))
    return hints


def hints_from_json(text: str) -> Hints:
    """The hints JSON as text, with no file access (the HTTP API's ``hints`` field)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError):
        raise HintError("hints are not valid JSON") from None
    return hints_from_dict(data, None)


def load_hints_json(path: str | os.PathLike) -> Hints:
    """Read a hints JSON file (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise HintError(f"{p}: hints file not found" if not p.exists() else f"{p}: not a file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise HintError(f"{p}: not a text (UTF-8 JSON) file") from None
    except json.JSONDecodeError as exc:
        raise HintError(f"{p}: bad JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        return hints_from_dict(data, p.parent)
    except HintError as exc:
        raise HintError(f"{p}: {exc}") from None


def merge_hints(base: Hints, extra: Hints) -> Hints:
    """``base`` with ``extra`` on top: points are added, grid/palette/reference replaced."""
    return Hints(points=[*base.points, *extra.points], strokes=[*base.strokes, *extra.strokes],
                 grid=extra.grid if extra.grid is not None else base.grid,
                 palette=extra.palette if extra.palette else base.palette,
                 reference=extra.reference if extra.reference is not None else base.reference)
