// The bridge channel's watches on Linux: a subscriber's watch on its publisher's process (a pidfd, readable the
// moment the process exits, however it dies) and a waiter's watch for a publisher to appear (inotify on the user's
// channel directory). See os_linux.cpp for the channel itself.
#if defined(__linux__)
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>

#include "channel/directory_linux.h"
#include "channel/os.h"
#include "clock.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace mapioffline {
namespace channel {

PublisherWatch::~PublisherWatch() {
  if (process_ >= 0) close(static_cast<int>(process_));
  if (cancel_ >= 0) close(static_cast<int>(cancel_));
}

bool PublisherWatch::Start(uint32_t pid, uint64_t start) noexcept {
  cancel_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_ < 0 || pid == 0 || pid > static_cast<uint32_t>(INT_MAX)) return false;
  process_ = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (process_ < 0) return false;
  // The pidfd now pins this pid: if the start time still matches, it is the publisher's process.
  return ProcessAlive(pid, start);
}

bool PublisherWatch::WaitForDeath() noexcept {
  if (process_ < 0 || cancel_ < 0) return true;  // Start failed: the publisher counts as gone
  pollfd fds[2] = {{static_cast<int>(process_), POLLIN, 0}, {static_cast<int>(cancel_), POLLIN, 0}};
  for (;;) {
    const int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;  // cannot watch any longer: report it as gone rather than follow it blindly
    if (fds[1].revents) return false;
    if (fds[0].revents) return true;
  }
}

void PublisherWatch::Cancel() noexcept {
  if (cancel_ < 0) return;
  const uint64_t one = 1;
  ssize_t ignored = write(static_cast<int>(cancel_), &one, sizeof one);
  (void)ignored;
}

ChannelWatch::~ChannelWatch() {
  if (handle_ >= 0) close(static_cast<int>(handle_));
}

void ChannelWatch::Start(const std::u16string &folded) {
  leaf_ = LocatorName(folded);
  // The user's channel directory, made if it is missing (the user's own: a subscriber makes it as a publisher
  // would), watched through its checked descriptor: /proc/self/fd/<n> names exactly the directory that passed the
  // checks. One that is refused (another user's) leaves handle_ at -1: Wait then sleeps kFallbackSliceNs, and the
  // caller's next open reports the refusal.
  int dir = -1;
  std::string dir_path;
  const char *ignored = nullptr;
  if (FAILED(ChannelDirectory(true, &dir, &dir_path, &ignored))) return;
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  char path[40];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", dir);
  // IN_CREATE: linkat of a new locator; IN_ATTRIB: Region::Announce (the channel went live); IN_MOVED_TO for
  // completeness.
  const bool watched = fd >= 0 && inotify_add_watch(fd, path, IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR) >= 0;
  close(dir);
  if (!watched) {
    if (fd >= 0) close(fd);
    return;
  }
  handle_ = fd;
}

bool ChannelWatch::Wait(int64_t timeout_ns) noexcept {
  const uint64_t start = MonotonicNs();
  if (handle_ < 0) {
    int64_t slice = kFallbackSliceNs;
    if (timeout_ns >= 0 && timeout_ns < slice) slice = timeout_ns;
    const timespec ts{static_cast<time_t>(slice / 1000000000), static_cast<long>(slice % 1000000000)};
    // EINTR returns early: the caller checks its signals. Otherwise the name may have changed: nothing tells.
    return nanosleep(&ts, nullptr) == 0;
  }
  for (;;) {
    int ms = -1;
    if (timeout_ns >= 0) {
      const int64_t left = timeout_ns - static_cast<int64_t>(MonotonicNs() - start);
      if (left <= 0) return false;
      const int64_t rounded_up = (left + 999999) / 1000000;  // never wake before the timeout
      ms = rounded_up > INT_MAX ? INT_MAX : static_cast<int>(rounded_up);
    }
    pollfd fds = {static_cast<int>(handle_), POLLIN, 0};
    const int n = poll(&fds, 1, ms);
    if (n <= 0) return false;  // timeout, or EINTR (a signal for the caller to handle)
    alignas(inotify_event) char buffer[4096];
    bool ours = false;
    for (;;) {
      const ssize_t got = read(static_cast<int>(handle_), buffer, sizeof buffer);
      if (got <= 0) break;
      for (ssize_t at = 0; at < got;) {
        const auto *event = reinterpret_cast<const inotify_event *>(buffer + at);
        // An overflow lost events (maybe ours); IN_IGNORED: the directory went away. Both: look again.
        if ((event->mask & (IN_Q_OVERFLOW | IN_IGNORED)) || (event->len && leaf_ == event->name)) ours = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (ours) return true;
  }
}

}  // namespace channel
}  // namespace mapioffline
#endif  // __linux__
