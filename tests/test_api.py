"""HTTP API of ``tinct serve`` through FastAPI's TestClient, with a tiny model made in tmp_path."""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import threading
import time
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

with warnings.catch_warnings():  # Starlette's note on the httpx version, not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tinct.errors import TinctError
from tinct.imageio import load_image
from tinct.modelfile import save_model
from tinct.pipeline import Colorizer
from tinct.registry import create_model
from tinct.serve import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

URL = "/api/v1/colorize"
METRICS = {"psnr": 22.5, "colorfulness": 31.0}

MODULES = ("state", "api", "hints", "filters", "png", "viewer", "jobs", "main")  # the page's ES modules


def tiny_model(path, hints: bool = True, seed: int = 0):
    """A tiny untrained EfficientNet U-Net whose output visibly depends on its hints."""
    torch.manual_seed(seed)
    extra = {"global_prior": 3.0} if hints else {}  # palettes and references reweight the bin head
    model = create_model("effunet", pretrained=False, width=8, hints=hints, blend=1.0, **extra)
    if hints:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # the hint stem starts at zero; give it weight so hints change the result
            model.hint_stem.weight.copy_(torch.randn(model.hint_stem.weight.shape, generator=g) * 0.5)
    # the benchmark figures of the model card are shown; training-time metrics are not
    return save_model(model, path, provenance={"benchmark": METRICS, "metrics": {"val_PSNR": 1.0}, "steps": 0},
                      purpose="tests" if hints else None)


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"tiny": tiny_model(d / "tiny.safetensors"), "plain": tiny_model(d / "plain.safetensors", hints=False)}


def make_app(model_paths, **kw):
    kw.setdefault("models", (str(model_paths["tiny"]), str(model_paths["plain"])))
    kw.setdefault("torch_threads", 1)
    kw.setdefault("default_model", "tiny")  # the tests' own model, not the shipped 'photo'
    kw.setdefault("allowed_hosts", ("testserver",))  # the TestClient's host name
    return create_app(Settings(**kw))


@pytest.fixture(scope="module")
def client(model_paths):
    with TestClient(make_app(model_paths)) as c:
        yield c


def gray(w: int = 64, h: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, w)[None, :] * np.linspace(0.3, 1.0, h)[:, None]
    return np.clip(ramp + rng.normal(0, 12, (h, w)), 0, 255).astype(np.uint8)


def encoded(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def post(client, data: bytes | None = b"", name: str = "photo.png", ctype: str = "image/png", **fields):
    """A multipart POST with the image (unless ``data`` is None) and the given form fields."""
    parts = {k: (None, v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()}
    if data is not None:
        parts["image"] = (name, data, ctype)
    return client.post(URL, files=parts) if parts else client.post(URL)


def decoded(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    for word in words:
        assert word.lower() in body["error"].lower(), body["error"]
    return body


# ------------------------------------------------------------------------------------ good input
def test_png_gray_matches_the_pipeline(client, model_paths):
    img = gray()
    r = post(client, encoded(img))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-tinct-model"] == "tiny"
    assert int(r.headers["x-tinct-millis"]) >= 0
    assert r.headers["x-tinct-render-size"] == "256"
    assert 'filename="photo-color.png"' in r.headers["content-disposition"]
    out = decoded(r)
    assert out.size == (64, 48) and out.mode == "RGB"
    expected = Colorizer(model_paths["tiny"])(img)  # the one inference path, called directly
    assert np.abs(np.asarray(out).astype(int) - expected.astype(int)).max() <= 1


def test_16bit_upload_answered_with_16_bits(client, model_paths):
    """A 16-bit PNG scan keeps its 16 bits in a PNG or TIFF answer (the CLI's rule), equal to the
    Python API's uint16 result; JPEG, or depth 8, answer 8 bits; a bad depth is a 422."""
    from tinct.imageio.depth16 import write_png16

    y, x = np.mgrid[0:48, 0:80]
    rgb16 = np.repeat((x * 700 + y * 60 + 3000).astype(np.uint16)[:, :, None], 3, axis=2)
    buf = io.BytesIO()
    write_png16(buf, rgb16)
    expected = Colorizer(model_paths["tiny"])(rgb16)
    for fmt, media in (("png", "image/png"), ("tiff", "image/tiff")):
        r = post(client, buf.getvalue(), name="scan.png", format=fmt)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == media
        with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as f:
            f.write(r.content)
            f.flush()
            out = load_image(f.name)
        assert out.bit_depth == 16 and out.rgb16 is not None and out.size == (80, 48)
        assert len(np.unique(out.rgb16[..., 1])) > 1000 and (out.rgb16 % 257 != 0).mean() > 0.9
        assert np.abs(out.rgb16.astype(int) - expected.astype(int)).max() <= 1
    for fields in ({"format": "jpeg"}, {"format": "png", "depth": "8"}):
        r = post(client, buf.getvalue(), name="scan.png", **fields)
        assert r.status_code == 200, r.text
        assert decoded(r).mode == "RGB"  # 8 bits per sample
    assert_error(post(client, buf.getvalue(), depth="16"), 422, "depth")


def test_jpeg_in_jpeg_out(client):
    rgb = np.dstack([gray(80, 60), gray(80, 60, 1), gray(80, 60, 2)])
    r = post(client, encoded(rgb, "JPEG", quality=90), name="x.jpg", ctype="image/jpeg", format="jpeg", quality="80")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert decoded(r).format == "JPEG" and decoded(r).size == (80, 60)


def test_rgba_keeps_alpha_and_webp(client):
    alpha = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    rgba = np.dstack([gray(40, 30)] * 3 + [alpha])
    r = post(client, encoded(rgba), name="a.png")
    assert r.status_code == 200, r.text
    out = decoded(r)
    assert out.mode == "RGBA" and out.size == (40, 30)
    assert np.array_equal(np.asarray(out)[:, :, 3], alpha)
    r = post(client, encoded(rgba), format="webp")
    assert r.status_code == 200 and decoded(r).format == "WEBP" and decoded(r).size == (40, 30)


def test_exif_orientation_is_applied(client):
    img = Image.fromarray(gray(64, 48))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees: shown 48 wide, 64 high
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    r = post(client, buf.getvalue(), hints={"points": [{"x": 40, "y": 60, "color": "#ff0000"}]})
    assert r.status_code == 200, r.text
    assert decoded(r).size == (48, 64)


def test_hints_change_the_result(client):
    data = encoded(gray())
    plain = np.asarray(decoded(post(client, data)))
    hints = {"points": [{"x": 20, "y": 20, "color": "#1060ff", "size": 8}, {"x": 50, "y": 30, "color": "255,40,0"}],
             "palette": ["#ff0000", {"color": "#00ff00", "weight": 2}]}
    r = post(client, data, hints=hints, render_size="64")
    assert r.status_code == 200, r.text
    hinted = np.asarray(decoded(r))
    assert hinted.shape == plain.shape
    assert np.abs(hinted.astype(int) - plain.astype(int)).max() > 0
    assert post(client, data, hints=" ").status_code == 200  # empty hints are no hints


def test_model_choice_and_listing(client):
    r = post(client, encoded(gray()), model="plain")
    assert r.status_code == 200 and r.headers["x-tinct-model"] == "plain"
    listing = client.get("/api/v1/models").json()
    assert listing["default"] == "tiny"
    by_name = {m["name"]: m for m in listing["models"]}
    assert by_name["tiny"]["arch"] == "effunet" and by_name["tiny"]["hints"] is True
    assert by_name["plain"]["hints"] is False
    assert by_name["tiny"]["metrics"] == METRICS and by_name["tiny"]["purpose"] == "tests"
    assert by_name["plain"]["purpose"] == by_name["plain"]["summary"] and by_name["tiny"]["kind"] == "ab"
    assert by_name["tiny"]["default"] is True and by_name["tiny"]["loaded"] is True


def test_health_config_page_and_docs(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["default_model"] == "tiny" and health["queue_size"] == 4
    config = client.get("/api/v1/config").json()
    assert config["max_upload_bytes"] == 20_000_000 and config["max_pixels"] == 40_000_000
    assert config["render_size"] == {"default": None, "min": 32, "max": 1024}  # None: each model's own
    page = client.get("/")
    assert page.status_code == 200 and 'id="file-input"' in page.text
    for path in ("/", "/health"):  # uptime checkers use HEAD
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"", path
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('href="/docs"', "")  # nothing from other hosts
    for asset in ("/static/style.css", *(f"/static/js/{m}.js" for m in MODULES)):
        r = client.get(asset)
        assert r.status_code == 200, asset
        if asset.endswith(".js"):  # module scripts run only when served as JavaScript
            assert "javascript" in r.headers["content-type"], asset
    assert '<script type="module" src="/static/js/main.js">' in page.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = client.get("/openapi.json").json()
    body = schema["paths"][URL]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"image", "hints", "model", "render_size", "format"} <= set(body["properties"])


# ------------------------------------------------------------------------------------- bad input
def truncated_png() -> bytes:
    data = encoded(gray(64, 48, seed=3))
    return data[: len(data) * 6 // 10]


BAD = [
    ("no body", lambda: {"data": None}, 400, ["multipart"]),
    ("no file", lambda: {"data": None, "model": "tiny"}, 400, ["image"]),
    ("empty file", lambda: {"data": b""}, 400, ["empty"]),
    ("text named .png", lambda: {"data": b"hello, I am text\n" * 20}, 415, ["not an image"]),
    ("pdf", lambda: {"data": b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n", "name": "x.pdf"}, 415, ["not an image"]),
    ("truncated png", lambda: {"data": truncated_png()}, 400, ["damaged"]),
    ("bad hints json", lambda: {"data": encoded(gray()), "hints": "{points: ["}, 400, ["JSON"]),
    ("hints not an object", lambda: {"data": encoded(gray()), "hints": "[1, 2]"}, 400, ["object"]),
    ("hint without color", lambda: {"data": encoded(gray()), "hints": {"points": [{"x": 1, "y": 1}]}}, 400, ["color"]),
    ("hint bad color", lambda: {"data": encoded(gray()), "hints": {"points": [{"x": 1, "y": 1, "color": "red"}]}},
     400, ["color"]),
    ("hint outside", lambda: {"data": encoded(gray()), "hints": {"points": [{"x": 64, "y": 5, "color": "#ff0000"}]}},
     400, ["outside", "64x48"]),
    ("hint x not a number", lambda: {"data": encoded(gray()),
                                     "hints": {"points": [{"x": "a", "y": 5, "color": "#ff0000"}]}}, 400, ["number"]),
    ("unknown hints key", lambda: {"data": encoded(gray()), "hints": {"dots": []}}, 400, ["dots"]),
    ("hints for a plain model", lambda: {"data": encoded(gray()), "model": "plain",
                                         "hints": {"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}}, 400, ["no hints"]),
    ("unknown model", lambda: {"data": encoded(gray()), "model": "nope"}, 404, ["nope", "tiny"]),
    ("render size text", lambda: {"data": encoded(gray()), "render_size": "big"}, 422, ["render_size"]),
    ("render size small", lambda: {"data": encoded(gray()), "render_size": "8"}, 422, ["render_size"]),
    ("render size large", lambda: {"data": encoded(gray()), "render_size": "99999"}, 422, ["render_size"]),
    ("bad format", lambda: {"data": encoded(gray()), "format": "gif"}, 422, ["format"]),
    ("bad quality", lambda: {"data": encoded(gray()), "format": "jpeg", "quality": "0"}, 422, ["quality"]),
    ("unknown field", lambda: {"data": encoded(gray()), "rendersize": "64"}, 422, ["rendersize"]),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input(client, case):
    _, make, status, words = case
    kw = make()
    assert_error(post(client, **kw), status, *words)


def test_file_in_another_field_and_wrong_type(client):
    r = client.post(URL, files={"file": ("a.png", encoded(gray()), "image/png")})
    assert_error(r, 400, "'image'", "'file'")
    r = client.post(URL, content=encoded(gray()), headers={"content-type": "image/png"})
    assert_error(r, 400, "multipart")
    r = client.post(URL, content=b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nabc",
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert_error(r, 400, "multipart")
    assert_error(client.get(URL), 405)
    assert_error(client.get("/api/v1/nothing"), 404)


def test_too_many_bytes_and_pixels(model_paths):
    app = make_app(model_paths, max_upload_bytes=20_000, max_pixels=5_000)
    noise = np.random.default_rng(0).integers(0, 256, (120, 120), dtype=np.uint8)  # ~14 KB, 14400 px
    with TestClient(app) as c:
        assert_error(post(c, os.urandom(30_000)), 413, "20 KB")  # streamed past the file limit
        assert_error(post(c, encoded(noise)), 413, "megapixels")  # small file, too many pixels
        big_field = {"points": [{"x": 1, "y": 1, "color": "#ffffff"}] * 7_500}  # about 280 KB
        assert_error(post(c, encoded(gray()), hints=big_field), 413, "hints")
        r = c.post(URL, content=b"x" * 10, headers={"content-type": "multipart/form-data; boundary=a",
                                                   "content-length": str(10**9)})
        assert_error(r, 413, "limit")  # refused on the declared length alone
        assert post(c, encoded(gray())).status_code == 200  # 3072 px: fine


def test_pixel_limit_is_checked_before_decoding(model_paths, monkeypatch):
    bomb = encoded(np.zeros((3000, 3000), np.uint8))  # 9 MP of zeros: a few KB
    decoded_any = []
    from PIL import ImageFile

    for cls in (Image.Image, ImageFile.ImageFile):
        monkeypatch.setattr(cls, "load", lambda self: decoded_any.append(1))
    with TestClient(make_app(model_paths, max_pixels=1_000_000)) as c:
        assert_error(post(c, bomb), 413, "9.0 megapixels")
    assert not decoded_any


def png16(arr: np.ndarray) -> bytes:
    """A 16-bit RGB or RGBA PNG (Pillow cannot write 16-bit color)."""
    arr = np.asarray(arr, dtype=">u2")
    h, w, c = arr.shape
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_16bit_color_upload_keeps_exact_values(client, tmp_path, monkeypatch):
    """The server decodes uploads as load_image decodes files: value / 257, not Pillow's high byte
    (asked for 8 bits; 16 bits in, 16 bits out is the next test)."""
    seen = []

    def identity(colorizer, image, hints=None, render_size=None, confidence=False, extras=None):
        seen.append(image[:, :, :3].copy())
        return image  # the response then carries the pixels the server decoded (alpha too)

    monkeypatch.setattr(Colorizer, "__call__", identity)
    rng = np.random.default_rng(4)
    for channels in (3, 4):
        data = png16(rng.integers(0, 65536, (24, 40, channels)))
        (tmp_path / "c16.png").write_bytes(data)
        expected = load_image(tmp_path / "c16.png")
        r = post(client, data, name="c16.png", depth="8")
        assert r.status_code == 200, r.text
        out = np.asarray(decoded(r))
        assert out.shape == (24, 40, channels)
        assert np.array_equal(seen[-1], expected.rgb) and np.array_equal(out[:, :, :3], expected.rgb)
        if channels == 4:
            assert np.array_equal(out[:, :, 3], expected.alpha)
        with Image.open(io.BytesIO(data)) as high_byte_only:  # what the server did before: value // 256
            assert not np.array_equal(np.asarray(high_byte_only.convert("RGB")), expected.rgb)


def test_upload_checks_shared_with_files(client):
    tiny = encoded(gray(4, 6))
    assert_error(post(client, tiny), 400, "too small", "4x6")
    png = encoded(gray())
    assert_error(post(client, png[:20]), 400, "damaged", "truncated")
    assert_error(post(client, png[:8] + bytes(range(200))), 400, "damaged")
    assert_error(post(client, encoded(gray(64, 48), "WEBP")[:300], name="x.webp"), 400, "damaged")


# ------------------------------------------------------------------------------------- busy case
class Gate:
    """Blocks every colorization until released."""

    def __init__(self, monkeypatch):
        self.release = threading.Event()
        self.entered = threading.Event()
        original = Colorizer.__call__

        def blocked(colorizer, *args, **kwargs):
            self.entered.set()
            assert self.release.wait(30), "test gate never released"
            return original(colorizer, *args, **kwargs)

        monkeypatch.setattr(Colorizer, "__call__", blocked)


def in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    t.start()
    return t, box


def test_busy_answers_503_then_recovers(model_paths, monkeypatch):
    gate = Gate(monkeypatch)
    data = encoded(gray())
    with TestClient(make_app(model_paths, queue_size=1)) as c:
        first, first_box = in_thread(lambda: post(c, data))
        assert gate.entered.wait(30)
        second, second_box = in_thread(lambda: post(c, data))
        second.join(20)  # must not wait for the blocked job
        assert not second.is_alive(), "a request hung while the queue was full"
        body = assert_error(second_box["result"], 503, "busy")
        assert int(second_box["result"].headers["retry-after"]) >= 1 and body["retry_after"] >= 1
        health = c.get("/health").json()  # the event loop is free while inference runs
        assert health["queue_pending"] == 1 and health["queue_size"] == 1
        gate.release.set()
        first.join(30)
        assert first_box["result"].status_code == 200
        assert c.get("/health").json()["queue_pending"] == 0
        results = [post(c, data) for _ in range(3)]
        assert [r.status_code for r in results] == [200, 200, 200]
        assert c.app.state.queue.rejected == 1


def test_timeout_answers_503_and_keeps_the_slot_until_the_job_ends(model_paths, monkeypatch):
    gate = Gate(monkeypatch)
    data = encoded(gray())
    with TestClient(make_app(model_paths, queue_size=1, timeout_s=0.3)) as c:
        assert_error(post(c, data), 503, "longer than")
        assert gate.entered.wait(30)  # on a loaded machine the job may start after the timeout
        assert_error(post(c, data), 503, "busy")  # the timed-out job still runs
        gate.release.set()
        deadline = time.monotonic() + 60  # generous: the released job may wait for a busy CPU
        while c.get("/health").json()["queue_pending"] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(c, data).status_code == 200


def test_unexpected_error_is_500_json_without_details(model_paths, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Colorizer, "__call__", broken)
    with TestClient(make_app(model_paths), raise_server_exceptions=False) as c:
        body = assert_error(post(c, encoded(gray())), 500)
        assert "secret" not in json.dumps(body)
        assert c.get("/health").json()["queue_pending"] == 0


# ------------------------------------------------------------------------------- no files behind
def test_no_temp_files(model_paths, monkeypatch):
    created = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        original = getattr(tempfile, name)
        monkeypatch.setattr(tempfile, name,
                            lambda *a, _o=original, _n=name, **k: created.append(_n) or _o(*a, **k))
    noise = np.random.default_rng(1).integers(0, 256, (700, 1000, 3), dtype=np.uint8)
    big = encoded(noise)  # over 2 MB: more than frameworks keep in memory before spooling to disk
    assert len(big) > 2_000_000
    before = set(os.listdir(tempfile.gettempdir()))
    with TestClient(make_app(model_paths)) as c:
        assert post(c, big, render_size="64").status_code == 200
        assert post(c, truncated_png()).status_code == 400
    assert created == []
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


# ----------------------------------------------------------------------------- settings and CLI
def test_settings_are_checked(model_paths):
    with pytest.raises(TinctError, match="queue size"):
        Settings(queue_size=0)
    with pytest.raises(TinctError, match="render size"):
        Settings(render_size=2048)
    with pytest.raises(TinctError, match="default model"):
        make_app(model_paths, default_model="nope")
    app = make_app(model_paths, default_model="plain", preload=False)
    assert app.state.store.default == "plain" and app.state.store.loaded() == []


def test_cli_errors_are_one_line(model_paths, tmp_path, capsys):
    import socket

    from tinct.cli import main

    assert main(["serve", "--model", str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "tinct serve: error:" in err and "missing.safetensors" in err and "Traceback" not in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(model_paths["tiny"]), "--port", str(port), "--threads", "1"]) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_reference_image_field(client):
    data = encoded(gray())
    plain = np.asarray(decoded(post(client, data)))
    ref = np.zeros((40, 40, 3), np.uint8)
    ref[..., 2] = 220  # a blue scene
    parts = {"image": ("photo.png", data, "image/png"), "reference": ("ref.png", encoded(ref), "image/png")}
    r = client.post(URL, files=parts)
    assert r.status_code == 200, r.text
    steered = np.asarray(decoded(r))
    assert steered.shape == plain.shape and np.abs(steered.astype(int) - plain.astype(int)).max() > 0
    # a reference that is no image is refused in words, naming the reference
    parts["reference"] = ("ref.png", b"not an image at all", "image/png")
    assert_error(client.post(URL, files=parts), 415, "reference image")
    # a model without hints refuses a reference
    parts["reference"] = ("ref.png", encoded(ref), "image/png")
    parts["model"] = (None, "plain")
    assert_error(client.post(URL, files=parts), 400, "takes no hints")


def test_other_sites_and_other_host_names_are_refused(model_paths):
    from fastapi.testclient import TestClient

    with TestClient(make_app(model_paths), raise_server_exceptions=False) as c:
        files = {"image": ("a.png", encoded(gray()), "image/png")}
        r = c.post("/api/v1/colorize", files=files, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "another site" in r.json()["error"]
        r = c.post("/api/v1/colorize", files=files, headers={"Origin": "null"})
        assert r.status_code == 403
        r = c.post("/api/v1/colorize", files=files, headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        r = c.get("/health", headers={"Host": "rebound.example:8000"})
        assert r.status_code == 403 and "rebound.example" in r.json()["error"]
        assert "--allow-host rebound.example" in r.json()["error"]  # a LAN name is told how to be allowed
        assert c.post("/api/v1/colorize", files=files, headers={"Origin": "http://testserver"}).status_code == 200
        assert c.get("/health").status_code == 200


def test_origin_guard_host_names():
    from tinct.serve.origin import OriginGuard, host_name

    assert host_name("[::1]:8000") == "[::1]" and host_name("Localhost:80") == "localhost"
    local = OriginGuard(None, "127.0.0.1")
    assert local.host_ok("127.0.0.1:8000") and local.host_ok("localhost") and not local.host_ok("10.0.0.5:8000")
    lan = OriginGuard(None, "0.0.0.0", ("photos.lan",))
    assert lan.host_ok("10.0.0.5:8000") and lan.host_ok("photos.lan:8000") and not lan.host_ok("evil.example")


def test_onnx_backend_setting(model_paths):
    """``tinct serve --backend onnx``: the config says so, and a colorization runs on ONNX Runtime
    with the PyTorch result to within one level."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    with TestClient(make_app(model_paths, backend="onnx")) as c:
        assert c.get("/api/v1/config").json()["backend"] == "onnx"
        img = gray()
        r = post(c, encoded(img))
        assert r.status_code == 200, r.text
        assert c.app.state.store.get("tiny").onnx is not None
        expected = Colorizer(model_paths["tiny"])(img)
        assert np.abs(np.asarray(decoded(r)).astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(TinctError, match="backend"):
        Settings(backend="tensorrt")


def test_a_drained_queue_gives_freed_memory_back(monkeypatch):
    """When the last job of a burst ends and no new one comes for a moment, glibc's freed heap is
    handed back (malloc_trim), so the server's RSS falls back after a burst instead of staying at its
    peak (measured by the soak); never before an answer goes out."""
    import asyncio

    from tinct.serve import worker

    calls = []
    q = worker.InferenceQueue(workers=1, capacity=4)
    q.release_memory = lambda: calls.append(1)
    q.start()

    async def burst():
        return await asyncio.gather(*(q.run(lambda i=i: bytearray(10_000_000)[i]) for i in range(3)))

    monkeypatch.setattr(worker, "TRIM_AFTER_S", 1.0)
    try:
        assert asyncio.run(burst()) == [0, 0, 0]
        assert calls == [] and q.pending == 0  # not in the way of the answers
        time.sleep(1.6)
        assert len(calls) == 1  # the queue stayed empty: memory handed back once
        asyncio.run(burst())
        time.sleep(0.1)
        asyncio.run(burst())  # new work within the wait: the first drain's trim is skipped
        time.sleep(1.6)
        assert len(calls) == 2
    finally:
        q.shutdown()


def _post_to(client, url, data, **fields):
    parts = {k: (None, v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()}
    parts["image"] = ("photo.png", data, "image/png")
    return client.post(url, files=parts)


def test_confidence_map_endpoint(client):
    r = _post_to(client, "/api/v1/confidence", encoded(gray(64, 48)))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and 0.0 <= float(r.headers["X-Tinct-Confidence-Mean"]) <= 1.0
    assert decoded(r).size == (64, 48)
    hinted = _post_to(client, "/api/v1/confidence", encoded(gray(64, 48)),
                      hints={"points": [{"x": 10, "y": 10, "color": "#20c040", "size": 4}]})
    assert np.asarray(decoded(hinted).convert("L"))[10, 10] == 255  # the user's point is sure
    assert_error(_post_to(client, "/api/v1/confidence", encoded(gray()), x="3"), 422, "unknown form field")


def test_suggested_colors_endpoint(client):
    r = _post_to(client, "/api/v1/suggest", encoded(gray(64, 48)), x="20", y="30.5", k="3")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "tiny" and 1 <= len(body["suggestions"]) <= 3
    probs = [s["probability"] for s in body["suggestions"]]
    assert probs == sorted(probs, reverse=True)
    assert all(len(s["rgb"]) == 3 and s["hex"].startswith("#") and len(s["hex"]) == 7 for s in body["suggestions"])
    for fields, words in (({"x": "64", "y": "1"}, ("x must be",)), ({"x": "nan", "y": "1"}, ("x must be",)),
                          ({"x": "1"}, ("'y' is missing",)), ({"x": "1", "y": "1", "k": "1000"}, ("k must be",)),
                          ({"x": "1", "y": "-1e9"}, ("y must be",))):
        assert_error(_post_to(client, "/api/v1/suggest", encoded(gray(64, 48)), **fields), 422, *words)


def test_models_without_a_distribution_say_so(model_paths, tmp_path):
    path = save_model(create_model("unet", base=8, depth=3), tmp_path / "unet.safetensors")
    with TestClient(make_app(model_paths, models=(str(model_paths["tiny"]), str(path)))) as c:
        r = _post_to(c, "/api/v1/confidence", encoded(gray()), model="unet")
        assert_error(r, 422, "no color distribution")
        assert_error(_post_to(c, "/api/v1/suggest", encoded(gray()), model="unet", x="1", y="1"), 422,
                     "no color distribution")


def test_variants_endpoint(client):
    import base64

    r = _post_to(client, "/api/v1/variants", encoded(gray(64, 48)), n="3")
    assert r.status_code == 200, r.text
    urls = r.json()["variants"]
    assert len(urls) == 3 and all(u.startswith("data:image/png;base64,") for u in urls)
    first = Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1])))
    assert first.size == (64, 48)
    assert_error(_post_to(client, "/api/v1/variants", encoded(gray()), n="1000"), 422, "n must be")


def test_colorize_can_start_from_a_chosen_variant(client):
    """/colorize with `variant` k is /variants' option k; with hints it is option k with the hints on
    top (the page sends it after a click on an option); a variant out of range is a 422."""
    import base64

    img = encoded(gray(64, 48))
    urls = _post_to(client, "/api/v1/variants", img, n="4").json()["variants"]
    option = [np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1])))) for u in urls]
    chosen = _post_to(client, URL, img, variant="2")
    assert chosen.status_code == 200, chosen.text
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(chosen.content))), option[2])
    plain = _post_to(client, URL, img, variant="0")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(plain.content))), option[0])
    hints = {"points": [{"x": 10, "y": 10, "color": "#2040ff"}]}
    on_top = _post_to(client, URL, img, variant="2", hints=hints)
    assert on_top.status_code == 200 and on_top.content != chosen.content
    assert_error(_post_to(client, URL, img, variant="4"), 422, "variant must be")
    assert_error(_post_to(client, URL, img, variant="1", n="9"), 422, "n must be")


def test_variants_are_previews_and_colorize_gives_one_in_full(client):
    import base64

    img = encoded(gray(1200, 900))
    hints = {"points": [{"x": 1199, "y": 899, "color": "#2040ff"}], "strokes": [
        {"points": [[0, 0], [1199, 899]], "color": "#20c040", "width": 12}]}
    r = _post_to(client, "/api/v1/variants", img, n="2", hints=hints)
    assert r.status_code == 200, r.text
    previews = [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in r.json()["variants"]]
    assert [p.size for p in previews] == [(1024, 768)] * 2  # at most 1024 px: memory stays in the budget
    full = _post_to(client, URL, img, variant="1", n="2", hints=hints)
    assert full.status_code == 200 and Image.open(io.BytesIO(full.content)).size == (1200, 900)


def test_layers_of_a_line_drawing_stack_to_the_result(model_paths, tmp_path):
    """POST /api/v1/layers with a line-art model: a ZIP of lines, flats and shading that stack
    exactly to its result.png; a photo model is told to choose a line-art one."""
    import zipfile

    from tinct.lineart.regions import SHADING_ONE, compose

    torch.manual_seed(0)
    sketch = save_model(create_model("lineart_cnn", width=8), tmp_path / "sketch.safetensors")
    drawing = np.full((64, 80), 255, np.uint8)
    drawing[10:54, 12] = drawing[10:54, 60] = drawing[10, 12:61] = drawing[53, 12:61] = 0  # a box
    with TestClient(make_app(model_paths, models=(str(sketch), str(model_paths["tiny"])), default_model="sketch")) as c:
        r = _post_to(c, "/api/v1/layers", encoded(drawing))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip" and "photo-layers.zip" in r.headers["content-disposition"]
        z = zipfile.ZipFile(io.BytesIO(r.content))
        assert sorted(z.namelist()) == ["flats.png", "layers.ora", "lines.png", "result.png", "shading.png"]
        ora = zipfile.ZipFile(io.BytesIO(z.read("layers.ora")))  # the same stack for painting programs
        assert ora.read("mimetype") == b"image/openraster" and "stack.xml" in ora.namelist()
        read = lambda n: np.asarray(Image.open(io.BytesIO(z.read(n))))  # noqa: E731
        lines, flats, shading, result = read("lines.png"), read("flats.png"), read("shading.png"), read("result.png")
        assert lines.shape == (64, 80, 4) and lines[30, 12, 3] > 0 and lines[30, 30, 3] == 0
        assert shading.dtype == np.uint16 and int(shading.max()) <= 4 * SHADING_ONE
        assert np.array_equal(compose(flats, shading, lines[..., 3]), result)  # the layers stack to it exactly
        assert_error(_post_to(c, "/api/v1/layers", encoded(drawing), model="tiny"), 422, "line-art models")


def test_a_drawing_gets_a_note_and_a_video_a_pointer(client, tmp_path):
    """A line drawing sent to a photo model comes back with X-Tinct-Note naming the line-art model; a
    photo comes back without one; a video sent as an image is a 415 that says to send it as a job."""
    import cv2

    paper = np.full((120, 160), 255, np.uint8)
    for i in range(4):
        cv2.rectangle(paper, (10 + 35 * i, 20), (40 + 35 * i, 90), 0, 2)
    r = post(client, encoded(paper))
    assert r.status_code == 200 and "lineart" in r.headers["X-Tinct-Note"]
    r = post(client, encoded(gray(64, 48)))
    assert r.status_code == 200 and "X-Tinct-Note" not in r.headers
    from clips import frames, write_clip

    clip = write_clip(tmp_path / "film.mp4", frames(3)).read_bytes()
    assert_error(post(client, clip, name="film.mp4", ctype="video/mp4"), 415, "video", "job")


def test_head_and_options_on_every_route(client):
    """HEAD answers where GET does (headers only), OPTIONS gives the route's Allow; neither where no
    route is, and a cross-site OPTIONS is still refused."""
    for url in ("/api/v1/models", "/api/v1/config", "/docs", "/openapi.json", "/", "/health", "/static/js/main.js"):
        got, head = client.get(url), client.head(url)
        assert got.status_code == head.status_code == 200, url
        assert head.content == b"" and head.headers.get("content-type") == got.headers.get("content-type"), url
    r = client.options("/")
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.options(URL).headers["allow"] == "OPTIONS, POST"
    assert client.head(URL).status_code == 405
    assert_error(client.options("/nowhere"), 404, "not found")
    assert client.head("/nowhere").status_code == 404
    assert client.options("/", headers={"Origin": "http://elsewhere.example"}).status_code == 403


def test_suggest_and_confidence_share_one_network_pass(model_paths):
    """The page's repeated /suggest and /confidence on the picture it shows reuse one prediction
    (tinct.serve.predictions): the answers equal the uncached ones; another picture, other hints or
    another working size are predicted afresh."""
    from tinct.uncertainty import suggest

    img = gray(64, 48, seed=5)
    with TestClient(make_app(model_paths)) as c:
        cache = c.app.state.predictions
        got = [_post_to(c, "/api/v1/suggest", encoded(img), x=str(x), y="20", k="3").json()["suggestions"]
               for x in (5, 30, 60)]
        assert (cache.misses, cache.hits) == (1, 2)
        expected = [suggest(Colorizer(model_paths["tiny"]), img, x, 20, 3) for x in (5, 30, 60)]
        assert [[(tuple(s["rgb"]), round(s["probability"], 4)) for s in g] for g in got] == \
            [[(rgb, round(p, 4)) for rgb, p in e] for e in expected]
        first = _post_to(c, "/api/v1/confidence", encoded(img))
        again = _post_to(c, "/api/v1/confidence", encoded(img))
        assert (cache.misses, cache.hits) == (1, 4) and first.content == again.content
        _, conf = Colorizer(model_paths["tiny"])(img, confidence=True)
        assert np.array_equal(np.asarray(decoded(first).convert("L")), np.round(conf * 255).astype(np.uint8))
        _post_to(c, "/api/v1/confidence", encoded(gray(64, 48, seed=6)))
        _post_to(c, "/api/v1/confidence", encoded(img), hints={"points": [{"x": 10, "y": 10, "color": "#20c040"}]})
        _post_to(c, "/api/v1/confidence", encoded(img), render_size="96")
        assert (cache.misses, cache.hits) == (4, 4)


def test_colorize_leaves_its_prediction_for_the_page(model_paths):
    """The page's first /suggest and /confidence after a /colorize of the same fields need no
    network pass: /colorize keeps its prediction, and the answers equal the uncached ones."""
    img = gray(64, 48, seed=7)
    points = {"points": [{"x": 10, "y": 10, "color": "#20c040"}]}
    with TestClient(make_app(model_paths)) as c:
        cache = c.app.state.predictions
        assert _post_to(c, URL, encoded(img)).status_code == 200
        got = _post_to(c, "/api/v1/suggest", encoded(img), x="30", y="20", k="3").json()["suggestions"]
        assert (cache.misses, cache.hits) == (0, 1)
        assert _post_to(c, URL, encoded(img), hints=points).status_code == 200
        overlay = _post_to(c, "/api/v1/confidence", encoded(img), hints=points)
        assert (cache.misses, cache.hits) == (0, 2)
    with TestClient(make_app(model_paths)) as c:  # a fresh server: the same answers from a network pass
        assert _post_to(c, "/api/v1/suggest", encoded(img), x="30", y="20", k="3").json()["suggestions"] == got
        assert _post_to(c, "/api/v1/confidence", encoded(img), hints=points).content == overlay.content
        assert c.app.state.predictions.misses == 2


def test_predictions_are_bounded_by_bytes():
    import torch

    from tinct.serve.predictions import Prediction, Predictions

    def pred(n):
        return Prediction(torch.zeros(1, 1, n, n, dtype=torch.float16), torch.zeros(1, 2, 4, 4),
                          torch.zeros(1, 313, 4, 4), torch.zeros(1, 1, 4, 4))
    cache = Predictions(max_bytes=pred(100).nbytes() * 2 + 10, max_items=8)
    for key in "abc":
        cache.put(key, pred(100))
    assert cache.get("a") is None and cache.get("b") is not None and cache.get("c") is not None
    cache.put("huge", pred(1000))  # larger than the whole budget: not kept, nothing dropped
    assert cache.get("huge") is None and cache.get("b") is not None


def test_one_wording_of_the_readable_formats(client, tmp_path):
    """The CLI's message, the API's 415, its OpenAPI text and /api/v1/config (which the page shows)
    name the same formats: tinct.imageio.files.READ_FORMATS_IN_WORDS."""
    from tinct.imageio import load_image
    from tinct.imageio.files import READ_FORMATS_IN_WORDS

    assert client.get("/api/v1/config").json()["read_formats"] == READ_FORMATS_IN_WORDS
    assert READ_FORMATS_IN_WORDS in assert_error(post(client, b"plain text, not a picture" * 4), 415)["error"]
    assert READ_FORMATS_IN_WORDS in client.get("/openapi.json").text
    (tmp_path / "a.png").write_bytes(b"plain text, not a picture" * 4)
    with pytest.raises(Exception, match=READ_FORMATS_IN_WORDS):
        load_image(tmp_path / "a.png")
