// Deliberately broken queues, compiled only with -DMAPIOFFLINE_BENCH_SELFTEST=ON, to prove that the harness and
// compare.py catch what they claim to catch: a reordering queue, a silently lossy one, and one that hangs.
#pragma once
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "queue_adapters.h"

namespace mapioffline_bench {

// LIFO: pops the newest record first -> order_violations.
struct BrokenLifoQueue {
  BrokenLifoQueue(size_t capacity, size_t /*producers*/) : cap(capacity) { v.reserve(capacity); }
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
    std::lock_guard<std::mutex> lock(m);
    if (v.size() >= cap) return false;
    v.push_back(ToRecord(n, ts));
    return true;
  }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept {
    std::lock_guard<std::mutex> lock(m);
    size_t n = 0;
    while (n < max && !v.empty()) {
      out[n++] = v.back();
      v.pop_back();
    }
    return n;
  }
  std::mutex m;
  std::vector<MAPIOFFLINE_RECORD> v;
  const size_t cap;
};

// Reports success but loses every 1000th record -> loss_rounds (after the consumer's drain grace period).
struct BrokenLossyQueue : OurRingQueue {
  using OurRingQueue::OurRingQueue;
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
    if (count.fetch_add(1, std::memory_order_relaxed) % 1000 == 999) return true;
    return OurRingQueue::TryPush(n, ts);
  }
  std::atomic<uint64_t> count{0};
};

// After 100,000 records, TryPush never returns (sleeping, so as not to burn the CPU) -> the full path's round
// deadline. Only on threads other than the constructing one: the single-thread benchmark (which can only be
// stopped by killing the process) is left alone.
struct BrokenHangQueue : OurRingQueue {
  using OurRingQueue::OurRingQueue;
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
    if (std::this_thread::get_id() != owner && count.fetch_add(1, std::memory_order_relaxed) >= 100000)
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    return OurRingQueue::TryPush(n, ts);
  }
  std::atomic<uint64_t> count{0};
  const std::thread::id owner = std::this_thread::get_id();
};

}  // namespace mapioffline_bench
