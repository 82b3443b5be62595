// PeerSink<Queue>: an IMAPIOfflineNotify that does exactly what mapioffline::Sink::Notify does (ext/src/sink.cpp)
// with the ring swapped for another queue, so that the benchmarks compare queues and nothing else:
//   same validity check (NULL / short record -> invalid), same last_state update (even when dropped), same closed
//   check, same timestamp (mapioffline::MonotonicNs, i.e. clock_gettime(CLOCK_MONOTONIC)), same drop counting,
//   same seq_cst fence + need_wake_ load after a successful push, same member layout (hot fields on their own
//   128-byte lines), atomic refcount, and `final` like Sink.
// The consumer side is only the batch pop: PeerSink has no wait/fd machinery (the benchmarks poll).
//
// SinkOpts turns individual hot-path steps off or changes them: used only by the ablation variants over our own
// ring ("what would ours cost without X"), never by the peers, which always use DefaultSinkOpts.
#pragma once
#include <atomic>
#include <cstdint>

#include "clock.h"  // ext/src: the sink's own clock
#include "mapioffline/mapioffline.h"
#include "queue_adapters.h"
#include "ring.h"  // kCacheLine

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#if defined(_MSC_VER)
#include <intrin.h>  // __rdtsc (MSVC has no x86intrin.h)
#else
#include <x86intrin.h>
#endif
#endif

#if defined(__GNUC__)
#define MAPIOFFLINE_BENCH_COLD __attribute__((noinline, cold))
#else
#define MAPIOFFLINE_BENCH_COLD
#endif

namespace mapioffline_bench {

enum class StampClock {
  kMonotonic,  // mapioffline::MonotonicNs(): what Sink::Notify does
  kNone,       // no timestamp: prices the clock read
  kRawTicks,   // a raw counter (rdtsc on x86), to be scaled to ns by the consumer: the cheap alternative
};

struct DefaultSinkOpts {
  static constexpr bool kFence = true;          // seq_cst fence between the publish and the need_wake_ load
  static constexpr StampClock kClock = StampClock::kMonotonic;
  static constexpr bool kLastStateCmp = false;  // store last_state only when it changes (load first)
};

inline uint64_t RawTicks() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
  return __rdtsc();
#else
  return mapioffline::MonotonicNs();
#endif
}

template <class Queue, class Opts = DefaultSinkOpts>
class PeerSink final : public IMAPIOfflineNotify {
 public:
  PeerSink(size_t capacity, size_t producers) : queue_(capacity, producers) {}
  PeerSink(const PeerSink &) = delete;
  PeerSink &operator=(const PeerSink &) = delete;

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IMAPIOfflineNotify)) return E_NOINTERFACE;
    *out = static_cast<IMAPIOfflineNotify *>(this);
    AddRef();
    return S_OK;
  }
  ULONG STDMETHODCALLTYPE AddRef() noexcept override { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }
  ULONG STDMETHODCALLTYPE Release() noexcept override {
    const ULONG n = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (n == 0) delete this;
    return n;
  }

  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *record) noexcept override {
    if (!record || record->ulSize < sizeof(MAPIOFFLINE_NOTIFY)) {
      invalid_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (record->NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
        record->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
      const ULONG state = record->Info.StateChange.ulStateNew;
      // The unconditional store makes every producer write the line closed_ and need_wake_ share.
      if (!Opts::kLastStateCmp || last_state_.load(std::memory_order_relaxed) != state)
        last_state_.store(state, std::memory_order_relaxed);
    }
    if (closed_.load(std::memory_order_relaxed)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const uint64_t now = Opts::kClock == StampClock::kMonotonic ? mapioffline::MonotonicNs()
                         : Opts::kClock == StampClock::kRawTicks ? RawTicks()
                                                                 : 0;
    if (!queue_.TryPush(*record, now)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (Opts::kFence) std::atomic_thread_fence(std::memory_order_seq_cst);
    if (need_wake_.load(std::memory_order_relaxed) != 0) WakeConsumers();
  }

  // The single consumer thread.
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept { return queue_.PopBatch(out, max); }
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  ULONG last_state() const noexcept { return last_state_.load(std::memory_order_relaxed); }

 private:
  ~PeerSink() = default;
  // Never reached in the benchmarks (nobody sets need_wake_): present so the branch costs the same as in Sink.
  MAPIOFFLINE_BENCH_COLD void WakeConsumers() noexcept {
    need_wake_.exchange(0, std::memory_order_acq_rel);
  }

  Queue queue_;
  alignas(mapioffline::kCacheLine) std::atomic<uint32_t> need_wake_{0};
  std::atomic<bool> closed_{false};
  std::atomic<ULONG> last_state_{0};
  alignas(mapioffline::kCacheLine) std::atomic<ULONG> refs_{1};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> invalid_{0};
};

}  // namespace mapioffline_bench
