"""Stopping work nobody waits for any more: a caller (the server, for a request whose client went
away) runs a colorization under :func:`watching` an event; the pipeline calls :func:`check` between
its stages (each layer of the networks, :func:`guard`; each sparse solve; each block of the hint
matching; each strip of the full-resolution output), which raises :class:`Cancelled` once the
event is set. Without a watcher, :func:`check` costs one attribute lookup."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from tinct.errors import TinctError

_local = threading.local()
POLL_S = 0.01  # how often a caller waiting on an interruptible call looks for a cancellation


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


def guard(module):
    """``module`` (a torch network), its forward passes made to stop at the next layer once
    cancelled: every submodule calls :func:`check` before it runs. Idempotent; returns ``module``."""
    if not getattr(module, "_cancel_guarded", False):
        for m in module.modules():
            m.register_forward_pre_hook(_before_layer)
        module._cancel_guarded = True
    return module


def _before_layer(module, args) -> None:
    check()


def interruptible(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, given up (:class:`Cancelled`) as soon as this thread's work is
    cancelled, even in the middle of one long call that releases the GIL (a sparse factorization):
    under a watcher ``fn`` runs in a helper thread, which finishes on its own if abandoned (its
    result dropped). Without a watcher ``fn`` runs here, as a plain call."""
    event = getattr(_local, "event", None)
    if event is None:
        return fn(*args, **kwargs)
    check()
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  handed to the caller
            box["error"] = exc

    helper = threading.Thread(target=run, daemon=True, name="tinct-interruptible")
    helper.start()
    while helper.is_alive():
        helper.join(POLL_S)
        if event.is_set():
            _yield_cpu(helper)
            raise Cancelled("cancelled: the request was abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _yield_cpu(thread: threading.Thread) -> None:
    """Lower an abandoned helper thread's CPU priority, so the work that is still wanted gets the
    cores while it finishes: Linux's idle scheduling class (it runs only on a core nobody else
    wants), else the lowest nice."""
    import os

    try:
        os.sched_setscheduler(thread.native_id, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError, TypeError):  # no idle class here
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, thread.native_id, 19)
    except (AttributeError, OSError, TypeError):  # no per-thread priorities here
        pass

