/* An olmapi32.dll without HrOpenOfflineObj, for the loader's "DLL found, export missing" path. */
int mapioffline_noexport_marker(void) { return 42; }
