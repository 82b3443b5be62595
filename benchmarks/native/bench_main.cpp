// Entry point of mapioffline_bench; the benchmarks register themselves from bench_*.cpp.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
