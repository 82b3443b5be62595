// The sinks under test, type-erased so the harnesses (bench_full_path.cpp, bench_single_thread.cpp) are written
// once. Every Notify still goes through the IMAPIOfflineNotify vtable; only the consumer-side pop and the drop
// count go through TargetSink's own virtuals (once per batch, the same for everyone).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mapioffline/mapioffline.h"

namespace mapioffline_bench {

class TargetSink {
 public:
  virtual ~TargetSink() = default;  // releases the sink
  virtual IMAPIOfflineNotify *notify() noexcept = 0;
  // Single consumer thread.
  virtual size_t PopBatch(MAPIOFFLINE_RECORD *out, size_t max) noexcept = 0;
  // Records the sink refused so far (ring full / closed).
  virtual uint64_t Dropped() noexcept = 0;
};

enum class TargetKind {
  kOurs,      // mapioffline_sink_create: the product
  kPeer,      // our sink's code over another queue: candidates for "fastest peer"
  kAblation,  // our sink's code over our ring, one hot-path step changed: what-ifs for ours, not peers
};

struct Target {
  const char *name;
  TargetKind kind;
  bool single_producer_only;  // e.g. atomic_queue's SPSC mode: only valid with one producer
  std::unique_ptr<TargetSink> (*make)(size_t capacity, size_t producers);
};

// Ours first, then the peers, then the ablations.
const std::vector<Target> &Targets();

}  // namespace mapioffline_bench
