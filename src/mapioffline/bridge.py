"""The bridge: an offline object's state and notifications for every process of the same user.

A publisher writes each notification of an offline object into a per-profile shared-memory channel (Linux and
Windows); any number of subscribers in other processes follow it with ``open_offline(profile, backend="bridge")``
(or the default ``backend="auto"``), which gives an OfflineObject with the in-process API and every delivery mode.
``python -m mapioffline bridge publish --profile P`` runs ``publish(P)``; inside Outlook the native add-in
publishes Outlook's own object."""

from __future__ import annotations

from mapioffline import _core
from mapioffline._core import BridgePublisher, BridgeStats
from mapioffline._offline import OfflineObject

__all__ = ["publish", "stats", "BridgePublisher", "BridgeStats", "DEFAULT_RING_CAPACITY"]

#: Notifications a subscriber may fall behind by before it loses the oldest ones, unless publish() is told
#: otherwise.
DEFAULT_RING_CAPACITY = 4096


def publish(
    profile: str,
    source: OfflineObject | None = None,
    *,
    allow_set_state: bool = False,
    ring_capacity: int = DEFAULT_RING_CAPACITY,
) -> BridgePublisher:
    """Publishes ``source`` (default: the embedded object of ``profile``) as the channel of ``profile`` until the
    returned BridgePublisher is stopped (it is a context manager). The publisher holds its own reference on
    ``source``. ``allow_set_state`` lets subscribers change the state through the bridge (off by default: their
    ``set_state`` raises NotSupported). ``ring_capacity``: how many notifications a subscriber may fall behind by
    before it loses the oldest ones (told in ``dropped_before``); a power of two from 2 to 1,048,576 (0 also means
    DEFAULT_RING_CAPACITY).

    Raises MapiError (MAPI_E_CALL_FAILED) when a live publisher already publishes ``profile``, NotSupported where
    the bridge does not exist (it does on Linux and Windows), TypeError/ValueError for bad arguments
    (InvalidArgument for a name that is not a valid profile name: 1 to 255 UTF-16 code units, no unpaired
    surrogate)."""
    if not isinstance(profile, str):
        raise TypeError(f"profile must be a str, not {type(profile).__name__}")
    if not isinstance(allow_set_state, bool):
        raise TypeError(f"allow_set_state must be a bool, not {type(allow_set_state).__name__}")
    if source is None:
        source = _core._open_embedded(OfflineObject, profile)
        try:
            return BridgePublisher._start(source, profile, allow_set_state, ring_capacity)
        finally:
            source.close()  # the publisher holds its own reference
    return BridgePublisher._start(source, profile, allow_set_state, ring_capacity)


def stats(offline: OfflineObject) -> BridgeStats:
    """Counters of an OfflineObject opened with the bridge backend (a BridgeStats: records received, lost to
    gaps, the publisher's pid, the ring's capacity, whether the publisher is gone, whether it accepts set_state).

    Raises InvalidArgument for an object of another backend, ClosedError when it is closed."""
    return _core._bridge_stats(offline)
