// MAPI's own headers before ours (mingw-w64 ships mapix.h / mapicode.h): built with -Werror, no redefinitions.
#include <windows.h>
#include <mapix.h>
#include <mapicode.h>

#include "mapioffline/mapioffline.h"

extern "C" HRESULT doc_client_mapi_before_not_found(void) { return MAPI_E_NOT_FOUND; }
