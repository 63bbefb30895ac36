"""HEAD and OPTIONS on every route: a pure ASGI middleware.

- ``HEAD`` where a route answers ``GET`` but not ``HEAD`` (the API's GET routes, ``/docs``) runs
  the GET and sends its status and headers without the body.
- ``OPTIONS`` answers 204 with the route's ``Allow`` header (404 JSON where no route is). The
  origin check (:class:`tinct.serve.origin.OriginGuard`) runs first, so a cross-site preflight is
  a 403 as before; the server grants no CORS.
"""

from __future__ import annotations

import json

from starlette.routing import Match, Mount

CANDIDATES = ("GET", "POST", "PUT", "PATCH", "DELETE")


class Methods:
    def __init__(self, app, router):
        self.app, self.router = app, router

    def _full(self, scope, method: str) -> bool:
        """Whether a route of the app takes ``method`` at the scope's path."""
        probe = {**scope, "method": method}
        for route in self.router.routes:
            match, _ = route.matches(probe)
            if match == Match.FULL and not (isinstance(route, Mount) and method not in ("GET", "HEAD")):
                return True
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS":
            return await self._options(scope, send)
        if self._full(scope, "HEAD") or not self._full(scope, "GET"):
            return await self.app(scope, receive, send)

        async def headers_only(message):
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        return await self.app({**scope, "method": "GET"}, receive, headers_only)

    async def _options(self, scope, send):
        allowed = {m for m in CANDIDATES if self._full(scope, m)}
        if allowed:
            allow = ", ".join(sorted(allowed | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())))
            await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps({"error": f"not found: {scope['path']}"}).encode()
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
