// Many producers x many notifications into one sink, one consumer: nothing lost or duplicated
// (popped + dropped == sent) and each producer's order kept. Scaled by MAPIOFFLINE_STRESS_N.
#include "check.h"

#include <vector>

#include "mapioffline/mapioffline.h"
#include "mapioffline/testing.h"

namespace {

void Run(ULONG producers, ULONG capacity, uint64_t per_producer) {
  IMAPIOfflineNotify *sink = nullptr;
  CHECK_HR(mapioffline_sink_create(capacity, &sink), S_OK);
  MAPIOFFLINE_PUMP_SPEC spec{};
  spec.threads = producers;
  spec.per_thread = per_producer;
  spec.flags = MAPIOFFLINE_PUMP_SEQUENCE;
  spec.record.ulSize = sizeof(MAPIOFFLINE_NOTIFY);
  spec.record.NotifyType = MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE;
  spec.record.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  mapioffline_pump *pump = nullptr;
  CHECK_HR(mapioffline_pump_start(sink, &spec, &pump), S_OK);

  std::vector<int64_t> last(producers, -1);
  uint64_t popped = 0, gaps = 0, out_of_order = 0, bad_producer = 0, misattributed = 0;
  std::vector<MAPIOFFLINE_RECORD> batch(256);
  std::vector<uint64_t> dropped_before(256);
  const uint64_t sent = per_producer * producers;
  for (;;) {
    const size_t n = mapioffline_sink_pop_records(sink, batch.data(), batch.size(), dropped_before.data());
    for (size_t i = 0; i < n; ++i) {
      gaps += dropped_before[i];
      const ULONG p = batch[i].notify.ulClientToken;
      if (p >= producers) {
        ++bad_producer;
        continue;
      }
      const int64_t seq = batch[i].notify.Info.StateChange.ulStateOld;
      if (seq <= last[p]) ++out_of_order;  // a duplicate or a reordering
      // One producer: the drops reported on a record are exactly the sequence numbers missing just before it.
      if (producers == 1 && static_cast<uint64_t>(seq - last[p] - 1) != dropped_before[i]) ++misattributed;
      last[p] = seq;
    }
    popped += n;
    MAPIOFFLINE_SINK_STATS stats;
    mapioffline_sink_stats(sink, &stats);
    if (n == 0) {
      if (stats.received == sent && popped + stats.dropped == sent) break;
      mapioffline_sink_wait(sink, 1000000, 0);
    }
  }
  mapioffline_pump_join(pump, nullptr);
  MAPIOFFLINE_SINK_STATS stats;
  mapioffline_sink_stats(sink, &stats);
  CHECK(popped + stats.dropped == sent);
  CHECK(stats.delivered == popped);
  // Every reported drop was reported once; the ones after the last record pushed are not reported yet.
  CHECK(gaps == stats.dropped_reported && stats.dropped_reported <= stats.dropped);
  CHECK(misattributed == 0);
  CHECK(out_of_order == 0);
  CHECK(bad_producer == 0);
  CHECK(stats.invalid == 0);
  printf("producers=%u capacity=%u sent=%llu popped=%llu dropped=%llu\n", producers, capacity,
         (unsigned long long)sent, (unsigned long long)popped, (unsigned long long)stats.dropped);
  sink->Release();
}

}  // namespace

int main() {
  const uint64_t n = stress_n(1000000);
  Run(2, 1 << 16, n);  // a large ring: few or no drops
  Run(4, 64, n / 4);   // a small ring: many drops, still no loss unaccounted
  Run(1, 1, n / 10);   // capacity 1 (rounded to 2)
  CHECK(mapioffline_live_sinks() == 0);
  return check_report("test_stress");
}
