// The publisher's side of a channel, platform-neutral: fills in a fresh region's identity, then publishes records
// into the broadcast ring and keeps the state and change counter current. Publish never waits for a subscriber,
// never allocates and takes no lock a subscriber can hold (its only lock is local to the publisher process: it
// orders the publisher's own Notify calls, which the source may make from several threads).
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "channel/layout.h"

namespace mapioffline {
namespace channel {

class Region;

struct Identity {
  uint32_t capacity;      // ring cells, a power of two in [kMinRingCapacity, kMaxRingCapacity]
  uint32_t capabilities;  // the source's GetCapabilities
  uint32_t flags;         // kFlag*
  uint32_t pid;
  uint64_t start;
};

class Writer {
 public:
  // `base`: zero-filled memory of RegionSize(identity.capacity) bytes (the mapped region, or plain memory in tests);
  // `wakes`: the region whose words sleepers wait on (nullptr: no one sleeps, e.g. the fuzzer's images).
  // `folded`: at most kMaxProfileUnits units. Does not publish the region yet: call Go() once the state is known.
  Writer(void *base, const Region *wakes, const Identity &identity, const std::u16string &folded) noexcept;

  // Stores the first state and makes the region live for subscribers (release).
  void Go(uint32_t state) noexcept;
  // Any thread: publishes one record (and the state, for a DONE with mask OFFLINE_MASK), then wakes sleepers.
  void Publish(const MAPIOFFLINE_RECORD &record) noexcept;
  // The state from GetCurrentState, unless a DONE already reported a newer one since Go().
  void SetStateIfUnchanged(uint32_t state) noexcept;
  // Marks the region stopped and wakes every sleeper; subscribers end their streams.
  void Stop() noexcept;
  // Records published so far.
  uint64_t Head() const noexcept { return next_.load(std::memory_order_acquire); }
  Header *header() const noexcept { return header_; }
  // Wake system calls made so far: how often a publication found a subscriber waiting for it, or healed a wake not
  // passed on (the bench's measure of the publisher's wake cost, which must not grow with the number of
  // subscribers).
  uint64_t wake_calls() const noexcept { return wake_calls_.load(std::memory_order_relaxed); }
  // How long a wake may stay not passed on before a publication wakes another subscriber (see WakeSubscribers).
  static constexpr int64_t kHealIntervalNs = 1000000;
  // Tests: another interval (0: every publication heals).
  void set_heal_interval_ns(int64_t ns) noexcept {
    std::lock_guard<std::mutex> lock(order_);
    heal_interval_ns_ = ns;
  }

 private:
  void WakeSubscribers() noexcept;

  const Region *wakes_;
  Header *header_;
  Cell *cells_;
  uint64_t mask_;
  std::mutex order_;               // publisher-local: one Publish at a time
  std::atomic<uint64_t> next_{0};  // our own head: never read back from the region
  bool state_reported_ = false;    // under order_: a DONE stored a state since Go()
  std::atomic<uint64_t> wake_calls_{0};
  // Under order_: our last wake that woke someone, until `forwarded` shows it passed on (the heal).
  bool owed_ = false;
  uint32_t owed_word_ = 0;
  int64_t owed_since_ns_ = 0;
  int64_t heal_interval_ns_ = kHealIntervalNs;
};

}  // namespace channel
}  // namespace mapioffline
