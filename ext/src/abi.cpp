// The ABI's data: GUIDs (spec §1), defined once here; the version; the live-object counters.
#include "mapioffline/mapioffline.h"
#include "live_counters.h"

#if !MAPIOFFLINE_HAVE_SYSTEM_COM
// On Windows IID_IUnknown comes from the system's uuid library.
extern "C" const IID IID_IUnknown = {0x00000000, 0x0000, 0x0000, {0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};
#endif
extern "C" const IID IID_IMAPIOffline = {0x000672B5, 0x0000, 0x0000,
                                         {0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};
extern "C" const IID IID_IMAPIOfflineMgr = {0x42175607, 0xFF3E, 0x4790,
                                            {0xBC, 0x18, 0x66, 0xC8, 0x64, 0x3E, 0x64, 0x24}};
extern "C" const IID IID_IMAPIOfflineNotify = {0x0317BDE5, 0xFC29, 0x44CD,
                                               {0x8D, 0xCD, 0x36, 0x12, 0x5A, 0x3B, 0xE9, 0xEC}};
extern "C" const GUID GUID_GlobalState = {0xFBEFFD93, 0xB11F, 0x4094,
                                          {0x84, 0x2B, 0x96, 0xDC, 0xD3, 0x1E, 0x63, 0xD1}};

namespace mapioffline {

std::atomic<long> &LiveSinks() noexcept {
  static std::atomic<long> count{0};
  return count;
}

std::atomic<long> &LiveOfflineObjects() noexcept {
  static std::atomic<long> count{0};
  return count;
}

}  // namespace mapioffline

extern "C" const char *mapioffline_version(void) { return MAPIOFFLINE_VERSION_STRING; }
extern "C" long mapioffline_live_sinks(void) { return mapioffline::LiveSinks().load(std::memory_order_relaxed); }
extern "C" long mapioffline_live_offline_objects(void) {
  return mapioffline::LiveOfflineObjects().load(std::memory_order_relaxed);
}
