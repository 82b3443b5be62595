"""The bridge's internals for open_offline and the CLI: opening the bridge object (at once, or waiting for a
publisher to appear). The public part (publish, stats, BridgePublisher, BridgeStats) lives in mapioffline.bridge and
is re-exported here for the CLI."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

from mapioffline import _core
from mapioffline._names import as_argument, shown
from mapioffline._offline import OfflineObject
from mapioffline.bridge import BridgePublisher, BridgeStats, publish, stats
from mapioffline.errors import InvalidArgument, MapiError, NotFound

__all__ = [
    "BridgePublisher",
    "BridgeStats",
    "publish",
    "stats",
    "open_bridge",
    "open_bridge_if_running",
    "publisher_running",
    "check_wait",
    "open_bridge_through",
]


def _how_to_publish(profile: str) -> str:
    if sys.platform == "win32":
        return (
            "install the Outlook add-in that publishes it (`python -m mapioffline addin install`, then restart "
            f"Outlook), or run `python -m mapioffline bridge publish --profile {as_argument(profile)}` for the "
            "embedded object"
        )
    return f"start one with `python -m mapioffline bridge publish --profile {as_argument(profile)}`"


def check_wait(wait: object) -> float | None:
    """``wait`` of open_offline checked: None (do not wait) or seconds >= 0 (``math.inf``: no limit)."""
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, (int, float)):
        raise TypeError(f"wait must be a number of seconds or None, not {type(wait).__name__}")
    if not wait >= 0:  # also refuses NaN
        raise ValueError(f"wait must be >= 0 seconds or None, not {wait!r}")
    return float(wait)


def _wait_text(wait: float) -> str:
    return "" if math.isinf(wait) else f" within {round(wait, 3):g} s"


def open_bridge(profile: str, wait: float | None = None) -> OfflineObject:
    """An OfflineObject (``backend == "bridge"``) following the publisher of ``profile`` in another process. With
    ``wait`` (seconds, checked by check_wait), waits that long for a publisher to appear.

    Raises NotFound (with what to run) when no publisher runs for ``profile`` (after ``wait``), MapiError when the
    channel fails validation or is not this user's own, KeyboardInterrupt on Ctrl-C while waiting."""
    try:
        if wait is None:
            return _core._open_bridge(OfflineObject, profile)
        return _wait_for_bridge(profile, wait, _none_runs, None)
    except NotFound as error:
        waited = "" if wait is None else f" (none appeared{_wait_text(wait)})"
        raise _explained(profile, error, waited) from None


def open_bridge_through(
    profile: str, clears: Callable[[MapiError], bool], waiting: Callable[[MapiError], None]
) -> OfflineObject:
    """open_bridge, with no time limit, through every failure that ``clears`` says a new publisher clears (each one
    passed to ``waiting`` first, NotFound with what to run). Raises the first failure that ``clears`` refuses,
    KeyboardInterrupt on Ctrl-C."""
    return _wait_for_bridge(profile, math.inf, clears, lambda error: waiting(_explained(profile, error, "")))


def _none_runs(error: MapiError) -> bool:
    return isinstance(error, NotFound)


def _explained(profile: str, error: MapiError, waited: str) -> MapiError:
    """A NotFound that says what to run (``waited``: how long it waited, if it did); any other error as it is."""
    if not isinstance(error, NotFound):
        return error
    return NotFound(f"no bridge publisher runs for profile {shown(profile)}{waited}: {_how_to_publish(profile)}")


def _wait_for_bridge(
    profile: str, wait: float, clears: Callable[[MapiError], bool], waiting: Callable[[MapiError], None] | None
) -> OfflineObject:
    """_core._open_bridge, again each time the channel's name changed (never on a timer where the OS tells), until
    it opens, fails with an error that ``clears`` refuses, or ``wait`` seconds passed (its last failure is raised
    then). Each failure it waits through goes to ``waiting`` first."""
    deadline = None if math.isinf(wait) else time.monotonic() + wait
    # The watch starts before the first attempt: a publisher that appears in between wakes it.
    with _core._BridgeWatch(profile) as watch:
        while True:
            try:
                return _core._open_bridge(OfflineObject, profile)
            except MapiError as error:
                if not clears(error):
                    raise
                if waiting is not None:
                    waiting(error)
                if not _changed_before(watch, deadline):
                    raise


def _changed_before(watch: _core._BridgeWatch, deadline: float | None) -> bool:
    """Waits until the channel's name changed (True) or the monotonic ``deadline`` (None: none) passed (False)."""
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        if watch.wait(left):
            return True


def open_bridge_if_running(profile: str) -> OfflineObject | None:
    """The bridge OfflineObject when a live publisher publishes ``profile``, else None (backend="auto")."""
    try:
        return _core._open_bridge(OfflineObject, profile)
    except InvalidArgument:
        raise  # the profile name itself is refused: the caller's mistake, not a publisher missing
    except MapiError:
        return None  # no live publisher to follow: none runs, or its channel cannot be used


def publisher_running(profile: str) -> bool:
    """True when a live publisher publishes ``profile`` now (it may stop right after: use open_bridge)."""
    found = open_bridge_if_running(profile)
    if found is None:
        return False
    found.close()
    return True
