# cython: language_level=3
"""The compiled binding over the native core (ext/): Notification, Sink, OfflineObject and the test pump.

Each cdef class owns exactly one COM reference. Every wait releases the GIL; every HRESULT goes through _check.
"""

cimport cython
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import os
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

# Moves on in a child after fork(): handles made before it refuse to touch the parent's threads and memory.
cdef int _fork_generation = 0


def _after_fork_in_child():
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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


cdef uint32_t _ulong(object value, str name) except? 0xFFFFFFFF:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name} must fit in 32 bits (0..0xFFFFFFFF), not {value}")
    return <uint32_t>value


cdef uint64_t _u64(object value, str name) except? 0xFFFFFFFFFFFFFFFF:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"{name} must fit in 64 bits (0..2**64-1), not {value}")
    return <uint64_t>value


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


class SinkStats(NamedTuple):
    """Counters of a Sink. received: every well-formed Notify (dropped ones included, and for a bridge the
    notifications lost upstream); delivered: handed to a
    consumer; dropped: refused by the full ring or a closed sink (and, for a bridge, lost upstream); invalid: NULL
    or short records; dropped_reported: the drops already reported in some record's ``dropped_before`` (the rest
    belong to records still to come). ``pending`` (derived): records in the ring no consumer has taken."""

    received: int
    delivered: int
    dropped: int
    invalid: int
    dropped_reported: int = 0

    @property
    def pending(self) -> int:
        return self.received - self.delivered - self.dropped


@cython.freelist(512)
@cython.final
cdef class Notification:
    """Notification(kind, client_token=0, mask=0x3, old_state=0, new_state=0, timestamp_ns=0, dropped_before=0)
--

One notification, immutable. ``kind`` is always a NotifyKind and ``old_state``/``new_state`` always a State:
    a value a foreign manager may send outside the known ones reads as ``NotifyKind.UNKNOWN``/``State.UNKNOWN``,
    and the number as it arrived is ``raw_kind``/``raw_old_state``/``raw_new_state`` (plain ints, always set).
    ``timestamp_ns`` is on the clock of time.perf_counter_ns(); ``dropped_before`` counts notifications the full
    ring dropped just before this one."""

    cdef uint32_t _kind
    cdef readonly uint32_t client_token
    cdef readonly uint32_t mask
    cdef uint32_t _old
    cdef uint32_t _new
    cdef readonly uint64_t timestamp_ns
    cdef readonly uint64_t dropped_before

    def __init__(self, kind, client_token=0, mask=0x3, old_state=0, new_state=0, timestamp_ns=0,
                 dropped_before=0):
        # No int() coercion: a float or str is a TypeError (enum members are ints already).
        self._kind = _ulong(kind, "kind")
        self.client_token = _ulong(client_token, "client_token")
        self.mask = _ulong(mask, "mask")
        self._old = _ulong(old_state, "old_state")
        self._new = _ulong(new_state, "new_state")
        self.timestamp_ns = _u64(timestamp_ns, "timestamp_ns")
        self.dropped_before = _u64(dropped_before, "dropped_before")

    @property
    def kind(self):
        """The NotifyKind (NotifyKind.UNKNOWN for a value outside MAPIOFFLINE_NOTIFY_TYPE_*; see raw_kind)."""
        return _kind_of(self._kind)

    @property
    def old_state(self):
        """The State before the change (State.UNKNOWN for a value other than OFFLINE/ONLINE; see raw_old_state)."""
        return _state_of(self._old)

    @property
    def new_state(self):
        """The State after the change (State.UNKNOWN for a value other than OFFLINE/ONLINE; see raw_new_state)."""
        return _state_of(self._new)

    @property
    def raw_kind(self):
        """NotifyType exactly as the manager sent it (an int)."""
        return self._kind

    @property
    def raw_old_state(self):
        """ulStateOld exactly as the manager sent it (an int)."""
        return self._old

    @property
    def raw_new_state(self):
        """ulStateNew exactly as the manager sent it (an int)."""
        return self._new

    @property
    def is_state_change(self):
        """True when the docs let a client trust the states: a known kind and mask == OFFLINE_MASK."""
        return 1 <= self._kind <= 3 and self.mask == MAPIOFFLINE_STATE_OFFLINE_MASK

    def _key(self):
        return (self._kind, self.client_token, self.mask, self._old, self._new, self.timestamp_ns,
                self.dropped_before)

    def __eq__(self, other):
        if not isinstance(other, Notification):
            return NotImplemented
        return self._key() == (<Notification>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"Notification(kind={_show(self.kind, self._kind)}, client_token={self.client_token}, "
                f"mask=0x{self.mask:X}, old_state={_show(self.old_state, self._old)}, "
                f"new_state={_show(self.new_state, self._new)}, timestamp_ns={self.timestamp_ns}, "
                f"dropped_before={self.dropped_before})")

    def to_dict(self):
        """Every field as a JSON-serialisable dict: ``kind``/``old_state``/``new_state`` by name ("UNKNOWN" for
        a value outside the known ones), the numbers as they arrived beside them (``kind_value``,
        ``old_state_value``, ``new_state_value``), then client_token, mask, timestamp_ns, dropped_before."""
        return {
            "kind": self.kind.name,
            "kind_value": self._kind,
            "client_token": self.client_token,
            "mask": self.mask,
            "old_state": self.old_state.name,
            "old_state_value": self._old,
            "new_state": self.new_state.name,
            "new_state_value": self._new,
            "timestamp_ns": self.timestamp_ns,
            "dropped_before": self.dropped_before,
        }

    def __reduce__(self):
        return (Notification, (self._kind, self.client_token, self.mask, self._old, self._new, self.timestamp_ns,
                               self.dropped_before))


cdef inline Notification _make(const MAPIOFFLINE_RECORD *r, uint64_t dropped_before):
    cdef Notification n = Notification.__new__(Notification)
    n._kind = <uint32_t>r.notify.NotifyType
    n.client_token = r.notify.ulClientToken
    n.mask = r.notify.Info.StateChange.ulMask
    n._old = r.notify.Info.StateChange.ulStateOld
    n._new = r.notify.Info.StateChange.ulStateNew
    n.timestamp_ns = r.timestamp_ns
    n.dropped_before = dropped_before
    return n


cdef class _Handle:
    """The lifecycle every handle shares: one COM reference, open until close() (idempotent), a context manager,
    a ResourceWarning when collected open, and inert in a child after fork() (the parent's objects and threads
    do not exist there: the reference is leaked on purpose, never released).

    Every call that releases the GIL and uses the COM pointer pins it first (_pin: its own AddRef, released after
    the call), so that close() on another thread, which drops the handle's reference, can never free the object
    under a running call."""

    cdef IUnknown *_p
    cdef int _generation
    cdef bint _closed
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._p = NULL
        self._generation = _fork_generation
        self._closed = False

    cdef str _what(self):
        return "handle"

    cdef IUnknown *_unknown(self) except NULL:
        if self._generation != _fork_generation:
            raise _forked_error(self._what())
        if self._closed or self._p is NULL:
            raise ClosedError(f"the {self._what()} is closed")
        return self._p

    cdef IUnknown *_pin(self) except NULL:
        cdef IUnknown *p = self._unknown()
        p.AddRef()
        return p

    cdef void _before_release(self) noexcept:
        """Runs once, at close(), while the reference is still held (the Sink closes its consumer side here)."""
        pass

    cdef void _release(self) noexcept:
        cdef IUnknown *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            with nogil:  # a last Release may join a native thread that calls a sink needing the GIL
                p.Release()

    @property
    def closed(self):
        """True after close() (or in a fork child, where the handle is inert)."""
        return self._closed or self._generation != _fork_generation

    def close(self):
        """Releases the handle (idempotent; a no-op in a fork child)."""
        if self._closed:
            return
        self._closed = True  # under the GIL: exactly one caller gets past this point
        if self._generation != _fork_generation:
            return
        self._before_release()
        self._release()

    def __enter__(self):
        self._unknown()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if not self._closed and self._p is not NULL and self._generation == _fork_generation:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __dealloc__(self):
        self._release()


cdef class _Pin(_Handle):
    """One extra reference on a native object, released by close() (collected open, it warns and is released).""" 

    cdef str _what(self):
        return "native reference"


cdef int _end_code(IMAPIOfflineNotify *p) noexcept nogil:
    """How a consumer's wait on an empty sink ends, read without running any Python code (so no other thread can
    close the sink in the middle): 0 while the stream goes on, -1 closed, else a MAPIOFFLINE_END_* reason."""
    if mapioffline_sink_is_closed(p):
        return -1
    return <int>mapioffline_sink_end_reason(p)


cdef object _end_reason_of(ULONG code):
    """The EndReason of a MAPIOFFLINE_END_* value (None for MAPIOFFLINE_END_NONE)."""
    if code == MAPIOFFLINE_END_NONE:
        return None
    if code == MAPIOFFLINE_END_UNADVISED:
        return EndReason.UNADVISED
    if code == MAPIOFFLINE_END_PUBLISHER_GONE:
        return EndReason.PUBLISHER_GONE
    return EndReason.FAILED


cdef object _end_error(int code):
    """The exception for an _end_code (not 0)."""
    if code == -1:
        return ClosedError("the sink is closed")
    if code == MAPIOFFLINE_END_PUBLISHER_GONE:
        return PublisherGone("the publisher feeding this sink's subscription stopped")
    if code == MAPIOFFLINE_END_UNADVISED:
        return StreamEnded("every subscription feeding this sink has ended")
    return StreamEnded("the feed of this sink failed")


cdef object _stats_tuple(const MAPIOFFLINE_SINK_STATS *s):
    return SinkStats(s.received, s.delivered, s.dropped, s.invalid, s.dropped_reported)


cdef object _stats_of(IMAPIOfflineNotify *p):
    cdef MAPIOFFLINE_SINK_STATS s
    mapioffline_sink_stats(p, &s)
    return _stats_tuple(&s)


cdef object _raw_last_state_of(IMAPIOfflineNotify *p):
    cdef ULONG s = 0
    if not mapioffline_sink_get_last_state(p, &s):
        return None
    return s


cdef uint64_t _spin_ns(object spin_us) except? 0:
    if isinstance(spin_us, bool) or not isinstance(spin_us, (int, float)):
        raise TypeError(f"spin_us must be a number of microseconds, not {type(spin_us).__name__}")
    if not 0 <= spin_us <= MAX_SPIN_US:  # also refuses NaN and infinities
        raise ValueError(f"spin_us must be between 0 and {MAX_SPIN_US} (one second), not {spin_us!r}")
    return <uint64_t>(spin_us * 1000)


cdef class Sink(_Handle):
    """Sink(capacity=1024)
--

The native IMAPIOfflineNotify sink: Notify (any thread, no GIL, no locks, no allocation) fills a bounded
    lock-free ring of ``capacity`` records (rounded up to a power of two); Python consumes it. A full ring refuses
    the newest notification and counts it; the next record that fits reports it in ``dropped_before``.

    The stream ends when every subscription that fed the sink has ended (get and iteration then take what is
    pending and stop), and for good when the sink is closed. Any number of threads may consume one sink; each
    record goes to exactly one of them. Raises TypeError/ValueError for a bad capacity."""

    cdef MAPIOFFLINE_SINK_STATS _final_stats
    cdef ULONG _final_last_state
    cdef bint _final_has_last_state
    cdef ULONG _final_capacity
    cdef ULONG _final_end_reason

    def __cinit__(self, capacity=1024):
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if not 1 <= capacity <= MAPIOFFLINE_SINK_MAX_CAPACITY:
            raise ValueError(f"capacity must be between 1 and {MAPIOFFLINE_SINK_MAX_CAPACITY}, not {capacity}")
        cdef IMAPIOfflineNotify *p = NULL
        _check(mapioffline_sink_create(<ULONG>capacity, &p), "cannot create a sink")
        self._p = <IUnknown *>p

    cdef str _what(self):
        return "sink"

    cdef void _before_release(self) noexcept:
        cdef IMAPIOfflineNotify *p = <IMAPIOfflineNotify *>self._p
        mapioffline_sink_close(p)
        # The counters outlive the handle: copied now, in C (nothing here can raise or let another thread in), and
        # the reference goes right after. A manager still holding the sink keeps the native object alive; its
        # later Notify calls only count as dropped there.
        mapioffline_sink_stats(p, &self._final_stats)
        self._final_has_last_state = mapioffline_sink_get_last_state(p, &self._final_last_state)
        self._final_capacity = mapioffline_sink_capacity(p)
        self._final_end_reason = mapioffline_sink_end_reason(p)

    cdef inline IMAPIOfflineNotify *_sink(self) except NULL:
        return <IMAPIOfflineNotify *>self._unknown()

    cdef inline bint _has_final(self) except -1:
        """True when closed (the counters come from the snapshot); raises in a fork child."""
        if self._generation != _fork_generation:
            raise _forked_error("sink")
        return self._closed

    def __dealloc__(self):
        if self._p is not NULL and not self._closed and self._generation == _fork_generation:
            mapioffline_sink_close(<IMAPIOfflineNotify *>self._p)

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def com_pointer(self):
        """Address of the sink's IMAPIOfflineNotify, valid while this Sink is open. A manager that Advises it holds
        its own reference, which keeps the native sink alive even after close()."""
        return <uintptr_t>self._sink()

    @property
    def capacity(self):
        """The ring's capacity after rounding (readable after close())."""
        if self._has_final():
            return self._final_capacity
        return mapioffline_sink_capacity(self._sink())

    @property
    def last_state(self):
        """New state of the latest DONE notification with mask OFFLINE_MASK that reached the sink (including one
        the full ring dropped): a State (State.UNKNOWN if the manager sent an invalid one; see raw_last_state);
        None before any. Readable after close() (as it was then)."""
        raw = self._raw_last_state()
        return None if raw is None else _state_of(raw)

    @property
    def raw_last_state(self):
        """Like last_state, the number exactly as the manager sent it (an int), None before any."""
        return self._raw_last_state()

    cdef object _raw_last_state(self):
        # A cdef method, not the property: last_state is the cheapest state check and stays one C call.
        if self._has_final():
            return self._final_last_state if self._final_has_last_state else None
        return _raw_last_state_of(self._sink())

    @property
    def end_reason(self):
        """Why the stream ended, once it has: an EndReason (UNADVISED: every subscription feeding the sink ended;
        PUBLISHER_GONE: a bridge publisher feeding it stopped or died; FAILED: a feed failed otherwise; CLOSED: the
        sink was closed while its stream went on). None while it goes on, and before any subscription fed it; a
        new subscription reopens the stream (None again). Read it after a ``for``/``async for`` loop stopped, or
        after a callback dispatcher finished, to tell why. Readable after close()."""
        if self._has_final():
            reason = _end_reason_of(self._final_end_reason)
            return EndReason.CLOSED if reason is None else reason
        return _end_reason_of(mapioffline_sink_end_reason(self._sink()))

    @property
    def stats(self):
        """SinkStats(received, delivered, dropped, invalid, dropped_reported); after close(), as they were then."""
        if self._has_final():
            return _stats_tuple(&self._final_stats)
        return _stats_of(self._sink())

    # -- consumption -----------------------------------------------------------------------------------------
    cdef object _pop_one(self, IMAPIOfflineNotify *p):
        cdef MAPIOFFLINE_RECORD r
        cdef uint64_t gap = 0
        if mapioffline_sink_pop_records(p, &r, 1, &gap) == 1:
            return _make(&r, gap)
        return None

    cdef object _next(self, object timeout, uint64_t spin_ns, bint stop_on_interrupt, uint32_t seen):
        """The next notification. Raises the end-of-stream error (ClosedError, StreamEnded, PublisherGone) once
        the sink is empty and its stream is over, TimeoutError; returns None only when stop_on_interrupt and the
        interrupt count moved past ``seen``."""
        cdef int64_t limit = _timeout_ns(timeout)
        cdef uint64_t start = mapioffline_now_ns()
        cdef int64_t remaining, slice_ns
        cdef uint64_t spin_slice
        cdef IMAPIOfflineNotify *p
        cdef int result, code
        while True:
            p = self._sink()
            # The end is read before the pop: it is stored after the records that precede it were published, so
            # an empty pop after it means nothing more is coming. Popping first let the last records and the end
            # land between the two, and StreamEnded came with records pending (sink_protocol_model.py).
            code = _end_code(p)
            n = self._pop_one(p)  # no Python code runs between the two reads and the pop: p cannot be freed
            if n is not None:
                return n
            if code != 0:
                raise _end_error(code)
            if not stop_on_interrupt:
                seen = mapioffline_sink_interrupts(p)  # an interrupt is only a reason to look again
            slice_ns = _WAIT_SLICE_NS
            spin_slice = 0
            if spin_ns > 0:
                # Spin in short slices so that Ctrl-C is seen between them; the sink never spins past the slice.
                spin_slice = spin_ns if spin_ns < _SPIN_SLICE_NS else _SPIN_SLICE_NS
                slice_ns = <int64_t>spin_slice
                spin_ns -= spin_slice
            if limit >= 0:
                remaining = limit - <int64_t>(mapioffline_now_ns() - start)
                if remaining <= 0:
                    raise TimeoutError(f"no notification within {timeout} s")
                if remaining < slice_ns:
                    slice_ns = remaining
            p.AddRef()  # pinned across the wait: close() on another thread must not free it under us
            with nogil:
                result = mapioffline_sink_wait_since(p, slice_ns, spin_slice, seen)
                p.Release()
            if result == MAPIOFFLINE_WAIT_INTERRUPTED and stop_on_interrupt:
                return None
            PyErr_CheckSignals()

    def get(self, timeout=None, *, spin_us=0):
        """Blocks (GIL released) for the next Notification. ``timeout`` in seconds, None = forever; ``spin_us``
        (at most MAX_SPIN_US, one second) spins that long before sleeping, never past the timeout: lower wake-up
        latency for more CPU. Pending notifications are always returned first, even after the stream ended.

        Raises TimeoutError; StreamEnded once empty after every subscription feeding the sink ended
        (PublisherGone when a bridge publisher died); ClosedError when the sink is (or gets) closed;
        ValueError/TypeError for bad arguments; KeyboardInterrupt on Ctrl-C."""
        cdef uint64_t spin = _spin_ns(spin_us)
        return self._next(timeout, spin, False, 0)

    def drain(self, max_items=None):
        """Takes what is pending, up to ``max_items`` (None: everything), as a list of Notification. Never blocks
        and never raises at the end of the stream (it returns what there is, maybe []). Raises ClosedError when
        closed, TypeError/ValueError for a bad ``max_items`` (0..sys.maxsize or None)."""
        cdef Py_ssize_t left
        if max_items is None:
            left = sys.maxsize
        else:
            if isinstance(max_items, bool) or not isinstance(max_items, int):
                raise TypeError(f"max_items must be an int or None, not {type(max_items).__name__}")
            if not 0 <= max_items <= sys.maxsize:
                raise ValueError(f"max_items must be between 0 and sys.maxsize, or None, not {max_items}")
            left = max_items
        cdef MAPIOFFLINE_RECORD buf[256]
        cdef uint64_t gaps[256]
        cdef size_t want, n, i
        cdef list out = []
        # Pinned: building the list runs the allocator (and maybe the garbage collector, and so Python code that
        # could close this sink on another thread).
        cdef IMAPIOfflineNotify *p = <IMAPIOfflineNotify *>self._pin()
        try:
            while left > 0:
                want = _BATCH if <size_t>left > _BATCH else <size_t>left
                n = mapioffline_sink_pop_records(p, buf, want, gaps)
                for i in range(n):
                    out.append(_make(&buf[i], gaps[i]))
                left -= <Py_ssize_t>n
                if n < want:
                    break
        finally:
            p.Release()
        return out

    def drain_into(self, buffer):
        """Copies pending records into a writable buffer as raw 32-byte records (RECORD_FORMAT) without making
        Python objects; returns how many were written (they count as delivered). Never blocks. Raw records carry
        no dropped_before: drops before them count in ``stats.dropped_reported`` only.

        Raises TypeError for a read-only or non-buffer object, ValueError if it cannot hold one record,
        ClosedError when closed."""
        cdef IMAPIOfflineNotify *p
        cdef Py_buffer view
        cdef size_t count, n
        cdef MAPIOFFLINE_RECORD tmp[64]
        cdef size_t done = 0, want
        self._sink()  # a closed sink is a ClosedError before the buffer is even looked at
        try:
            PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        except BufferError as e:
            raise TypeError(f"drain_into needs a writable buffer: {e}") from None
        except TypeError:
            raise TypeError(f"drain_into needs a writable buffer, not {type(buffer).__name__}") from None
        try:
            p = self._sink()  # taken after GetBuffer, which may run Python code (a __buffer__ method)
            count = <size_t>view.len // 32
            if count == 0:
                raise ValueError(f"buffer of {view.len} bytes cannot hold one {RECORD_SIZE}-byte record")
            if (<uintptr_t>view.buf) % 8 == 0:
                return mapioffline_sink_pop_records(p, <MAPIOFFLINE_RECORD *>view.buf, count, NULL)
            while done < count:  # unaligned memory: go through an aligned buffer
                want = count - done if count - done < 64 else 64
                n = mapioffline_sink_pop_records(p, tmp, want, NULL)
                memcpy(<char *>view.buf + done * 32, tmp, n * 32)
                done += n
                if n < want:
                    break
            return done
        finally:
            PyBuffer_Release(&view)

    def fileno(self):
        """A descriptor (POSIX) that is readable while notifications are pending (level-triggered), after close
        and after the stream ended, for selectors and asyncio. Raises NotSupported on Windows."""
        cdef int fd = mapioffline_sink_fileno(self._sink())
        if fd < 0:
            raise NotSupported("Sink.fileno() needs POSIX (on Windows use aget())")
        return fd

    def interrupt(self):
        """Wakes every consumer blocked on this sink without ending anything: they look again and go back to
        waiting. (Tools that wait for a condition of their own use this to be woken.)"""
        mapioffline_sink_interrupt(self._sink())

    def __iter__(self):
        return self

    def __next__(self):
        """Blocks for the next notification; stops once the sink is empty and its stream is over (every
        subscription feeding it ended, or the sink was closed)."""
        if self._generation != _fork_generation:
            raise _forked_error("sink")
        if self._closed:
            raise StopIteration  # closed before this call (e.g. inside the for loop): the iteration ends
        try:
            return self._next(None, 0, False, 0)
        except ClosedError:  # StreamEnded and PublisherGone derive from it
            raise StopIteration from None

    # -- for the facade (Subscription, callbacks, asyncio): native operations only -------------------------
    def _attach(self):
        """A subscription starts feeding this sink (its stream reopens)."""
        mapioffline_sink_attach(self._sink())

    def _detach(self):
        """A subscription stopped feeding this sink; with none left, consumers stop once it is empty."""
        mapioffline_sink_detach(self._sink())

    def _interrupts(self):
        """The interrupt count: read it before checking a condition of your own, then pass it to _next_since."""
        return mapioffline_sink_interrupts(self._sink())

    def _next_since(self, seen):
        """Blocks for the next notification like get(); None once the interrupt count differs from ``seen``."""
        return self._next(None, 0, True, <uint32_t>seen)

    def _try_get(self):
        """Non-blocking: a Notification, None when empty, or the end-of-stream error when empty and over."""
        cdef IMAPIOfflineNotify *p = self._sink()
        cdef int code = _end_code(p)  # before the pop, as in _next
        n = self._pop_one(p)
        if n is None and code != 0:
            raise _end_error(code)
        return n

    def _watch(self):
        """(fd or None, pin): the pin holds a native reference so that the descriptor stays open while an event
        loop watches it, even if the sink is closed (and its handle's reference released) meanwhile."""
        cdef IMAPIOfflineNotify *p = self._sink()
        cdef int fd = mapioffline_sink_fileno(p)
        cdef _Pin pin = _Pin.__new__(_Pin)
        p.AddRef()
        pin._p = <IUnknown *>p
        return (None if fd < 0 else fd), pin

    def _wait(self, double seconds):
        """Waits (GIL released) up to ``seconds`` for something to pop or the stream to end; for the Proactor-loop
        fallback."""
        cdef IMAPIOfflineNotify *p = <IMAPIOfflineNotify *>self._pin()
        cdef int64_t ns = <int64_t>(seconds * 1e9)
        with nogil:
            mapioffline_sink_wait(p, ns, 0)
            p.Release()

    def __repr__(self):
        if self.closed or self._p is NULL:
            return "<mapioffline.Sink closed>"
        return f"<mapioffline.Sink capacity={mapioffline_sink_capacity(<IMAPIOfflineNotify *>self._p)} at 0x{<uintptr_t>self._p:x}>"


# wait_idle's slices: a condition-variable wait is not cut short by a signal, so Ctrl-C waits for the slice's end.
cdef int64_t _IDLE_SLICE_NS = 50_000_000


cdef class OfflineObject(_Handle):
    """OfflineObject(*args, **kwargs)
--

An IMAPIOfflineMgr: the embedded object, Outlook's, or one wrapped with from_pointer(). Context manager;
    close() is idempotent; subscriptions keep their object alive on their own."""

    cdef readonly str backend
    cdef readonly str profile

    def __init__(self, *args, **kwargs):
        raise TypeError("use mapioffline.open_offline() or OfflineObject.from_pointer()")

    cdef str _what(self):
        return "offline object"

    cdef inline IMAPIOfflineMgr *_mgr(self) except NULL:
        return <IMAPIOfflineMgr *>self._unknown()

    @classmethod
    def from_pointer(cls, pointer):
        """Wraps an IMAPIOfflineMgr the caller already holds (e.g. from pywin32 or comtypes). ``pointer`` is its
        address as an int, a ``ctypes.c_void_p``, any ctypes pointer (a comtypes interface pointer such as a
        ``POINTER(IUnknown)`` is one) or an object giving one through ``_as_parameter_``. Takes its own reference
        (through QueryInterface(IID_IMAPIOfflineMgr)); the caller keeps theirs.

        Raises TypeError (naming the type it got) for anything else, ValueError for NULL or an out-of-range
        address, NoInterface if the object is not an IMAPIOfflineMgr."""
        address = address_of(pointer, "pointer")
        # The limit is computed with Python ints: in C, 2 ** 64 would overflow (and reject every address).
        if address <= 0 or address >= 2 ** (8 * <object>sizeof(void *)):
            raise ValueError(f"not a pointer: {address:#x}")
        cdef IMAPIOfflineMgr *given = <IMAPIOfflineMgr *><uintptr_t>address
        cdef void *mine = NULL
        _check(given.QueryInterface(IID_IMAPIOfflineMgr, &mine), "the object is not an IMAPIOfflineMgr")
        return _adopt(cls, <IMAPIOfflineMgr *>mine, "foreign", "")

    def _clone(self):
        """A second handle on the same object, with its own reference (a subscription's)."""
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()
        return _adopt(type(self), p, self.backend, self.profile)

    @property
    def com_pointer(self):
        """Address of the IMAPIOfflineMgr, valid while this handle is open."""
        return <uintptr_t>self._mgr()

    @property
    def capabilities(self):
        """Capability flags (the embedded object: OFFLINE | ONLINE). Raises MapiError, ClosedError."""
        cdef ULONG caps = 0
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()
        with nogil:
            hr = p.GetCapabilities(&caps)
            p.Release()
        _check(hr, "GetCapabilities failed")
        return Capability(caps)

    @property
    def state(self):
        """The current State (State.UNKNOWN if the object reports neither OFFLINE nor ONLINE; see raw_state).
        Raises MapiError, ClosedError."""
        return _state_of(self._raw_state())

    @property
    def raw_state(self):
        """The current state exactly as GetCurrentState reports it (an int). Raises MapiError, ClosedError."""
        return self._raw_state()

    cdef ULONG _raw_state(self) except? 0xFFFFFFFF:
        # A cdef method, not the property: state stays one C call deep.
        cdef ULONG state = 0
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()  # a foreign object's method may run Python code
        hr = p.GetCurrentState(&state)
        p.Release()
        _check(hr, "GetCurrentState failed")
        return state

    def set_state(self, state, *, block=True):
        """Changes the state. ``block=True`` returns once DONE reached every sink (not once callbacks ran);
        ``block=False`` returns at once and the change runs on the object's thread. Setting the current state
        does nothing and sends nothing.

        On the embedded object, a call made while another change is handing out DONE is queued and carried out
        right after that (so a consumer that has just seen DONE can react at once); ``block=True`` then returns once
        its own change is done (or, if it asks for the state that change is heading to, sends nothing and returns
        once that DONE reached every sink). Only one call can be queued so: a second one while it waits gets
        Pending. ``wait_idle()`` waits for a change in
        flight without polling.

        Raises TypeError/ValueError for bad arguments (before any native call), Pending (retryable) while a
        change is in its START or STATECHANGE phase (or one is queued as above), ClosedError."""
        if isinstance(state, bool) or not isinstance(state, int):
            raise TypeError(f"state must be a State or int, not {type(state).__name__}")
        if state not in (1, 2):
            raise ValueError(f"state must be State.OFFLINE (1) or State.ONLINE (2), not {state!r}")
        if not isinstance(block, bool):
            raise TypeError(f"block must be a bool, not {type(block).__name__}")
        cdef ULONG flags = MAPIOFFLINE_FLAG_BLOCK if block else 0
        cdef ULONG target = state
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()
        with nogil:  # delivery may call sinks that need the GIL (ctypes sinks)
            hr = p.SetCurrentState(flags, MAPIOFFLINE_STATE_OFFLINE_MASK, target, NULL)
            p.Release()
        PyErr_CheckSignals()
        _check(hr, _set_state_failure(hr, self.backend, self.profile))

    def wait_idle(self, timeout=None):
        """Waits until no state change is in flight on the embedded object, nor queued after one (a set_state made
        while DONE was being delivered): the way to wait for a ``block=False`` change to end, without polling.
        Returns True once idle (at once if it already is), False if ``timeout`` seconds (None: no limit) passed
        first. The GIL is released while waiting; Ctrl-C interrupts it.

        Raises NotSupported for objects other than the embedded one (Outlook's has no such call), ClosedError,
        TypeError/ValueError for a bad timeout, MapiError when called from inside a Notify of the object's own
        delivery (a ctypes sink): that change cannot end before the Notify returns."""
        cdef int64_t limit = _timeout_ns(timeout)
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()  # our own reference for the whole wait
        cdef uint64_t start = mapioffline_now_ns()
        cdef int64_t slice_ns, left
        cdef bint last
        cdef HRESULT hr
        try:
            while True:
                slice_ns = _IDLE_SLICE_NS
                last = False
                if limit >= 0:
                    left = limit - <int64_t>(mapioffline_now_ns() - start)
                    if left <= slice_ns:
                        slice_ns = left if left > 0 else 0
                        last = True
                with nogil:
                    hr = mapioffline_offline_wait_idle(p, slice_ns)
                if hr == S_OK:
                    return True
                if hr == MAPI_E_NO_SUPPORT:
                    _check(hr, "wait_idle needs the embedded offline object")
                if hr != E_PENDING:
                    _check(hr, "wait_idle cannot wait from inside the object's own Notify")
                if last:
                    return False
                PyErr_CheckSignals()
        finally:
            with nogil:  # may be the last reference: Release then joins the object's thread
                p.Release()

    def _advise_native(self, Sink sink not None, client_token):
        """Advise(sink) with STATE_ALL; returns the manager's token. The sink is pinned across the call too."""
        cdef ULONG ctoken = _ulong(client_token, "token")
        cdef MAPIOFFLINE_ADVISEINFO info
        cdef ULONG token = 0
        cdef HRESULT hr
        cdef IUnknown *callback = sink._pin()
        cdef IMAPIOfflineMgr *p
        try:
            p = <IMAPIOfflineMgr *>self._pin()
        except BaseException:
            callback.Release()
            raise
        info.ulSize = sizeof(MAPIOFFLINE_ADVISEINFO)
        info.ulClientToken = ctoken
        info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY
        info.pCallback = callback
        info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE
        info.ulStateMask = MAPIOFFLINE_STATE_ALL
        with nogil:
            hr = p.Advise(0, &info, &token)
            p.Release()
            callback.Release()
        _check(hr, "Advise failed")
        return token

    def _unadvise_native(self, ULONG token):
        cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>self._pin()
        with nogil:  # may wait for a Notify in progress on another thread
            p.Unadvise(0, token)
            p.Release()

    def __repr__(self):
        if self.closed:
            return f"<mapioffline.OfflineObject backend={self.backend!r} closed>"
        return f"<mapioffline.OfflineObject backend={self.backend!r} profile={self.profile!r}>"


cdef OfflineObject _adopt(type cls, IMAPIOfflineMgr *p, str backend, str profile):
    """Wraps p in a new handle of class ``cls`` (OfflineObject or the facade's subclass), taking over the
    reference the caller holds."""
    cdef OfflineObject self = cls.__new__(cls)
    self._p = <IUnknown *>p
    self.backend = backend
    self.profile = profile
    return self


def _open_embedded(type cls, str profile):
    cdef bytes wide = _wide(profile)
    cdef IMAPIOfflineMgr *p = NULL
    _check(mapioffline_open_embedded(0, <const WCHAR *><const char *>wide, &GUID_GlobalState, NULL, &p),
           f"cannot open the embedded offline object for {shown(profile)}")
    return _adopt(cls, p, "embedded", profile)


def _open_outlook(type cls, str profile, bint allow_search):
    cdef bytes wide = _wide(profile)
    cdef IMAPIOfflineMgr *p = NULL
    cdef const char *detail = NULL
    cdef const WCHAR *name = <const WCHAR *><const char *>wide
    cdef int search = allow_search
    cdef HRESULT hr
    with nogil:
        hr = mapioffline_open_outlook(name, search, &p, &detail)
    if hr < 0:
        message = detail.decode("utf-8", "replace") if detail is not NULL else "HrOpenOfflineObj failed"
        _check(hr, message)
    return _adopt(cls, p, "outlook", profile)


def _outlook_loaded():
    return mapioffline_outlook_loaded() != 0


def _outlook_export():
    """The HrOpenOfflineObj spelling found in the loaded Outlook MAPI DLL, or None (none loaded, or off Windows)."""
    cdef const char *name = mapioffline_outlook_export()
    return None if name is NULL else name.decode("ascii")


# -- testing support ---------------------------------------------------------------------------------------------

cdef class PumpHandle:
    """PumpHandle()
--

Native producer threads calling Notify; see mapioffline.testing.start_pump."""

    cdef mapioffline_pump *_pump
    cdef readonly uint64_t elapsed_ns

    def __cinit__(self):
        self._pump = NULL

    def join(self):
        """Waits (GIL released) for the producers; returns the wall time they took in ns. Idempotent. In a fork
        child, a pump started by the parent returns 0 at once and is leaked: its threads exist only there."""
        cdef mapioffline_pump *pump = self._pump
        cdef uint64_t elapsed = 0
        self._pump = NULL
        if pump is not NULL:
            with nogil:
                mapioffline_pump_join(pump, &elapsed)
            self.elapsed_ns = elapsed
        return self.elapsed_ns

    @property
    def running(self):
        return self._pump is not NULL

    def __dealloc__(self):
        if self._pump is not NULL:
            with nogil:
                mapioffline_pump_join(self._pump, NULL)


def _start_pump(address, threads, per_thread, *, kind, client_token, mask, old_state, new_state, size,
                bint null, bint sequence):
    if isinstance(address, bool) or not isinstance(address, int) or address <= 0:
        raise ValueError(f"not a COM pointer: {address!r}")
    cdef MAPIOFFLINE_PUMP_SPEC spec
    spec.threads = _ulong(threads, "threads")
    if not 1 <= spec.threads <= 256:
        raise ValueError("threads must be between 1 and 256")
    if isinstance(per_thread, bool) or not isinstance(per_thread, int) or per_thread < 0:
        raise ValueError(f"count must be an int >= 0, not {per_thread!r}")
    spec.per_thread = per_thread
    spec.flags = (MAPIOFFLINE_PUMP_NULL if null else 0) | (MAPIOFFLINE_PUMP_SEQUENCE if sequence else 0)
    spec.record.ulSize = _ulong(size, "size")
    spec.record.NotifyType = <MAPIOFFLINE_NOTIFY_TYPE>_ulong(kind, "kind")
    spec.record.ulClientToken = _ulong(client_token, "client_token")
    spec.record.Info.StateChange.ulMask = _ulong(mask, "mask")
    spec.record.Info.StateChange.ulStateOld = _ulong(old_state, "old_state")
    spec.record.Info.StateChange.ulStateNew = _ulong(new_state, "new_state")
    cdef PumpHandle handle = PumpHandle.__new__(PumpHandle)
    _check(mapioffline_pump_start(<IMAPIOfflineNotify *><uintptr_t>address, &spec, &handle._pump),
           "cannot start the pump")
    return handle


def _com_refcount(address):
    """The object's COM reference count, read as AddRef() then Release() through its vtable."""
    if isinstance(address, bool) or not isinstance(address, int) or address <= 0:
        raise ValueError(f"not a COM pointer: {address!r}")
    cdef IUnknown *p = <IUnknown *><uintptr_t>address
    p.AddRef()
    return p.Release()


def _is_native_sink(address):
    return mapioffline_is_native_sink(<IUnknown *><uintptr_t>address) != 0


def live_sinks():
    """Native sinks alive in this process (a leak counter)."""
    return mapioffline_live_sinks()


def live_offline_objects():
    """Embedded offline objects alive in this process (a leak counter)."""
    return mapioffline_live_offline_objects()


def now_ns():
    """The clock of Notification.timestamp_ns (the one time.perf_counter_ns() reads)."""
    return mapioffline_now_ns()


cdef str _guid_str(const GUID *g):
    d4 = bytes(g.Data4[i] for i in range(8))
    return "{%08X-%04X-%04X-%s-%s}" % (g.Data1, g.Data2, g.Data3, d4[:2].hex().upper(), d4[2:].hex().upper())


def abi_info():
    """ABI facts of this build: struct sizes, field offsets (``offsetof_<struct>_<field>``), pointer size,
    GUIDs."""
    # Offsets as the compiler laid the header's structs out (Cython has no offsetof: address differences).
    cdef MAPIOFFLINE_ADVISEINFO a
    cdef MAPIOFFLINE_NOTIFY n
    cdef MAPIOFFLINE_RECORD r
    cdef char *base = <char *>&a
    advise_offsets = {
        "ulSize": <char *>&a.ulSize - base,
        "ulClientToken": <char *>&a.ulClientToken - base,
        "CallbackType": <char *>&a.CallbackType - base,
        "pCallback": <char *>&a.pCallback - base,
        "ulAdviseTypes": <char *>&a.ulAdviseTypes - base,
        "ulStateMask": <char *>&a.ulStateMask - base,
    }
    base = <char *>&n
    notify_offsets = {
        "ulSize": <char *>&n.ulSize - base,
        "NotifyType": <char *>&n.NotifyType - base,
        "ulClientToken": <char *>&n.ulClientToken - base,
        "ulMask": <char *>&n.Info.StateChange.ulMask - base,
        "ulStateOld": <char *>&n.Info.StateChange.ulStateOld - base,
        "ulStateNew": <char *>&n.Info.StateChange.ulStateNew - base,
    }
    base = <char *>&r
    record_offsets = {"notify": <char *>&r.notify - base, "timestamp_ns": <char *>&r.timestamp_ns - base}
    offsets = {}
    for struct_name, table in (("MAPIOFFLINE_ADVISEINFO", advise_offsets), ("MAPIOFFLINE_NOTIFY", notify_offsets),
                               ("record", record_offsets)):
        for field, offset in table.items():
            offsets[f"offsetof_{struct_name}_{field}"] = offset
    return {
        "pointer_bits": 8 * sizeof(void *),
        "sizeof_MAPIOFFLINE_NOTIFY": sizeof(MAPIOFFLINE_NOTIFY),
        "sizeof_MAPIOFFLINE_ADVISEINFO": sizeof(MAPIOFFLINE_ADVISEINFO),
        "sizeof_record": sizeof(MAPIOFFLINE_RECORD),
        **offsets,
        "IID_IUnknown": _guid_str(&IID_IUnknown),
        "IID_IMAPIOffline": _guid_str(&IID_IMAPIOffline),
        "IID_IMAPIOfflineMgr": _guid_str(&IID_IMAPIOfflineMgr),
        "IID_IMAPIOfflineNotify": _guid_str(&IID_IMAPIOfflineNotify),
        "GUID_GlobalState": _guid_str(&GUID_GlobalState),
    }


def _probe_condvar_latency(size_t samples):
    """Benchmark baseline: wake-up latencies (ns) of this Python thread waiting (GIL released) on a native
    condition variable that a native thread signals: what any blocking wake-up into Python costs here."""
    cdef mapioffline_condvar_probe *probe = mapioffline_condvar_probe_start(samples)
    cdef uint64_t stamp
    cdef size_t i
    if probe is NULL:
        raise MemoryError()
    latencies = []
    try:
        for i in range(samples):
            with nogil:
                stamp = mapioffline_condvar_probe_wait(probe)
            latencies.append(mapioffline_now_ns() - stamp)
    finally:
        with nogil:
            mapioffline_condvar_probe_join(probe)
    return latencies


# == Bridge: the channel to other processes (ext/src/channel/) =====================================================
# Kept apart from the sink and object bindings above: the bridge object is an ordinary IMAPIOfflineMgr, so everything
# above works on it unchanged; this section only opens it, publishes, and reads its counters.

BRIDGE_PUBLISHER_GONE = <uint32_t>MAPIOFFLINE_E_PUBLISHER_GONE
BRIDGE_CHANNEL_CORRUPT = <uint32_t>MAPIOFFLINE_E_CHANNEL_CORRUPT


class BridgeStats(NamedTuple):
    """Counters of a bridge object: records read from the channel, records lost to sequence gaps (the publisher
    overwrote them before this subscriber read them), the publisher's pid, the ring's capacity, whether the
    publisher is gone and whether it accepts set_state requests."""

    received: int
    dropped: int
    publisher_pid: int
    ring_capacity: int
    publisher_gone: bool
    allow_set_state: bool


cdef str _set_state_failure(HRESULT hr, str backend, str profile):
    """The message of a failed set_state: for the bridge, what a refused request means and how to allow it."""
    if hr == E_PENDING:
        return "a state change is still in flight"
    if backend == "bridge" and hr == MAPI_E_NO_SUPPORT:
        return (f"the bridge publisher of profile {shown(profile)} does not accept set_state requests (they are off "
                f"by default): start it with `python -m mapioffline bridge publish --profile {as_argument(profile)} "
                "--allow-set-state`, or for Outlook's add-in run `python -m mapioffline addin install "
                "--allow-set-state` and restart Outlook")
    if backend == "bridge" and hr == MAPIOFFLINE_E_PUBLISHER_GONE:
        return f"the bridge publisher of profile {shown(profile)} is gone"
    return "SetCurrentState failed"


cdef str _detail_or(const char *detail, str fallback):
    return detail.decode("utf-8", "replace") if detail is not NULL else fallback


def _open_bridge_pointer(str profile):
    """Opens a bridge object for ``profile``: (address, None) with one reference the caller adopts, or (None, the
    exception) when it cannot be opened (NotFound when no publisher runs)."""
    cdef bytes wide = _wide(profile)
    cdef IMAPIOfflineMgr *p = NULL
    cdef const char *detail = NULL
    cdef const WCHAR *name = <const WCHAR *><const char *>wide
    cdef HRESULT hr
    with nogil:
        hr = mapioffline_open_bridge(name, &p, &detail)
    if hr < 0:
        return None, exception_for(<uint32_t>hr, _detail_or(detail, "cannot open the bridge"))
    return <uintptr_t>p, None


def _adopt_bridge(type cls, address, str profile):
    """Wraps the reference _open_bridge_pointer returned in a handle of class ``cls`` with backend "bridge"."""
    return _adopt(cls, <IMAPIOfflineMgr *><uintptr_t>address, "bridge", profile)


def _bridge_stats(address):
    """BridgeStats of the bridge object at ``address`` (an OfflineObject's com_pointer)."""
    cdef MAPIOFFLINE_BRIDGE_STATS s
    _check(mapioffline_bridge_stats(<IMAPIOfflineMgr *><uintptr_t>address, &s), "not a bridge object")
    return BridgeStats(s.received, s.dropped, s.publisher_pid, s.ring_capacity, s.publisher_gone != 0,
                       s.allow_set_state != 0)


cdef class BridgePublisher:
    """BridgePublisher(*args, **kwargs)
--

Publishes an offline object's notifications into the channel of a profile, for subscribers in other
    processes of this user. Made by mapioffline.bridge.publish(); stop() (or leaving the ``with`` block) ends every
    subscriber's stream. Holds its own reference on the source object."""

    cdef mapioffline_bridge_publisher *_p
    cdef int _generation
    cdef readonly str profile
    cdef readonly bint allow_set_state

    def __cinit__(self):
        self._p = NULL
        self._generation = _fork_generation

    def __init__(self, *args, **kwargs):
        raise TypeError("use mapioffline.bridge.publish()")

    @staticmethod
    def _start(OfflineObject source not None, str profile, bint allow_set_state, ring_capacity):
        if isinstance(ring_capacity, bool) or not isinstance(ring_capacity, int):
            raise TypeError(f"ring_capacity must be an int, not {type(ring_capacity).__name__}")
        if ring_capacity != 0 and (ring_capacity < 2 or ring_capacity > (1 << 20) or
                                   ring_capacity & (ring_capacity - 1)):
            raise ValueError(f"ring_capacity must be a power of two between 2 and {1 << 20}, not {ring_capacity}")
        cdef bytes wide = _wide(profile)
        cdef const WCHAR *name = <const WCHAR *><const char *>wide
        cdef ULONG flags = MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE if allow_set_state else 0
        cdef ULONG capacity = ring_capacity
        cdef const char *detail = NULL
        cdef mapioffline_bridge_publisher *p = NULL
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *src = <IMAPIOfflineMgr *>source._pin()
        with nogil:
            hr = mapioffline_bridge_publish_start(src, name, flags, capacity, &p, &detail)
            src.Release()
        _check(hr, _detail_or(detail, f"cannot publish profile {shown(profile)}"))
        cdef BridgePublisher self = BridgePublisher.__new__(BridgePublisher)
        self._p = p
        self.profile = profile
        self.allow_set_state = allow_set_state
        return self

    @property
    def region_name(self):
        """The OS name of the channel (on Linux, the path of its locator in the user's channel directory)."""
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        return mapioffline_bridge_publisher_region(self._p).decode("utf-8")

    @property
    def counters(self):
        """(notifications published, total ns spent publishing them inside Notify): the publisher's cost."""
        cdef uint64_t published = 0, spent = 0
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        mapioffline_bridge_publisher_counters(self._p, &published, &spent)
        return published, spent

    @property
    def wake_calls(self):
        """Wake system calls made so far: at most one per publication, and only for one that a subscriber went to
        sleep waiting for (or that heals a wake not passed on), however many subscribers there are (they pass a
        wake on among themselves)."""
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        return mapioffline_bridge_publisher_wake_calls(self._p)

    @property
    def _notify_pointer(self):
        """Address of the publisher's own IMAPIOfflineNotify (for the test pump in benchmarks), valid until stop."""
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        return <uintptr_t>mapioffline_bridge_publisher_notify(self._p)

    @property
    def closed(self):
        return self._p is NULL

    def stop(self):
        """Stops publishing: every subscriber's stream ends (PublisherGone). Idempotent."""
        cdef mapioffline_bridge_publisher *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            with nogil:  # unadvising waits for a Notify in progress, which may need the GIL
                mapioffline_bridge_publish_stop(p)

    close = stop

    def __enter__(self):
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __del__(self):
        if self._p is not NULL and self._generation == _fork_generation:
            warnings.warn(f"unstopped {self!r}", ResourceWarning, source=self)
            self.stop()

    def __dealloc__(self):
        if self._p is not NULL and self._generation == _fork_generation:
            with nogil:
                mapioffline_bridge_publish_stop(self._p)

    def __repr__(self):
        state = "stopped" if self._p is NULL else "publishing"
        return f"<mapioffline.BridgePublisher {state} profile={self.profile!r}>"


cdef class _BridgeWatch:
    """Wakes its owner when a bridge publisher of a profile may have appeared (mapioffline_bridge_watch_*): made
    before the attempt to open that it guards, used by one thread, closed when done."""

    cdef mapioffline_bridge_watch *_w

    def __cinit__(self, str profile):
        self._w = NULL
        cdef bytes wide = _wide(profile)
        cdef const WCHAR *name = <const WCHAR *><const char *>wide
        _check(mapioffline_bridge_watch_start(name, &self._w), "cannot watch for a bridge publisher")

    def wait(self, timeout):
        """Returns (GIL released) when a publisher may have appeared, or after ``timeout`` seconds (None: no
        limit), or after a wait slice so that Ctrl-C is noticed; the caller looks again. Raises KeyboardInterrupt
        on Ctrl-C."""
        cdef int64_t ns = _timeout_ns(timeout)
        if ns < 0 or ns > _WAIT_SLICE_NS:
            ns = _WAIT_SLICE_NS
        if self._w is NULL:
            raise ClosedError("the watch is closed")
        with nogil:
            mapioffline_bridge_watch_wait(self._w, ns)
        PyErr_CheckSignals()

    def close(self):
        cdef mapioffline_bridge_watch *w = self._w
        self._w = NULL
        mapioffline_bridge_watch_stop(w)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __dealloc__(self):
        mapioffline_bridge_watch_stop(self._w)
