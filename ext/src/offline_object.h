// The embedded offline object: a faithful in-process IMAPIOfflineMgr / IMAPIOffline, one per profile name.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "advise_table.h"
#include "com_object.h"
#include "live_counters.h"
#include "mapioffline/mapioffline.h"
#include "reserved_slots.h"

namespace mapioffline {

class OfflineObject final : public ComObject<OfflineObject, ReservedSlots, &LiveOfflineObjects, &IID_IMAPIOffline,
                                                &IID_IMAPIOfflineMgr> {
 public:
  // HrOpenOfflineObj's rules (spec §5, §7.13); returns a new reference to the profile's shared object.
  static HRESULT Open(ULONG reserved, const WCHAR *profile, const GUID *guid, const GUID *reserved_guid,
                      IMAPIOfflineMgr **out) noexcept;

  HRESULT STDMETHODCALLTYPE SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCapabilities(ULONG *capabilities) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCurrentState(ULONG *state) noexcept override;
  HRESULT STDMETHODCALLTYPE Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept override;
  HRESULT STDMETHODCALLTYPE Unadvise(ULONG flags, ULONG token) noexcept override;

  // Not part of the interface (mapioffline_offline_wait_idle): S_OK once no change is in flight or queued,
  // E_PENDING if one still is when timeout_ns (negative: no limit) has passed, MAPI_E_CALL_FAILED from inside our
  // own Notify (it would wait for itself).
  HRESULT WaitIdle(int64_t timeout_ns) noexcept;

 private:
  explicit OfflineObject(std::u16string key);
  friend ComObject;
  ~OfflineObject() = default;
  bool Inherited() const noexcept;
  void LastRelease() noexcept;  // the last reference is gone (ComObject)
  void Destroy() noexcept;
  bool EnsureWorker() noexcept;
  void WorkerMain() noexcept;
  void RunChange(ULONG target) noexcept;
  void FinishDestroy(bool on_worker) noexcept;
  void Deliver(const AdviseTable::Snapshot &snapshot, MAPIOFFLINE_NOTIFY_TYPE type, ULONG old_state,
               ULONG new_state) noexcept;

  const std::u16string key_;  // the lower-cased profile name, our key in the registry
  const uint32_t generation_;  // ForkGeneration() at creation: in a later one (a fork child) we are inert
  std::atomic<ULONG> state_{MAPIOFFLINE_STATE_ONLINE};

  AdviseTable sinks_;  // the registrations; its own lock

  std::mutex mutex_;  // guards everything below; never held while calling out to a sink
  std::condition_variable cv_;
  // A change is "running" from its acceptance until its DONE phase has ended with nothing queued after it. New
  // requests get E_PENDING during START and STATECHANGE; during DONE one follow-up may be queued (spec 7.4, 0.2).
  bool running_ = false;
  bool in_done_ = false;          // the running change is handing DONE to the sinks
  uint64_t done_phases_ = 0;      // DONE phases ended so far: a FLAG_BLOCK no-op made during one waits for its end
  ULONG queued_state_ = 0;        // the one follow-up requested during DONE, carried out right after it
  bool queued_blocking_ = false;  // ...by a FLAG_BLOCK caller, who runs it on its own thread
  bool handoff_ = false;          // DONE has ended: the queued FLAG_BLOCK caller may start its change
  ULONG worker_job_ = 0;          // target state for the worker. No reference: the last Release joins the worker
  bool worker_stop_ = false;
  // Set by Destroy when it runs on the thread delivering our change (a sink released the last reference): that
  // thread deletes us once RunChange has returned. Written and read by that thread only.
  bool delete_after_change_ = false;
  std::thread worker_;
};

}  // namespace mapioffline
