// Benchmark baseline: the wake-up latency of a plain std::condition_variable between two native threads, the
// floor any blocking delivery (ours included) is compared with in the same run.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "clock.h"
#include "mapioffline/mapioffline.h"

extern "C" int mapioffline_probe_condvar_latency(size_t samples, uint64_t *out_ns) {
  if (!out_ns) return -1;
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t stamped = 0;  // under mutex: 0 = nothing pending
  bool waiting = false;
  try {
    std::thread waiter([&] {
      for (size_t i = 0; i < samples; ++i) {
        std::unique_lock<std::mutex> lock(mutex);
        waiting = true;
        cv.notify_all();  // tell the signaller we are about to sleep
        cv.wait(lock, [&] { return stamped != 0; });
        out_ns[i] = mapioffline::MonotonicNs() - stamped;
        stamped = 0;
        waiting = false;
      }
    });
    for (size_t i = 0; i < samples; ++i) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return waiting; });
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the waiter really fall asleep
      {
        std::lock_guard<std::mutex> lock(mutex);
        stamped = mapioffline::MonotonicNs();
      }
      cv.notify_all();
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return !waiting || stamped == 0; });
      }
    }
    waiter.join();
  } catch (...) {
    return -1;
  }
  return 0;
}
