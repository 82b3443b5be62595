// The stand-in olmapi32.dll has no code of its own: its .def file exports mapioffline_open_embedded (from the
// statically linked mapioffline_core) under Outlook's export name, HrOpenOfflineObj (x64) / HrOpenOfflineObj@20
// (x86). This translation unit only gives the SHARED library a source file.
#include "mapioffline/mapioffline.h"
