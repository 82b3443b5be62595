// The bridge channel's OS layer on Linux: a sealed memfd for the ring, a locator under a POSIX shared-memory name,
// shared futexes, pidfd.
//
// Why the ring is not the named file itself: any process of the user can ftruncate a file in /dev/shm, and every
// process that maps it then dies of SIGBUS on its next access (a hostile or buggy region must give an error, never
// a crash); and a file that has a name outlives a publisher killed with SIGKILL. So the ring is a memfd
// (memfd_create), sized, allocated, then sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: its size can never
// change again, so no access within it can fault past the end, and it is freed by the kernel when its last
// descriptor and mapping go, however its publisher dies. (Not F_SEAL_WRITE: both sides write into it. So a process
// of the user can still write into it, or punch holes that read back as zeros: that changes the content, which the
// reader validates, never the size. memfds live on the kernel's internal tmpfs, which has no size limit, so a
// fault cannot fail for want of space as one in a full /dev/shm does, with SIGBUS.)
//
// The name (/dev/shm/mapioffline-u<uid>-<hash>, mode 0600, as before) keeps what names are for: finding the
// channel and refusing a second live publisher. It holds only a locator (locator.h): the publisher's pid and start
// time and the memfd's descriptor number. Subscribers read it with pread, never mmap, so truncating it costs a
// failed open, not a crash; then they open the memfd through /proc/<pid>/fd/<n>, which the kernel allows to
// processes that may ptrace-read the publisher (PTRACE_MODE_READ: the same user, a dumpable publisher; Yama's
// ptrace_scope restricts attaching only, so it does not get in the way; pidfd_getfd would need attach rights). The
// memfd must be a regular file of ours, of the size the locator says, sealed as above: anything else is refused.
// What is left after a SIGKILL is the 32-byte locator, which a new publisher replaces and subscribers read as "no
// live publisher".
//
// The locator is written into an unnamed file (O_TMPFILE) that is then linked under the name: a reader never sees
// it half-written, and the link fails if the name exists, as O_EXCL did.
//
// fork(): a child inherits the publisher's memfd descriptor (MFD_CLOEXEC closes it at exec) and its mapping, as it
// inherited the mapping before; the locator names the parent, so the child is not taken for the publisher, and a
// child that outlives a killed parent keeps the ring's memory only while it runs. Subscribers keep no descriptor,
// only the mapping.
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
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "channel/layout.h"
#include "channel/locator.h"
#include "channel/os.h"
#include "clock.h"
#include "channel/region_name.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U  // Linux 6.3
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  // Linux 5.1
#endif

namespace mapioffline {
namespace channel {

namespace {

// Where glibc's shm_open keeps its names: the channel's names are the same as when it used shm_open.
constexpr char kShmDirectory[] = "/dev/shm";
constexpr unsigned kRingSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
// Seals that would make the ring unmappable for writing (both sides write into it).
constexpr unsigned kWriteSeals = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

std::string ShmName(const std::u16string &folded) {
  return "/mapioffline-u" + std::to_string(static_cast<unsigned long>(getuid())) + "-" + ProfileHash(folded);
}

std::string ShmPath(const std::string &name) { return kShmDirectory + name; }

// Field 22 of a /proc/<pid>/stat (clock ticks since boot), `path` relative to `dir` (or absolute); 0 if unreadable
// or if the process has exited. The command name (field 2) may contain spaces and parentheses, so fields are
// counted from the last ')'.
uint64_t StartTimeOf(int dir, const char *path) {
  const int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
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

// Reads and decodes the locator from an open name (one byte more than a locator has: a longer file is refused).
HRESULT ReadLocator(int fd, Locator *out, const char **detail) {
  unsigned char bytes[sizeof(LocatorImage) + 1];
  const ssize_t n = pread(fd, bytes, sizeof bytes, 0);
  if (n < 0) {
    *detail = "cannot read the channel's locator";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  return DecodeLocator(bytes, static_cast<size_t>(n), out, detail);
}

// Opens the ring a locator names, read-write, checked: the memfd of the live process (pid, start), ours, of the
// locator's size, sealed against any change of size. MAPI_E_NOT_FOUND when that process is gone (or has closed
// the ring: it is stopping); MAPIOFFLINE_E_ACCESS_DENIED when /proc refuses us its descriptors;
// MAPIOFFLINE_E_CHANNEL_CORRUPT for anything that is not such a ring.
HRESULT OpenRing(const Locator &locator, int *out, const char **detail) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%u", locator.pid);
  // The /proc directory pins the process it was opened for: once that process is gone, lookups through it fail,
  // even if the pid is reused meanwhile. So one start-time check through it covers the descriptor opened after.
  const int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || StartTimeOf(dir, "stat") != locator.start) {
    if (dir >= 0) close(dir);
    *detail = "the channel's publisher is gone";
    return MAPI_E_NOT_FOUND;
  }
  std::snprintf(path, sizeof path, "fd/%d", locator.fd);
  // stat first: a FIFO or a device behind that number is refused without being opened (opening one may block or
  // have effects); O_NONBLOCK and O_NOCTTY cover what changes between the two calls.
  struct stat st;
  int fd = -1;
  int error = 0;
  if (fstatat(dir, path, &st, 0) != 0) {
    error = errno;
  } else if (!S_ISREG(st.st_mode)) {
    error = EINVAL;
  } else {
    fd = openat(dir, path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) error = errno;
  }
  close(dir);
  if (fd < 0) {
    if (error == EACCES || error == EPERM) {
      *detail =
          "cannot open the publisher's ring through /proc/<pid>/fd: refused (the publisher is not dumpable, or a "
          "security module forbids it)";
      return MAPIOFFLINE_E_ACCESS_DENIED;
    }
    if (error == ENOENT || error == ESRCH) {
      *detail = "the channel's publisher has closed its ring (it is stopping or gone)";
      return MAPI_E_NOT_FOUND;
    }
    *detail = "the channel's locator names a descriptor that is not a ring";
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  // F_GET_SEALS fails (EINVAL) on anything but shmem and hugetlbfs files; a tmpfs file that is not a memfd reports
  // F_SEAL_SEAL alone. Only a memfd sealed as the publisher seals its ring passes.
  const int seals = fcntl(fd, F_GET_SEALS);
  const char *refused = nullptr;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()) {
    refused = "the channel's ring is not a file of this user's";
  } else if (static_cast<uint64_t>(st.st_size) != locator.region_size) {
    refused = "the channel's ring does not have the size its locator says";
  } else if (seals < 0 || (static_cast<unsigned>(seals) & kRingSeals) != kRingSeals ||
             (static_cast<unsigned>(seals) & kWriteSeals) != 0) {
    refused = "the channel's ring is not a memfd sealed against resizing";
  }
  if (refused) {
    close(fd);
    *detail = refused;
    return MAPIOFFLINE_E_CHANNEL_CORRUPT;
  }
  *out = fd;
  return S_OK;
}

// Whether a live publisher holds the name whose locator is open as `fd`: read (not trusted) before replacing it.
// A process we cannot inspect (its descriptors are closed to us) counts as live: taking its name would split its
// subscribers from new ones. A publisher still starting (status 0) counts as live too. Read with pread: never a
// mapping of something another process controls.
bool HeldByLivePublisher(int fd) {
  const char *ignored = nullptr;
  Locator locator;
  if (FAILED(ReadLocator(fd, &locator, &ignored))) return false;
  int ring = -1;
  const HRESULT hr = OpenRing(locator, &ring, &ignored);
  if (hr == MAPIOFFLINE_E_ACCESS_DENIED) return true;
  if (FAILED(hr)) return false;
  uint32_t magic = 0, status = 0;
  const bool read = pread(ring, &magic, sizeof magic, offsetof(Header, magic)) == sizeof magic &&
                    pread(ring, &status, sizeof status, offsetof(Header, status)) == sizeof status;
  close(ring);
  return read && (status == 0 || (status == kStatusLive && magic == kMagic));
}

// The publisher's ring: a memfd of `size` bytes, mode 0600 like the name, allocated now (fallocate: a shortage of
// memory is an error here, not an out-of-memory fault at some later access in whichever process makes it), then
// sealed. -1 with *detail on failure.
int CreateRing(uint64_t size, const char **detail) {
  int fd = memfd_create("mapioffline-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("mapioffline-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);  // < 6.3
  if (fd < 0) {
    *detail = "memfd_create failed";
    return -1;
  }
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
    close(fd);
    *detail = "cannot size the shared memory";
    return -1;
  }
  if (fcntl(fd, F_ADD_SEALS, kRingSeals) != 0) {
    close(fd);
    *detail = "cannot seal the shared memory";
    return -1;
  }
  return fd;
}

}  // namespace

uint32_t SelfPid() noexcept { return static_cast<uint32_t>(getpid()); }

uint64_t SelfStartTime() noexcept { return StartTimeOf(AT_FDCWD, "/proc/self/stat"); }

bool ProcessAlive(uint32_t pid, uint64_t start) noexcept {
  if (pid == 0 || pid > static_cast<uint32_t>(INT_MAX)) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  const uint64_t actual = StartTimeOf(AT_FDCWD, path);
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
    const std::string path = ShmPath(name);
    Region region;  // owns the ring from here on: every failure below unmaps and closes it
    const int ring = CreateRing(size, detail);
    if (ring < 0) return E_OUTOFMEMORY;
    region.handle_ = ring;
    void *p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
    if (p == MAP_FAILED) {
      *detail = "cannot map the shared memory";
      return E_OUTOFMEMORY;
    }
    region.base_ = p;
    region.size_ = size;
    region.name_ = name;

    Locator locator;
    locator.pid = SelfPid();
    locator.start = SelfStartTime();
    locator.fd = ring;
    locator.region_size = size;
    const LocatorImage image = EncodeLocator(locator);
    const int file = open(kShmDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (file < 0) {
      *detail = "cannot create the channel's locator in /dev/shm";
      return MAPI_E_CALL_FAILED;
    }
    struct stat st;
    if (fchmod(file, 0600) != 0 || pwrite(file, &image, sizeof image, 0) != static_cast<ssize_t>(sizeof image) ||
        fstat(file, &st) != 0) {  // fchmod: regardless of the umask
      close(file);
      *detail = "cannot write the channel's locator";
      return MAPI_E_CALL_FAILED;
    }
    char self_path[40];
    std::snprintf(self_path, sizeof self_path, "/proc/self/fd/%d", file);
    int error = EEXIST;
    for (int attempt = 0; attempt < 4; ++attempt) {
      // Linking the unnamed file through /proc (linkat AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
      if (linkat(AT_FDCWD, self_path, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        close(file);
        region.identity_[0] = static_cast<uint64_t>(st.st_dev);
        region.identity_[1] = static_cast<uint64_t>(st.st_ino);
        *out = std::move(region);
        return S_OK;
      }
      error = errno;
      if (error != EEXIST) break;
      // Someone's name: ours and live (refuse), or left by a dead publisher, or not ours at all. O_NONBLOCK: a FIFO
      // squatting the name must not block us.
      const int old = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      if (old >= 0) {
        struct stat old_st;
        const bool mine = fstat(old, &old_st) == 0 && old_st.st_uid == getuid();
        const bool live = mine && S_ISREG(old_st.st_mode) && HeldByLivePublisher(old);
        close(old);
        if (!mine) {
          close(file);
          *detail = "the channel's name is taken by another user's file";
          return MAPIOFFLINE_E_ACCESS_DENIED;
        }
        if (live) {
          close(file);
          *detail = "a live publisher already publishes this profile";
          return MAPI_E_CALL_FAILED;
        }
      }
      unlink(path.c_str());  // a dead publisher's locator: replace it (its subscribers keep their mapping)
    }
    close(file);
    *detail = error == EEXIST ? "another publisher keeps replacing the channel" : "cannot create the channel's name";
    return MAPI_E_CALL_FAILED;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

HRESULT Region::Open(const std::u16string &folded, Region *out, const char **detail) noexcept {
  try {
    const std::string name = ShmName(folded);
    // O_NONBLOCK: a FIFO squatting the name must not block us; O_NOFOLLOW as shm_open does.
    const int fd = open(ShmPath(name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      const int error = errno;
      *detail = error == EACCES ? "the channel is not accessible to this user" : "no publisher for this profile";
      return error == EACCES ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_NOT_FOUND;
    }
    struct stat st;
    // Anyone can create a file in /dev/shm: a channel we follow must be ours and closed to everyone else.
    if (fstat(fd, &st) != 0 || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
      close(fd);
      *detail = "the channel's file is not owned by this user with mode 0600: refusing it";
      return MAPIOFFLINE_E_ACCESS_DENIED;
    }
    if (!S_ISREG(st.st_mode)) {
      close(fd);
      *detail = "the channel's name is not a regular file";
      return MAPIOFFLINE_E_CHANNEL_CORRUPT;
    }
    Locator locator;
    HRESULT hr = ReadLocator(fd, &locator, detail);
    close(fd);
    if (FAILED(hr)) return hr;
    int ring = -1;
    hr = OpenRing(locator, &ring, detail);
    if (FAILED(hr)) return hr;
    void *p = mmap(nullptr, static_cast<size_t>(locator.region_size), PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
    // The mapping keeps the memfd alive: the descriptor is not needed any longer.
    close(ring);
    if (p == MAP_FAILED) {
      *detail = "cannot map the channel";
      return E_OUTOFMEMORY;
    }
    Region region;
    region.base_ = p;
    region.size_ = locator.region_size;
    region.name_ = name;
    *out = std::move(region);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

void Region::Unlink() noexcept {
  if (name_.empty()) return;
  try {
    const std::string path = ShmPath(name_);
    struct stat st;
    // Only our own locator: a replacement may own the name by now. (A small race with a replacing publisher is
    // harmless: it re-creates.)
    if (lstat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == identity_[0] &&
        static_cast<uint64_t>(st.st_ino) == identity_[1]) {
      unlink(path.c_str());
    }
  } catch (...) {
  }
}

void Region::Announce() const noexcept {
  if (name_.empty()) return;
  try {
    const std::string path = ShmPath(name_);
    struct stat st;
    // Touching the name (IN_ATTRIB) wakes ChannelWatch sleepers; only our own locator, as in Unlink.
    if (lstat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == identity_[0] &&
        static_cast<uint64_t>(st.st_ino) == identity_[1]) {
      utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    }
  } catch (...) {
  }
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

int Region::Wake(std::atomic<uint32_t> *word, int count) const noexcept {
  const long woken = syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE, count < 0 ? INT_MAX : count,
                             nullptr, nullptr, 0);
  return woken < 0 ? -1 : static_cast<int>(woken);
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

ChannelWatch::~ChannelWatch() {
  if (handle_ >= 0) close(static_cast<int>(handle_));
}

void ChannelWatch::Start(const std::u16string &folded) {
  // The directory is whatever ShmPath puts the channel's name in: this watch follows it wherever it moves.
  const std::string path = ShmPath(ShmName(folded));
  const size_t slash = path.rfind('/');
  const std::string directory = slash == 0 ? std::string("/") : path.substr(0, slash);
  leaf_ = path.substr(slash + 1);
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return;
  // IN_CREATE: linkat of a new locator; IN_ATTRIB: Region::Announce (the channel went live); IN_MOVED_TO for
  // completeness. A directory that cannot be watched leaves handle_ at -1: Wait then sleeps kFallbackSliceNs.
  if (inotify_add_watch(fd, directory.c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0) {
    close(fd);
    return;
  }
  handle_ = fd;
}

void ChannelWatch::Wait(int64_t timeout_ns) noexcept {
  const uint64_t start = MonotonicNs();
  if (handle_ < 0) {
    int64_t slice = kFallbackSliceNs;
    if (timeout_ns >= 0 && timeout_ns < slice) slice = timeout_ns;
    const timespec ts{static_cast<time_t>(slice / 1000000000), static_cast<long>(slice % 1000000000)};
    nanosleep(&ts, nullptr);  // EINTR returns early: the caller checks its signals
    return;
  }
  for (;;) {
    int ms = -1;
    if (timeout_ns >= 0) {
      const int64_t left = timeout_ns - static_cast<int64_t>(MonotonicNs() - start);
      if (left <= 0) return;
      const int64_t rounded_up = (left + 999999) / 1000000;  // never wake before the timeout
      ms = rounded_up > INT_MAX ? INT_MAX : static_cast<int>(rounded_up);
    }
    pollfd fds = {static_cast<int>(handle_), POLLIN, 0};
    const int n = poll(&fds, 1, ms);
    if (n <= 0) return;  // timeout, or EINTR (a signal for the caller to handle)
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
    if (ours) return;
  }
}

}  // namespace channel
}  // namespace mapioffline
#endif  // __linux__
