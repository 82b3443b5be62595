"""The bridge: an offline object's state and notifications for every process of the user, through a per-profile
shared-memory channel (ext/src/channel/). ``publish()`` runs the publishing end in this process;
``open_bridge()`` (``open_offline(P, backend="bridge")``) gives an OfflineObject over the channel, with the
in-process API and every delivery mode."""

from __future__ import annotations

import sys

from mapioffline import _core
from mapioffline._core import BridgePublisher, BridgeStats
from mapioffline._names import as_argument, shown
from mapioffline._offline import OfflineObject
from mapioffline.errors import NotFound

__all__ = ["BridgePublisher", "BridgeStats", "publish", "open_bridge", "open_bridge_if_running", "publisher_running", "stats"]


def _how_to_publish(profile: str) -> str:
    if sys.platform == "win32":
        return (
            "install the Outlook add-in that publishes it (`python -m mapioffline addin install`, then restart "
            f"Outlook), or run `python -m mapioffline bridge publish --profile {as_argument(profile)}` for the "
            "embedded object"
        )
    return f"start one with `python -m mapioffline bridge publish --profile {as_argument(profile)}`"


def open_bridge(profile: str) -> OfflineObject:
    """An OfflineObject (``backend == "bridge"``) following the publisher of ``profile`` in another process.

    Raises NotFound (with what to run) when no publisher runs for ``profile``, MapiError when the channel fails
    validation or is not this user's own."""
    address, error = _core._open_bridge_pointer(profile)
    if address is None:
        if isinstance(error, NotFound):
            raise NotFound(f"no bridge publisher runs for profile {shown(profile)}: {_how_to_publish(profile)}") from None
        assert error is not None
        raise error
    return _core._adopt_bridge(OfflineObject, address, profile)


def open_bridge_if_running(profile: str) -> OfflineObject | None:
    """The bridge OfflineObject when a live publisher publishes ``profile``, else None (backend="auto")."""
    address, _ = _core._open_bridge_pointer(profile)
    if address is None:
        return None
    return _core._adopt_bridge(OfflineObject, address, profile)


def publisher_running(profile: str) -> bool:
    """True when a live publisher publishes ``profile`` now (it may stop right after: use open_bridge)."""
    found = open_bridge_if_running(profile)
    if found is None:
        return False
    found.close()
    return True


def publish(
    profile: str,
    source: OfflineObject | None = None,
    *,
    allow_set_state: bool = False,
    ring_capacity: int = 0,
) -> BridgePublisher:
    """Publishes ``source`` (default: the embedded object of ``profile``) as the channel of ``profile`` until the
    returned BridgePublisher is stopped (a context manager). ``allow_set_state`` lets subscribers ask for state
    changes (off by default). ``ring_capacity``: notifications a subscriber may fall behind by before it loses
    some (a power of two; 0 = 4096).

    Raises MapiError (MAPI_E_CALL_FAILED) when a live publisher already publishes ``profile``, TypeError /
    ValueError for bad arguments (InvalidArgument for a name that is not a valid profile name: 1 to 255 UTF-16
    code units, no unpaired surrogate)."""
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
    """Counters of a bridge OfflineObject. Raises InvalidArgument for another backend."""
    return _core._bridge_stats(offline.com_pointer)
