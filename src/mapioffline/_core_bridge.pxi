# The bridge: bridge objects' stats and opening, the publisher and the publisher watch.
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

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


def _open_bridge(type cls, str profile):
    """A handle of class ``cls`` (OfflineObject or the facade's subclass) with backend "bridge" on a new bridge
    object for ``profile``, opened and wrapped in one step. Raises the MapiError of the failure (NotFound when no
    publisher runs)."""
    cdef bytes wide = _wide(profile)
    cdef IMAPIOfflineMgr *p = NULL
    cdef const char *detail = NULL
    cdef const WCHAR *name = <const WCHAR *><const char *>wide
    cdef HRESULT hr
    with nogil:
        hr = mapioffline_open_bridge(name, &p, &detail)
    _check(hr, _detail_or(detail, "cannot open the bridge"))
    return _adopt(cls, p, "bridge", profile)


def _bridge_stats(OfflineObject offline not None):
    """BridgeStats of the bridge object ``offline`` holds (pinned for the call)."""
    cdef MAPIOFFLINE_BRIDGE_STATS s
    cdef IMAPIOfflineMgr *p = <IMAPIOfflineMgr *>offline._pin()
    cdef HRESULT hr = mapioffline_bridge_stats(p, &s)
    p.Release()
    _check(hr, "not a bridge object")
    return BridgeStats(s.received, s.dropped, s.publisher_pid, s.ring_capacity, s.publisher_gone != 0,
                       s.allow_set_state != 0)


cdef class BridgePublisher(_Lifecycle):
    """BridgePublisher(*args, **kwargs)
--

Publishes an offline object's notifications into the channel of a profile, for subscribers in other
    processes of this user. Made by mapioffline.bridge.publish(); stop() (or leaving the ``with`` block) ends every
    subscriber's stream. Holds its own reference on the source object."""

    cdef readonly str profile
    cdef readonly bint allow_set_state

    def __init__(self, *args, **kwargs):
        raise TypeError("use mapioffline.bridge.publish()")

    cdef str _what(self):
        return "publisher"

    cdef str _closed_word(self):
        return "stopped"

    cdef void _free(self, void *p) noexcept:
        with nogil:  # unadvising waits for a Notify in progress, which may need the GIL
            mapioffline_bridge_publish_stop(<mapioffline_bridge_publisher *>p)

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

    cdef inline mapioffline_bridge_publisher *_publisher(self) except NULL:
        """_resource() as the publisher (ClosedError once stopped): inside critical_section(self) only, as stop()
        on another thread frees it."""
        return <mapioffline_bridge_publisher *>self._resource()

    @property
    def region_name(self):
        """The OS name of the channel (on Linux, the path of its locator in the user's channel directory)."""
        with cython.critical_section(self):
            return mapioffline_bridge_publisher_region(self._publisher()).decode("utf-8")

    @property
    def counters(self):
        """(notifications published, total ns spent publishing them inside Notify): the publisher's cost."""
        cdef uint64_t published = 0, spent = 0
        with cython.critical_section(self):
            mapioffline_bridge_publisher_counters(self._publisher(), &published, &spent)
        return published, spent

    @property
    def wake_calls(self):
        """Wake system calls made so far: at most one per publication, and only for one that a subscriber went to
        sleep waiting for (or that heals a wake not passed on), however many subscribers there are (they pass a
        wake on among themselves)."""
        cdef uint64_t calls
        with cython.critical_section(self):
            calls = mapioffline_bridge_publisher_wake_calls(self._publisher())
        return calls

    @property
    def _notify_pointer(self):
        """Address of the publisher's own IMAPIOfflineNotify (for the test pump in benchmarks), valid until stop."""
        with cython.critical_section(self):
            return <uintptr_t>mapioffline_bridge_publisher_notify(self._publisher())

    def stop(self):
        """Stops publishing: every subscriber's stream ends (PublisherGone). Idempotent, and safe from several
        threads at once (close() is the same call)."""
        self.close()

    def __repr__(self):
        state = "stopped" if self.closed else "publishing"
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
        limit), or after a wait slice so that Ctrl-C is noticed. True when the channel's name may have changed (the
        caller looks again), False when nothing changed. Raises KeyboardInterrupt on Ctrl-C."""
        cdef int64_t ns = _timeout_ns(timeout)
        cdef int changed
        if ns < 0 or ns > _WAIT_SLICE_NS:
            ns = _WAIT_SLICE_NS
        if self._w is NULL:
            raise ClosedError("the watch is closed")
        with nogil:
            changed = mapioffline_bridge_watch_wait(self._w, ns)
        PyErr_CheckSignals()
        return changed != 0

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
