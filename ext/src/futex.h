// Linux futex wait and wake, written once for the sink's wake word (private to the process) and the bridge's
// shared-memory words (shared between processes: the kernel keys those by the page, not the address).
#pragma once
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>

namespace mapioffline {

enum class FutexScope { kProcess, kShared };

// Sleeps while *word == expected, up to timeout_ns (negative: no limit). EINTR, EAGAIN (the word already moved)
// and ETIMEDOUT all mean "look again": the caller rechecks, so the result is not returned.
inline void FutexWait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns, FutexScope scope) noexcept {
  timespec ts;
  timespec *pts = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    pts = &ts;
  }
  const int op = scope == FutexScope::kProcess ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT;
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op, expected, pts, nullptr, 0);
}

// Wakes up to `count` waiters (negative: all); returns how many were woken, -1 on error.
inline int FutexWake(std::atomic<uint32_t> *word, int count, FutexScope scope) noexcept {
  const int op = scope == FutexScope::kProcess ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE;
  const long woken =
      syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op, count < 0 ? INT_MAX : count, nullptr, nullptr, 0);
  return woken < 0 ? -1 : static_cast<int>(woken);
}

}  // namespace mapioffline
#endif
