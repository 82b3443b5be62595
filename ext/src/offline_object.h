// The embedded offline object: a faithful in-process IMAPIOfflineMgr / IMAPIOffline, one per profile name.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mapioffline/mapioffline.h"

namespace mapioffline {

class OfflineObject final : public IMAPIOfflineMgr {
 public:
  // HrOpenOfflineObj's rules (spec §5, §7.13); returns a new reference to the profile's shared object.
  static HRESULT Open(ULONG reserved, const WCHAR *profile, const GUID *guid, const GUID *reserved_guid,
                      IMAPIOfflineMgr **out) noexcept;

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override;
  ULONG STDMETHODCALLTYPE AddRef() noexcept override;
  ULONG STDMETHODCALLTYPE Release() noexcept override;
  HRESULT STDMETHODCALLTYPE SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCapabilities(ULONG *capabilities) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCurrentState(ULONG *state) noexcept override;
  HRESULT STDMETHODCALLTYPE Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept override;
  HRESULT STDMETHODCALLTYPE Unadvise(ULONG flags, ULONG token) noexcept override;
  // Reserved slots (spec §7.2): `this` only, never called by clients.
  HRESULT STDMETHODCALLTYPE Placeholder1() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder2() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder3() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder4() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder5() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder6() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder7() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder8() noexcept override { return MAPI_E_NO_SUPPORT; }

 private:
  struct Registration;
  struct Delivery;
  using RegistrationList = std::vector<std::shared_ptr<Registration>>;

  explicit OfflineObject(std::u16string key);
  ~OfflineObject();
  bool TryAddRef() noexcept;
  void Destroy(bool on_worker) noexcept;
  bool EnsureWorker() noexcept;
  void WorkerMain() noexcept;
  void RunChange(ULONG target) noexcept;
  void Deliver(const RegistrationList &registrations, MAPIOFFLINE_NOTIFY_TYPE type, ULONG old_state,
               ULONG new_state) noexcept;
  const Delivery *CurrentDelivery() const noexcept;

  const std::u16string key_;  // the lower-cased profile name, our key in the registry
  std::atomic<ULONG> refs_{1};
  std::atomic<ULONG> state_{MAPIOFFLINE_STATE_ONLINE};

  std::mutex mutex_;  // guards everything below; never held while calling out to a sink
  std::condition_variable cv_;
  std::map<ULONG, std::shared_ptr<Registration>> registrations_;  // by advise token: delivery in advise order
  ULONG next_token_ = 1;
  bool in_flight_ = false;   // from acceptance of a change until DONE reached every sink
  ULONG queued_state_ = 0;   // a FLAG_DEFAULT change requested from inside DONE, run right after
  ULONG worker_job_ = 0;     // target state for the worker; the job holds one reference on us
  bool worker_stop_ = false;
  std::thread worker_;
};

}  // namespace mapioffline
