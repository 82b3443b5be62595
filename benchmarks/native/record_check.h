// The records the harnesses send and the consumer-side order/loss/corruption checker.
//
// Each producer stamps its index in ulClientToken and a per-producer sequence in Info.StateChange.ulStateOld, and
// ~sequence in ulStateNew so that a torn or mixed-up record is caught. NotifyType = STATECHANGE_DONE with
// ulMask = OFFLINE_MASK, so every Notify also takes the sink's last_state update: the full hot path.
#pragma once
#include <cstdint>
#include <vector>

#include "mapioffline/mapioffline.h"

namespace mapioffline_bench {

inline MAPIOFFLINE_NOTIFY MakeRecord(ULONG producer, uint32_t seq) noexcept {
  MAPIOFFLINE_NOTIFY r{};
  r.ulSize = sizeof(MAPIOFFLINE_NOTIFY);
  r.NotifyType = MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE;
  r.ulClientToken = producer;
  r.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  r.Info.StateChange.ulStateOld = seq;
  r.Info.StateChange.ulStateNew = ~seq;
  return r;
}

// Consumer side. Sequences are 32-bit and compared modulo 2^32 so that long runs may wrap.
class OrderChecker {
 public:
  explicit OrderChecker(size_t producers) : next_(producers, 0), missing_(producers, 0) {}

  // One popped record. Drops leave forward gaps, which are allowed and counted as missing. A record older than
  // its producer's newest one is an order violation; it is still delivered, so it is counted as popped and fills
  // one of the gaps it was counted in. A duplicate therefore shows up twice: as an order violation and, in the
  // end, as popped + dropped > sent.
  void Take(const MAPIOFFLINE_RECORD &rec) noexcept {
    const MAPIOFFLINE_NOTIFY &n = rec.notify;
    const uint32_t seq = n.Info.StateChange.ulStateOld;
    if (n.ulClientToken >= next_.size() || n.ulSize != sizeof(MAPIOFFLINE_NOTIFY) ||
        n.NotifyType != MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE ||
        n.Info.StateChange.ulMask != MAPIOFFLINE_STATE_OFFLINE_MASK || n.Info.StateChange.ulStateNew != ~seq) {
      ++corrupt_;
      return;
    }
    ++popped_;
    const uint32_t gap = seq - next_[n.ulClientToken];
    if (static_cast<int32_t>(gap) < 0) {
      ++order_violations_;
      --missing_[n.ulClientToken];  // wraps if it was a duplicate: caught by the popped + dropped == sent check
      return;
    }
    missing_[n.ulClientToken] += gap;
    next_[n.ulClientToken] = seq + 1;
  }

  // After producer p has stopped at sequence `sent_until` (exclusive): the tail it never delivered was dropped.
  void CloseProducer(size_t p, uint32_t sent_until) noexcept {
    const uint32_t gap = sent_until - next_[p];
    if (static_cast<int32_t>(gap) < 0) {
      ++order_violations_;  // popped a sequence it never sent
      return;
    }
    missing_[p] += gap;
    next_[p] = sent_until;
  }

  uint64_t popped() const noexcept { return popped_; }
  uint64_t order_violations() const noexcept { return order_violations_; }
  uint64_t corrupt() const noexcept { return corrupt_; }
  // Records sent but never popped, per the sequence gaps (meaningful after CloseProducer for every producer).
  uint64_t missing() const noexcept {
    uint64_t m = 0;
    for (uint64_t x : missing_) m += x;
    return m;
  }

 private:
  std::vector<uint32_t> next_;
  std::vector<uint64_t> missing_;
  uint64_t popped_ = 0;
  uint64_t order_violations_ = 0;
  uint64_t corrupt_ = 0;
};

}  // namespace mapioffline_bench
