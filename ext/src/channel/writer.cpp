#include "channel/writer.h"

#include <cstring>

#include "channel/os.h"

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
  }
  WakeSubscribers();
}

// The wake protocol (checked exhaustively, fences and all, by wake_protocol_model.py beside this file). A subscriber
// about to sleep reads wake_word, counts itself in `sleepers`, runs a seq_cst fence, and sleeps only if the head
// has not moved (and only while wake_word still has the value it read: the futex compares). We move the head and
// wake_word, fence, then read `sleepers`: of the two fences one comes first, so either the subscriber sees our
// head or we see it counted. A publication that finds anyone counted makes one futex wake of exactly one thread,
// whatever the number of subscribers; the woken subscriber wakes all the others (BridgeObject::
// SleepUntilPublished). So our cost per publication is one ring write and at most one wake of one thread.
//
// Why a count and not a flag that a publication takes (the first design): a flag set by subscribers going to
// sleep on the value a publication has just made can be taken by that same publication, whose wake then finds
// nothing new; the next publication finds the flag down and wakes no one, and a subscriber sleeps through it
// (the model's trace). A count stays up while anyone sleeps. It also heals a subscriber killed between being
// woken and passing the wake on: its count stays, so the next publication wakes another one, which passes it on.
// The price: a publication made while a woken subscriber has not yet uncounted itself pays a syscall that wakes no
// one (cheap: the futex queue is empty), and a subscriber killed while counted makes every later publication pay
// one. (A stopped subscriber, SIGSTOP or Ctrl-Z, is not in the futex queue: the kernel takes it out to stop it and
// puts it back on SIGCONT, so it cannot swallow a wake.)
void Writer::WakeSubscribers() noexcept {
  header_->wake_word.fetch_add(1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!wakes_ || header_->sleepers.load(std::memory_order_relaxed) == 0) return;
  wake_calls_.fetch_add(1, std::memory_order_relaxed);
  wakes_->Wake(&header_->wake_word, 1);
}

void Writer::Stop() noexcept {
  header_->status.store(kStatusStopped, std::memory_order_release);
  header_->wake_word.fetch_add(1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (wakes_) wakes_->Wake(&header_->wake_word, -1);  // everyone, at once: this happens once
}

}  // namespace channel
}  // namespace mapioffline
