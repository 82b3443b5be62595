"""Test support shipped in the wheel: a native pump that calls Notify through the vtable of any IMAPIOfflineNotify
from native threads (as Outlook would), and the live-object counters. For our tests and benchmarks and yours."""

from __future__ import annotations

from mapioffline._core import PumpHandle, _com_refcount, _start_pump, live_offline_objects, live_sinks
from mapioffline._enums import OFFLINE_MASK, NotifyKind, State

__all__ = ["pump", "start_pump", "PumpHandle", "com_refcount", "live_sinks", "live_offline_objects", "NOTIFY_SIZE"]

# sizeof(MAPIOFFLINE_NOTIFY), the ulSize an honest caller of Notify passes: not mapioffline.RECORD_SIZE (32), the
# size of a record as our sinks store and hand it out (the notification plus its timestamp).
NOTIFY_SIZE = 24


def start_pump(
    com_pointer: int,
    count: int,
    *,
    threads: int = 1,
    kind: int = NotifyKind.STATECHANGE_DONE,
    client_token: int = 0,
    mask: int = OFFLINE_MASK,
    old_state: int = State.ONLINE,
    new_state: int = State.OFFLINE,
    size: int = NOTIFY_SIZE,
    null: bool = False,
    sequence: bool = False,
) -> PumpHandle:
    """Starts ``threads`` native threads, each calling ``Notify`` ``count`` times on the IMAPIOfflineNotify at
    ``com_pointer`` (which must stay valid: the pump holds a reference while it runs). Any field may be set,
    unknown kinds included; ``size`` below NOTIFY_SIZE (24) makes short records, ``null=True`` passes a NULL pointer;
    ``sequence=True`` puts the producer index in client_token and a per-producer sequence in old_state.
    Returns a PumpHandle: ``join()`` waits and returns the producers' wall time in ns; like every handle it is a
    context manager (leaving the ``with`` block joins), and one collected unjoined warns (ResourceWarning)."""
    return _start_pump(
        com_pointer, threads, count, kind=kind, client_token=client_token, mask=mask, old_state=old_state,
        new_state=new_state, size=size, null=null, sequence=sequence,
    )


def pump(com_pointer: int, count: int, **kwargs: object) -> int:
    """Like start_pump(), then join(): returns the producers' wall time in ns (the GIL is released meanwhile)."""
    return start_pump(com_pointer, count, **kwargs).join()  # type: ignore[arg-type]


def com_refcount(com_pointer: int) -> int:
    """The COM reference count of the object at ``com_pointer`` (AddRef then Release through its vtable)."""
    return _com_refcount(com_pointer)
