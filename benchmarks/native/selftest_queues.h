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
class BrokenLifoQueue {
 public:
  explicit BrokenLifoQueue(size_t capacity) : capacity_(capacity) { v_.reserve(capacity); }
  template <class Fill>
  bool try_push(Fill &&fill) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    if (v_.size() >= capacity_) return false;
    v_.emplace_back();
    fill(v_.back());
    ++pushed_;
    return true;
  }
  template <class Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    size_t n = 0;
    for (; n < max && !v_.empty(); ++n) {
      take(v_.back(), n);
      v_.pop_back();
    }
    return n;
  }
  bool has_pending() const noexcept {
    std::lock_guard<std::mutex> lock(m_);
    return !v_.empty();
  }
  uint64_t pushed() const noexcept {
    std::lock_guard<std::mutex> lock(m_);
    return pushed_;
  }
  size_t capacity() const noexcept { return capacity_; }

 private:
  mutable std::mutex m_;
  std::vector<StoredRecord> v_;
  uint64_t pushed_ = 0;
  const size_t capacity_;
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
