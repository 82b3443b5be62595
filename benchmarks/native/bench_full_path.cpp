// Full path: P producer threads call Notify through the IMAPIOfflineNotify vtable while one consumer thread
// drains in batches of 256 -- for our sink and for every peer (targets.h). Scenarios:
//   p1   1 producer, 1 consumer, each pinned to its own core
//   p2   2 producers + 1 consumer, all busy, on 2 cores: the consumer shares producer 0's core and gets little
//        CPU, so most records are dropped and the delivered rate mostly measures the scheduler (worst case)
//   p2y  the same, but each producer yields the CPU after every 256 calls, so the consumer sharing its core can
//        keep up: 2 producers really contend on the queue and the delivered rate measures the queues again
//        (plus a context switch per 256 records on that core, the same for every queue)
//
// One benchmark iteration is one "round": every producer sends kPerProducer notifications as fast as it can and
// the round ends when the consumer has accounted for all of them (popped + dropped == sent). Threads live for
// the whole benchmark run (moodycamel keys its sub-queues by thread, and real Notify callers are long-lived) and
// are released per round by a condition variable, so thread start-up is never timed.
//
// Nothing ever blocks for room: a full queue drops. So the throughput figure counts DELIVERED records only:
//   items_per_second / ns_per_notify = delivered records per wall second / wall ns per delivered record
//   ns_per_call   = producer-side time per Notify call (dropped calls included): the latency a caller sees
//   dropped, drop_pct = records the sink refused (full queue) during timed rounds, and as a share of those sent
//   allocs_per_notify = heap allocations made on producer threads during timed rounds / Notify calls
//   warmup_allocs = the same during the untimed first round (moodycamel's per-thread producer shows up here)
//   preempt_per_round = involuntary context switches of all our threads per round (preemption.h)
// and checks, per round: per-producer sequences strictly increasing (order_violations), records intact
// (corrupt), popped + dropped == sent and sequence gaps == dropped (loss_rounds). Any of them non-zero labels
// the run "CHECK FAILED"; a round running past kRoundDeadline is a hang and skips the benchmark with an error.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "pin.h"
#include "preemption.h"
#include "record_check.h"
#include "targets.h"

namespace mapioffline_bench {
namespace {

constexpr size_t kCapacity = 4096;
constexpr size_t kBatch = 256;
constexpr uint64_t kPerProducer = 1u << 17;  // 131072 per round: ~5-20 ms, far above a round's start/stop cost
constexpr auto kRoundDeadline = std::chrono::seconds(20);
// After the producers stop, every record is published; allow a queue this long to show the consumer all of them
// before the round is declared lossy (moodycamel's non-token dequeue may need several passes, for instance).
constexpr auto kDrainGrace = std::chrono::seconds(2);

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

struct Totals {
  uint64_t notify_ns = 0;  // summed over producers
  uint64_t calls = 0;
  uint64_t allocs = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t loss_rounds = 0;
  uint64_t order_violations = 0;
  uint64_t corrupt = 0;
  uint64_t preemptions = 0;  // involuntary context switches of producers + consumer
  uint64_t rounds = 0;
  Totals operator-(const Totals &b) const {
    return {notify_ns - b.notify_ns,
            calls - b.calls,
            allocs - b.allocs,
            delivered - b.delivered,
            dropped - b.dropped,
            loss_rounds - b.loss_rounds,
            order_violations - b.order_violations,
            corrupt - b.corrupt,
            preemptions - b.preemptions,
            rounds - b.rounds};
  }
};

class FullPathRun {
 public:
  // yield_every: a producer calls std::this_thread::yield() after every that many Notify calls (0: never).
  FullPathRun(const Target &target, size_t producers, uint64_t yield_every)
      : sink_(target.make(kCapacity, producers)),
        producers_(producers),
        yield_every_(yield_every),
        seq_end_(producers),
        producer_stats_(producers),
        checker_(producers) {
    for (size_t i = 0; i < producers_; ++i) threads_.emplace_back([this, i] { Producer(i); });
    threads_.emplace_back([this] { Consumer(); });
  }

  ~FullPathRun() {
    {
      std::lock_guard<std::mutex> lock(m_);
      quit_ = true;
    }
    start_cv_.notify_all();
    for (std::thread &t : threads_) t.join();
  }

  // After a hang: the stuck threads can be neither stopped nor joined. Detach them and let the caller leak this
  // object (and the sink they use) rather than crash the rest of the run.
  void Abandon() {
    {
      std::lock_guard<std::mutex> lock(m_);
      quit_ = true;
    }
    start_cv_.notify_all();
    for (std::thread &t : threads_) t.detach();
  }

  // Runs one round; false on a hang. *wall_ns: from releasing the threads to the consumer's final accounting.
  bool RunRound(uint64_t *wall_ns) {
    std::unique_lock<std::mutex> lock(m_);
    done_ = 0;
    producers_done_.store(0, std::memory_order_relaxed);
    dropped_at_start_ = sink_->Dropped();
    ++round_;
    const uint64_t t0 = NowNs();
    start_cv_.notify_all();
    if (!done_cv_.wait_for(lock, kRoundDeadline, [this] { return done_ == producers_ + 1; })) return false;
    *wall_ns = NowNs() - t0;
    return true;
  }

  // Between rounds only.
  Totals Snapshot() {
    std::lock_guard<std::mutex> lock(m_);
    Totals t = consumer_totals_;
    for (const ProducerStats &p : producer_stats_) {
      t.notify_ns += p.notify_ns;
      t.calls += p.calls;
      t.allocs += p.allocs;
      t.preemptions += p.preemptions;
    }
    t.order_violations = checker_.order_violations();
    t.corrupt = checker_.corrupt();
    return t;
  }

  bool all_pinned() const { return pin_failures_.load() == 0; }

 private:
  struct alignas(128) ProducerStats {  // one line each: producers write their own only
    uint64_t notify_ns = 0;
    uint64_t calls = 0;
    uint64_t allocs = 0;
    uint64_t preemptions = 0;
  };

  // Waits for round r (or quit); false on quit.
  bool AwaitRound(uint64_t r) {
    std::unique_lock<std::mutex> lock(m_);
    start_cv_.wait(lock, [&] { return quit_ || round_ >= r; });
    return !quit_;
  }
  void SignalDone() {
    {
      std::lock_guard<std::mutex> lock(m_);
      ++done_;
    }
    done_cv_.notify_all();
  }

  void Producer(size_t index) {
    if (!PinCurrentThread(static_cast<int>(index))) pin_failures_.fetch_add(1);
    IMAPIOfflineNotify *sink = sink_->notify();
    // Hide the dynamic type from the optimiser: every Notify below is a real call through the vtable.
    benchmark::DoNotOptimize(sink);
    ProducerStats &stats = producer_stats_[index];
    uint32_t seq = 0;
    const uint64_t burst = yield_every_ ? yield_every_ : kPerProducer;
    for (uint64_t r = 1; AwaitRound(r); ++r) {
      const uint64_t allocs0 = ThreadAllocs();
      const uint64_t preempt0 = ThreadPreemptions();
      for (uint64_t k = 0; k < kPerProducer;) {
        const uint64_t end = std::min(k + burst, kPerProducer);
        const uint64_t t0 = NowNs();  // bursts are timed, so ns_per_call excludes the yields
        for (; k < end; ++k) {
          const MAPIOFFLINE_NOTIFY rec = MakeRecord(static_cast<ULONG>(index), seq++);
          sink->Notify(&rec);
        }
        stats.notify_ns += NowNs() - t0;
        if (yield_every_) std::this_thread::yield();
      }
      stats.allocs += ThreadAllocs() - allocs0;
      stats.preemptions += ThreadPreemptions() - preempt0;
      stats.calls += kPerProducer;
      seq_end_[index].store(seq, std::memory_order_release);
      producers_done_.fetch_add(1, std::memory_order_release);  // every Notify of ours has returned
      SignalDone();
    }
  }

  void Consumer() {
    // Slot `producers_`: its own core with 1 producer; with 2 producers on 2 cores it shares one with producer 0.
    if (!PinCurrentThread(static_cast<int>(producers_))) pin_failures_.fetch_add(1);
    std::vector<MAPIOFFLINE_RECORD> buf(kBatch);
    const uint64_t sent = kPerProducer * producers_;
    for (uint64_t r = 1; AwaitRound(r); ++r) {
      uint64_t dropped_start;
      {
        std::lock_guard<std::mutex> lock(m_);
        dropped_start = dropped_at_start_;
      }
      const uint64_t popped0 = checker_.popped();
      const uint64_t missing0 = checker_.missing();
      const uint64_t preempt0 = ThreadPreemptions();
      bool grace_started = false;
      std::chrono::steady_clock::time_point grace_end;
      for (;;) {
        const size_t n = sink_->PopBatch(buf.data(), kBatch);
        for (size_t i = 0; i < n; ++i) checker_.Take(buf[i]);
        if (n > 0) continue;
        if (producers_done_.load(std::memory_order_acquire) == producers_) {
          // Everything is published now: the accounting must close.
          if (checker_.popped() - popped0 + (sink_->Dropped() - dropped_start) >= sent) break;
          const auto now = std::chrono::steady_clock::now();
          if (!grace_started) {
            grace_started = true;
            grace_end = now + kDrainGrace;
          } else if (now > grace_end) {
            break;  // lost records: reported below
          }
        }
        // Polling consumer (the same for every queue; the benchmarks never wait): with 3 threads on 2 cores, give the
        // core to a producer when there is nothing to take.
        std::this_thread::yield();
      }
      for (size_t p = 0; p < producers_; ++p) checker_.CloseProducer(p, seq_end_[p].load(std::memory_order_acquire));
      const uint64_t dropped = sink_->Dropped() - dropped_start;
      const uint64_t popped = checker_.popped() - popped0;
      {
        std::lock_guard<std::mutex> lock(m_);
        consumer_totals_.delivered += popped;
        consumer_totals_.dropped += dropped;
        consumer_totals_.preemptions += ThreadPreemptions() - preempt0;
        ++consumer_totals_.rounds;
        if (popped + dropped != sent || checker_.missing() - missing0 != dropped) ++consumer_totals_.loss_rounds;
      }
      SignalDone();
    }
  }

  std::unique_ptr<TargetSink> sink_;
  const size_t producers_;
  const uint64_t yield_every_;
  std::vector<std::atomic<uint32_t>> seq_end_;  // next sequence of each producer, published at the end of a round
  std::vector<ProducerStats> producer_stats_;
  OrderChecker checker_;  // the consumer's
  std::atomic<size_t> producers_done_{0};
  std::atomic<int> pin_failures_{0};

  std::mutex m_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t round_ = 0;     // under m_
  bool quit_ = false;      // under m_
  size_t done_ = 0;        // under m_: threads finished with the current round
  uint64_t dropped_at_start_ = 0;  // under m_
  Totals consumer_totals_;          // under m_
  std::vector<std::thread> threads_;
};

void BM_FullPath(benchmark::State &state, const Target *target, size_t producers, uint64_t yield_every) {
  auto run = std::make_unique<FullPathRun>(*target, producers, yield_every);
  uint64_t wall = 0;
  // Untimed warm-up round: page faults on first touch of the queue, moodycamel's per-thread producers.
  if (!run->RunRound(&wall)) {
    state.SkipWithError("hang: warm-up round exceeded the deadline");
    run->Abandon();
    run.release();  // deliberately leaked: stuck threads still use it
    return;
  }
  const Totals warm = run->Snapshot();
  uint64_t wall_total = 0;
  bool hung = false;
  for (auto _ : state) {
    if (!run->RunRound(&wall)) {
      state.SkipWithError("hang: a round exceeded the deadline");
      hung = true;
      break;
    }
    state.SetIterationTime(static_cast<double>(wall) * 1e-9);
    wall_total += wall;
  }
  if (hung) {
    run->Abandon();
    run.release();  // deliberately leaked: stuck threads still use it
    return;
  }
  const Totals all = run->Snapshot();  // checks cover the warm-up round too
  const Totals t = all - warm;         // costs cover the timed rounds only
  const bool pinned = run->all_pinned();
  run.reset();  // join the threads before reporting

  const auto d = [](uint64_t a, uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  state.SetItemsProcessed(static_cast<int64_t>(t.delivered));
  state.counters["ns_per_notify"] = d(wall_total, t.delivered);
  state.counters["ns_per_call"] = d(t.notify_ns, t.calls);
  state.counters["drop_pct"] = 100.0 * d(t.dropped, t.calls);
  state.counters["dropped"] = static_cast<double>(t.dropped);
  state.counters["allocs_per_notify"] = d(t.allocs, t.calls);
  state.counters["warmup_allocs"] = static_cast<double>(warm.allocs);
  // Involuntary context switches per round, all threads. Inherent in p2/p2y (3 threads, 2 cores); in p1 any
  // non-zero value means other processes took our cores during the measurement.
  state.counters["preempt_per_round"] = d(t.preemptions, t.rounds);
  state.counters["order_violations"] = static_cast<double>(all.order_violations);
  state.counters["corrupt"] = static_cast<double>(all.corrupt);
  state.counters["loss_rounds"] = static_cast<double>(all.loss_rounds);
  state.counters["pinned"] = pinned ? 1 : 0;
  if (all.order_violations || all.corrupt || all.loss_rounds) state.SetLabel("CHECK FAILED: order/loss");
}

int RegisterFullPath() {
  struct Scenario {
    const char *name;
    size_t producers;
    uint64_t yield_every;
  };
  static const Scenario scenarios[] = {{"p1", 1, 0}, {"p2", 2, 0}, {"p2y", 2, 256}};
  for (const Target &t : Targets()) {
    for (const Scenario &sc : scenarios) {
      if (t.single_producer_only && sc.producers != 1) continue;
      const std::string name = std::string("full_path/") + sc.name + "/" + t.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_FullPath, &t, sc.producers, sc.yield_every)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return 0;
}
const int registered = RegisterFullPath();

}  // namespace
}  // namespace mapioffline_bench
