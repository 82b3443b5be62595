"""Flags, states and kinds mirror the C constants (spec values), with readable names."""

from __future__ import annotations

import enum

import pytest

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
    assert [m.name for m in NotifyKind] == ["UNKNOWN", "STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"]
    assert [int(m) for m in NotifyKind] == [0, 1, 2, 3]


def test_public_names() -> None:
    for name in mapioffline.__all__:
        assert hasattr(mapioffline, name), name
    assert mapioffline.__version__ == mapioffline._core.CORE_VERSION


# -- printed by name on every Python (3.11 changed IntEnum's str/format to the number; we pin the name) ---------


@pytest.mark.parametrize(
    ("member", "name"),
    [(State.OFFLINE, "OFFLINE"), (State.ONLINE, "ONLINE"), (State.UNKNOWN, "UNKNOWN"),
     (NotifyKind.STATECHANGE_START, "STATECHANGE_START"), (NotifyKind.STATECHANGE_DONE, "STATECHANGE_DONE"),
     (Capability.OFFLINE, "OFFLINE"), (Capability.OFFLINE | Capability.ONLINE, "OFFLINE|ONLINE")],
)
def test_str_format_fstring_and_print_show_the_name(
    member: enum.Enum, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert str(member) == name
    assert format(member) == name
    assert f"{member}" == name
    assert "{}".format(member) == name
    assert "%s" % member == name
    print(member, f"[{member:>20}]")
    assert capsys.readouterr().out == f"{name} [{name:>20}]\n"


def test_number_format_specs_still_give_the_number() -> None:
    both = Capability.OFFLINE | Capability.ONLINE
    assert (f"{State.ONLINE:d}", f"{both:#x}", f"{NotifyKind.STATECHANGE_DONE:02d}") == ("2", "0x3", "03")
    assert "%d" % State.OFFLINE == "1"


def test_capability_names_in_bit_order_and_unnamed_bits_as_a_number() -> None:
    assert str(Capability.ONLINE | Capability.OFFLINE) == "OFFLINE|ONLINE"
    assert str(Capability(0)) == "0"
    assert str(Capability(0x5)) == "OFFLINE|0x4"


def test_repr_stays_the_enums_own() -> None:
    assert repr(NotifyKind.STATECHANGE) == "<NotifyKind.STATECHANGE: 2>"


def test_unknown_is_zero_and_not_a_mapi_value() -> None:
    assert State.UNKNOWN == 0 and NotifyKind.UNKNOWN == 0
    with mapioffline.open_offline("enum-unknown", backend="embedded") as offline, pytest.raises(ValueError):
        offline.set_state(State.UNKNOWN)
