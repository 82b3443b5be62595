# cython: language_level=3, freethreading_compatible=True
"""The compiled binding over the native core (ext/): Notification, Sink, OfflineObject and the test pump.

Each handle owns exactly one native resource (a COM reference, a bridge publisher, a test pump) under the one
lifecycle of _Lifecycle (_core_handle.pxi). Every wait releases the GIL; every HRESULT goes through _check.

Free-threaded CPython (3.13t+): the module declares itself compatible, so threads run its calls at once. The
native core is thread-safe by itself (Notify is lock-free, a sink's consumers take its native consumer mutex,
objects are reference counted with atomics). What this binding adds is the C state of each handle (its pointer,
closed flag, final counters): it is only read or written inside ``cython.critical_section(self)``. A section
spans only native calls that never call back into Python (a short native lock at most): a pointer used beyond it
(a wait, building a list) is pinned first, by its own AddRef inside the section. On a GIL build a critical
section compiles to nothing.
"""

cimport cython
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import sys
import warnings
from typing import NamedTuple

from mapioffline._address import address_of
from mapioffline._enums import Capability, EndReason, NotifyKind, State
from mapioffline._names import as_argument, shown
from mapioffline.errors import ClosedError, NotSupported, PublisherGone, StreamEnded, exception_for

from mapioffline._core cimport *

cdef extern from *:
    """
    #ifndef MAPIOFFLINE_DEBUG_INFO
    #define MAPIOFFLINE_DEBUG_INFO 0
    #endif
    """
    int MAPIOFFLINE_DEBUG_INFO

#: Whether setup.py built this library with debug info (MAPIOFFLINE_DEBUG=1 or a sanitizer build); release builds
#: carry none.
_DEBUG_INFO = MAPIOFFLINE_DEBUG_INFO != 0

CORE_VERSION = mapioffline_version().decode("ascii")
HEADER_VERSION = MAPIOFFLINE_VERSION_STRING.decode("ascii")

#: Raw record layout of Sink.drain_into: MAPIOFFLINE_NOTIFY (ulSize, NotifyType, ulClientToken, ulMask,
#: ulStateOld, ulStateNew) then the 64-bit timestamp_ns, little-endian, 32 bytes, no padding.
RECORD_FORMAT = "<6IQ"
RECORD_SIZE = 32
MAX_CAPACITY = MAPIOFFLINE_SINK_MAX_CAPACITY
#: Values for a MAPIOFFLINE_ADVISEINFO filled by hand (mapioffline.interop).
ADVISE_TYPE_STATECHANGE = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE
CALLBACK_TYPE_NOTIFY = <int>MAPIOFFLINE_CALLBACK_TYPE_NOTIFY
#: The longest spin Sink.get(spin_us=...) accepts: one second of a busy core is already far past any gain.
MAX_SPIN_US = 1_000_000

# Cached enum members: building a Notification makes no Python calls; reading .kind is a tuple lookup. Index 0 is
# UNKNOWN, which also stands for every value past the table (the number itself stays readable as raw_*).
cdef tuple _KINDS = (NotifyKind.UNKNOWN, NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE,
                     NotifyKind.STATECHANGE_DONE)
cdef tuple _STATES = (State.UNKNOWN, State.OFFLINE, State.ONLINE)

# Waits are cut in slices so that Ctrl-C (checked between slices) is noticed promptly. On POSIX a signal also
# interrupts the wait itself (EINTR), so long slices cost nothing there; Windows' WaitOnAddress is not interrupted.
cdef int64_t _WAIT_SLICE_NS = 100_000_000 if sys.platform == "win32" else 1_000_000_000
cdef size_t _BATCH = 256
# A spin is cut in slices this long so that Ctrl-C is noticed between them (the issue asks for 100 ms at most).
cdef uint64_t _SPIN_SLICE_NS = 50_000_000

cdef extern from *:
    """
    #if PY_VERSION_HEX >= 0x030D0000
    #define mapioffline_py_finalizing() Py_IsFinalizing()
    #else
    #define mapioffline_py_finalizing() _Py_IsFinalizing()
    #endif
    """
    # True once interpreter shutdown has begun: a handle collected then is closed without a ResourceWarning (nobody
    # can act on it, and the warnings module may already be torn down: on free-threaded builds handles are often
    # freed after the module globals were cleared).
    bint mapioffline_py_finalizing() noexcept


cdef int _check(HRESULT hr, str message="") except -1:
    """The single error gate: every HRESULT passes here."""
    if hr >= 0:
        return 0
    raise exception_for(<uint32_t>hr, message)


cdef object _kind_of(uint32_t value):
    return _KINDS[value] if value <= 3 else NotifyKind.UNKNOWN


cdef object _state_of(uint32_t value):
    return _STATES[value] if value <= 2 else State.UNKNOWN


cdef str _show(object member, uint32_t raw):
    """A known value as Class.NAME, an unknown one as its number (UNKNOWN would hide which it was)."""
    if member.value == 0:
        return str(raw)
    return f"{type(member).__name__}.{member.name}"


cdef object _forked_error(str what):
    return ClosedError(f"this {what} was created before fork() in the parent process; it cannot be used in the child")


cdef int64_t _timeout_ns(object timeout) except -2:
    """None -> -1 (no limit); a negative number is a ValueError."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if timeout != timeout or timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    if timeout > 9e9:
        return -1
    return <int64_t>(timeout * 1e9)


cdef object _unsigned(object value, str name, object bits):
    """``value`` checked as an unsigned integer of ``bits`` bits (TypeError for a non-int or a bool, ValueError out
    of range): the one rule for every number the binding hands to native code."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must fit in {bits} bits (0..2**{bits}-1), not {value}")
    return value


cdef uint32_t _ulong(object value, str name) except? 0xFFFFFFFF:
    return <uint32_t>_unsigned(value, name, 32)


cdef uint64_t _u64(object value, str name) except? 0xFFFFFFFFFFFFFFFF:
    return <uint64_t>_unsigned(value, name, 64)


cdef bytes _wide(str profile):
    """``profile`` as the NUL-terminated UTF-16 string every WCHAR* profile parameter takes, once the native rule
    (mapioffline_profile_name_error: the one place it is written) accepts it; else InvalidArgument (a ValueError)
    that says why. Surrogates pass through as the units they stand for, so that the rule sees them."""
    cdef bytes wide = (profile + "\0").encode("utf-16-le", "surrogatepass")
    cdef const char *why = b"a profile name must not contain NUL characters"
    if "\0" not in profile:
        why = mapioffline_profile_name_error(<const WCHAR *><const char *>wide)
    if why is NULL:
        return wide
    raise exception_for(<uint32_t>E_INVALIDARG, f"invalid profile name {shown(profile)}: {why.decode('utf-8')}")


# The binding, one job per file, all in this one extension module (the native globals must exist once per process):
include "_core_notification.pxi"
include "_core_handle.pxi"
include "_core_sink.pxi"
include "_core_offline.pxi"
include "_core_testing.pxi"
include "_core_bridge.pxi"
