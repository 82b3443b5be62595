"""Flags and states, mirroring the C constants (users come from MAPI and compare bits)."""

from __future__ import annotations

import enum

__all__ = ["State", "Capability", "NotifyKind", "OFFLINE_MASK", "STATE_ALL", "FLAG_BLOCK"]

OFFLINE_MASK = 0x00000003
STATE_ALL = 0x003F037F
FLAG_BLOCK = 0x00002000


class State(enum.IntEnum):
    """The connection state (MAPIOFFLINE_STATE_*)."""

    OFFLINE = 0x1
    ONLINE = 0x2


class Capability(enum.IntFlag):
    """What the offline object can report (MAPIOFFLINE_CAPABILITY_*)."""

    OFFLINE = 0x1
    ONLINE = 0x2


class NotifyKind(enum.IntEnum):
    """MAPIOFFLINE_NOTIFY_TYPE_*: a change is about to happen, is happening, has completed."""

    STATECHANGE_START = 1
    STATECHANGE = 2
    STATECHANGE_DONE = 3
