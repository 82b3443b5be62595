#include "fork_generation.h"

#include <atomic>

#if !defined(_WIN32)
#include <pthread.h>
#endif

namespace mapioffline {

namespace {

std::atomic<uint32_t> g_generation{0};

#if !defined(_WIN32)
// Runs in the child, which has a single thread at that point: relaxed is enough, later threads start after it.
void MoveOnInChild() { g_generation.fetch_add(1, std::memory_order_relaxed); }

// Registered while the library loads, before any of our threads exists (a handler added later would miss forks).
[[maybe_unused]] const int g_registered = pthread_atfork(nullptr, nullptr, MoveOnInChild);
#endif

}  // namespace

uint32_t ForkGeneration() noexcept { return g_generation.load(std::memory_order_relaxed); }

}  // namespace mapioffline
