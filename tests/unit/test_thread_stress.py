"""Every consumer call on one sink from many threads at once, and closes racing the calls (issue 21).

Written for free-threaded CPython, where these calls really run at the same time (the binding keeps each handle's
state in critical sections, see _core.pyx); on a GIL build they interleave at every GIL switch and the same totals
must hold. `.ci/freethreaded` runs this file with the GIL off, and under TSan.

Deadlines here only bound a failing (hung) run; a passing run never waits for them."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import mapioffline
from mapioffline import ClosedError, Sink, State, StreamEnded, open_offline
from mapioffline._bridge import publish
from mapioffline.testing import live_offline_objects, live_sinks, start_pump

# Sink.fileno() is POSIX only (Windows raises NotSupported and offers aget()).
POSIX_FD = sys.platform != "win32"

HANG_S = 120.0  # a thread still running after this is a hang: the test fails

PumpKey = tuple[str, int, int]


def _run_all(targets: list[Callable[[], None]], errors: list[BaseException]) -> list[threading.Thread]:
    """Starts one thread per target, all released at once by a barrier; exceptions land in ``errors``."""
    gate = threading.Barrier(len(targets) + 1)

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                gate.wait()
                target()
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
        return run

    threads = [threading.Thread(target=wrap(t), name=f"stress-{i}") for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    gate.wait()
    return threads


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(HANG_S)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {HANG_S} s: {stuck}"


class _Taken:
    """What the consumers took, keyed so that a record taken twice (or one never taken) shows."""

    def __init__(self, enough: int = 0) -> None:
        self.lock = threading.Lock()
        self.keys: list[PumpKey] = []
        self.enough = threading.Event()  # set once ``enough`` records were taken, by whichever consumer
        self._threshold = enough

    def add(self, kind: int, token: int, old: int) -> None:
        # Pump records: token = producer index, old_state = its sequence. Subscription records: one change per
        # advise, each with its own client token; the kind tells its three records apart.
        key = ("pump", token, old) if token < 1000 else ("change", token, kind)
        with self.lock:
            self.keys.append(key)
            if len(self.keys) == self._threshold:
                self.enough.set()

    def add_notification(self, n: mapioffline.Notification) -> None:
        self.add(n.raw_kind, n.client_token, n.raw_old_state)


def _consumers(sink: Sink, taken: _Taken) -> list[Callable[[], None]]:
    """One target per consumer call, each taking records until the stream ends."""

    def get_loop() -> None:
        while True:
            try:
                taken.add_notification(sink.get(timeout=5))
            except TimeoutError:
                continue  # the stream is still on; ends with StreamEnded
            except StreamEnded:
                return

    def spin_loop() -> None:
        while True:
            try:
                taken.add_notification(sink.get(timeout=5, spin_us=200))
            except TimeoutError:
                continue
            except StreamEnded:
                return

    def iterate() -> None:
        for n in sink:
            taken.add_notification(n)

    def end_or_wait() -> bool:
        """For the never-blocking calls: True once the stream is over; else waits a little for a record."""
        try:
            taken.add_notification(sink.get(timeout=0.01))
        except TimeoutError:
            pass
        except StreamEnded:
            return True
        return False

    def drain_loop() -> None:
        while True:
            batch = sink.drain(7)
            for n in batch:
                taken.add_notification(n)
            if not batch and end_or_wait():
                return

    def drain_into_loop() -> None:
        buffer = bytearray(mapioffline.RECORD_SIZE * 5)
        while True:
            count = sink.drain_into(buffer)
            for record in struct.iter_unpack(mapioffline.RECORD_FORMAT, buffer[: count * mapioffline.RECORD_SIZE]):
                _size, kind, token, _mask, old, _new, _stamp = record
                taken.add(kind, token, old)
            if not count and end_or_wait():
                return

    def asyncio_tasks() -> None:
        async def one() -> None:
            async for n in sink:
                taken.add_notification(n)

        async def main() -> None:
            await asyncio.gather(*(one() for _ in range(3)))

        asyncio.run(main())

    return [get_loop, get_loop, spin_loop, iterate, drain_loop, drain_into_loop, asyncio_tasks, asyncio_tasks]


def test_every_consumer_call_on_one_sink_from_many_threads_takes_each_record_exactly_once(profile: str) -> None:
    producers, per_producer, changes = 2, 20_000, 40
    taken = _Taken()
    errors: list[BaseException] = []
    done = threading.Event()
    with open_offline(profile, backend="embedded") as offline, Sink(1 << 17) as sink, \
            open_offline(f"{profile}-feed", backend="embedded") as quiet:
        feed = quiet.advise(sink, token=999)  # keeps the stream on until the end (its object never changes state)
        observed: list[tuple[int, int]] = []

        def observer() -> None:
            """The non-consuming calls, all the time: counters only ever grow; nothing else changes."""
            capacity = sink.capacity
            last = sink.stats
            while not done.is_set():
                stats = sink.stats
                assert stats.received >= last.received and stats.delivered >= last.delivered, (last, stats)
                assert sink.capacity == capacity
                assert sink.last_state in (None, State.OFFLINE, State.ONLINE)
                assert sink.raw_last_state in (None, 1, 2)
                assert repr(sink).startswith("<mapioffline.Sink capacity=")
                assert sink.com_pointer != 0 and not sink.closed
                if POSIX_FD:
                    assert sink.fileno() >= 0
                sink.interrupt()  # wakes every waiting consumer: each looks again and goes on waiting
                last = stats
            observed.append((last.received, last.delivered))

        def churn() -> None:
            """advise/unadvise on the same sink, each with one state change (3 records, its own client token)."""
            for i in range(changes):
                sub = offline.advise(sink, token=1000 + i)
                offline.set_state(State.OFFLINE if i % 2 == 0 else State.ONLINE)  # every call changes the state
                if i % 2:
                    sub.unadvise()
                sub.close()

        threads = _run_all([*_consumers(sink, taken), observer, churn], errors)
        pump = start_pump(sink.com_pointer, per_producer, threads=producers, sequence=True)
        pump.join()
        churner = threads[-1]
        churner.join(HANG_S)
        feed.close()  # the last feed: consumers take what is pending, then the stream ends
        _join(threads[:-2])
        done.set()
        _join(threads)
        stats = sink.stats
    assert errors == []
    expected = {("pump", p, s) for p in range(producers) for s in range(per_producer)}
    expected |= {("change", 1000 + i, k) for i in range(changes) for k in (1, 2, 3)}
    assert len(taken.keys) == len(set(taken.keys)), "a record was taken twice"
    assert set(taken.keys) == expected
    total = producers * per_producer + 3 * changes
    assert (stats.received, stats.delivered, stats.dropped, stats.invalid) == (total, total, 0, 0)
    assert observed and observed[0][0] <= total


def test_close_racing_every_consumer_call_ends_each_one_and_delivered_counts_what_they_took() -> None:
    taken = _Taken(enough=2000)
    errors: list[BaseException] = []
    with Sink(1 << 12) as sink:
        def counted(loop: Callable[[], None]) -> Callable[[], None]:
            """Runs a consumer until close() ends it: a ClosedError (or the end of an iteration) is its end."""
            def run() -> None:
                try:
                    loop()
                except ClosedError:
                    pass
            return run

        def get_loop() -> None:
            while True:
                try:
                    taken.add_notification(sink.get(timeout=5))
                except TimeoutError:
                    continue  # the pump may have ended before close(): this loop ends with close()

        def drain_loop() -> None:
            while True:
                for n in sink.drain(13):
                    taken.add_notification(n)

        def drain_into_loop() -> None:
            buffer = bytearray(mapioffline.RECORD_SIZE * 3)
            while True:
                count = sink.drain_into(buffer)
                for record in struct.iter_unpack(mapioffline.RECORD_FORMAT,
                                                 buffer[: count * mapioffline.RECORD_SIZE]):
                    taken.add(record[1], record[2], record[4])

        def iterate() -> None:
            for n in sink:  # ends (StopIteration) at close
                taken.add_notification(n)

        def asyncio_tasks() -> None:
            async def one() -> None:
                while True:
                    taken.add_notification(await sink.aget())

            async def main() -> None:
                await asyncio.gather(*(one() for _ in range(3)))

            asyncio.run(main())

        def reader() -> None:
            while True:
                _ = sink.stats, sink.last_state, sink.capacity, repr(sink), sink.closed
                # ClosedError once closed: the end of this loop (fileno() exists on POSIX only).
                if POSIX_FD:
                    sink.fileno()
                else:
                    _ = sink.com_pointer

        targets = [get_loop, get_loop, drain_loop, drain_into_loop, iterate, asyncio_tasks, asyncio_tasks, reader]
        threads = _run_all([counted(t) for t in targets], errors)
        # The pump holds its own reference: it keeps calling Notify after close(), which counts those as dropped.
        # Long enough to be running at close() on most runs; if it ended first, the 4096 records it left in the
        # ring are more than the 2000 taken before close().
        pump = start_pump(sink.com_pointer, 2_000_000, threads=2, sequence=True)
        try:
            assert taken.enough.wait(HANG_S), f"only {len(taken.keys)} records taken"
            closers = _run_all([sink.close] * 8, errors)  # 8 threads close at once: exactly one does it
            _join(closers)
            _join(threads)
        finally:
            pump.join()
        final = sink.stats
        assert sink.closed and sink.stats == final  # counters as they were at close()
    assert errors == []
    assert len(taken.keys) == len(set(taken.keys)), "a record was taken twice"
    assert len(taken.keys) >= 2000
    # Nothing is popped once close() took the final counters: they count every record a consumer got.
    assert final.delivered == len(taken.keys)
    assert final.received - final.dropped - final.delivered >= 0


def test_closing_every_handle_kind_from_many_threads_while_others_use_it(profile: str) -> None:
    before = (live_sinks(), live_offline_objects())
    errors: list[BaseException] = []
    for round_ in range(20):
        offline = open_offline(f"{profile}-{round_}", backend="embedded")
        sink = Sink(64)
        sub = offline.advise(sink)
        pump = start_pump(sink.com_pointer, 2000, threads=2)
        publisher = publish(f"{profile}-pub-{round_}")

        def user(call: Callable[[], Any]) -> Callable[[], None]:
            def run() -> None:
                for _ in range(50):
                    try:
                        call()
                    except ClosedError:
                        return
            return run

        def set_state() -> None:
            try:
                offline.set_state(State.OFFLINE, block=False)
            except mapioffline.Pending:
                pass

        targets: list[Callable[[], None]] = [
            user(lambda: (offline.state, offline.capabilities, offline.com_pointer)),
            user(set_state),
            user(lambda: sink.drain()),
            user(lambda: (sink.stats, sink.last_state)),
            user(lambda: (publisher.counters, publisher.wake_calls, publisher.region_name)),
            user(lambda: offline.wait_idle(0.01)),
            sub.close, sub.close, offline.close, offline.close, sink.close, sink.close,
            pump.join, pump.join, publisher.stop, publisher.stop,
        ]
        _join(_run_all(targets, errors))
        assert offline.closed and sink.closed and publisher.closed and not pump.running
        assert not sub.active
    assert errors == []
    assert (live_sinks(), live_offline_objects()) == before


def test_importing_the_package_leaves_a_free_threaded_interpreter_without_the_gil() -> None:
    """With warnings as errors (an extension that does not declare itself compatible turns the GIL back on with a
    RuntimeWarning): on a free-threaded build the GIL stays off, on a GIL build it stays on."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = ("import sys, sysconfig, mapioffline, mapioffline.aio, mapioffline.testing, mapioffline._bridge; "
            "print(bool(sysconfig.get_config_var('Py_GIL_DISABLED')), getattr(sys, '_is_gil_enabled', lambda: True)())")
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    free_threaded, gil_enabled = result.stdout.split()
    assert gil_enabled == ("False" if free_threaded == "True" else "True")


def test_close_from_many_threads_at_once_releases_the_handle_reference_once() -> None:
    """8 threads call close() on the same handle at once, round after round: exactly one releases the handle's
    reference (two extra references, held by pins, show a second release instead of freeing the object)."""
    from mapioffline.testing import com_refcount

    rounds, closers = 300, 8
    start = threading.Barrier(closers + 1)
    end = threading.Barrier(closers + 1)
    current: list[Sink] = []
    errors: list[BaseException] = []

    def closer() -> None:
        try:
            for _ in range(rounds):
                start.wait()
                current[0].close()
                end.wait()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
            start.abort()
            end.abort()

    threads = [threading.Thread(target=closer) for _ in range(closers)]
    for t in threads:
        t.start()
    wrong: list[int] = []
    try:
        for _ in range(rounds):
            sink = Sink(8)
            address = sink.com_pointer
            pins = [sink._watch()[1] for _ in range(2)]
            current[:] = [sink]
            start.wait()
            end.wait()
            count = com_refcount(address)
            if count != 2:
                wrong.append(count)
            for pin in pins:
                pin.close()
    finally:
        _join(threads)
    assert errors == []
    assert wrong == [], f"{len(wrong)} of {rounds} rounds left {wrong[:5]} references instead of the pins' 2"
