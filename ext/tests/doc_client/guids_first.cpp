// A client's GUID definitions, the first way Microsoft's samples write them: INITGUID defined before the headers,
// then DEFINE_GUID with the values from the documentation. These definitions meet the library's own in one link.
#define INITGUID
#include "mapioffline/mapioffline.h"

DEFINE_GUID(IID_IMAPIOffline, 0x000672B5, 0x0000, 0x0000, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46);
DEFINE_GUID(IID_IMAPIOfflineMgr, 0x42175607, 0xFF3E, 0x4790, 0xBC, 0x18, 0x66, 0xC8, 0x64, 0x3E, 0x64, 0x24);
