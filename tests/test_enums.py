"""Flags, states and kinds mirror the C constants (spec values), with readable names."""

from __future__ import annotations

import enum

import mapioffline
from mapioffline import FLAG_BLOCK, OFFLINE_MASK, STATE_ALL, Capability, NotifyKind, State


def test_constant_values() -> None:
    assert OFFLINE_MASK == 0x00000003
    assert STATE_ALL == 0x003F037F
    assert FLAG_BLOCK == 0x00002000


def test_state() -> None:
    assert issubclass(State, enum.IntEnum)
    assert (State.OFFLINE, State.ONLINE) == (1, 2)
    assert State(2) is State.ONLINE
    assert repr(State.OFFLINE) == "<State.OFFLINE: 1>"


def test_capability_is_a_flag() -> None:
    assert issubclass(Capability, enum.IntFlag)
    both = Capability.OFFLINE | Capability.ONLINE
    assert both == 3 and Capability.ONLINE in both
    assert Capability(3) == both
    assert "OFFLINE" in repr(both) and "ONLINE" in repr(both)


def test_notify_kind() -> None:
    assert issubclass(NotifyKind, enum.IntEnum)
    assert [m.name for m in NotifyKind] == ["STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"]
    assert [int(m) for m in NotifyKind] == [1, 2, 3]


def test_public_names() -> None:
    for name in mapioffline.__all__:
        assert hasattr(mapioffline, name), name
    assert mapioffline.__version__ == mapioffline._core.CORE_VERSION
