#include "channel/writer.h"

#include <cstring>

#include "channel/os.h"
#include "clock.h"

namespace mapioffline {
namespace channel {

Writer::Writer(void *base, const Region *wakes, const Identity &identity, const std::u16string &folded) noexcept
    : wakes_(wakes),
      header_(static_cast<Header *>(base)),
      cells_(CellsOf(header_)),
      mask_(identity.capacity - 1) {
  Header *h = header_;
  h->magic = kMagic;
  h->version = kLayoutVersion;
  h->header_size = sizeof(Header);
  h->cell_size = sizeof(Cell);
  h->ring_capacity = identity.capacity;
  h->ring_offset = sizeof(Header);
  h->region_size = RegionSize(identity.capacity);
  h->capabilities = identity.capabilities;
  h->flags = identity.flags;
  h->publisher_pid = identity.pid;
  h->publisher_start = identity.start;
  const size_t units = folded.size() < kMaxProfileUnits ? folded.size() : kMaxProfileUnits;
  h->profile_units = static_cast<uint32_t>(units);
  for (size_t i = 0; i < units; ++i) h->profile[i] = static_cast<uint16_t>(folded[i]);
}

void Writer::Go(uint32_t state) noexcept {
  header_->state.store(state, std::memory_order_relaxed);
  // release: a subscriber that reads kStatusLive (acquire) sees the identity and the state written before.
  header_->status.store(kStatusLive, std::memory_order_release);
}

void Writer::SetStateIfUnchanged(uint32_t state) noexcept {
  std::lock_guard<std::mutex> lock(order_);
  if (!state_reported_) header_->state.store(state, std::memory_order_release);
}

void Writer::Publish(const MAPIOFFLINE_RECORD &record) noexcept {
  uint64_t words[4];
  std::memcpy(words, &record, sizeof words);
  {
    std::lock_guard<std::mutex> lock(order_);
    const uint64_t n = next_.load(std::memory_order_relaxed);
    Cell &cell = cells_[n & mask_];
    // Seqlock write (pairs with Reader::Read): odd sequence, release fence, the words, even sequence (release).
    // A reader that saw any of the new words sees the odd sequence on its second load and discards what it read.
    cell.seq.store(2 * (n + 1) - 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (int i = 0; i < 4; ++i) cell.words[i].store(words[i], std::memory_order_relaxed);
    cell.seq.store(2 * (n + 1), std::memory_order_release);
    if (record.notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
        record.notify.Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
      header_->state.store(record.notify.Info.StateChange.ulStateNew, std::memory_order_release);
      header_->change_counter.fetch_add(1, std::memory_order_release);
      state_reported_ = true;
    }
    next_.store(n + 1, std::memory_order_release);
    header_->head.store(n + 1, std::memory_order_release);  // release: the cell is complete before the head moves
    WakeSubscribers();  // under order_: the heal's memory of our last wake is ours alone
  }
}

// The wake protocol (checked exhaustively, fences and all, by wake_protocol_model.py ext/model/). A subscriber
// about to sleep reads wake_word (value v), raises `wanted` to at least v + 1 ("wake me at the publication that makes
// v + 1"), counts itself in `sleepers`, runs a seq_cst fence, and sleeps only if the head has not moved (and only
// while wake_word is still v: the futex compares). We move the head and wake_word (to w), fence, then read `wanted`:
// of the two fences one comes first, so either the subscriber sees our head or we see its `wanted` (or a higher
// value: `wanted` only rises). So `wanted >= w` means someone may be asleep waiting for this publication, and we
// make one futex wake of exactly one thread, whatever the number of subscribers; the woken subscriber wakes all the
// others (BridgeObject::SleepUntilPublished). Our cost per publication is one ring write and at most one wake of
// one thread; and a publication nobody newly waits for (`wanted < w`) costs no system call at all: the rest of a
// change's records, a flood while subscribers are busy reading, and every publication after a subscriber was
// stopped (SIGSTOP) or killed while asleep (its `wanted` stays behind; the first protocols counted it asleep
// forever and paid a syscall per publication for it). On Windows, where Wake cannot say whom it woke, a sleeper
// killed while asleep makes the heal below release one token per heal interval instead (os_windows.cpp).
//
// The heal: a subscriber we woke that dies (or is stopped) before it passes the wake on leaves the others asleep.
// So we remember our last wake that woke someone; while `forwarded` has not reached it and anyone is counted asleep,
// a publication at least heal_interval_ns_ later wakes one more thread, which passes it on. The interval keeps a
// change's three records, made microseconds apart while the woken subscriber is still getting up, from paying a
// syscall each. (Documented limit: the others then learn of that change at a publication after the interval.)
// The model checks both the heal and what breaks without it. A subscriber that moves wake_word itself
// (BridgeObject::WakeReader, on close) raises `wanted` past the value it makes first, so that its death between
// that move and its wake of everyone is covered the same way (the model's "close" scenario).
//
// Why not a flag a publication takes (the first design): a flag set by subscribers going to sleep on the value a
// publication has just made can be taken by that same publication, whose wake then finds nothing new; the next one
// finds the flag down and wakes no one. `wanted` is a value, so a late arm for an old value cannot hide a new one.
// (A stopped subscriber is not in the futex queue: the kernel takes it out to stop it and puts it back on SIGCONT,
// so it cannot swallow a wake.)
void Writer::WakeSubscribers() noexcept {
  const uint32_t word = header_->wake_word.fetch_add(1, std::memory_order_release) + 1;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!wakes_) return;
  // Signed differences: the words wrap. They are the region's (untrusted): a bad value costs syscalls, or (lowered
  // by another process of the user) delays wake-ups as stopping us would; never a crash or a spin here.
  bool wake = static_cast<int32_t>(header_->wanted.load(std::memory_order_relaxed) - word) >= 0;
  if (!wake && owed_) {
    if (static_cast<int32_t>(header_->forwarded.load(std::memory_order_relaxed) - owed_word_) >= 0) {
      owed_ = false;  // passed on
    } else if (header_->sleepers.load(std::memory_order_relaxed) != 0 &&
               static_cast<int64_t>(MonotonicNs() - owed_since_ns_) >= heal_interval_ns_) {
      wake = true;
    }
  }
  if (!wake) return;
  wake_calls_.fetch_add(1, std::memory_order_relaxed);
  const int woken = wakes_->Wake(&header_->wake_word, 1);
  // A wake that found nobody queued owes no one a fan-out: anyone asleep now went to sleep after it, on a value that
  // a later publication's `wanted` covers. (-1: the OS does not say; assume someone.)
  owed_ = woken != 0;
  if (owed_) {
    owed_word_ = word;
    owed_since_ns_ = static_cast<int64_t>(MonotonicNs());
  }
}

void Writer::Stop() noexcept {
  header_->status.store(kStatusStopped, std::memory_order_release);
  header_->wake_word.fetch_add(1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (wakes_) wakes_->Wake(&header_->wake_word, -1);  // everyone, at once: this happens once
}

}  // namespace channel
}  // namespace mapioffline
