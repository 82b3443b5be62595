#include "advise_table.h"

#include <new>

#include "sink.h"

namespace mapioffline {

thread_local const AdviseTable::Call *AdviseTable::t_call = nullptr;

HRESULT AdviseTable::CheckArguments(ULONG flags, const MAPIOFFLINE_ADVISEINFO *info, const ULONG *token) noexcept {
  if (flags != MAPIOFFLINE_ADVISE_DEFAULT || !info || !token) return E_INVALIDARG;
  if (info->ulSize < sizeof(MAPIOFFLINE_ADVISEINFO) || info->CallbackType != MAPIOFFLINE_CALLBACK_TYPE_NOTIFY ||
      !info->pCallback || info->ulAdviseTypes != MAPIOFFLINE_ADVISE_TYPE_STATECHANGE ||
      (info->ulStateMask & MAPIOFFLINE_STATE_OFFLINE_MASK) != MAPIOFFLINE_STATE_OFFLINE_MASK) {
    return E_INVALIDARG;
  }
  return S_OK;
}

HRESULT AdviseTable::Add(const MAPIOFFLINE_ADVISEINFO &info, ULONG *token) noexcept {
  *token = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (FAILED(closed_)) return closed_;  // before QueryInterface: a closed table touches no sink
  }
  void *notify = nullptr;
  if (FAILED(info.pCallback->QueryInterface(IID_IMAPIOfflineNotify, &notify)) || !notify) return E_NOINTERFACE;
  auto *sink = static_cast<IMAPIOfflineNotify *>(notify);  // the one reference we keep
  const bool native = Sink::FromInterface(sink) != nullptr;
  HRESULT refused = S_OK;
  try {
    auto entry = std::make_shared<Entry>();
    entry->client_token = info.ulClientToken;
    entry->sink = sink;
    entry->native = native;
    std::lock_guard<std::mutex> lock(mutex_);
    if (FAILED(closed_)) {
      refused = closed_;  // closed while we got here: Close's snapshot missed us
    } else if (next_token_ == 0) {
      refused = MAPI_E_CALL_FAILED;  // 2^32 - 1 tokens handed out: never reuse one
    } else {
      entry->token = next_token_++;
      entries_.emplace(entry->token, entry);
      *token = entry->token;
      return S_OK;
    }
  } catch (const std::bad_alloc &) {
    refused = E_OUTOFMEMORY;
  }
  sink->Release();  // outside the lock: the sink may run arbitrary code when freed
  return refused;
}

// Under mutex_. Remove's rule for one entry: no Notify starts after this; wait for one in progress on another
// thread, not for one this thread is inside (that would wait for itself). True when the caller must now release
// the sink; false when the delivering call (on this thread) releases it once that Notify has returned.
bool AdviseTable::Deactivate(Entry &entry, std::unique_lock<std::mutex> &lock) noexcept {
  entry.gate.fetch_or(Entry::kInactive, std::memory_order_acq_rel);
  uint32_t own = 0;
  for (const Call *c = t_call; c; c = c->outer) {
    if (c->table == this && c->entry == &entry) own = 1;
  }
  cv_.wait(lock, [&] { return (entry.gate.load(std::memory_order_acquire) & ~Entry::kInactive) <= own; });
  if (own) {
    entry.release_after_call = true;
    return false;
  }
  return true;
}

void AdviseTable::Remove(ULONG token) noexcept {
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return;
    entry = std::move(it->second);
    entries_.erase(it);
    if (!Deactivate(*entry, lock)) return;  // inside its Notify: the delivering call releases once it returns
  }
  entry->sink->Release();  // outside the lock: the sink may run arbitrary code when freed
}

void AdviseTable::Clear() noexcept {
  std::map<ULONG, std::shared_ptr<Entry>> entries;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Taken out first: Deactivate unlocks while it waits, and a Notify might call Remove meanwhile.
    entries.swap(entries_);
    for (auto &item : entries) Deactivate(*item.second, lock);
  }
  // Outside the lock. release_after_call is only ever set for a Notify this thread is inside (Deactivate).
  for (auto &item : entries) {
    if (!item.second->release_after_call) item.second->sink->Release();
  }
}

AdviseTable::Snapshot AdviseTable::Close(HRESULT hr) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = hr;
  }
  // An Add that took the lock before us is listed; one after is refused.
  return Current();
}

AdviseTable::Snapshot AdviseTable::Current() noexcept {
  Snapshot snapshot;
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    snapshot.reserve(entries_.size());
    for (auto &item : entries_) snapshot.push_back(item.second);
  } catch (const std::bad_alloc &) {
    snapshot.clear();  // no memory to list the sinks: what happens reaches nobody this time
  }
  return snapshot;
}

bool AdviseTable::InsideCall() const noexcept {
  for (const Call *c = t_call; c; c = c->outer) {
    if (c->table == this) return true;
  }
  return false;
}

void AdviseTable::EndCall(Entry &entry) noexcept {
  if (entry.gate.fetch_sub(1, std::memory_order_release) == (Entry::kInactive | 1)) {
    // A Remove on another thread may be waiting for this call to end.
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }
}

}  // namespace mapioffline
