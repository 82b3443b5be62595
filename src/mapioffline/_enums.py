"""Flags and states, mirroring the C constants (users come from MAPI and compare bits)."""

from __future__ import annotations

import enum

__all__ = ["State", "Capability", "NotifyKind", "EndReason", "OFFLINE_MASK", "STATE_ALL", "FLAG_BLOCK"]

OFFLINE_MASK = 0x00000003
STATE_ALL = 0x003F037F
FLAG_BLOCK = 0x00002000


# The presentation types of format() that only numbers have.
_NUMBER_TYPES = frozenset("bcdoxXneEfFgG%")


# str(), format(), f-strings and print show a member's name on every Python: IntEnum and IntFlag changed their
# str/format in 3.11 (to the number) and IntFlag's again in 3.12, so each enum below sets both explicitly. repr
# stays the enum's own (<State.ONLINE: 2>). A format spec with a number type (f"{s:d}", f"{s:#x}") formats the
# number, any other spec (f"{s:>8}") the name. Plain functions rather than a mixin class: a mixin would have to
# redeclare enum's private attributes for the type checker.
def _str_by_name(member: enum.Enum) -> str:
    return member.name


def _format_by_name(member: enum.Enum, format_spec: str) -> str:
    if format_spec and format_spec[-1] in _NUMBER_TYPES:
        return format(member.value, format_spec)
    return format(str(member), format_spec)


class State(enum.IntEnum):
    """The connection state (MAPIOFFLINE_STATE_*).

    ``UNKNOWN`` (0) is not a MAPI value: it stands for any value other than OFFLINE and ONLINE that a foreign
    manager may report, so that a state is always a State (the number itself is in the ``raw_*`` accessors,
    e.g. ``Notification.raw_new_state``, ``OfflineObject.raw_state``)."""

    UNKNOWN = 0
    OFFLINE = 0x1
    ONLINE = 0x2

    __str__ = _str_by_name
    __format__ = _format_by_name


class Capability(enum.IntFlag):
    """What the offline object can report (MAPIOFFLINE_CAPABILITY_*). Prints as ``OFFLINE|ONLINE``."""

    OFFLINE = 0x1
    ONLINE = 0x2

    __format__ = _format_by_name

    def __str__(self) -> str:
        # The name of a combination differs across versions (3.10: "ONLINE|OFFLINE", 3.11+: "OFFLINE|ONLINE",
        # None for bits without a name): build it from the members, lowest bit first, and show unnamed bits
        # as a number.
        value = int(self)
        if value == 0:
            return "0"
        names = [member.name for member in type(self) if member.value & value == member.value and member.name]
        rest = value & ~sum(member.value for member in type(self))
        if rest:
            names.append(f"0x{rest:X}")
        return "|".join(names)


class NotifyKind(enum.IntEnum):
    """MAPIOFFLINE_NOTIFY_TYPE_*: a change is about to happen, is happening, has completed.

    ``UNKNOWN`` (0) is not a MAPI value: it stands for any other value a foreign manager may send, so that a
    kind is always a NotifyKind (the number itself is ``Notification.raw_kind``)."""

    UNKNOWN = 0
    STATECHANGE_START = 1
    STATECHANGE = 2
    STATECHANGE_DONE = 3

    __str__ = _str_by_name
    __format__ = _format_by_name


class EndReason(enum.Enum):
    """Why a stream ended (``Sink.end_reason``, ``Subscription.end_reason``; None while it goes on).

    ``UNADVISED``: every subscription feeding the sink was unadvised or closed. ``PUBLISHER_GONE``: the bridge
    publisher feeding it stopped or died. ``FAILED``: a feed failed for another reason. ``CLOSED``: the sink was
    closed while its stream went on. The values are the lower-case names (``EndReason("publisher_gone")``)."""

    UNADVISED = "unadvised"
    PUBLISHER_GONE = "publisher_gone"
    FAILED = "failed"
    CLOSED = "closed"

    __str__ = _str_by_name
