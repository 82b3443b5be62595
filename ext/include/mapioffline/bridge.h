/*
 * mapioffline/bridge.h -- the bridge: Outlook's state for every process of the user (publisher, bridge object).
 *
 * Usable from C99 and C++17; declarations only. Spec references (section numbers) are to
 * shared/spec/offline-state-api.md. Most code includes <mapioffline/mapioffline.h>, which includes this.
 */
#ifndef MAPIOFFLINE_BRIDGE_H
#define MAPIOFFLINE_BRIDGE_H

#include "mapioffline/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* Bridge: Outlook's state for every process of the user, through a per-profile shared-memory channel          */
/* (ext/src/channel/). A publisher forwards a source object's notifications into the channel; a subscriber in   */
/* any process of the same user opens a "bridge object", an IMAPIOfflineMgr over the channel.                   */
/* ------------------------------------------------------------------------------------------------------------ */

/* HRESULTs of the bridge (FACILITY_ITF, codes of our own). */
#define MAPIOFFLINE_E_PUBLISHER_GONE ((HRESULT)0x80040A01)  /* the channel's publisher stopped or died */
#define MAPIOFFLINE_E_CHANNEL_CORRUPT ((HRESULT)0x80040A02) /* the region failed validation: refused, not followed */
#define MAPIOFFLINE_E_ACCESS_DENIED ((HRESULT)0x80070005)   /* E_ACCESSDENIED: the channel is not this user's own */

/* Flags of mapioffline_bridge_publish_start. */
#define MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE 0x1u /* subscribers may ask the publisher to SetCurrentState */

/* Counters of a bridge object (mapioffline_bridge_stats). */
typedef struct MAPIOFFLINE_BRIDGE_STATS {
  uint64_t received;       /* records read from the channel */
  uint64_t dropped;        /* records the publisher overwrote before this subscriber read them (sequence gaps) */
  uint32_t publisher_pid;
  uint32_t ring_capacity;
  uint32_t end_reason;      /* MAPIOFFLINE_END_* once the streams were ended, else 0 */
  uint32_t publisher_gone;  /* 1 once the publisher is known to have stopped or died */
  uint32_t allow_set_state; /* 1 when the publisher accepts set_state requests */
  uint32_t reserved;
} MAPIOFFLINE_BRIDGE_STATS;

typedef struct mapioffline_bridge_publisher mapioffline_bridge_publisher;

/* Publishes `source` (which the publisher AddRefs and advises its own sink on) as the channel of `profile`,
 * replacing a dead publisher's channel. flags: MAPIOFFLINE_BRIDGE_*; ring_capacity: records in the broadcast ring,
 * a power of two in [2, 2^20], or 0 for the default (4096). MAPI_E_CALL_FAILED when a live publisher already
 * publishes the profile; MAPIOFFLINE_E_ACCESS_DENIED when another user's object is in the channel's way (the
 * detail names its owner). *detail (if not NULL) names the failing step: a static string, or one that names a path
 * or a user, valid until the calling thread's next bridge call. Linux and Windows; elsewhere MAPI_E_NO_SUPPORT. */
HRESULT mapioffline_bridge_publish_start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags,
                                         ULONG ring_capacity, mapioffline_bridge_publisher **out,
                                         const char **detail);
/* A host's executor for subscribers' set_state requests (MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS::run_set_state), for a
 * source that must be called on a thread of the host's choosing (Outlook's objects belong to Outlook's STA thread).
 * Called on the publisher's request thread, one request at a time; it runs source->SetCurrentState(flags,
 * MAPIOFFLINE_STATE_OFFLINE_MASK, state, NULL) where the host wants and returns its HRESULT (or its own error, e.g.
 * when the host is shutting down). `flags` never contains MAPIOFFLINE_FLAG_BLOCK: for a blocking request the
 * request thread itself waits, once run_set_state returned S_OK, until the publisher has published the state
 * `state` (the change's DONE, or at once for a no-op), at most 15 s (then the answer is E_PENDING: still in
 * progress), so the host's thread is never held for the change. `flags` and `state` come from a subscriber: the
 * source checks them as any caller's arguments. run_set_state may block the request thread, but bounded: the
 * subscriber gives up after 30 s in all, and mapioffline_bridge_publish_stop waits for a call in progress. */
typedef HRESULT (*mapioffline_bridge_run_set_state)(void *context, ULONG flags, ULONG state);

/* Options of mapioffline_bridge_publish_start_ex. Zero-fill, then set ulSize = sizeof(struct); a larger ulSize
 * (a newer header's struct) is accepted and its extra fields ignored, a smaller one is E_INVALIDARG. */
typedef struct MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS {
  ULONG ulSize;
  ULONG ulFlags;        /* MAPIOFFLINE_BRIDGE_* */
  ULONG ulRingCapacity; /* as ring_capacity of mapioffline_bridge_publish_start; 0: the default */
  ULONG ulReserved;     /* 0 */
  /* NULL: the request thread calls the source's SetCurrentState itself (what mapioffline_bridge_publish_start
   * does). Used only with MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE. */
  mapioffline_bridge_run_set_state run_set_state;
  void *run_set_state_context; /* passed to run_set_state as is */
} MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS;

/* mapioffline_bridge_publish_start with options (above): E_INVALIDARG for a NULL `options`, a short ulSize or a
 * non-zero ulReserved; otherwise the same results. */
HRESULT mapioffline_bridge_publish_start_ex(IMAPIOfflineMgr *source, const WCHAR *profile,
                                            const MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS *options,
                                            mapioffline_bridge_publisher **out, const char **detail);
/* Unadvises, marks the channel stopped (every subscriber's stream ends), removes its name and frees `publisher`.
 * Not from inside the source's Notify. Waits for a request in progress: a blocking one waiting for its DONE is
 * answered MAPIOFFLINE_E_PUBLISHER_GONE at once, but a run_set_state call in progress must return first (a host
 * whose executor needs the thread calling stop must make it refuse, and let it through, before stopping). */
void mapioffline_bridge_publish_stop(mapioffline_bridge_publisher *publisher);
/* The publisher's own IMAPIOfflineNotify (borrowed, valid until stop): what it advised on the source. A record
 * Notify'd to it is published as if the source had sent it (benchmarks drive it with the test pump). */
IMAPIOfflineNotify *mapioffline_bridge_publisher_notify(mapioffline_bridge_publisher *publisher);
/* Notifications published so far, and the total time spent publishing them (ns, measured inside Notify): the
 * publisher's cost as the source's thread pays it. Either pointer may be NULL. */
void mapioffline_bridge_publisher_counters(mapioffline_bridge_publisher *publisher, uint64_t *published,
                                           uint64_t *notify_ns);
/* Wake system calls the publisher made so far: at most one per publication, and only for one that a subscriber
 * went to sleep waiting for (or that heals a wake not passed on), whatever the number of subscribers (they pass
 * the wake on among themselves). */
uint64_t mapioffline_bridge_publisher_wake_calls(mapioffline_bridge_publisher *publisher);
/* The OS name of the publisher's region, valid until stop. Linux: the path of its locator in the user's channel
 * directory (e.g. "/run/user/1000/mapioffline/profile-<hash>"); Windows: the file mapping's name. */
const char *mapioffline_bridge_publisher_region(mapioffline_bridge_publisher *publisher);
/* Opens a bridge object for `profile`: an IMAPIOfflineMgr over the channel. MAPI_E_NOT_FOUND when no live
 * publisher publishes it; MAPIOFFLINE_E_CHANNEL_CORRUPT / MAPIOFFLINE_E_ACCESS_DENIED for a region that fails the
 * checks (or a channel directory another user owns: the detail names them, as for mapioffline_bridge_publish_start).
 * GetCurrentState returns MAPIOFFLINE_E_PUBLISHER_GONE once the publisher stopped or died; native sinks'
 * streams then end with MAPIOFFLINE_END_PUBLISHER_GONE. */
HRESULT mapioffline_open_bridge(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail);
/* 1 when p is a bridge object made by mapioffline_open_bridge. */
int mapioffline_is_bridge(IUnknown *p);
/* E_INVALIDARG unless bridge is a bridge object. */
HRESULT mapioffline_bridge_stats(IMAPIOfflineMgr *bridge, MAPIOFFLINE_BRIDGE_STATS *out);
/* Waiting for a publisher to appear, without polling where the OS allows it. Start the watch first, then try
 * mapioffline_open_bridge; while it answers MAPI_E_NOT_FOUND, call mapioffline_bridge_watch_wait and try again.
 * Linux: inotify on the directory of the channel's names (woken when a publisher creates the name and again when
 * its channel goes live); Windows: no change notification exists for named objects, so the wait returns after at
 * most 250 ms (one cheap open attempt per slice). */
typedef struct mapioffline_bridge_watch mapioffline_bridge_watch;
/* E_INVALIDARG for a NULL or empty profile, E_OUTOFMEMORY, MAPI_E_NO_SUPPORT where the bridge does not exist. */
HRESULT mapioffline_bridge_watch_start(const WCHAR *profile, mapioffline_bridge_watch **out);
/* Returns when a publisher of the profile may have appeared, when a signal arrived (POSIX: EINTR), or after
 * timeout_ns (negative: no limit), whichever comes first; the caller keeps its own deadline. Returns 1 when the
 * channel's name may have changed (the caller opens again to find out; always 1 where the OS cannot tell, Windows),
 * 0 after the timeout or a signal (nothing changed: an open would fail as before). One thread at a time per
 * watch. */
int mapioffline_bridge_watch_wait(mapioffline_bridge_watch *watch, int64_t timeout_ns);
/* Ends the watch (NULL: nothing). */
void mapioffline_bridge_watch_stop(mapioffline_bridge_watch *watch);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MAPIOFFLINE_BRIDGE_H */
