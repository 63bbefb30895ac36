"""``tinct serve``: the web page and HTTP API on one local port (uvicorn, run programmatically)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from tinct.errors import TinctError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve", help="run the web page and HTTP API",
        description="Serve the colorizing web page at / and the HTTP API at /api/v1 (docs at /docs). "
                    "Binds to 127.0.0.1 unless --host says otherwise; there is no authentication.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                   help="a shipped model name or a model file to offer besides the shipped ones (repeatable)")
    p.add_argument("--default-model", metavar="NAME", help="the model used when a request names none "
                   "(default: 'photo' if shipped, else the first --model)")
    p.add_argument("--queue", type=int, default=4, metavar="N",
                   help="images admitted at once, running or waiting; more are refused with 503 (default 4)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="inference threads (default 1)")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="torch threads per inference (default: torch's choice)")
    p.add_argument("--render-size", type=int, default=None, metavar="PX",
                   help="default working size of the network, longer side (default: the model's own, "
                        "224 for photo, 160 for art, 512 for line art; see `tinct models`)")
    p.add_argument("--max-render-size", type=int, default=1024, metavar="PX",
                   help="largest render size a request may ask for (default 1024)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB", help="upload limit (default 20)")
    p.add_argument("--max-megapixels", type=float, default=40.0, metavar="MP", help="pixel limit (default 40)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="per-request limit, waiting included (default 120)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                   help="a connection must send a request's headers within this (default 10)")
    p.add_argument("--jobs-dir", default=None, metavar="DIR",
                   help="where clip and batch jobs (/api/v1/jobs) keep their files and state, private "
                        "(default: ~/.cache/tinct/jobs); finished results survive a restart")
    p.add_argument("--body-timeout", type=float, default=30.0, metavar="S",
                   help="an upload may pause at most this long before it gets 408 (default 30)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the server also answers to (e.g. behind a reverse proxy); "
                        "requests naming any other host, or coming from another site's pages, get 403")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="onnx: run hint-free colorizations on ONNX Runtime (exported on first use; pip install "
                        "'tinct[onnx]'); hints still go through PyTorch (default torch)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return p


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port is a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TinctError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise TinctError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def max_connections(settings) -> int:
    """Connections served at once (past it uvicorn answers 503): room for many slow clients, as the
    memory of uploads in flight is bounded by their bytes (the upload budget), not by this."""
    return 256 + settings.queue_size * 2


def uvicorn_config(app, settings, log_level: str = "info"):
    """How uvicorn serves the app: bounded connections, request heads within the header timeout
    (slow-header clients are cut off), short keep-alive."""
    import uvicorn

    from tinct.serve.protocol import GuardedH11Protocol

    return uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5,
                          limit_concurrency=max_connections(settings), timeout_keep_alive=5,
                          http=GuardedH11Protocol.with_timeout(settings.header_timeout_s))


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from tinct.serve import Settings, create_app
    except ImportError as exc:
        raise TinctError(f"tinct serve needs the serve extra ({exc.name} is missing): "
                         "pip install 'tinct[serve]'") from None
    settings = Settings(
        host=args.host, port=args.port, models=tuple(args.model), default_model=args.default_model,
        max_upload_bytes=int(args.max_upload_mb * 1e6), max_pixels=int(args.max_megapixels * 1e6),
        queue_size=args.queue, workers=args.workers, timeout_s=args.timeout, torch_threads=args.threads,
        header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout, jobs_dir=args.jobs_dir,
        render_size=args.render_size, max_render_size=args.max_render_size, allowed_hosts=tuple(args.allow_host),
        backend=args.backend,
    )
    app = create_app(settings)
    store = app.state.store
    print(f"tinct serve: loading model {store.default!r}...", file=sys.stderr, flush=True)
    store.get(store.default)  # a broken model file fails here, as one line
    sock = _listen(settings.host, settings.port)
    port = sock.getsockname()[1]
    url = Settings(host=settings.host, port=port).url
    if not _is_loopback(settings.host):
        print(f"tinct serve: warning: listening on {settings.host}, reachable from other machines; "
              "there is no authentication", file=sys.stderr)
    print(f"tinct serve: {url} (API docs at {url}docs); press Ctrl+C to stop", flush=True)
    server = uvicorn.Server(uvicorn_config(app, settings, args.log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
