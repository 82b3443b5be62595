// The subscriber's side of a channel, platform-neutral: validates a region once, then reads the state and the
// broadcast ring with its own cursor. The region is untrusted input (any process of the user can write it): the
// geometry is copied out once validated and never re-read, every index is masked, and a value that an honest
// publisher cannot produce is reported as MAPIOFFLINE_E_CHANNEL_CORRUPT, never followed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "channel/layout.h"

namespace mapioffline {
namespace channel {

class Reader {
 public:
  // Validates the region at `base` (`size` bytes mapped) as a live channel for `folded`; the cursor starts at the
  // current head (a new reader sees what is published from now on). MAPI_E_NOT_FOUND while the publisher is still
  // starting or after it stopped; MAPIOFFLINE_E_CHANNEL_CORRUPT for anything else that does not check out.
  HRESULT Attach(void *base, uint64_t size, const std::u16string &folded) noexcept;

  // Copies up to `max` records published since the last call into out[]. *dropped (added to) counts records the
  // publisher overwrote before we read them; every one of them was published before the first record this call
  // returns (or, when it returns none, the first one a later call returns): a call stops at a loss that follows
  // a record it took, so the records it returns are consecutive. Returns the count, or -1 if the region is
  // corrupt (then the reader is done).
  long Read(MAPIOFFLINE_RECORD *out, size_t max, uint64_t *dropped) noexcept;
  // True when the head moved past the cursor (something to Read, or a corruption Read will report).
  bool Pending() const noexcept { return header_->head.load(std::memory_order_acquire) != cursor_; }

  Header *header() const noexcept { return header_; }
  uint32_t State() const noexcept { return header_->state.load(std::memory_order_acquire); }
  uint32_t Status() const noexcept { return header_->status.load(std::memory_order_acquire); }
  uint64_t Cursor() const noexcept { return cursor_; }

  // Copies of the identity, taken (and checked) at Attach.
  uint32_t capabilities() const noexcept { return capabilities_; }
  bool allow_set_state() const noexcept { return (flags_ & kFlagAllowSetState) != 0; }
  uint32_t publisher_pid() const noexcept { return publisher_pid_; }
  uint64_t publisher_start() const noexcept { return publisher_start_; }
  uint32_t capacity() const noexcept { return static_cast<uint32_t>(mask_ + 1); }

 private:
  Header *header_ = nullptr;
  const Cell *cells_ = nullptr;
  uint64_t mask_ = 0;
  uint64_t cursor_ = 0;
  uint32_t capabilities_ = 0;
  uint32_t flags_ = 0;
  uint32_t publisher_pid_ = 0;
  uint64_t publisher_start_ = 0;
  bool corrupt_ = false;
};

}  // namespace channel
}  // namespace mapioffline
