"""uvicorn's HTTP/1.1 protocol with a deadline for request heads: a client must send a complete
request line and headers within ``HEADER_TIMEOUT`` seconds of connecting (or of its previous
response), else the connection is closed. uvicorn times out idle keep-alive connections only, so
clients sending their headers a byte at a time could hold connections forever. Slow bodies are
timed out by the API (:func:`tinct.serve.multipart.idle_timeout`)."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0


class GuardedH11Protocol(H11Protocol):
    """``uvicorn.Config(http=GuardedH11Protocol.with_timeout(seconds))``."""

    header_timeout = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_timeout(cls, seconds: float) -> type[GuardedH11Protocol]:
        return type("GuardedH11Protocol", (cls,), {"header_timeout": float(seconds)})

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _expired(self) -> None:
        self._header_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_head():
            self._disarm()  # the head is in: the request runs under the API's own limits

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's head has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
