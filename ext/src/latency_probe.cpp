// Benchmark baseline: the wake-up latency of a plain std::condition_variable, signalled from a native thread, for
// comparison with a sink's blocking wait in the same run.
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>

#include "clock.h"
#include "mapioffline/testing.h"

struct mapioffline_condvar_probe {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t stamped = 0;  // under mutex: the pending stamp, 0 if none
  bool waiting = false;  // under mutex: the waiter is (about to be) asleep
  std::thread signaller;
};

extern "C" mapioffline_condvar_probe *mapioffline_condvar_probe_start(size_t samples) {
  auto *probe = new (std::nothrow) mapioffline_condvar_probe;
  if (!probe) return nullptr;
  try {
    probe->signaller = std::thread([probe, samples] {
      for (size_t i = 0; i < samples; ++i) {
        {
          std::unique_lock<std::mutex> lock(probe->mutex);
          probe->cv.wait(lock, [probe] { return probe->waiting && probe->stamped == 0; });
        }
        std::this_thread::sleep_for(std::chrono::microseconds(300));  // let the waiter really fall asleep
        {
          std::lock_guard<std::mutex> lock(probe->mutex);
          probe->stamped = mapioffline::MonotonicNs();
        }
        probe->cv.notify_all();
        std::unique_lock<std::mutex> lock(probe->mutex);
        probe->cv.wait(lock, [probe] { return probe->stamped == 0; });  // taken
      }
    });
  } catch (...) {
    delete probe;
    return nullptr;
  }
  return probe;
}

extern "C" uint64_t mapioffline_condvar_probe_wait(mapioffline_condvar_probe *probe) {
  std::unique_lock<std::mutex> lock(probe->mutex);
  probe->waiting = true;
  probe->cv.notify_all();
  probe->cv.wait(lock, [probe] { return probe->stamped != 0; });
  const uint64_t stamp = probe->stamped;
  probe->stamped = 0;
  probe->waiting = false;
  probe->cv.notify_all();
  return stamp;
}

extern "C" void mapioffline_condvar_probe_join(mapioffline_condvar_probe *probe) {
  if (!probe) return;
  probe->signaller.join();
  delete probe;
}
