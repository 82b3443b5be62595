// The list of sinks under test. All queue libraries are compiled here, once.
#include "targets.h"

#include <new>

#include "peer_sinks.h"
#include "queue_adapters.h"
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

template <class Queue, class Opts = DefaultSinkOpts>
class PeerTarget final : public TargetSink {
 public:
  PeerTarget(size_t capacity, size_t producers) : sink_(new PeerSink<Queue, Opts>(capacity, producers)) {}
  ~PeerTarget() override { sink_->Release(); }
  IMAPIOfflineNotify *notify() noexcept override { return sink_; }
  size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept override { return sink_->PopBatch(out, max); }
  uint64_t Dropped() noexcept override { return sink_->dropped(); }

 private:
  PeerSink<Queue, Opts> *sink_;
};

template <class T>
std::unique_ptr<TargetSink> Make(size_t capacity, size_t producers) {
  return std::make_unique<T>(capacity, producers);
}

// Ablations: our ring, one step of Sink::Notify changed. Not all are correct sinks as they stand (without the
// fence a waiting consumer can miss a wake-up unless the consumer side compensates, e.g. with membarrier); they
// price each step so that the suggestions for ours carry numbers.
struct NoFence : DefaultSinkOpts {
  static constexpr bool kFence = false;
};
struct NoTimestamp : DefaultSinkOpts {
  static constexpr StampClock kClock = StampClock::kNone;
};
struct RdtscStamp : DefaultSinkOpts {
  static constexpr StampClock kClock = StampClock::kRawTicks;
};
struct LastStateCmp : DefaultSinkOpts {
  static constexpr bool kLastStateCmp = true;
};
// Every suggestion at once, with padded cells: no producer fence, raw ticks, last_state compared first.
struct AllSuggested {
  static constexpr bool kFence = false;
  static constexpr StampClock kClock = StampClock::kRawTicks;
  static constexpr bool kLastStateCmp = true;
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
      // Control: our ring inside the template sink. Should match "ours" closely; if not, the harness is unfair.
      {"x_our_ring", TargetKind::kAblation, false, &Make<PeerTarget<OurRingQueue>>},
      {"x_our_ring_no_fence", TargetKind::kAblation, false, &Make<PeerTarget<OurRingQueue, NoFence>>},
      {"x_our_ring_no_timestamp", TargetKind::kAblation, false, &Make<PeerTarget<OurRingQueue, NoTimestamp>>},
      {"x_our_ring_rdtsc", TargetKind::kAblation, false, &Make<PeerTarget<OurRingQueue, RdtscStamp>>},
      {"x_our_ring_laststate_cmp", TargetKind::kAblation, false, &Make<PeerTarget<OurRingQueue, LastStateCmp>>},
      {"x_our_ring_padded", TargetKind::kAblation, false, &Make<PeerTarget<OurPaddedRingQueue>>},
      {"x_our_ring_all", TargetKind::kAblation, false, &Make<PeerTarget<OurPaddedRingQueue, AllSuggested>>},
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
