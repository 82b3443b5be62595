// IID_IUnknown alone in its translation unit (see guid_definition.h for why), off Windows only: there it comes from the system uuid library.
#include "guid_definition.h"

#if !MAPIOFFLINE_HAVE_SYSTEM_COM
MAPIOFFLINE_LIBRARY_GUID(IID_IUnknown);
#endif
