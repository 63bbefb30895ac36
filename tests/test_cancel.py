"""Stopping abandoned work (tinct.cancel): between layers of a network, and out of one long call."""

import threading
import time

import pytest
import torch

from tinct import cancel


class Slow(torch.nn.Module):
    """Ten layers of 0.05 s each; counts the layers that ran."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Identity() for _ in range(10))
        self.ran = 0

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
            self.ran += 1
            time.sleep(0.05)
        return x


def _cancel_after(event: threading.Event, seconds: float) -> None:
    threading.Timer(seconds, event.set).start()


def test_a_guarded_network_stops_at_the_next_layer():
    net = cancel.guard(Slow())
    assert cancel.guard(net) is net  # idempotent: one hook per layer
    assert len(net.layers[0]._forward_pre_hooks) == 1
    net(torch.zeros(1))  # no watcher: runs to the end
    assert net.ran == 10
    net.ran, event = 0, threading.Event()
    _cancel_after(event, 0.12)
    with cancel.watching(event), pytest.raises(cancel.Cancelled):
        net(torch.zeros(1))
    assert 2 <= net.ran <= 4


def test_an_interruptible_call_is_given_up_at_once_and_finishes_alone():
    finished = threading.Event()

    def long_call(seconds):
        time.sleep(seconds)  # releases the GIL, as a sparse factorization does
        finished.set()
        return seconds

    assert cancel.interruptible(long_call, 0.01) == 0.01  # no watcher: a plain call
    event = threading.Event()
    finished.clear()
    with cancel.watching(event):
        assert cancel.interruptible(long_call, 0.05) == 0.05  # not cancelled: its value
        finished.clear()
        _cancel_after(event, 0.1)
        t0 = time.monotonic()
        with pytest.raises(cancel.Cancelled):
            cancel.interruptible(long_call, 1.0)
        assert time.monotonic() - t0 < 0.3  # given up within the poll, not after the call
    assert not finished.is_set()
    assert finished.wait(2)  # the helper ended on its own

    def broken():
        raise ValueError("inside")

    with cancel.watching(threading.Event()), pytest.raises(ValueError, match="inside"):
        cancel.interruptible(broken)


def _pid_and(value, pid_file=None, sleep=0.0):
    import os

    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(sleep)
    return [float(os.getpid()), value]


def test_a_killable_call_runs_in_a_child_that_a_cancellation_kills(tmp_path):
    import os

    import numpy as np

    assert cancel.killable(_pid_and, 2.5, shape=(2,)).tolist() == [os.getpid(), 2.5]  # no watcher: here
    event = threading.Event()
    with cancel.watching(event):
        pid, value = cancel.killable(_pid_and, 3.5, shape=(2,))
        assert value == 3.5 and pid != os.getpid()  # computed in a child process
        with pytest.raises(RuntimeError, match="child process"):
            cancel.killable(lambda: 1 / 0, shape=(1,))
        pid_file = tmp_path / "pid"
        _cancel_after(event, 0.3)
        t0 = time.monotonic()
        with pytest.raises(cancel.Cancelled):
            cancel.killable(_pid_and, 1.0, str(pid_file), 30.0, shape=(2,))
        assert time.monotonic() - t0 < 1.5
    child = int(pid_file.read_text())
    for _ in range(200):  # killed and reaped (beside the caller): nothing left running
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the cancelled child process is still there")
    assert np.asarray(cancel.killable(np.arange, 6, shape=(2, 3))).tolist() == [[0, 1, 2], [3, 4, 5]]
    with cancel.watching(threading.Event()):  # an answer in bytes
        assert cancel.killable(lambda: b"x" * 1000, max_bytes=1000) == b"x" * 1000
        with pytest.raises(RuntimeError):  # larger than promised: refused, not cut
            cancel.killable(lambda: b"x" * 1001, max_bytes=1000)
    with pytest.raises(ValueError):
        cancel.killable(np.arange, 6)


def test_a_large_answer_is_encoded_the_same_in_a_killable_child(monkeypatch):
    import numpy as np

    from tinct.serve import images

    rng = np.random.default_rng(1)
    arr = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    direct = images.encode(arr, "png")
    monkeypatch.setattr(images, "KILLABLE_PIXELS", 100)
    with cancel.watching(threading.Event()):
        assert images.encode_answer(arr, "png") == direct
        assert images.encode_answer(arr, "jpeg", 80) == images.encode(arr, "jpeg", 80)


def test_a_large_propagation_solves_the_same_in_a_killable_child(monkeypatch):
    import numpy as np

    from tinct.hints import levin

    rng = np.random.default_rng(0)
    l = rng.random((40, 50)) * 100
    ab, mask = np.zeros((2, 40, 50)), np.zeros((40, 50))
    ab[:, 5, 5], ab[:, 30, 40], mask[5, 5], mask[30, 40] = (20, -10), (-30, 25), 1, 1
    plain = levin.propagate_with_prior(l, np.zeros((2, 40, 50)), ab, mask, 1e-3)
    monkeypatch.setattr(levin, "KILLABLE_UNKNOWNS", 100)
    with cancel.watching(threading.Event()):
        forked = levin.propagate_with_prior(l, np.zeros((2, 40, 50)), ab, mask, 1e-3)
    assert np.array_equal(plain, forked)
