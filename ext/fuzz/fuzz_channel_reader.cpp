// libFuzzer target: the bridge subscriber's reading of what another process controls: a channel region
// (channel::Reader) and, on Linux, the locator under the channel's name (channel::DecodeLocator, locator.h). Build
// and run with ext/fuzz/run_channel.
//
// Input layout, locator mode (byte 0 bit 1 set):
//   byte 0        bit 2 set = a valid locator with some of its bytes overwritten (so that runs get past the magic
//                 and reach each field's check): byte 2 is where they start (modulo the locator's size), the rest
//                 are the bytes written; clear = the rest, from byte 2, is the locator (zero-padded)
//   byte 1        the length read from the file, modulo sizeof(LocatorImage) + 9 (a short, exact or long file)
// Properties checked: no crash, no sanitizer report; a refusal says why and leaves the output alone; an accepted
// locator is exactly what EncodeLocator writes for the fields decoded, and those fields are within their bounds.
//
// Input layout, region mode (byte 0 bit 1 clear):
//   byte 0        bit 0 set = start from a valid identity (capacity from byte 1) so that runs get past
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
#include "channel/locator.h"
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

int FuzzLocator(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  const size_t length = data[1] % (sizeof(ch::LocatorImage) + 9);
  uint8_t bytes[sizeof(ch::LocatorImage) + 8] = {};
  if (data[0] & 4) {
    ch::Locator valid;
    valid.pid = 1234;
    valid.start = 5678;
    valid.fd = 7;
    valid.region_size = ch::RegionSize(8);
    const ch::LocatorImage image = ch::EncodeLocator(valid);
    std::memcpy(bytes, &image, sizeof image);
  }
  size_t at = 0;
  const uint8_t *from = data + 2;
  size_t left = size - 2;
  if ((data[0] & 4) && left > 0) {
    at = from[0] % sizeof(ch::LocatorImage);
    ++from;
    --left;
  }
  for (size_t i = 0; i < left && at + i < sizeof bytes; ++i) bytes[at + i] = from[i];
  ch::Locator out;
  out.pid = 0xDEADu;  // a sentinel: a refusal must leave it
  const char *detail = nullptr;
  const HRESULT hr = ch::DecodeLocator(bytes, length, &out, &detail);
  if (FAILED(hr)) {
    if (hr != MAPIOFFLINE_E_CHANNEL_CORRUPT || detail == nullptr || out.pid != 0xDEADu) abort();
    return 0;
  }
  if (hr != S_OK || length != sizeof(ch::LocatorImage)) abort();
  if (out.pid == 0 || out.pid > 0x7FFFFFFFu || out.start == 0 || out.fd < 0 ||
      out.region_size < sizeof(ch::Header) || out.region_size > ch::RegionSize(ch::kMaxRingCapacity)) {
    abort();
  }
  const ch::LocatorImage again = ch::EncodeLocator(out);
  if (std::memcmp(&again, bytes, sizeof again) != 0) abort();  // nothing in an accepted locator goes unchecked
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 1 && (data[0] & 2)) return FuzzLocator(data, size);
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
