"""Sink on its own: construction, blocking get, drain, drain_into, stats, last_state, fileno, close, threads.

Notifications come from the native test pump (mapioffline.testing), which calls Notify through the vtable from
native threads as a manager would.
"""

from __future__ import annotations

import pickle
import select
import struct
import sys
import threading
from collections.abc import Callable

import pytest

from mapioffline import (
    OFFLINE_MASK,
    RECORD_FORMAT,
    RECORD_SIZE,
    ClosedError,
    Notification,
    NotifyKind,
    Sink,
    SinkStats,
    State,
)
from mapioffline import _core
from mapioffline.testing import com_refcount, pump, start_pump

# -- construction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "actual"), [(1, 2), (2, 2), (3, 4), (1000, 1024), (1024, 1024)])
def test_capacity_is_rounded_up_to_a_power_of_two(asked: int, actual: int) -> None:
    with Sink(asked) as sink:
        assert sink.capacity == actual


def test_default_capacity() -> None:
    with Sink() as sink:
        assert sink.capacity == 1024


@pytest.mark.parametrize(
    ("capacity", "error"),
    [(0, ValueError), (-1, ValueError), (_core.MAX_CAPACITY + 1, ValueError), (True, TypeError),
     (2.0, TypeError), ("8", TypeError), (None, TypeError)],
)
def test_bad_capacity(capacity: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Sink(capacity)  # type: ignore[arg-type]


def test_com_pointer_is_a_native_sink_with_one_reference() -> None:
    with Sink(4) as sink:
        address = sink.com_pointer
        assert isinstance(address, int) and address > 0
        assert _core._is_native_sink(address)
        assert com_refcount(address) == 1
        assert f"0x{address:x}" in repr(sink)


def test_not_picklable() -> None:
    with Sink(4) as sink, pytest.raises(TypeError):
        pickle.dumps(sink)


# -- get ------------------------------------------------------------------------------------------------------


def test_get_returns_what_was_notified() -> None:
    with Sink(8) as sink:
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE, client_token=42, old_state=State.OFFLINE,
             new_state=State.ONLINE)
        n = sink.get(timeout=5)
        assert (n.kind, n.client_token, n.mask, n.old_state, n.new_state) == (
            NotifyKind.STATECHANGE, 42, OFFLINE_MASK, State.OFFLINE, State.ONLINE)
        assert n.dropped_before == 0


def test_get_with_spin() -> None:
    with Sink(8) as sink:
        pump(sink.com_pointer, 1)
        assert sink.get(timeout=5, spin_us=50).kind is NotifyKind.STATECHANGE_DONE


@pytest.mark.parametrize("timeout", [0, 0.0, 0.01])
def test_get_timeout_raises_timeout_error(timeout: float) -> None:
    with Sink(8) as sink, pytest.raises(TimeoutError):
        sink.get(timeout)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"timeout": -1}, ValueError), ({"timeout": -0.5}, ValueError), ({"timeout": float("nan")}, ValueError),
     ({"timeout": "1"}, TypeError), ({"timeout": True}, TypeError), ({"spin_us": -1}, ValueError),
     ({"spin_us": "1"}, TypeError), ({"spin_us": None}, TypeError)],
)
def test_get_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with Sink(8) as sink:
        pump(sink.com_pointer, 1)  # a pending notification must not hide the argument error
        with pytest.raises(error):
            sink.get(**kwargs)  # type: ignore[arg-type]
        assert sink.stats.delivered == 0


def test_close_wakes_a_blocked_get_in_another_thread() -> None:
    sink = Sink(8)
    outcome: list[BaseException | object] = []
    ready = threading.Event()

    def consumer() -> None:
        ready.set()
        try:
            outcome.append(sink.get(timeout=30))
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    thread = threading.Thread(target=consumer)
    thread.start()
    ready.wait(5)
    sink.close()
    thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ClosedError)


def test_several_threads_consume_one_sink() -> None:
    producers, per_producer, consumers = 2, 5000, 3
    seen: list[list[tuple[int, int]]] = [[] for _ in range(consumers)]
    with Sink(1 << 16) as sink:

        def consume(index: int) -> None:
            for n in sink:  # ends when the sink is closed
                seen[index].append((n.client_token, n.raw_old_state))

        threads = [threading.Thread(target=consume, args=(i,)) for i in range(consumers)]
        for t in threads:
            t.start()
        pump(sink.com_pointer, per_producer, threads=producers, sequence=True)
        for _ in range(1000):
            if sink.stats.delivered == producers * per_producer:
                break
            threading.Event().wait(0.01)
        sink.close()
        for t in threads:
            t.join(10)
    everything = [item for part in seen for item in part]
    assert len(everything) == producers * per_producer
    assert set(everything) == {(p, i) for p in range(producers) for i in range(per_producer)}
    for part in seen:  # each consumer sees each producer's records in order
        for p in range(producers):
            sequence = [i for (q, i) in part if q == p]
            assert sequence == sorted(sequence)


# -- drain ----------------------------------------------------------------------------------------------------


def test_drain_never_blocks_and_respects_max_items() -> None:
    with Sink(64) as sink:
        assert sink.drain() == []
        pump(sink.com_pointer, 10, sequence=True)
        assert [n.raw_old_state for n in sink.drain(3)] == [0, 1, 2]
        assert sink.drain(0) == []
        assert [n.raw_old_state for n in sink.drain()] == list(range(3, 10))
        assert sink.drain() == []


def test_drain_more_than_one_batch() -> None:
    with Sink(4096) as sink:
        pump(sink.com_pointer, 1000, sequence=True)
        assert [n.raw_old_state for n in sink.drain()] == list(range(1000))


@pytest.mark.parametrize(("max_items", "error"), [(-1, ValueError), (1.0, TypeError), (True, TypeError),
                                                  ("3", TypeError)])
def test_drain_bad_arguments(max_items: object, error: type[Exception]) -> None:
    with Sink(4) as sink, pytest.raises(error):
        sink.drain(max_items)  # type: ignore[arg-type]


# -- drain_into -----------------------------------------------------------------------------------------------


def test_record_format_describes_32_bytes() -> None:
    assert struct.calcsize(RECORD_FORMAT) == RECORD_SIZE == 32


@pytest.mark.parametrize("offset", [0, 4])  # 4: an unaligned buffer takes the copying path
def test_drain_into_round_trip(offset: int) -> None:
    with Sink(64) as sink:
        pump(sink.com_pointer, 5, kind=NotifyKind.STATECHANGE, client_token=9, mask=OFFLINE_MASK,
             old_state=State.ONLINE, new_state=State.OFFLINE)
        pump(sink.com_pointer, 2, kind=77, client_token=1, mask=0x10, old_state=5, new_state=6)
        buffer = bytearray(offset + 10 * RECORD_SIZE)
        written = sink.drain_into(memoryview(buffer)[offset:])
        assert written == 7
        records = list(struct.iter_unpack(RECORD_FORMAT, bytes(buffer[offset:offset + written * RECORD_SIZE])))
        assert [r[:6] for r in records] == [(24, 2, 9, 3, 2, 1)] * 5 + [(24, 77, 1, 0x10, 5, 6)] * 2
        stamps = [r[6] for r in records]
        assert stamps == sorted(stamps) and stamps[0] > 0
        assert sink.stats.delivered == 7
        assert sink.drain_into(buffer) == 0


def test_drain_into_stops_at_the_buffer_size() -> None:
    with Sink(64) as sink:
        pump(sink.com_pointer, 5, sequence=True)
        buffer = bytearray(2 * RECORD_SIZE + 31)  # room for 2 whole records
        assert sink.drain_into(buffer) == 2
        assert [n.raw_old_state for n in sink.drain()] == [2, 3, 4]


@pytest.mark.parametrize(
    ("buffer", "error"),
    [(b"\0" * 64, TypeError), (memoryview(bytearray(64)).toreadonly(), TypeError), (64, TypeError),
     ("x" * 64, TypeError), (bytearray(31), ValueError), (bytearray(0), ValueError)],
)
def test_drain_into_bad_buffers(buffer: object, error: type[Exception]) -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 1)
        with pytest.raises(error):
            sink.drain_into(buffer)  # type: ignore[arg-type]
        assert sink.stats.delivered == 0


# -- stats, dropped_before, last_state, invalid records --------------------------------------------------------


def test_stats_and_dropped_before_with_a_tiny_capacity() -> None:
    with Sink(2) as sink:
        assert sink.stats == SinkStats(0, 0, 0, 0, 0)
        pump(sink.com_pointer, 10, sequence=True)  # one producer: the first two fit, eight are dropped
        assert sink.stats == SinkStats(received=10, delivered=0, dropped=8, invalid=0, dropped_reported=0)
        first, second = sink.drain()
        # The drops of 2..9 came after 0 and 1: neither reports them (a full ring refuses the newest).
        assert (first.raw_old_state, first.dropped_before) == (0, 0)
        assert (second.raw_old_state, second.dropped_before) == (1, 0)
        assert sink.stats == SinkStats(received=10, delivered=2, dropped=8, invalid=0, dropped_reported=0)
        pump(sink.com_pointer, 1)
        assert sink.get(timeout=5).dropped_before == 8  # the first record after them does
        stats = sink.stats
        assert isinstance(stats, tuple) and stats.received == 11 and stats.delivered == 3
        assert stats.dropped_reported == 8 and stats.pending == 0
        with pytest.raises(AttributeError):
            stats.received = 0  # type: ignore[misc]


def test_dropped_before_sums_to_dropped_under_concurrency() -> None:
    with Sink(8) as sink:
        handle = start_pump(sink.com_pointer, 20000, threads=2)
        got: list[Notification] = []
        while handle.running and len(got) < 40000:
            got.extend(sink.drain())
            if sink.stats.received == 40000:
                break
        handle.join()
        got.extend(sink.drain())
        stats = sink.stats
        assert stats.received == 40000
        assert stats.delivered == len(got)
        assert stats.delivered + stats.dropped == stats.received
        # Drops reported so far are attributed to later records; the rest are still unreported.
        assert sum(n.dropped_before for n in got) <= stats.dropped
        pump(sink.com_pointer, 1)
        last = sink.get(timeout=5)
        assert sum(n.dropped_before for n in got) + last.dropped_before == stats.dropped


def test_last_state_tracks_done_with_offline_mask() -> None:
    with Sink(16) as sink:
        assert sink.last_state is None
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_START, new_state=State.OFFLINE)
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE, new_state=State.OFFLINE)
        assert sink.last_state is None  # only DONE counts
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, new_state=State.OFFLINE)
        assert sink.last_state is State.OFFLINE
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, mask=0x1, new_state=State.ONLINE)
        assert sink.last_state is State.OFFLINE  # another mask does not count
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, old_state=State.OFFLINE,
             new_state=State.ONLINE)
        assert sink.last_state is State.ONLINE
        sink.drain()
        assert sink.last_state is State.ONLINE  # draining does not forget it


def test_last_state_includes_a_done_the_full_ring_dropped() -> None:
    with Sink(2) as sink:
        pump(sink.com_pointer, 2, kind=NotifyKind.STATECHANGE)  # fills the ring
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, old_state=State.ONLINE,
             new_state=State.OFFLINE)
        assert sink.stats.dropped == 1
        assert sink.last_state is State.OFFLINE
        assert all(n.kind is NotifyKind.STATECHANGE for n in sink.drain())


def test_last_state_with_an_invalid_state_is_unknown_and_keeps_its_number() -> None:
    with Sink(2) as sink:
        assert sink.last_state is None and sink.raw_last_state is None
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, new_state=7)
        assert sink.last_state is State.UNKNOWN
        assert sink.raw_last_state == 7 and type(sink.raw_last_state) is int
        sink.drain()
    assert sink.last_state is State.UNKNOWN and sink.raw_last_state == 7  # readable after close()


def test_unknown_kinds_are_delivered_as_unknown_with_their_numbers() -> None:
    with Sink(16) as sink:
        pump(sink.com_pointer, 1, kind=0)
        pump(sink.com_pointer, 1, kind=4)
        pump(sink.com_pointer, 1, kind=0xFFFFFFFF, new_state=9)
        got = sink.drain()
        assert [n.kind for n in got] == [NotifyKind.UNKNOWN] * 3
        assert [n.raw_kind for n in got] == [0, 4, 0xFFFFFFFF]
        assert (got[2].new_state, got[2].raw_new_state) == (State.UNKNOWN, 9)
        assert sink.stats.invalid == 0


def test_null_and_short_records_are_counted_invalid() -> None:
    with Sink(16) as sink:
        pump(sink.com_pointer, 3, null=True)
        pump(sink.com_pointer, 2, size=23)
        pump(sink.com_pointer, 1, size=0)
        pump(sink.com_pointer, 1, size=64)  # a larger ulSize (a newer struct) is accepted
        assert sink.stats == SinkStats(received=1, delivered=0, dropped=0, invalid=6)
        assert len(sink.drain()) == 1


# -- fileno ---------------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="fileno() is POSIX; Windows uses the executor path")
def test_fileno_is_level_triggered() -> None:
    with Sink(16) as sink:
        fd = sink.fileno()
        assert sink.fileno() == fd
        assert select.select([fd], [], [], 0)[0] == []
        pump(sink.com_pointer, 3)
        # Level-triggered: readable as long as something is pending, however often one asks.
        assert select.select([fd], [], [], 5)[0] == [fd]
        assert select.select([fd], [], [], 0)[0] == [fd]
        sink.get(timeout=5)
        assert select.select([fd], [], [], 0)[0] == [fd]
        sink.drain()
        assert select.select([fd], [], [], 0)[0] == []
        pump(sink.com_pointer, 1)
        assert select.select([fd], [], [], 5)[0] == [fd]
        sink.drain()


@pytest.mark.skipif(sys.platform == "win32", reason="fileno() is POSIX; Windows uses the executor path")
def test_fileno_readable_after_close_from_the_native_side() -> None:
    sink = Sink(16)
    fd = sink.fileno()
    fd_keepalive = sink._watch()[1]  # as asyncio does: the descriptor stays open while watched
    try:
        sink.close()
        assert select.select([fd], [], [], 5)[0] == [fd]
    finally:
        fd_keepalive.close()


# -- close ----------------------------------------------------------------------------------------------------


def test_close_is_idempotent_and_every_use_after_raises_closed_error_but_counters_stay_readable() -> None:
    sink = Sink(4)
    pump(sink.com_pointer, 5)  # four fit, one dropped
    sink.drain(1)
    sink.close()
    sink.close()
    assert sink.closed
    assert repr(sink) == "<mapioffline.Sink closed>"
    uses: list[Callable[[], object]] = [
        lambda: sink.get(0), lambda: sink.drain(), lambda: sink.drain(0), lambda: sink.drain_into(bytearray(64)), lambda: sink.fileno(),
        lambda: sink.com_pointer, lambda: sink.__enter__(), lambda: sink._watch(), lambda: sink.interrupt(),
    ]
    for use in uses:
        with pytest.raises(ClosedError):
            use()
    # What the sink counted is still there at shutdown: three left in the ring at close are "pending", not gone.
    assert sink.stats == SinkStats(received=5, delivered=1, dropped=1, invalid=0, dropped_reported=0)
    assert sink.stats.pending == 3
    assert sink.capacity == 4 and sink.last_state is State.OFFLINE


def test_iteration_ends_when_the_sink_is_closed() -> None:
    sink = Sink(8)
    pump(sink.com_pointer, 2)
    iterator = iter(sink)
    assert next(iterator).kind is NotifyKind.STATECHANGE_DONE
    sink.close()
    assert list(iterator) == []


def test_closing_inside_the_for_loop_ends_it() -> None:
    sink = Sink(8)
    pump(sink.com_pointer, 3)
    seen = []
    for n in sink:
        seen.append(n)
        sink.close()
    assert len(seen) == 1


def test_iteration_ends_when_closed_from_another_thread() -> None:
    sink = Sink(8)
    seen: list[Notification] = []
    thread = threading.Thread(target=lambda: seen.extend(sink))
    thread.start()
    pump(sink.com_pointer, 1)
    for _ in range(500):
        if sink.stats.delivered:
            break
        threading.Event().wait(0.01)
    sink.close()
    thread.join(10)
    assert not thread.is_alive() and len(seen) == 1


def test_with_statement_closes() -> None:
    with Sink(4) as sink:
        assert not sink.closed
    assert sink.closed
