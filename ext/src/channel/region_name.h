// The platform-neutral part of a region's name: a 64-bit FNV-1a hash of the folded profile name, in hex. The OS
// layer adds the user (uid / SID) and its namespace prefix; the folded name itself is stored in the region, so a
// hash collision is detected (and refused) instead of joining another profile's channel.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mapioffline {
namespace channel {

inline std::string ProfileHash(const std::u16string &folded) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char16_t c : folded) {
    for (int shift = 0; shift < 16; shift += 8) {  // both bytes of each code unit, little-endian
      h ^= static_cast<uint8_t>(c >> shift);
      h *= 0x100000001b3ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

}  // namespace channel
}  // namespace mapioffline
