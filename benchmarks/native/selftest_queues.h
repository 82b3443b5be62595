// Deliberately broken queues, compiled only with -DMAPIOFFLINE_BENCH_SELFTEST=ON, to prove that the harness and
// compare.py catch what they claim to catch: a reordering queue, a silently lossy one, and one that hangs.
#pragma once
#include <chrono>
#include <mutex>
#include <thread>

#include "queue_adapters.h"

namespace mapioffline_bench {

// LIFO: pops the newest record first -> order_violations.
struct BrokenLifoQueue : MutexDequeQueue {
  using MutexDequeQueue::MutexDequeQueue;
  template <class Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    size_t n = 0;
    for (; n < max && !q_.empty(); ++n) {
      take(q_.back(), n);
      q_.pop_back();
    }
    return n;
  }
};

// Reports success but loses every 1000th record -> loss_rounds (after the consumer's drain grace period).
struct BrokenLossyQueue : OurRing {
  using OurRing::OurRing;
  template <class Fill>
  bool try_push(Fill &&fill) noexcept {
    if (count.fetch_add(1, std::memory_order_relaxed) % 1000 == 999) return true;
    return OurRing::try_push(fill);
  }
  std::atomic<uint64_t> count{0};
};

// After 100,000 records, try_push never returns (sleeping, so as not to burn the CPU) -> the full path's round
// deadline. Only on threads other than the constructing one: the single-thread benchmark (which can only be
// stopped by killing the process) is left alone.
struct BrokenHangQueue : OurRing {
  using OurRing::OurRing;
  template <class Fill>
  bool try_push(Fill &&fill) noexcept {
    if (std::this_thread::get_id() != owner && count.fetch_add(1, std::memory_order_relaxed) >= 100000)
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    return OurRing::try_push(fill);
  }
  std::atomic<uint64_t> count{0};
  const std::thread::id owner = std::this_thread::get_id();
};

}  // namespace mapioffline_bench
