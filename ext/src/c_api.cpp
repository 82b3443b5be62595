// The extern "C" API over the sink and the embedded object (declared in mapioffline.h).
#include <new>

#include "clock.h"
#include "mapioffline/mapioffline.h"
#include "offline_object.h"
#include "profile_key.h"
#include "sink.h"

using mapioffline::AsSink;

extern "C" {

const char *mapioffline_profile_name_error(const WCHAR *name) { return mapioffline::ProfileNameError(name); }

HRESULT STDMETHODCALLTYPE mapioffline_open_embedded(ULONG ulReserved, const WCHAR *pwszProfileNameIn,
                                                    const GUID *pGUID, const GUID *pReserved,
                                                    IMAPIOfflineMgr **ppOfflineObj) {
  return mapioffline::OfflineObject::Open(ulReserved, pwszProfileNameIn, pGUID, pReserved, ppOfflineObj);
}

HRESULT mapioffline_sink_create(ULONG capacity, IMAPIOfflineNotify **ppSink) {
  if (!ppSink) return E_INVALIDARG;
  *ppSink = nullptr;
  if (capacity < MAPIOFFLINE_SINK_MIN_CAPACITY || capacity > MAPIOFFLINE_SINK_MAX_CAPACITY) return E_INVALIDARG;
  size_t rounded = 2;  // the ring's sequence scheme needs two cells to tell "published" from "free"
  while (rounded < capacity) rounded <<= 1;
  try {
    *ppSink = new mapioffline::Sink(rounded);
    return S_OK;
  } catch (const std::bad_alloc &) {
    return E_OUTOFMEMORY;
  }
}

int mapioffline_sink_try_pop(IMAPIOfflineNotify *sink, MAPIOFFLINE_NOTIFY *out, uint64_t *timestamp_ns) {
  MAPIOFFLINE_RECORD record;
  if (AsSink(sink)->PopBatch(&record, 1, nullptr) == 0) return 0;
  *out = record.notify;
  if (timestamp_ns) *timestamp_ns = record.timestamp_ns;
  return 1;
}

size_t mapioffline_sink_pop_records(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                    uint64_t *dropped_before) {
  return AsSink(sink)->PopBatch(out, max_records, dropped_before);
}

size_t mapioffline_sink_pop_batch(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                  uint64_t *dropped_total) {
  if (!dropped_total) return AsSink(sink)->PopBatch(out, max_records, nullptr);
  uint64_t gaps[64];  // per-record gaps, summed: popped in chunks so no allocation is needed
  size_t total = 0;
  *dropped_total = 0;
  while (total < max_records) {
    const size_t want = max_records - total < 64 ? max_records - total : 64;
    const size_t n = AsSink(sink)->PopBatch(out + total, want, gaps);
    for (size_t i = 0; i < n; ++i) *dropped_total += gaps[i];
    total += n;
    if (n < want) break;
  }
  return total;
}

int mapioffline_sink_wait(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns) {
  mapioffline::Sink *s = AsSink(sink);
  const int result = s->Wait(timeout_ns, spin_ns, s->interrupts());
  // This older call knows no interrupt result: an interrupt is a spurious READY (look again), as documented.
  return result == MAPIOFFLINE_WAIT_INTERRUPTED ? MAPIOFFLINE_WAIT_READY : result;
}

int mapioffline_sink_wait_since(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns,
                                uint32_t seen_interrupts) {
  return AsSink(sink)->Wait(timeout_ns, spin_ns, seen_interrupts);
}

uint32_t mapioffline_sink_interrupts(IMAPIOfflineNotify *sink) { return AsSink(sink)->interrupts(); }
void mapioffline_sink_attach(IMAPIOfflineNotify *sink) { AsSink(sink)->Attach(); }
void mapioffline_sink_detach(IMAPIOfflineNotify *sink) { AsSink(sink)->Detach(); }
void mapioffline_sink_fail(IMAPIOfflineNotify *sink, ULONG reason) { AsSink(sink)->Fail(reason); }
ULONG mapioffline_sink_end_reason(IMAPIOfflineNotify *sink) { return AsSink(sink)->EndReason(); }
void mapioffline_sink_note_dropped(IMAPIOfflineNotify *sink, uint64_t n) { AsSink(sink)->NoteDropped(n); }

int mapioffline_sink_get_last_state(IMAPIOfflineNotify *sink, ULONG *state) {
  return AsSink(sink)->LastState(state) ? 1 : 0;
}

int mapioffline_sink_fileno(IMAPIOfflineNotify *sink) { return AsSink(sink)->FileNo(); }
void mapioffline_sink_close(IMAPIOfflineNotify *sink) { AsSink(sink)->Close(); }
void mapioffline_sink_interrupt(IMAPIOfflineNotify *sink) { AsSink(sink)->Interrupt(); }
int mapioffline_sink_is_closed(IMAPIOfflineNotify *sink) { return AsSink(sink)->closed() ? 1 : 0; }
void mapioffline_sink_stats(IMAPIOfflineNotify *sink, MAPIOFFLINE_SINK_STATS *out) { AsSink(sink)->Stats(out); }
ULONG mapioffline_sink_last_state(IMAPIOfflineNotify *sink) {
  ULONG state = 0;
  AsSink(sink)->LastState(&state);
  return state;
}
ULONG mapioffline_sink_capacity(IMAPIOfflineNotify *sink) { return AsSink(sink)->capacity(); }

int mapioffline_is_native_sink(IUnknown *p) { return mapioffline::Sink::FromInterface(p) ? 1 : 0; }

uint64_t mapioffline_now_ns(void) { return mapioffline::MonotonicNs(); }

HRESULT mapioffline_offline_wait_idle(IMAPIOfflineMgr *obj, int64_t timeout_ns) {
  if (!obj) return E_INVALIDARG;
  mapioffline::OfflineObject *object = mapioffline::OfflineObject::FromInterface(obj);
  return object ? object->WaitIdle(timeout_ns) : MAPI_E_NO_SUPPORT;
}

}  // extern "C"
