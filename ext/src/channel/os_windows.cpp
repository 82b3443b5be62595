// The bridge channel's OS layer on Windows: named file mappings with a DACL that admits only the user's SID, named
// semaphores for the words sleepers wait on, the publisher's process handle for its death.
//
// A named mapping lives while any handle to it is open, so a dead publisher's subscribers would keep its name
// alive: a small per-profile "directory" mapping (fixed name) says which generation of the channel is current, and
// a new publisher creates the next generation ("...-g<N>") instead of reusing the name.
//
// Words: WaitOnAddress does not cross processes, so each word subscribers or the publisher sleep on (wake_word,
// request_word, each request slot's state) has a named semaphore. Wait checks the word first, then waits for a
// token; Wake releases tokens. A token released before the waiter waits stays in the semaphore (the futex's atomic
// compare is replaced by counting); a token nobody needed makes one later wait return early, and every caller looks
// again after a wait. Known limit, which the futex does not have: a semaphore's tokens are not tied to the value a
// waiter checked, so a subscriber preempted between its check and its wait can find its token taken by another
// one that went back to sleep on a newer value; it then sleeps until the next publication. And Wake cannot say
// whom it woke (it returns -1), so the publisher's heal (writer.cpp) cannot tell a wake nobody took from one not
// passed on: untaken tokens are capped (kTokenCap) so that they cannot pile up.
//
// Other users: the names live in a private namespace of the user's, per session ("mapioffline-s<session>\..."):
// its boundary holds the user's SID, so only a process whose token carries that SID can create it, and its DACL
// admits only the user, so no one else can open it, create a name in it or list the profiles in it. That is the
// Windows equivalent of Linux's 0700 channel directory. Users of other sessions never meet these names either.
// Where the system has no private namespaces (Wine: its CreateBoundaryDescriptorW is a stub), the names fall back
// to the session's Local\ namespace, "Local\mapioffline-<SID>-...": there another user's process in this session
// (runas) can create a name first and see the names. What keeps it out then: a mapping or semaphore that exists
// already is never shared (the publisher takes the next generation), objects are checked for their owner before
// use (the message names the owner), and the DACL keeps everyone else out; but the directory's name is fixed, so
// such a process can keep the user from publishing (the message says so).
//
// Liveness: the subscriber opens the publisher's process (SYNCHRONIZE) and checks its creation time against the
// one in the region (a reused pid is not the publisher); a watcher thread waits on the process handle, which is
// signalled when the process ends, however it ends.
#if defined(_WIN32)
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "channel/layout.h"
#include "channel/os.h"
#include "channel/region_name.h"

namespace mapioffline {
namespace channel {

namespace {

constexpr int kWordCount = 2 + static_cast<int>(kRequestSlots);  // wake_word, request_word, slots
constexpr int kDirectoryHandle = 12;                            // aux_ index of the directory mapping
constexpr int kDirectoryView = 13;                              // aux_ index of its view
constexpr int kGeneration = 14;                                 // aux_ index: the generation this region is
constexpr uint32_t kDirectoryMagic = 0x52444F4Du;               // "MODR"
constexpr LONG kMaxTokens = 0x7FFFFFFF;
constexpr LONG kTokenCap = 64;  // untaken tokens beyond this are taken back by the Wake that released them

// The per-profile directory: which generation of the channel is current, and who publishes it.
struct Directory {
  uint32_t magic;
  std::atomic<uint32_t> generation;
  uint32_t publisher_pid;
  uint32_t reserved;
  uint64_t publisher_start;
};

// A SID of this process's token as a string ("S-1-5-21-..."): the user (TokenUser) or the default owner of the
// objects it creates (TokenOwner: the user, or Administrators for an elevated process). Empty if unreadable.
std::wstring TokenSid(TOKEN_INFORMATION_CLASS which) {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return L"";
  DWORD size = 0;
  GetTokenInformation(token, which, nullptr, 0, &size);
  std::wstring result;
  if (size > 0) {
    std::string buffer(size, '\0');
    if (GetTokenInformation(token, which, &buffer[0], size, &size)) {
      PSID sid = which == TokenUser ? reinterpret_cast<TOKEN_USER *>(&buffer[0])->User.Sid
                                    : reinterpret_cast<TOKEN_OWNER *>(&buffer[0])->Owner;
      LPWSTR text = nullptr;
      if (ConvertSidToStringSidW(sid, &text)) {
        result = text;
        LocalFree(text);
      }
    }
  }
  CloseHandle(token);
  return result;
}

std::wstring UserSid() { return TokenSid(TokenUser); }

// A security descriptor whose DACL grants everything to the user and nothing to anyone else (protected: no
// inherited entries). LocalFree it.
PSECURITY_DESCRIPTOR OwnerOnly(const std::wstring &sid) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  const std::wstring sddl = L"D:P(A;;GA;;;" + sid + L")";
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &sd, nullptr)) {
    return nullptr;
  }
  return sd;
}

// The owner SID of a kernel object, read with GetSecurityInfo; sid() is null when the object does not let us read it.
class ObjectOwner {
 public:
  explicit ObjectOwner(HANDLE object) {
    if (GetSecurityInfo(object, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &sid_, nullptr, nullptr, nullptr,
                        &sd_) != ERROR_SUCCESS) {
      sid_ = nullptr;
      sd_ = nullptr;
    }
  }
  ~ObjectOwner() {
    if (sd_) LocalFree(sd_);
  }
  ObjectOwner(const ObjectOwner &) = delete;
  ObjectOwner &operator=(const ObjectOwner &) = delete;
  PSID sid() const { return sid_; }

 private:
  PSID sid_ = nullptr;
  PSECURITY_DESCRIPTOR sd_ = nullptr;  // owns the memory sid_ points into
};

// True when the kernel object's owner is this user (a squatter's object would have another owner).
bool OwnedByUser(HANDLE object) {
  const ObjectOwner owner(object);
  LPWSTR text = nullptr;
  if (!owner.sid() || !ConvertSidToStringSidW(owner.sid(), &text)) return false;
  // Our own objects are owned by our token's default owner: the user, or Administrators when elevated (as under
  // Wine). Anyone else's object is refused.
  const bool mine = UserSid() == text || TokenSid(TokenOwner) == text;
  LocalFree(text);
  return mine;
}

// The owner of a kernel object, for a message: "DOMAIN\name (S-1-5-...)", the SID alone when it has no account
// name, "an unknown owner" when the object does not let us read it. In a buffer of the calling thread's until its
// next call (the bridge's details are static strings otherwise).
const char *OwnerText(HANDLE object) {
  static thread_local char text[512];
  std::snprintf(text, sizeof text, "an unknown owner");
  const ObjectOwner owner(object);
  LPSTR sid = nullptr;
  if (!owner.sid() || !ConvertSidToStringSidA(owner.sid(), &sid)) return text;
  char name[256], domain[256];
  DWORD name_size = sizeof name, domain_size = sizeof domain;
  SID_NAME_USE use;
  if (LookupAccountSidA(nullptr, owner.sid(), name, &name_size, domain, &domain_size, &use)) {
    std::snprintf(text, sizeof text, "%s\\%s (%s)", domain, name, sid);
  } else {
    std::snprintf(text, sizeof text, "%s", sid);
  }
  LocalFree(sid);
  return text;
}

// *detail for a channel object that belongs to someone else: what it is and whose.
const char *NotOurs(const char *what, HANDLE object) {
  static thread_local char text[768];
  std::snprintf(text, sizeof text, "%s belongs to %s, not to this user: refusing it", what, OwnerText(object));
  return text;
}

std::wstring Widen(const std::string &s) { return std::wstring(s.begin(), s.end()); }

// A string SID is ASCII ("S-1-5-21-...": S, digits, dashes), so each wchar_t fits in a char. Said with a cast:
// std::string(sid.begin(), sid.end()) narrows implicitly (MSVC's C4244).
std::string NarrowAscii(const std::wstring &ascii) {
  std::string out;
  out.reserve(ascii.size());
  for (const wchar_t c : ascii) out.push_back(static_cast<char>(c));
  return out;
}

// The user's private namespace for this session, opened (created if no process of the user's has it open) once per
// process and kept open until the module unloads: names with its prefix resolve only while the process has it open.
class PrivateNamespace {
 public:
  ~PrivateNamespace() {
    if (handle_) ClosePrivateNamespace(handle_, 0);
  }

  // The prefix of the channel's object names: "mapioffline-s<session>\", or "Local\mapioffline-<SID>-" where the
  // system has no private namespaces. MAPIOFFLINE_E_ACCESS_DENIED or MAPI_E_CALL_FAILED, with *detail, when the
  // namespace cannot be had.
  HRESULT Prefix(const std::wstring &sid, std::string *out, const char **detail) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (prefix_.empty()) {
      const HRESULT hr = Open(sid, detail);
      if (FAILED(hr)) return hr;
    }
    *out = prefix_;
    return S_OK;
  }

 private:
  HRESULT Open(const std::wstring &sid, const char **detail) {
    SetLastError(ERROR_SUCCESS);
    HANDLE boundary = CreateBoundaryDescriptorW(L"mapioffline", 0);
    if (!boundary && GetLastError() == ERROR_SUCCESS) {
      // NULL without a reason: the call is a stub (Wine 8), so private namespaces do not exist here.
      prefix_ = "Local\\mapioffline-" + NarrowAscii(sid) + "-";
      return S_OK;
    }
    PSID user = nullptr;
    PSECURITY_DESCRIPTOR sd = OwnerOnly(sid);
    if (!boundary || !sd || !ConvertStringSidToSidW(sid.c_str(), &user) || !AddSIDToBoundaryDescriptor(&boundary, user)) {
      if (boundary) DeleteBoundaryDescriptor(boundary);
      if (user) LocalFree(user);
      if (sd) LocalFree(sd);
      *detail = "cannot describe the user's private object namespace (its boundary or its security descriptor)";
      return MAPI_E_CALL_FAILED;
    }
    DWORD session = 0;
    ProcessIdToSessionId(GetCurrentProcessId(), &session);
    const std::string alias = "mapioffline-s" + std::to_string(session);
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    DWORD error = ERROR_SUCCESS;
    // Another process of the user's may hold the namespace (create fails: open it) and close it in between (open
    // fails: create it); a few rounds settle that race.
    for (int attempt = 0; !handle_ && attempt < 8; ++attempt) {
      handle_ = CreatePrivateNamespaceW(&sa, boundary, Widen(alias).c_str());
      if (handle_) break;
      error = GetLastError();
      if (error != ERROR_ALREADY_EXISTS) break;
      handle_ = OpenPrivateNamespaceW(boundary, Widen(alias).c_str());
      if (!handle_) error = GetLastError();
    }
    DeleteBoundaryDescriptor(boundary);
    LocalFree(user);
    LocalFree(sd);
    if (!handle_) {
      // Only a token that carries the user's SID can create the namespace, and its DACL admits only the user: a
      // refusal means a process acting as the user made it with a DACL that keeps the user out.
      const bool denied = error == ERROR_ACCESS_DENIED;
      *detail = denied ? "the user's private object namespace exists but denies this user access"
                       : "cannot create or open the user's private object namespace";
      return denied ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_CALL_FAILED;
    }
    prefix_ = alias + "\\";
    return S_OK;
  }

  std::mutex mutex_;
  HANDLE handle_ = nullptr;
  std::string prefix_;  // empty until known
};

// An object whose DACL keeps us out holds the directory's name: another user's, which took the name first (only in
// the Local\ fallback: no one else can create a name in the user's private namespace). Its owner cannot be named:
// reading it needs a handle, which the DACL refuses.
constexpr const char *kDirectoryDenied =
    "the channel's directory name is held by another user's object, which denies this user access (another user "
    "created it first; its owner cannot be read)";

// The base of a profile's object names (the directory's name; the channel's generations add "-g<N>").
HRESULT BaseName(const std::u16string &folded, const std::wstring &sid, std::string *out, const char **detail) {
  static PrivateNamespace names;
  std::string prefix;
  const HRESULT hr = names.Prefix(sid, &prefix, detail);
  if (FAILED(hr)) return hr;
  *out = prefix + ProfileHash(folded);
  return S_OK;
}

std::string ChannelName(const std::string &base, uint32_t generation) {
  return base + "-g" + std::to_string(generation);
}

uint64_t FileTimeOf(HANDLE process) {
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(process, &created, &exited, &kernel, &user)) return 0;
  return (static_cast<uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

}  // namespace

uint32_t SelfPid() noexcept { return static_cast<uint32_t>(GetCurrentProcessId()); }

uint64_t SelfStartTime() noexcept { return FileTimeOf(GetCurrentProcess()); }

bool ProcessAlive(uint32_t pid, uint64_t start) noexcept {
  if (pid == 0) return false;
  HANDLE process = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!process) return false;
  const bool running = WaitForSingleObject(process, 0) == WAIT_TIMEOUT;
  const bool same = start == 0 || FileTimeOf(process) == start;
  CloseHandle(process);
  return running && same;
}

void Region::Reset() noexcept {
  if (base_) UnmapViewOfFile(base_);
  if (handle_ != -1 && handle_ != 0) CloseHandle(reinterpret_cast<HANDLE>(handle_));
  for (int i = 0; i < kWordCount; ++i) {
    if (aux_[i]) CloseHandle(reinterpret_cast<HANDLE>(aux_[i]));
    aux_[i] = 0;
  }
  if (aux_[kDirectoryView]) UnmapViewOfFile(reinterpret_cast<void *>(aux_[kDirectoryView]));
  if (aux_[kDirectoryHandle]) CloseHandle(reinterpret_cast<HANDLE>(aux_[kDirectoryHandle]));
  aux_[kDirectoryView] = aux_[kDirectoryHandle] = 0;
  base_ = nullptr;
  size_ = 0;
  handle_ = -1;
}

HRESULT Region::Create(const std::u16string &folded, uint64_t size, Region *out, const char **detail) noexcept {
  try {
    const std::wstring sid = UserSid();
    if (sid.empty()) {
      *detail = "cannot read this process's user";
      return MAPI_E_CALL_FAILED;
    }
    std::string base;
    HRESULT hr = BaseName(folded, sid, &base, detail);
    if (FAILED(hr)) return hr;
    PSECURITY_DESCRIPTOR sd = OwnerOnly(sid);
    if (!sd) {
      *detail = "cannot build the channel's security descriptor";
      return MAPI_E_CALL_FAILED;
    }
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    Region region;
    // The directory: created if new, else reused (its previous publisher must be gone).
    HANDLE dir = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, sizeof(Directory),
                                    Widen(base).c_str());
    const bool existed = dir && GetLastError() == ERROR_ALREADY_EXISTS;
    Directory *d = dir ? static_cast<Directory *>(MapViewOfFile(dir, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(Directory)))
                       : nullptr;
    region.aux_[kDirectoryHandle] = reinterpret_cast<intptr_t>(dir);
    region.aux_[kDirectoryView] = reinterpret_cast<intptr_t>(d);
    if (!dir && GetLastError() == ERROR_ACCESS_DENIED) {
      // Only an object that another user created first (with a DACL that keeps us out) denies us its name.
      *detail = kDirectoryDenied;
      hr = MAPIOFFLINE_E_ACCESS_DENIED;
    } else if (!d || (existed && !OwnedByUser(dir))) {
      *detail = d ? NotOurs("the channel's directory", dir) : "cannot create the channel's directory";
      hr = d ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_CALL_FAILED;
    } else if (existed && d->magic == kDirectoryMagic && ProcessAlive(d->publisher_pid, d->publisher_start)) {
      *detail = "a live publisher already publishes this profile";
      hr = MAPI_E_CALL_FAILED;
    }
    uint32_t generation = existed && d && d->magic == kDirectoryMagic ? d->generation.load() : 0;
    for (int attempt = 0; SUCCEEDED(hr) && attempt < 64; ++attempt) {
      ++generation;  // a name some old subscriber still holds cannot be reused: take the next one
      const std::string name = ChannelName(base, generation);
      HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, static_cast<DWORD>(size >> 32),
                                         static_cast<DWORD>(size), Widen(name).c_str());
      if (mapping && GetLastError() == ERROR_ALREADY_EXISTS) {
        CloseHandle(mapping);
        continue;
      }
      if (!mapping) break;
      void *view = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, static_cast<SIZE_T>(size));
      if (!view) {
        CloseHandle(mapping);
        break;
      }
      region.base_ = view;  // fresh pagefile-backed sections are zero-filled
      region.size_ = size;
      region.name_ = name;
      region.handle_ = reinterpret_cast<intptr_t>(mapping);
      // Every word's semaphore must be new, as the mapping is: one that exists already (another user's process in
      // this session may have made it, and could take the wake-ups) is not shared; the next generation is taken.
      bool taken = false;
      for (int i = 0; i < kWordCount && !taken && SUCCEEDED(hr); ++i) {
        const std::string word = name + "-w" + std::to_string(i);
        HANDLE semaphore = CreateSemaphoreW(&sa, 0, kMaxTokens, Widen(word).c_str());
        const DWORD error = GetLastError();
        if (semaphore && error == ERROR_ALREADY_EXISTS) {
          CloseHandle(semaphore);
          taken = true;
        } else if (!semaphore) {
          if (error == ERROR_ACCESS_DENIED) {
            taken = true;
          } else {
            hr = MAPI_E_CALL_FAILED;
          }
        } else {
          region.aux_[i] = reinterpret_cast<intptr_t>(semaphore);
        }
      }
      if (taken) {
        UnmapViewOfFile(view);
        CloseHandle(mapping);
        for (int i = 0; i < kWordCount; ++i) {
          if (region.aux_[i]) CloseHandle(reinterpret_cast<HANDLE>(region.aux_[i]));
          region.aux_[i] = 0;
        }
        region.base_ = nullptr;
        region.size_ = 0;
        region.handle_ = -1;
        continue;
      }
      break;
    }
    LocalFree(sd);
    if (SUCCEEDED(hr) && !region.base_) {
      *detail = "cannot create the channel's shared memory";
      hr = MAPI_E_CALL_FAILED;
    }
    if (FAILED(hr)) return hr;
    d->magic = kDirectoryMagic;
    d->publisher_pid = SelfPid();
    d->publisher_start = SelfStartTime();
    d->generation.store(generation, std::memory_order_release);
    region.aux_[kGeneration] = static_cast<intptr_t>(generation);
    *out = std::move(region);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

HRESULT Region::Open(const std::u16string &folded, Region *out, const char **detail) noexcept {
  try {
    std::string base;
    const HRESULT named = BaseName(folded, UserSid(), &base, detail);
    if (FAILED(named)) return named;
    HANDLE dir = OpenFileMappingW(FILE_MAP_READ | READ_CONTROL, FALSE, Widen(base).c_str());  // READ_CONTROL: owner check
    if (!dir) {
      const bool denied = GetLastError() == ERROR_ACCESS_DENIED;
      *detail = denied ? kDirectoryDenied : "no publisher for this profile";
      return denied ? MAPIOFFLINE_E_ACCESS_DENIED : MAPI_E_NOT_FOUND;
    }
    Region region;
    region.aux_[kDirectoryHandle] = reinterpret_cast<intptr_t>(dir);
    auto *d = static_cast<const Directory *>(MapViewOfFile(dir, FILE_MAP_READ, 0, 0, sizeof(Directory)));
    region.aux_[kDirectoryView] = reinterpret_cast<intptr_t>(d);
    if (!d || !OwnedByUser(dir)) {
      *detail = d ? NotOurs("the channel's directory", dir) : "the channel's directory cannot be mapped";
      return MAPIOFFLINE_E_ACCESS_DENIED;
    }
    if (d->magic != kDirectoryMagic) {
      *detail = "the publisher is still starting";
      return MAPI_E_NOT_FOUND;
    }
    const std::string name = ChannelName(base, d->generation.load(std::memory_order_acquire));
    HANDLE mapping = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL, FALSE, Widen(name).c_str());
    if (!mapping) {
      *detail = "no publisher for this profile (its channel is gone)";
      return MAPI_E_NOT_FOUND;
    }
    region.handle_ = reinterpret_cast<intptr_t>(mapping);
    if (!OwnedByUser(mapping)) {
      *detail = NotOurs("the channel", mapping);
      return MAPIOFFLINE_E_ACCESS_DENIED;
    }
    void *view = MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    if (!view) {
      *detail = "cannot map the channel";
      return E_OUTOFMEMORY;
    }
    region.base_ = view;
    MEMORY_BASIC_INFORMATION info;
    region.size_ = VirtualQuery(view, &info, sizeof info) ? static_cast<uint64_t>(info.RegionSize) : 0;
    region.name_ = name;
    if (region.size_ < sizeof(Header)) {
      *detail = "the channel's size is out of bounds";
      return MAPIOFFLINE_E_CHANNEL_CORRUPT;
    }
    for (int i = 0; i < kWordCount; ++i) {
      const std::string word = name + "-w" + std::to_string(i);
      region.aux_[i] = reinterpret_cast<intptr_t>(
          OpenSemaphoreW(SEMAPHORE_MODIFY_STATE | SYNCHRONIZE | READ_CONTROL, FALSE, Widen(word).c_str()));
      if (!region.aux_[i]) {
        *detail = "the channel's wake-up objects are missing";
        return MAPI_E_NOT_FOUND;
      }
      if (!OwnedByUser(reinterpret_cast<HANDLE>(region.aux_[i]))) {
        *detail = NotOurs("the channel's wake-up object", reinterpret_cast<HANDLE>(region.aux_[i]));
        return MAPIOFFLINE_E_ACCESS_DENIED;
      }
    }
    *out = std::move(region);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
}

// Names go away with their last handle, and a new publisher moves the directory on to a new generation; what is
// left to do is to stop naming ourselves as the live publisher, so that this process may publish again.
void Region::Unlink() noexcept {
  auto *d = reinterpret_cast<Directory *>(aux_[kDirectoryView]);
  if (d && d->generation.load(std::memory_order_acquire) == static_cast<uint32_t>(aux_[kGeneration]) &&
      d->publisher_pid == SelfPid()) {
    d->publisher_pid = 0;
  }
}

namespace {

// The semaphore of a word of the region, or -1 for an address that is not one of our words.
int WordIndex(const void *base, const std::atomic<uint32_t> *word) {
  const auto *h = static_cast<const Header *>(base);
  if (!h) return -1;
  if (word == &h->wake_word) return 0;
  if (word == &h->request_word) return 1;
  for (uint32_t i = 0; i < kRequestSlots; ++i) {
    if (word == &h->slots[i].state) return 2 + static_cast<int>(i);
  }
  return -1;
}

}  // namespace

void Region::Wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns) const noexcept {
  const int index = WordIndex(base_, word);
  if (index < 0 || word->load(std::memory_order_acquire) != expected) return;
  DWORD ms = INFINITE;
  if (timeout_ns >= 0) {
    const int64_t rounded_up = (timeout_ns + 999999) / 1000000;
    ms = rounded_up >= static_cast<int64_t>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(rounded_up);
  }
  WaitForSingleObject(reinterpret_cast<HANDLE>(aux_[index]), ms);
}

int Region::Wake(std::atomic<uint32_t> *word, int count) const noexcept {
  const int index = WordIndex(base_, word);
  if (index < 0) return -1;
  LONG tokens = count;
  if (count < 0) {
    // "Everyone": as many tokens as subscribers are counted asleep (a value from the region: clamped).
    const uint32_t sleepers = index == 0 ? static_cast<const Header *>(base_)->sleepers.load() : 1;
    tokens = static_cast<LONG>(sleepers < 1 ? 1 : (sleepers > 4096 ? 4096 : sleepers));
  }
  LONG before = 0;
  if (ReleaseSemaphore(reinterpret_cast<HANDLE>(aux_[index]), tokens, &before) && before >= kTokenCap) {
    // Nobody took the last kTokenCap: later waiters will find those; ours would only make them spin longer.
    for (LONG i = 0; i < tokens; ++i) WaitForSingleObject(reinterpret_cast<HANDLE>(aux_[index]), 0);
  }
  return -1;  // a semaphore does not say who takes its tokens
}

PublisherWatch::~PublisherWatch() {
  if (process_ != -1 && process_ != 0) CloseHandle(reinterpret_cast<HANDLE>(process_));
  if (cancel_ != -1 && cancel_ != 0) CloseHandle(reinterpret_cast<HANDLE>(cancel_));
}

bool PublisherWatch::Start(uint32_t pid, uint64_t start) noexcept {
  HANDLE cancel = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  cancel_ = cancel ? reinterpret_cast<intptr_t>(cancel) : -1;
  HANDLE process = pid ? OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid) : nullptr;
  process_ = process ? reinterpret_cast<intptr_t>(process) : -1;
  if (!cancel || !process) return false;
  // The handle pins the process object: if its creation time matches and it still runs, it is the publisher.
  return WaitForSingleObject(process, 0) == WAIT_TIMEOUT && FileTimeOf(process) == start;
}

bool PublisherWatch::WaitForDeath() noexcept {
  if (process_ == -1 || cancel_ == -1) return true;
  HANDLE handles[2] = {reinterpret_cast<HANDLE>(process_), reinterpret_cast<HANDLE>(cancel_)};
  const DWORD r = WaitForMultipleObjects(2, handles, FALSE, INFINITE);
  return r != WAIT_OBJECT_0 + 1;
}

void PublisherWatch::Cancel() noexcept {
  if (cancel_ != -1) SetEvent(reinterpret_cast<HANDLE>(cancel_));
}

// Named kernel objects have no change notification: Announce has nothing to do, and ChannelWatch is the bounded
// interval os.h describes (one OpenFileMappingW by the caller per slice).
void Region::Announce() const noexcept {}

ChannelWatch::~ChannelWatch() = default;

void ChannelWatch::Start(const std::u16string &) {}

bool ChannelWatch::Wait(int64_t timeout_ns) noexcept {
  int64_t slice = kFallbackSliceNs;
  if (timeout_ns >= 0 && timeout_ns < slice) slice = timeout_ns;
  Sleep(static_cast<DWORD>((slice + 999999) / 1000000));
  return true;  // nothing tells whether the name changed: look again
}

}  // namespace channel
}  // namespace mapioffline
#endif  // _WIN32
