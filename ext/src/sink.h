// The native IMAPIOfflineNotify sink: Notify copies each record into a lock-free ring without blocking,
// allocating, locking or touching Python; consumers pop, batch-pop, wait or poll a descriptor.
//
// Besides the records, the sink knows whether its stream goes on: feeds (subscriptions) attach and detach, a feed
// may fail (its publisher died), the consumer side may be closed or interrupted. Every such change is stored
// first and then wakes every waiter through the wake word's epoch, so a consumer about to sleep can never miss it.
//
// The product is `Sink`, BasicSink over our MpscRing with ProductSteps, compiled once in sink.cpp. The class is a
// template only so that the native benchmarks (benchmarks/native/targets.cpp) can run this very code over other
// queues and price single steps of Notify: the member definitions are in sink_impl.h, which they include.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>

#include "clock.h"
#include "com_object.h"
#include "live_counters.h"
#include "mapioffline/mapioffline.h"
#include "poll_handle.h"
#include "ring.h"
#include "wake_word.h"

namespace mapioffline {

// A queue cell: the public 32-byte record plus the cumulative drop count when it was pushed, so that drops are
// attributed to the record that followed them, not to whichever record a consumer happens to pop next.
struct StoredRecord {
  MAPIOFFLINE_RECORD record;
  uint64_t dropped_at_push;
};

// The steps of Notify that a benchmark may swap to price them; the product is built with these and no others.
struct ProductSteps {
  static uint64_t Stamp() noexcept { return MonotonicNs(); }  // the records' timestamp_ns
  // Required for correctness: pairs with the fence a consumer runs before sleeping (see Notify).
  static constexpr bool kFenceAfterPublish = true;
  // Store the latest state unconditionally: one relaxed store, no load first.
  static constexpr bool kCompareLastState = false;
};

// Queue: MpscRing's interface over StoredRecord cells: try_push(fill), pop_many(max, take), has_pending(),
// pushed(), capacity().
template <class Queue, class Steps = ProductSteps>
class BasicSink final : public ComObject<BasicSink<Queue, Steps>, IMAPIOfflineNotify, &LiveSinks,
                                         &IID_IMAPIOfflineNotify> {
  using Base = ComObject<BasicSink, IMAPIOfflineNotify, &LiveSinks, &IID_IMAPIOfflineNotify>;

 public:
  // Throws std::bad_alloc. capacity: a power of two. Starts with one reference. queue_args follow the capacity
  // into Queue's constructor (the product passes none; a benchmark's peer queue may take the producer count).
  template <class... QueueArgs>
  explicit BasicSink(size_t capacity, QueueArgs &&...queue_args)
      : ring_(capacity, std::forward<QueueArgs>(queue_args)...) {
    this->RememberVtable();
  }

  // IMAPIOfflineNotify (IUnknown: ComObject): any thread, several at once.
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *record) noexcept override;

  // Consumer side: any thread; pops are serialised by consumer_mutex_. dropped_before (NULL or an array of
  // max_records) receives, per record, how many notifications were dropped just before it was pushed.
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max_records, uint64_t *dropped_before) noexcept;
  // Returns MAPIOFFLINE_WAIT_*; INTERRUPTED as soon as the interrupt count differs from `seen_interrupts`.
  int Wait(int64_t timeout_ns, uint64_t spin_ns, uint32_t seen_interrupts) noexcept;
  int FileNo() noexcept;
  void Close() noexcept;
  void Interrupt() noexcept;
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  uint32_t interrupts() const noexcept { return interrupts_.load(std::memory_order_acquire); }
  void Stats(MAPIOFFLINE_SINK_STATS *out) const noexcept;
  // True (and *state set) once a DONE with OFFLINE_MASK reached the sink.
  bool LastState(ULONG *state) const noexcept;
  ULONG capacity() const noexcept { return static_cast<ULONG>(ring_.capacity()); }

  // The stream: any thread.
  void Attach() noexcept;             // a feed starts: the stream (re)opens and a past failure is forgotten
  void Detach() noexcept;             // a feed ends; when none is left the stream ends
  void Fail(ULONG reason) noexcept;   // the feed failed for good (MAPIOFFLINE_END_*): the stream ends
  ULONG EndReason() const noexcept;   // MAPIOFFLINE_END_NONE while the stream goes on (or never began)
  void NoteDropped(uint64_t n) noexcept;  // a feed lost n notifications upstream: reported on the next record

 private:
  friend Base;  // deletes us at the last Release
  ~BasicSink() = default;
  void WakeConsumers() noexcept;
  void WakeEveryone() noexcept;
  void RearmPollHandle() noexcept;
  bool ConsumerShouldReturn(uint32_t seen_interrupts, int *result) const noexcept;

  // stream_ bits: the number of attached feeds, whether one ever attached, and a sticky failure reason.
  static constexpr uint64_t kFeedMask = 0xFFFFFFFFu;
  static constexpr uint64_t kEverAttached = uint64_t{1} << 32;
  static constexpr int kFailShift = 40;

  // Bits of need_wake_: what the consumer side asked the next producer to do.
  static constexpr uint32_t kWakeWaiter = 1;  // a thread is (about to be) asleep on wake_
  static constexpr uint32_t kWakeFd = 2;      // the descriptor is clear and must be made readable

  // Above the 32 bits of a state in last_state_: a state was seen.
  static constexpr uint64_t kLastStateSeen = uint64_t{1} << 32;

  Queue ring_;
  alignas(kCacheLine) std::atomic<uint32_t> need_wake_{0};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> stream_{0};
  std::atomic<uint32_t> interrupts_{0};
  std::atomic<uint64_t> last_state_{0};  // kLastStateSeen | state, 0 before any
  alignas(kCacheLine) std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> invalid_{0};
  std::atomic<uint64_t> delivered_{0};  // written under consumer_mutex_, read by Stats
  WakeWord wake_;
  std::mutex consumer_mutex_;
  std::atomic<uint64_t> dropped_reported_{0};  // written under consumer_mutex_, read by Stats
  std::atomic<bool> fd_enabled_{false};  // set once, under consumer_mutex_
  PollHandle poll_handle_;
};

using Sink = BasicSink<MpscRing<StoredRecord>>;
extern template class BasicSink<MpscRing<StoredRecord>>;  // sink.cpp

inline Sink *AsSink(IMAPIOfflineNotify *p) noexcept { return static_cast<Sink *>(p); }

}  // namespace mapioffline
