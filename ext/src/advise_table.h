// The registrations of one offline object, embedded (offline_object.cpp) or bridge (channel/bridge_object.cpp):
// Advise's argument rules and tokens, and the gate that lets Unadvise wait for a Notify in progress.
//
// The rules (spec §7.8, §7.9) are the same for every object we make, and so are their hard parts: a Notify in
// progress on another thread must end before Unadvise returns (the caller may free the sink right after), an
// Unadvise from inside that very Notify must not wait for itself, and the object must never hold a lock while it
// calls a sink. One table does all of this, so that the two objects cannot drift apart.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "mapioffline/mapioffline.h"

namespace mapioffline {

class AdviseTable {
 public:
  // One registration made by Advise. `gate` counts Notify calls in progress; kInactive is set by Unadvise, after
  // which no new call starts. It lets delivery skip the mutex on the per-notification path.
  struct Entry {
    static constexpr uint32_t kInactive = 0x80000000u;
    ULONG token = 0;
    ULONG client_token = 0;
    IMAPIOfflineNotify *sink = nullptr;  // the one reference Advise took (through QueryInterface)
    bool native = false;                 // a mapioffline sink (mapioffline_is_native_sink)
    std::atomic<uint32_t> gate{0};
    // Set by an Unadvise made from inside this entry's own Notify: the delivering thread (the same thread)
    // releases the reference once Notify has returned, so the sink outlives the call without a per-call AddRef.
    bool release_after_call = false;
  };
  using Snapshot = std::vector<std::shared_ptr<Entry>>;

  AdviseTable() = default;
  AdviseTable(const AdviseTable &) = delete;
  AdviseTable &operator=(const AdviseTable &) = delete;

  // Advise's argument rules (spec §7.8): E_INVALIDARG for bad flags, a missing pointer, a short structure, a
  // callback or advise type other than the state-change notify one, or a mask without the offline bits.
  static HRESULT CheckArguments(ULONG flags, const MAPIOFFLINE_ADVISEINFO *info, const ULONG *token) noexcept;

  // Advise after CheckArguments: takes the sink's IMAPIOfflineNotify through QueryInterface (E_NOINTERFACE
  // without one) and hands out the next token; never reuses one (MAPI_E_CALL_FAILED after 2^32 - 1). Once
  // Close(hr) has run, refuses with hr.
  HRESULT Add(const MAPIOFFLINE_ADVISEINFO &info, ULONG *token) noexcept;

  // Unadvise: no Notify of that registration starts after this; waits for one in progress on another thread, and
  // releases the sink outside the lock (or, from inside that Notify, lets the delivering call release it once it
  // returns). An unknown token is not an error (spec §7.9).
  void Remove(ULONG token) noexcept;

  // Ends every registration as Remove would, at once (the object is going away).
  void Clear() noexcept;

  // From now on Add refuses with `hr`; returns the registrations at this moment (an Add that was on its way
  // either made it into this list or is refused, never neither).
  Snapshot Close(HRESULT hr) noexcept;

  // The registrations now, in advise order (empty if there is no memory to list them).
  Snapshot Current() noexcept;

  // True while this thread is inside a Notify made through this table (on any registration, at any depth).
  bool InsideCall() const noexcept;

  // Calls fn(entry) for each registration of `snapshot` that is still active, through its gate, with this thread
  // marked as inside the call (InsideCall, and the own-Notify rule of Remove). fn calls the sink; it must not keep
  // the pointer. Lock-free unless an Unadvise is waiting for the call to end.
  template <class Fn>
  void ForEachActive(const Snapshot &snapshot, Fn &&fn) noexcept;

 private:
  // What a thread is delivering, innermost first: a Notify may call into another object that delivers too.
  struct Call {
    const AdviseTable *table;
    const Entry *entry;
    const Call *outer;
  };
  static thread_local const Call *t_call;

  bool Deactivate(Entry &entry, std::unique_lock<std::mutex> &lock) noexcept;
  void EndCall(Entry &entry) noexcept;

  std::mutex mutex_;  // guards everything below; never held while calling a sink
  std::condition_variable cv_;
  std::map<ULONG, std::shared_ptr<Entry>> entries_;  // by token: delivery in advise order
  ULONG next_token_ = 1;
  HRESULT closed_ = S_OK;
};

template <class Fn>
void AdviseTable::ForEachActive(const Snapshot &snapshot, Fn &&fn) noexcept {
  // One thread-local store per pass, not per sink: between two Notify calls only this loop runs on the thread.
  Call call{this, nullptr, t_call};
  t_call = &call;
  for (const auto &shared : snapshot) {
    Entry &entry = *shared;
    // acquire: pairs with Deactivate's fetch_or; once it set kInactive no call starts. Backing out goes through
    // EndCall too: a Deactivate that saw our passing count waits for it to drop (it must be told; the fuzzer
    // found that hang when this path only decremented).
    if (entry.gate.fetch_add(1, std::memory_order_acquire) & Entry::kInactive) {
      EndCall(entry);
      continue;
    }
    call.entry = &entry;
    // The registration's reference is held across the call: Remove on another thread waits for the gate, and a
    // Remove from inside this Notify leaves the release to us (release_after_call).
    fn(entry);
    call.entry = nullptr;
    if (entry.release_after_call) {
      entry.release_after_call = false;
      entry.sink->Release();
    }
    EndCall(entry);
  }
  t_call = call.outer;
}

}  // namespace mapioffline
