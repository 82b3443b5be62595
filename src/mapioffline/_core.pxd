# Mirrors the headers of ext/include/mapioffline/ (what the binding uses of them), plus one internal function of ext/src.
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

cdef extern from "mapioffline/mapioffline.h" nogil:
    ctypedef uint32_t ULONG
    ctypedef int HRESULT
    ctypedef unsigned short WCHAR "WCHAR"
    ctypedef struct GUID:
        uint32_t Data1
        uint16_t Data2
        uint16_t Data3
        unsigned char Data4[8]
    ctypedef GUID IID

    const char *MAPIOFFLINE_VERSION_STRING
    HRESULT S_OK
    HRESULT E_PENDING
    HRESULT E_INVALIDARG
    HRESULT E_NOINTERFACE
    HRESULT MAPI_E_NOT_FOUND
    HRESULT MAPI_E_NO_SUPPORT
    HRESULT MAPI_E_UNKNOWN_FLAGS
    ULONG MAPIOFFLINE_FLAG_BLOCK
    ULONG MAPIOFFLINE_STATE_OFFLINE_MASK
    ULONG MAPIOFFLINE_STATE_ALL
    ULONG MAPIOFFLINE_ADVISE_TYPE_STATECHANGE
    int MAPIOFFLINE_WAIT_READY
    int MAPIOFFLINE_WAIT_TIMEOUT
    int MAPIOFFLINE_WAIT_CLOSED
    int MAPIOFFLINE_WAIT_ENDED
    int MAPIOFFLINE_WAIT_INTERRUPTED
    ULONG MAPIOFFLINE_END_NONE
    ULONG MAPIOFFLINE_END_UNADVISED
    ULONG MAPIOFFLINE_END_PUBLISHER_GONE
    ULONG MAPIOFFLINE_END_FAILED
    unsigned int MAPIOFFLINE_SINK_MAX_CAPACITY
    unsigned int MAPIOFFLINE_PUMP_SEQUENCE
    unsigned int MAPIOFFLINE_PUMP_NULL

    const IID IID_IUnknown
    const IID IID_IMAPIOffline
    const IID IID_IMAPIOfflineMgr
    const IID IID_IMAPIOfflineNotify
    const GUID GUID_GlobalState

    cdef cppclass IUnknown:
        HRESULT QueryInterface(const IID &riid, void **ppv)
        ULONG AddRef()
        ULONG Release()

    ctypedef enum MAPIOFFLINE_CALLBACK_TYPE:
        MAPIOFFLINE_CALLBACK_TYPE_NOTIFY
    ctypedef enum MAPIOFFLINE_NOTIFY_TYPE:
        MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START
        MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE
        MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE


    ctypedef struct MAPIOFFLINE_ADVISEINFO:
        ULONG ulSize
        ULONG ulClientToken
        MAPIOFFLINE_CALLBACK_TYPE CallbackType
        IUnknown *pCallback
        ULONG ulAdviseTypes
        ULONG ulStateMask

    ctypedef struct _StateChange:
        ULONG ulMask
        ULONG ulStateOld
        ULONG ulStateNew
    ctypedef struct _NotifyInfo:
        _StateChange StateChange
    ctypedef struct MAPIOFFLINE_NOTIFY:
        ULONG ulSize
        MAPIOFFLINE_NOTIFY_TYPE NotifyType
        ULONG ulClientToken
        _NotifyInfo Info

    cdef cppclass IMAPIOfflineNotify(IUnknown):
        void Notify(const MAPIOFFLINE_NOTIFY *pNotifyInfo)

    cdef cppclass IMAPIOffline(IUnknown):
        HRESULT SetCurrentState(ULONG ulFlags, ULONG ulMask, ULONG ulState, void *pReserved)
        HRESULT GetCapabilities(ULONG *pulCapabilities)
        HRESULT GetCurrentState(ULONG *pulState)

    cdef cppclass IMAPIOfflineMgr(IMAPIOffline):
        HRESULT Advise(ULONG ulFlags, MAPIOFFLINE_ADVISEINFO *pAdviseInfo, ULONG *pulAdviseToken)
        HRESULT Unadvise(ULONG ulFlags, ULONG ulAdviseToken)

    ctypedef struct MAPIOFFLINE_RECORD:
        MAPIOFFLINE_NOTIFY notify
        uint64_t timestamp_ns

    ctypedef struct MAPIOFFLINE_SINK_STATS:
        uint64_t received
        uint64_t delivered
        uint64_t dropped
        uint64_t invalid
        uint64_t dropped_reported

    const char *mapioffline_version()
    const char *mapioffline_profile_name_error(const WCHAR *name)
    HRESULT mapioffline_open_embedded(ULONG ulReserved, const WCHAR *pwszProfileNameIn, const GUID *pGUID,
                                      const GUID *pReserved, IMAPIOfflineMgr **ppOfflineObj)
    HRESULT mapioffline_open_outlook(const WCHAR *pwszProfileNameIn, int allow_search,
                                     IMAPIOfflineMgr **ppOfflineObj, const char **detail)
    int mapioffline_outlook_loaded()
    const char *mapioffline_outlook_export()
    HRESULT mapioffline_sink_create(ULONG capacity, IMAPIOfflineNotify **ppSink)
    int mapioffline_sink_try_pop(IMAPIOfflineNotify *sink, MAPIOFFLINE_NOTIFY *out, uint64_t *timestamp_ns)
    size_t mapioffline_sink_pop_batch(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                      uint64_t *dropped_before)
    size_t mapioffline_sink_pop_records(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                        uint64_t *dropped_before)
    int mapioffline_sink_wait(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns)
    int mapioffline_sink_wait_since(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns,
                                    uint32_t seen_interrupts)
    uint32_t mapioffline_sink_interrupts(IMAPIOfflineNotify *sink)
    void mapioffline_sink_attach(IMAPIOfflineNotify *sink)
    void mapioffline_sink_detach(IMAPIOfflineNotify *sink)
    void mapioffline_sink_fail(IMAPIOfflineNotify *sink, ULONG reason)
    ULONG mapioffline_sink_end_reason(IMAPIOfflineNotify *sink)
    void mapioffline_sink_note_dropped(IMAPIOfflineNotify *sink, uint64_t n)
    int mapioffline_sink_get_last_state(IMAPIOfflineNotify *sink, ULONG *state)
    int mapioffline_sink_fileno(IMAPIOfflineNotify *sink)
    void mapioffline_sink_close(IMAPIOfflineNotify *sink)
    void mapioffline_sink_interrupt(IMAPIOfflineNotify *sink)
    int mapioffline_sink_is_closed(IMAPIOfflineNotify *sink)
    void mapioffline_sink_stats(IMAPIOfflineNotify *sink, MAPIOFFLINE_SINK_STATS *out)
    ULONG mapioffline_sink_last_state(IMAPIOfflineNotify *sink)
    ULONG mapioffline_sink_capacity(IMAPIOfflineNotify *sink)
    int mapioffline_is_native_sink(IUnknown *p)
    long mapioffline_live_sinks()
    long mapioffline_live_offline_objects()
    uint64_t mapioffline_now_ns()
    HRESULT mapioffline_offline_wait_idle(IMAPIOfflineMgr *obj, int64_t timeout_ns)

# -- Internal (ext/src/fork_generation.h) --------------------------------------------------------------------------
# The fork generation: moves on in the child of every fork() (pthread_atfork, registered as the library loads). The
# native objects record it, and so does every handle of the binding: one counter for both.
cdef extern from "fork_generation.h" namespace "mapioffline" nogil:
    uint32_t ForkGeneration() noexcept

# -- Test pump and probe (mapioffline/testing.h) ------------------------------------------------------------------
cdef extern from "mapioffline/testing.h" nogil:
    ctypedef struct MAPIOFFLINE_PUMP_SPEC:
        ULONG threads
        uint64_t per_thread
        ULONG flags
        MAPIOFFLINE_NOTIFY record
    ctypedef struct mapioffline_pump:
        pass

    HRESULT mapioffline_pump_start(IMAPIOfflineNotify *sink, const MAPIOFFLINE_PUMP_SPEC *spec,
                                   mapioffline_pump **out)
    void mapioffline_pump_join(mapioffline_pump *pump, uint64_t *elapsed_ns)
    ctypedef struct mapioffline_condvar_probe:
        pass
    mapioffline_condvar_probe *mapioffline_condvar_probe_start(size_t samples)
    uint64_t mapioffline_condvar_probe_wait(mapioffline_condvar_probe *probe)
    void mapioffline_condvar_probe_join(mapioffline_condvar_probe *probe)

# -- Bridge (mapioffline/bridge.h) --------------------------------------------------------------------------------
cdef extern from "mapioffline/bridge.h" nogil:
    HRESULT MAPIOFFLINE_E_PUBLISHER_GONE
    HRESULT MAPIOFFLINE_E_CHANNEL_CORRUPT
    HRESULT MAPIOFFLINE_E_ACCESS_DENIED
    unsigned int MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE

    ctypedef struct MAPIOFFLINE_BRIDGE_STATS:
        uint64_t received
        uint64_t dropped
        uint32_t publisher_pid
        uint32_t ring_capacity
        uint32_t end_reason
        uint32_t publisher_gone
        uint32_t allow_set_state
        uint32_t reserved

    ctypedef struct mapioffline_bridge_publisher:
        pass

    HRESULT mapioffline_bridge_publish_start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags,
                                             ULONG ring_capacity, mapioffline_bridge_publisher **out,
                                             const char **detail)
    ctypedef HRESULT (*mapioffline_bridge_run_set_state)(void *context, ULONG flags, ULONG state) noexcept nogil

    ctypedef struct MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS:
        ULONG ulSize
        ULONG ulFlags
        ULONG ulRingCapacity
        ULONG ulReserved
        mapioffline_bridge_run_set_state run_set_state
        void *run_set_state_context

    HRESULT mapioffline_bridge_publish_start_ex(IMAPIOfflineMgr *source, const WCHAR *profile,
                                                const MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS *options,
                                                mapioffline_bridge_publisher **out, const char **detail)
    void mapioffline_bridge_publish_stop(mapioffline_bridge_publisher *publisher)
    IMAPIOfflineNotify *mapioffline_bridge_publisher_notify(mapioffline_bridge_publisher *publisher)
    void mapioffline_bridge_publisher_counters(mapioffline_bridge_publisher *publisher, uint64_t *published,
                                               uint64_t *notify_ns)
    uint64_t mapioffline_bridge_publisher_wake_calls(mapioffline_bridge_publisher *publisher)
    const char *mapioffline_bridge_publisher_region(mapioffline_bridge_publisher *publisher)
    HRESULT mapioffline_open_bridge(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail)
    int mapioffline_is_bridge(IUnknown *p)
    HRESULT mapioffline_bridge_stats(IMAPIOfflineMgr *bridge, MAPIOFFLINE_BRIDGE_STATS *out)

    ctypedef struct mapioffline_bridge_watch:
        pass

    HRESULT mapioffline_bridge_watch_start(const WCHAR *profile, mapioffline_bridge_watch **out)
    int mapioffline_bridge_watch_wait(mapioffline_bridge_watch *watch, int64_t timeout_ns)
    void mapioffline_bridge_watch_stop(mapioffline_bridge_watch *watch)
