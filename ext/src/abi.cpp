// The ABI's data: the version and the live-object counters. The GUIDs live in guid_*.cpp, one per translation unit.
#include "mapioffline/mapioffline.h"
#include "live_counters.h"

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
