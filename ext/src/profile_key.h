// What a profile name may be, and the key it is known by.
//
// The rule, checked here only (every function of the C API that takes a profile name calls ProfileNameError, and the
// Python layer asks mapioffline_profile_name_error before any of them): 1 to kMaxProfileNameUnits UTF-16 code
// units, with no unpaired surrogate. A MAPI profile is a registry key (...\Outlook\Profiles\<name>), and registry
// key names have at most 255 characters, so every profile Outlook can create fits; a name that is not text (an
// unpaired surrogate, as Python makes of command-line bytes that are not valid UTF-8) names no profile.
//
// The key: case-folded as Outlook compares profile names (ASCII, Latin-1, Greek and Cyrillic capitals, which covers
// the names Outlook creates; other scripts compare exactly). Profile names are registry key names, hence
// case-insensitive. Shared by the embedded object's registry and the bridge channel's region names, so that "Work"
// and "WORK" find the same object in this process and the same channel across processes.
#pragma once
#include <cstddef>
#include <string>

#include "mapioffline/mapioffline.h"

namespace mapioffline {

inline constexpr size_t kMaxProfileNameUnits = MAPIOFFLINE_MAX_PROFILE_NAME;

// NULL when `name` is a valid profile name, else why not (static storage, no name quoted). Reads at most
// kMaxProfileNameUnits + 1 units of `name`.
const char *ProfileNameError(const WCHAR *name) noexcept;

// `name` must be valid (ProfileNameError). Throws std::bad_alloc.
std::u16string FoldProfileName(const WCHAR *name);

}  // namespace mapioffline
