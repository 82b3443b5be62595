#include "sink.h"

#include <cstring>
#include <thread>

#include "clock.h"
#include "live_counters.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#define MAPIOFFLINE_CPU_RELAX() _mm_pause()
#else
#define MAPIOFFLINE_CPU_RELAX() std::this_thread::yield()
#endif

namespace mapioffline {

namespace {
std::atomic<const void *> g_sink_vtable{nullptr};
}

Sink::Sink(size_t capacity) : ring_(capacity) {
  LiveSinks().fetch_add(1, std::memory_order_relaxed);
  g_sink_vtable.store(*reinterpret_cast<const void *const *>(this), std::memory_order_relaxed);
}

Sink::~Sink() { LiveSinks().fetch_sub(1, std::memory_order_relaxed); }

const void *Sink::KnownVtable() noexcept { return g_sink_vtable.load(std::memory_order_relaxed); }

HRESULT Sink::QueryInterface(REFIID iid, void **out) noexcept {
  if (!out) return E_POINTER;
  *out = nullptr;  // defined on every failure path
  if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IMAPIOfflineNotify)) return E_NOINTERFACE;
  *out = static_cast<IMAPIOfflineNotify *>(this);  // one identity for both interfaces
  AddRef();
  return S_OK;
}

ULONG Sink::AddRef() noexcept { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }

ULONG Sink::Release() noexcept {
  // acq_rel: the thread that frees must see every other thread's last use of the object.
  const ULONG n = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (n == 0) delete this;
  return n;
}

void Sink::Notify(const MAPIOFFLINE_NOTIFY *record) noexcept {  // any thread, several at once
  if (!record || record->ulSize < sizeof(MAPIOFFLINE_NOTIFY)) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The cache is updated even when the ring drops the record: the latest state is never lost.
  if (record->NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
      record->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
    last_state_.store(record->Info.StateChange.ulStateNew, std::memory_order_relaxed);
  }
  if (closed_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);  // counted and discarded: no one will pop it
    return;
  }
  const uint64_t now = MonotonicNs();
  const bool pushed = ring_.try_push([&](MAPIOFFLINE_RECORD &slot) {
    std::memcpy(&slot.notify, record, sizeof slot.notify);
    slot.timestamp_ns = now;
  });
  if (!pushed) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // seq_cst fence: orders our publish before reading need_wake_, pairing with the fence a consumer runs after
  // setting need_wake_ and before re-checking the ring. Without it both sides could miss each other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (need_wake_.load(std::memory_order_relaxed) != 0) WakeConsumers();
}

void Sink::WakeConsumers() noexcept {
  // Only the producer that takes the bits pays the syscalls: one per empty -> non-empty transition.
  const uint32_t bits = need_wake_.exchange(0, std::memory_order_acq_rel);
  if (bits & kWakeWaiter) wake_.wake_all();
  if (bits & kWakeFd) poll_handle_.signal();
}

size_t Sink::PopBatch(MAPIOFFLINE_RECORD *out, size_t max_records, uint64_t *dropped_before) noexcept {
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  const size_t n = ring_.pop_many(max_records, [out](const MAPIOFFLINE_RECORD &r, size_t i) { out[i] = r; });
  uint64_t gap = 0;
  if (n > 0) {
    // Drops are attributed to the first record popped after them: sum(gap) + still-unreported == dropped.
    const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
    gap = dropped - dropped_reported_;
    dropped_reported_ = dropped;
    delivered_.store(delivered_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  if (dropped_before) *dropped_before = gap;
  if (n < max_records && fd_enabled_.load(std::memory_order_relaxed)) RearmPollHandle();
  return n;
}

// Under consumer_mutex_, after finding the ring empty: make the descriptor unreadable unless something is pending.
void Sink::RearmPollHandle() noexcept {
  if (need_wake_.load(std::memory_order_relaxed) & kWakeFd) return;  // still clear: no producer signalled since
  poll_handle_.clear();
  need_wake_.fetch_or(kWakeFd, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Notify's fence
  if (ring_.has_pending() || closed()) {
    // A record slipped in before the producer could see the bit; if no producer took the bit, signal ourselves.
    if (need_wake_.fetch_and(~kWakeFd, std::memory_order_acq_rel) & kWakeFd) poll_handle_.signal();
  }
}

int Sink::Wait(int64_t timeout_ns, uint64_t spin_ns) noexcept {
  const uint64_t start = MonotonicNs();
  if (spin_ns > 0) {
    // Opt-in: trades a little CPU for wake-up latency far below a futex round trip.
    while (!ring_.has_pending() && !closed()) {
      if (MonotonicNs() - start >= spin_ns) break;
      for (int i = 0; i < 16; ++i) MAPIOFFLINE_CPU_RELAX();
    }
  }
  for (;;) {
    if (ring_.has_pending()) return MAPIOFFLINE_WAIT_READY;
    if (closed()) return MAPIOFFLINE_WAIT_CLOSED;
    const uint32_t epoch = wake_.epoch();
    need_wake_.fetch_or(kWakeWaiter, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Notify's fence
    if (ring_.has_pending()) return MAPIOFFLINE_WAIT_READY;
    if (closed()) return MAPIOFFLINE_WAIT_CLOSED;
    int64_t remaining = -1;
    if (timeout_ns >= 0) {
      remaining = timeout_ns - static_cast<int64_t>(MonotonicNs() - start);
      if (remaining <= 0) return MAPIOFFLINE_WAIT_TIMEOUT;
    }
    wake_.wait(epoch, remaining);
    // Woken, interrupted by a signal (EINTR: the caller may have a KeyboardInterrupt to raise) or spurious:
    // report READY and let the caller look again. Only a timeout loops, to return TIMEOUT above.
    if (timeout_ns < 0 || static_cast<int64_t>(MonotonicNs() - start) < timeout_ns) {
      return closed() && !ring_.has_pending() ? MAPIOFFLINE_WAIT_CLOSED : MAPIOFFLINE_WAIT_READY;
    }
  }
}

void Sink::Interrupt() noexcept {
  wake_.wake_all();
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  // Readable until the next pop finds the ring empty: a watcher on the descriptor wakes and looks too.
  if (fd_enabled_.load(std::memory_order_relaxed)) {
    need_wake_.fetch_and(~kWakeFd, std::memory_order_acq_rel);
    poll_handle_.signal();
  }
}

int Sink::FileNo() noexcept {
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  if (!fd_enabled_.load(std::memory_order_relaxed)) {
    if (!poll_handle_.open()) return -1;
    fd_enabled_.store(true, std::memory_order_relaxed);
    // Start "clear and armed"; RearmPollHandle signals at once if records are already pending.
    RearmPollHandle();
  }
  return poll_handle_.fd();
}

void Sink::Close() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  wake_.wake_all();
  std::lock_guard<std::mutex> lock(consumer_mutex_);
  if (fd_enabled_.load(std::memory_order_relaxed)) poll_handle_.signal();  // readable from now on
}

void Sink::Stats(MAPIOFFLINE_SINK_STATS *out) const noexcept {
  const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  out->received = ring_.pushed() + dropped;  // the ring's tail counts every accepted record
  out->delivered = delivered_.load(std::memory_order_relaxed);
  out->dropped = dropped;
  out->invalid = invalid_.load(std::memory_order_relaxed);
}

}  // namespace mapioffline
