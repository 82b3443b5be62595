// The definitions of BasicSink's members (sink.h): included by sink.cpp, which compiles the product's Sink, and by
// the native benchmarks, which run the same code over other queues.
#pragma once
#include <cstring>
#include <thread>

#include "sink.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#endif

namespace mapioffline {

inline void CpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Notify(const MAPIOFFLINE_NOTIFY *record) noexcept {  // any thread, several at once
  if (!record || record->ulSize < sizeof(MAPIOFFLINE_NOTIFY)) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The cache is updated even when the ring drops the record: the latest state is never lost.
  if (record->NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
      record->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
    const uint64_t state = kLastStateSeen | record->Info.StateChange.ulStateNew;
    // The product stores unconditionally (ProductSteps); comparing first is a benchmark's what-if.
    if constexpr (Steps::kCompareLastState) {
      if (last_state_.load(std::memory_order_relaxed) != state) last_state_.store(state, std::memory_order_relaxed);
    } else {
      last_state_.store(state, std::memory_order_relaxed);
    }
  }
  if (closed_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);  // counted and discarded: no one will pop it
    return;
  }
  const uint64_t now = Steps::Stamp();
  const bool pushed = ring_.try_push([&](StoredRecord &slot) {
    std::memcpy(&slot.record.notify, record, sizeof slot.record.notify);
    slot.record.timestamp_ns = now;
    // Read after claiming the cell: every drop counted before this push belongs before this record. With several
    // producers, neighbouring cells may carry stamps out of order; the consumer only ever reports increases.
    slot.dropped_at_push = dropped_.load(std::memory_order_relaxed);
  });
  if (!pushed) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // seq_cst fence: orders our publish before reading need_wake_, pairing with the fence a consumer runs after
  // setting need_wake_ and before re-checking the ring. Without it both sides could miss each other.
  if constexpr (Steps::kFenceAfterPublish) std::atomic_thread_fence(std::memory_order_seq_cst);
  if (need_wake_.load(std::memory_order_relaxed) != 0) WakeConsumers();
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::NoteDropped(uint64_t n) noexcept { dropped_.fetch_add(n, std::memory_order_relaxed); }

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::WakeConsumers() noexcept {
  // Only the producer that takes the bits pays the syscalls: one per empty -> non-empty transition.
  const uint32_t bits = need_wake_.exchange(0, std::memory_order_acq_rel);
  if (bits & kWakeWaiter) wake_.wake_all();
  if (bits & kWakeFd) poll_handle_.signal();
}

// After a change of stream_, closed_ or interrupts_ (already stored): every sleeper wakes and looks again, and the
// descriptor turns readable until a pop finds nothing pending and the condition gone (RearmPollHandle).
template <class Queue, class Steps>
void BasicSink<Queue, Steps>::WakeEveryone() noexcept {
  wake_.wake_all();  // moves the epoch on (release): a waiter that read the old epoch does not sleep
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  if (fd_enabled_.load(std::memory_order_relaxed)) {
    need_wake_.fetch_and(~kWakeFd, std::memory_order_acq_rel);
    poll_handle_.signal();
  }
}

template <class Queue, class Steps>
size_t BasicSink<Queue, Steps>::PopBatch(MAPIOFFLINE_RECORD *out, size_t max_records,
                                       uint64_t *dropped_before) noexcept {
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  uint64_t reported = dropped_reported_.load(std::memory_order_relaxed);
  const size_t n = ring_.pop_many(max_records, [&](const StoredRecord &cell, size_t i) {
    out[i] = cell.record;
    const uint64_t gap = cell.dropped_at_push > reported ? cell.dropped_at_push - reported : 0;
    if (gap) reported = cell.dropped_at_push;
    if (dropped_before) dropped_before[i] = gap;
  });
  if (n > 0) {
    dropped_reported_.store(reported, std::memory_order_relaxed);
    delivered_.store(delivered_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  if (n < max_records && fd_enabled_.load(std::memory_order_relaxed)) RearmPollHandle();
  return n;
}

// Under consumer_mutex_, after finding the ring empty: make the descriptor unreadable unless something is pending
// or the stream is over (closed or ended: a watcher must wake to learn it).
template <class Queue, class Steps>
void BasicSink<Queue, Steps>::RearmPollHandle() noexcept {
  if (need_wake_.load(std::memory_order_relaxed) & kWakeFd) return;  // still clear: no producer signalled since
  poll_handle_.clear();
  // release: a producer that takes this bit (WakeConsumers' acq_rel exchange) and calls poll_handle_.signal() must
  // see the descriptor that FileNo's open() made just before; relaxed left that a data race (TSan, Python suite).
  need_wake_.fetch_or(kWakeFd, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Notify's fence
  if (ring_.has_pending() || closed() || EndReason() != MAPIOFFLINE_END_NONE) {
    // A record slipped in before the producer could see the bit; if no producer took the bit, signal ourselves.
    if (need_wake_.fetch_and(~kWakeFd, std::memory_order_acq_rel) & kWakeFd) poll_handle_.signal();
  }
}

// The conditions that end a wait, in the order a consumer must see them: records first (they are delivered even
// after the stream ended), then close, the stream's end, an interrupt.
// The stream conditions are read BEFORE the ring (acquire loads): each is stored after the records that precede
// it were published (a feed detaches only once its Notify calls have returned), so a consumer that sees the end
// also sees those records. Reading the ring first let a record and the end both land between the two reads, and
// ENDED/CLOSED came back with that record pending (found by ext/model/sink_protocol_model.py, mutant
// "wait-checks-ring-first").
template <class Queue, class Steps>
bool BasicSink<Queue, Steps>::ConsumerShouldReturn(uint32_t seen_interrupts, int *result) const noexcept {
  const bool is_closed = closed();
  const bool has_ended = EndReason() != MAPIOFFLINE_END_NONE;
  const bool interrupted = interrupts() != seen_interrupts;
  if (ring_.has_pending()) {
    *result = MAPIOFFLINE_WAIT_READY;
  } else if (is_closed) {
    *result = MAPIOFFLINE_WAIT_CLOSED;
  } else if (has_ended) {
    *result = MAPIOFFLINE_WAIT_ENDED;
  } else if (interrupted) {
    *result = MAPIOFFLINE_WAIT_INTERRUPTED;
  } else {
    return false;
  }
  return true;
}

template <class Queue, class Steps>
int BasicSink<Queue, Steps>::Wait(int64_t timeout_ns, uint64_t spin_ns, uint32_t seen_interrupts) noexcept {
  const uint64_t start = MonotonicNs();
  int result = MAPIOFFLINE_WAIT_TIMEOUT;
  // Opt-in spin: trades a little CPU for wake-up latency far below a futex round trip. Never beyond the timeout.
  if (timeout_ns >= 0 && spin_ns > static_cast<uint64_t>(timeout_ns)) spin_ns = static_cast<uint64_t>(timeout_ns);
  while (spin_ns > 0 && !ConsumerShouldReturn(seen_interrupts, &result)) {
    if (MonotonicNs() - start >= spin_ns) break;
    for (int i = 0; i < 16; ++i) CpuRelax();
  }
  for (;;) {
    if (ConsumerShouldReturn(seen_interrupts, &result)) return result;
    // The epoch is read before the last check: a change stored after that check moves the epoch on, and the
    // futex (or WaitOnAddress) then refuses to sleep on the stale value.
    const uint32_t epoch = wake_.epoch();
    need_wake_.fetch_or(kWakeWaiter, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Notify's fence
    if (ConsumerShouldReturn(seen_interrupts, &result)) return result;
    int64_t remaining = -1;
    if (timeout_ns >= 0) {
      remaining = timeout_ns - static_cast<int64_t>(MonotonicNs() - start);
      if (remaining <= 0) return MAPIOFFLINE_WAIT_TIMEOUT;
    }
    wake_.wait(epoch, remaining);
    // Woken, interrupted by a signal (EINTR: the caller may have a KeyboardInterrupt to raise) or spurious:
    // report READY and let the caller look again. Only a timeout loops, to return TIMEOUT above.
    if (timeout_ns < 0 || static_cast<int64_t>(MonotonicNs() - start) < timeout_ns) {
      if (ConsumerShouldReturn(seen_interrupts, &result)) return result;
      return MAPIOFFLINE_WAIT_READY;
    }
  }
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Interrupt() noexcept {
  interrupts_.fetch_add(1, std::memory_order_acq_rel);
  WakeEveryone();
}

template <class Queue, class Steps>
int BasicSink<Queue, Steps>::FileNo() noexcept {
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  if (!fd_enabled_.load(std::memory_order_relaxed)) {
    if (!poll_handle_.open()) return -1;
    fd_enabled_.store(true, std::memory_order_relaxed);
    // Start "clear and armed"; RearmPollHandle signals at once if records are already pending.
    RearmPollHandle();
  }
  return poll_handle_.fd();
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Close() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  WakeEveryone();
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Attach() noexcept {
  uint64_t s = stream_.load(std::memory_order_relaxed);
  // A new feed: one more attached, and a failure of an earlier feed no longer ends the stream.
  while (!stream_.compare_exchange_weak(s, ((s & kFeedMask) + 1) | kEverAttached, std::memory_order_acq_rel)) {
  }
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Detach() noexcept {
  uint64_t s = stream_.load(std::memory_order_relaxed);
  for (;;) {
    if ((s & kFeedMask) == 0) return;  // more detaches than attaches: ignored rather than wrapping
    if (stream_.compare_exchange_weak(s, s - 1, std::memory_order_acq_rel)) break;
  }
  if ((s & kFeedMask) == 1) WakeEveryone();  // the last feed ended
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Fail(ULONG reason) noexcept {
  if (reason == MAPIOFFLINE_END_NONE || reason > 0xFF) reason = MAPIOFFLINE_END_FAILED;
  uint64_t s = stream_.load(std::memory_order_relaxed);
  const uint64_t bits = static_cast<uint64_t>(reason) << kFailShift;
  while (!stream_.compare_exchange_weak(s, (s & ~(uint64_t{0xFF} << kFailShift)) | bits | kEverAttached,
                                        std::memory_order_acq_rel)) {
  }
  WakeEveryone();
}

template <class Queue, class Steps>
ULONG BasicSink<Queue, Steps>::EndReason() const noexcept {
  const uint64_t s = stream_.load(std::memory_order_acquire);
  const ULONG failed = static_cast<ULONG>((s >> kFailShift) & 0xFF);
  if (failed) return failed;
  return (s & kEverAttached) && (s & kFeedMask) == 0 ? MAPIOFFLINE_END_UNADVISED : MAPIOFFLINE_END_NONE;
}

template <class Queue, class Steps>
bool BasicSink<Queue, Steps>::LastState(ULONG *state) const noexcept {
  const uint64_t v = last_state_.load(std::memory_order_relaxed);
  if (state) *state = static_cast<ULONG>(v);
  return (v & kLastStateSeen) != 0;
}

template <class Queue, class Steps>
void BasicSink<Queue, Steps>::Stats(MAPIOFFLINE_SINK_STATS *out) const noexcept {
  const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  out->received = ring_.pushed() + dropped;  // the ring's tail counts every accepted record
  out->delivered = delivered_.load(std::memory_order_relaxed);
  out->dropped = dropped;
  out->invalid = invalid_.load(std::memory_order_relaxed);
  out->dropped_reported = dropped_reported_.load(std::memory_order_relaxed);
}

}  // namespace mapioffline
