// A 32-bit word that waiters sleep on until it changes: futex on Linux, WaitOnAddress on Windows, and a
// mutex + condition variable as the portable fallback (macOS and other POSIX systems).
#pragma once
#include <atomic>
#include <cstdint>

#if !defined(__linux__) && !defined(_WIN32)
#include <condition_variable>
#include <mutex>
#define MAPIOFFLINE_WAKE_CONDVAR 1
#endif

namespace mapioffline {

class WakeWord {
 public:
  // The current epoch; a waiter reads it before its last check of the condition it waits for.
  uint32_t epoch() const noexcept { return word_.load(std::memory_order_acquire); }
  // Sleeps while the word still equals `epoch`, at most timeout_ns (negative: no limit). May return early.
  void wait(uint32_t epoch, int64_t timeout_ns) noexcept;
  // Any thread: moves the epoch on and wakes every sleeper. Costs a syscall (futex/WakeByAddressAll).
  void wake_all() noexcept;

 private:
  std::atomic<uint32_t> word_{0};
#if defined(MAPIOFFLINE_WAKE_CONDVAR)
  std::mutex mutex_;
  std::condition_variable cv_;
#endif
};

}  // namespace mapioffline
