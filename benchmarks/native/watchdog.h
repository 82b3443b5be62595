// A last-resort deadline for code that cannot be interrupted, such as a single-threaded benchmark whose queue
// call never returns: if the Watchdog is still alive after `deadline`, it names the culprit and ends the process
// (exit status 3), so that a hang is reported instead of stalling the run (and compare.py) forever.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace mapioffline_bench {

class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds deadline)
      : what_(std::move(what)), thread_([this, deadline] {
          std::unique_lock<std::mutex> lock(m_);
          if (!cv_.wait_for(lock, deadline, [this] { return done_; })) {
            std::fprintf(stderr, "HANG: %s did not finish within %lld s\n", what_.c_str(),
                         static_cast<long long>(deadline.count()));
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;

 private:
  std::string what_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace mapioffline_bench
