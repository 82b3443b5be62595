// MAPI's own headers after ours: our header must not have defined anything they define differently.
#include "mapioffline/mapioffline.h"

#include <mapicode.h>
#include <mapix.h>

extern "C" HRESULT doc_client_mapi_after_no_support(void) { return MAPI_E_NO_SUPPORT; }
