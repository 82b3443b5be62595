// Live-object counters: one relaxed atomic each, cheap enough to keep in release builds, read by leak tests.
#pragma once
#include <atomic>

namespace mapioffline {

std::atomic<long> &LiveSinks() noexcept;
std::atomic<long> &LiveOfflineObjects() noexcept;

}  // namespace mapioffline
