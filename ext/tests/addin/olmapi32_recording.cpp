// The stand-in olmapi32.dll of the add-in test (tests/addin/standin/olmapi32.dll): Outlook's export, HrOpenOfflineObj
// (HrOpenOfflineObj@20 on x86), opening our embedded object behind a thin wrapper that records the thread and the
// flags of every SetCurrentState call, so that the fake host can tell on which thread the add-in ran a subscriber's
// request (Outlook's objects belong to Outlook's thread). Everything else is forwarded as is.
//   standin_set_state_log(&calls, &last_thread, &last_flags)   what was recorded so far (any thread)
#include <windows.h>

#include <atomic>
#include <new>

#include "mapioffline/mapioffline.h"

namespace {

std::atomic<ULONG> g_calls{0};
std::atomic<DWORD> g_last_thread{0};
std::atomic<ULONG> g_last_flags{0};

class Recording final : public IMAPIOfflineMgr {
 public:
  explicit Recording(IMAPIOfflineMgr *inner) : inner_(inner) {}
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IMAPIOffline) &&
        !IsEqualGUID(iid, IID_IMAPIOfflineMgr)) {
      return E_NOINTERFACE;
    }
    *out = static_cast<IMAPIOfflineMgr *>(this);
    AddRef();
    return S_OK;
  }
  ULONG STDMETHODCALLTYPE AddRef() override { return refs_.fetch_add(1) + 1; }
  ULONG STDMETHODCALLTYPE Release() override {
    const ULONG n = refs_.fetch_sub(1) - 1;
    if (n == 0) {
      inner_->Release();
      delete this;
    }
    return n;
  }
  HRESULT STDMETHODCALLTYPE SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) override {
    g_last_thread.store(GetCurrentThreadId());
    g_last_flags.store(flags);
    g_calls.fetch_add(1);  // last: a reader that sees the count sees the thread and flags of that call
    return inner_->SetCurrentState(flags, mask, state, reserved);
  }
  HRESULT STDMETHODCALLTYPE GetCapabilities(ULONG *caps) override { return inner_->GetCapabilities(caps); }
  HRESULT STDMETHODCALLTYPE GetCurrentState(ULONG *state) override { return inner_->GetCurrentState(state); }
  HRESULT STDMETHODCALLTYPE Placeholder1() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) override {
    return inner_->Advise(flags, info, token);
  }
  HRESULT STDMETHODCALLTYPE Unadvise(ULONG flags, ULONG token) override { return inner_->Unadvise(flags, token); }
  HRESULT STDMETHODCALLTYPE Placeholder2() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder3() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder4() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder5() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder6() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder7() override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder8() override { return MAPI_E_NO_SUPPORT; }

 private:
  ~Recording() = default;
  std::atomic<ULONG> refs_{1};
  IMAPIOfflineMgr *inner_;
};

}  // namespace

extern "C" HRESULT STDMETHODCALLTYPE standin_open_recording(ULONG reserved, LPCWSTR profile, const GUID *guid,
                                                            const GUID *reserved2, IMAPIOfflineMgr **out) {
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  IMAPIOfflineMgr *inner = nullptr;
  const HRESULT hr = mapioffline_open_embedded(reserved, reinterpret_cast<const WCHAR *>(profile), guid,
                                               reserved2, &inner);
  if (FAILED(hr)) return hr;
  auto *wrapper = new (std::nothrow) Recording(inner);
  if (!wrapper) {
    inner->Release();
    return E_OUTOFMEMORY;
  }
  *out = wrapper;
  return S_OK;
}

extern "C" void standin_set_state_log(ULONG *calls, DWORD *last_thread, ULONG *last_flags) {
  *calls = g_calls.load();
  *last_thread = g_last_thread.load();
  *last_flags = g_last_flags.load();
}
