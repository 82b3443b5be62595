// The price of individual steps of Sink::Notify's hot path on this machine, to read the ablations against:
// the timestamp (clock_gettime(CLOCK_MONOTONIC) via the vDSO, as mapioffline::MonotonicNs does) and cheaper
// clocks, and the seq_cst fence (mfence on x86) against a locked read-modify-write, which is also a full barrier
// on x86 and is how compilers/kernels often implement one more cheaply.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <ctime>

#include "clock.h"  // ext/src

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#if defined(_MSC_VER)
#include <intrin.h>  // __rdtsc (MSVC has no x86intrin.h)
#else
#include <x86intrin.h>
#endif
#endif

namespace mapioffline_bench {
namespace {

void BM_MonotonicNs(benchmark::State &state) {
  for (auto _ : state) benchmark::DoNotOptimize(mapioffline::MonotonicNs());
}
BENCHMARK(BM_MonotonicNs)->Name("steps/clock_monotonic");

#if defined(__linux__)  // a Linux clock
void BM_MonotonicCoarse(benchmark::State &state) {
  for (auto _ : state) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_MonotonicCoarse)->Name("steps/clock_monotonic_coarse");
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
void BM_Rdtsc(benchmark::State &state) {
  for (auto _ : state) benchmark::DoNotOptimize(__rdtsc());
}
BENCHMARK(BM_Rdtsc)->Name("steps/rdtsc");
#endif

std::atomic<uint64_t> g_word{0};

void BM_SeqCstFence(benchmark::State &state) {
  for (auto _ : state) {
    g_word.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    benchmark::DoNotOptimize(g_word.load(std::memory_order_relaxed));
  }
}
BENCHMARK(BM_SeqCstFence)->Name("steps/store_fence_load");

void BM_LockedRmw(benchmark::State &state) {
  for (auto _ : state) {
    g_word.store(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(g_word.fetch_add(0, std::memory_order_seq_cst));  // lock xadd: a full barrier on x86
  }
}
BENCHMARK(BM_LockedRmw)->Name("steps/store_lockedrmw");

void BM_NoFence(benchmark::State &state) {
  for (auto _ : state) {
    g_word.store(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(g_word.load(std::memory_order_relaxed));
  }
}
BENCHMARK(BM_NoFence)->Name("steps/store_load");

}  // namespace
}  // namespace mapioffline_bench
