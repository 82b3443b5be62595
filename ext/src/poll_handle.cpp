#include "poll_handle.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#include <unistd.h>
#elif !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

#include <cstdint>

namespace mapioffline {

#if defined(_WIN32)
PollHandle::~PollHandle() = default;
bool PollHandle::open() noexcept { return false; }
void PollHandle::signal() noexcept {}
void PollHandle::clear() noexcept {}
#else
PollHandle::~PollHandle() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

bool PollHandle::open() noexcept {
  if (read_fd_ >= 0) return true;
#if defined(__linux__)
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return false;
  read_fd_ = write_fd_ = fd;
#else
  int fds[2];
  if (pipe(fds) != 0) return false;
  for (int fd : fds) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
#endif
  return true;
}

void PollHandle::signal() noexcept {
  if (write_fd_ < 0) return;
  const uint64_t one = 1;
  // A full pipe or a saturated eventfd is already readable: the failure is harmless.
  [[maybe_unused]] ssize_t r = ::write(write_fd_, &one, write_fd_ == read_fd_ ? sizeof one : 1);
}

void PollHandle::clear() noexcept {
  if (read_fd_ < 0) return;
  uint64_t buffer[8];
  // eventfd: one read resets the counter. pipe: read until empty.
  while (::read(read_fd_, buffer, sizeof buffer) > 0 && read_fd_ != write_fd_) {
  }
}
#endif

}  // namespace mapioffline
