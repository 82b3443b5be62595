"""Subscription: advise()/unadvise() as a context manager, sink ownership, tokens, bad inputs."""

from __future__ import annotations

import threading

import pytest

from mapioffline import (
    ClosedError,
    NotifyKind,
    OfflineObject,
    Sink,
    State,
    Subscription,
    open_offline,
)
from mapioffline.testing import com_refcount, live_offline_objects


def test_advise_returns_an_active_subscription(offline: OfflineObject) -> None:
    with offline.advise(token=7) as sub:
        assert isinstance(sub, Subscription)
        assert sub.active
        assert sub.advise_token != 0
        assert sub.client_token == 7
        assert isinstance(sub.sink, Sink) and not sub.sink.closed
        assert "active" in repr(sub)
    assert not sub.active
    assert sub.advise_token == 0
    assert "closed" in repr(sub)


def test_advise_tokens_are_nonzero_increasing_never_reused(offline: OfflineObject) -> None:
    tokens = []
    for _ in range(5):
        with offline.advise() as sub:
            tokens.append(sub.advise_token)
    assert all(t > 0 for t in tokens)
    assert tokens == sorted(set(tokens))


def test_unadvise_stops_delivery_but_leaves_an_owned_sink_open(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        offline.set_state(State.OFFLINE)
        sub.unadvise()
        sub.unadvise()  # idempotent
        assert not sub.active and "unadvised" in repr(sub)
        offline.set_state(State.ONLINE)
        assert not sub.sink.closed
        got = sub.sink.drain()
        assert [n.new_state for n in got] == [State.OFFLINE] * 3  # what arrived before unadvise, nothing after
        assert sub.sink.stats.received == 3
    assert sub.sink.closed  # leaving the with block closes the sink advise() made


def test_close_closes_an_owned_sink_and_is_idempotent(offline: OfflineObject) -> None:
    sub = offline.advise()
    sink = sub.sink
    sub.close()
    sub.close()
    assert sink.closed
    with pytest.raises(ClosedError):
        sub.__enter__()


def test_a_sink_passed_in_is_never_closed_by_the_subscription(offline: OfflineObject) -> None:
    with Sink(16) as sink:
        with offline.advise(sink, token=4) as sub:
            assert sub.sink is sink
            offline.set_state(State.OFFLINE)
        assert not sink.closed
        assert [n.client_token for n in sink.drain()] == [4, 4, 4]
        # The same sink may be advised again (or twice at once).
        with offline.advise(sink, token=1) as a, offline.advise(sink, token=2) as b:
            assert a.advise_token != b.advise_token
            offline.set_state(State.ONLINE)
        assert sorted(n.client_token for n in sink.drain()) == [1, 1, 1, 2, 2, 2]


def test_capacity_applies_when_advise_creates_the_sink(offline: OfflineObject) -> None:
    with offline.advise(capacity=2) as sub:
        assert sub.sink.capacity == 2
        offline.set_state(State.OFFLINE)
        assert sub.sink.stats.dropped == 1
        assert sub.sink.last_state is State.OFFLINE  # even though the DONE itself was dropped
        assert [n.kind for n in sub.sink.drain()] == [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE]
    with Sink(8) as sink, offline.advise(sink, capacity=2) as sub:
        assert sub.sink.capacity == 8  # ignored for a sink passed in


def test_iteration_ends_once_unadvised_and_drained(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        offline.set_state(State.OFFLINE)
        sub.unadvise()
        assert [n.kind for n in sub.sink] == [
            NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]


def test_unadvise_wakes_a_blocked_iterator(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.extend(sub.sink))
        thread.start()
        offline.set_state(State.OFFLINE)
        sub.unadvise()
        thread.join(10)
        assert not thread.is_alive()
        assert len(seen) == 3


def test_a_subscription_keeps_its_object_alive(profile: str) -> None:
    baseline = live_offline_objects()
    obj = open_offline(profile, backend="embedded")
    obj.set_state(State.OFFLINE)
    sub = obj.advise()
    obj.close()
    assert live_offline_objects() == baseline + 1
    with open_offline(profile, backend="embedded") as again:
        assert again.state is State.OFFLINE  # the same object, not a fresh ONLINE one
        again.set_state(State.ONLINE)
    assert len(sub.sink.drain()) == 3  # still delivered to
    sub.close()
    assert live_offline_objects() == baseline


def test_unadvise_releases_the_managers_reference_on_a_passed_sink(offline: OfflineObject) -> None:
    with Sink(4) as sink:
        assert com_refcount(sink.com_pointer) == 1
        sub = offline.advise(sink)
        assert com_refcount(sink.com_pointer) == 2
        sub.unadvise()
        assert com_refcount(sink.com_pointer) == 1
        sub.close()
        assert com_refcount(sink.com_pointer) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"sink": 5}, TypeError),
        ({"sink": "sink"}, TypeError),
        ({"token": -1}, ValueError),
        ({"token": 2**32}, ValueError),
        ({"token": "1"}, TypeError),
        ({"token": 1.0}, TypeError),
        ({"token": True}, TypeError),
        ({"capacity": 0}, ValueError),
        ({"capacity": "8"}, TypeError),
        ({"callback": 5}, TypeError),
        ({"callback": "print"}, TypeError),
    ],
)
def test_advise_bad_arguments(offline: OfflineObject, kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        offline.advise(**kwargs)  # type: ignore[arg-type]


def test_advise_a_closed_sink_raises_closed_error(offline: OfflineObject) -> None:
    sink = Sink(4)
    sink.close()
    with pytest.raises(ClosedError):
        offline.advise(sink)


def test_advise_on_a_closed_object_raises_closed_error(profile: str) -> None:
    obj = open_offline(profile, backend="embedded")
    obj.close()
    with pytest.raises(ClosedError):
        obj.advise()


def test_cannot_be_constructed_directly() -> None:
    with pytest.raises(TypeError, match="advise"):
        Subscription()


def test_unadvise_after_the_object_was_closed(profile: str) -> None:
    """The subscription holds its own reference, so unadvising after the user closed theirs still works."""
    obj = open_offline(profile, backend="embedded")
    sub = obj.advise()
    obj.close()
    sub.unadvise()
    sub.close()
