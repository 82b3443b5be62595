"""Reference balance: the sink's COM count and the live-object counters return to baseline after many cycles."""

from __future__ import annotations

import gc
import sys

from mapioffline import NotifyKind, OfflineObject, Sink, State, open_offline
from mapioffline.testing import com_refcount, live_offline_objects, live_sinks

CYCLES = 200


def test_sink_com_count_through_advise_and_unadvise(offline: OfflineObject) -> None:
    with Sink(8) as sink:
        address = sink.com_pointer
        assert com_refcount(address) == 1
        for _ in range(CYCLES):
            sub = offline.advise(sink)
            assert com_refcount(address) == 2  # the manager keeps exactly one reference
            offline.set_state(State.OFFLINE if offline.state is State.ONLINE else State.ONLINE)
            assert com_refcount(address) == 2  # delivery takes none for good
            sub.close()
            assert com_refcount(address) == 1
            sink.drain()


def test_counters_back_to_baseline_after_open_advise_unadvise_close_cycles(profile: str) -> None:
    gc.collect()
    sinks, objects = live_sinks(), live_offline_objects()
    python_objects = len(gc.get_objects())
    for i in range(CYCLES):
        obj = open_offline(f"{profile}-{i % 3}", backend="embedded")
        sub = obj.advise(token=i, capacity=4)
        with_callback = obj.advise(callback=lambda n: None) if i % 20 == 0 else None
        passed = Sink(4)
        sub2 = obj.advise(passed)
        # A fresh object each cycle: the previous cycle's last close joined its thread, non-blocking change included.
        obj.set_state(State.OFFLINE, block=i % 2 == 0)
        sub.unadvise()
        assert live_sinks() == sinks + 2 + (1 if with_callback else 0)
        sub2.close()
        sub.close()
        if with_callback is not None:
            with_callback.close()
        passed.close()
        obj.close()
    gc.collect()
    # No waiting: the last close of an object joins its thread, which releases every sink it still held.
    assert live_sinks() == sinks
    assert live_offline_objects() == objects
    # No Python-side growth either (generous slack for interpreter caches).
    assert len(gc.get_objects()) - python_objects < CYCLES


def test_python_reference_counts_of_handles(offline: OfflineObject) -> None:
    sub = offline.advise()
    sink = sub.sink
    base = sys.getrefcount(sink)
    for _ in range(100):
        offline.set_state(State.OFFLINE if offline.state is State.ONLINE else State.ONLINE)
        for n in sink.drain():
            assert n.kind in (NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE)
    assert sys.getrefcount(sink) == base
    sub.close()


def test_foreign_wrappers_balance(offline: OfflineObject) -> None:
    refs = com_refcount(offline.com_pointer)
    for _ in range(CYCLES):
        with OfflineObject.from_pointer(offline.com_pointer) as wrapped, wrapped.advise():
            pass
    assert com_refcount(offline.com_pointer) == refs


def test_failed_advise_releases_everything(offline: OfflineObject) -> None:
    refs = com_refcount(offline.com_pointer)
    sinks = live_sinks()
    closed = Sink(4)
    closed.close()
    for _ in range(50):
        try:
            offline.advise(closed)
        except ValueError:
            pass
        try:
            offline.advise(token=-1)
        except ValueError:
            pass
    assert com_refcount(offline.com_pointer) == refs
    assert live_sinks() == sinks
