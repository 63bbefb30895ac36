"""Slow clients under a real uvicorn: request heads have a deadline (closed), stalled uploads get 408."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")

from tinct.serve import Settings, create_app  # noqa: E402
from tinct.serve.protocol import GuardedH11Protocol  # noqa: E402

LIMIT = 0.6


@pytest.fixture(scope="module")
def port():
    app = create_app(Settings(preload=False, body_timeout_s=LIMIT, header_timeout_s=LIMIT))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=30,
                            http=GuardedH11Protocol.with_timeout(LIMIT))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)
    sock.close()


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
