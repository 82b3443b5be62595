// A descriptor for selectors and asyncio (POSIX): eventfd on Linux, a non-blocking pipe elsewhere.
// On Windows there is no such descriptor; every method is a no-op and fd() is -1.
#pragma once

namespace mapioffline {

class PollHandle {
 public:
  PollHandle() = default;
  ~PollHandle();
  PollHandle(const PollHandle &) = delete;
  PollHandle &operator=(const PollHandle &) = delete;

  // Consumer side, once: makes the descriptor. False if the system refused (or on Windows).
  bool open() noexcept;
  int fd() const noexcept { return read_fd_; }
  // Any thread: makes the descriptor readable. One syscall.
  void signal() noexcept;
  // Consumer side: makes it unreadable again (drains what signal() wrote).
  void clear() noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace mapioffline
