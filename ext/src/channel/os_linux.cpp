// The bridge channel's OS layer on Linux: POSIX shared memory, shared futexes, pidfd.
//
// Liveness: a subscriber opens a pidfd for the publisher (pidfd_open, Linux 5.3) and a watcher thread sleeps in
// poll() on it: the kernel makes it readable the moment the process exits, however it dies (SIGKILL included), so
// death is seen within microseconds and nothing polls. We chose this over a robust mutex held by the publisher
// because a pthread mutex in shared memory has a libc- and pointer-size-dependent layout (the layout must not), the
// kernel wakes only one waiter of a robust futex, and the owner must be a thread that lives as long as the
// publication. The pid is checked against the start time written in the region, so a reused pid is not mistaken
// for the publisher.
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#include "channel/layout.h"
#include "channel/os.h"
#include "channel/region_name.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace mapioffline {
namespace channel {

namespace {

std::string ShmName(const std::u16string &folded) {
  return "/mapioffline-u" + std::to_string(static_cast<unsigned long>(getuid())) + "-" + ProfileHash(folded);
}

// Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 if unreadable or if the process has exited. The command
// name (field 2) may contain spaces and parentheses, so fields are counted from the last ')'.
uint64_t StartTimeOf(const char *stat_path) {
  const int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  if (!p) return 0;
  // Field 3, the state: a zombie (Z) or dead (X) process has exited, even if no one has reaped it yet.
  if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) return 0;
  int field = 2;
  for (++p; *p && field < 22; ++p) {
    if (*p == ' ') ++field;
  }
  return field == 22 ? strtoull(p, nullptr, 10) : 0;
}

// A region's own header, read (not trusted) to decide whether its publisher still runs.
bool HeldByLivePublisher(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < sizeof(Header)) return false;
  void *p = mmap(nullptr, sizeof(Header), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return false;
  const Header *h = static_cast<const Header *>(p);
  const bool live = h->magic == kMagic && h->status.load(std::memory_order_acquire) == kStatusLive &&
                    ProcessAlive(h->publisher_pid, h->publisher_start);
  munmap(p, sizeof(Header));
  return live;
}

}  // namespace

uint32_t SelfPid() noexcept { return static_cast<uint32_t>(getpid()); }

uint64_t SelfStartTime() noexcept { return StartTimeOf("/proc/self/stat"); }

bool ProcessAlive(uint32_t pid, uint64_t start) noexcept {
  if (pid == 0 || pid > static_cast<uint32_t>(INT_MAX)) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  const uint64_t actual = StartTimeOf(path);
  return actual != 0 && (start == 0 || actual == start);  // start 0: any process of that pid
}

Region::~Region() { Reset(); }

Region::Region(Region &&other) noexcept { *this = std::move(other); }

Region &Region::operator=(Region &&other) noexcept {
  if (this != &other) {
    Reset();
    base_ = other.base_;
    size_ = other.size_;
    name_ = std::move(other.name_);
    handle_ = other.handle_;
    identity_[0] = other.identity_[0];
    identity_[1] = other.identity_[1];
    other.base_ = nullptr;
    other.size_ = 0;
    other.handle_ = -1;
  }
  return *this;
}

void Region::Reset() noexcept {
  if (base_) munmap(base_, static_cast<size_t>(size_));
  if (handle_ >= 0) close(static_cast<int>(handle_));
  base_ = nullptr;
  size_ = 0;
  handle_ = -1;
}

HRESULT Region::Create(const std::u16string &folded, uint64_t size, Region *out, const char **detail) noexcept {
  try {
    const std::string name = ShmName(folded);
    for (int attempt = 0; attempt < 4; ++attempt) {
      int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 && errno == EEXIST) {
        // Someone's region: ours and live (refuse), or left by a dead publisher, or not ours at all.
        const int old = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
        if (old >= 0) {
          struct stat st;
          const bool mine = fstat(old, &st) == 0 && st.st_uid == getuid();
          const bool live = mine && HeldByLivePublisher(old);
          close(old);
          if (!mine) {
            *detail = "the channel's name is taken by another user's file";
            return MAPIOFFLINE_E_ACCESS_DENIED;
          }
          if (live) {
            *detail = "a live publisher already publishes this profile";
            return MAPI_E_CALL_FAILED;
          }
        }
        shm_unlink(name.c_str());  // a dead publisher's region: replace it (its subscribers keep their mapping)
        continue;
      }
      if (fd < 0) {
        *detail = "shm_open failed";
        return MAPI_E_CALL_FAILED;
      }
      fchmod(fd, 0600);  // regardless of the umask
      struct stat st;
      if (ftruncate(fd, static_cast<off_t>(size)) != 0 || fstat(fd, &st) != 0) {
        close(fd);
        shm_unlink(name.c_str());
        *detail = "cannot size the shared memory";
        return E_OUTOFMEMORY;
      }
      void *p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        close(fd);
        shm_unlink(name.c_str());
        *detail = "cannot map the shared memory";
        return E_OUTOFMEMORY;
      }
      Region region;
      region.base_ = p;
      region.size_ = size;
      region.name_ = name;
      region.handle_ = fd;
      region.identity_[0] = static_cast<uint64_t>(st.st_dev);
      region.identity_[1] = static_cast<uint64_t>(st.st_ino);
      *out = std::move(region);
      return S_OK;
    }
    *detail = "another publisher keeps replacing the channel";
    return MAPI_E_CALL_FAILED;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

HRESULT Region::Open(const std::u16string &folded, Region *out, const char **detail) noexcept {
  try {
    const std::string name = ShmName(folded);
    const int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      *detail = errno == EACCES ? "the channel is not accessible to this user" : "no publisher for this profile";
      return errno == EACCES ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_NOT_FOUND;
    }
    struct stat st;
    // Anyone can create a file in /dev/shm: a region we follow must be ours and closed to everyone else.
    if (fstat(fd, &st) != 0 || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
      close(fd);
      *detail = "the channel's file is not owned by this user with mode 0600: refusing it";
      return MAPIOFFLINE_E_ACCESS_DENIED;
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < sizeof(Header) || size > RegionSize(kMaxRingCapacity)) {
      close(fd);
      *detail = size == 0 ? "the publisher is still starting" : "the channel's size is out of bounds";
      return size == 0 ? MAPI_E_NOT_FOUND : MAPIOFFLINE_E_CHANNEL_CORRUPT;
    }
    void *p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      *detail = "cannot map the channel";
      return E_OUTOFMEMORY;
    }
    Region region;
    region.base_ = p;
    region.size_ = size;
    region.name_ = name;
    region.handle_ = fd;
    *out = std::move(region);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

void Region::Unlink() noexcept {
  if (name_.empty()) return;
  const int fd = shm_open(name_.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return;
  struct stat st;
  const bool ours = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == identity_[0] &&
                    static_cast<uint64_t>(st.st_ino) == identity_[1];
  close(fd);
  if (ours) shm_unlink(name_.c_str());  // a small race with a replacing publisher is harmless: it re-creates
}

// Shared (not FUTEX_PRIVATE) futexes: the kernel keys them by the page's inode and offset, so waiters in every
// process that maps the region meet on the same word.
void Region::Wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns) const noexcept {
  timespec ts;
  timespec *pts = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    pts = &ts;
  }
  // EINTR, EAGAIN (the word already moved) and ETIMEDOUT all mean "look again".
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT, expected, pts, nullptr, 0);
}

void Region::Wake(std::atomic<uint32_t> *word, int count) const noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE, count < 0 ? INT_MAX : count, nullptr, nullptr,
          0);
}

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

}  // namespace channel
}  // namespace mapioffline
#endif  // __linux__
