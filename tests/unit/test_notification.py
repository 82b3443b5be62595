"""Notification: an immutable record; unknown kinds and states read as UNKNOWN and keep their numbers (raw_*)."""

from __future__ import annotations

import copy
import json
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
def test_an_unknown_kind_reads_as_unknown_and_keeps_its_number(kind: int) -> None:
    n = Notification(kind)
    assert n.kind is NotifyKind.UNKNOWN
    assert n.raw_kind == kind and type(n.raw_kind) is int
    assert not n.is_state_change


@pytest.mark.parametrize("state", [0, 3, 0x10])
def test_an_unknown_state_reads_as_unknown_and_keeps_its_number(state: int) -> None:
    n = Notification(NotifyKind.STATECHANGE, old_state=1, new_state=state)
    assert n.old_state is State.OFFLINE and n.raw_old_state == 1
    assert n.new_state is State.UNKNOWN
    assert n.raw_new_state == state and type(n.raw_new_state) is int


def test_known_values_are_the_members_and_raw_the_same_numbers() -> None:
    n = Notification(NotifyKind.STATECHANGE_DONE, old_state=State.ONLINE, new_state=State.OFFLINE)
    assert (n.kind, n.old_state, n.new_state) == (NotifyKind.STATECHANGE_DONE, State.ONLINE, State.OFFLINE)
    assert (n.raw_kind, n.raw_old_state, n.raw_new_state) == (3, 2, 1)
    assert all(type(v) is int for v in (n.raw_kind, n.raw_old_state, n.raw_new_state))


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


# -- to_dict: names and numbers, JSON-serialisable ----------------------------------------------------------------


def test_to_dict_has_every_field_with_names_and_numbers() -> None:
    n = Notification(NotifyKind.STATECHANGE_DONE, client_token=7, mask=0x3, old_state=State.ONLINE,
                     new_state=State.OFFLINE, timestamp_ns=123, dropped_before=4)
    assert n.to_dict() == {
        "kind": "STATECHANGE_DONE", "kind_value": 3, "client_token": 7, "mask": 3,
        "old_state": "ONLINE", "old_state_value": 2, "new_state": "OFFLINE", "new_state_value": 1,
        "timestamp_ns": 123, "dropped_before": 4,
    }
    assert json.loads(json.dumps(n.to_dict())) == n.to_dict()
    # The plain types JSON knows, not enum members (json would write those as numbers).
    assert all(type(v) in (str, int) for v in n.to_dict().values())


def test_to_dict_of_unknown_values_keeps_the_numbers() -> None:
    d = Notification(99, old_state=0, new_state=0x10).to_dict()
    assert (d["kind"], d["kind_value"]) == ("UNKNOWN", 99)
    assert (d["old_state"], d["old_state_value"], d["new_state"], d["new_state_value"]) == ("UNKNOWN", 0, "UNKNOWN", 16)


def test_to_dict_round_trips_through_the_constructor() -> None:
    n = Notification(2, client_token=1, mask=0x300, old_state=5, new_state=2, timestamp_ns=9, dropped_before=1)
    d = n.to_dict()
    again = Notification(d["kind_value"], d["client_token"], d["mask"], d["old_state_value"], d["new_state_value"],
                         d["timestamp_ns"], d["dropped_before"])
    assert again == n
