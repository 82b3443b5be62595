/* Which macros our header leaves behind, and the HROPENOFFLINEOBJ typedef, checked in C: there windows.h adds nothing of its own here (in C++,
 * mingw-w64's libstdc++ defines NOMINMAX whatever we do). */
#include "mapioffline/mapioffline.h"

#if defined(WIN32_LEAN_AND_MEAN) || defined(NOMINMAX)
#error "mapioffline.h defined WIN32_LEAN_AND_MEAN or NOMINMAX for the client"
#endif
#ifdef _WIN32
/* windows.h came in whole, as the client's own #include would have made it. */
#if !defined(min) || !defined(max)
#error "windows.h was included as if NOMINMAX were defined"
#endif
#include <windows.h>
#else
#if defined(min) || defined(max) || defined(interface) || defined(FAR)
#error "mapioffline.h leaked a Windows macro off Windows"
#endif
#endif

/* C's view of the typedef: the embedded object is assignable to HROPENOFFLINEOBJ* (an incompatible pointer would
 * warn, and -Werror makes that fail the build). */
int doc_client_macros_checked(void) {
  HROPENOFFLINEOBJ *open = mapioffline_open_embedded;
  return open != NULL;
}
