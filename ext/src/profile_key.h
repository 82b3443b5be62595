// The key a profile name is known by: case-folded as Outlook compares profile names (ASCII, Latin-1, Greek and
// Cyrillic capitals, which covers the names Outlook creates; other scripts compare exactly). Profile names are
// registry key names, hence case-insensitive. Shared by the embedded object's registry and the bridge channel's region names, so that
// "Work" and "WORK" find the same object in this process and the same channel across processes.
#pragma once
#include <string>

#include "mapioffline/mapioffline.h"

namespace mapioffline {

// Throws std::bad_alloc.
std::u16string FoldProfileName(const WCHAR *name);

}  // namespace mapioffline
