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
