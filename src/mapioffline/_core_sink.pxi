# The native sink's handle: Sink, its waits, drains and stream end.
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

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
        """_unknown() as the sink: inside critical_section(self) only."""
        return <IMAPIOfflineNotify *>self._unknown()

    cdef inline bint _has_final(self) except -1:
        """True when closed (the counters come from the snapshot); raises in a fork child. Inside
        critical_section(self) only, with the snapshot read in the same section."""
        if self._inherited():
            raise _forked_error("sink")
        return self._closed

    def __dealloc__(self):
        if self._p is not NULL and not self._closed and not self._inherited():
            mapioffline_sink_close(<IMAPIOfflineNotify *>self._p)

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def com_pointer(self):
        """Address of the sink's IMAPIOfflineNotify, valid while this Sink is open. A manager that Advises it holds
        its own reference, which keeps the native sink alive even after close()."""
        with cython.critical_section(self):
            return <uintptr_t>self._sink()

    @property
    def capacity(self):
        """The ring's capacity after rounding (readable after close())."""
        cdef ULONG capacity
        with cython.critical_section(self):
            if self._has_final():
                capacity = self._final_capacity
            else:
                capacity = mapioffline_sink_capacity(self._sink())
        return capacity

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
        cdef ULONG state = 0
        cdef bint known
        with cython.critical_section(self):
            if self._has_final():
                known = self._final_has_last_state
                state = self._final_last_state
            else:
                known = mapioffline_sink_get_last_state(self._sink(), &state)
        return state if known else None

    @property
    def end_reason(self):
        """Why the stream ended, once it has: an EndReason (UNADVISED: every subscription feeding the sink ended;
        PUBLISHER_GONE: a bridge publisher feeding it stopped or died; FAILED: a feed failed otherwise; CLOSED: the
        sink was closed while its stream went on). None while it goes on, and before any subscription fed it; a
        new subscription reopens the stream (None again). Read it after a ``for``/``async for`` loop stopped, or
        after a callback dispatcher finished, to tell why. Readable after close()."""
        cdef ULONG code
        cdef bint closed
        with cython.critical_section(self):
            closed = self._has_final()
            code = self._final_end_reason if closed else mapioffline_sink_end_reason(self._sink())
        reason = _end_reason_of(code)
        if closed and reason is None:
            return EndReason.CLOSED
        return reason

    @property
    def stats(self):
        """SinkStats(received, delivered, dropped, invalid, dropped_reported); after close(), as they were then."""
        cdef MAPIOFFLINE_SINK_STATS s
        with cython.critical_section(self):
            if self._has_final():
                s = self._final_stats
            else:
                mapioffline_sink_stats(self._sink(), &s)
        return _stats_tuple(&s)

    # -- consumption -----------------------------------------------------------------------------------------
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
        cdef MAPIOFFLINE_RECORD r
        cdef uint64_t gap = 0
        cdef size_t got
        while True:
            with cython.critical_section(self):  # close() on another thread cannot release p in here
                p = self._sink()
                # The end is read before the pop: it is stored after the records that precede it were published,
                # so an empty pop after it means nothing more is coming. Popping first let the last records and
                # the end land between the two, and StreamEnded came with records pending (sink_protocol_model.py).
                code = _end_code(p)
                got = mapioffline_sink_pop_records(p, &r, 1, &gap)
                if got == 0 and code == 0:
                    if not stop_on_interrupt:
                        seen = mapioffline_sink_interrupts(p)  # an interrupt is only a reason to look again
                    p.AddRef()  # pinned across the wait: close() on another thread must not free it under us
            if got == 1:
                return _make(&r, gap)
            if code != 0:
                raise _end_error(code)
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
                    p.Release()
                    raise TimeoutError(f"no notification within {timeout} s")
                if remaining < slice_ns:
                    slice_ns = remaining
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
        cdef IMAPIOfflineNotify *p = NULL
        cdef list out = []
        with cython.critical_section(self):
            p = self._sink()  # a closed sink is a ClosedError, drain(0) included
        while left > 0:
            want = _BATCH if <size_t>left > _BATCH else <size_t>left
            # Each batch is popped inside the section, the objects made outside it (the allocator may run the
            # garbage collector, and so Python code that closes this sink). A close() between two batches ends the
            # drain with what it took: nothing is popped after close() took its final counters, so
            # stats.delivered then counts every record a consumer got.
            with cython.critical_section(self):
                if self._closed:
                    break
                n = mapioffline_sink_pop_records(p, buf, want, gaps)
            for i in range(n):
                out.append(_make(&buf[i], gaps[i]))
            left -= <Py_ssize_t>n
            if n < want:
                break
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
        with cython.critical_section(self):
            self._sink()  # a closed sink is a ClosedError before the buffer is even looked at
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
            # Taken after GetBuffer, which may run Python code (a __buffer__ method); native calls only below.
            with cython.critical_section(self):
                p = self._sink()
                if (<uintptr_t>view.buf) % 8 == 0:
                    done = mapioffline_sink_pop_records(p, <MAPIOFFLINE_RECORD *>view.buf, count, NULL)
                else:
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
        cdef int fd
        with cython.critical_section(self):
            fd = mapioffline_sink_fileno(self._sink())
        if fd < 0:
            raise NotSupported("Sink.fileno() needs POSIX (on Windows use aget())")
        return fd

    def interrupt(self):
        """Wakes every consumer blocked on this sink without ending anything: they look again and go back to
        waiting. (Tools that wait for a condition of their own use this to be woken.)"""
        with cython.critical_section(self):
            mapioffline_sink_interrupt(self._sink())

    def __iter__(self):
        return self

    def __next__(self):
        """Blocks for the next notification; stops once the sink is empty and its stream is over (every
        subscription feeding it ended, or the sink was closed)."""
        if self._inherited():
            raise _forked_error("sink")
        try:  # closed before this call (e.g. inside the for loop) is a ClosedError too: the iteration ends
            return self._next(None, 0, False, 0)
        except ClosedError:  # StreamEnded and PublisherGone derive from it
            raise StopIteration from None

    # -- for the facade (Subscription, callbacks, asyncio): native operations only -------------------------
    def _attach(self):
        """A subscription starts feeding this sink (its stream reopens)."""
        with cython.critical_section(self):
            mapioffline_sink_attach(self._sink())

    def _detach(self):
        """A subscription stopped feeding this sink; with none left, consumers stop once it is empty."""
        with cython.critical_section(self):
            mapioffline_sink_detach(self._sink())

    def _interrupts(self):
        """The interrupt count: read it before checking a condition of your own, then pass it to _next_since."""
        cdef uint32_t count
        with cython.critical_section(self):
            count = mapioffline_sink_interrupts(self._sink())
        return count

    def _next_since(self, seen):
        """Blocks for the next notification like get(); None once the interrupt count differs from ``seen``."""
        return self._next(None, 0, True, <uint32_t>seen)

    def _try_get(self):
        """Non-blocking: a Notification, None when empty, or the end-of-stream error when empty and over."""
        cdef IMAPIOfflineNotify *p
        cdef MAPIOFFLINE_RECORD r
        cdef uint64_t gap = 0
        cdef size_t got
        cdef int code
        with cython.critical_section(self):
            p = self._sink()
            code = _end_code(p)  # before the pop, as in _next
            got = mapioffline_sink_pop_records(p, &r, 1, &gap)
        if got == 1:
            return _make(&r, gap)
        if code != 0:
            raise _end_error(code)
        return None

    def _watch(self):
        """(fd or None, pin): the pin holds a native reference so that the descriptor stays open while an event
        loop watches it, even if the sink is closed (and its handle's reference released) meanwhile."""
        cdef IMAPIOfflineNotify *p = <IMAPIOfflineNotify *>self._pin()
        cdef int fd = mapioffline_sink_fileno(p)  # the descriptor lives as long as the native sink
        cdef _Pin pin = _Pin.__new__(_Pin)
        pin._p = <IUnknown *>p  # the pin adopts the reference
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
        cdef uintptr_t address = 0
        cdef ULONG capacity = 0
        with cython.critical_section(self):
            if not self._closed and self._p is not NULL and not self._inherited():
                address = <uintptr_t>self._p
                capacity = mapioffline_sink_capacity(<IMAPIOfflineNotify *>self._p)
        if address == 0:
            return "<mapioffline.Sink closed>"
        return f"<mapioffline.Sink capacity={capacity} at 0x{address:x}>"


# wait_idle's slices: a condition-variable wait is not cut short by a signal, so Ctrl-C waits for the slice's end.
cdef int64_t _IDLE_SLICE_NS = 50_000_000
