// A client that asks for NOMINMAX before our header gets no min/max macros (we include windows.h as it asked), and
// std::min stays usable.
#define NOMINMAX
#include "mapioffline/mapioffline.h"

#include <algorithm>

#if defined(min) || defined(max)
#error "min/max are macros although the client defined NOMINMAX"
#endif

extern "C" ULONG doc_client_smaller(ULONG a, ULONG b) { return std::min(a, b); }
