// IID_IMAPIOffline alone in its translation unit (see guid_definition.h for why).
#include "guid_definition.h"

MAPIOFFLINE_LIBRARY_GUID(IID_IMAPIOffline);
