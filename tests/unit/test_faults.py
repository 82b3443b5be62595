"""Fault injection: foreign sinks that block, consumers that never drain, Unadvise racing Notify, the last Release
from inside Notify, and an interpreter that finalises while native threads still call Notify.

Each test's docstring states the outcome the contract promises (spec §7.9-7.11, STYLE "Never block the caller")."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import mapioffline
from mapioffline import NotifyKind, Sink, State, testing
from mapioffline.testing import live_offline_objects

from conftest import PythonSink, raw_advise, raw_unadvise


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_blocking_foreign_sink_holds_only_its_own_change(offline: mapioffline.OfflineObject) -> None:
    """A foreign (ctypes) sink whose Notify blocks: set_state(block=False) still returns at once; while the sink
    blocks, the change stays in flight (another change gets Pending), GetCurrentState still answers, and a native
    sink advised alongside gets nothing lost. Once Notify returns, both sinks get START, STATECHANGE, DONE."""
    gate = threading.Event()
    foreign = PythonSink(gate)
    hr, token = raw_advise(offline.com_pointer, foreign.com_pointer, client_token=5)
    assert hr == 0
    try:
        with offline.advise(token=6) as sub:
            offline.set_state(State.OFFLINE, block=False)  # returns although the first sink will block
            assert foreign.entered.wait(10)
            with pytest.raises(mapioffline.Pending):
                offline.set_state(State.ONLINE, block=False)
            assert offline.state == State.ONLINE  # DONE not sent yet: the old state
            gate.set()
            kinds = [sub.sink.get(timeout=10).kind for _ in range(3)]
            assert kinds == [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]
            assert offline.wait_idle(10)
            assert [r[0] for r in foreign.records] == [1, 2, 3]
            assert sub.sink.stats.dropped == 0
    finally:
        gate.set()
        assert raw_unadvise(offline.com_pointer, token) == 0
    assert foreign.refs == 1


def test_unadvise_waits_for_the_notify_in_flight(offline: mapioffline.OfflineObject) -> None:
    """Unadvise on another thread while the sink's Notify is running: Unadvise does not return until that Notify
    has returned (spec §7.9), then releases the sink exactly once, and no Notify starts for it afterwards."""
    gate = threading.Event()
    foreign = PythonSink(gate)
    hr, token = raw_advise(offline.com_pointer, foreign.com_pointer)
    assert hr == 0 and foreign.refs == 2
    offline.set_state(State.OFFLINE, block=False)
    assert foreign.entered.wait(10)  # Notify(START) is running and blocked
    done = threading.Event()
    unadvise = threading.Thread(target=lambda: (raw_unadvise(offline.com_pointer, token), done.set()))
    unadvise.start()
    # Unadvise must still be waiting (the gate holds Notify). If it returned early, this fails.
    assert not done.wait(0.3)
    assert foreign.refs == 2
    gate.set()
    unadvise.join(10)
    assert done.is_set()
    assert offline.wait_idle(10)
    assert foreign.refs == 1  # released once, after its Notify returned
    assert len(foreign.records) == 1  # START only: nothing started after Unadvise returned


def test_unadvise_racing_notify_native_sinks(offline: mapioffline.OfflineObject) -> None:
    """Subscriptions unadvised while asynchronous changes are being delivered to them, many times over: no crash,
    no leak (the fixture checks live counts), each subscription saw START, STATECHANGE, DONE runs in order (the
    last maybe cut short by the Unadvise), and no record arrived after Unadvise returned."""
    target = State.OFFLINE
    for i in range(200):
        sub = offline.advise(token=i, capacity=64)
        try:
            offline.set_state(target, block=False)
        except mapioffline.Pending:
            pass
        sink = sub.sink
        sub.unadvise()  # races the worker's delivery
        after_unadvise = sink.stats.received
        kinds = [int(n.kind) for n in sink.drain()]
        # Whole changes in order, the last maybe cut short: this one, and a follow-up queued during its DONE
        # (spec §7.4, 0.2); none if it was Pending.
        assert kinds == ([1, 2, 3] * (len(kinds) // 3 + 1))[: len(kinds)]
        assert sink.stats.received == after_unadvise  # nothing arrived after Unadvise returned
        sub.close()
        target = State.ONLINE if target == State.OFFLINE else State.OFFLINE
    assert offline.wait_idle(10)


def test_consumer_that_never_drains_stays_bounded() -> None:
    """Nobody drains: 4 native producers send 400,000 notifications into a ring of 64. Memory does not grow (the
    ring is allocated once), the ring keeps exactly 64, every other one is counted as dropped, and the records
    popped report (through dropped_before) the drops stamped before them."""
    with Sink(64) as sink:
        testing.pump(sink.com_pointer, 1000, threads=4)  # warm-up: threads, allocator arenas
        sink.drain()
        before = _rss_kb()
        testing.pump(sink.com_pointer, 100_000, threads=4)
        grown = _rss_kb() - before
        s = sink.stats
        assert s.received == 404_000
        assert s.dropped == 404_000 - 64 - 64  # 64 drained after the warm-up, 64 still in the ring
        got = sink.drain()
        assert len(got) == 64
        assert sum(n.dropped_before for n in got) == sink.stats.dropped_reported
        if not os.environ.get("MAPIOFFLINE_SANITIZED"):  # sanitizers' shadow memory and quarantine grow RSS
            assert grown < 2048, f"RSS grew by {grown} KiB while nobody drained"


def test_last_release_of_the_sink_from_inside_its_notify(offline: mapioffline.OfflineObject) -> None:
    """A foreign sink whose only reference is the manager's Unadvises itself from inside Notify: the manager
    releases it only after that Notify has returned (never while it runs), exactly once, and delivers nothing
    more to it."""
    released_inside: list[int] = []
    foreign = PythonSink()
    original_notify = foreign._notify

    def notify(this: int, record: object) -> None:
        original_notify(this, record)
        if len(foreign.records) == 1:
            before = foreign.refs
            raw_unadvise(offline.com_pointer, token_box[0])
            released_inside.append(before - foreign.refs)  # 0: the release waits until we return

    token_box = [0]
    foreign._notify = notify  # type: ignore[method-assign]
    foreign._callbacks = (foreign._callbacks[0], foreign._callbacks[1], foreign._callbacks[2],
                          type(foreign._callbacks[3])(notify))
    foreign._vtable[3] = ctypes.cast(foreign._callbacks[3], ctypes.c_void_p)
    hr, token_box[0] = raw_advise(offline.com_pointer, foreign.com_pointer)
    assert hr == 0
    foreign.refs -= 1  # the test gives up its own reference: the manager's is the last one
    offline.set_state(State.OFFLINE)  # blocking: every Notify has returned when it does
    assert released_inside == [0]
    assert foreign.refs == 0  # the last reference went, once, after Notify returned
    assert [r[0] for r in foreign.records] == [1]


def test_last_release_of_the_object_from_inside_notify(profile: str) -> None:
    """The last Python handle on an embedded object is closed from inside a foreign sink's Notify(START), while a
    non-blocking change is being delivered on the object's own thread: the last Release ends every registration
    as Unadvise would (the rest of that change reaches nobody), the sink is released once, after its Notify
    returned, and the object is deleted on that thread once the change is over; the live count returns to its
    baseline and nothing crashes."""
    baseline = live_offline_objects()
    offline = mapioffline.open_offline(profile, backend="embedded")
    closed = threading.Event()
    kinds: list[int] = []

    foreign = PythonSink()
    original_notify = foreign._notify

    returned = threading.Event()

    def notify(this: int, record: object) -> None:  # on the object's worker thread
        original_notify(this, record)
        kinds.append(foreign.records[-1][0])
        if len(kinds) == 1:
            # set_state() pins the object while it runs: wait until it has returned, so that this close() drops
            # the very last reference (otherwise the pin's release would be the last one, a moment later).
            assert returned.wait(10)
            offline.close()
            closed.set()

    foreign._callbacks = (foreign._callbacks[0], foreign._callbacks[1], foreign._callbacks[2],
                          type(foreign._callbacks[3])(notify))
    foreign._vtable[3] = ctypes.cast(foreign._callbacks[3], ctypes.c_void_p)
    hr, _ = raw_advise(offline.com_pointer, foreign.com_pointer)
    assert hr == 0
    offline.set_state(State.OFFLINE, block=False)
    returned.set()
    assert closed.wait(10)
    deadline_ok = False
    for _ in range(1000):  # bounded: the worker finishes DONE and drops the last reference
        if live_offline_objects() == baseline:
            deadline_ok = True
            break
        threading.Event().wait(0.01)
    assert deadline_ok, "the object was never destroyed"
    assert kinds == [1]  # STATECHANGE and DONE reached nobody: the registration ended with the last reference
    assert foreign.refs == 1  # released exactly once


_EXIT_SCRIPT = textwrap.dedent(
    """
    import ctypes, sys
    import mapioffline
    from mapioffline import Sink, State, testing

    sink = Sink(64)
    # Native producers that will outlive the interpreter: the pump's handle is leaked on purpose, so nothing joins
    # them; they keep calling Notify through finalisation and exit.
    pump = testing.start_pump(sink.com_pointer, 10**9, threads=4)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(pump))
    offline = mapioffline.open_offline("exit-test", backend="embedded")
    sub = offline.advise(sink, callback=lambda n: None)  # a dispatcher consuming it, left open
    offline.set_state(State.OFFLINE, block=False)        # a change in flight on the object's thread
    sink.close()  # the Python owner is gone; the pump's reference keeps the native sink alive
    del sink
    print("exiting", flush=True)
    """
)


def test_exit_while_native_threads_call_notify() -> None:
    """The interpreter finalises (and the process exits) while 4 native threads still call Notify on a sink whose
    Python handle is closed and gone, with a callback subscription left open and a state change in flight: the
    sink never calls into Python, so the process exits with status 0 and an empty stderr (default warning filters:
    the unclosed handles' ResourceWarnings are for -X dev)."""
    proc = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "exiting\n"
    assert proc.stderr == ""
