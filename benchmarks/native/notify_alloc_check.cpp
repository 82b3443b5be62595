// notify_alloc_check: exits 0 only if no heap allocation happens inside our sink's Notify, on every path:
//   room     1,000,000 Notify calls with room in the ring (drained between blocks, drains not counted)
//   full     Notify into a full ring (the drop path)
//   fd       Notify taking the "make the descriptor readable" bit (fileno enabled, ring drained to empty first)
//   threads  2 producer threads x 500,000 while a consumer sleeps in mapioffline_sink_wait (futex wake path)
//   closed   Notify after mapioffline_sink_close
//   invalid  NULL and short records
// Allocations are counted per thread by the replaced operator new / interposed malloc (alloc_counter.cpp), and
// only across Notify calls: creating the sink, popping and waiting may allocate, they are not under test.
// A positive control first proves that the counter sees operator new and malloc at all.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "mapioffline/mapioffline.h"
#include "record_check.h"

using mapioffline_bench::MakeRecord;
using mapioffline_bench::ThreadAllocs;

namespace {

int g_failures = 0;

void Report(const char *phase, uint64_t calls, uint64_t allocs) {
  std::printf("%-8s %9llu Notify calls, %llu allocations\n", phase, static_cast<unsigned long long>(calls),
              static_cast<unsigned long long>(allocs));
  if (allocs != 0) ++g_failures;
}

void Require(bool ok, const char *what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++g_failures;
  }
}

// Calls Notify `n` times on this thread, returns the allocations they made.
uint64_t NotifyCounted(IMAPIOfflineNotify *sink, ULONG producer, uint32_t &seq, uint64_t n) {
  const uint64_t a0 = ThreadAllocs();
  for (uint64_t i = 0; i < n; ++i) {
    const MAPIOFFLINE_NOTIFY rec = MakeRecord(producer, seq++);
    sink->Notify(&rec);  // through the vtable
  }
  return ThreadAllocs() - a0;
}

void Drain(IMAPIOfflineNotify *sink) {
  static MAPIOFFLINE_RECORD buf[256];
  while (mapioffline_sink_pop_batch(sink, buf, 256, nullptr) != 0) {
  }
}

bool CounterWorks() {
  const uint64_t a0 = ThreadAllocs();
  int *volatile p = new int(1);
  delete p;
  const uint64_t a1 = ThreadAllocs();
  void *volatile m = std::malloc(16);
  std::free(m);
  const uint64_t a2 = ThreadAllocs();
  const bool new_ok = a1 - a0 == 1;
  const bool malloc_ok = !mapioffline_bench::CountsMalloc() || a2 - a1 == 1;
  std::printf("control  operator new counted: %s, malloc counted: %s\n", new_ok ? "yes" : "NO",
              mapioffline_bench::CountsMalloc() ? (malloc_ok ? "yes" : "NO") : "not interposed on this libc");
  return new_ok && malloc_ok;
}

}  // namespace

int main() {
  if (!CounterWorks()) {
    std::printf("notify_alloc_check: the allocation counter does not work; nothing proven\n");
    return 2;
  }
  IMAPIOfflineNotify *sink = nullptr;
  if (FAILED(mapioffline_sink_create(4096, &sink))) return 2;
  uint32_t seq = 0;

  {  // room: 1,000,000 calls in blocks of 1024 (a quarter of the ring), drained in between
    uint64_t allocs = 0, calls = 0;
    while (calls < 1000000) {
      const uint64_t n = std::min<uint64_t>(1024, 1000000 - calls);
      allocs += NotifyCounted(sink, 0, seq, n);
      calls += n;
      Drain(sink);
    }
    Report("room", calls, allocs);
    MAPIOFFLINE_SINK_STATS s;
    mapioffline_sink_stats(sink, &s);
    Require(s.delivered == 1000000 && s.dropped == 0, "room: every record delivered, none dropped");
  }
  {  // full: fill the ring (uncounted), then drop
    NotifyCounted(sink, 0, seq, mapioffline_sink_capacity(sink));
    MAPIOFFLINE_SINK_STATS before, after;
    mapioffline_sink_stats(sink, &before);
    Report("full", 100000, NotifyCounted(sink, 0, seq, 100000));
    mapioffline_sink_stats(sink, &after);
    Require(after.dropped - before.dropped == 100000, "full: every call dropped");
    Drain(sink);
  }
  {  // fd: each Notify after a drain-to-empty finds the fd bit set and signals the descriptor
    Require(mapioffline_sink_fileno(sink) >= 0, "fd: fileno available");
    uint64_t allocs = 0;
    for (int i = 0; i < 100000; ++i) {
      Drain(sink);  // pops to empty -> re-arms the descriptor
      allocs += NotifyCounted(sink, 0, seq, 1);
    }
    Drain(sink);
    Report("fd", 100000, allocs);
  }
  {  // threads: producers on two threads, a consumer blocking in wait (futex wake-ups from Notify)
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
      MAPIOFFLINE_RECORD buf[256];
      while (!stop.load()) {
        mapioffline_sink_wait(sink, 1000000, 0);
        while (mapioffline_sink_pop_batch(sink, buf, 256, nullptr) != 0) {
        }
      }
    });
    std::vector<uint64_t> allocs(2, 0);
    std::vector<std::thread> producers;
    for (ULONG p = 0; p < 2; ++p) {
      producers.emplace_back([&, p] {
        uint32_t s = 0;
        // Small blocks with pauses so the consumer really falls asleep and has to be woken.
        for (int block = 0; block < 500; ++block) {
          allocs[p] += NotifyCounted(sink, 1 + p, s, 1000);
          std::this_thread::yield();
        }
      });
    }
    for (std::thread &t : producers) t.join();
    stop.store(true);
    consumer.join();
    Drain(sink);
    Report("threads", 1000000, allocs[0] + allocs[1]);
  }
  {  // closed
    mapioffline_sink_close(sink);
    Report("closed", 10000, NotifyCounted(sink, 0, seq, 10000));
  }
  {  // invalid: NULL and a short record
    const uint64_t a0 = ThreadAllocs();
    MAPIOFFLINE_NOTIFY short_rec = MakeRecord(0, 0);
    short_rec.ulSize = 8;
    for (int i = 0; i < 10000; ++i) {
      sink->Notify(nullptr);
      sink->Notify(&short_rec);
    }
    Report("invalid", 20000, ThreadAllocs() - a0);
    MAPIOFFLINE_SINK_STATS s;
    mapioffline_sink_stats(sink, &s);
    Require(s.invalid == 20000, "invalid: counted");
  }
  sink->Release();
  std::printf("notify_alloc_check: %s\n", g_failures == 0 ? "PASS (0 allocations in Notify)" : "FAIL");
  return g_failures == 0 ? 0 : 1;
}
