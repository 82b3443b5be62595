// The thin OS layer of the bridge channel: naming, creating and mapping the shared region, sleeping and waking on
// one of its words across processes, and watching the publisher process for its death.
//
// Linux (os_linux.cpp): the region is a sealed memfd (its size cannot change, so no access within it can SIGBUS),
// found through a small locator (mode 0600) in the user's own channel directory ($XDG_RUNTIME_DIR/mapioffline, else
// /dev/shm/mapioffline-<uid>; mode 0700, checked) and opened through /proc/<pid>/fd; shared futexes on the region's
// words, pidfd_open + poll for the publisher's death.
// Windows (os_windows.cpp): a file mapping in the Local\ namespace with a DACL for the user's SID, named semaphores
// for the words, the publisher's process handle for its death.
// Elsewhere every call fails with MAPI_E_NO_SUPPORT.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace channel {

struct Header;

// A mapped region. Move-only; unmaps (and closes its handles) when destroyed. Unlinking is explicit.
class Region {
 public:
  Region() = default;
  ~Region();
  Region(Region &&other) noexcept;
  Region &operator=(Region &&other) noexcept;
  Region(const Region &) = delete;
  Region &operator=(const Region &) = delete;

  // Publisher: creates the region for `folded` (a folded profile name) with `size` bytes, zero-filled, accessible to
  // this user only. If a region exists whose publisher is dead (or that is not a valid region of ours), it is
  // replaced; if its publisher lives, MAPI_E_CALL_FAILED with *detail saying so. Linux: also removes the names of
  // the user's other dead publishers. MAPIOFFLINE_E_ACCESS_DENIED when another user's object is in the way; then
  // *detail names its owner (such details, and those naming a path, live in a buffer of the calling thread's until
  // its next call; every other detail is a static string).
  static HRESULT Create(const std::u16string &folded, uint64_t size, Region *out, const char **detail) noexcept;
  // Subscriber: maps the existing region read-write (subscribers write the wake and request words). Checks the
  // owner and permissions and the size bounds; the content is validated by the reader. MAPI_E_NOT_FOUND if none
  // (or if its publisher is gone: Linux checks that before mapping); MAPIOFFLINE_E_CHANNEL_CORRUPT for a name or a
  // region that cannot be an honest publisher's; MAPIOFFLINE_E_ACCESS_DENIED when it is not the user's own (or,
  // on Linux, when the publisher's descriptors are closed to us).
  static HRESULT Open(const std::u16string &folded, Region *out, const char **detail) noexcept;
  // Publisher: removes the name if it still refers to this region (a replacement may own the name by now).
  void Unlink() noexcept;
  // Publisher, once the region is live (Writer::Go): tells ChannelWatch sleepers to look again. The name appears
  // before the region is live, so a subscriber woken by its appearance may have found it still starting.
  void Announce() const noexcept;

  void *base() const noexcept { return base_; }
  uint64_t size() const noexcept { return size_; }
  bool valid() const noexcept { return base_ != nullptr; }
  // The OS name (for tests and diagnostics), UTF-8. Linux: the path of the locator.
  const std::string &name() const noexcept { return name_; }

  // Sleeps while *word == expected, at most timeout_ns (negative: no limit); may return early. `word` must lie in
  // this region. Wake wakes up to `count` sleepers of `word` in every process (count < 0: all) and returns how many
  // it woke, or -1 when the OS does not say (Windows' semaphores) or the call failed.
  void Wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns) const noexcept;
  int Wake(std::atomic<uint32_t> *word, int count) const noexcept;

 private:
  void Reset() noexcept;
  void *base_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  intptr_t handle_ = -1;       // Linux: the publisher's memfd (subscribers keep the mapping only); Windows: the mapping
  intptr_t directory_ = -1;    // Linux: the publisher's channel directory (where Unlink removes its name)
#if defined(_WIN32)
  static constexpr int kAuxCount = 16;
  intptr_t aux_[kAuxCount] = {};  // the words' named semaphores, the directory mapping and its view, the generation
#endif
  uint64_t identity_[2] = {};  // Linux: device and inode of our locator, to unlink only our own name
};

#if defined(__linux__)
// The path of `folded`'s locator in the user's channel directory, which it creates if missing (for tests: they
// write hostile locators there). MAPIOFFLINE_E_ACCESS_DENIED, with *detail, as for Region::Create.
HRESULT LocatorPath(const std::u16string &folded, std::string *out, const char **detail) noexcept;
#endif

// This process's identity as written into Header::publisher_pid / publisher_start.
uint32_t SelfPid() noexcept;
uint64_t SelfStartTime() noexcept;
// True while the process (pid, start) runs; a process of that pid with another start time (pid reuse) counts as
// gone. start 0 accepts any process of that pid.
bool ProcessAlive(uint32_t pid, uint64_t start) noexcept;

// Watches one publisher process from a subscriber, without polling.
class PublisherWatch {
 public:
  PublisherWatch() = default;
  ~PublisherWatch();
  PublisherWatch(const PublisherWatch &) = delete;
  PublisherWatch &operator=(const PublisherWatch &) = delete;
  // False when the process is already gone (or cannot be watched: then it is treated as gone, never as alive).
  bool Start(uint32_t pid, uint64_t start) noexcept;
  // Blocks until the process has died (true) or Cancel() was called (false). One thread at a time.
  bool WaitForDeath() noexcept;
  // Any thread: makes a WaitForDeath in progress (or the next one) return false.
  void Cancel() noexcept;

 private:
  intptr_t process_ = -1;  // Linux: pidfd; Windows: process HANDLE
  intptr_t cancel_ = -1;   // Linux: eventfd; Windows: event HANDLE
};

// Waits for a channel's name to appear (a publisher starting), for open_offline(wait=...). Start it before the
// check it guards (an attempt to open), so that a publisher starting in between is not missed.
// Linux: inotify on the directory that holds the channel's names, woken by the name's creation and by
// Region::Announce. Windows (its kernel object namespace has no change notification) and a Linux directory that
// cannot be watched: a bounded interval, kFallbackSliceNs.
class ChannelWatch {
 public:
  static constexpr int64_t kFallbackSliceNs = 250000000;
  ChannelWatch() = default;
  ~ChannelWatch();
  ChannelWatch(const ChannelWatch &) = delete;
  ChannelWatch &operator=(const ChannelWatch &) = delete;
  // Throws std::bad_alloc.
  void Start(const std::u16string &folded);
  // Returns when the name may have appeared, when a signal arrived (POSIX), or after timeout_ns (negative: no
  // limit), whichever comes first; the caller keeps its own deadline. True when the name may have changed (the
  // caller looks again; always, where the OS cannot tell: the bounded interval), false after the timeout or a signal.
  // One thread at a time.
  bool Wait(int64_t timeout_ns) noexcept;

 private:
  intptr_t handle_ = -1;  // Linux: the inotify descriptor
  std::string leaf_;      // Linux: the name's last component
};

}  // namespace channel
}  // namespace mapioffline
