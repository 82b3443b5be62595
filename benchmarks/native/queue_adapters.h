// The queues compared behind the product's own sink code (mapioffline::BasicSink, ext/src/sink.h), each adapted to
// the interface of the queue the product uses, MpscRing (ext/src/ring.h), over the product's cells (StoredRecord):
//
//   Adapter(size_t capacity[, size_t producers])   allocates everything up front where the queue allows it
//   bool try_push(Fill fill) noexcept              any producer thread; fill(StoredRecord &) writes the cell;
//                                                  false when full (the sink drops); never waits for room
//   size_t pop_many(size_t max, Take take) noexcept
//                                                  one consumer at a time (the sink serialises its pops);
//                                                  take(const StoredRecord &, size_t index) per cell, in order
//   bool has_pending() const noexcept              a hint: something is queued
//   uint64_t pushed() const noexcept               cells ever pushed (a hint while producers run)
//   size_t capacity() const noexcept
//
// Our ring fills the claimed cell in place; the peers cannot (CopyingQueue below).
// has_pending and pushed serve only the sink's wait, descriptor and Stats().received, which the benchmarks never
// use (they poll and read Stats().dropped): where a queue cannot answer them exactly, the adapter says so.
//
// All are bounded at (about) `capacity` records so that "full -> drop" happens at the same depth for everyone.
// Where a queue cannot honour that contract exactly, the adapter says so.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <mutex>

#include <atomic_queue/atomic_queue.h>
#if MAPIOFFLINE_HAVE_BOOST_LOCKFREE  // CMake leaves it out where Boost is not installed (Windows runners)
#include <boost/lockfree/queue.hpp>
#endif
#include <concurrentqueue/concurrentqueue.h>

#include "alloc_counter.h"
#include "sink.h"  // ext/src: StoredRecord, MpscRing

namespace mapioffline_bench {

using mapioffline::StoredRecord;

// The product's ring (the control and most ablations), and the same with one cache line per cell (an ablation:
// less false sharing between producers, more memory).
using OurRing = mapioffline::MpscRing<StoredRecord>;
using OurPaddedRing = mapioffline::MpscRing<StoredRecord, 64>;

// The peers copy whole elements in and out: Derived provides bool Push(const StoredRecord &) and, unless it pops
// its own way, bool Pop(StoredRecord &). The cell is filled on the stack and then pushed, so the sink's
// dropped_at_push stamp is read before the slot is claimed (a drop counted in between is reported one record
// late; the benchmarks never read the stamps). taken() counts the cells popped, on the consumer side only (once
// per batch), for the peers' pushed(): a producer-side counter would add a read-modify-write to their hot path
// that our ring does not pay (its tail is the count).
template <class Derived>
class CopyingQueue {
 public:
  template <class Fill>
  bool try_push(Fill &&fill) noexcept {
    StoredRecord cell;
    fill(cell);
    return static_cast<Derived *>(this)->Push(cell);
  }
  template <class Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    size_t n = 0;
    StoredRecord cell;
    while (n < max && static_cast<Derived *>(this)->Pop(cell)) take(cell, n++);
    return CountTaken(n);
  }

 protected:
  uint64_t taken() const noexcept { return taken_.load(std::memory_order_relaxed); }
  size_t CountTaken(size_t n) noexcept {  // returns n
    taken_.store(taken() + n, std::memory_order_relaxed);
    return n;
  }

 private:
  std::atomic<uint64_t> taken_{0};
};

// moodycamel::ConcurrentQueue with implicit producers: Notify arrives on arbitrary threads without a token, so
// each calling thread gets its own sub-queue (an "implicit producer"), FIFO per producer, none across them.
// Bounding: the constructor preallocates blocks of 32 records, and try_enqueue never allocates *blocks*, so the
// depth is bounded by the shared block pool (block-granular, so "about" capacity). It is NOT allocation-free:
// a thread's first enqueue allocates its implicit producer and block index (counted as warmup_allocs), and
// without MOODYCAMEL_CPP11_THREAD_LOCAL_SUPPORTED (off by default) these are never recycled when threads exit.
// Pops straight into take through an output iterator (no copy to the stack).
// has_pending and pushed use size_approx(): approximate while producers run.
struct MoodycamelTraits : moodycamel::ConcurrentQueueDefaultTraits {
  // try_enqueue cannot grow a producer's block index, so make the first one large enough for a producer to hold
  // the whole capacity (4096 / 32 = 128 blocks); the default 32 would cap each producer at 1024 records.
  static const size_t IMPLICIT_INITIAL_INDEX_SIZE = 256;
#if !defined(__GLIBC__)
  // Off glibc, malloc is not interposed by alloc_counter.cpp: count moodycamel's allocations here instead.
  static inline void *malloc(size_t size) {
    CountAlloc();
    return std::malloc(size);
  }
#endif
};
class MoodycamelQueue : public CopyingQueue<MoodycamelQueue> {
 public:
  static constexpr const char *kName = "moodycamel";
  MoodycamelQueue(size_t capacity, size_t producers) : q_(capacity, 0, producers), capacity_(capacity) {}
  bool Push(const StoredRecord &cell) noexcept { return q_.try_enqueue(cell); }
  template <class Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    return CountTaken(q_.try_dequeue_bulk(TakeIterator<Take>{&take, 0}, max));
  }
  bool has_pending() const noexcept { return q_.size_approx() != 0; }
  uint64_t pushed() const noexcept { return taken() + q_.size_approx(); }
  size_t capacity() const noexcept { return capacity_; }

 private:
  // The output iterator try_dequeue_bulk writes through: `*it++ = cell` hands the cell to take at the next index.
  template <class Take>
  struct TakeIterator {
    Take *take;
    size_t index;
    TakeIterator &operator*() noexcept { return *this; }
    TakeIterator &operator++() noexcept {
      ++index;
      return *this;
    }
    TakeIterator operator++(int) noexcept {
      TakeIterator before = *this;
      ++index;
      return before;
    }
    TakeIterator &operator=(const StoredRecord &cell) noexcept {
      (*take)(cell, index);
      return *this;
    }
  };

  moodycamel::ConcurrentQueue<StoredRecord, MoodycamelTraits> q_;
  const size_t capacity_;
};

// atomic_queue's AtomicQueueB2 (runtime capacity, any T; a state byte per slot). try_push returns false when full,
// but it is not wait-free past that check: it claims a slot index by CAS, then SPINS until that slot's state is
// EMPTY, i.e. until a consumer that claimed the previous lap's element has finished copying it out. Likewise
// try_pop spins on a claimed slot whose producer has not finished writing -- a preempted producer (2 producers +
// 1 consumer on 2 cores) stalls the consumer. Bounded and allocation-free (one allocation at construction). NOT
// FIFO even per producer: its README says total order holds for push/pop "but not the try_ versions". The check
// (head - tail < size) reads a tail the consumer advanced before emptying the slot, so if a producer is preempted
// between claiming slot i and writing it, a producer a lap later can claim i + size, find the slot still EMPTY,
// fill it, and have its record popped in place of slot i's -- ahead of its own earlier records. The full-path
// harness does catch this (order_violations) when a producer is preempted mid-push.
// has_pending and pushed use was_size(): approximate while producers run.
template <bool kSpsc>
class AtomicQueueQ : public CopyingQueue<AtomicQueueQ<kSpsc>> {
 public:
  static constexpr const char *kName = kSpsc ? "atomic_queue_spsc" : "atomic_queue";
  explicit AtomicQueueQ(size_t capacity) : q_(static_cast<unsigned>(capacity)), capacity_(capacity) {}
  bool Push(const StoredRecord &cell) noexcept { return q_.try_push(cell); }
  bool Pop(StoredRecord &cell) noexcept { return q_.try_pop(cell); }
  bool has_pending() const noexcept { return !q_.was_empty(); }
  uint64_t pushed() const noexcept { return this->taken() + q_.was_size(); }
  size_t capacity() const noexcept { return capacity_; }

 private:
  // MAXIMIZE_THROUGHPUT = true (the library default), TOTAL_ORDER = false, SPSC = kSpsc.
  atomic_queue::AtomicQueueB2<StoredRecord, std::allocator<StoredRecord>, true, false, kSpsc> q_;
  const size_t capacity_;
};

#if MAPIOFFLINE_HAVE_BOOST_LOCKFREE
// boost::lockfree::queue, fixed_sized: a Michael-Scott linked queue over a preallocated node pool addressed by
// 16-bit indices (so capacity <= 65534). bounded_push never allocates; nodes are recycled through a lock-free
// freelist. Capacity is exact (the constructor reserves capacity + 1 nodes, one being the dummy).
// has_pending uses empty(), which boost documents as exact only while no other thread modifies the queue; boost
// keeps no size, so pushed counts only what was taken.
class BoostLockfreeQueue : public CopyingQueue<BoostLockfreeQueue> {
 public:
  static constexpr const char *kName = "boost_lockfree";
  explicit BoostLockfreeQueue(size_t capacity) : q_(capacity), capacity_(capacity) {}
  bool Push(const StoredRecord &cell) noexcept { return q_.bounded_push(cell); }
  bool Pop(StoredRecord &cell) noexcept { return q_.pop(cell); }
  bool has_pending() const noexcept { return !q_.empty(); }
  uint64_t pushed() const noexcept { return taken(); }
  size_t capacity() const noexcept { return capacity_; }

 private:
  boost::lockfree::queue<StoredRecord, boost::lockfree::fixed_sized<true>> q_;
  const size_t capacity_;
};
#endif

// The textbook baseline: std::mutex + std::deque, bounded by a size check. NOT allocation-free and NOT
// non-blocking: std::deque allocates a 512-byte node every 16 records as its tail advances and frees them as its
// head does, and a producer blocks (futex) while the consumer or another producer holds the lock.
// The cell is filled outside the lock. has_pending and pushed are exact (read under the lock).
class MutexDequeQueue : public CopyingQueue<MutexDequeQueue> {
 public:
  static constexpr const char *kName = "mutex_deque";
  explicit MutexDequeQueue(size_t capacity) : capacity_(capacity) {}
  bool Push(const StoredRecord &cell) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    if (q_.size() >= capacity_) return false;
    q_.push_back(cell);  // may throw std::bad_alloc; a real sink would catch it and drop
    ++pushed_;
    return true;
  }
  template <class Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    const size_t n = std::min(max, q_.size());
    for (size_t i = 0; i < n; ++i) take(q_[i], i);
    q_.erase(q_.begin(), q_.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  bool has_pending() const noexcept {
    std::lock_guard<std::mutex> lock(m_);
    return !q_.empty();
  }
  uint64_t pushed() const noexcept {
    std::lock_guard<std::mutex> lock(m_);
    return pushed_;
  }
  size_t capacity() const noexcept { return capacity_; }

 protected:  // BrokenLifoQueue (selftest_queues.h) pops from the other end
  mutable std::mutex m_;
  std::deque<StoredRecord> q_;

 private:
  uint64_t pushed_ = 0;
  const size_t capacity_;
};

}  // namespace mapioffline_bench
