"""advise(callback=...): delivery on a dispatcher thread, errors logged, unadvise/close from inside and outside."""

from __future__ import annotations

import logging
import threading

import pytest

from mapioffline import Notification, NotifyKind, OfflineObject, Sink, State

_KINDS = [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]


class Collector:
    """A callback that records notifications and the thread it ran on, and signals after ``expect`` of them."""

    def __init__(self, expect: int) -> None:
        self.items: list[Notification] = []
        self.threads: set[str] = set()
        self.expect = expect
        self.done = threading.Event()

    def __call__(self, n: Notification) -> None:
        self.items.append(n)
        self.threads.add(threading.current_thread().name)
        if len(self.items) >= self.expect:
            self.done.set()


def test_notifications_are_delivered_one_by_one_in_order_on_a_dispatcher_thread(offline: OfflineObject) -> None:
    collect = Collector(6)
    with offline.advise(token=9, callback=collect) as sub:
        offline.set_state(State.OFFLINE)
        offline.set_state(State.ONLINE, block=False)
        assert collect.done.wait(10)
    assert [n.kind for n in collect.items] == _KINDS * 2
    assert {n.client_token for n in collect.items} == {9}
    assert [n.new_state for n in collect.items] == [State.OFFLINE] * 3 + [State.ONLINE] * 3
    assert len(collect.threads) == 1
    assert collect.threads != {threading.current_thread().name}
    assert sub.sink.closed


def test_a_second_callback_subscription_on_one_sink_is_refused(offline: OfflineObject) -> None:
    with Sink(16) as sink:
        with offline.advise(sink, callback=lambda n: None):
            with pytest.raises(ValueError, match="already has a callback subscription"):
                offline.advise(sink, callback=lambda n: None)
            with offline.advise(sink):  # a plain subscription may share it: the dispatcher consumes both feeds
                pass
        # Once the first one is closed, the sink takes a callback again.
        got = Collector(3)
        with offline.advise(sink, callback=got):
            offline.set_state(State.OFFLINE)
        assert [n.kind for n in got.items] == _KINDS


def test_callback_exceptions_are_logged_and_delivery_goes_on(offline: OfflineObject,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    collect = Collector(3)

    def callback(n: Notification) -> None:
        collect(n)
        if n.kind is NotifyKind.STATECHANGE_START:
            raise RuntimeError("boom in the callback")

    with caplog.at_level(logging.ERROR, logger="mapioffline"):
        with offline.advise(callback=callback):
            offline.set_state(State.OFFLINE)
            assert collect.done.wait(10)
    assert [n.kind for n in collect.items] == _KINDS
    errors = [r for r in caplog.records if r.name == "mapioffline" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and "boom in the callback" in str(errors[0].exc_info[1])


def test_unadvise_from_inside_the_callback(offline: OfflineObject) -> None:
    called = threading.Event()
    seen: list[Notification] = []

    def callback(n: Notification) -> None:
        seen.append(n)
        sub.unadvise()
        called.set()

    sub = offline.advise(callback=callback)
    try:
        offline.set_state(State.OFFLINE)
        assert called.wait(10)
        assert not sub.active
        offline.set_state(State.ONLINE)  # no longer delivered
    finally:
        sub.close()
    # What had already arrived before unadvise may still be dispatched, nothing from the second change.
    assert 1 <= len(seen) <= 3
    assert all(n.new_state is State.OFFLINE for n in seen)


def test_close_from_inside_the_callback(offline: OfflineObject) -> None:
    closed = threading.Event()
    seen: list[Notification] = []

    def callback(n: Notification) -> None:
        seen.append(n)
        sub.close()  # must not deadlock by joining its own thread
        closed.set()

    sub = offline.advise(callback=callback)
    offline.set_state(State.OFFLINE)
    assert closed.wait(10)
    assert not sub.active  # unadvised at once, from inside the callback
    # From inside the callback close() could not wait: the dispatcher closes the sink after the callback returns.
    # A close() from outside waits for exactly that, and is idempotent otherwise.
    assert sub.close()
    assert sub.sink.closed
    # Whatever reached the sink before the close (START, and STATECHANGE/DONE if they were pushed before the
    # callback unadvised) was handed over after the callback returned: nothing left behind, in order.
    stats = sub.sink.stats
    assert [n.kind for n in seen] == _KINDS[:stats.received]
    assert stats.pending == 0 and stats.dropped == 0


def test_close_from_elsewhere_waits_for_a_running_callback(offline: OfflineObject) -> None:
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def callback(n: Notification) -> None:
        started.set()
        release.wait(10)
        finished.set()

    sub = offline.advise(callback=callback)
    offline.set_state(State.OFFLINE)
    assert started.wait(10)
    closer = threading.Thread(target=sub.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # still waiting: the callback is running
    assert not finished.is_set()
    release.set()
    closer.join(10)
    assert not closer.is_alive()
    assert finished.is_set()  # close() returned only after the callback finished


def test_set_state_blocking_does_not_wait_for_callbacks(offline: OfflineObject) -> None:
    release = threading.Event()
    seen: list[Notification] = []

    def callback(n: Notification) -> None:
        release.wait(10)
        seen.append(n)

    with offline.advise(callback=callback):
        setter = threading.Thread(target=offline.set_state, args=(State.OFFLINE,))
        setter.start()
        setter.join(10)
        assert not setter.is_alive()  # returned while the callback is still held
        assert seen == []
        release.set()


def test_callback_with_a_passed_sink_leaves_it_open(offline: OfflineObject) -> None:
    collect = Collector(3)
    with Sink(8) as sink:
        with offline.advise(sink, callback=collect):
            offline.set_state(State.OFFLINE)
            assert collect.done.wait(10)
        assert not sink.closed


def test_the_callback_may_change_the_state(offline: OfflineObject) -> None:
    """A callback runs on the dispatcher thread, not inside Notify, so it may call set_state itself."""
    changed = threading.Event()
    collect = Collector(6)

    def callback(n: Notification) -> None:
        collect(n)
        if n.kind is NotifyKind.STATECHANGE_DONE and n.new_state is State.OFFLINE:
            # The blocking call that sent DONE may still be handing it to other sinks: this one is queued behind it
            # and carried out right after (spec 7.4, refinement 0.2), never Pending.
            offline.set_state(State.ONLINE)
            changed.set()

    with offline.advise(callback=callback):
        offline.set_state(State.OFFLINE)
        assert changed.wait(10)
        assert collect.done.wait(10)
    assert offline.state is State.ONLINE
