"""End to end: a real ``tinct serve`` app under uvicorn, driven in Debian's headless Chromium with
Playwright: upload, result, slider, hints, filters, download, errors, phone layout.

Set ``TINCT_SCREENSHOT=docs/screenshot.png`` to save a screenshot of the page (and optionally
``TINCT_SCREENSHOT_MODEL=path.safetensors`` to show a real model instead of the tiny test one).
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
uvicorn = pytest.importorskip("uvicorn")

from tinct.modelfile import save_model
from tinct.registry import create_model
from tinct.serve import Settings, create_app


def tiny_model(path: Path, hints: bool = True) -> Path:
    """A tiny untrained model whose output visibly depends on its hints."""
    torch.manual_seed(0)
    extra = {"global_prior": 3.0} if hints else {}  # a reference image reweights the bin head
    model = create_model("effunet", pretrained=False, width=8, hints=hints, blend=1.0, **extra)
    if hints:
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            model.hint_stem.weight.copy_(torch.randn(model.hint_stem.weight.shape, generator=g) * 0.5)
    return save_model(model, path, provenance={"metrics": {"psnr": 20.0}})


def photo(w: int, h: int) -> np.ndarray:
    """A gray photo-like image: scikit-image's camera man when available, else a pattern."""
    try:
        from skimage import data

        return np.asarray(Image.fromarray(data.camera()).resize((w, h), Image.LANCZOS))
    except ImportError:
        y, x = np.mgrid[0:h, 0:w]
        return (128 + 90 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


class Recorder:
    """ASGI wrapper keeping the request bodies of POST /api/v1/colorize (what the page sent)."""

    def __init__(self, app):
        self.app = app
        self.bodies: list[bytes] = []
        self.job_bodies: list[bytes] = []  # POST /api/v1/jobs

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in ("/api/v1/colorize", "/api/v1/jobs") \
                or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        into = self.bodies if scope["path"] == "/api/v1/colorize" else self.job_bodies

        async def recording():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    into.append(b"".join(chunks))
            return message

        return await self.app(scope, recording, send)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A uvicorn server in a thread on a free loopback port; yields (URL, recorder)."""
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    sketch = save_model(create_model("lineart_unet", pretrained=False, width=8), d / "sketch.safetensors",
                        purpose="line drawings: give a palette or a reference")
    models = [str(tiny_model(d / "tiny.safetensors")), str(tiny_model(d / "plain.safetensors", hints=False)), str(sketch)]
    default = "tiny"
    if os.environ.get("TINCT_SCREENSHOT_MODEL"):
        models.append(os.environ["TINCT_SCREENSHOT_MODEL"])
        default = Path(models[-1]).stem
    app = create_app(Settings(models=tuple(models), default_model=default, torch_threads=1))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    recorder = Recorder(app)
    srv = uvicorn.Server(uvicorn.Config(recorder, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", recorder
    srv.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def open_page(browser, server, live: bool = False, **context):
    ctx = browser.new_context(accept_downloads=True, **context)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.errors = []  # uncaught script errors and console errors, failed loads aside
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and page.errors.append(m.text))
    page.goto(server[0] + "/")
    page.wait_for_selector("body[data-ready='true']")
    if not live:  # these tests press Recolorize themselves; test_live_hints checks the live mode
        page.evaluate("() => { const b = document.getElementById('live-toggle'); if (b.checked) b.click(); }")
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server, viewport={"width": 1200, "height": 850})
    yield page
    page.context.close()


def upload(page, data: bytes, name: str = "photo.png", mime: str = "image/png") -> None:
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": mime, "buffer": data}])


def wait_result(page, version: int) -> None:
    page.wait_for_selector(f"#viewer[data-result-version='{version}']")


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true (page.wait_for_function evaluates strings,
    which the page's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def canvas_pixels(page, selector: str = "#after-canvas") -> np.ndarray:
    flat, w, h = page.evaluate("""(sel) => { const c = document.querySelector(sel);
        return [Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data), c.width, c.height]; }""",
                               selector)
    return np.asarray(flat, dtype=np.uint8).reshape(h, w, 4)


def test_upload_slide_hint_filter_download(page, server, tmp_path):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    viewer = page.locator("#viewer")
    assert viewer.get_attribute("data-width") == "120" and viewer.get_attribute("data-height") == "90"
    first = canvas_pixels(page)
    chroma = np.abs(first[:, :, 0].astype(int) - first[:, :, 2].astype(int))
    assert chroma.max() > 0, "the result shows no color"
    assert page.locator("#download").is_enabled()

    # the before/after slider: drag with the mouse, then by keyboard
    clip = page.evaluate("getComputedStyle(document.getElementById('before-wrap')).clipPath")
    box = viewer.bounding_box()
    handle = page.locator("#slider-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert abs(float(viewer.get_attribute("data-position")) - 20) < 3
    assert page.evaluate("getComputedStyle(document.getElementById('before-wrap')).clipPath") != clip
    page.locator("#slider-handle").press("ArrowRight")
    assert abs(float(viewer.get_attribute("data-position")) - 22) < 3
    page.locator("#slider-handle").press("End")
    assert page.locator("#slider-handle").get_attribute("aria-valuenow") == "100"
    page.locator("#slider-handle").press("Home")
    assert viewer.get_attribute("data-position") == "0"

    # a hint: click on the picture, a marker appears, recolorize sends it, the result changes
    page.locator("#hint-color").fill("#2050ff")
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    assert page.locator("[data-testid='hint-marker']").count() == 1
    assert "at 90, 22" in page.locator("#hint-list").inner_text()
    page.click("#recolorize")
    wait_result(page, 2)
    body = server[1].bodies[-1]
    assert b'name="hints"' in body and b'{"points":[{"x":90,"y":22,"color":"#2050ff"}]}' in body
    second = canvas_pixels(page)
    assert second.shape == first.shape and not np.array_equal(second, first)
    assert page.locator("[data-testid='hint-marker']").count() == 1  # hints stay until removed

    # a reference image: choosing one sends it with the hints, the colors change
    ref = np.zeros((40, 60, 3), np.uint8)
    ref[..., 1] = 200  # a green scene
    page.set_input_files("#reference-input", files=[{"name": "ref.png", "mimeType": "image/png",
                                                     "buffer": png_bytes(ref)}])
    wait_result(page, 3)
    body = server[1].bodies[-1]
    assert b'name="reference"; filename="ref.png"' in body and b'name="hints"' in body
    third = canvas_pixels(page)
    assert not np.array_equal(third, second)

    # a filter changes the picture on the client, no new request
    page.locator("#f-sepia").fill("80")
    page.wait_for_selector("#viewer[data-filters='100,0,80']")
    filtered = canvas_pixels(page)
    assert not np.array_equal(filtered, third)
    assert viewer.get_attribute("data-result-version") == "3"

    # download: a PNG of the input's size, with the filter applied
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "photo-color.png"
    saved = tmp_path / "download.png"
    dl.value.save_as(saved)
    with Image.open(saved) as img:  # an RGB photo downloads as an RGB PNG, not RGBA
        assert img.format == "PNG" and img.size == (120, 90) and img.mode == "RGB"
        assert np.array_equal(np.asarray(img), filtered[:, :, :3])

    # removing the hint removes its marker
    page.click("[data-testid='hint-remove']")
    assert page.locator("[data-testid='hint-marker']").count() == 0

    # a file that is not an image: a message in words, the old result kept
    upload(page, b"just some text, not a picture\n" * 10, name="notes.png")
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert "not an image" in message.inner_text() and "notes.png" in message.inner_text()
    assert "previous" in message.inner_text()
    assert viewer.get_attribute("data-result-version") == "3"
    # the photo shown is still the one Download and Recolorize use
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "photo-color.png"
    page.click("#recolorize")
    wait_result(page, 4)
    assert b'filename="photo.png"' in server[1].bodies[-1]
    # the reference is shown, kept for the next photo, and removed on its own
    assert page.locator("#reference-chip").is_visible() and "ref.png" in page.locator("#reference-chip").inner_text()
    upload(page, png_bytes(photo(100, 80)), name="next.png")
    wait_result(page, 5)
    assert b'name="reference"' in server[1].bodies[-1] and "colors of ref.png" in page.locator("#status").inner_text()
    page.click("#reference-remove")
    wait_result(page, 6)
    assert b'name="reference"' not in server[1].bodies[-1] and not page.locator("#reference-chip").is_visible()
    assert page.errors == []

    if os.environ.get("TINCT_SCREENSHOT"):
        save_screenshot(page, Path(os.environ["TINCT_SCREENSHOT"]))


def save_screenshot(page, path: Path) -> None:
    """A representative screenshot: a larger photo, two hints, colorized."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#f-sepia").fill("0")
    upload(page, png_bytes(photo(512, 384)), name="camera.png")
    page.wait_for_selector("#viewer[data-width='512']")
    box = page.locator("#viewer").bounding_box()
    for color, fx, fy in (("#3a6fc4", 0.8, 0.2), ("#7a5230", 0.35, 0.55)):
        page.locator("#hint-color").fill(color)
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    version = int(page.locator("#viewer").get_attribute("data-result-version"))
    page.click("#recolorize")
    wait_result(page, version + 1)
    page.locator("#slider-handle").focus()
    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("PageUp")  # the handle in the middle
    page.locator("#slider-handle").blur()
    page.evaluate("window.scrollTo(0, 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def test_drop_and_model_without_hints(page):
    data = list(png_bytes(photo(64, 48)))
    page.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', {type: 'image/png'}));
        document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
    }""", data)
    wait_result(page, 1)
    assert page.locator("#hint-group").get_attribute("data-enabled") == "true"
    with page.expect_response(lambda r: r.url.endswith("/api/v1/colorize")) as resp:
        page.select_option("#model-select", "plain")
    assert resp.value.headers["x-tinct-model"] == "plain"
    wait_result(page, 2)
    assert page.locator("#hint-group").get_attribute("data-enabled") == "false"
    assert page.locator("#hint-color").is_disabled()
    assert "takes no color hints" in page.locator("#hint-note").inner_text()
    box = page.locator("#viewer").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5)
    assert page.locator("[data-testid='hint-marker']").count() == 0
    assert "no color hints" in page.locator("#message").inner_text()
    # a TIFF: the server reads it, the browser cannot; the "before" side falls back to the result's lightness
    buf = io.BytesIO()
    Image.fromarray(photo(64, 48)).save(buf, "TIFF")
    upload(page, buf.getvalue(), name="scan.tif", mime="image/tiff")
    wait_result(page, 3)
    before = canvas_pixels(page, "#before-canvas")
    assert before.shape == (48, 64, 4) and before[:, :, :3].std() > 5
    assert np.array_equal(before[:, :, 0], before[:, :, 1]) and np.array_equal(before[:, :, 1], before[:, :, 2])
    models = json.loads(page.evaluate("fetch('/api/v1/models').then(r => r.text())"))
    assert {m["name"] for m in models["models"]} >= {"tiny", "plain"}
    # a 16-bit scan downloads (no filter on) as the server made it: a 16-bit PNG
    from tinct.imageio import load_image
    from tinct.imageio.depth16 import write_png16

    buf = io.BytesIO()
    write_png16(buf, np.repeat((photo(64, 48).astype(np.uint16) * 257 + 3)[:, :, None], 3, axis=2))
    upload(page, buf.getvalue(), name="deep.png")
    wait_result(page, 4)
    with page.expect_download() as dl:
        page.click("#download")
    out = load_image(dl.value.path())
    assert out.bit_depth == 16 and out.size == (64, 48)
    assert page.errors == []


def test_phone_layout(browser, server):
    page = open_page(browser, server, viewport={"width": 375, "height": 740}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)
    try:
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        upload(page, png_bytes(photo(800, 600)))
        wait_result(page, 1)
        assert page.evaluate(fits), "horizontal overflow at 375 px"
        viewer = page.locator("#viewer").bounding_box()
        assert viewer["x"] >= 0 and viewer["x"] + viewer["width"] <= 375
        panel = page.locator(".panel").bounding_box()
        assert panel["y"] >= viewer["y"] + viewer["height"]  # controls stack below the picture
        for sel in ("#model-select", "#recolorize", "#download", "#f-saturation"):
            b = page.locator(sel).bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 375, sel
        picker = page.locator("#hint-color").bounding_box()  # the hint color right under the picture
        assert viewer["y"] + viewer["height"] <= picker["y"] <= viewer["y"] + viewer["height"] + 200, (viewer, picker)
        assert picker["y"] + picker["height"] <= 740  # on the first screen
        page.locator("#viewer").tap(position={"x": viewer["width"] * 0.8, "y": viewer["height"] * 0.5})
        assert page.locator("[data-testid='hint-marker']").count() == 1
        page.check("#view-side")  # side by side is stacked on a phone
        before, after = page.locator("#before-canvas").bounding_box(), page.locator("#after-canvas").bounding_box()
        assert before["y"] + before["height"] <= after["y"] and abs(before["x"] - after["x"]) < 1
        assert page.evaluate(fits), "horizontal overflow side by side"
        assert page.errors == []
    finally:
        page.context.close()


def test_views_collage_zoom_undo_and_help(page, server, tmp_path):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    viewer = page.locator("#viewer")

    # the view switch: side by side shows both pictures next to each other, and is kept
    page.check("#view-side")
    assert viewer.get_attribute("data-view") == "side"
    before, after = page.locator("#before-canvas").bounding_box(), page.locator("#after-canvas").bounding_box()
    assert before["x"] + before["width"] <= after["x"] and abs(before["y"] - after["y"]) < 1
    assert abs(before["width"] - after["width"]) < 1 and before["width"] > 100
    assert page.evaluate("localStorage.getItem('tinct.view')") == "side"
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert viewer.get_attribute("data-view") == "side" and page.is_checked("#view-side")
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    page.check("#view-after")
    assert not page.locator("#before-canvas").is_visible() and page.locator("#after-canvas").is_visible()
    assert not page.locator("#slider-handle").is_visible()

    # the collage: original beside the filtered result, at the photo's size
    page.locator("#f-saturation").fill("150")
    page.wait_for_selector("#viewer[data-filters='150,0,0']")
    with page.expect_download() as dl:
        page.click("#download-collage")
    assert dl.value.suggested_filename == "photo-before-after.png"
    saved = tmp_path / "collage.png"
    dl.value.save_as(saved)
    with Image.open(saved) as im:
        assert im.mode == "RGB"
        collage = np.asarray(im.convert("RGBA"))
    assert collage.shape == (90, 2 * 120 + 16, 4)
    assert np.array_equal(collage[:, :120], canvas_pixels(page, "#before-canvas"))
    assert np.array_equal(collage[:, 136:], canvas_pixels(page, "#after-canvas"))
    assert (collage[:, 120:136, :3] == 255).all()

    # zoom: buttons, keyboard, wheel and a pinch; both pictures show the same spot
    page.check("#view-slider")
    pane = page.locator("#pane-after").bounding_box()
    page.click("#zoom-in")
    assert viewer.get_attribute("data-zoom") == "1.50"
    a, b = page.locator("#after-canvas").bounding_box(), page.locator("#before-canvas").bounding_box()
    assert abs(a["width"] - 1.5 * pane["width"]) < 1 and a == b
    viewer.focus()
    page.keyboard.press("+")
    assert viewer.get_attribute("data-zoom") == "2.25"
    x0 = page.locator("#after-canvas").bounding_box()["x"]
    page.keyboard.press("ArrowLeft")  # pans toward the left edge
    assert page.locator("#after-canvas").bounding_box()["x"] > x0
    page.keyboard.press("0")
    assert viewer.get_attribute("data-zoom") == "1.00"
    page.evaluate("window.scrollTo(0, 0)")  # clicks on the panel scroll the page: measure again
    pane = page.locator("#pane-after").bounding_box()
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    page.mouse.wheel(0, -300)
    wait_until(page, "Number(document.getElementById('viewer').dataset.zoom) > 1.5")
    page.click("#zoom-reset")
    page.evaluate("""() => {  // a two-finger pinch, fingers moving apart
        const v = document.getElementById('viewer'), r = v.getBoundingClientRect();
        const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
        const ev = (type, id, x) => v.dispatchEvent(new PointerEvent(type, {pointerId: id, clientX: x, clientY: cy,
            pointerType: 'touch', bubbles: true, isPrimary: id === 1}));
        ev('pointerdown', 1, cx - 10); ev('pointerdown', 2, cx + 10);
        ev('pointermove', 1, cx - 30); ev('pointermove', 2, cx + 30);
        ev('pointerup', 1, cx - 30); ev('pointerup', 2, cx + 30);
    }""")
    assert abs(float(viewer.get_attribute("data-zoom")) - 3.0) < 0.05
    # a drag pans the zoomed picture and adds no hint
    page.evaluate("window.scrollTo(0, 0)")
    pane = page.locator("#pane-after").bounding_box()
    x0 = page.locator("#after-canvas").bounding_box()["x"]
    page.mouse.move(pane["x"] + pane["width"] * 0.3, pane["y"] + pane["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(pane["x"] + pane["width"] * 0.6, pane["y"] + pane["height"] * 0.5, steps=4)
    page.mouse.up()
    assert page.locator("#after-canvas").bounding_box()["x"] > x0
    assert page.locator("[data-testid='hint-marker']").count() == 0
    page.click("#zoom-reset")

    # undo / redo of place, move, recolor and remove, by buttons and keys
    page.evaluate("window.scrollTo(0, 0)")
    box = viewer.bounding_box()
    for fx in (0.7, 0.9):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.25)
    markers = page.locator("[data-testid='hint-marker']")
    assert markers.count() == 2
    page.keyboard.press("Control+z")
    assert markers.count() == 1
    page.keyboard.press("Control+y")
    assert markers.count() == 2
    listing = page.locator("#hint-list")
    first = listing.inner_text()
    m = markers.first.bounding_box()
    page.mouse.move(m["x"] + m["width"] / 2, m["y"] + m["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.8, steps=4)
    page.mouse.up()
    assert markers.count() == 2 and listing.inner_text() != first  # moved, not added
    page.click("#undo")
    assert listing.inner_text() == first
    page.locator("#hint-list li input[type='color']").first.fill("#00ff00")
    assert "rgb(0, 255, 0)" in markers.first.get_attribute("style")
    page.click("#undo")
    assert "rgb(0, 255, 0)" not in markers.first.get_attribute("style")
    page.locator("[data-testid='hint-remove']").first.click()
    assert markers.count() == 1
    page.click("#undo")
    assert markers.count() == 2 and page.locator("#redo").is_enabled()
    page.click("#redo")
    assert markers.count() == 1
    page.click("#recolorize")  # the hints sent are the ones shown
    wait_result(page, 2)
    assert server[1].bodies[-1].count(b'"x":') == 1

    # help: reachable from the header and by "?", says the limits and the keys
    page.click("#help-link")
    help_ = page.locator("#help")
    assert help_.is_visible()
    text = help_.inner_text()
    assert "20 MB" in text and "Ctrl" in text and "reference" in text
    page.click("[data-testid='help-close']")
    assert not help_.is_visible()
    viewer.focus()
    page.keyboard.press("?")
    assert help_.is_visible()
    page.keyboard.press("Escape")
    assert not help_.is_visible()
    assert page.errors == []


def test_first_photo_shows_at_once_and_can_be_cancelled(page):
    held = []
    page.route("**/api/v1/colorize", lambda route: held.append(route))  # the answer never comes
    upload(page, png_bytes(photo(160, 120)), name="slow.png")
    page.wait_for_selector("#preview img[src^='blob:']")
    assert page.locator("#preview").is_visible() and page.locator("#progress").is_visible()
    assert "Colorizing" in page.locator("#progress").inner_text()
    wait_until(page, "document.getElementById('progress-text').textContent.includes(' s')")
    page.click("#cancel")
    assert not page.locator("#preview").is_visible() and not page.locator("#progress").is_visible()
    assert page.locator("#status").inner_text() == "Cancelled."
    assert page.locator("#viewer").is_hidden() and page.locator("#drop-zone").is_visible()
    page.unroute("**/api/v1/colorize")
    upload(page, png_bytes(photo(160, 120)), name="again.png")
    wait_result(page, 1)
    assert not page.locator("#preview").is_visible()
    assert page.errors == []


def test_phone_slider_by_touch_actions_near_the_picture(browser, server):
    page = open_page(browser, server, viewport={"width": 375, "height": 740}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)
    try:
        upload(page, png_bytes(photo(800, 600)))
        wait_result(page, 1)
        viewer = page.locator("#viewer")
        box = viewer.bounding_box()
        # a finger sliding sideways moves the slider and adds no hint
        page.evaluate("""() => {
            const v = document.getElementById('viewer'), r = v.getBoundingClientRect(), y = r.top + r.height / 2;
            const ev = (type, x) => v.dispatchEvent(new PointerEvent(type, {pointerId: 7, clientX: x, clientY: y,
                pointerType: 'touch', bubbles: true, isPrimary: true}));
            ev('pointerdown', r.left + r.width * 0.5); ev('pointermove', r.left + r.width * 0.4);
            ev('pointermove', r.left + r.width * 0.2); ev('pointerup', r.left + r.width * 0.2);
            v.dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width * 0.2, clientY: y, bubbles: true}));
        }""")
        assert abs(float(viewer.get_attribute("data-position")) - 20) < 2
        assert page.locator("[data-testid='hint-marker']").count() == 0
        # Recolorize and Download right under the picture
        for sel in ("#tb-recolorize", "#tb-download"):
            b = page.locator(sel).bounding_box()
            assert page.locator(sel).is_visible() and b["y"] < box["y"] + box["height"] + 150, sel
        # the grip stays whole at 0 %
        page.locator("#slider-handle").focus()
        page.keyboard.press("Home")
        grip = page.locator(".grip").bounding_box()
        assert grip["x"] >= box["x"] and grip["x"] + grip["width"] <= box["x"] + box["width"]
        assert page.errors == []
    finally:
        page.context.close()


def test_download_keeps_the_uploads_format(page, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(photo(96, 64)).convert("RGB").save(buf, "JPEG", quality=90)
    upload(page, buf.getvalue(), name="scan.jpg", mime="image/jpeg")
    wait_result(page, 1)
    assert page.locator("#download").inner_text() == "Download JPEG" and page.locator("#quality-field").is_visible()
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "scan-color.jpg"
    dl.value.save_as(tmp_path / "a.jpg")
    with Image.open(tmp_path / "a.jpg") as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (96, 64)
    page.select_option("#download-format", "png")
    assert not page.locator("#quality-field").is_visible()
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "scan-color.png"
    dl.value.save_as(tmp_path / "b.png")
    with Image.open(tmp_path / "b.png") as im:
        assert im.format == "PNG" and im.size == (96, 64)
    assert page.errors == []


def test_a_film_runs_as_a_job(page, server, tmp_path):
    """A dropped film goes to /api/v1/jobs: progress, then a download of the colorized mp4."""
    from clips import frames, write_clip
    from tinct.video.io import probe

    clip = write_clip(tmp_path / "film.mp4", frames(8, 64, 96))
    page.set_input_files("#file-input", files=[{"name": "film.mp4", "mimeType": "video/mp4",
                                                "buffer": clip.read_bytes()}])
    page.locator("#job").wait_for(state="visible")
    page.locator("#job-download").wait_for(state="visible", timeout=120_000)
    assert "film.mp4" in page.locator("#job-text").inner_text() and "colorized" in page.locator("#job-text").inner_text()
    # stills of the colorized film before the download
    wait_until(page, "(() => { const i = document.getElementById('job-preview'); return !i.hidden && i.complete && i.naturalWidth > 0; })()")
    assert page.evaluate("document.getElementById('job-preview').naturalWidth") == 4 * 206 + 6
    with page.expect_download() as dl:
        page.click("#job-download")
    assert dl.value.suggested_filename == "film-color.mp4"
    dl.value.save_as(tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height) == (96, 64)
    assert "downloaded" in page.locator("#job-text").inner_text() and page.locator("#job-video").is_visible()
    # several photos at once: a zip
    files = [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": png_bytes(photo(48, 32))} for i in range(2)]
    page.set_input_files("#file-input", files=files)
    page.locator("#job-download").wait_for(state="visible", timeout=120_000)
    wait_until(page, "(() => { const i = document.getElementById('job-preview'); return !i.hidden && i.complete && i.naturalWidth > 0; })()")
    assert page.evaluate("document.getElementById('job-preview').naturalWidth") == 2 * 206 + 6  # the two photos
    with page.expect_download() as dl:
        page.click("#job-download")
    assert dl.value.suggested_filename == "colorized.zip"
    assert page.errors == []


def test_models_say_what_they_are_for_and_line_art_asks_for_colors(page):
    options = page.locator("#model-select option").all_inner_texts()
    assert any(o.startswith("sketch: line drawings: give a palette or a reference") for o in options), options
    from tinct.imageio.files import READ_FORMATS_IN_WORDS  # the formats the server reads, as it says them

    assert page.locator("#drop-note").inner_text().startswith(READ_FORMATS_IN_WORDS + ".")
    assert page.locator("#hint-note").get_attribute("data-lineart") == "false"
    page.select_option("#model-select", "sketch")
    note = page.locator("#hint-note")
    assert note.get_attribute("data-lineart") == "true" and "palette or a reference image" in note.inner_text()
    assert page.locator("#download-layers").is_hidden()  # no picture yet
    drawing = np.full((64, 96), 255, np.uint8)
    drawing[8:56, 10] = drawing[8:56, 80] = drawing[8, 10:81] = drawing[55, 10:81] = 0
    upload(page, png_bytes(drawing), name="drawing.png")
    wait_result(page, 1)
    assert page.locator("#viewer").get_attribute("data-width") == "96"
    # line art comes apart into layers a painting program stacks
    assert page.locator("#download-layers").is_visible()
    with page.expect_download() as dl:
        page.click("#download-layers")
    assert dl.value.suggested_filename == "drawing-layers.zip"
    import io
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(open(dl.value.path(), "rb").read()))
    assert sorted(z.namelist()) == ["flats.png", "layers.ora", "lines.png", "result.png", "shading.png"]
    page.select_option("#model-select", "tiny")
    wait_result(page, 2)
    assert page.locator("#download-layers").is_hidden()  # photos have no layers
    # the drawing given to a photo model: the page says which model paints drawings
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert "looks like a line drawing" in message.inner_text() and "'lineart'" in message.inner_text()
    assert "info" in message.get_attribute("class")
    assert page.errors == []


def test_where_tinct_is_unsure_and_suggested_colors(page, server):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    assert page.locator("#unsure-canvas").is_hidden()
    page.check("#unsure-toggle")
    page.wait_for_selector("#viewer[data-unsure-version='1']")
    veil = canvas_pixels(page, "#unsure-canvas")
    assert veil.shape == (90, 120, 4) and page.locator("#unsure-canvas").is_visible()
    import httpx  # the veil is the server's confidence map: tinted where it is below one half

    res = httpx.post(server[0] + "/api/v1/confidence", files={"image": ("photo.png", png_bytes(photo(120, 90)))})
    doubt = 1 - np.asarray(Image.open(io.BytesIO(res.content)).convert("L"), dtype=float) / 255
    expected = np.where(doubt > 0.5, np.round(200 * (doubt - 0.5) * 2), 0)
    assert np.abs(veil[:, :, 3].astype(float) - expected).max() <= 1 and veil[:, :, 3].max() > 0
    assert "whose colors are guesses" in page.locator("#status").inner_text()
    page.uncheck("#unsure-toggle")
    assert page.locator("#unsure-canvas").is_hidden()

    # a click places a hint and shows the colors the model finds likely there; a swatch recolors the hint
    box = page.locator("#viewer").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)  # off the slider's handle
    assert page.locator("[data-testid='hint-marker']").count() == 1
    page.wait_for_selector("#suggestions:not([hidden]) .swatch")
    swatches = page.locator("#suggestion-swatches .swatch")
    assert 1 <= swatches.count() <= 5
    chosen = swatches.nth(0).get_attribute("data-color")
    before = page.locator("#hint-list input[type=color]").input_value()
    swatches.nth(0).click()
    assert page.locator("#hint-list input[type=color]").input_value() == chosen
    assert page.locator("#hint-color").input_value() == chosen
    page.click("#undo")  # the swatch was one undoable edit
    assert page.locator("#hint-list input[type=color]").input_value() == before
    assert not page.errors


def test_a_brush_stroke_is_drawn_undone_and_sent(page, server):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    first = canvas_pixels(page)
    page.check("#brush-toggle")
    box = page.locator("#viewer").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.35, steps=8)
    page.mouse.up()
    assert page.locator("[data-testid='stroke']").count() == 1  # one drag, one stroke
    assert page.locator("[data-testid='hint-marker']").count() == 0  # and no point hint
    page.click("#undo")
    assert page.locator("[data-testid='stroke']").count() == 0
    page.click("#redo")
    assert page.locator("[data-testid='stroke']").count() == 1
    page.click("#recolorize")
    wait_result(page, 2)
    sent = server[1].bodies[-1]
    doc = json.loads(sent.split(b'name="hints"')[1].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    (stroke,) = doc["strokes"]
    assert len(stroke["points"]) >= 3 and stroke["width"] >= 1 and stroke["color"] == page.locator("#hint-color").input_value()
    xs = [p[0] for p in stroke["points"]]
    assert 66 <= min(xs) <= 76 and max(xs) >= 100  # from 60 % to 90 % of the 120-pixel width
    assert not np.array_equal(canvas_pixels(page), first)
    assert not page.errors


def test_a_palette_of_weighted_colors_is_sent_and_kept(page, server):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    first = canvas_pixels(page)
    page.locator("#hint-color").fill("#1040e0")
    page.click("#palette-add")
    page.locator("#hint-color").fill("#e0a010")
    page.click("#palette-add")
    page.locator("#palette-list input[type=number]").nth(0).fill("3")
    page.locator("#palette-list input[type=number]").nth(0).dispatch_event("change")
    page.click("#recolorize")
    wait_result(page, 2)
    body = server[1].bodies[-1]
    assert b'"palette":[{"color":"#1040e0","weight":3},{"color":"#e0a010","weight":1}]' in body
    assert not np.array_equal(canvas_pixels(page), first)
    for _ in range(6):
        page.click("#palette-add")
    assert page.locator("#palette-list li").count() == 8 and page.locator("#palette-add").is_disabled()
    page.locator("#palette-list .remove").nth(7).click()
    assert page.locator("#palette-list li").count() == 7
    upload(page, png_bytes(photo(100, 80)), name="second.png")  # the palette stays for the next photo
    wait_result(page, 3)
    assert b'"palette":[{"color":"#1040e0","weight":3}' in server[1].bodies[-1]
    assert not page.errors


def test_live_hints_recolor_without_recolorize_and_undo_updates_the_picture(browser, server):
    page = open_page(browser, server, live=True, viewport={"width": 1200, "height": 850})
    try:
        assert page.locator("#live-toggle").is_checked()
        upload(page, png_bytes(photo(120, 90)))
        wait_result(page, 1)
        first = canvas_pixels(page)
        box = page.locator("#viewer").bounding_box()
        page.locator("#hint-color").fill("#2050ff")
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
        wait_result(page, 2)  # no Recolorize pressed
        assert b'"points":[{"x":90,"y":22,"color":"#2050ff"}]' in server[1].bodies[-1]
        hinted = canvas_pixels(page)
        assert not np.array_equal(hinted, first)
        page.click("#undo")
        wait_result(page, 3)
        assert b'name="hints"' not in server[1].bodies[-1]
        assert np.array_equal(canvas_pixels(page), first)  # undo brings the picture back
        # three quick edits make one request, not three
        n = len(server[1].bodies)
        for x in (0.7, 0.8, 0.9):
            page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * 0.25)
        wait_result(page, 4)
        time.sleep(1.0)
        assert len(server[1].bodies) == n + 1 and page.locator("#viewer").get_attribute("data-result-version") == "4"
        assert not page.errors
    finally:
        page.context.close()


def test_more_options_shows_alternatives_and_one_becomes_the_result(page, server):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    first = canvas_pixels(page)
    page.click("#more-options")
    page.wait_for_selector("#options:not([hidden]) [data-testid='option']")
    options = page.locator("#options [data-testid='option']")
    assert options.count() == 4
    options.nth(2).click()
    wait_result(page, 2)
    chosen = canvas_pixels(page)
    assert chosen.shape == first.shape and not np.array_equal(chosen, first)
    assert options.nth(2).get_attribute("aria-pressed") == "true" and page.locator("#options").is_visible()
    # a hint now recolors from the chosen option: the request names it
    box = page.locator("#viewer").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.click("#recolorize")
    wait_result(page, 3)
    assert b'name="variant"\r\n\r\n2' in server[1].bodies[-1] and b'name="hints"' in server[1].bodies[-1]
    page.click("#more-options")
    page.wait_for_selector("#options:not([hidden]) [data-testid='option']")
    page.click("#clear-hints")
    options.nth(0).click()  # the first option is the colorization shown before
    wait_result(page, 4)
    page.click("#recolorize")
    wait_result(page, 5)
    assert b'name="variant"' not in server[1].bodies[-1]
    assert np.abs(canvas_pixels(page).astype(int) - first.astype(int)).max() <= 1
    assert not page.errors


def test_an_album_job_takes_the_palette_and_the_reference(page, server):
    page.locator("#hint-color").fill("#c04020")
    page.click("#palette-add")
    ref = np.zeros((40, 60, 3), np.uint8)
    ref[..., 2] = 200
    page.set_input_files("#reference-input", files=[{"name": "sea.png", "mimeType": "image/png", "buffer": png_bytes(ref)}])
    page.set_input_files("#file-input", files=[{"name": f"p{i}.png", "mimeType": "image/png",
                                                "buffer": png_bytes(photo(64, 48))} for i in range(2)])
    deadline = time.monotonic() + 60
    while "colorized" not in page.locator("#job-text").inner_text():
        assert time.monotonic() < deadline, page.locator("#job-text").inner_text()
        time.sleep(0.1)
    body = server[1].job_bodies[-1]
    assert b'name="hints"' in body and b'"palette":[{"color":"#c04020","weight":1}]' in body
    assert b'name="reference"; filename="sea.png"' in body
    assert not page.errors


def test_a_busy_server_shows_a_countdown_then_the_result(page):
    calls = []

    def busy_once(route):
        calls.append(1)
        if len(calls) == 1:
            route.fulfill(status=503, headers={"Retry-After": "3", "Content-Type": "application/json"},
                          body='{"error": "busy", "retry_after": 3}')
        else:
            route.continue_()

    page.route("**/api/v1/colorize", busy_once)
    upload(page, png_bytes(photo(64, 48)))
    deadline = time.monotonic() + 10
    while "trying again in" not in page.locator("#progress-text").inner_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first = page.locator("#progress-text").inner_text()
    assert "attempt 1 of 3" in first and "Colorizing" not in first
    time.sleep(1.2)
    later = page.locator("#progress-text").inner_text()
    left = lambda t: int(t.split("trying again in ")[1].split(" s")[0])  # noqa: E731
    if "trying again in" in later:
        assert left(later) < left(first)  # it counts down
    wait_result(page, 1)
    assert len(calls) == 2 and not page.errors


def test_a_color_grid_image_is_sent_as_rows_of_colors(page, server):
    upload(page, png_bytes(photo(120, 90)))
    wait_result(page, 1)
    first = canvas_pixels(page)
    grid = np.zeros((28, 28, 4), np.uint8)
    grid[:14, :, :3] = (30, 90, 200)  # a blue top half, opaque
    grid[:14, :, 3] = 255
    buf = io.BytesIO()
    Image.fromarray(grid, "RGBA").save(buf, "PNG")  # the bottom half transparent: no hint there
    page.set_input_files("#grid-input", files=[{"name": "layout.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    wait_result(page, 2)
    doc = json.loads(server[1].bodies[-1].split(b'name="hints"')[1].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    rows = doc["grid"]
    assert len(rows) == 14 and all(len(r) == 14 for r in rows)
    assert rows[0][0] == "#1e5ac8" and rows[13][13] is None
    assert "98 of 196 cells" in page.locator("#grid-note").inner_text()
    assert not np.array_equal(canvas_pixels(page), first)
    assert not page.errors


def test_hint_history_is_plain_data_in_its_own_module(page):
    """The page's hints module (no DOM): each edit is one undo step, undo and redo walk the
    snapshots, a new edit drops the redo stack, the history is bounded, and the hints JSON has the
    schema the API parses."""
    result = page.evaluate("""async () => {
      const h = await import('/static/js/hints.js');
      const doc = { hints: [], strokes: [] };
      const hist = h.emptyHistory();
      const out = {};
      h.recordEdit(hist, doc); doc.hints.push({ x: 1, y: 2, color: '#ff0000' });
      h.recordEdit(hist, doc); doc.hints.push({ x: 3, y: 4, color: '#00ff00' });
      let snap = h.undoStep(hist, doc); out.afterUndo = snap.hints.length;
      Object.assign(doc, snap);
      snap = h.redoStep(hist, doc); out.afterRedo = snap.hints.length;
      Object.assign(doc, snap);
      h.undoStep(hist, doc); h.recordEdit(hist, doc);
      out.redoDropped = h.redoStep(hist, doc) === null;
      out.emptyUndo = h.undoStep(h.emptyHistory(), doc) === null;
      const big = h.emptyHistory();
      for (let i = 0; i < h.HISTORY_LIMIT + 5; i++) h.recordEdit(big, doc);
      out.bounded = big.past.length === h.HISTORY_LIMIT;
      const copy = h.snapshot(doc); doc.hints[0].x = 99; out.snapshotIsACopy = copy.hints[0].x === 1;
      out.json = JSON.parse(h.hintsJSON({ hints: [{ x: 5, y: 6, color: '#123456' }],
        strokes: [{ points: [[0, 0], [9, 9]], color: '#abcdef', width: 4 }],
        palette: [{ color: '#aa3300', weight: 2 }, { color: '#000000', weight: 0 }] }));
      return out;
    }""")
    assert result["afterUndo"] == 1 and result["afterRedo"] == 2 and result["redoDropped"] and result["emptyUndo"]
    assert result["bounded"] and result["snapshotIsACopy"]
    from tinct.hints.io import hints_from_json

    parsed = hints_from_json(json.dumps(result["json"]))  # the page's JSON is what the API parses
    assert len(parsed.points) == 1 and len(parsed.strokes) == 1 and len(parsed.palette) == 1


def test_png_encoder_keeps_transparency_and_drops_an_unused_alpha(page):
    """png.js: pixels with transparency give an RGBA PNG, opaque pixels an RGB PNG, both exact."""
    import base64

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    for alpha, mode in ((rgba[..., 3], "RGBA"), (np.full((37, 53), 255, np.uint8), "RGB")):
        pixels = rgba.copy()
        pixels[..., 3] = alpha
        b64 = page.evaluate("""async ([w, h, data]) => {
            const { encodePng } = await import('/static/js/png.js');
            const bytes = Uint8ClampedArray.from(atob(data), (c) => c.charCodeAt(0));
            const blob = await encodePng(new ImageData(bytes, w, h));
            const buf = new Uint8Array(await blob.arrayBuffer());
            let s = ''; for (const b of buf) s += String.fromCharCode(b);
            return btoa(s);
        }""", [53, 37, base64.b64encode(pixels.tobytes()).decode()])
        with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
            assert im.mode == mode and im.size == (53, 37)
            assert np.array_equal(np.asarray(im), pixels if mode == "RGBA" else pixels[..., :3])
    assert page.errors == []
