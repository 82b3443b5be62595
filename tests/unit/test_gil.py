"""Notify never needs the GIL: native producers keep delivering while the main thread holds it in a busy loop.

The switch interval is raised to a very long time, so a thread that asked for the GIL would wait for it far longer
than the deadline below: if Notify needed the GIL, the counters could not move while the loop runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import PythonSink

from mapioffline import OfflineObject, Sink, State
from mapioffline.testing import start_pump

DEADLINE_S = 20.0  # only bounds a failing run; a passing one finishes in milliseconds


@pytest.fixture
def gil_held_long() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _busy_until(condition: Callable[[], bool]) -> bool:
    """Spins in Python bytecode (holding the GIL, never blocking) until condition() or the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
    return True


def test_native_pump_delivers_while_the_main_thread_holds_the_gil(gil_held_long: None) -> None:
    producers, per = 2, 100_000
    with Sink(1024) as sink:
        handle = start_pump(sink.com_pointer, per, threads=producers)
        try:
            reached = _busy_until(lambda: sink.stats.received == producers * per)
        finally:
            handle.join()
        assert reached, f"only {sink.stats.received} of {producers * per} Notify calls completed"
        stats = sink.stats
        assert stats.received == producers * per
        assert stats.delivered + stats.dropped + len(sink.drain()) == producers * per


def test_embedded_object_delivers_while_the_main_thread_holds_the_gil(offline: OfflineObject,
                                                                      gil_held_long: None) -> None:
    with offline.advise() as sub:
        offline.set_state(State.OFFLINE, block=False)  # delivered on the object's own native thread
        reached = _busy_until(lambda: sub.sink.last_state is State.OFFLINE and sub.sink.stats.received == 3)
        assert reached
        assert len(sub.sink.drain()) == 3


def test_control_a_sink_that_needs_the_gil_stalls_under_the_same_loop(gil_held_long: None) -> None:
    """Shows the test above can fail: a ctypes sink's Notify needs the GIL, so it cannot run during the loop."""
    py_sink = PythonSink()
    handle = start_pump(py_sink.com_pointer, 100)
    try:
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:  # busy, holding the GIL
            pass
        during = len(py_sink.records)
    finally:
        handle.join()  # releases the GIL: the producer runs now
    assert during < 100
    assert len(py_sink.records) == 100
