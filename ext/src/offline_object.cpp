#include "offline_object.h"

#include <new>
#include <unordered_map>

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

// Leaked on purpose: objects may be released by other threads during static destruction at exit.
Registry &TheRegistry() {
  static Registry *registry = new Registry;
  return *registry;
}

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

OfflineObject::OfflineObject(std::u16string key) : key_(std::move(key)) {
  LiveOfflineObjects().fetch_add(1, std::memory_order_relaxed);
}

OfflineObject::~OfflineObject() { LiveOfflineObjects().fetch_sub(1, std::memory_order_relaxed); }

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
  if (n == 0) Destroy(/*on_worker=*/worker_.joinable() && worker_.get_id() == std::this_thread::get_id());
  return n;
}

// The last reference is gone. Runs on the releasing thread, which may be our own worker (a sink's Notify
// released the last reference): then the worker is detached instead of joined, and returns without touching us.
void OfflineObject::Destroy(bool on_worker) noexcept {
  {
    Registry &registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.objects.find(key_);
    if (it != registry.objects.end() && it->second == this) registry.objects.erase(it);
  }
  std::map<ULONG, std::shared_ptr<Registration>> registrations;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_stop_ = true;
    registrations.swap(registrations_);
  }
  cv_.notify_all();
  if (worker_.joinable()) {
    if (on_worker) {
      worker_.detach();
    } else {
      worker_.join();
    }
  }
  for (auto &entry : registrations) entry.second->sink->Release();  // outside every lock
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
  const bool block = (flags & MAPIOFFLINE_FLAG_BLOCK) != 0;
  const Delivery *inside = CurrentDelivery();
  // A blocking change from inside our own Notify would wait for itself (Outlook deadlocks here): refuse.
  if (block && inside) return E_PENDING;

  std::unique_lock<std::mutex> lock(mutex_);
  if (in_flight_) {
    // Outlook accepts a non-blocking change from inside DONE and runs it right after the current one.
    if (!block && inside && inside->type == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE && queued_state_ == 0) {
      if (!EnsureWorker()) return E_OUTOFMEMORY;
      queued_state_ = state;
      return S_OK;
    }
    return E_PENDING;
  }
  if (state_.load(std::memory_order_relaxed) == state) return S_OK;  // no-op: no notifications (spec §7.5)
  if (!block) {
    if (!EnsureWorker()) return E_OUTOFMEMORY;
    in_flight_ = true;
    worker_job_ = state;
    AddRef();  // the job's reference, dropped by the worker when the change is done
    lock.unlock();
    cv_.notify_all();
    return S_OK;
  }
  in_flight_ = true;
  lock.unlock();
  RunChange(state);  // on the caller's thread: when it returns, every Notify/AddRef/Release has finished
  return S_OK;
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
      if (worker_stop_) return;
      target = worker_job_;
      worker_job_ = 0;
    }
    RunChange(target);
    // Drop the job's reference. If it was the last one, Destroy ran on this thread and detached it: leave now.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Destroy(/*on_worker=*/true);
      return;
    }
  }
}

// Runs one change with in_flight_ set; clears it, or hands a queued follow-up to the worker.
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
  state_.store(target, std::memory_order_release);  // GetCurrentState reports the new state once DONE is sent
  Deliver(snapshot, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE, old_state, target);

  std::lock_guard<std::mutex> lock(mutex_);
  const ULONG next = queued_state_;
  queued_state_ = 0;
  if (next != 0 && next != target) {
    worker_job_ = next;  // still in flight; the worker runs it next (EnsureWorker ran when it was queued)
    refs_.fetch_add(1, std::memory_order_relaxed);
  } else {
    in_flight_ = false;
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
  std::shared_ptr<Registration> registration;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = registrations_.find(token);
    if (it == registrations_.end()) return S_OK;
    registration = std::move(it->second);
    registrations_.erase(it);
    registration->gate.fetch_or(Registration::kInactive, std::memory_order_acq_rel);
    // Wait for a Notify in progress on another thread; not for the one we may be called from.
    const Delivery *inside = CurrentDelivery();
    const uint32_t own = (inside && inside->registration == registration.get()) ? 1 : 0;
    cv_.wait(lock, [&] {
      return (registration->gate.load(std::memory_order_acquire) & ~Registration::kInactive) <= own;
    });
    if (own) {
      registration->release_after_call = true;  // we are inside its Notify: Deliver releases once it returns
      return S_OK;
    }
  }
  registration->sink->Release();  // outside the lock: the sink may run arbitrary code when freed
  return S_OK;
}

}  // namespace mapioffline
