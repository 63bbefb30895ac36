"""Only the server's own origin may use it: a pure ASGI middleware that answers 403 (JSON) to

- a request whose ``Host`` is not one of the server's names (DNS rebinding: a page of another
  site whose name now points at 127.0.0.1 would otherwise read the answers);
- a request whose ``Origin`` is not ``http://<Host>`` (a page of another site posting a form:
  multipart POSTs need no CORS preflight), or whose ``Sec-Fetch-Site`` is ``cross-site``.

Allowed host names: ``localhost``, ``127.0.0.1``, ``[::1]``, the address the server is bound to,
any IP address when it listens on all interfaces (rebinding needs a domain name), and the names
given with ``--allow-host``."""

from __future__ import annotations

import ipaddress
import json

WILDCARDS = {"0.0.0.0", "::", ""}


def host_name(host_header: str) -> str:
    """'example.org:8000' -> 'example.org'; '[::1]:8000' -> '[::1]'."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[: h.index("]") + 1] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


class OriginGuard:
    def __init__(self, app, bind_host: str, extra_hosts: tuple[str, ...] = ()):
        self.app = app
        bind = bind_host.lower()
        self.any_ip = bind in WILDCARDS
        names = {"localhost", "127.0.0.1", "[::1]", *(h.lower() for h in extra_hosts)}
        if not self.any_ip:
            names.add(f"[{bind}]" if ":" in bind else bind)
        self.names = names

    def host_ok(self, host: str) -> bool:
        name = host_name(host)
        return name in self.names or (self.any_ip and _is_ip(name))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        problem = None
        if not self.host_ok(host):
            name = host_name(host)
            problem = (f"host {name!r} is not one of this server's names: if this computer is reached by that "
                       f"name, start it with `tinct serve --host 0.0.0.0 --allow-host {name}`; on this computer, "
                       "http://127.0.0.1 works") if name else "the request names no host (a Host header is required)"
        elif "origin" in headers and headers["origin"].rstrip("/").lower() != f"http://{host.lower()}":
            problem = "requests from another site's pages are refused"
        elif headers.get("sec-fetch-site") == "cross-site":
            problem = "requests from another site's pages are refused"
        if problem is None:
            return await self.app(scope, receive, send)
        body = json.dumps({"error": problem}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
