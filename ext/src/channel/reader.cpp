#include "channel/reader.h"

#include <cstring>

namespace mapioffline {
namespace channel {

HRESULT Reader::Attach(void *base, uint64_t size, const std::u16string &folded) noexcept {
  header_ = nullptr;
  if (!base || size < sizeof(Header)) return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  Header *h = static_cast<Header *>(base);
  // The status first (acquire): the publisher stores kStatusLive last, after the identity.
  const uint32_t status = h->status.load(std::memory_order_acquire);
  if (status != kStatusLive) {
    return status == 0 || status == kStatusStopped ? MAPI_E_NOT_FOUND : MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  // Copy the identity once, through volatile reads so that the compiler cannot fetch a field again after it was
  // checked (another process may change it in between); everything below uses the copies.
  const volatile Header *v = h;
  const uint32_t magic = v->magic, version = v->version, header_size = v->header_size, cell_size = v->cell_size;
  const uint32_t capacity = v->ring_capacity, ring_offset = v->ring_offset, units = v->profile_units;
  const uint64_t region_size = v->region_size;
  if (magic != kMagic || version != kLayoutVersion || header_size != sizeof(Header) || cell_size != sizeof(Cell) ||
      ring_offset != sizeof(Header)) {
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  if (capacity < kMinRingCapacity || capacity > kMaxRingCapacity || (capacity & (capacity - 1)) != 0 ||
      region_size != RegionSize(capacity) || region_size > size) {
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  if (units != folded.size() || units > kMaxProfileUnits) return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  for (uint32_t i = 0; i < units; ++i) {
    if (v->profile[i] != static_cast<uint16_t>(folded[i])) return MAPIOFFLINE_E_CHANNEL_CORRUPT;  // hash collision
  }
  capabilities_ = v->capabilities;
  flags_ = v->flags;
  publisher_pid_ = v->publisher_pid;
  publisher_start_ = v->publisher_start;
  mask_ = capacity - 1;
  cells_ = CellsOf(h);
  cursor_ = h->head.load(std::memory_order_acquire);
  corrupt_ = false;
  header_ = h;
  return S_OK;
}

long Reader::Read(MAPIOFFLINE_RECORD *out, size_t max, uint64_t *dropped) noexcept {
  if (corrupt_ || !header_) return -1;
  const uint64_t capacity = mask_ + 1;
  size_t n = 0;
  // Each pass returns a record, skips at least one lost record, or ends: at most max + capacity + 1 passes even
  // if a hostile writer keeps moving the head, so a Read always returns.
  for (uint64_t budget = max + capacity + 1; n < max && budget > 0; --budget) {
    const uint64_t head = header_->head.load(std::memory_order_acquire);
    if (head == cursor_) break;
    if (head < cursor_) {  // an honest head never goes back within one region
      corrupt_ = true;
      return -1;
    }
    if (head - cursor_ > capacity) {  // lapped: the oldest records were overwritten before we came
      if (n > 0) break;  // the loss belongs to the record after it: the next call reports it before that record
      const uint64_t resume = head - capacity;
      *dropped += resume - cursor_;
      cursor_ = resume;
    }
    const Cell &cell = cells_[cursor_ & mask_];
    const uint64_t expected = 2 * (cursor_ + 1);
    // Seqlock read (pairs with Writer::Publish): acquire on the first load orders the word loads after it; the
    // acquire fence orders them before the second load, so equal sequences mean the words are record cursor_.
    const uint64_t s1 = cell.seq.load(std::memory_order_acquire);
    uint64_t words[4];
    for (int i = 0; i < 4; ++i) words[i] = cell.words[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint64_t s2 = cell.seq.load(std::memory_order_relaxed);
    if (s1 == expected && s2 == expected) {
      std::memcpy(&out[n++], words, sizeof words);
      ++cursor_;
      continue;
    }
    if (s1 < expected) {  // the head claims a record that was never written (honest writers fill it first)
      corrupt_ = true;
      return -1;
    }
    // Rewritten (or being rewritten) for a later lap while we read: record cursor_ is lost; count it, go on (or,
    // with records taken already, leave it to the next call, as above).
    if (n > 0) break;
    *dropped += 1;
    ++cursor_;
  }
  return static_cast<long>(n);
}

}  // namespace channel
}  // namespace mapioffline
