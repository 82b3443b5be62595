/* MAPI's headers after ours, in C. */
#include "mapioffline/mapioffline.h"

#include <mapix.h>

HRESULT doc_client_mapi_after_c_unknown_flags(void) { return MAPI_E_UNKNOWN_FLAGS; }
