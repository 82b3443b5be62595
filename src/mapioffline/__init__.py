"""mapioffline: react the moment Outlook's connection goes online or offline.

Opens Outlook's offline object (inside Outlook's process) or an embedded, faithful in-process one, and delivers
its notifications through a lock-free native sink: blocking, batched, callback or asyncio.
"""

from __future__ import annotations

import sys

from mapioffline._version import __version__
from mapioffline import _bridge, _core, bridge
from mapioffline._core import (
    MAX_SPIN_US,
    RECORD_FORMAT,
    RECORD_SIZE,
    Notification,
    SinkStats,
    now_ns,
)
from mapioffline._dispatch import exit_timeout, set_exit_timeout
from mapioffline._enums import FLAG_BLOCK, OFFLINE_MASK, STATE_ALL, Capability, EndReason, NotifyKind, State
from mapioffline._names import as_argument, shown
from mapioffline._offline import OfflineObject
from mapioffline._sink import Sink
from mapioffline._subscription import Subscription
from mapioffline.errors import (
    ClosedError,
    InvalidArgument,
    MapiError,
    NoInterface,
    NotFound,
    NotSupported,
    Pending,
    PublisherGone,
    StreamEnded,
)

if _core.CORE_VERSION != __version__:  # pragma: no cover - a broken install
    raise ImportError(
        f"mapioffline {__version__} found a compiled core of version {_core.CORE_VERSION}; reinstall the package"
    )

__all__ = [
    "__version__",
    "open_offline",
    "available_backends",
    "OfflineObject",
    "Subscription",
    "Sink",
    "SinkStats",
    "Notification",
    "State",
    "Capability",
    "NotifyKind",
    "EndReason",
    "OFFLINE_MASK",
    "STATE_ALL",
    "FLAG_BLOCK",
    "RECORD_FORMAT",
    "RECORD_SIZE",
    "MAX_SPIN_US",
    "now_ns",
    "set_exit_timeout",
    "exit_timeout",
    "MapiError",
    "InvalidArgument",
    "Pending",
    "ClosedError",
    "StreamEnded",
    "PublisherGone",
    "NotSupported",
    "NoInterface",
    "NotFound",
]

_BACKENDS = ("auto", "embedded", "outlook", "bridge")


def open_offline(profile: str = "mapioffline", *, backend: str = "auto", wait: float | None = None) -> OfflineObject:
    """Opens the offline object for ``profile``.

    ``backend="auto"`` (the default) never gives the simulator: Outlook's object when Outlook's MAPI DLL is loaded
    in this process, else the bridge when a publisher of ``profile`` runs in another process of this user, else
    NotFound naming the three ways on. The rule is the same on every OS. ``"outlook"``: Outlook's own object
    through HrOpenOfflineObj (Windows, inside Outlook's process; the profile name is required, e.g.
    ``Application.Session.CurrentProfileName``). ``"bridge"``: follows the publisher of ``profile`` in another
    process of this user (``python -m mapioffline bridge publish``, or the Outlook add-in); the object has the same
    API. ``"embedded"``: the in-process simulator (one per profile name, case-insensitive; a new one starts
    ONLINE), for tests, demos and publishing.

    A profile name has 1 to 255 UTF-16 code units and no unpaired surrogate, for every backend (a MAPI profile is a
    registry key, whose names have at most 255 characters); any other raises InvalidArgument (a ValueError).

    ``wait`` (seconds, or ``float("inf")`` for no limit; None: do not wait): with "bridge" and "auto", when no
    publisher of ``profile`` runs, waits up to that long for one to appear instead of raising NotFound at once (on
    Linux the channel's directory is watched with inotify; on Windows, which has no such event, one cheap check
    every 250 ms). Ctrl-C interrupts the wait. "embedded" and "outlook" open at once and ignore it.

    Raises TypeError/ValueError for bad arguments, NotSupported for "outlook" off Windows, MapiError (NotFound
    outside Outlook's process) when Outlook's object cannot be opened, NotFound for "bridge" and "auto" when no
    publisher runs for ``profile`` (none appeared within ``wait``), KeyboardInterrupt on Ctrl-C while waiting."""
    if not isinstance(profile, str):
        raise TypeError(f"profile must be a str, not {type(profile).__name__}")
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, not {type(backend).__name__}")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, _BACKENDS))}, not {backend!r}")
    seconds = _bridge.check_wait(wait)
    if backend == "outlook" or (backend == "auto" and _core._outlook_loaded()):
        if sys.platform != "win32":
            raise NotSupported("the Outlook backend exists only on Windows, inside Outlook's process")
        return _core._open_outlook(OfflineObject, profile, backend == "outlook")
    if backend == "bridge":
        return _bridge.open_bridge(profile, seconds)
    if backend == "auto":
        if seconds is not None:
            try:
                return _bridge.open_bridge(profile, seconds)
            except NotFound:
                raise NotFound(_nothing_to_follow(profile)) from None
        found = _bridge.open_bridge_if_running(profile)
        if found is not None:
            return found
        raise NotFound(_nothing_to_follow(profile))
    return _core._open_embedded(OfflineObject, profile)


def _nothing_to_follow(profile: str) -> str:
    """What "auto" says when neither Outlook's object nor a publisher of ``profile`` is there: the three ways on."""
    return (
        f"Outlook's offline object is not in this process and no bridge publisher runs for profile {shown(profile)}: "
        "install the Outlook add-in on Windows (`python -m mapioffline addin install`, then restart Outlook) so that "
        "Outlook publishes its state; or run "
        f"`python -m mapioffline bridge publish --profile {as_argument(profile)}` in another process; "
        'or pass backend="embedded" for the simulator'
    )


def available_backends() -> dict[str, str]:
    """Each backend with "available" or the reason it is not, for this process."""
    result = {"embedded": "available"}
    if sys.platform.startswith("linux") or sys.platform == "win32":
        result["bridge"] = (
            "available: open_offline(profile, backend=\"bridge\") follows a publisher of that profile in another "
            "process of this user (`python -m mapioffline bridge publish`, or the Outlook add-in on Windows)"
        )
    else:
        result["bridge"] = "not available: the bridge channel exists on Linux and Windows"
    if sys.platform != "win32":
        result["outlook"] = "not available: Outlook's offline object exists only on Windows, inside Outlook"
    elif _core._outlook_loaded():
        result["outlook"] = "available: Outlook's MAPI DLL is loaded in this process"
    else:
        result["outlook"] = (
            "not loaded: no olmapi32.dll/msmapi32.dll in this process (its offline object exists only inside "
            "Outlook's process: COM add-ins, MAPI providers)"
        )
    return result
