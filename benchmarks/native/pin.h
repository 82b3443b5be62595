// Thread pinning for the multi-threaded harness. Pinning keeps a producer and the consumer on different cores
// when there are enough of them, so cache-line transfers between them are measured rather than migrations.
#pragma once
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace mapioffline_bench {

// CPUs this process may run on (the affinity mask, which a container may restrict), in ascending order.
inline std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
  }
#endif
  return cpus;
}

// Pins the calling thread to the `slot`-th allowed CPU (modulo their number). False when pinning is unavailable;
// the benchmark then runs unpinned, which is still correct, only noisier.
inline bool PinCurrentThread(int slot) {
#if defined(__linux__)
  static const std::vector<int> cpus = AllowedCpus();
  if (cpus.empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[static_cast<size_t>(slot) % cpus.size()], &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#else
  (void)slot;
  return false;
#endif
}

}  // namespace mapioffline_bench
