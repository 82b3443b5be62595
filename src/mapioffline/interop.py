"""ctypes mirrors of the header's structures, for code that calls the COM interfaces itself (ctypes, comtypes,
pywin32 with ctypes): ``MAPIOFFLINE_ADVISEINFO`` for your own ``Advise`` call, ``MAPIOFFLINE_NOTIFY`` as a sink
receives it, and ``MAPIOFFLINE_RECORD``, one raw record of ``Sink.drain_into`` (little-endian, 32 bytes).

The layouts are the header's on 32- and 64-bit alike: ctypes applies the platform's C alignment, as the compiler
does for the header (the tests compare both against offsets the C compiler reports for each pointer size).
Structures are only data: whether ctypes can also *call* our COM methods here (not on i386 Linux, where they are
stdcall) is decided in one place, ``mapioffline._ctypes_abi``.

An array of records is a buffer ``drain_into`` fills in place::

    records = (MAPIOFFLINE_RECORD * 64)()
    count = sink.drain_into(records)
    for record in records[:count]:
        print(record.notify.NotifyType, record.notify.Info.StateChange.ulStateNew, record.timestamp_ns)
"""

from __future__ import annotations

import ctypes
from typing import Any

from mapioffline import _core

__all__ = [
    "ULONG",
    "MAPIOFFLINE_CALLBACK_TYPE_NOTIFY",
    "MAPIOFFLINE_ADVISE_TYPE_STATECHANGE",
    "MAPIOFFLINE_ADVISEINFO",
    "MAPIOFFLINE_STATECHANGE",
    "MAPIOFFLINE_NOTIFY_INFO",
    "MAPIOFFLINE_NOTIFY",
    "MAPIOFFLINE_RECORD",
]

#: Windows' ULONG is 32-bit on every Windows ABI (and so in the header everywhere); ctypes.c_ulong is 64-bit on
#: 64-bit Linux, hence the fixed-width type.
ULONG = ctypes.c_uint32
#: The header's enums are int-sized (C) and int-based (C++): a 32-bit field.
_ENUM = ctypes.c_int32

#: ``CallbackType`` and ``ulAdviseTypes`` values (from the header, through the binding).
MAPIOFFLINE_CALLBACK_TYPE_NOTIFY: int = _core.CALLBACK_TYPE_NOTIFY
MAPIOFFLINE_ADVISE_TYPE_STATECHANGE: int = _core.ADVISE_TYPE_STATECHANGE


def _advise_info_fields(pointer: Any) -> list[tuple[str, Any]]:
    # ``pointer`` is the pointer-sized field type: c_void_p here; the layout tests pass a 32-bit stand-in to
    # check the 32-bit layout on a 64-bit interpreter.
    return [
        ("ulSize", ULONG),
        ("ulClientToken", ULONG),
        ("CallbackType", _ENUM),
        ("pCallback", pointer),  # IUnknown*: your IMAPIOfflineNotify, e.g. Sink.com_pointer
        ("ulAdviseTypes", ULONG),
        ("ulStateMask", ULONG),
    ]


class MAPIOFFLINE_ADVISEINFO(ctypes.Structure):
    """The second argument of ``IMAPIOfflineMgr::Advise``. ``ulSize`` must be ``ctypes.sizeof(...)`` (24 bytes on
    32-bit, 32 on 64-bit); set ``pCallback`` to ``Sink.com_pointer``."""

    # What reading a field gives (ctypes makes the descriptors from _fields_; these are for type checkers).
    ulSize: int
    ulClientToken: int
    CallbackType: int
    pCallback: int | None
    ulAdviseTypes: int
    ulStateMask: int
    _fields_ = _advise_info_fields(ctypes.c_void_p)


class MAPIOFFLINE_STATECHANGE(ctypes.Structure):
    """``MAPIOFFLINE_NOTIFY.Info.StateChange``."""

    ulMask: int
    ulStateOld: int
    ulStateNew: int
    _fields_ = [("ulMask", ULONG), ("ulStateOld", ULONG), ("ulStateNew", ULONG)]


class MAPIOFFLINE_NOTIFY_INFO(ctypes.Union):
    """``MAPIOFFLINE_NOTIFY.Info`` (a union with one member in the header)."""

    StateChange: MAPIOFFLINE_STATECHANGE
    _fields_ = [("StateChange", MAPIOFFLINE_STATECHANGE)]


class MAPIOFFLINE_NOTIFY(ctypes.Structure):
    """What ``IMAPIOfflineNotify::Notify`` receives (24 bytes on every ABI); ``ulSize`` is its size."""

    ulSize: int
    NotifyType: int
    ulClientToken: int
    Info: MAPIOFFLINE_NOTIFY_INFO
    _fields_ = [("ulSize", ULONG), ("NotifyType", _ENUM), ("ulClientToken", ULONG), ("Info", MAPIOFFLINE_NOTIFY_INFO)]


class MAPIOFFLINE_RECORD(ctypes.Structure):
    """One raw record of ``Sink.drain_into``, as the header's MAPIOFFLINE_RECORD: ``notify`` (the
    MAPIOFFLINE_NOTIFY), then ``timestamp_ns``; 32 bytes, no padding, the field order of
    ``mapioffline.RECORD_FORMAT`` (``"<6IQ"``). Every platform the package builds for is little-endian, so the
    native layout is the format's."""

    notify: MAPIOFFLINE_NOTIFY
    timestamp_ns: int
    _fields_ = [("notify", MAPIOFFLINE_NOTIFY), ("timestamp_ns", ctypes.c_uint64)]
