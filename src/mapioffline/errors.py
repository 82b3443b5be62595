"""Exceptions. Every failing HRESULT becomes a MapiError (or a subclass that also derives from the fitting builtin),
carrying the unsigned 32-bit value in ``.hresult`` and its symbol in ``.name``."""

# No __all__: every name here without an underscore is public, and the package re-exports the exception classes
# by name in mapioffline.__all__ (mypy --strict reads only a literal list there), so they are written once.

#: Symbols of the HRESULTs the Offline State API uses (spec §1), by unsigned value.
HRESULT_NAMES: dict[int, str] = {
    0x00000000: "S_OK",
    0x8000000A: "E_PENDING",
    0x80070057: "E_INVALIDARG",
    0x80004002: "E_NOINTERFACE",
    0x8004010F: "MAPI_E_NOT_FOUND",
    0x80004005: "MAPI_E_CALL_FAILED",
    0x80040102: "MAPI_E_NO_SUPPORT",
    0x80040106: "MAPI_E_UNKNOWN_FLAGS",
    0x80004003: "E_POINTER",
    0x80070005: "E_ACCESSDENIED",
    0x80040A01: "MAPIOFFLINE_E_PUBLISHER_GONE",
    0x80040A02: "MAPIOFFLINE_E_CHANNEL_CORRUPT",
    0x80004001: "E_NOTIMPL",
    0x8007000E: "E_OUTOFMEMORY",
}


def _unsigned(hresult: int) -> int:
    """Accepts the signed form pywin32 shows (-2147483638) as well as the unsigned one (0x8000000A)."""
    if not -(2**31) <= hresult < 2**32:
        raise ValueError(f"not a 32-bit HRESULT: {hresult}")
    return hresult & 0xFFFFFFFF


def hresult_name(hresult: int) -> str:
    """The symbol of an HRESULT, or its hexadecimal value when it has none here."""
    value = _unsigned(hresult)
    return HRESULT_NAMES.get(value, f"0x{value:08X}")


class MapiError(Exception):
    """A failed MAPI call. ``hresult`` is the unsigned 32-bit value, ``name`` its symbol (e.g. ``"E_PENDING"``)."""

    default_hresult = 0x80004005
    #: False for errors no MAPI call returned (a closed handle, an ended stream): their text names no HRESULT.
    shows_hresult = True

    def __init__(self, message: str = "", hresult: int | None = None) -> None:
        self.hresult: int = _unsigned(self.default_hresult if hresult is None else hresult)
        self.name: str = hresult_name(self.hresult)
        self.message: str = message
        if not self.shows_hresult and message:
            text = message
        elif message:
            text = f"{message} ({self.name}, 0x{self.hresult:08X})"
        else:
            text = f"{self.name} (0x{self.hresult:08X})"
        super().__init__(text)

    def __reduce__(self) -> tuple[type["MapiError"], tuple[str, int]]:
        # args holds only the formatted text: without this, unpickling (e.g. from a multiprocessing worker) would
        # lose the HRESULT and format the message twice.
        return (type(self), (self.message, self.hresult))


class InvalidArgument(MapiError, ValueError):
    """E_INVALIDARG or MAPI_E_UNKNOWN_FLAGS: the call's arguments were refused."""

    default_hresult = 0x80070057


class Pending(MapiError):
    """E_PENDING: a state change is still in flight. Retry once it has finished."""

    default_hresult = 0x8000000A


class ClosedError(MapiError, ValueError):
    """The handle was closed (as ``ValueError`` for a closed file). Raised by our own code, never by a MAPI call:
    its message names no HRESULT."""

    default_hresult = 0x80004005
    shows_hresult = False


class StreamEnded(ClosedError):
    """A sink's stream is over: every subscription that fed it ended and nothing is pending. get() and aget()
    raise it; iteration (``for``/``async for``) simply stops; a callback dispatcher finishes."""


class PublisherGone(StreamEnded):
    """The stream ended because the bridge publisher feeding it (another process) stopped or died. A bridge
    object's ``state`` and ``set_state`` raise it too once its publisher is gone (MAPIOFFLINE_E_PUBLISHER_GONE)."""


class NotSupported(MapiError, NotImplementedError):
    """MAPI_E_NO_SUPPORT: not available here (a placeholder slot, or a backend on this platform)."""

    default_hresult = 0x80040102


class NoInterface(MapiError, TypeError):
    """E_NOINTERFACE: the object does not implement the interface asked for."""

    default_hresult = 0x80004002


class NotFound(MapiError, LookupError):
    """MAPI_E_NOT_FOUND: e.g. Outlook's offline object outside Outlook's process."""

    default_hresult = 0x8004010F


_CLASSES: dict[int, type[MapiError]] = {
    0x80070057: InvalidArgument,
    0x80040106: InvalidArgument,
    0x8000000A: Pending,
    0x80040A01: PublisherGone,
    0x80040102: NotSupported,
    0x80004001: NotSupported,
    0x80004002: NoInterface,
    0x8004010F: NotFound,
}


def exception_for(hresult: int, message: str = "") -> MapiError:
    """The exception for a failing HRESULT: one table, one place."""
    value = _unsigned(hresult)
    return _CLASSES.get(value, MapiError)(message, value)
