#include "profile_key.h"

namespace mapioffline {

static_assert(kMaxProfileNameUnits == 255, "ProfileNameError's message says 255");

const char *ProfileNameError(const WCHAR *name) noexcept {
  if (!name || !name[0]) return "a profile name must not be empty";
  size_t units = 0;
  for (const WCHAR *p = name; *p; ++p) {
    if (++units > kMaxProfileNameUnits) return "a profile name has at most 255 UTF-16 code units";
    const char16_t c = static_cast<char16_t>(*p);
    if (c >= 0xD800 && c <= 0xDBFF) {  // a high surrogate: the next unit must be a low one
      const char16_t next = static_cast<char16_t>(p[1]);
      if (next < 0xDC00 || next > 0xDFFF) return "a profile name must be text: it has an unpaired surrogate";
      ++p;
      if (++units > kMaxProfileNameUnits) return "a profile name has at most 255 UTF-16 code units";
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      return "a profile name must be text: it has an unpaired surrogate";
    }
  }
  return nullptr;
}

std::u16string FoldProfileName(const WCHAR *name) {
  std::u16string key;
  for (const WCHAR *p = name; *p; ++p) {
    char16_t c = static_cast<char16_t>(*p);
    if ((c >= u'A' && c <= u'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
        (c >= 0x410 && c <= 0x42F)) {
      c = static_cast<char16_t>(c + 0x20);
    } else if (c >= 0x400 && c <= 0x40F) {
      c = static_cast<char16_t>(c + 0x50);
    }
    key.push_back(c);
  }
  return key;
}

}  // namespace mapioffline
