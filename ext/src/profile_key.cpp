#include "profile_key.h"

namespace mapioffline {

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
