# Offline objects: the OfflineObject handle and the embedded and Outlook openers.
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

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
        with cython.critical_section(self):
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
