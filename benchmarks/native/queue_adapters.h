// The queues compared behind one sink (peer_sinks.h), each behind the same tiny interface:
//
//   Adapter(size_t capacity, size_t producers)      allocates everything up front where the queue allows it
//   bool TryPush(const MAPIOFFLINE_NOTIFY &, uint64_t timestamp_ns) noexcept
//                                                   any producer thread; false when full (the sink drops); never
//                                                   waits for room
//   size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept
//                                                   the single consumer thread
//
// All are bounded at (about) `capacity` records so that "full -> drop" happens at the same depth for everyone.
// Where a queue cannot honour that contract exactly, the adapter says so.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#include <atomic_queue/atomic_queue.h>
#if MAPIOFFLINE_HAVE_BOOST_LOCKFREE  // CMake leaves it out where Boost is not installed (Windows runners)
#include <boost/lockfree/queue.hpp>
#endif
#include <concurrentqueue/concurrentqueue.h>

#include "alloc_counter.h"
#include "mapioffline/mapioffline.h"
#include "ring.h"  // ext/src: our own ring, for the "same ring, template sink" control and the ablations

namespace mapioffline_bench {

inline MAPIOFFLINE_RECORD ToRecord(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
  MAPIOFFLINE_RECORD r;
  std::memcpy(&r.notify, &n, sizeof r.notify);
  r.timestamp_ns = ts;
  return r;
}

// Our MpscRing (ext/src/ring.h) driven exactly as Sink::Notify drives it: the record is written in place.
// CellAlign 64 is an ablation only: one cache line per cell.
template <size_t CellAlign>
struct OurRingQueueWith {
  static constexpr const char *kName = CellAlign ? "our_ring_padded" : "our_ring";
  OurRingQueueWith(size_t capacity, size_t /*producers*/) : ring(capacity) {}
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
    return ring.try_push([&](MAPIOFFLINE_RECORD &slot) {
      std::memcpy(&slot.notify, &n, sizeof slot.notify);
      slot.timestamp_ns = ts;
    });
  }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept {
    return ring.pop_many(max, [out](const MAPIOFFLINE_RECORD &r, size_t i) { out[i] = r; });
  }
  mapioffline::MpscRing<MAPIOFFLINE_RECORD, CellAlign> ring;
};
using OurRingQueue = OurRingQueueWith<0>;
using OurPaddedRingQueue = OurRingQueueWith<64>;

// moodycamel::ConcurrentQueue with implicit producers: Notify arrives on arbitrary threads without a token, so
// each calling thread gets its own sub-queue (an "implicit producer"), FIFO per producer, none across them.
// Bounding: the constructor preallocates blocks of 32 records, and try_enqueue never allocates *blocks*, so the
// depth is bounded by the shared block pool (block-granular, so "about" capacity). It is NOT allocation-free:
// a thread's first enqueue allocates its implicit producer and block index (counted as warmup_allocs), and
// without MOODYCAMEL_CPP11_THREAD_LOCAL_SUPPORTED (off by default) these are never recycled when threads exit.
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
struct MoodycamelQueue {
  static constexpr const char *kName = "moodycamel";
  MoodycamelQueue(size_t capacity, size_t producers) : q(capacity, 0, producers) {}
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept { return q.try_enqueue(ToRecord(n, ts)); }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept { return q.try_dequeue_bulk(out, max); }
  moodycamel::ConcurrentQueue<MAPIOFFLINE_RECORD, MoodycamelTraits> q;
};

// atomic_queue's AtomicQueueB2 (runtime capacity, any T; a state byte per slot). try_push returns false when full,
// but it is not wait-free past that check: it claims a slot index by CAS, then SPINS until that slot's state is
// EMPTY, i.e. until a consumer that claimed the previous lap's element has finished copying it out. Likewise try_pop spins on a claimed slot whose producer has not finished writing -- a preempted producer
// (2 producers + 1 consumer on 2 cores) stalls the consumer. Bounded and allocation-free (one allocation at
// construction). NOT FIFO even per producer: its README says total order holds for push/pop "but not the try_
// versions". The check (head - tail < size) reads a tail the consumer advanced before emptying the slot, so if a
// producer is preempted between claiming slot i and writing it, a producer a lap later can claim i + size, find
// the slot still EMPTY, fill it, and have its record popped in place of slot i's -- ahead of its own earlier
// records. The full-path harness does catch this (order_violations) when a producer is preempted mid-push.
template <bool kSpsc>
struct AtomicQueueQ {
  static constexpr const char *kName = kSpsc ? "atomic_queue_spsc" : "atomic_queue";
  AtomicQueueQ(size_t capacity, size_t /*producers*/) : q(static_cast<unsigned>(capacity)) {}
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept { return q.try_push(ToRecord(n, ts)); }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept {
    size_t n = 0;
    while (n < max && q.try_pop(out[n])) ++n;
    return n;
  }
  // MAXIMIZE_THROUGHPUT = true (the library default), TOTAL_ORDER = false, SPSC = kSpsc.
  atomic_queue::AtomicQueueB2<MAPIOFFLINE_RECORD, std::allocator<MAPIOFFLINE_RECORD>, true, false, kSpsc> q;
};

#if MAPIOFFLINE_HAVE_BOOST_LOCKFREE
// boost::lockfree::queue, fixed_sized: a Michael-Scott linked queue over a preallocated node pool addressed by
// 16-bit indices (so capacity <= 65534). bounded_push never allocates; nodes are recycled through a lock-free
// freelist. Capacity is exact (the constructor reserves capacity + 1 nodes, one being the dummy).
struct BoostLockfreeQueue {
  static constexpr const char *kName = "boost_lockfree";
  BoostLockfreeQueue(size_t capacity, size_t /*producers*/) : q(capacity) {}
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept { return q.bounded_push(ToRecord(n, ts)); }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept {
    size_t n = 0;
    while (n < max && q.pop(out[n])) ++n;
    return n;
  }
  boost::lockfree::queue<MAPIOFFLINE_RECORD, boost::lockfree::fixed_sized<true>> q;
};
#endif

// The textbook baseline: std::mutex + std::deque, bounded by a size check. NOT allocation-free and NOT
// non-blocking: std::deque allocates a 512-byte node every 16 records as its tail advances and frees them as its
// head does, and a producer blocks (futex) while the consumer or another producer holds the lock.
struct MutexDequeQueue {
  static constexpr const char *kName = "mutex_deque";
  MutexDequeQueue(size_t capacity, size_t /*producers*/) : cap(capacity) {}
  bool TryPush(const MAPIOFFLINE_NOTIFY &n, uint64_t ts) noexcept {
    const MAPIOFFLINE_RECORD r = ToRecord(n, ts);
    std::lock_guard<std::mutex> lock(m);
    if (q.size() >= cap) return false;
    q.push_back(r);  // may throw std::bad_alloc; a real sink would catch it and drop
    return true;
  }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept {
    std::lock_guard<std::mutex> lock(m);
    const size_t n = std::min(max, q.size());
    std::copy_n(q.begin(), n, out);
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  std::mutex m;
  std::deque<MAPIOFFLINE_RECORD> q;
  const size_t cap;
};

}  // namespace mapioffline_bench
