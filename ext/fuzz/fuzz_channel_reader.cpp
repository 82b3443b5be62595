// libFuzzer target: the bridge subscriber's reading of a channel region (channel::Reader), the part of the bridge
// that parses memory another process controls. Build and run with ext/fuzz/run_channel.
//
// Input layout:
//   byte 0        mode: bit 0 set = start from a valid identity (capacity from byte 1) so that runs get past
//                 Attach and exercise Read; clear = the raw bytes are the header, identity included
//   byte 1        log2 of the ring capacity for mode 1 (taken modulo 8, plus 1: 2..256 cells)
//   bytes 2..3    L, the length of the image that follows (little-endian; cut to what the input has)
//   next L bytes  the region image (zero-padded to the mapped size)
//   the rest      12-byte hostile writes: u32 offset (modulo the mapped size, 8-aligned), u64 value, each followed
//                 by one Read: what a writer racing the reader could do between two reads.
// Properties checked: no crash, no sanitizer report, every Read returns (bounded loop), never more records than
// asked for, and once Read reports corruption it keeps reporting it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "channel/layout.h"
#include "channel/reader.h"

namespace ch = mapioffline::channel;

namespace {

const std::u16string &Folded() {
  static const std::u16string name = u"fuzz";
  return name;
}

void ValidIdentity(ch::Header *h, uint32_t capacity) {
  h->magic = ch::kMagic;
  h->version = ch::kLayoutVersion;
  h->header_size = sizeof(ch::Header);
  h->cell_size = sizeof(ch::Cell);
  h->ring_capacity = capacity;
  h->ring_offset = sizeof(ch::Header);
  h->region_size = ch::RegionSize(capacity);
  h->profile_units = static_cast<uint32_t>(Folded().size());
  for (size_t i = 0; i < Folded().size(); ++i) h->profile[i] = static_cast<uint16_t>(Folded()[i]);
  h->status.store(ch::kStatusLive, std::memory_order_relaxed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  const bool valid_identity = (data[0] & 1) != 0;
  const uint32_t capacity = 2u << (data[1] % 8);
  const size_t declared = static_cast<size_t>(data[2]) | (static_cast<size_t>(data[3]) << 8);
  // The mapped size: what the OS layer would have mapped (the file's size), here the image's own length, at
  // least the header so that the reader's view is as large as a real mapping that passed Region::Open.
  const size_t image_len = declared < size - 4 ? declared : size - 4;
  const uint64_t mapped = valid_identity ? ch::RegionSize(capacity)
                                         : (image_len < sizeof(ch::Header) ? sizeof(ch::Header) : image_len);
  // 64-byte aligned, like a mapping.
  std::vector<uint64_t> storage(static_cast<size_t>(mapped / 8 + 16), 0);
  char *base = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(storage.data()) + 63) & ~uintptr_t(63));
  const size_t copied = image_len < mapped ? image_len : static_cast<size_t>(mapped);
  std::memcpy(base, data + 4, copied);
  auto *header = reinterpret_cast<ch::Header *>(base);
  if (valid_identity) ValidIdentity(header, capacity);

  ch::Reader reader;
  if (FAILED(reader.Attach(base, mapped, Folded()))) return 0;
  (void)reader.State();
  (void)reader.Pending();

  MAPIOFFLINE_RECORD out[8];
  uint64_t dropped = 0;
  bool corrupt = false;
  auto read_once = [&] {
    const long n = reader.Read(out, 8, &dropped);
    if (n > 8) abort();                   // never more than asked for
    if (corrupt && n != -1) abort();      // corruption is final
    if (n == -1) corrupt = true;
  };
  read_once();
  // Hostile writes from what is left of the input after the image (none if the image used it all).
  const uint8_t *ops = data + 4 + image_len;
  size_t left = size - 4 - image_len;
  for (; left >= 12; ops += 12, left -= 12) {
    uint32_t offset;
    uint64_t value;
    std::memcpy(&offset, ops, 4);
    std::memcpy(&value, ops + 4, 8);
    offset = static_cast<uint32_t>((offset % (mapped / 8)) * 8);
    std::memcpy(base + offset, &value, 8);
    read_once();
  }
  return 0;
}
