"""Notification: an immutable record; unknown kinds and states stay plain ints."""

from __future__ import annotations

import copy
import pickle
import time

import pytest

from mapioffline import OFFLINE_MASK, Notification, NotifyKind, Sink, State
from mapioffline.testing import pump


def test_fields_and_enum_conversion() -> None:
    n = Notification(NotifyKind.STATECHANGE_DONE, 7, OFFLINE_MASK, State.ONLINE, State.OFFLINE, 123, 4)
    assert n.kind is NotifyKind.STATECHANGE_DONE
    assert n.client_token == 7
    assert n.mask == OFFLINE_MASK
    assert n.old_state is State.ONLINE
    assert n.new_state is State.OFFLINE
    assert n.timestamp_ns == 123
    assert n.dropped_before == 4
    assert n.is_state_change


def test_plain_ints_become_enums_when_known() -> None:
    n = Notification(1, old_state=1, new_state=2)
    assert n.kind is NotifyKind.STATECHANGE_START
    assert (n.old_state, n.new_state) == (State.OFFLINE, State.ONLINE)


@pytest.mark.parametrize("kind", [0, 4, 99, 0xFFFFFFFF])
def test_unknown_kind_stays_an_int(kind: int) -> None:
    n = Notification(kind)
    assert n.kind == kind
    assert type(n.kind) is int
    assert not n.is_state_change


@pytest.mark.parametrize("state", [0, 3, 0x10])
def test_unknown_state_stays_an_int(state: int) -> None:
    n = Notification(NotifyKind.STATECHANGE, old_state=state, new_state=state)
    assert type(n.old_state) is int and n.old_state == state
    assert type(n.new_state) is int and n.new_state == state


def test_other_mask_is_not_a_trusted_state_change() -> None:
    assert not Notification(NotifyKind.STATECHANGE_DONE, mask=0x1).is_state_change


@pytest.mark.parametrize("field", ["kind", "client_token", "mask", "old_state", "new_state", "timestamp_ns",
                                   "dropped_before", "is_state_change"])
def test_immutable(field: str) -> None:
    n = Notification(1)
    with pytest.raises(AttributeError):
        setattr(n, field, 2)
    with pytest.raises(AttributeError):
        n.extra = 1  # type: ignore[attr-defined]


def test_equality_hash_pickle_copy() -> None:
    a = Notification(3, 1, 3, 2, 1, 5, 0)
    b = Notification(3, 1, 3, 2, 1, 5, 0)
    assert a == b and hash(a) == hash(b)
    assert a != Notification(3, 1, 3, 2, 1, 6, 0)
    assert a != (3, 1, 3, 2, 1, 5, 0)
    assert len({a, b}) == 1
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.copy(a) == a and copy.deepcopy(a) == a


def test_repr_names_enum_members() -> None:
    text = repr(Notification(NotifyKind.STATECHANGE_DONE, 7, 3, State.ONLINE, State.OFFLINE, 1, 0))
    assert text.startswith("Notification(kind=NotifyKind.STATECHANGE_DONE, client_token=7, mask=0x3, ")
    assert "old_state=State.ONLINE, new_state=State.OFFLINE" in text
    assert "kind=9" in repr(Notification(9))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "1"}, TypeError),
        ({"kind": 1.0}, TypeError),
        ({"kind": None}, TypeError),
        ({"kind": True}, TypeError),
        ({"kind": -1}, ValueError),
        ({"kind": 2**32}, ValueError),
        ({"kind": 1, "client_token": "7"}, TypeError),
        ({"kind": 1, "mask": 2**32}, ValueError),
        ({"kind": 1, "old_state": 1.5}, TypeError),
        ({"kind": 1, "new_state": -2}, ValueError),
        ({"kind": 1, "timestamp_ns": -1}, ValueError),
        ({"kind": 1, "dropped_before": -1}, ValueError),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Notification(**kwargs)  # type: ignore[arg-type]


def test_timestamp_is_on_the_perf_counter_clock() -> None:
    with Sink(4) as sink:
        before = time.perf_counter_ns()
        pump(sink.com_pointer, 1)
        after = time.perf_counter_ns()
        n = sink.get(timeout=5)
    assert before <= n.timestamp_ns <= after
