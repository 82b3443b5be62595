// How the library defines its GUIDs. Each sits in its own translation unit, so that a static-library client that
// defines a GUID itself (Microsoft's samples: INITGUID + DEFINE_GUID, or a hand-written definition) never pulls our
// object file for it; and each is selectany (weak off Windows), so that when both definitions do meet in one link
// (--whole-archive, the client's objects in an archive too) they merge instead of failing with "multiple
// definition". The limit, checked with mingw-w64: on Windows a hand-written definition without selectany (not
// DEFINE_GUID) beside ours under --whole-archive still clashes, since PE merges COMDAT (selectany) definitions only
// with each other. Off Windows a weak definition yields to any other. The values come from the header's
// MAPIOFFLINE_GUID_* lists.
#ifndef MAPIOFFLINE_SRC_GUID_DEFINITION_H
#define MAPIOFFLINE_SRC_GUID_DEFINITION_H

#include "mapioffline/mapioffline.h"

#define MAPIOFFLINE_LIBRARY_GUID_(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  extern "C" const GUID DECLSPEC_SELECTANY name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
// One more expansion, so that MAPIOFFLINE_GUID_<name> becomes the eleven arguments. The call to
// MAPIOFFLINE_LIBRARY_GUID_ is itself the argument of an identity macro: MSVC's traditional preprocessor (no
// /Zc:preprocessor) passes an expanded `value` on as ONE argument, and only the re-scan of ID's replacement splits
// it at its commas (without it: C4003 too few arguments, then C2059/C2447). Standard preprocessors split it either way.
#define MAPIOFFLINE_LIBRARY_GUID_ID(x) x
#define MAPIOFFLINE_LIBRARY_GUID_EXPAND(name, value) MAPIOFFLINE_LIBRARY_GUID_ID(MAPIOFFLINE_LIBRARY_GUID_(name, value))
#define MAPIOFFLINE_LIBRARY_GUID(name) MAPIOFFLINE_LIBRARY_GUID_EXPAND(name, MAPIOFFLINE_GUID_##name)

#endif  // MAPIOFFLINE_SRC_GUID_DEFINITION_H
