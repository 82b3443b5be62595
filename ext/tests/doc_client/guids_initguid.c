/* A client's GUID definitions, the second way (and in C): the headers first, then <initguid.h> switches DEFINE_GUID
 * to defining. Off Windows there is no <initguid.h>; defining INITGUID and including our header again does the
 * same (its DEFINE_GUID sits outside the include guard, as guiddef.h's does). */
#include "mapioffline/mapioffline.h"

#ifdef _WIN32
#include <initguid.h>
#else
#define INITGUID
#include "mapioffline/mapioffline.h"
#endif

DEFINE_GUID(IID_IMAPIOfflineNotify, 0x0317BDE5, 0xFC29, 0x44CD, 0x8D, 0xCD, 0x36, 0x12, 0x5A, 0x3B, 0xE9, 0xEC);
DEFINE_GUID(GUID_GlobalState, 0xFBEFFD93, 0xB11F, 0x4094, 0x84, 0x2B, 0x96, 0xDC, 0xD3, 0x1E, 0x63, 0xD1);

/* Reached from the C++ side, so the linker must keep this object and its definitions. */
const GUID *doc_client_c_global_state(void) { return &GUID_GlobalState; }
