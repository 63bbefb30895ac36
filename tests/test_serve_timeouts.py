"""Slow clients under a real uvicorn: request heads have a deadline (closed), stalled uploads get 408."""

from __future__ import annotations

import json
import socket
from contextlib import contextmanager
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")

from tinct.serve import Settings, create_app  # noqa: E402
from tinct.serve.protocol import GuardedH11Protocol  # noqa: E402

LIMIT = 0.6


@contextmanager
def serving(config: "uvicorn.Config", backlog: int = 16):
    """The app of ``config`` under a real uvicorn on a free loopback port (yielded), stopped after."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def port():
    app = create_app(Settings(preload=False, body_timeout_s=LIMIT, header_timeout_s=LIMIT))
    with serving(uvicorn.Config(app, log_level="warning", timeout_keep_alive=30,
                                http=GuardedH11Protocol.with_timeout(LIMIT))) as p:
        yield p


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def closed_within(s: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (any answer read first)."""
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def response(s: socket.socket) -> tuple[int, bytes]:
    data = b""
    s.settimeout(10)
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += s.recv(4096)
    return int(head.split()[1]), body


def test_a_slow_or_silent_head_is_cut_off(port):
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    silent = connect(port)
    trickle = connect(port)
    trickle.sendall(b"GET /health HTTP/1.1\r\n")
    time.sleep(LIMIT / 3)
    trickle.sendall(host)  # more bytes, never the end of the head
    assert closed_within(silent, LIMIT * 4) and closed_within(trickle, LIMIT * 4)
    # a prompt request is answered, and the kept-alive connection's next head has the same deadline
    ok = connect(port)
    ok.sendall(b"GET /health HTTP/1.1\r\n" + host + b"\r\n")
    status, body = response(ok)
    assert status == 200 and json.loads(body)["status"] == "ok"
    ok.sendall(b"GET /health HTTP/1.1\r\n")
    assert closed_within(ok, LIMIT * 4)


def test_a_stalled_upload_gets_408(port):
    s = connect(port)
    boundary = "b0undary"
    head = (f"POST /api/v1/colorize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 5000\r\n\r\n").encode()
    s.sendall(head + f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n".encode())
    status, body = response(s)  # then nothing more is sent
    assert status == 408 and "stalled" in json.loads(body)["error"]


def test_an_abandoned_colorization_stops_within_a_second(monkeypatch, tmp_path):
    """A client that goes away (the page's Cancel, a newer request) stops the server's work at the
    pipeline's next stage: a colorization that would take 30 s, abandoned after 0.5 s, ends within
    1 s of the disconnect, and the next request is answered at once."""
    import io

    import numpy as np
    from PIL import Image

    from tinct import cancel
    from tinct.pipeline import Colorizer

    stages, ended = [], {}

    def slow(colorizer, rgb, hints=None, render_size=None, extras=None):
        for _ in range(300):  # 30 s of 0.1-s stages, each checking for cancellation as the pipeline does
            stages.append(time.monotonic())
            try:
                cancel.check()
            except cancel.Cancelled:
                ended["at"] = time.monotonic()
                raise
            time.sleep(0.1)
        return rgb

    monkeypatch.setattr(Colorizer, "__call__", slow)
    from tinct.modelfile import save_model
    from tinct.registry import create_model

    model = save_model(create_model("effunet", pretrained=False, width=8), tmp_path / "tiny.safetensors")
    app = create_app(Settings(models=(str(model),), default_model="tiny", torch_threads=1, workers=1))
    with serving(uvicorn.Config(app, log_level="warning", http=GuardedH11Protocol.with_timeout(10))) as port:
        buf = io.BytesIO()
        Image.fromarray(np.full((32, 32), 128, np.uint8)).save(buf, "PNG")
        boundary = "tinctboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /api/v1/colorize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; "
                f"boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        s = connect(port)
        s.sendall(head + body)
        while not stages:
            time.sleep(0.02)
        time.sleep(0.5)
        gone = time.monotonic()
        s.close()  # the client goes away
        deadline = time.monotonic() + 5
        while "at" not in ended:
            assert time.monotonic() < deadline, "the abandoned colorization kept running"
            time.sleep(0.02)
        assert ended["at"] - gone < 1.0
        n = len(stages)
        time.sleep(0.4)
        assert len(stages) == n  # nothing more runs for it


def test_forty_slow_uploads_leave_the_page_health_and_a_small_colorization_answering(tmp_path):
    """Under ``tinct serve``'s own uvicorn settings, 40 clients that sent a POST head and a trickle of
    its body (then nothing) do not make anyone else wait or get a 503: the page, /health and a small
    colorization answer 200 while they hang (what bounds uploads in memory is their bytes)."""
    import io

    import numpy as np
    from PIL import Image

    from tinct.commands.serve import uvicorn_config
    from tinct.modelfile import save_model
    from tinct.registry import create_model

    model = save_model(create_model("effunet", pretrained=False, width=8), tmp_path / "tiny.safetensors")
    settings = Settings(models=(str(model),), default_model="tiny", torch_threads=1, workers=1, body_timeout_s=20)
    slow: list[socket.socket] = []
    with serving(uvicorn_config(create_app(settings), settings, "warning"), backlog=128) as port:
        try:
            boundary = "tinctboundary"

            def post_head(length: int) -> bytes:
                return (f"POST /api/v1/colorize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; "
                        f"boundary={boundary}\r\nContent-Length: {length}\r\n\r\n").encode()

            start = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n"
                     "Content-Type: image/png\r\n\r\n").encode()
            for _ in range(40):
                s = connect(port)
                s.sendall(post_head(5_000_000) + start + b"\x89PNG" + b"\0" * 2000)  # then nothing more
                slow.append(s)
            time.sleep(0.5)

            def get(path: str) -> int:
                s = connect(port)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
                status, _ = response(s)
                s.close()
                return status

            assert get("/") == 200 and get("/health") == 200
            buf = io.BytesIO()
            Image.fromarray(np.full((32, 32), 128, np.uint8)).save(buf, "PNG")
            body = start.replace(b"big.png", b"a.png") + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode()
            s = connect(port)
            s.sendall(post_head(len(body)) + body)
            status, answer = response(s)
            s.close()
            assert status == 200, answer[:200]
            assert all(s.fileno() >= 0 for s in slow)  # the slow ones are still open, waiting
        finally:
            for s in slow:
                s.close()


def test_the_upload_budget_counts_bytes_in_flight_and_gives_them_back():
    import asyncio

    from tinct.serve.errors import ApiError
    from tinct.serve.multipart import UploadBudget, read_form

    async def chunks(data: bytes, size: int = 1000):
        for i in range(0, len(data), size):
            yield data[i:i + size]

    boundary = "b0"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\n").encode() \
        + b"\1" * 5000 + f"\r\n--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    budget = UploadBudget(8000)
    parts = asyncio.run(read_form(ctype, chunks(form), max_body=10**6, max_file=10**6, budget=budget))
    assert parts["image"].size == 5000 and budget.used == 0  # given back once parsed
    budget.take(4000)  # another upload holds half of it
    with pytest.raises(ApiError) as err:
        asyncio.run(read_form(ctype, chunks(form), max_body=10**6, max_file=10**6, budget=budget))
    assert err.value.status == 503 and "busy receiving" in err.value.message
    assert budget.used == 4000  # the refused upload gave back what it had taken
