"""The delivery contract (issue 8): streams end the same way in every mode, nothing is lost at close or exit, no
consumer is stranded, drops are reported on the record that followed them, and concurrent lifecycle calls never
crash. Each test here failed on the layer it replaced (see the closing note of the change)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import mapioffline
from mapioffline import (
    ClosedError,
    Notification,
    NotifyKind,
    OfflineObject,
    Sink,
    State,
    StreamEnded,
    open_offline,
)
from mapioffline.testing import pump, start_pump

_KINDS = [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]


def run_python(code: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})


# -- 1. concurrent lifecycle calls ---------------------------------------------------------------------------


def test_two_threads_closing_a_subscription_that_holds_the_last_reference_never_crash() -> None:
    # In a child process: the old layer's use-after-free segfaulted (or ASan aborted) within these iterations.
    result = run_python("""
        import threading
        import mapioffline
        for i in range(3000):
            obj = mapioffline.open_offline(f"race-{i % 7}", backend="embedded")
            sub = obj.advise()
            obj.close()  # the subscription's own handle now holds the object's last reference
            gate = threading.Barrier(2)
            def closer():
                gate.wait()
                sub.close()
            t = threading.Thread(target=closer)
            t.start()
            gate.wait()
            sub.close()
            t.join()
        print("ok")
    """, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_a_storm_of_lifecycle_and_state_calls_from_many_threads(profile: str) -> None:
    errors: list[BaseException] = []
    with open_offline(profile, backend="embedded") as obj:
        shared = Sink(64)

        def worker(seed: int) -> None:
            try:
                for i in range(150):
                    sub = obj.advise(shared if (i + seed) % 2 else None, callback=None)
                    try:
                        obj.set_state(State.OFFLINE if (i + seed) % 3 else State.ONLINE, block=(i % 2 == 0))
                    except mapioffline.Pending:
                        pass  # another thread's change is in its START/STATECHANGE phase: allowed
                    _ = obj.capabilities, obj.state
                    sub.sink.drain()
                    if i % 3 == 0:
                        sub.unadvise()
                    sub.close()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shared.close()
    assert errors == []


# -- 2. closing a callback subscription hands over what already arrived ---------------------------------------


def test_close_delivers_every_notification_already_in_the_sink(offline: OfflineObject) -> None:
    seen: list[Notification] = []
    first = threading.Event()

    def slow(n: Notification) -> None:
        first.set()
        time.sleep(0.01)
        seen.append(n)

    sub = offline.advise(callback=slow)
    for state in (State.OFFLINE, State.ONLINE, State.OFFLINE):
        offline.set_state(state)  # returns once DONE reached the sink, long before the callback ran
    assert sub.close() is True
    assert [n.kind for n in seen] == _KINDS * 3
    assert sub.sink.stats.pending == 0 and sub.sink.closed


def test_close_with_a_timeout_leaves_the_rest_counted_not_lost(offline: OfflineObject) -> None:
    release = threading.Event()
    seen: list[Notification] = []

    def stuck(n: Notification) -> None:
        seen.append(n)
        release.wait(10)

    sub = offline.advise(callback=stuck)
    offline.set_state(State.OFFLINE)
    try:
        assert sub.close(timeout=0.05) is False  # the first callback is still running
        stats = sub.sink.stats
        assert stats.received == 3 and stats.dropped == 0
        assert stats.delivered + stats.pending == 3 and stats.pending >= 1
    finally:
        release.set()
    assert len(seen) == 1  # abandoned after the running callback: the rest stayed in the sink


def test_the_readme_callback_example_prints_its_done() -> None:
    for _ in range(3):
        result = run_python("""
            import mapioffline
            from mapioffline import NotifyKind, State
            def on_change(n):
                if n.kind is NotifyKind.STATECHANGE_DONE:
                    print("now", n.new_state.name)
            with mapioffline.open_offline("readme", backend="embedded") as offline:
                with offline.advise(callback=on_change):
                    offline.set_state(State.OFFLINE)
        """)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "now OFFLINE\n"


# -- 3. interpreter exit -------------------------------------------------------------------------------------


def test_exit_delivers_what_an_unclosed_callback_subscription_holds() -> None:
    result = run_python("""
        import time
        import mapioffline
        from mapioffline import State
        obj = mapioffline.open_offline("exit-flush", backend="embedded")
        sub = obj.advise(callback=lambda n: (time.sleep(0.02), print(n.kind.name, flush=True)))
        obj.set_state(State.OFFLINE)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"]
    assert result.stderr == ""  # a clean exit prints nothing


def test_exit_is_bounded_when_a_callback_blocks_forever() -> None:
    result = run_python("""
        import threading
        import mapioffline
        from mapioffline import State
        obj = mapioffline.open_offline("exit-stuck", backend="embedded")
        sub = obj.advise(callback=lambda n: threading.Event().wait())
        obj.set_state(State.OFFLINE)
        print("leaving", flush=True)
    """, timeout=30, MAPIOFFLINE_EXIT_TIMEOUT="0.3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "leaving\n"
    assert "did not finish within" in result.stderr  # it says why it left notifications behind


def test_set_exit_timeout_checks_its_argument() -> None:
    before = mapioffline.exit_timeout()
    try:
        mapioffline.set_exit_timeout(1.5)
        assert mapioffline.exit_timeout() == 1.5
        with pytest.raises(ValueError):
            mapioffline.set_exit_timeout(-1)
        with pytest.raises(ValueError):
            mapioffline.set_exit_timeout(float("inf"))
        with pytest.raises(TypeError):
            mapioffline.set_exit_timeout("1")  # type: ignore[arg-type]
    finally:
        mapioffline.set_exit_timeout(before)


# -- 4. many consumers of one sink ---------------------------------------------------------------------------


def test_many_tasks_awaiting_one_sink_in_one_loop_each_get_one_record() -> None:
    async def main(sink: Sink) -> list[Notification]:
        tasks = [asyncio.ensure_future(sink.aget()) for _ in range(6)]
        await asyncio.sleep(0)  # every task is now waiting on the sink
        await asyncio.get_running_loop().run_in_executor(None, lambda: pump(sink.com_pointer, 6, sequence=True))
        return list(await asyncio.wait_for(asyncio.gather(*tasks), 10))

    with Sink(16) as sink:
        got = asyncio.run(main(sink))
    assert sorted(n.raw_old_state for n in got) == list(range(6))  # each record to exactly one task


def test_tasks_on_several_loops_share_one_sink() -> None:
    results: list[int] = []
    lock = threading.Lock()
    with Sink(256) as sink:
        async def consume(count: int) -> None:
            for _ in range(count):
                n = await asyncio.wait_for(sink.aget(), 10)
                with lock:
                    results.append(n.raw_old_state)

        threads = [threading.Thread(target=asyncio.run, args=(consume(50),)) for _ in range(3)]
        for t in threads:
            t.start()
        pump(sink.com_pointer, 150, sequence=True)
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads)
    assert sorted(results) == list(range(150))


def test_threads_mixing_every_consumer_call_on_one_sink_see_each_record_once() -> None:
    total = 20000
    taken: list[int] = []
    raw_count = [0]
    lock = threading.Lock()
    pushed = threading.Event()  # set once every record is in the ring: then an empty look means "all taken"
    with Sink(1 << 15) as sink:
        def getter() -> None:
            while True:
                try:
                    n = sink.get(timeout=0.05)
                except TimeoutError:
                    if pushed.is_set():
                        return
                    continue
                with lock:
                    taken.append(n.raw_old_state)

        def drainer() -> None:
            while True:
                finished = pushed.is_set()  # read before the drain: an empty drain after it is final
                batch = sink.drain(7)
                with lock:
                    taken.extend(n.raw_old_state for n in batch)
                if not batch:
                    if finished:
                        return
                    time.sleep(0.001)  # drain never blocks: this consumer paces its own polling

        def raw() -> None:
            buffer = bytearray(32 * 5)
            while True:
                finished = pushed.is_set()
                n = sink.drain_into(buffer)
                with lock:
                    raw_count[0] += n
                if not n:
                    if finished:
                        return
                    time.sleep(0.001)

        consumers = [threading.Thread(target=f) for f in (getter, getter, drainer, raw)]
        for t in consumers:
            t.start()
        pump(sink.com_pointer, total, sequence=True)
        pushed.set()
        for t in consumers:
            t.join(60)
        stats = sink.stats
    assert len(set(taken)) == len(taken)  # nobody got a record twice
    assert len(taken) + raw_count[0] == total == stats.delivered
    assert stats.dropped == 0


# -- 5. shared and reused sinks ------------------------------------------------------------------------------


def test_a_shared_sink_streams_while_any_subscription_is_active(profile: str) -> None:
    with open_offline(profile + "-a", backend="embedded") as a, open_offline(profile + "-b", backend="embedded") as b, Sink(64) as sink:
        sub_a, sub_b = a.advise(sink, token=1), b.advise(sink, token=2)
        sub_a.close()
        # Empty, one subscription left: the stream goes on (an await times out rather than ending).
        with pytest.raises(asyncio.TimeoutError):
            asyncio.run(asyncio.wait_for(sink.aget(), 0.05))
        got: list[Notification] = []
        reader = threading.Thread(target=lambda: got.extend(sink))
        reader.start()
        b.set_state(State.OFFLINE)  # still delivered: b's subscription is active
        a.set_state(State.OFFLINE)  # not delivered: a's ended
        sub_b.close()
        reader.join(10)
        assert not reader.is_alive()  # the iteration ended with the last subscription
    assert [(n.client_token, n.kind) for n in got] == [(2, k) for k in _KINDS]


def test_a_user_sink_can_be_advised_again_in_any_mode(offline: OfflineObject) -> None:
    with Sink(64) as sink:
        first: list[Notification] = []
        with offline.advise(sink, callback=first.append):
            offline.set_state(State.OFFLINE)
        with pytest.raises(StreamEnded):
            sink.get(timeout=1)  # that stream is over
        with offline.advise(sink):
            offline.set_state(State.ONLINE)
            assert [n.kind for n in sink.drain()] == _KINDS
            offline.set_state(State.OFFLINE)
            assert [n.kind for n in list(sink.drain(2))] == _KINDS[:2]
        assert [n.kind for n in sink] == _KINDS[2:]  # what is left, then the end
        second: list[Notification] = []
        with offline.advise(sink, callback=second.append):
            offline.set_state(State.ONLINE)
    assert [n.kind for n in first] == _KINDS
    assert [n.kind for n in second] == _KINDS


# -- 6. one end of stream for every mode ----------------------------------------------------------------------


def test_every_mode_ends_the_same_way_after_unadvise(offline: OfflineObject) -> None:
    sub = offline.advise()
    offline.set_state(State.OFFLINE)
    sub.unadvise()
    assert [n.kind for n in sub.sink] == _KINDS  # iteration: what arrived, then the end
    with pytest.raises(StreamEnded) as blocking:
        sub.sink.get()
    with pytest.raises(StreamEnded) as awaiting:
        asyncio.run(asyncio.wait_for(sub.sink.aget(), 10))

    async def iterate() -> list[Notification]:
        return [n async for n in sub.sink]

    assert asyncio.run(asyncio.wait_for(iterate(), 10)) == []
    for error in (blocking.value, awaiting.value):
        assert "0x" not in str(error) and "MAPI_E" not in str(error)  # no MAPI call failed: no HRESULT named
    sub.close()
    with pytest.raises(ClosedError) as closed:
        sub.sink.get()
    assert not isinstance(closed.value, StreamEnded) and "MAPI_E" not in str(closed.value)


def test_a_callback_dispatcher_ends_with_the_stream(offline: OfflineObject) -> None:
    with Sink(16) as sink:
        sub = offline.advise(sink, callback=lambda n: None)
        assert sub.dispatcher_alive is True
        sub.unadvise()  # the stream ends: the dispatcher finishes on its own
        other = offline.advise(sink, callback=lambda n: None)  # so the sink takes a callback again at once
        other.close()
        sub.close()
        assert sub.dispatcher_alive is False


# -- 7. dropped_before ---------------------------------------------------------------------------------------


def test_dropped_before_is_on_the_record_after_the_drops() -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 10, sequence=True)  # 0..3 fit, 4..9 are refused (the newest is refused)
        assert [(n.raw_old_state, n.dropped_before) for n in sink.drain()] == [(0, 0), (1, 0), (2, 0), (3, 0)]
        pump(sink.com_pointer, 1, sequence=True)
        n = sink.get(timeout=5)
        assert n.dropped_before == 6
        assert sink.stats.dropped_reported == sink.stats.dropped == 6


def test_dropped_before_equals_the_sequence_gap_with_one_producer() -> None:
    with Sink(8) as sink:
        handle = start_pump(sink.com_pointer, 50000, sequence=True)
        last, mismatches, got = -1, 0, 0
        while True:
            batch = sink.drain(3)
            for n in batch:
                seq = n.raw_old_state
                mismatches += n.dropped_before != seq - last - 1
                last, got = seq, got + 1
            if not batch and sink.stats.received == 50000:
                break
        handle.join()
        got += len(sink.drain())
        stats = sink.stats
    assert mismatches == 0
    assert got + stats.dropped == 50000


def test_with_several_producers_reported_plus_unreported_drops_equal_the_count() -> None:
    with Sink(16) as sink:
        handle = start_pump(sink.com_pointer, 20000, threads=4)
        reported = 0
        while sink.stats.received < 80000:
            reported += sum(n.dropped_before for n in sink.drain())
        handle.join()
        reported += sum(n.dropped_before for n in sink.drain())
        stats = sink.stats
    assert reported == stats.dropped_reported <= stats.dropped


# -- 8. spins ------------------------------------------------------------------------------------------------


def test_spin_has_a_documented_maximum() -> None:
    with Sink(4) as sink:
        for bad in (mapioffline.MAX_SPIN_US + 1, float("inf"), float("nan"), -1):
            with pytest.raises(ValueError, match="spin_us"):
                sink.get(timeout=0, spin_us=bad)


def test_a_spin_never_outlasts_the_timeout() -> None:
    with Sink(4) as sink:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            sink.get(timeout=0.01, spin_us=mapioffline.MAX_SPIN_US)
        assert time.monotonic() - start < 0.5  # a correctness bound (the spin asked for 1 s), not a speed claim


def test_ctrl_c_interrupts_a_spin() -> None:
    result = run_python("""
        import _thread, threading, time
        import mapioffline
        sink = mapioffline.Sink(4)
        threading.Timer(0.05, _thread.interrupt_main).start()
        start = time.monotonic()
        try:
            sink.get(spin_us=mapioffline.MAX_SPIN_US)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - start < 0.9)
        sink.close()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted True"


# -- 9. callbacks that raise anything ------------------------------------------------------------------------


@pytest.mark.parametrize("exception", [SystemExit, KeyboardInterrupt, RuntimeError, GeneratorExit])
def test_a_callback_raising_anything_is_logged_and_delivery_goes_on(
        offline: OfflineObject, exception: type[BaseException], caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Notification] = []

    def callback(n: Notification) -> None:
        seen.append(n)
        if n.kind is NotifyKind.STATECHANGE_START:
            raise exception()

    with caplog.at_level(logging.ERROR, logger="mapioffline"):
        with offline.advise(callback=callback) as sub:
            offline.set_state(State.OFFLINE)
            offline.set_state(State.ONLINE)
            assert sub.dispatcher_alive
    assert [n.kind for n in seen] == _KINDS * 2
    assert sum("callback raised" in r.getMessage() for r in caplog.records) == 2


def test_a_stuck_callback_is_visible_on_the_subscription(offline: OfflineObject) -> None:
    release, started = threading.Event(), threading.Event()
    sub = offline.advise(callback=lambda n: (started.set(), release.wait(10)))
    assert sub.callback_running_for is None
    offline.set_state(State.OFFLINE)
    assert started.wait(10)
    running_for = sub.callback_running_for
    assert running_for is not None and running_for >= 0
    release.set()
    sub.close()
    assert sub.callback_running_for is None and sub.dispatcher_alive is False


# -- 13. the CLI on a closed pipe ----------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell pipeline")
@pytest.mark.parametrize("args", ["demo", "demo --json"])
def test_the_cli_exits_at_once_when_its_output_pipe_closes(args: str) -> None:
    command = f"{sys.executable} -m mapioffline {args} | head -1; echo \"status=${{PIPESTATUS[0]}}\""
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "status=0"
    assert "Traceback" not in result.stderr and result.stderr == ""


# -- 14. argument checks and readable counters ----------------------------------------------------------------


def test_out_of_range_numbers_are_value_errors_and_wrong_types_type_errors() -> None:
    with Sink(4) as sink:
        with pytest.raises(ValueError, match="max_items"):
            sink.drain(2**70)
        with pytest.raises(TypeError, match="max_items"):
            sink.drain(1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="spin_us"):
            sink.get(0, spin_us="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timestamp_ns"):
        Notification(1, timestamp_ns=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropped_before"):
        Notification(1, dropped_before=2**64)


def test_last_state_after_a_done_with_state_zero_is_unknown_not_none() -> None:
    with Sink(4) as sink:
        pump(sink.com_pointer, 1, kind=NotifyKind.STATECHANGE_DONE, new_state=0)
        assert sink.last_state is State.UNKNOWN
        assert sink.raw_last_state == 0 and type(sink.raw_last_state) is int


# -- handing a sink from one callback subscription to the next (review findings) -----------------------------


def test_a_new_callback_subscription_never_feeds_the_previous_callback(offline: OfflineObject) -> None:
    first: list[Notification] = []
    second: list[Notification] = []
    with Sink(64) as sink:
        sub1 = offline.advise(sink, token=1, callback=first.append)
        offline.set_state(State.OFFLINE)
        sub1.unadvise()  # its dispatcher may still be handing over what is left
        sub2 = offline.advise(sink, token=2, callback=second.append)
        offline.set_state(State.ONLINE)
        sub2.close()
        sub1.close()
    assert [(n.client_token, n.kind) for n in first] == [(1, k) for k in _KINDS]
    assert [(n.client_token, n.kind) for n in second] == [(2, k) for k in _KINDS]


def test_a_plain_subscription_never_feeds_the_previous_callback(offline: OfflineObject) -> None:
    """Issue 19 item 7 (found by tests/test_stateful_bursts.py's model): after a callback subscription was
    unadvised, a plain subscription on the same sink gets its own records; the old dispatcher used to go on
    consuming the sink and handed them to the old callback (every time, when nothing was left to hand over)."""
    first: list[Notification] = []
    with Sink(64) as sink:
        sub1 = offline.advise(sink, token=1, callback=first.append)
        offline.set_state(State.OFFLINE)
        sub1.unadvise()  # its dispatcher may still be handing over what is left
        with offline.advise(sink, token=2):
            offline.set_state(State.ONLINE)
            assert [(n.client_token, n.kind) for n in sink.drain()] == [(2, k) for k in _KINDS]
        sub1.close()
    assert [(n.client_token, n.kind) for n in first] == [(1, k) for k in _KINDS]


def test_re_advising_a_sink_from_inside_its_retired_callback_is_a_clear_error() -> None:
    result = run_python("""
        import mapioffline
        from mapioffline import NotifyKind, State
        outcome = []
        with mapioffline.open_offline("readvise-inside", backend="embedded") as obj, mapioffline.Sink(16) as sink:
            def callback(n):
                if n.kind is NotifyKind.STATECHANGE_START:
                    sub.unadvise()
                    try:
                        obj.advise(sink, callback=print)
                    except ValueError as error:
                        outcome.append("from inside the previous one's callback" in str(error))
            sub = obj.advise(sink, callback=callback)
            obj.set_state(State.OFFLINE)
            sub.close()
        print(outcome)
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[True]"
