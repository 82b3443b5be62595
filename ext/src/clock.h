// Monotonic clock shared by the sink's timestamps and Python's time.perf_counter_ns().
#pragma once
#include <cstdint>

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

namespace mapioffline {

#if defined(_WIN32)
// perf_counter_ns() on Windows is QueryPerformanceCounter scaled to ns; do the same scaling so the two agree.
inline uint64_t MonotonicNs() noexcept {
  static const uint64_t frequency = [] {
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return static_cast<uint64_t>(f.QuadPart);
  }();
  // The usual 10 MHz counter divides 1e9: one multiplication, exact, instead of two divisions on the hot path.
  static const uint64_t ns_per_tick = 1000000000ull % frequency == 0 ? 1000000000ull / frequency : 0;
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  const uint64_t ticks = static_cast<uint64_t>(c.QuadPart);
  if (ns_per_tick != 0) return ticks * ns_per_tick;
  // Split to avoid overflowing 64 bits for long uptimes.
  return (ticks / frequency) * 1000000000ull + (ticks % frequency) * 1000000000ull / frequency;
}
#else
// CLOCK_MONOTONIC is what perf_counter_ns() reads on Linux and macOS; on Linux it is a vDSO call, no syscall.
inline uint64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
#endif

}  // namespace mapioffline
