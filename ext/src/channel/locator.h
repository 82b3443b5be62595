// The locator: all that the Linux channel's name (/dev/shm/mapioffline-u<uid>-<hash>) holds. The ring itself is a
// sealed memfd of the publisher process (os_linux.cpp says why); the locator says where to find it: the publisher's
// pid and start time, the memfd's descriptor number in that process, and the ring's size.
//
// Any process of the user can write the name, so subscribers read the locator with pread as untrusted bytes, and
// DecodeLocator is a pure function of those bytes (no system call: the fuzzer in ext/fuzz/fuzz_channel_reader.cpp
// drives it directly). Platform-neutral on purpose, although only the Linux layer uses it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "channel/layout.h"
#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace channel {

inline constexpr uint32_t kLocatorMagic = 0x434C4F4Du;  // "MOLC" in memory order
inline constexpr uint32_t kLocatorVersion = 1;

// The bytes under the name: fixed widths and offsets, little-endian like the region (layout.h). 32 bytes.
struct LocatorImage {
  uint32_t magic;
  uint32_t version;
  uint32_t publisher_pid;
  int32_t ring_fd;           // the memfd's descriptor number in the publisher process
  uint64_t publisher_start;  // the publisher's start time (/proc/<pid>/stat field 22): guards against pid reuse
  uint64_t region_size;      // the memfd's size, sealed: what subscribers map
};
static_assert(offsetof(LocatorImage, ring_fd) == 12 && offsetof(LocatorImage, publisher_start) == 16 &&
                  offsetof(LocatorImage, region_size) == 24 && sizeof(LocatorImage) == 32,
              "locator layout");

// A decoded locator: every field checked against what an honest publisher writes.
struct Locator {
  uint32_t pid = 0;
  uint64_t start = 0;
  int fd = -1;
  uint64_t region_size = 0;
};

inline LocatorImage EncodeLocator(const Locator &locator) noexcept {
  LocatorImage image;
  std::memset(&image, 0, sizeof image);
  image.magic = kLocatorMagic;
  image.version = kLocatorVersion;
  image.publisher_pid = locator.pid;
  image.ring_fd = static_cast<int32_t>(locator.fd);
  image.publisher_start = locator.start;
  image.region_size = locator.region_size;
  return image;
}

// `size` is the number of bytes read (the caller reads one more than a locator has, so that a longer file is seen).
// MAPIOFFLINE_E_CHANNEL_CORRUPT, with *detail, for anything an honest publisher cannot have written; *out is only
// written on success. Whether the process and the descriptor exist is the OS layer's business, not this one's.
inline HRESULT DecodeLocator(const void *bytes, size_t size, Locator *out, const char **detail) noexcept {
  if (size != sizeof(LocatorImage)) {
    *detail = size < sizeof(LocatorImage) ? "the channel's locator is truncated" : "the channel's locator is too long";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  LocatorImage image;
  std::memcpy(&image, bytes, sizeof image);  // no alignment assumed of the caller's buffer
  if (image.magic != kLocatorMagic || image.version != kLocatorVersion) {
    *detail = "the channel's locator has no valid magic and version";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  // Start time 0 would mean "any process of that pid" to ProcessAlive: an honest publisher always knows its own.
  if (image.publisher_pid == 0 || image.publisher_pid > 0x7FFFFFFFu || image.publisher_start == 0 ||
      image.ring_fd < 0) {
    *detail = "the channel's locator names no valid process and descriptor";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  // The bounds the mapping may have; the reader checks the exact geometry in the region's own header.
  if (image.region_size < sizeof(Header) || image.region_size > RegionSize(kMaxRingCapacity)) {
    *detail = "the channel's size is out of bounds";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  out->pid = image.publisher_pid;
  out->start = image.publisher_start;
  out->fd = image.ring_fd;
  out->region_size = image.region_size;
  return S_OK;
}

}  // namespace channel
}  // namespace mapioffline
