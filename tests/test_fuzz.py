"""Property-based: random hints JSON, palettes, render sizes and bytes thrown at the HTTP API and
at ``Colorizer`` get a 4xx / ``TinctError``, never a 500 or another exception."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinct.errors import TinctError
from tinct.hints import Hints, Point
from tinct.modelfile import save_model
from tinct.pipeline import Colorizer
from tinct.registry import create_model

numbers = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                    st.just(1e308), st.just(-0.0), st.text(max_size=5), st.none(), st.booleans())
colors = st.one_of(st.text(max_size=9), st.lists(numbers, max_size=4), st.just("#ff0000"), numbers)
points = st.one_of(st.fixed_dictionaries({"x": numbers, "y": numbers, "color": colors},
                                         optional={"size": numbers, "extra": numbers}),
                   st.text(max_size=20), numbers)
palette = st.lists(st.one_of(st.fixed_dictionaries({"color": colors}, optional={"weight": numbers}), colors),
                   max_size=4)
hints_json = st.one_of(
    st.fixed_dictionaries({}, optional={"points": st.one_of(st.lists(points, max_size=4), numbers),
                                        "palette": st.one_of(palette, numbers), "grid": numbers,
                                        "junk": numbers}),
    st.lists(numbers, max_size=3), numbers)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    return save_model(create_model("effunet", pretrained=False, width=8, hints=True), path)


@pytest.fixture(scope="module")
def client(tiny):
    from fastapi.testclient import TestClient

    from tinct.serve import Settings, create_app

    app = create_app(Settings(models=(str(tiny),), default_model="tiny", torch_threads=1,
                              allowed_hosts=("testserver",)))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((40, 48), 128, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hints=hints_json, render=st.one_of(st.integers(-5, 5000).map(str), st.text(max_size=6)))
def test_api_answers_4xx_or_200_never_500(client, hints, render):
    data = {"hints": json.dumps(hints, allow_nan=True), "render_size": render}
    r = client.post("/api/v1/colorize", files={"image": ("a.png", PNG, "image/png")}, data=data)
    assert r.status_code in (200, 400, 413, 415, 422), r.text
    if r.status_code != 200:
        assert r.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_api_random_bytes(client, body):
    r = client.post("/api/v1/colorize", files={"image": ("a.png", body, "image/png")})
    assert r.status_code in (400, 413, 415, 422), r.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=numbers, y=numbers, rgb=st.one_of(st.tuples(numbers, numbers, numbers), numbers),
       size=numbers, weight=numbers, render=st.one_of(numbers, st.integers(-10, 5000)))
def test_colorizer_raises_tinct_errors_only(tiny, x, y, rgb, size, weight, render):
    c = Colorizer(tiny, render_size=64)
    img = np.full((40, 48, 3), 100, np.uint8)
    for call in (lambda: c(img, hints=Hints(points=[Point(x=x, y=y, rgb=rgb, size=size)])),
                 lambda: c(img, hints=Hints(palette=[((255, 0, 0), weight)])),
                 lambda: c(img, render_size=render if render is not None else 0)):
        try:
            out = call()
        except TinctError:
            continue
        assert out.shape == img.shape and out.dtype == np.uint8
