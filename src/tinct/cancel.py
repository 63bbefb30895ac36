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



KILLABLE_POLL_S = 0.005  # how often a caller waiting on a child process looks for its end or a cancellation


def killable(fn, *args, shape: tuple[int, ...] | None = None, dtype=None, max_bytes: int | None = None):
    """``fn(*args)`` computed where a cancellation can stop it outright: under a watcher, in a forked
    child process (it sees the caller's memory as it was and writes its answer into memory shared
    with the caller), killed the moment the work is cancelled, so nothing keeps running for an
    abandoned request. For one long C call that cannot stop midway (a sparse LU factorization, the
    compression of a large PNG), which an idle-priority helper thread (:func:`interruptible`) would
    still finish, competing with the next request for memory and cores. The answer is an array of
    ``shape`` (float64 unless ``dtype``), or bytes (at most ``max_bytes``). Without a watcher, or
    where there is no ``fork``, a plain call. A child that fails raises ``RuntimeError`` here."""
    import mmap
    import os
    import signal

    import numpy as np

    if (shape is None) == (max_bytes is None):
        raise ValueError("killable needs either shape or max_bytes")
    event = getattr(_local, "event", None)
    if event is None or not hasattr(os, "fork"):
        value = fn(*args)
        return value if shape is None else np.asarray(value, dtype=dtype or np.float64).reshape(shape)
    check()
    dtype = np.dtype(dtype or np.float64)
    count = int(np.prod(shape)) if shape is not None else 0
    shared = mmap.mmap(-1, 8 + (max_bytes if shape is None else max(1, count * dtype.itemsize)))
    pid = os.fork()
    if pid == 0:  # the child: compute, write, leave without running the parent's exit handlers
        code = 1
        try:
            # none of the parent's files, sockets or event-loop handles: held open here, a
            # client's disconnect would not reach the server until this process ends
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            value = fn(*args)
            if shape is None:
                if len(value) > max_bytes:
                    raise ValueError("answer larger than max_bytes")
                shared[:8] = len(value).to_bytes(8, "little")
                shared[8 : 8 + len(value)] = value
            else:
                np.frombuffer(shared, dtype=dtype, count=count, offset=8)[:] = np.asarray(value).ravel()
            code = 0
        finally:
            os._exit(code)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if event.wait(KILLABLE_POLL_S):
                os.kill(pid, signal.SIGKILL)
                # reaped beside the next request: the kernel's freeing of a large child's memory
                # (a sparse LU's factors) is not waited for
                threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True, name="tinct-reap").start()
                raise Cancelled("cancelled: the request was abandoned")
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{getattr(fn, '__name__', 'the computation')} failed in its child process")
        if shape is None:
            return bytes(shared[8 : 8 + int.from_bytes(shared[:8], "little")])
        return np.frombuffer(shared, dtype=dtype, count=count, offset=8).reshape(shape).copy()
    finally:
        shared.close()
