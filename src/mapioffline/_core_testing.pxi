# Testing and introspection support: the native pump, COM reference counts, live counters, the ABI's GUIDs, the condition-variable probe.
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

# -- testing support ---------------------------------------------------------------------------------------------

cdef class PumpHandle(_Lifecycle):
    """PumpHandle()
--

Native producer threads calling Notify; see mapioffline.testing.start_pump. join() (or close(), or leaving
    the ``with`` block) waits for them."""

    cdef uint64_t _elapsed_ns

    cdef str _what(self):
        return "pump"

    cdef str _closed_word(self):
        return "joined"

    cdef void _free(self, void *p) noexcept:
        cdef uint64_t elapsed = 0
        with nogil:
            mapioffline_pump_join(<mapioffline_pump *>p, &elapsed)
        with cython.critical_section(self):
            self._elapsed_ns = elapsed

    def join(self):
        """Waits (GIL released) for the producers; returns the wall time they took in ns. Idempotent: one caller
        joins, the others return at once. In a fork child, a pump started by the parent returns 0 at once and is
        leaked: its threads exist only there."""
        self.close()
        return self.elapsed_ns

    @property
    def elapsed_ns(self):
        """The producers' wall time in ns once joined (0 before)."""
        with cython.critical_section(self):
            return self._elapsed_ns

    @property
    def running(self):
        """True until joined (False in a fork child, where its threads do not exist)."""
        return not self.closed

    def __repr__(self):
        return f"<mapioffline.testing.PumpHandle {'running' if self.running else 'joined'}>"


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
    cdef PumpHandle handle = PumpHandle.__new__(PumpHandle)  # first: nothing can fail once the threads run
    cdef mapioffline_pump *started = NULL
    _check(mapioffline_pump_start(<IMAPIOfflineNotify *><uintptr_t>address, &spec, &started), "cannot start the pump")
    handle._p = started
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
