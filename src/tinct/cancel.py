"""Stopping work nobody waits for any more: a caller (the server, for a request whose client went
away) runs a colorization under :func:`watching` an event; the pipeline calls :func:`check` between
its stages (network pass, hint-free pass, each sparse solve, each strip of the full-resolution
output), which raises :class:`Cancelled` once the event is set. Without a watcher, :func:`check`
costs one attribute lookup."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from tinct.errors import TinctError

_local = threading.local()


class Cancelled(TinctError):
    """The work was cancelled (its client went away)."""


@contextmanager
def watching(event: threading.Event):
    """Within the block, :func:`check` on this thread raises once ``event`` is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def check() -> None:
    """Raise :class:`Cancelled` if this thread's work has been cancelled."""
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise Cancelled("cancelled: the request was abandoned")
