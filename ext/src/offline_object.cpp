#include "offline_object.h"

#include <chrono>
#include <new>
#include <unordered_map>

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include "advise_table.h"
#include "fork_generation.h"
#include "profile_key.h"

namespace mapioffline {

namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::u16string, OfflineObject *> objects;  // weak: an entry does not hold a reference
};

// Leaked on purpose: objects may be released by other threads during static destruction at exit. A fork child
// gets a fresh one (ChildAfterFork), so the pointer is replaced there, while the child has a single thread.
Registry *&RegistryPointer() {
  static Registry *registry = new Registry;
  return registry;
}

Registry &TheRegistry() { return *RegistryPointer(); }

#if !defined(_WIN32)
// fork(): the registry mutex is held across it, so that the child never inherits it locked by a thread that does
// not exist there (open_offline would hang). The child drops the parent's objects from its registry: their
// threads are gone, so a child that opens a profile gets a fresh object; the old ones leak (Inherited()).
void LockBeforeFork() { TheRegistry().mutex.lock(); }
void UnlockInParent() { TheRegistry().mutex.unlock(); }
void ChildAfterFork() {
  if (Registry *fresh = new (std::nothrow) Registry) {
    RegistryPointer() = fresh;
    return;
  }
  // No memory for a new one: this thread locked the old mutex before the fork, so it may unlock it.
  Registry &old = TheRegistry();
  old.objects.clear();
  old.mutex.unlock();
}

// Registered while the library loads, before any thread of ours exists.
[[maybe_unused]] const int g_at_fork = (RegistryPointer(), pthread_atfork(LockBeforeFork, UnlockInParent,
                                                                           ChildAfterFork));
#endif

}  // namespace

HRESULT OfflineObject::Open(ULONG reserved, const WCHAR *profile, const GUID *guid, const GUID *reserved_guid,
                            IMAPIOfflineMgr **out) noexcept {
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (reserved != 0 || reserved_guid != nullptr || ProfileNameError(profile)) return E_INVALIDARG;
  if (guid == nullptr || !IsEqualGUID(*guid, GUID_GlobalState)) return MAPI_E_NOT_FOUND;
  try {
    std::u16string key = FoldProfileName(profile);
    Registry &registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.objects.find(key);
    if (it != registry.objects.end() && it->second->TryAddRef()) {
      *out = it->second;
      return S_OK;
    }
    // Absent, or its last reference is being released right now: that one is gone, make a fresh object.
    auto *object = new OfflineObject(key);
    registry.objects[key] = object;
    *out = object;
    return S_OK;
  } catch (const std::bad_alloc &) {
    return E_OUTOFMEMORY;
  }
}

OfflineObject::OfflineObject(std::u16string key) : key_(std::move(key)), generation_(ForkGeneration()) {
  RememberVtable();
}

bool OfflineObject::Inherited() const noexcept { return generation_ != ForkGeneration(); }

void OfflineObject::LastRelease() noexcept {
  // In a fork child an inherited object leaks: its worker does not exist there and its locks may be held.
  if (!Inherited()) Destroy();
}

// The last reference is gone. We leave the registry at once, so that the next open of the profile makes a fresh
// object even while our last change is still finishing; every registration ends as Unadvise would end it, so the
// rest of that change reaches nobody. Then the worker is stopped and joined (its current change completes first).
// If this thread is the one delivering our change (a sink released the last reference from inside Notify, on
// the worker or on a FLAG_BLOCK caller's thread), it deletes us once RunChange has returned (FinishDestroy).
void OfflineObject::Destroy() noexcept {
  {
    Registry &registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.objects.find(key_);
    if (it != registry.objects.end() && it->second == this) registry.objects.erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_stop_ = true;
  }
  cv_.notify_all();  // the worker, waiting for a job
  sinks_.Clear();
  if (sinks_.InsideCall()) {
    delete_after_change_ = true;
    return;
  }
  FinishDestroy(/*on_worker=*/false);
}

// Deletes us. On the worker (after its RunChange) the thread detaches itself and must not touch us afterwards.
void OfflineObject::FinishDestroy(bool on_worker) noexcept {
  if (worker_.joinable()) {
    if (on_worker) {
      worker_.detach();
    } else {
      worker_.join();
    }
  }
  delete this;
}

HRESULT OfflineObject::GetCapabilities(ULONG *capabilities) noexcept {
  if (!capabilities) return E_INVALIDARG;
  *capabilities = MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE;
  return S_OK;
}

HRESULT OfflineObject::GetCurrentState(ULONG *state) noexcept {
  if (!state) return E_INVALIDARG;
  *state = state_.load(std::memory_order_acquire);
  return S_OK;
}

HRESULT OfflineObject::SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept {
  // Argument checks first (spec §7.6), then the in-flight check.
  if (flags & ~MAPIOFFLINE_FLAG_BLOCK) return MAPI_E_UNKNOWN_FLAGS;
  if (mask != MAPIOFFLINE_STATE_OFFLINE_MASK || reserved != nullptr) return E_INVALIDARG;
  if (state != MAPIOFFLINE_STATE_ONLINE && state != MAPIOFFLINE_STATE_OFFLINE) return E_INVALIDARG;
  if (Inherited()) return MAPI_E_CALL_FAILED;  // fork child: our worker is gone, our mutex may be held forever
  const bool block = (flags & MAPIOFFLINE_FLAG_BLOCK) != 0;
  // A blocking change from inside our own Notify would wait for itself (Outlook deadlocks here): refuse.
  if (block && sinks_.InsideCall()) return E_PENDING;

  std::unique_lock<std::mutex> lock(mutex_);
  if (running_) {
    // START and STATECHANGE: in flight. One follow-up at a time: a second request while one is queued must not
    // be dropped silently or overtake it, so it is refused too (the caller may retry after wait_idle).
    if (!in_done_ || queued_state_ != 0) return E_PENDING;
    // DONE is being handed out: whoever has seen it may act on it (spec §7.4, refinement 0.2).
    if (state_.load(std::memory_order_relaxed) == state) {
      // A no-op after the current change: nothing is sent. FLAG_BLOCK still promises that DONE reached every sink
      // when we return, and the DONE that brought the state here is still on its way to some: wait for its phase.
      if (block) {
        const uint64_t phase = done_phases_;
        cv_.wait(lock, [this, phase] { return done_phases_ != phase; });
      }
      return S_OK;
    }
    if (!block) {
      if (!EnsureWorker()) return E_OUTOFMEMORY;
      queued_state_ = state;
      queued_blocking_ = false;
      return S_OK;
    }
    // FLAG_BLOCK: wait for the DONE phase to end, then carry the change out here, as an idle object would.
    queued_state_ = state;
    queued_blocking_ = true;
    cv_.wait(lock, [this] { return handoff_; });
    handoff_ = false;
  } else {
    if (state_.load(std::memory_order_relaxed) == state) return S_OK;  // no-op: no notifications (spec §7.5)
    if (!block) {
      if (!EnsureWorker()) return E_OUTOFMEMORY;
      running_ = true;
      worker_job_ = state;
      lock.unlock();
      cv_.notify_all();
      return S_OK;
    }
    running_ = true;
  }
  lock.unlock();
  RunChange(state);  // on the caller's thread: when it returns, every Notify/AddRef/Release has finished
  // Only when a sink released the last reference from inside Notify, which a caller holding its own (as COM
  // requires) never lets happen; handled rather than left to crash.
  if (delete_after_change_) FinishDestroy(/*on_worker=*/false);
  return S_OK;
}

HRESULT OfflineObject::WaitIdle(int64_t timeout_ns) noexcept {
  if (Inherited()) return MAPI_E_CALL_FAILED;
  // Inside our Notify the change cannot end before we return: refused, like FLAG_BLOCK there, but with its own
  // HRESULT so that a caller waiting in slices (the binding) can tell it from a timeout.
  if (sinks_.InsideCall()) return MAPI_E_CALL_FAILED;
  std::unique_lock<std::mutex> lock(mutex_);
  const auto idle = [this] { return !running_; };
  if (timeout_ns < 0) {
    cv_.wait(lock, idle);
    return S_OK;
  }
  return cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), idle) ? S_OK : E_PENDING;
}

// Under mutex_. Starts the worker on first use; false if no thread could be made.
bool OfflineObject::EnsureWorker() noexcept {
  if (worker_.joinable()) return true;
  try {
    worker_ = std::thread([this] { WorkerMain(); });
    return true;
  } catch (...) {
    return false;
  }
}

void OfflineObject::WorkerMain() noexcept {
  for (;;) {
    ULONG target;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return worker_stop_ || worker_job_ != 0; });
      if (worker_stop_) return;  // Destroy joins us; a job not started yet would reach no sink: dropped
      target = worker_job_;
      worker_job_ = 0;
    }
    RunChange(target);
    // A sink's Notify released the last reference: Destroy ran on this thread and left the deletion to us.
    if (delete_after_change_) {
      FinishDestroy(/*on_worker=*/true);
      return;
    }
  }
}

// Runs one change with running_ set. When its DONE phase ends, hands over to the follow-up queued during it (the
// worker or a waiting FLAG_BLOCK caller runs it), or ends "running".
void OfflineObject::RunChange(ULONG target) noexcept {
  const ULONG old_state = state_.load(std::memory_order_relaxed);
  const AdviseTable::Snapshot snapshot = sinks_.Current();  // without memory for it: the change happens, undelivered
  Deliver(snapshot, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START, old_state, target);
  Deliver(snapshot, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE, old_state, target);
  {
    // Both under the lock: a request that sees in_done_ also sees the new state (its no-op check).
    std::lock_guard<std::mutex> lock(mutex_);
    state_.store(target, std::memory_order_release);  // GetCurrentState reports the new state once DONE is sent
    in_done_ = true;
  }
  Deliver(snapshot, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE, old_state, target);

  std::lock_guard<std::mutex> lock(mutex_);
  in_done_ = false;
  ++done_phases_;
  if (queued_state_ != 0) {
    // Still running: the follow-up starts now. Its target differs from `target` (no-ops are never queued).
    if (queued_blocking_) {
      handoff_ = true;
    } else {
      worker_job_ = queued_state_;  // EnsureWorker ran when it was queued
    }
    queued_state_ = 0;
  } else {
    running_ = false;
  }
  cv_.notify_all();
}

void OfflineObject::Deliver(const AdviseTable::Snapshot &snapshot, MAPIOFFLINE_NOTIFY_TYPE type, ULONG old_state,
                            ULONG new_state) noexcept {
  MAPIOFFLINE_NOTIFY record;
  record.ulSize = sizeof record;
  record.NotifyType = type;
  record.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  record.Info.StateChange.ulStateOld = old_state;
  record.Info.StateChange.ulStateNew = new_state;
  sinks_.ForEachActive(snapshot, [&](const AdviseTable::Entry &entry) {
    record.ulClientToken = entry.client_token;
    entry.sink->Notify(&record);
  });
}

HRESULT OfflineObject::Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept {
  if (token) *token = 0;
  const HRESULT checked = AdviseTable::CheckArguments(flags, info, token);
  if (FAILED(checked)) return checked;
  if (Inherited()) return MAPI_E_CALL_FAILED;  // fork child: no thread would ever deliver to it
  return sinks_.Add(*info, token);
}

HRESULT OfflineObject::Unadvise(ULONG /*flags: ignored, always S_OK (spec §7.9)*/, ULONG token) noexcept {
  if (Inherited()) return S_OK;  // fork child: the registration leaks with the object
  sinks_.Remove(token);
  return S_OK;
}

}  // namespace mapioffline
