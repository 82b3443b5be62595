// Involuntary context switches of the calling thread (Linux: getrusage(RUSAGE_THREAD).ru_nivcsw; 0 elsewhere).
// The benchmarks report them per round: a pinned thread on an otherwise idle core is never preempted, so a
// non-zero count in the 1-producer scenario says that something else ran on our cores and the figure is suspect
// (on a shared 2-core machine other processes' bursts do exactly that).
#pragma once
#include <cstdint>

#if defined(__linux__)
#include <sys/resource.h>
#endif

namespace mapioffline_bench {

inline uint64_t ThreadPreemptions() noexcept {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) return static_cast<uint64_t>(ru.ru_nivcsw);
#endif
  return 0;
}

}  // namespace mapioffline_bench
