"""Hints as users write them: CLI strings, JSON files and color-grid images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tinct.errors import HintError
from tinct.hints.io import (hints_from_dict, load_grid, load_hints_json, merge_hints, parse_palette,
                          parse_point)
from tinct.hints import GRID_CELLS, Hints, Point, to_tensors


def test_parse_point():
    assert parse_point("10,20,#ff0000") == Point(10, 20, (255, 0, 0), 0)
    assert parse_point(" 3.5, 4 ,00ff00, 7") == Point(3.5, 4, (0, 255, 0), 7)
    assert parse_point("1,2,0,0,255,3") == Point(1, 2, (0, 0, 255), 3)


@pytest.mark.parametrize("text", ["", "10,20", "10,20,#ff0000,5,6,7,8", "a,20,#ff0000", "10,20,#ff00",
                                  "10,20,#gg0000", "-1,20,#ff0000", "10,20,#ff0000,-3", "10,20,#ff0000,2.5",
                                  "nan,2,#ff0000", "1,2,300,0,0"])
def test_parse_point_rejects(text):
    with pytest.raises(HintError) as info:
        parse_point(text)
    assert "\n" not in str(info.value)


def test_parse_palette():
    assert parse_palette("#aa3300:2,#3366ff") == [((0xAA, 0x33, 0x00), 2.0), ((0x33, 0x66, 0xFF), 1.0)]
    assert parse_palette("#aa3300:0.5") == [((0xAA, 0x33, 0x00), 0.5)]


@pytest.mark.parametrize("text,match", [("", "expected"), ("#aa3300:x", "not a number"), ("#aa33:1", "bad color"),
                                        ("#aa3300:-1", "0 or more"), ("#aa3300:0", "sum to zero")])
def test_parse_palette_rejects(text, match):
    with pytest.raises(HintError, match=match):
        parse_palette(text)


def test_load_grid_resizes_and_keeps_transparency(tmp_path):
    img = np.zeros((56, 56, 4), dtype=np.uint8)
    img[:, :28] = (255, 0, 0, 255)  # left half red, right half transparent
    Image.fromarray(img, "RGBA").save(tmp_path / "grid.png")
    g = load_grid(tmp_path / "grid.png")
    assert g.shape == (GRID_CELLS, GRID_CELLS, 4) and g.dtype == np.uint8
    assert (g[:, :7, 3] == 255).all() and (g[:, 7:, 3] == 0).all()
    assert (g[:, :7, :3] == (255, 0, 0)).all()
    Image.fromarray(img[:5, :5, :3], "RGB").save(tmp_path / "small.png")  # any size works, even tiny
    assert load_grid(tmp_path / "small.png").shape == (GRID_CELLS, GRID_CELLS, 3)
    # box filter: a 2x2 checker of black/white per cell averages to gray
    checker = (np.indices((28, 28)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checker, "L").save(tmp_path / "checker.png")
    assert np.abs(load_grid(tmp_path / "checker.png").astype(int) - 128).max() <= 1


def test_load_grid_rejects_non_images(tmp_path):
    (tmp_path / "grid.png").write_text("not an image")
    with pytest.raises(HintError, match="color grid.*not an image"):
        load_grid(tmp_path / "grid.png")


def _write_hints(tmp_path, data) -> str:
    p = tmp_path / "hints.json"
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def test_load_hints_json_full(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (28, 28), (0, 128, 255)).save(tmp_path / "sub" / "grid.png")
    Image.new("RGB", (32, 32), (200, 100, 50)).save(tmp_path / "ref.jpg")
    p = _write_hints(tmp_path, {
        "points": [{"x": 10, "y": 20, "color": "#ff0000", "size": 5}, "3,4,#00ff00", {"x": 1.5, "y": 0, "color": [1, 2, 3]}],
        "grid": "sub/grid.png",
        "palette": [{"color": "#aa3300", "weight": 2}, "#3366ff"],
        "reference": "ref.jpg"})
    h = load_hints_json(p)
    assert h.points == [Point(10, 20, (255, 0, 0), 5), Point(3, 4, (0, 255, 0), 0), Point(1.5, 0, (1, 2, 3), 0)]
    assert h.grid.shape == (GRID_CELLS, GRID_CELLS, 3) and tuple(h.grid[0, 0]) == (0, 128, 255)
    assert h.palette == [((0xAA, 0x33, 0x00), 2.0), ((0x33, 0x66, 0xFF), 1.0)]
    assert h.reference.shape == (32, 32, 3)
    ab_hint, mask, glob = to_tensors(h, (64, 64), (32, 32))  # the pipeline accepts what we built
    assert mask.sum() > 0 and glob is not None and glob.shape == (1, 513)


def test_grid_as_list_of_rows():
    rows = [["#ff0000", None], [None, "#0000ff"]]
    g = hints_from_dict({"grid": rows}).grid
    assert g.shape == (GRID_CELLS, GRID_CELLS, 4)
    assert tuple(g[0, 0]) == (255, 0, 0, 255) and g[0, -1, 3] == 0 and tuple(g[-1, -1]) == (0, 0, 255, 255)


def test_palette_as_string_in_json():
    assert hints_from_dict({"palette": "#aa3300:2"}).palette == [((0xAA, 0x33, 0x00), 2.0)]


@pytest.mark.parametrize("data,match", [
    ({"colour": "#ff0000"}, "unknown key 'colour'"),
    ([1, 2], "expected an object"),
    ({"points": {"x": 1}}, "points: expected a list"),
    ({"points": [{"y": 1, "color": "#ff0000"}]}, r"points\[0\]: missing 'x'"),
    ({"points": [{"x": 1, "y": 1}]}, "missing 'color'"),
    ({"points": [{"x": 1, "y": 1, "color": "#ff0000", "z": 2}]}, "unknown key 'z'"),
    ({"points": [{"x": "1", "y": 1, "color": "#ff0000"}]}, r"points\[0\]\.x must be a number"),
    ({"points": [{"x": -1, "y": 1, "color": "#ff0000"}]}, "must not be negative"),
    ({"points": [{"x": 1, "y": 1, "color": "#ff0000", "size": -5}]}, r"size must not be negative"),
    ({"points": [{"x": 1, "y": 1, "color": "#ff0000", "size": 1.5}]}, "whole number"),
    ({"points": [{"x": 1, "y": 1, "color": "red"}]}, r"points\[0\]\.color: bad color"),
    ({"points": [{"x": 1, "y": 1, "color": [1, 2, 300]}]}, "bad color"),
    ({"points": [42]}, r"points\[0\]: expected"),
    ({"grid": "missing.png"}, "color grid.*not found"),
    ({"grid": "notes.txt"}, "color grid.*not an image"),
    ({"grid": [["#ff0000"], ["#00ff00", "#0000ff"]]}, "same number of cells"),
    ({"grid": 5}, "grid: expected"),
    ({"palette": []}, "non-empty list"),
    ({"palette": [{"weight": 2}]}, "missing 'color'"),
    ({"palette": [{"color": "#ff0000", "weight": -1}]}, "must not be negative"),
    ({"palette": [{"color": "#ff0000", "weight": 0}]}, "sum to zero"),
    ({"palette": ["#ff00"]}, r"palette\[0\]: bad color"),
    ({"reference": "nope.jpg"}, "reference image.*not found"),
    ({"reference": 3}, "reference: expected a file path"),
])
def test_hints_from_dict_rejects(tmp_path, data, match):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(HintError, match=match) as info:
        hints_from_dict(data, tmp_path)
    assert "\n" not in str(info.value)


def test_load_hints_json_file_errors(tmp_path):
    with pytest.raises(HintError, match="hints file not found"):
        load_hints_json(tmp_path / "none.json")
    p = _write_hints(tmp_path, '{"points": [\n  {"x": 1,}\n]}')
    with pytest.raises(HintError, match="bad JSON at line 2"):
        load_hints_json(p)
    p = _write_hints(tmp_path, {"points": [{"x": 1}]})
    with pytest.raises(HintError, match=r"hints\.json: points\[0\]: missing 'y'"):
        load_hints_json(p)


def test_merge_hints():
    a = Hints(points=[Point(1, 1, (1, 1, 1))], palette=[((1, 2, 3), 1.0)])
    b = Hints(points=[Point(2, 2, (2, 2, 2))], reference=np.zeros((4, 4, 3), np.uint8))
    m = merge_hints(a, b)
    assert [p.x for p in m.points] == [1, 2] and m.palette == a.palette and m.reference is b.reference
