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

from mapioffline._enums import Capability, NotifyKind, State
from mapioffline.errors import ClosedError, InvalidArgument, MapiError, NotSupported, exception_for

from mapioffline._core cimport *

CORE_VERSION = mapioffline_version().decode("ascii")
HEADER_VERSION = MAPIOFFLINE_VERSION_STRING.decode("ascii")

#: Raw record layout of Sink.drain_into: MAPIOFFLINE_NOTIFY (ulSize, NotifyType, ulClientToken, ulMask,
#: ulStateOld, ulStateNew) then the 64-bit timestamp_ns, little-endian, 32 bytes, no padding.
RECORD_FORMAT = "<6IQ"
RECORD_SIZE = 32
MAX_CAPACITY = MAPIOFFLINE_SINK_MAX_CAPACITY

# Cached enum members: building a Notification makes no Python calls; reading .kind is a tuple lookup.
cdef tuple _KINDS = (None, NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE)
cdef tuple _STATES = (None, State.OFFLINE, State.ONLINE)

# Waits are cut in slices so that Ctrl-C (checked between slices) is noticed promptly. On POSIX a signal also
# interrupts the wait itself (EINTR), so long slices cost nothing there; Windows' WaitOnAddress is not interrupted.
cdef int64_t _WAIT_SLICE_NS = 100_000_000 if sys.platform == "win32" else 1_000_000_000
cdef size_t _BATCH = 256

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
    return _KINDS[value] if 1 <= value <= 3 else value


cdef object _state_of(uint32_t value):
    return _STATES[value] if 1 <= value <= 2 else value


cdef str _show(object value):
    """An enum member as Class.NAME, anything else as repr."""
    name = getattr(value, "name", None)
    return f"{type(value).__name__}.{name}" if name is not None else repr(value)


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


cdef bytes _wide(str text):
    """A NUL-terminated UTF-16 string for WCHAR* parameters."""
    if "\0" in text:
        raise ValueError("profile name must not contain NUL characters")
    return (text + "\0").encode("utf-16-le")


class SinkStats(NamedTuple):
    """Counters of a Sink. received: every well-formed Notify (dropped ones included); delivered: handed to a
    consumer; dropped: refused by the full ring (or by a closed sink); invalid: NULL or short records."""

    received: int
    delivered: int
    dropped: int
    invalid: int


@cython.freelist(512)
@cython.final
cdef class Notification:
    """One notification, immutable. ``kind`` is a NotifyKind (an unknown value stays a plain int); ``old_state``
    and ``new_state`` are State when valid, else plain ints; ``timestamp_ns`` is on the clock of
    time.perf_counter_ns(); ``dropped_before`` counts notifications the full ring dropped just before this one."""

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
        if timestamp_ns < 0 or dropped_before < 0:
            raise ValueError("timestamp_ns and dropped_before must be >= 0")
        self.timestamp_ns = timestamp_ns
        self.dropped_before = dropped_before

    @property
    def kind(self):
        return _kind_of(self._kind)

    @property
    def old_state(self):
        return _state_of(self._old)

    @property
    def new_state(self):
        return _state_of(self._new)

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
        return (f"Notification(kind={_show(self.kind)}, client_token={self.client_token}, mask=0x{self.mask:X}, "
                f"old_state={_show(self.old_state)}, new_state={_show(self.new_state)}, "
                f"timestamp_ns={self.timestamp_ns}, dropped_before={self.dropped_before})")

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


cdef class Sink:
    """The native IMAPIOfflineNotify sink: Notify (any thread, no GIL, no locks, no allocation) fills a bounded
    lock-free ring of ``capacity`` records (rounded up to a power of two); Python consumes it.

    Raises TypeError/ValueError for a bad capacity. Several Python threads may consume one sink."""

    cdef IMAPIOfflineNotify *_p
    cdef int _generation
    cdef bint _dispatched      # a callback dispatcher is the only consumer
    cdef bint _detached        # its subscription was unadvised: iteration ends once empty
    cdef object __weakref__

    def __cinit__(self, capacity=1024):
        self._p = NULL
        self._generation = _fork_generation
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if not 1 <= capacity <= MAPIOFFLINE_SINK_MAX_CAPACITY:
            raise ValueError(f"capacity must be between 1 and {MAPIOFFLINE_SINK_MAX_CAPACITY}, not {capacity}")
        _check(mapioffline_sink_create(<ULONG>capacity, &self._p), "cannot create a sink")

    cdef IMAPIOfflineNotify *_ptr(self) except NULL:
        if self._generation != _fork_generation:
            raise _forked_error("Sink")
        if self._p is NULL:
            raise ClosedError("the sink is closed")
        return self._p

    cdef IMAPIOfflineNotify *_consumer(self) except NULL:
        if self._dispatched:
            raise RuntimeError("this sink is consumed by its subscription's callback dispatcher; "
                               "get/drain/iteration are not available")
        return self._ptr()

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def com_pointer(self):
        """Address of the sink's IMAPIOfflineNotify, valid while this Sink is open. A manager that Advises it holds
        its own reference, which keeps the native sink alive even after close()."""
        return <uintptr_t>self._ptr()

    @property
    def capacity(self):
        return mapioffline_sink_capacity(self._ptr())

    @property
    def closed(self):
        return self._p is NULL

    @property
    def last_state(self):
        """New state of the latest DONE notification with mask OFFLINE_MASK that reached the sink (including one
        the full ring dropped), as State (or a plain int if invalid); None before any."""
        cdef ULONG s = mapioffline_sink_last_state(self._ptr())
        return None if s == 0 else _state_of(s)

    @property
    def stats(self):
        """SinkStats(received, delivered, dropped, invalid)."""
        cdef MAPIOFFLINE_SINK_STATS s
        mapioffline_sink_stats(self._ptr(), &s)
        return SinkStats(s.received, s.delivered, s.dropped, s.invalid)

    # -- consumption -----------------------------------------------------------------------------------------
    cdef object _pop_one(self):
        cdef MAPIOFFLINE_RECORD r
        cdef uint64_t gap = 0
        if mapioffline_sink_pop_batch(self._ptr(), &r, 1, &gap) == 1:
            return _make(&r, gap)
        return None

    cdef object _get(self, object timeout, uint64_t spin_ns, bint stop_when_detached):
        """The next notification; None when stop_when_detached and the subscription ended with nothing left."""
        cdef int64_t limit = _timeout_ns(timeout)
        cdef uint64_t start = mapioffline_now_ns()
        cdef int64_t remaining, slice_ns
        cdef IMAPIOfflineNotify *p
        cdef int result
        while True:
            n = self._pop_one()
            if n is not None:
                return n
            p = self._ptr()
            if mapioffline_sink_is_closed(p):
                raise ClosedError("the sink was closed")
            if stop_when_detached and self._detached:
                return None
            slice_ns = _WAIT_SLICE_NS
            if limit >= 0:
                remaining = limit - <int64_t>(mapioffline_now_ns() - start)
                if remaining <= 0:
                    raise TimeoutError(f"no notification within {timeout} s")
                if remaining < slice_ns:
                    slice_ns = remaining
            # Our own reference across the wait: close() on another thread releases the Sink's one.
            p.AddRef()
            with nogil:
                result = mapioffline_sink_wait(p, slice_ns, spin_ns)
                p.Release()
            spin_ns = 0
            PyErr_CheckSignals()

    def get(self, timeout=None, *, spin_us=0):
        """Blocks (GIL released) for the next Notification. ``timeout`` in seconds, None = forever; ``spin_us``
        spins that long before sleeping (lower wake-up latency, more CPU).

        Raises TimeoutError, ClosedError (closed, also when closed while waiting), ValueError/TypeError for bad
        arguments, KeyboardInterrupt on Ctrl-C, RuntimeError if a callback dispatcher owns the sink."""
        self._consumer()
        if isinstance(spin_us, bool) or not isinstance(spin_us, (int, float)):
            raise TypeError(f"spin_us must be a number of microseconds, not {type(spin_us).__name__}")
        if not spin_us >= 0:
            raise ValueError(f"spin_us must be >= 0, not {spin_us!r}")
        return self._get(timeout, <uint64_t>(spin_us * 1000), False)

    def drain(self, max_items=None):
        """Takes what is pending, up to ``max_items`` (None: everything), as a list of Notification. Never blocks."""
        cdef IMAPIOfflineNotify *p = self._consumer()
        cdef MAPIOFFLINE_RECORD buf[256]
        cdef uint64_t gap = 0
        cdef size_t want, n, i
        cdef Py_ssize_t left
        if max_items is None:
            left = sys.maxsize
        else:
            if isinstance(max_items, bool) or not isinstance(max_items, int):
                raise TypeError(f"max_items must be an int or None, not {type(max_items).__name__}")
            if max_items < 0:
                raise ValueError(f"max_items must be >= 0, not {max_items}")
            left = max_items
        cdef list out = []
        while left > 0:
            want = _BATCH if <size_t>left > _BATCH else <size_t>left
            n = mapioffline_sink_pop_batch(p, buf, want, &gap)
            for i in range(n):
                out.append(_make(&buf[i], gap if i == 0 else 0))
            left -= <Py_ssize_t>n
            if n < want:
                break
        return out

    def drain_into(self, buffer):
        """Copies pending records into a writable buffer as raw 32-byte records (RECORD_FORMAT) without making
        Python objects; returns how many were written (they count as delivered). Never blocks.

        Raises TypeError for a read-only or non-buffer object, ValueError if it cannot hold one record."""
        cdef IMAPIOfflineNotify *p = self._consumer()
        cdef Py_buffer view
        cdef size_t count, n
        cdef MAPIOFFLINE_RECORD tmp[64]
        cdef size_t done = 0, want
        try:
            PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        except BufferError as e:
            raise TypeError(f"drain_into needs a writable buffer: {e}") from None
        except TypeError:
            raise TypeError(f"drain_into needs a writable buffer, not {type(buffer).__name__}") from None
        try:
            count = <size_t>view.len // 32
            if count == 0:
                raise ValueError(f"buffer of {view.len} bytes cannot hold one {RECORD_SIZE}-byte record")
            if (<uintptr_t>view.buf) % 8 == 0:
                return mapioffline_sink_pop_batch(p, <MAPIOFFLINE_RECORD *>view.buf, count, NULL)
            while done < count:  # unaligned memory: go through an aligned buffer
                want = count - done if count - done < 64 else 64
                n = mapioffline_sink_pop_batch(p, tmp, want, NULL)
                memcpy(<char *>view.buf + done * 32, tmp, n * 32)
                done += n
                if n < want:
                    break
            return done
        finally:
            PyBuffer_Release(&view)

    def fileno(self):
        """A descriptor (POSIX) that is readable while notifications are pending (level-triggered) or after close,
        for selectors and asyncio. Raises NotSupported on Windows."""
        cdef int fd = mapioffline_sink_fileno(self._ptr())
        if fd < 0:
            raise NotSupported("Sink.fileno() needs POSIX (on Windows use aget())")
        return fd

    def _watch(self):
        """(fd or None, keepalive): the keepalive holds a native reference so that the descriptor stays open while
        an event loop watches it, even if the sink is closed (and its Python reference released) meanwhile."""
        cdef IMAPIOfflineNotify *p = self._ptr()
        cdef int fd = mapioffline_sink_fileno(p)
        cdef _NativeRef keepalive = _NativeRef.__new__(_NativeRef)
        p.AddRef()
        keepalive._p = <IUnknown *>p
        return (None if fd < 0 else fd), keepalive

    def _try_get(self):
        """Non-blocking: a Notification, or None when empty. ClosedError when closed (or detached and empty)."""
        self._consumer()
        n = self._pop_one()
        if n is None and (self._detached or mapioffline_sink_is_closed(self._p)):
            raise ClosedError("the sink is closed" if mapioffline_sink_is_closed(self._p)
                              else "the subscription ended")
        return n

    def _wait(self, double seconds):
        """Waits (GIL released) up to ``seconds`` for something to pop; for the Proactor-loop fallback."""
        cdef IMAPIOfflineNotify *p = self._ptr()
        cdef int64_t ns = <int64_t>(seconds * 1e9)
        p.AddRef()
        with nogil:
            mapioffline_sink_wait(p, ns, 0)
            p.Release()

    def _dispatch_get(self):
        """The dispatcher's get: a Notification, or None when the sink closed or the subscription ended."""
        try:
            return self._get(None, 0, True)
        except ClosedError:
            return None

    def _set_dispatched(self, bint value):
        self._dispatched = value

    def _detach(self):
        """The subscription was unadvised: consumers stop once the ring is empty."""
        self._detached = True
        if self._p is not NULL and self._generation == _fork_generation:
            mapioffline_sink_interrupt(self._p)

    def __iter__(self):
        return self

    def __next__(self):
        """Blocks for the next notification; stops when the sink is closed, or its subscription ended and nothing
        is left."""
        if self._p is NULL and self._generation == _fork_generation:
            raise StopIteration  # closed before this call (e.g. inside the for loop): the iteration ends
        self._consumer()
        try:
            n = self._get(None, 0, True)
        except ClosedError:
            raise StopIteration from None
        if n is None:
            raise StopIteration
        return n

    def aget(self):
        """``await sink.aget()``: the next notification without blocking the event loop (selector loops watch
        fileno(); the Proactor loop waits in the default executor). Raises ClosedError."""
        from mapioffline import aio
        return aio.aget(self)

    def __aiter__(self):
        return self

    async def __anext__(self):
        from mapioffline import aio
        try:
            return await aio.aget(self)
        except ClosedError:
            raise StopAsyncIteration from None

    # -- lifetime --------------------------------------------------------------------------------------------
    def close(self):
        """Closes the sink: wakes blocked consumers with ClosedError; later Notify calls from a manager still
        holding com_pointer are counted and discarded. Idempotent."""
        cdef IMAPIOfflineNotify *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            mapioffline_sink_close(p)
            p.Release()

    def __enter__(self):
        self._ptr()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if self._p is not NULL and self._generation == _fork_generation:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __dealloc__(self):
        if self._p is not NULL and self._generation == _fork_generation:
            mapioffline_sink_close(self._p)
            self._p.Release()

    def __repr__(self):
        if self._p is NULL:
            return "<mapioffline.Sink closed>"
        return f"<mapioffline.Sink capacity={mapioffline_sink_capacity(self._p)} at 0x{<uintptr_t>self._p:x}>"


cdef class _NativeRef:
    """One COM reference, released by release() or when collected."""

    cdef IUnknown *_p
    cdef int _generation

    def __cinit__(self):
        self._p = NULL
        self._generation = _fork_generation

    def release(self):
        cdef IUnknown *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            p.Release()

    def __dealloc__(self):
        self.release()


cdef class OfflineObject:
    """An IMAPIOfflineMgr: the embedded object, Outlook's, or one wrapped with from_pointer(). Context manager;
    close() is idempotent; subscriptions keep their object alive on their own."""

    cdef IMAPIOfflineMgr *_p
    cdef int _generation
    cdef readonly str backend
    cdef readonly str profile
    cdef object __weakref__

    def __cinit__(self):
        self._p = NULL
        self._generation = _fork_generation

    def __init__(self, *args, **kwargs):
        raise TypeError("use mapioffline.open_offline() or OfflineObject.from_pointer()")

    @staticmethod
    cdef OfflineObject _adopt(IMAPIOfflineMgr *p, str backend, str profile):
        """Wraps p, taking over the reference the caller holds."""
        cdef OfflineObject self = OfflineObject.__new__(OfflineObject)
        self._p = p
        self.backend = backend
        self.profile = profile
        return self

    @classmethod
    def from_pointer(cls, address):
        """Wraps an IMAPIOfflineMgr the caller already holds (e.g. from pywin32 or comtypes), given its address.
        Takes its own reference (through QueryInterface(IID_IMAPIOfflineMgr)); the caller keeps theirs.

        Raises TypeError/ValueError for a bad address, NoInterface if the object is not an IMAPIOfflineMgr."""
        if isinstance(address, bool) or not isinstance(address, int):
            raise TypeError(f"address must be an int, not {type(address).__name__}")
        # The limit is computed with Python ints: in C, 2 ** 64 would overflow (and reject every address).
        if address <= 0 or address >= 2 ** (8 * <object>sizeof(void *)):
            raise ValueError(f"not a pointer: {address:#x}")
        cdef IMAPIOfflineMgr *given = <IMAPIOfflineMgr *><uintptr_t>address
        cdef void *mine = NULL
        _check(given.QueryInterface(IID_IMAPIOfflineMgr, &mine), "the object is not an IMAPIOfflineMgr")
        return OfflineObject._adopt(<IMAPIOfflineMgr *>mine, "foreign", "")

    cdef IMAPIOfflineMgr *_ptr(self) except NULL:
        if self._generation != _fork_generation:
            raise _forked_error("OfflineObject")
        if self._p is NULL:
            raise ClosedError("the offline object is closed")
        return self._p

    def _clone(self):
        """A second handle on the same object, with its own reference (a subscription's)."""
        cdef IMAPIOfflineMgr *p = self._ptr()
        p.AddRef()
        return OfflineObject._adopt(p, self.backend, self.profile)

    @property
    def com_pointer(self):
        """Address of the IMAPIOfflineMgr, valid while this handle is open."""
        return <uintptr_t>self._ptr()

    @property
    def closed(self):
        return self._p is NULL

    @property
    def capabilities(self):
        """Capability flags (the embedded object: OFFLINE | ONLINE). Raises MapiError, ClosedError."""
        cdef ULONG caps = 0
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *p = self._ptr()
        with nogil:
            hr = p.GetCapabilities(&caps)
        _check(hr, "GetCapabilities failed")
        return Capability(caps)

    @property
    def state(self):
        """The current State (a plain int if the object reports neither OFFLINE nor ONLINE)."""
        cdef ULONG state = 0
        cdef HRESULT hr
        cdef IMAPIOfflineMgr *p = self._ptr()
        hr = p.GetCurrentState(&state)
        _check(hr, "GetCurrentState failed")
        return _state_of(state)

    def set_state(self, state, *, block=True):
        """Changes the state. ``block=True`` returns once DONE reached every sink (not once callbacks ran);
        ``block=False`` returns at once and the change runs on the object's thread.

        Raises TypeError/ValueError for bad arguments (before any native call), Pending (retryable) while a
        change is in flight, ClosedError."""
        if isinstance(state, bool) or not isinstance(state, int):
            raise TypeError(f"state must be a State or int, not {type(state).__name__}")
        if state not in (1, 2):
            raise ValueError(f"state must be State.OFFLINE (1) or State.ONLINE (2), not {state!r}")
        if not isinstance(block, bool):
            raise TypeError(f"block must be a bool, not {type(block).__name__}")
        cdef IMAPIOfflineMgr *p = self._ptr()
        cdef ULONG flags = MAPIOFFLINE_FLAG_BLOCK if block else 0
        cdef ULONG target = state
        cdef HRESULT hr
        p.AddRef()
        with nogil:  # delivery may call sinks that need the GIL (ctypes sinks)
            hr = p.SetCurrentState(flags, MAPIOFFLINE_STATE_OFFLINE_MASK, target, NULL)
            p.Release()
        PyErr_CheckSignals()
        _check(hr, _set_state_failure(hr, self.backend, self.profile))

    def advise(self, sink=None, *, token=0, capacity=1024, callback=None):
        """Registers a sink and returns a Subscription (a context manager). Without ``sink`` a new Sink of
        ``capacity`` is made and owned by the subscription. With ``callback``, notifications are delivered one by
        one on a dispatcher thread, which then is the sink's only consumer.

        Raises TypeError/ValueError for bad arguments, ClosedError, MapiError from Advise."""
        from mapioffline._subscription import Subscription
        return Subscription._create(self, sink, token, capacity, callback)

    def _advise_native(self, Sink sink not None, client_token):
        cdef ULONG ctoken = _ulong(client_token, "token")
        cdef IMAPIOfflineMgr *p = self._ptr()
        cdef MAPIOFFLINE_ADVISEINFO info
        cdef ULONG token = 0
        cdef HRESULT hr
        info.ulSize = sizeof(MAPIOFFLINE_ADVISEINFO)
        info.ulClientToken = ctoken
        info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY
        info.pCallback = <IUnknown *>sink._ptr()
        info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE
        info.ulStateMask = MAPIOFFLINE_STATE_ALL
        with nogil:
            hr = p.Advise(0, &info, &token)
        _check(hr, "Advise failed")
        return token

    def _unadvise_native(self, ULONG token):
        cdef IMAPIOfflineMgr *p = self._ptr()
        with nogil:  # may wait for a Notify in progress on another thread
            p.Unadvise(0, token)

    def close(self):
        """Releases this handle's reference. Idempotent."""
        cdef IMAPIOfflineMgr *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            with nogil:  # the last Release joins the object's thread, which may be calling a sink needing the GIL
                p.Release()

    def __enter__(self):
        self._ptr()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if self._p is not NULL and self._generation == _fork_generation:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __dealloc__(self):
        cdef IMAPIOfflineMgr *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            with nogil:
                p.Release()

    def __repr__(self):
        if self._p is NULL:
            return f"<mapioffline.OfflineObject backend={self.backend!r} closed>"
        return f"<mapioffline.OfflineObject backend={self.backend!r} profile={self.profile!r}>"


def _open_embedded(str profile):
    cdef bytes wide = _wide(profile)
    cdef IMAPIOfflineMgr *p = NULL
    _check(mapioffline_open_embedded(0, <const WCHAR *><const char *>wide, &GUID_GlobalState, NULL, &p),
           f"cannot open the embedded offline object for {profile!r}")
    return OfflineObject._adopt(p, "embedded", profile)


def _open_outlook(str profile, bint allow_search):
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
    return OfflineObject._adopt(p, "outlook", profile)


def _outlook_loaded():
    return mapioffline_outlook_loaded() != 0


# -- testing support ---------------------------------------------------------------------------------------------

cdef class PumpHandle:
    """Native producer threads calling Notify; see mapioffline.testing.start_pump."""

    cdef mapioffline_pump *_pump
    cdef readonly uint64_t elapsed_ns

    def __cinit__(self):
        self._pump = NULL

    def join(self):
        """Waits (GIL released) for the producers; returns the wall time they took in ns. Idempotent."""
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
    """ABI facts of this build: struct sizes, pointer size, GUIDs."""
    return {
        "pointer_bits": 8 * sizeof(void *),
        "sizeof_MAPIOFFLINE_NOTIFY": sizeof(MAPIOFFLINE_NOTIFY),
        "sizeof_MAPIOFFLINE_ADVISEINFO": sizeof(MAPIOFFLINE_ADVISEINFO),
        "sizeof_record": sizeof(MAPIOFFLINE_RECORD),
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
        return (f"the bridge publisher of profile {profile!r} does not accept set_state requests (they are off by "
                f"default: start it with `python -m mapioffline bridge publish --profile {profile} "
                f"--allow-set-state`)")
    if backend == "bridge" and hr == MAPIOFFLINE_E_PUBLISHER_GONE:
        return f"the bridge publisher of profile {profile!r} is gone"
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


def _adopt_bridge(address, str profile):
    """Wraps the reference _open_bridge_pointer returned as an OfflineObject with backend "bridge"."""
    return OfflineObject._adopt(<IMAPIOfflineMgr *><uintptr_t>address, "bridge", profile)


def _bridge_stats(address):
    """BridgeStats of the bridge object at ``address`` (an OfflineObject's com_pointer)."""
    cdef MAPIOFFLINE_BRIDGE_STATS s
    _check(mapioffline_bridge_stats(<IMAPIOfflineMgr *><uintptr_t>address, &s), "not a bridge object")
    return BridgeStats(s.received, s.dropped, s.publisher_pid, s.ring_capacity, s.publisher_gone != 0,
                       s.allow_set_state != 0)


cdef class BridgePublisher:
    """Publishes an offline object's notifications into the channel of a profile, for subscribers in other
    processes of this user. Made by mapioffline._bridge.publish(); stop() (or leaving the ``with`` block) ends every
    subscriber's stream. Holds its own reference on the source object."""

    cdef mapioffline_bridge_publisher *_p
    cdef int _generation
    cdef readonly str profile
    cdef readonly bint allow_set_state

    def __cinit__(self):
        self._p = NULL
        self._generation = _fork_generation

    def __init__(self, *args, **kwargs):
        raise TypeError("use mapioffline._bridge.publish()")

    @staticmethod
    def _start(OfflineObject source not None, str profile, bint allow_set_state, ring_capacity):
        if isinstance(ring_capacity, bool) or not isinstance(ring_capacity, int):
            raise TypeError(f"ring_capacity must be an int, not {type(ring_capacity).__name__}")
        if ring_capacity != 0 and (ring_capacity < 2 or ring_capacity > (1 << 20) or
                                   ring_capacity & (ring_capacity - 1)):
            raise ValueError(f"ring_capacity must be a power of two between 2 and {1 << 20}, not {ring_capacity}")
        cdef bytes wide = _wide(profile)
        cdef IMAPIOfflineMgr *src = source._ptr()
        cdef const WCHAR *name = <const WCHAR *><const char *>wide
        cdef ULONG flags = MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE if allow_set_state else 0
        cdef ULONG capacity = ring_capacity
        cdef const char *detail = NULL
        cdef mapioffline_bridge_publisher *p = NULL
        cdef HRESULT hr
        src.AddRef()
        with nogil:
            hr = mapioffline_bridge_publish_start(src, name, flags, capacity, &p, &detail)
            src.Release()
        _check(hr, _detail_or(detail, f"cannot publish profile {profile!r}"))
        cdef BridgePublisher self = BridgePublisher.__new__(BridgePublisher)
        self._p = p
        self.profile = profile
        self.allow_set_state = allow_set_state
        return self

    @property
    def region_name(self):
        """The OS name of the channel's shared memory (on Linux, a file in /dev/shm)."""
        if self._p is NULL:
            raise ClosedError("the publisher is stopped")
        return mapioffline_bridge_publisher_region(self._p).decode("utf-8")

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
