/*
 * mapioffline/testing.h -- test and benchmark helpers of the library: the Notify pump and the condition-variable probe.
 *
 * Usable from C99 and C++17; declarations only. Spec references (section numbers) are to
 * shared/spec/offline-state-api.md. Not part of the product API: tests and benchmarks include it themselves.
 */
#ifndef MAPIOFFLINE_TESTING_H
#define MAPIOFFLINE_TESTING_H

#include "mapioffline/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Test pump: calls Notify through the vtable of any IMAPIOfflineNotify from native threads. */
#define MAPIOFFLINE_PUMP_SEQUENCE 0x1u /* ulClientToken = producer index, ulStateOld = per-producer sequence */
#define MAPIOFFLINE_PUMP_NULL 0x2u     /* pass a NULL record pointer */
typedef struct MAPIOFFLINE_PUMP_SPEC {
  ULONG threads;          /* producer threads, >= 1 */
  uint64_t per_thread;    /* Notify calls per thread */
  ULONG flags;            /* MAPIOFFLINE_PUMP_* */
  MAPIOFFLINE_NOTIFY record; /* template record, sent as is (a ulSize below 24 makes a short record) */
} MAPIOFFLINE_PUMP_SPEC;
typedef struct mapioffline_pump mapioffline_pump;
/* Starts the producers (they hold a reference on the sink until they finish). E_INVALIDARG, E_OUTOFMEMORY. */
HRESULT mapioffline_pump_start(IMAPIOfflineNotify *sink, const MAPIOFFLINE_PUMP_SPEC *spec, mapioffline_pump **out);
/* Waits for the producers and frees the pump; *elapsed_ns (if not NULL) = wall time from start to last finish. */
void mapioffline_pump_join(mapioffline_pump *pump, uint64_t *elapsed_ns);

/* Benchmark baseline: a native thread that wakes a waiter through a std::condition_variable, `samples` times, each
 * time once the waiter sleeps. The waiter (e.g. a Python thread with the GIL released) calls
 * mapioffline_condvar_probe_wait, which returns the signaller's mapioffline_now_ns() stamp; join frees the probe. */
typedef struct mapioffline_condvar_probe mapioffline_condvar_probe;
mapioffline_condvar_probe *mapioffline_condvar_probe_start(size_t samples);
uint64_t mapioffline_condvar_probe_wait(mapioffline_condvar_probe *probe);
void mapioffline_condvar_probe_join(mapioffline_condvar_probe *probe);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MAPIOFFLINE_TESTING_H */
