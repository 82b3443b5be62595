#include "wake_word.h"

#if defined(__linux__)
#include "futex.h"
#elif defined(_WIN32)
#include <windows.h>
#else
#include <chrono>
#endif

namespace mapioffline {

#if defined(__linux__)
// FUTEX_PRIVATE: the word is never shared between processes, which lets the kernel skip the page lookup.
void WakeWord::wait(uint32_t epoch, int64_t timeout_ns) noexcept {
  FutexWait(&word_, epoch, timeout_ns, FutexScope::kProcess);
}

void WakeWord::wake_all() noexcept {
  word_.fetch_add(1, std::memory_order_release);
  FutexWake(&word_, -1, FutexScope::kProcess);
}
#elif defined(_WIN32)
void WakeWord::wait(uint32_t epoch, int64_t timeout_ns) noexcept {
  DWORD ms = INFINITE;
  if (timeout_ns >= 0) {
    const int64_t rounded_up = (timeout_ns + 999999) / 1000000;  // never wake before the timeout
    ms = rounded_up >= static_cast<int64_t>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(rounded_up);
  }
  WaitOnAddress(reinterpret_cast<volatile VOID *>(&word_), &epoch, sizeof epoch, ms);
}

void WakeWord::wake_all() noexcept {
  word_.fetch_add(1, std::memory_order_release);
  WakeByAddressAll(reinterpret_cast<PVOID>(&word_));
}
#else
void WakeWord::wait(uint32_t epoch, int64_t timeout_ns) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  auto unchanged = [&] { return word_.load(std::memory_order_acquire) == epoch; };
  if (timeout_ns < 0) {
    cv_.wait(lock, [&] { return !unchanged(); });
  } else {
    cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [&] { return !unchanged(); });
  }
}

void WakeWord::wake_all() noexcept {
  {
    // The increment happens under the mutex so a waiter cannot check, miss it, and then sleep.
    std::lock_guard<std::mutex> lock(mutex_);
    word_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}
#endif

}  // namespace mapioffline
