// Allocation counting for the benchmark binaries: alloc_counter.cpp replaces the global operator new/delete and,
// on glibc, interposes malloc/calloc/realloc/memalign, so every heap allocation made by any code in the process
// (our sink, the peer queues, libstdc++, Google Benchmark) bumps these counters.
//
// Counts are per thread: a producer reads ThreadAllocs() before and after its Notify loop, and the difference is
// exactly what its Notify calls allocated, whatever the consumer or the framework does meanwhile.
#pragma once
#include <cstdint>

namespace mapioffline_bench {

// Allocations made so far by the calling thread (operator new, new[], malloc, calloc, realloc, aligned forms).
uint64_t ThreadAllocs() noexcept;
// Allocations made so far by every thread.
uint64_t TotalAllocs() noexcept;
// True when C-level malloc is counted too (glibc interposition), not only operator new.
bool CountsMalloc() noexcept;
// For allocators that bypass both (moodycamel's Traits::malloc is routed here by its adapter).
void CountAlloc() noexcept;

}  // namespace mapioffline_bench
