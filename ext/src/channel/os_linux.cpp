// The bridge channel's OS layer on Linux: a sealed memfd for the ring, a locator under a name in the user's own
// channel directory, shared futexes, pidfd.
//
// Why the ring is not the named file itself: any process of the user can ftruncate a named file, and every
// process that maps it then dies of SIGBUS on its next access (a hostile or buggy region must give an error, never
// a crash); and a file that has a name outlives a publisher killed with SIGKILL. So the ring is a memfd
// (memfd_create), sized, allocated, then sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: its size can never
// change again, so no access within it can fault past the end, and it is freed by the kernel when its last
// descriptor and mapping go, however its publisher dies. (Not F_SEAL_WRITE: both sides write into it. So a process
// of the user can still write into it, or punch holes that read back as zeros: that changes the content, which the
// reader validates, never the size. memfds live on the kernel's internal tmpfs, which has no size limit, so a
// fault cannot fail for want of space as one in a full /dev/shm does, with SIGBUS.)
//
// The name keeps what names are for: finding the channel and refusing a second live publisher. It lives in the
// user's channel directory, where no other user can create, open or list anything (ChannelDirectory below):
// $XDG_RUNTIME_DIR/mapioffline when XDG_RUNTIME_DIR is the user's own with mode 0700 (what logind makes,
// /run/user/<uid>), else /dev/shm/mapioffline-<uid>, made with mode 0700; either is opened without following a
// symbolic link and used only if it is a directory of this user's closed to everyone else, through its descriptor
// (openat, linkat, unlinkat) so that it cannot be swapped after the check. The name, "profile-<hash>", mode 0600,
// holds only a locator (locator.h): the publisher's pid and start time and the memfd's descriptor number.
// Subscribers read it with pread, never mmap, so truncating it costs a failed open, not a crash; then they open
// the memfd through /proc/<pid>/fd/<n>, which the kernel allows to processes that may ptrace-read the publisher
// (PTRACE_MODE_READ: the same user, a dumpable publisher; Yama's ptrace_scope restricts attaching only, so it does
// not get in the way; pidfd_getfd would need attach rights). The memfd must be a regular file of ours, of the size
// the locator says, sealed as above: anything else is refused. What is left after a SIGKILL is the 32-byte
// locator, which the next publisher of the user removes (of any profile: publishers scan the directory when they
// start) and subscribers read as "no live publisher".
//
// Why a directory of the user's: in /dev/shm itself anyone can create any name, so another user who created a
// channel's (predictable) name first kept the user from publishing, and anyone could list which profiles a user
// publishes. /dev/shm/mapioffline-<uid> can still be taken first by another user (then the user's publishers and
// subscribers refuse it with an error naming its owner, and XDG_RUNTIME_DIR is the way out); the runtime directory
// cannot, since only root creates it.
//
// Publishers change names only under an exclusive flock of the directory (released by the kernel however its
// holder dies): replacing a dead publisher's name, removing dead publishers' names, removing its own at the end.
// So a publisher that judged a name dead never removes one that a new publisher linked meanwhile.
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/file.h>
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
#include <vector>

#include "channel/directory_linux.h"
#include "channel/layout.h"
#include "channel/locator.h"
#include "channel/os.h"
#include "clock.h"
#include "futex.h"
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

constexpr char kShmDirectory[] = "/dev/shm";
constexpr char kLocatorPrefix[] = "profile-";
constexpr unsigned kRingSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
// Seals that would make the ring unmappable for writing (both sides write into it).
constexpr unsigned kWriteSeals = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;


// The last component of a path (a Region's name_ is its locator's path).
std::string LeafOf(const std::string &path) { return path.substr(path.rfind('/') + 1); }

// True for a name LocatorName can make: the prefix and 16 lower-case hex digits.
bool IsLocatorName(const char *name) {
  const size_t prefix = sizeof kLocatorPrefix - 1;
  if (std::strncmp(name, kLocatorPrefix, prefix) != 0 || std::strlen(name) != prefix + 16) return false;
  for (const char *p = name + prefix; *p; ++p) {
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  }
  return true;
}

// The text of a *detail that names a path or a user. Every other detail is a static string; these live in a buffer
// of the calling thread's until its next call that sets one (callers copy the detail at once). The buffer is on the
// heap: a kilobyte of thread_local storage no longer fit the static TLS that glibc keeps for dlopen'ed modules, so
// every thread_local of the module went through dynamic TLS (malloc in __tls_get_addr), which TSan reports as races
// inside glibc.
__attribute__((format(printf, 1, 2))) const char *Say(const char *format, ...) {
  static thread_local std::string text;
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  try {
    text = buffer;
  } catch (...) {
    return "out of memory while describing the error";
  }
  return text.c_str();
}

// "user 'name' (uid N)", or "uid N" for a uid without a name.
std::string Owner(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry;
  passwd *found = nullptr;
  std::string text = "uid " + std::to_string(static_cast<unsigned long>(uid));
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found && found->pw_name) {
    text = "user '" + std::string(found->pw_name) + "' (" + text + ")";
  }
  return text;
}

// XDG_RUNTIME_DIR, opened (O_PATH), when it is usable: an absolute path to a directory of this user's that no one
// else may enter, as logind makes it. -1 otherwise (unset, or not such a directory: e.g. another user's after su),
// and then the channel lives in /dev/shm. secure_getenv: a set-user-ID program is not pointed elsewhere.
int RuntimeDirectory(std::string *path) {
  const char *env = secure_getenv("XDG_RUNTIME_DIR");
  if (!env || env[0] != '/') return -1;
  const int fd = open(env, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
    close(fd);
    return -1;
  }
  *path = env;
  return fd;
}


// An exclusive flock of the channel directory, for as long as the object lives (publishers change names only
// under it). Its own open file description: a descriptor the process shares with a fork child would share the
// lock too.
class DirectoryLock {
 public:
  explicit DirectoryLock(int dir) : fd_(openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0) return;
    int rc;
    do {
      rc = flock(fd_, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~DirectoryLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  DirectoryLock(const DirectoryLock &) = delete;
  DirectoryLock &operator=(const DirectoryLock &) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_;
};

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

// Removes the names of this user's dead publishers from the channel directory `dir` (the caller holds its lock):
// each name whose locator decodes and names a process that has exited (ProcessAlive checks the start time too, so
// a reused pid is not taken for the publisher). Anything else stays: a live publisher's name (running, starting or
// stopping), a name that holds no locator, a file that is not the user's. `keep`: the caller's own name.
void RemoveDeadLocators(int dir, const std::string &keep) {
  const int listing = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *entries = listing >= 0 ? fdopendir(listing) : nullptr;
  if (!entries) {
    if (listing >= 0) close(listing);
    return;
  }
  while (const dirent *entry = readdir(entries)) {
    if (!IsLocatorName(entry->d_name) || keep == entry->d_name) continue;
    const int fd = openat(dir, entry->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st;
    const char *ignored = nullptr;
    Locator locator;
    const bool dead = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
                      SUCCEEDED(ReadLocator(fd, &locator, &ignored)) && !ProcessAlive(locator.pid, locator.start);
    close(fd);
    struct stat now;
    // The name still refers to the file judged (only a process that ignores the lock could have changed it).
    if (dead && fstatat(dir, entry->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
        now.st_ino == st.st_ino) {
      unlinkat(dir, entry->d_name, 0);
    }
  }
  closedir(entries);  // closes `listing`
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

std::string LocatorName(const std::u16string &folded) { return kLocatorPrefix + ProfileHash(folded); }

// (directory_linux.h) Opens the user's channel directory (create: making it, mode 0700, if it is missing), checked: a directory, not
// a symbolic link, this user's, closed to group and others. Returns its descriptor (O_RDONLY: openat, flock,
// fdopendir) and its path. MAPI_E_NOT_FOUND when it does not exist (and create is false);
// MAPIOFFLINE_E_ACCESS_DENIED, naming the owner, for anything else in its place.
HRESULT ChannelDirectory(bool create, int *out, std::string *path, const char **detail) {
  std::string base;
  int parent = RuntimeDirectory(&base);
  const bool fallback = parent < 0;
  std::string name = "mapioffline";
  if (fallback) {
    base = kShmDirectory;
    name += "-" + std::to_string(static_cast<unsigned long>(getuid()));
    parent = open(kShmDirectory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0) {
      *detail = "cannot open /dev/shm";
      return create ? MAPI_E_CALL_FAILED : MAPI_E_NOT_FOUND;
    }
  }
  *path = base + "/" + name;
  const char *hint = fallback ? "; set XDG_RUNTIME_DIR to a directory of yours with mode 0700 to use that instead" : "";
  bool created = false;
  if (create) {
    created = mkdirat(parent, name.c_str(), 0700) == 0;
    if (!created && errno != EEXIST) {
      const int error = errno;
      close(parent);
      *detail = Say("cannot create the channel's directory %s: %s", path->c_str(), std::strerror(error));
      return MAPI_E_CALL_FAILED;
    }
  }
  const int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  const int error = errno;
  struct stat st;
  if (fd < 0) {
    const bool known = fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    close(parent);
    if (!known) {
      if (error == ENOENT) {
        *detail = "no publisher for this profile";
        return MAPI_E_NOT_FOUND;
      }
      *detail = Say("cannot open the channel's directory %s: %s", path->c_str(), std::strerror(error));
      return MAPI_E_CALL_FAILED;
    }
    const char *what = S_ISLNK(st.st_mode)   ? "a symbolic link"
                       : !S_ISDIR(st.st_mode) ? "not a directory"
                                              : "a directory this user cannot open";
    *detail = Say("the channel's directory %s is %s, owned by %s: refusing it%s", path->c_str(), what,
                  Owner(st.st_uid).c_str(), hint);
    return MAPIOFFLINE_E_ACCESS_DENIED;
  }
  close(parent);
  if (created) fchmod(fd, 0700);  // whatever the umask left of it
  if (fstat(fd, &st) != 0) {
    close(fd);
    *detail = "cannot read the channel directory's owner";
    return MAPI_E_CALL_FAILED;
  }
  if (st.st_uid != getuid()) {
    close(fd);
    *detail = Say("the channel's directory %s belongs to %s, not to this user: refusing it (only they or root can "
                  "remove it%s)",
                  path->c_str(), Owner(st.st_uid).c_str(), hint);
    return MAPIOFFLINE_E_ACCESS_DENIED;
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    *detail = Say("the channel's directory %s has mode %04o: it must be closed to group and others (chmod 700 it): "
                  "refusing it",
                  path->c_str(), static_cast<unsigned>(st.st_mode & 07777));
    return MAPIOFFLINE_E_ACCESS_DENIED;
  }
  *out = fd;
  return S_OK;
}

HRESULT LocatorPath(const std::u16string &folded, std::string *out, const char **detail) noexcept {
  try {
    int dir = -1;
    std::string dir_path;
    const HRESULT hr = ChannelDirectory(true, &dir, &dir_path, detail);
    if (FAILED(hr)) return hr;
    close(dir);
    *out = dir_path + "/" + LocatorName(folded);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

uint32_t SelfPid() noexcept { return static_cast<uint32_t>(getpid()); }

uint64_t SelfStartTime() noexcept { return StartTimeOf(AT_FDCWD, "/proc/self/stat"); }

bool ProcessAlive(uint32_t pid, uint64_t start) noexcept {
  if (pid == 0 || pid > static_cast<uint32_t>(INT_MAX)) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  const uint64_t actual = StartTimeOf(AT_FDCWD, path);
  return actual != 0 && (start == 0 || actual == start);  // start 0: any process of that pid
}

void Region::Reset() noexcept {
  if (base_) munmap(base_, static_cast<size_t>(size_));
  if (handle_ >= 0) close(static_cast<int>(handle_));
  if (directory_ >= 0) close(static_cast<int>(directory_));
  base_ = nullptr;
  size_ = 0;
  handle_ = -1;
  directory_ = -1;
}

HRESULT Region::Create(const std::u16string &folded, uint64_t size, Region *out, const char **detail) noexcept {
  try {
    Region region;  // owns the ring and the directory from here on: every failure below closes them
    int dir = -1;
    std::string dir_path;
    HRESULT hr = ChannelDirectory(true, &dir, &dir_path, detail);
    if (FAILED(hr)) return hr;
    region.directory_ = dir;
    const std::string name = LocatorName(folded);
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
    region.name_ = dir_path + "/" + name;

    Locator locator;
    locator.pid = SelfPid();
    locator.start = SelfStartTime();
    locator.fd = ring;
    locator.region_size = size;
    const LocatorImage image = EncodeLocator(locator);
    const int file = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (file < 0) {
      *detail = Say("cannot create the channel's locator in %s", dir_path.c_str());
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
    const DirectoryLock lock(dir);
    if (!lock.held()) {
      close(file);
      *detail = Say("cannot lock the channel's directory %s", dir_path.c_str());
      return MAPI_E_CALL_FAILED;
    }
    // Linking the unnamed file through /proc (linkat AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). Fails if the
    // name exists: then, under the lock, it is a live publisher's (refuse) or can be replaced, once.
    int linked = linkat(AT_FDCWD, self_path, dir, name.c_str(), AT_SYMLINK_FOLLOW);
    if (linked != 0 && errno == EEXIST) {
      // O_NONBLOCK: a FIFO in the way must not block us.
      const int old = openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      struct stat old_st;
      if (old >= 0 && fstat(old, &old_st) == 0 && old_st.st_uid != getuid()) {
        close(old);
        close(file);  // only root can have put it in a directory of the user's
        *detail = Say("the channel's name %s is taken by a file of %s: refusing to replace it", region.name_.c_str(),
                      Owner(old_st.st_uid).c_str());
        return MAPIOFFLINE_E_ACCESS_DENIED;
      }
      const bool live = old >= 0 && S_ISREG(old_st.st_mode) && HeldByLivePublisher(old);
      if (old >= 0) close(old);
      if (live) {
        close(file);
        *detail = "a live publisher already publishes this profile";
        return MAPI_E_CALL_FAILED;
      }
      unlinkat(dir, name.c_str(), 0);  // a dead publisher's locator: replace it (its subscribers keep their mapping)
      linked = linkat(AT_FDCWD, self_path, dir, name.c_str(), AT_SYMLINK_FOLLOW);
    }
    const int error = errno;
    close(file);
    if (linked != 0) {
      *detail = Say("cannot create the channel's name %s: %s", region.name_.c_str(), std::strerror(error));
      return MAPI_E_CALL_FAILED;
    }
    region.identity_[0] = static_cast<uint64_t>(st.st_dev);
    region.identity_[1] = static_cast<uint64_t>(st.st_ino);
    RemoveDeadLocators(dir, name);
    *out = std::move(region);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

HRESULT Region::Open(const std::u16string &folded, Region *out, const char **detail) noexcept {
  try {
    int dir = -1;
    std::string dir_path;
    const HRESULT found = ChannelDirectory(false, &dir, &dir_path, detail);
    if (FAILED(found)) return found;
    const std::string name = dir_path + "/" + LocatorName(folded);
    // O_NONBLOCK: a FIFO in the way must not block us.
    const int fd = openat(dir, LocatorName(folded).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    const int error = errno;
    close(dir);
    if (fd < 0) {
      *detail = error == EACCES ? "the channel is not accessible to this user" : "no publisher for this profile";
      return error == EACCES ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_NOT_FOUND;
    }
    struct stat st;
    // The directory is the user's own; its files still may not be (root's), or may be open to others.
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
  if (directory_ < 0) return;
  try {
    const int dir = static_cast<int>(directory_);
    const std::string name = LeafOf(name_);
    const DirectoryLock lock(dir);
    struct stat st;
    // Only our own locator: a replacement may own the name by now.
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && static_cast<uint64_t>(st.st_dev) == identity_[0] &&
        static_cast<uint64_t>(st.st_ino) == identity_[1]) {
      unlinkat(dir, name.c_str(), 0);
    }
  } catch (...) {
  }
}

void Region::Announce() const noexcept {
  if (directory_ < 0) return;
  try {
    const int dir = static_cast<int>(directory_);
    const std::string name = LeafOf(name_);
    struct stat st;
    // Touching the name (IN_ATTRIB) wakes ChannelWatch sleepers; only our own locator, as in Unlink.
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && static_cast<uint64_t>(st.st_dev) == identity_[0] &&
        static_cast<uint64_t>(st.st_ino) == identity_[1]) {
      utimensat(dir, name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    }
  } catch (...) {
  }
}

// Shared (not FUTEX_PRIVATE) futexes: the kernel keys them by the page's inode and offset, so waiters in every
// process that maps the region meet on the same word.
void Region::Wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns) const noexcept {
  FutexWait(word, expected, timeout_ns, FutexScope::kShared);
}

int Region::Wake(std::atomic<uint32_t> *word, int count) const noexcept {
  return FutexWake(word, count, FutexScope::kShared);
}

}  // namespace channel
}  // namespace mapioffline
#endif  // __linux__
