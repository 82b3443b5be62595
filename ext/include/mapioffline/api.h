/*
 * mapioffline/api.h -- the mapioffline C API: native sinks, the embedded offline object, Outlook's loader, counters.
 *
 * Usable from C99 and C++17; declarations only. Spec references (section numbers) are to
 * shared/spec/offline-state-api.md. Most code includes <mapioffline/mapioffline.h>, which includes this.
 */
#ifndef MAPIOFFLINE_API_H
#define MAPIOFFLINE_API_H

#include "mapioffline/abi.h"

/* ------------------------------------------------------------------------------------------------------------ */
/* mapioffline C API                                                                                             */
/* ------------------------------------------------------------------------------------------------------------ */

/* One delivered notification as the sink stores it, and the raw record format of drain-into-buffer:
 * the 24-byte MAPIOFFLINE_NOTIFY, then the 64-bit timestamp (32 bytes, no padding; Python struct "<6IQ"). */
typedef struct MAPIOFFLINE_RECORD {
  MAPIOFFLINE_NOTIFY notify;
  uint64_t timestamp_ns;
} MAPIOFFLINE_RECORD;
MAPIOFFLINE_STATIC_ASSERT(sizeof(MAPIOFFLINE_RECORD) == 32, record_size);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_RECORD, timestamp_ns) == 24, record_timestamp);

/* Counters of a sink. received = every well-formed Notify (dropped ones included); delivered = records handed to
 * a consumer; dropped = records the full ring (or a closed sink) refused; invalid = NULL or short records. */
typedef struct MAPIOFFLINE_SINK_STATS {
  uint64_t received;
  uint64_t delivered;
  uint64_t dropped;
  uint64_t invalid;
  uint64_t dropped_reported; /* drops already reported in some record's dropped_before (the rest: still to come) */
} MAPIOFFLINE_SINK_STATS;

/* Results of mapioffline_sink_wait. */
#define MAPIOFFLINE_WAIT_READY 1   /* a notification is pending (or it was a spurious wake: pop to find out) */
#define MAPIOFFLINE_WAIT_TIMEOUT 0 /* the timeout passed with nothing pending */
#define MAPIOFFLINE_WAIT_CLOSED (-1) /* the sink was closed and nothing is pending */
#define MAPIOFFLINE_WAIT_ENDED (-2)  /* the sink's stream ended (see mapioffline_sink_end_reason), nothing pending */
#define MAPIOFFLINE_WAIT_INTERRUPTED 2 /* the interrupt count moved past the one the caller had seen */

/* Why a sink's stream ended (mapioffline_sink_end_reason). */
#define MAPIOFFLINE_END_NONE 0           /* still streaming, or no feed ever attached */
#define MAPIOFFLINE_END_UNADVISED 1      /* every feed that attached has detached */
#define MAPIOFFLINE_END_PUBLISHER_GONE 2 /* a feed's publisher (another process) died */
#define MAPIOFFLINE_END_FAILED 3         /* a feed failed for another reason */

/* Capacity limits of a sink's ring; the capacity is rounded up to a power of two, at least 2. */
#define MAPIOFFLINE_SINK_MIN_CAPACITY 1u
#define MAPIOFFLINE_SINK_MAX_CAPACITY (1u << 24)

/* The longest profile name, in UTF-16 code units: a MAPI profile is a registry key, whose names have at most 255
 * characters. Every function that takes a profile name (here and in bridge.h) refuses, with E_INVALIDARG, an empty
 * one, a longer one and one with an unpaired surrogate (mapioffline_profile_name_error says which). */
#define MAPIOFFLINE_MAX_PROFILE_NAME 255u

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string (MAPIOFFLINE_VERSION_STRING of the build that made it). */
const char *mapioffline_version(void);

/* Why `name` is not a valid profile name (see MAPIOFFLINE_MAX_PROFILE_NAME), as a static string that quotes no
 * part of it, or NULL when it is valid. */
const char *mapioffline_profile_name_error(const WCHAR *name);

/* Opens the embedded offline object for a profile: the exact signature and argument rules of HrOpenOfflineObj
 * (spec §5, §7.13). One object per profile name (compared case-insensitively); every valid profile
 * name (mapioffline_profile_name_error) names one.
 * Returns S_OK and a new reference, E_INVALIDARG or MAPI_E_NOT_FOUND. The object starts ONLINE. */
HRESULT STDMETHODCALLTYPE mapioffline_open_embedded(ULONG ulReserved, const WCHAR *pwszProfileNameIn,
                                                    const GUID *pGUID, const GUID *pReserved,
                                                    IMAPIOfflineMgr **ppOfflineObj);

/* Opens Outlook's own offline object through HrOpenOfflineObj, found as spec §5 describes: an already loaded
 * olmapi32.dll / msmapi32.dll first; if allow_search is non-zero, then the registry (DllPathEx) and
 * FGetComponentPath. Windows only: elsewhere MAPI_E_NO_SUPPORT. On failure, *detail (if not NULL) names the
 * step that failed as a static string. E_FAIL = MAPI_E_CALL_FAILED: DLL or export missing. */
HRESULT mapioffline_open_outlook(const WCHAR *pwszProfileNameIn, int allow_search, IMAPIOfflineMgr **ppOfflineObj,
                                 const char **detail);
/* 1 when an Outlook MAPI DLL (olmapi32.dll or msmapi32.dll) is loaded in this process. Always 0 off Windows. */
int mapioffline_outlook_loaded(void);
/* The export name mapioffline_open_outlook uses in the loaded Outlook MAPI DLL: "HrOpenOfflineObj" or
 * "HrOpenOfflineObj@20" (x64 tries the plain name first, x86 the decorated one). NULL when no such DLL is loaded,
 * when it exports neither spelling, and off Windows. Static storage. */
const char *mapioffline_outlook_export(void);

/* Creates a native sink with a ring of `capacity` (1..MAPIOFFLINE_SINK_MAX_CAPACITY, rounded up to a power of two >= 2)
 * records, refcount 1. E_INVALIDARG for a bad capacity or NULL ppSink, E_OUTOFMEMORY. Only sinks made here may be
 * passed to the mapioffline_sink_* functions below. */
HRESULT mapioffline_sink_create(ULONG capacity, IMAPIOfflineNotify **ppSink);

/* Consumer side. Any number of threads may call these; the sink serialises its consumers internally. */

/* 1 when a notification was taken (and *timestamp_ns set if not NULL), 0 when empty. */
int mapioffline_sink_try_pop(IMAPIOfflineNotify *sink, MAPIOFFLINE_NOTIFY *out, uint64_t *timestamp_ns);
/* Takes up to max_records records; returns how many. dropped_before (NULL, or an array of max_records) receives,
 * per record, how many notifications the sink dropped just before that record arrived (drops are stamped when a
 * record is pushed; a record pushed after drops reports them, also across batches). */
size_t mapioffline_sink_pop_records(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                    uint64_t *dropped_before);
/* As pop_records, but *dropped_total (if not NULL) receives the sum of the batch's dropped_before values. */
size_t mapioffline_sink_pop_batch(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                  uint64_t *dropped_total);
/* Waits until a notification is pending, the sink is closed, its stream ended, or timeout_ns passes (negative: no
 * limit), using no CPU while idle (futex / WaitOnAddress / condition variable). Spins up to spin_ns first (0: no
 * spin; never beyond timeout_ns). Returns a MAPIOFFLINE_WAIT_* value; spurious READY results are possible (a
 * signal interrupting the wait returns READY, so a caller can check for Ctrl-C), missed wake-ups are not. */
int mapioffline_sink_wait(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns);
/* As mapioffline_sink_wait, and also returns MAPIOFFLINE_WAIT_INTERRUPTED as soon as the sink's interrupt count
 * differs from `seen_interrupts` (read it with mapioffline_sink_interrupts before checking a condition of your
 * own): an interrupt that lands between that check and the wait is never lost. */
int mapioffline_sink_wait_since(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns,
                                uint32_t seen_interrupts);
uint32_t mapioffline_sink_interrupts(IMAPIOfflineNotify *sink);
/* POSIX: a descriptor that is readable while notifications are pending (level-triggered) or after close; made on
 * first call, owned by the sink. -1 on Windows or if it cannot be made. */
int mapioffline_sink_fileno(IMAPIOfflineNotify *sink);
/* Closes the consumer side: wakes every waiter, and later Notify calls are counted as dropped and discarded.
 * The memory lives until the last Release. Idempotent. */
void mapioffline_sink_close(IMAPIOfflineNotify *sink);
int mapioffline_sink_is_closed(IMAPIOfflineNotify *sink);
/* Adds one to the interrupt count and wakes every waiter (mapioffline_sink_wait returns READY, spuriously;
 * wait_since returns INTERRUPTED), and makes the descriptor readable until the next pop finds the ring empty, so
 * that a consumer notices a condition of its own. */
void mapioffline_sink_interrupt(IMAPIOfflineNotify *sink);
/* The stream. A feed (e.g. a subscription) attaches when it starts delivering into the sink and detaches when it
 * stops; once every attached feed has detached, the stream has ended: consumers take what is pending, then their
 * waits return MAPIOFFLINE_WAIT_ENDED. Attaching again reopens the stream (and forgets an earlier failure).
 * fail() ends the stream at once with a reason (MAPIOFFLINE_END_*). Any thread. */
void mapioffline_sink_attach(IMAPIOfflineNotify *sink);
void mapioffline_sink_detach(IMAPIOfflineNotify *sink);
void mapioffline_sink_fail(IMAPIOfflineNotify *sink, ULONG reason);
ULONG mapioffline_sink_end_reason(IMAPIOfflineNotify *sink);
/* A feed lost n notifications before they reached the sink (e.g. a reader that fell behind its publisher): they
 * count as dropped and are reported in dropped_before of the next record pushed. */
void mapioffline_sink_note_dropped(IMAPIOfflineNotify *sink, uint64_t n);
void mapioffline_sink_stats(IMAPIOfflineNotify *sink, MAPIOFFLINE_SINK_STATS *out);
/* New state of the latest STATECHANGE_DONE with ulMask == OFFLINE_MASK that reached the sink (dropped or not);
 * 0 before any. */
ULONG mapioffline_sink_last_state(IMAPIOfflineNotify *sink);
/* 1 (and *state set) once such a DONE reached the sink, 0 before: tells an invalid state 0 from "none yet". */
int mapioffline_sink_get_last_state(IMAPIOfflineNotify *sink, ULONG *state);
/* The ring's capacity after rounding. */
ULONG mapioffline_sink_capacity(IMAPIOfflineNotify *sink);
/* 1 when p is a sink made by mapioffline_sink_create (checked by its vtable), 0 otherwise. */
int mapioffline_is_native_sink(IUnknown *p);

/* Live-object counters (relaxed atomics, always on), for leak tests. */
long mapioffline_live_sinks(void);
long mapioffline_live_offline_objects(void);

/* Monotonic time in ns, the clock of the sink's timestamps and of Python's time.perf_counter_ns(). */
uint64_t mapioffline_now_ns(void);

/* Embedded offline object: what the Offline State API has no call for.
 *
 * Waits until no state change is in flight or queued on an embedded object (one from mapioffline_open_embedded,
 * recognised by its vtable), without spinning: S_OK when idle (at once if it already is); E_PENDING (the HRESULT
 * SetCurrentState gives while a change is in flight) if a change still is when timeout_ns has passed (negative: no
 * limit; 0: just check); MAPI_E_CALL_FAILED at once when called from inside one of the object's own Notify calls
 * (the change cannot end before that Notify returns: the wait would never end); MAPI_E_NO_SUPPORT for any other
 * object; E_INVALIDARG for NULL.
 * A change requested while another one is handing out DONE is queued and carried out right after that phase (spec
 * §7.4, refinement 0.2; a FLAG_BLOCK caller waits for it and runs it on its own thread); only one can be queued,
 * a second request meanwhile gets E_PENDING. Such a queued change counts as in flight here. The caller must hold
 * a reference on the object.
 *
 * fork(): a child has a fresh registry of embedded objects, so opening a profile there gives a new object with a
 * thread of its own. Objects and test pumps made before the fork are inert in the child: their threads do not
 * exist there, so Release leaks instead of joining, mapioffline_pump_join returns at once (*elapsed_ns = 0) and
 * leaks, SetCurrentState, Advise and this function return MAPI_E_CALL_FAILED, Unadvise S_OK. */
HRESULT mapioffline_offline_wait_idle(IMAPIOfflineMgr *obj, int64_t timeout_ns);

#ifdef __cplusplus
} /* extern "C" */
#endif

#ifdef __cplusplus
/* Fails to compile if mapioffline_open_embedded ever stops matching Microsoft's HROPENOFFLINEOBJ. */
static_assert(sizeof(static_cast<HROPENOFFLINEOBJ *>(&mapioffline_open_embedded)) == sizeof(void (*)()),
              "mapioffline_open_embedded must be a HROPENOFFLINEOBJ");
#endif

#endif /* MAPIOFFLINE_API_H */
