/*
 * mapioffline.h -- the Outlook Offline State API ABI and the mapioffline C API, in one include:
 *   mapioffline/abi.h     the ABI (COM types, constants, GUIDs, structures, interfaces, HROPENOFFLINEOBJ)
 *   mapioffline/api.h     native sinks, the embedded offline object, Outlook's loader, counters
 *   mapioffline/bridge.h  the bridge channel: publisher and bridge object
 * The test pump and probe are in mapioffline/testing.h, which this header does not include.
 *
 * abi.h is included on every inclusion, not only the first: its DEFINE_GUID part is outside its include guard on
 * purpose (the INITGUID pattern, see there).
 */
#include "mapioffline/abi.h"

#ifndef MAPIOFFLINE_MAPIOFFLINE_H
#define MAPIOFFLINE_MAPIOFFLINE_H
#include "mapioffline/api.h"
#include "mapioffline/bridge.h"
#endif /* MAPIOFFLINE_MAPIOFFLINE_H */
