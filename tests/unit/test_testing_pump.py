"""mapioffline.testing: the native pump (Notify from native threads through the vtable) and the counters."""

from __future__ import annotations

import pytest
from conftest import PythonSink

from mapioffline import OFFLINE_MASK, NotifyKind, Sink, SinkStats, State
from mapioffline import testing
from mapioffline.testing import PumpHandle, com_refcount, live_sinks, pump, start_pump


def test_pump_counts_and_threads() -> None:
    with Sink(1 << 12) as sink:
        elapsed = pump(sink.com_pointer, 500, threads=4)
        assert isinstance(elapsed, int) and elapsed >= 0
        assert sink.stats == SinkStats(received=2000, delivered=0, dropped=0, invalid=0)
        assert len(sink.drain()) == 2000


def test_default_record_is_an_online_to_offline_done() -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 1)
        n = sink.get(timeout=5)
        assert (n.kind, n.client_token, n.mask, n.old_state, n.new_state) == (
            NotifyKind.STATECHANGE_DONE, 0, OFFLINE_MASK, State.ONLINE, State.OFFLINE)


def test_sequence_keeps_each_producers_order() -> None:
    producers, per = 3, 3000
    with Sink(1 << 14) as sink:
        pump(sink.com_pointer, per, threads=producers, sequence=True)
        got = sink.drain()
    assert len(got) == producers * per
    for p in range(producers):
        assert [n.raw_old_state for n in got if n.client_token == p] == list(range(per))


def test_arbitrary_fields_and_unknown_kinds() -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 1, kind=0x1234, client_token=0xFFFFFFFF, mask=0x300, old_state=0, new_state=0x40)
        n = sink.get(timeout=5)
        assert (n.raw_kind, n.client_token, n.mask, n.raw_old_state, n.raw_new_state) == (
            0x1234, 0xFFFFFFFF, 0x300, 0, 0x40)
        assert (n.kind, n.old_state, n.new_state) == (NotifyKind.UNKNOWN, State.UNKNOWN, State.UNKNOWN)


def test_null_and_short_records() -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 2, threads=2, null=True)
        pump(sink.com_pointer, 3, size=20)
        assert sink.stats.invalid == 7
        assert sink.stats.received == 0


def test_start_pump_runs_in_the_background_and_join_is_idempotent() -> None:
    with Sink(1 << 10) as sink:
        handle = start_pump(sink.com_pointer, 100, threads=2)
        assert isinstance(handle, PumpHandle)
        assert handle.running
        elapsed = handle.join()
        assert not handle.running
        assert handle.join() == elapsed == handle.elapsed_ns
        assert sink.stats.received == 200
        sink.drain()


def test_the_pump_holds_a_reference_while_it_runs() -> None:
    sink = Sink(4)
    address = sink.com_pointer
    handle = start_pump(address, 10_000)
    sink.close()  # our reference goes; the pump's keeps the native sink alive
    handle.join()
    assert sink.closed


def test_pump_into_a_python_sink() -> None:
    """The pump calls any IMAPIOfflineNotify through its vtable, not only ours."""
    py_sink = PythonSink()
    pump(py_sink.com_pointer, 3, kind=2, client_token=8)
    assert py_sink.records == [(2, 8, OFFLINE_MASK, State.ONLINE, State.OFFLINE)] * 3
    assert py_sink.refs == 1  # the pump's reference was released at join


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"threads": 0}, ValueError),
        ({"threads": 257}, ValueError),
        ({"threads": "2"}, TypeError),
        ({"count": -1}, ValueError),
        ({"kind": -1}, ValueError),
        ({"kind": 1.5}, TypeError),
        ({"new_state": 2**32}, ValueError),
        ({"size": "24"}, TypeError),
    ],
)
def test_bad_pump_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with Sink(4) as sink:
        args: dict[str, object] = {"count": 1, **kwargs}
        count = args.pop("count")
        with pytest.raises(error):
            start_pump(sink.com_pointer, count, **args)  # type: ignore[arg-type]
        assert sink.stats.received == 0


@pytest.mark.parametrize("address", [0, -8, True, "0x1"])
def test_bad_pump_address(address: object) -> None:
    with pytest.raises(ValueError):
        start_pump(address, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        com_refcount(address)  # type: ignore[arg-type]


def test_counters() -> None:
    before = live_sinks()
    sink = Sink(4)
    assert live_sinks() == before + 1
    sink.close()
    assert live_sinks() == before
    assert testing.live_offline_objects() >= 0


def test_com_refcount_reads_without_changing() -> None:
    with Sink(4) as sink:
        assert com_refcount(sink.com_pointer) == 1
        assert com_refcount(sink.com_pointer) == 1
