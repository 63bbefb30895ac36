"""One hint contract: the CLI's --hints file and the HTTP API's hints field accept exactly the same
JSON documents and refuse the same ones; strokes paint their pixels in every interface."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from tinct.cli import main
from tinct.hints import Hints, Stroke
from tinct.pipeline import Colorizer

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tinct.serve.app import create_app  # noqa: E402
from tinct.serve.settings import Settings  # noqa: E402

W, H = 96, 64
GOOD = [
    {"points": [{"x": 10, "y": 20, "color": "#ff0000"}]},
    {"points": [{"x": 10, "y": 20, "color": [255, 0, 0], "size": None}, "40,12,#00ff00"]},
    {"points": [{"x": 10.5, "y": 2, "color": "#0000ff", "size": 3}]},
    {"palette": ["#aa3300", {"color": [30, 60, 200], "weight": 2}]},
    {"palette": "#aa3300:2,#3366ff"},
    {"grid": [["#ff0000", None], [None, [0, 128, 0]]]},
    {"strokes": [{"points": [[5, 5], [60, 40], [90, 60]], "color": "#2f5d2a", "width": 6}]},
    {"strokes": [{"points": [[20, 30]], "color": [200, 30, 30]}], "points": [{"x": 1, "y": 1, "color": "#123456"}]},
]
BAD = [
    [],
    {"pointz": []},
    {"points": [{"x": 10, "y": 20}]},
    {"points": [{"x": -1, "y": 20, "color": "#ff0000"}]},
    {"points": [{"x": 500, "y": 20, "color": "#ff0000"}]},
    {"points": [{"x": 10, "y": 20, "color": "#ff0000", "size": 1e9}]},
    {"points": [{"x": "NaN", "y": 20, "color": "#ff0000"}]},
    {"palette": []},
    {"palette": [{"color": "#ff0000", "weight": -1}]},
    {"grid": [["#ff0000"], ["#ff0000", "#00ff00"]]},
    {"strokes": [{"points": [], "color": "#ff0000"}]},
    {"strokes": [{"points": [[1, 1]] * 100_001, "color": "#ff0000"}]},
    {"strokes": [{"points": [[1, 1]], "color": "#ff0000", "width": 0}]},
    {"strokes": [{"points": [[1, 1]], "color": "#ff0000", "width": 1e9}]},
    {"strokes": [{"points": [[1, 1], [1000, 5]], "color": "#ff0000"}]},
    {"strokes": [{"points": [[1, "x"]], "color": "#ff0000"}]},
]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(torch_threads=1, allowed_hosts=("testserver",)))) as c:
        yield c


def _image(tmp_path):
    rng = np.random.default_rng(0)
    gray = np.clip(np.linspace(30, 220, W)[None, :] + rng.normal(0, 8, (H, W)), 0, 255).astype(np.uint8)
    path = tmp_path / "in.png"
    Image.fromarray(gray).save(path)
    return path


def _cli(tmp_path, doc, name):
    src = _image(tmp_path)
    hints = tmp_path / f"{name}.json"
    hints.write_text(json.dumps(doc))
    out = tmp_path / f"{name}.png"
    code = main(["colorize", str(src), "-o", str(out), "--hints", str(hints), "-q"])
    return code, (np.asarray(Image.open(out).convert("RGB")) if code == 0 else None)


def _api(client, tmp_path, doc):
    data = _image(tmp_path).read_bytes()
    r = client.post("/api/v1/colorize", files={"image": ("in.png", data, "image/png"),
                                               "hints": (None, json.dumps(doc))})
    return r.status_code, (np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")) if r.status_code == 200 else r)


@pytest.mark.parametrize("i", range(len(GOOD)))
def test_good_documents_give_the_same_output_through_both(client, tmp_path, i, capsys):
    code, cli_out = _cli(tmp_path, GOOD[i], f"good{i}")
    status, api_out = _api(client, tmp_path, GOOD[i])
    assert code == 0, capsys.readouterr().err
    assert status == 200, api_out.text
    assert np.array_equal(cli_out, api_out)


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_documents_are_refused_by_both_in_one_line(client, tmp_path, i, capsys):
    code, _ = _cli(tmp_path, BAD[i], f"bad{i}")
    err = capsys.readouterr().err
    assert code != 0 and err.strip() and "Traceback" not in err and len(err.strip().splitlines()) == 1
    status, r = _api(client, tmp_path, BAD[i])
    assert status in (400, 413) and r.json()["error"]  # 413: a 100,000-point stroke is past the form's size limit


def test_a_stroke_paints_its_pixels_and_stays_local():
    rng = np.random.default_rng(1)
    gray = np.clip(np.linspace(60, 200, 128)[None, :] + rng.normal(0, 4, (96, 128)), 0, 255).astype(np.uint8)
    gray = np.repeat(gray[:, :, None], 3, axis=2)
    col = Colorizer("photo")
    plain = col(gray).astype(int)
    stroke = Stroke(points=((20.0, 30.0), (60.0, 34.0), (100.0, 30.0)), rgb=(30, 90, 220), width=6)
    out = col(gray, hints=Hints(strokes=[stroke])).astype(int)
    on = out[32, 60]
    assert on[2] > on[0] + 30 and on[2] > plain[32, 60][2]  # blue where the stroke ran
    far = np.abs(out[80:, :] - plain[80:, :]).mean()
    near = np.abs(out[28:37, 20:100] - plain[28:37, 20:100]).mean()
    assert near > 3 * far
