#include "offline_object.h"

#include <chrono>
#include <new>
#include <unordered_map>

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include "fork_generation.h"
#include "live_counters.h"
#include "profile_key.h"

namespace mapioffline {

// One registration made by Advise. `gate` counts Notify calls in progress; kInactive is set by Unadvise, after
// which no new call starts. It lets delivery skip the mutex on the per-notification path.
struct OfflineObject::Registration {
  static constexpr uint32_t kInactive = 0x80000000u;
  ULONG token;
  ULONG client_token;
  IMAPIOfflineNotify *sink;  // the one reference Advise took (through QueryInterface)
  std::atomic<uint32_t> gate{0};
  // Set by an Unadvise made from inside this registration's own Notify: the delivering thread (the same thread)
  // releases the reference once Notify has returned, so the sink outlives the call without a per-call AddRef.
  bool release_after_call = false;
};

// What the current thread is delivering, so that calls made from inside Notify are recognised.
struct OfflineObject::Delivery {
  const OfflineObject *object;
  const Registration *registration;
  MAPIOFFLINE_NOTIFY_TYPE type;
  const Delivery *outer;  // a Notify may call into another object that delivers too
};

namespace {

thread_local const void *t_delivery = nullptr;  // innermost OfflineObject::Delivery of this thread

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

std::atomic<const void *> g_object_vtable{nullptr};  // for FromInterface: set by the first object made

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
  if (reserved != 0 || reserved_guid != nullptr || profile == nullptr || profile[0] == 0) return E_INVALIDARG;
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
  LiveOfflineObjects().fetch_add(1, std::memory_order_relaxed);
  g_object_vtable.store(*reinterpret_cast<const void *const *>(this), std::memory_order_relaxed);
}

OfflineObject::~OfflineObject() { LiveOfflineObjects().fetch_sub(1, std::memory_order_relaxed); }

OfflineObject *OfflineObject::FromInterface(IUnknown *p) noexcept {
  const void *known = g_object_vtable.load(std::memory_order_relaxed);
  if (!p || !known || *reinterpret_cast<const void *const *>(p) != known) return nullptr;
  return static_cast<OfflineObject *>(reinterpret_cast<IMAPIOfflineMgr *>(p));
}

bool OfflineObject::Inherited() const noexcept { return generation_ != ForkGeneration(); }

bool OfflineObject::TryAddRef() noexcept {
  ULONG n = refs_.load(std::memory_order_relaxed);
  while (n != 0) {
    if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

HRESULT OfflineObject::QueryInterface(REFIID iid, void **out) noexcept {
  if (!out) return E_POINTER;
  *out = nullptr;
  if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IMAPIOffline) &&
      !IsEqualGUID(iid, IID_IMAPIOfflineMgr)) {
    return E_NOINTERFACE;
  }
  *out = static_cast<IMAPIOfflineMgr *>(this);  // single inheritance: one pointer for all three
  AddRef();
  return S_OK;
}

ULONG OfflineObject::AddRef() noexcept { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }

ULONG OfflineObject::Release() noexcept {
  const ULONG n = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  // In a fork child an inherited object leaks: its worker does not exist there and its locks may be held.
  if (n == 0 && !Inherited()) Destroy();
  return n;
}

// Under mutex_. Unadvise's rule for one registration: no Notify starts after this; wait for one in progress on
// another thread, not for one this thread is inside (that would wait for itself). True when the caller must now
// release the sink; false when the delivering thread (this one) releases it once that Notify has returned.
bool OfflineObject::Deactivate(Registration &registration, std::unique_lock<std::mutex> &lock) noexcept {
  registration.gate.fetch_or(Registration::kInactive, std::memory_order_acq_rel);
  const Delivery *inside = CurrentDelivery();
  const uint32_t own = (inside && inside->registration == &registration) ? 1 : 0;
  cv_.wait(lock, [&] {
    return (registration.gate.load(std::memory_order_acquire) & ~Registration::kInactive) <= own;
  });
  if (own) {
    registration.release_after_call = true;
    return false;
  }
  return true;
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
  std::map<ULONG, std::shared_ptr<Registration>> registrations;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    worker_stop_ = true;
    // Taken out first: Deactivate unlocks while it waits, and a Notify might call Unadvise meanwhile.
    registrations.swap(registrations_);
    for (auto &entry : registrations) Deactivate(*entry.second, lock);
  }
  cv_.notify_all();  // the worker, waiting for a job
  // Outside every lock. release_after_call is only ever set for a Notify this thread is inside (Deactivate).
  for (auto &entry : registrations) {
    if (!entry.second->release_after_call) entry.second->sink->Release();
  }
  if (CurrentDelivery()) {
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

const OfflineObject::Delivery *OfflineObject::CurrentDelivery() const noexcept {
  for (auto *d = static_cast<const Delivery *>(t_delivery); d; d = d->outer) {
    if (d->object == this) return d;
  }
  return nullptr;
}

HRESULT OfflineObject::SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept {
  // Argument checks first (spec §7.6), then the in-flight check.
  if (flags & ~MAPIOFFLINE_FLAG_BLOCK) return MAPI_E_UNKNOWN_FLAGS;
  if (mask != MAPIOFFLINE_STATE_OFFLINE_MASK || reserved != nullptr) return E_INVALIDARG;
  if (state != MAPIOFFLINE_STATE_ONLINE && state != MAPIOFFLINE_STATE_OFFLINE) return E_INVALIDARG;
  if (Inherited()) return MAPI_E_CALL_FAILED;  // fork child: our worker is gone, our mutex may be held forever
  const bool block = (flags & MAPIOFFLINE_FLAG_BLOCK) != 0;
  // A blocking change from inside our own Notify would wait for itself (Outlook deadlocks here): refuse.
  if (block && CurrentDelivery()) return E_PENDING;

  std::unique_lock<std::mutex> lock(mutex_);
  if (running_) {
    // START and STATECHANGE: in flight. One follow-up at a time: a second request while one is queued must not
    // be dropped silently or overtake it, so it is refused too (the caller may retry after wait_idle).
    if (!in_done_ || queued_state_ != 0) return E_PENDING;
    // DONE is being handed out: whoever has seen it may act on it (spec §7.4, refinement 0.2).
    if (state_.load(std::memory_order_relaxed) == state) return S_OK;  // no-op after the current change
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
  if (CurrentDelivery()) return MAPI_E_CALL_FAILED;
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
  RegistrationList snapshot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      snapshot.reserve(registrations_.size());
      for (auto &entry : registrations_) snapshot.push_back(entry.second);
    } catch (const std::bad_alloc &) {
      snapshot.clear();  // no memory to list the sinks: the change still happens, undelivered
    }
  }
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

void OfflineObject::Deliver(const RegistrationList &registrations, MAPIOFFLINE_NOTIFY_TYPE type, ULONG old_state,
                            ULONG new_state) noexcept {
  MAPIOFFLINE_NOTIFY record;
  record.ulSize = sizeof record;
  record.NotifyType = type;
  record.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  record.Info.StateChange.ulStateOld = old_state;
  record.Info.StateChange.ulStateNew = new_state;
  // One thread-local store per phase, not per sink: between two Notify calls only this loop runs on the thread.
  Delivery delivery{this, nullptr, type, static_cast<const Delivery *>(t_delivery)};
  t_delivery = &delivery;
  for (const auto &registration : registrations) {
    Registration &r = *registration;
    // acquire: pairs with Unadvise's fetch_or; once it set kInactive no call starts.
    if (r.gate.fetch_add(1, std::memory_order_acquire) & Registration::kInactive) {
      r.gate.fetch_sub(1, std::memory_order_release);
      continue;
    }
    delivery.registration = &r;
    record.ulClientToken = r.client_token;
    IMAPIOfflineNotify *sink = r.sink;
    // The registration's reference is held across the call: Unadvise on another thread waits for the gate, and
    // an Unadvise from inside this Notify leaves the release to us (release_after_call).
    sink->Notify(&record);
    delivery.registration = nullptr;
    if (r.release_after_call) {
      r.release_after_call = false;
      sink->Release();
    }
    if (r.gate.fetch_sub(1, std::memory_order_release) == (Registration::kInactive | 1)) {
      // An Unadvise on another thread may be waiting for this call to end.
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_all();
    }
  }
  t_delivery = delivery.outer;
}

HRESULT OfflineObject::Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept {
  if (token) *token = 0;
  if (flags != MAPIOFFLINE_ADVISE_DEFAULT || !info || !token) return E_INVALIDARG;
  if (Inherited()) return MAPI_E_CALL_FAILED;  // fork child: no thread would ever deliver to it
  if (info->ulSize < sizeof(MAPIOFFLINE_ADVISEINFO) || info->CallbackType != MAPIOFFLINE_CALLBACK_TYPE_NOTIFY ||
      !info->pCallback || info->ulAdviseTypes != MAPIOFFLINE_ADVISE_TYPE_STATECHANGE ||
      (info->ulStateMask & MAPIOFFLINE_STATE_OFFLINE_MASK) != MAPIOFFLINE_STATE_OFFLINE_MASK) {
    return E_INVALIDARG;
  }
  void *notify = nullptr;
  if (FAILED(info->pCallback->QueryInterface(IID_IMAPIOfflineNotify, &notify)) || !notify) return E_NOINTERFACE;
  auto *sink = static_cast<IMAPIOfflineNotify *>(notify);  // the one reference we keep
  try {
    auto registration = std::make_shared<Registration>();
    registration->client_token = info->ulClientToken;
    registration->sink = sink;
    std::lock_guard<std::mutex> lock(mutex_);
    if (next_token_ == 0) {  // 2^32 - 1 tokens handed out: never reuse one
      sink->Release();
      return MAPI_E_CALL_FAILED;
    }
    registration->token = next_token_++;
    registrations_.emplace(registration->token, registration);
    *token = registration->token;
    return S_OK;
  } catch (const std::bad_alloc &) {
    sink->Release();
    return E_OUTOFMEMORY;
  }
}

HRESULT OfflineObject::Unadvise(ULONG /*flags: ignored, always S_OK (spec §7.9)*/, ULONG token) noexcept {
  if (Inherited()) return S_OK;  // fork child: the registration leaks with the object
  std::shared_ptr<Registration> registration;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = registrations_.find(token);
    if (it == registrations_.end()) return S_OK;
    registration = std::move(it->second);
    registrations_.erase(it);
    if (!Deactivate(*registration, lock)) return S_OK;  // inside its Notify: Deliver releases once it returns
  }
  registration->sink->Release();  // outside the lock: the sink may run arbitrary code when freed
  return S_OK;
}

}  // namespace mapioffline
