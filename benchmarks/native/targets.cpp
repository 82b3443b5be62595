// The list of sinks under test: the product's sink, and its code over the peers' queues or with one step changed.
// All queue libraries are compiled here, once.
#include "targets.h"

#include <new>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#if defined(_MSC_VER)
#include <intrin.h>  // __rdtsc (MSVC has no x86intrin.h)
#else
#include <x86intrin.h>
#endif
#endif

#include "queue_adapters.h"
#include "sink_impl.h"  // ext/src: the product's sink code, instantiated here over the peers' queues
#if defined(MAPIOFFLINE_BENCH_SELFTEST)
#include "selftest_queues.h"
#endif

namespace mapioffline_bench {
namespace {

class OurTarget final : public TargetSink {
 public:
  OurTarget(size_t capacity, size_t /*producers*/) {
    if (FAILED(mapioffline_sink_create(static_cast<ULONG>(capacity), &sink_))) throw std::bad_alloc();
  }
  ~OurTarget() override { sink_->Release(); }
  IMAPIOfflineNotify *notify() noexcept override { return sink_; }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept override {
    return mapioffline_sink_pop_batch(sink_, out, max, nullptr);
  }
  uint64_t Dropped() noexcept override {
    MAPIOFFLINE_SINK_STATS s;
    mapioffline_sink_stats(sink_, &s);
    return s.dropped;
  }

 private:
  IMAPIOfflineNotify *sink_ = nullptr;
};

// The product's sink code (mapioffline::BasicSink, ext/src/sink_impl.h) over another queue, or with one step of
// Notify changed. Created and released as the product creates and releases its own.
template <class Queue, class Steps = mapioffline::ProductSteps>
class PeerTarget final : public TargetSink {
  using Sink = mapioffline::BasicSink<Queue, Steps>;

 public:
  PeerTarget(size_t capacity, size_t producers) : sink_(Create(capacity, producers)) {}
  ~PeerTarget() override { sink_->Release(); }
  IMAPIOfflineNotify *notify() noexcept override { return sink_; }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept override {
    return sink_->PopBatch(out, max, nullptr);
  }
  uint64_t Dropped() noexcept override {
    MAPIOFFLINE_SINK_STATS s;
    sink_->Stats(&s);
    return s.dropped;
  }

 private:
  // moodycamel sizes its block pool by the number of producers; the other queues take only the capacity.
  static Sink *Create(size_t capacity, [[maybe_unused]] size_t producers) {
    if constexpr (std::is_constructible_v<Queue, size_t, size_t>) {
      return new Sink(capacity, producers);
    } else {
      return new Sink(capacity);
    }
  }

  Sink *sink_;
};

template <class T>
std::unique_ptr<TargetSink> Make(size_t capacity, size_t producers) {
  return std::make_unique<T>(capacity, producers);
}

// Ablations: our ring, one step of Sink::Notify changed (ProductSteps, ext/src/sink.h, is the product's). Not all
// are correct sinks as they stand (without the fence a waiting consumer can miss a wake-up unless the consumer side
// compensates, e.g. with membarrier); they price each step so that the suggestions for ours carry numbers.
struct NoFence : mapioffline::ProductSteps {
  static constexpr bool kFenceAfterPublish = false;
};
struct NoTimestamp : mapioffline::ProductSteps {
  static uint64_t Stamp() noexcept { return 0; }  // prices the clock read
};
// A raw counter (rdtsc on x86), to be scaled to ns by the consumer: the cheap alternative to the clock.
struct RdtscStamp : mapioffline::ProductSteps {
  static uint64_t Stamp() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
    return __rdtsc();
#else
    return mapioffline::MonotonicNs();
#endif
  }
};
struct LastStateCmp : mapioffline::ProductSteps {
  static constexpr bool kCompareLastState = true;  // load first, store only a change
};
// Every suggestion at once, with padded cells: no producer fence, raw ticks, last_state compared first.
struct AllSuggested : RdtscStamp {
  static constexpr bool kFenceAfterPublish = false;
  static constexpr bool kCompareLastState = true;
};

}  // namespace

const std::vector<Target> &Targets() {
  static const std::vector<Target> targets = {
      {"ours", TargetKind::kOurs, false, &Make<OurTarget>},
      {"moodycamel", TargetKind::kPeer, false, &Make<PeerTarget<MoodycamelQueue>>},
      {"atomic_queue", TargetKind::kPeer, false, &Make<PeerTarget<AtomicQueueQ<false>>>},
      {"atomic_queue_spsc", TargetKind::kPeer, true, &Make<PeerTarget<AtomicQueueQ<true>>>},
#if MAPIOFFLINE_HAVE_BOOST_LOCKFREE
      {"boost_lockfree", TargetKind::kPeer, false, &Make<PeerTarget<BoostLockfreeQueue>>},
#endif
      {"mutex_deque", TargetKind::kPeer, false, &Make<PeerTarget<MutexDequeQueue>>},
      // Control: the product's Sink itself, driven like the peers. Should match "ours" closely; if not, the harness
      // is unfair.
      {"x_our_ring", TargetKind::kAblation, false, &Make<PeerTarget<OurRing>>},
      {"x_our_ring_no_fence", TargetKind::kAblation, false, &Make<PeerTarget<OurRing, NoFence>>},
      {"x_our_ring_no_timestamp", TargetKind::kAblation, false, &Make<PeerTarget<OurRing, NoTimestamp>>},
      {"x_our_ring_rdtsc", TargetKind::kAblation, false, &Make<PeerTarget<OurRing, RdtscStamp>>},
      {"x_our_ring_laststate_cmp", TargetKind::kAblation, false, &Make<PeerTarget<OurRing, LastStateCmp>>},
      {"x_our_ring_padded", TargetKind::kAblation, false, &Make<PeerTarget<OurPaddedRing>>},
      {"x_our_ring_all", TargetKind::kAblation, false, &Make<PeerTarget<OurPaddedRing, AllSuggested>>},
#if defined(MAPIOFFLINE_BENCH_SELFTEST)
      // Must be reported as failed (order, loss) and as a hang, and left out of "fastest".
      {"selftest_lifo", TargetKind::kPeer, false, &Make<PeerTarget<BrokenLifoQueue>>},
      {"selftest_lossy", TargetKind::kPeer, false, &Make<PeerTarget<BrokenLossyQueue>>},
      {"selftest_hang", TargetKind::kPeer, false, &Make<PeerTarget<BrokenHangQueue>>},
#endif
  };
  return targets;
}

}  // namespace mapioffline_bench
