// The native IMAPIOfflineNotify sink: Notify copies each record into a lock-free ring without blocking,
// allocating, locking or touching Python; consumers pop, batch-pop, wait or poll a descriptor.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>

#include "mapioffline/mapioffline.h"
#include "poll_handle.h"
#include "ring.h"
#include "wake_word.h"

namespace mapioffline {

class Sink final : public IMAPIOfflineNotify {
 public:
  // Throws std::bad_alloc. capacity: a power of two. Starts with one reference.
  explicit Sink(size_t capacity);

  // IUnknown / IMAPIOfflineNotify: any thread, several at once.
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override;
  ULONG STDMETHODCALLTYPE AddRef() noexcept override;
  ULONG STDMETHODCALLTYPE Release() noexcept override;
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *record) noexcept override;

  // Consumer side: any thread; pops are serialised by consumer_mutex_.
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max_records, uint64_t *dropped_before) noexcept;
  int Wait(int64_t timeout_ns, uint64_t spin_ns) noexcept;
  int FileNo() noexcept;
  void Close() noexcept;
  void Interrupt() noexcept;
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  void Stats(MAPIOFFLINE_SINK_STATS *out) const noexcept;
  ULONG last_state() const noexcept { return last_state_.load(std::memory_order_relaxed); }
  ULONG capacity() const noexcept { return static_cast<ULONG>(ring_.capacity()); }

  // The vtable every Sink shares, or nullptr before the first Sink exists.
  static const void *KnownVtable() noexcept;

 private:
  ~Sink();
  void WakeConsumers() noexcept;
  void RearmPollHandle() noexcept;

  // Bits of need_wake_: what the consumer side asked the next producer to do.
  static constexpr uint32_t kWakeWaiter = 1;  // a thread is (about to be) asleep on wake_
  static constexpr uint32_t kWakeFd = 2;      // the descriptor is clear and must be made readable

  MpscRing<MAPIOFFLINE_RECORD> ring_;
  alignas(kCacheLine) std::atomic<uint32_t> need_wake_{0};
  std::atomic<bool> closed_{false};
  std::atomic<ULONG> last_state_{0};
  alignas(kCacheLine) std::atomic<ULONG> refs_{1};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> invalid_{0};
  std::atomic<uint64_t> delivered_{0};  // written under consumer_mutex_, read by Stats
  WakeWord wake_;
  std::mutex consumer_mutex_;
  uint64_t dropped_reported_ = 0;        // under consumer_mutex_
  std::atomic<bool> fd_enabled_{false};  // set once, under consumer_mutex_
  PollHandle poll_handle_;
};

inline Sink *AsSink(IMAPIOfflineNotify *p) noexcept { return static_cast<Sink *>(p); }

}  // namespace mapioffline
