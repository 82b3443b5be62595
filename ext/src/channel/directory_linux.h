// The user's channel directory on Linux (os_linux.cpp), as the channel's watches (watch_linux.cpp) need it.
#pragma once
#if defined(__linux__)
#include <string>

#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace channel {

// The name of a profile's locator in the channel directory ("profile-<hash>").
std::string LocatorName(const std::u16string &folded);

// Opens the user's channel directory (create: making it, mode 0700, if it is missing), checked: a directory, not
// a symbolic link, this user's, closed to group and others. Returns its descriptor (O_RDONLY: openat, flock,
// fdopendir) and its path. MAPI_E_NOT_FOUND when it does not exist (and create is false);
// MAPIOFFLINE_E_ACCESS_DENIED, naming the owner, for anything else in its place.
HRESULT ChannelDirectory(bool create, int *out, std::string *path, const char **detail);

}  // namespace channel
}  // namespace mapioffline
#endif
