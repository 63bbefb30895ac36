"""The bounded inference queue: a fixed pool of threads and an admission counter.

At most ``capacity`` jobs are admitted at once (running or waiting for a thread). A job that finds
the queue full is refused at once with :class:`Busy` (the API answers 503 with ``Retry-After``);
nothing ever waits unboundedly. A slot is released when its job really ends, not when its request
gives up, so a timed-out job that is still running keeps counting against the capacity.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def _libc_trim():
    """glibc's ``malloc_trim`` (hands freed heap pages back to the system), or None elsewhere."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _libc_trim()


def release_memory() -> None:
    """After a burst, give the memory the colorizations freed back to the system: glibc keeps
    freed blocks of its thread arenas otherwise, and the server's RSS would stay at its peak."""
    if _TRIM is not None:
        _TRIM(0)


TRIM_AFTER_S = 0.5  # how long the queue must stay empty before freed memory is handed back


class Busy(Exception):
    """The queue is full (or a job timed out); try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class InferenceQueue:
    """Run blocking jobs off the event loop: ``await queue.run(fn, *args)``."""

    def __init__(self, workers: int = 1, capacity: int = 4, timeout_s: float = 120.0):
        if workers < 1 or capacity < 1:
            raise ValueError("workers and capacity must be at least 1")
        self.workers = workers
        self.capacity = capacity
        self.timeout_s = timeout_s
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._admitted = 0  # jobs admitted so far (a drained queue's trim waits for none to come)
        self.release_memory = release_memory  # what a drained queue calls (replaceable in tests)
        self._mean_s = 1.0  # running mean job time, for Retry-After
        self.completed = 0
        self.rejected = 0

    def start(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tinct-infer")

    def shutdown(self) -> None:
        """Stop taking jobs; cancel the waiting ones; do not wait for a running one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def pending(self) -> int:
        return self._pending

    def retry_after(self) -> int:
        """Seconds until a slot is likely free (at least 1)."""
        return max(1, math.ceil(self._mean_s * max(self._pending, 1) / self.workers))

    def _refuse_if_full(self) -> None:
        if self._pending >= self.capacity:
            self.rejected += 1
            raise Busy(f"the server is busy ({self._pending} images in progress); try again shortly",
                       self.retry_after())

    def check(self) -> None:
        """Raise :class:`Busy` now if the queue is full (lets a caller refuse before reading an upload)."""
        with self._lock:
            self._refuse_if_full()

    def _admit(self) -> None:
        with self._lock:
            self._refuse_if_full()
            self._pending += 1
            self._admitted += 1

    def _done(self, seconds: float | None) -> None:
        with self._lock:
            self._pending -= 1
            idle = self._pending == 0
            if seconds is not None:
                self.completed += 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * seconds if self.completed > 1 else seconds
        if idle:  # the queue has drained: memory back soon, unless new work comes first
            timer = threading.Timer(TRIM_AFTER_S, self._trim_if_idle, (self._admitted,))
            timer.daemon = True
            timer.start()

    def _trim_if_idle(self, admitted: int) -> None:
        """Memory back to (near) where it was before the burst, once the queue has stayed empty for
        :data:`TRIM_AFTER_S`: not in the way of an answer (the trim of a large job's heap takes tens of
        milliseconds) nor of the next request, which often comes at once (a page's hints)."""
        with self._lock:
            if self._pending or self._admitted != admitted:  # work came in the meantime
                return
        self.release_memory()

    async def run(self, fn: Callable[..., Any], *args: Any, stop: threading.Event | None = None) -> Any:
        """Run ``fn(*args)`` in a worker thread; raises :class:`Busy` when full or timed out. With
        ``stop``, the work is cancelled (:mod:`tinct.cancel`) once it is set: a waiting job never
        starts, a running one stops at the pipeline's next stage."""
        if self._pool is None:
            raise Busy("the server is starting or stopping; try again shortly", 1)
        self._admit()
        from tinct import cancel

        def timed() -> Any:
            start = time.perf_counter()
            try:
                if stop is not None:
                    with cancel.watching(stop):
                        cancel.check()  # abandoned while it waited: do nothing at all
                        return fn(*args)
                return fn(*args)
            finally:
                timed.seconds = time.perf_counter() - start  # type: ignore[attr-defined]

        timed.seconds = None  # type: ignore[attr-defined]
        try:
            cfut: Future = self._pool.submit(timed)
        except BaseException:
            self._done(None)
            raise
        cfut.add_done_callback(lambda f: self._done(timed.seconds))  # type: ignore[attr-defined]
        try:
            return await asyncio.wait_for(asyncio.wrap_future(cfut), self.timeout_s)
        except asyncio.TimeoutError:
            cfut.cancel()  # frees the slot now if the job had not started; a running job frees it when done
            if stop is not None:
                stop.set()
            raise Busy(f"the image took longer than {self.timeout_s:g} s; try a smaller render size or "
                       "try again later", self.retry_after()) from None
