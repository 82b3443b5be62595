// Single thread: Notify (through the vtable) then pop on the same thread, for every sink in targets.h. Prices the
// queue operations themselves, with no cache line moving between cores.
//
//   single_thread/b1/<sink>:   per iteration 1 Notify + 1 pop of one record (pop_batch(1) for ours).
//   single_thread/b256/<sink>: per iteration 256 Notify + one pop_batch(256): the consumer's batching amortised.
// ns_per_notify = wall ns per record (push + pop + order check); allocs_per_notify counts allocations made
// anywhere on this thread during the timed loop (pops included) per record. The order/loss checks of the
// full-path harness run here too. A run still going after 300 s ends the process with a HANG message.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "preemption.h"
#include "record_check.h"
#include "targets.h"
#include "watchdog.h"

namespace mapioffline_bench {
namespace {

constexpr size_t kCapacity = 4096;

void BM_SingleThread(benchmark::State &state, const Target *target, size_t batch) {
  // The queue runs on this very thread: a hang cannot be interrupted, only reported (see watchdog.h).
  const Watchdog watchdog("single_thread/b" + std::to_string(batch) + "/" + target->name, std::chrono::seconds(300));
  std::unique_ptr<TargetSink> sink = target->make(kCapacity, 1);
  IMAPIOfflineNotify *notify = sink->notify();
  benchmark::DoNotOptimize(notify);  // keep the virtual call
  std::vector<MAPIOFFLINE_RECORD> buf(batch);
  OrderChecker checker(1);
  uint64_t sent = 0;  // 64-bit: the records carry it modulo 2^32
  const auto one_iteration = [&] {
    for (size_t k = 0; k < batch; ++k) {
      const MAPIOFFLINE_NOTIFY rec = MakeRecord(0, static_cast<uint32_t>(sent++));
      notify->Notify(&rec);
    }
    size_t got = 0;
    while (got < batch) {  // a queue may hand back fewer than asked (moodycamel across blocks)
      const size_t n = sink->PopBatch(buf.data() + got, batch - got);
      if (n == 0) break;
      got += n;
    }
    for (size_t i = 0; i < got; ++i) checker.Take(buf[i]);
  };
  // Warm-up, untimed: first touch of the queue's memory, moodycamel's implicit producer for this thread.
  const uint64_t warm_allocs0 = ThreadAllocs();
  for (size_t i = 0; i < 2 * kCapacity / batch + 1; ++i) one_iteration();
  const uint64_t warmup_allocs = ThreadAllocs() - warm_allocs0;
  const uint64_t records0 = sent;

  const uint64_t allocs0 = ThreadAllocs();
  const uint64_t preempt0 = ThreadPreemptions();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) one_iteration();
  const double wall_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t allocs = ThreadAllocs() - allocs0;
  const uint64_t preemptions = ThreadPreemptions() - preempt0;
  const uint64_t records = sent - records0;

  checker.CloseProducer(0, static_cast<uint32_t>(sent));
  const uint64_t dropped = sink->Dropped();
  const bool loss = checker.popped() + dropped != sent || checker.missing() != dropped;
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["ns_per_notify"] = records ? wall_ns / static_cast<double>(records) : 0;
  state.counters["allocs_per_notify"] = records ? static_cast<double>(allocs) / static_cast<double>(records) : 0;
  state.counters["warmup_allocs"] = static_cast<double>(warmup_allocs);
  // Involuntary context switches per second of the run: ~0 on an idle machine (preemption.h).
  state.counters["preempt_per_s"] = wall_ns > 0 ? static_cast<double>(preemptions) * 1e9 / wall_ns : 0;
  state.counters["drop_pct"] = sent ? 100.0 * static_cast<double>(dropped) / static_cast<double>(sent) : 0;
  state.counters["order_violations"] = static_cast<double>(checker.order_violations());
  state.counters["corrupt"] = static_cast<double>(checker.corrupt());
  state.counters["loss_rounds"] = loss ? 1 : 0;
  if (checker.order_violations() || checker.corrupt() || loss) state.SetLabel("CHECK FAILED: order/loss");
}

int RegisterSingleThread() {
  for (const Target &t : Targets()) {
    for (size_t batch : {1, 256}) {
      const std::string name = "single_thread/b" + std::to_string(batch) + "/" + t.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_SingleThread, &t, batch);
    }
  }
  return 0;
}
const int registered = RegisterSingleThread();

}  // namespace
}  // namespace mapioffline_bench
