// A client written the way Microsoft's Offline State documentation writes one (the HrOpenOfflineObj page and the
// sample add-in): it defines the GUIDs itself (guids_first.cpp, guids_initguid.c), holds HrOpenOfflineObj in a
// HROPENOFFLINEOBJ*, declares its sink's methods with STDMETHOD and defines them with STDMETHODIMP, and includes
// <windows.h> after our header. Built with warnings as errors; runs on Linux x86_64, Linux i386 and Windows x64
// (Wine), built on Windows i686. mapi_*.cpp include MAPI's headers before and after ours (mingw-w64 only).
#include "mapioffline/mapioffline.h"

// NOMINMAX and min/max are checked in macros.c: in C++, mingw-w64's libstdc++ defines NOMINMAX itself.
#ifdef WIN32_LEAN_AND_MEAN
#error "mapioffline.h leaked WIN32_LEAN_AND_MEAN"
#endif

#ifdef _WIN32
#include <windows.h>  // after ours, as a client would: must still be the whole windows.h
#endif

#include "../check.h"

#ifdef _WIN32
// Both live in headers that WIN32_LEAN_AND_MEAN drops from windows.h (shellapi.h, mmsystem.h / timeapi.h).
// Unevaluated: nothing needs linking.
static_assert(sizeof(&ShellExecuteW) == sizeof(void (*)()), "windows.h without shellapi.h");
static_assert(sizeof(&timeGetTime) == sizeof(void (*)()), "windows.h without mmsystem.h");
// The profile name is LPCWSTR: wchar_t on Windows ...
#define DOC_PROFILE L"Outlook"
#else
// ... char16_t off Windows (wchar_t is 32-bit there), so the literal needs u"".
#define DOC_PROFILE u"Outlook"
#endif

// Windows' sizes on every target, whatever the host's long is.
static_assert(sizeof(LONG) == 4 && static_cast<LONG>(-1) < 0, "LONG is 32-bit signed");
static_assert(sizeof(ULONG) == 4 && sizeof(LPVOID) == sizeof(void *) && sizeof(LPCWSTR) == sizeof(void *), "sizes");

extern "C" const GUID *doc_client_c_global_state(void);
extern "C" ULONG doc_client_smaller(ULONG a, ULONG b);
extern "C" int doc_client_macros_checked(void);
#if defined(__MINGW32__)
extern "C" HRESULT doc_client_mapi_before_not_found(void);
extern "C" HRESULT doc_client_mapi_after_no_support(void);
extern "C" HRESULT doc_client_mapi_after_c_unknown_flags(void);
#endif

namespace {

// The documentation's CMyOfflineNotify, reduced to what the checks need. final: Release deletes through this type.
class StateSink final : public IMAPIOfflineNotify {
 public:
  STDMETHOD(QueryInterface)(REFIID riid, LPVOID *ppvObj) override;
  STDMETHOD_(ULONG, AddRef)() override;
  STDMETHOD_(ULONG, Release)() override;
  STDMETHOD_(void, Notify)(const MAPIOFFLINE_NOTIFY *pNotifyInfo) override;

  LONG refs = 1;  // objects start with one reference
  int notifications = 0;
  MAPIOFFLINE_NOTIFY last{};
};

STDMETHODIMP StateSink::QueryInterface(REFIID riid, LPVOID *ppvObj) {
  if (!ppvObj) return E_POINTER;
  *ppvObj = nullptr;
  if (riid != IID_IUnknown && riid != IID_IMAPIOfflineNotify) return E_NOINTERFACE;
  *ppvObj = static_cast<IMAPIOfflineNotify *>(this);
  AddRef();
  return S_OK;
}

// Single-threaded test: the embedded object calls Notify on the thread that blocks in SetCurrentState.
STDMETHODIMP_(ULONG) StateSink::AddRef() { return static_cast<ULONG>(++refs); }

STDMETHODIMP_(ULONG) StateSink::Release() {
  const LONG n = --refs;
  if (n == 0) delete this;
  return static_cast<ULONG>(n);
}

STDMETHODIMP_(void) StateSink::Notify(const MAPIOFFLINE_NOTIFY *pNotifyInfo) {
  if (!pNotifyInfo) return;
  ++notifications;
  last = *pNotifyInfo;
}

}  // namespace

int main() {
  static_cast<void>(&stress_n);  // check.h's helper, unused here (-Werror=unused-function)
  // The documentation resolves this with GetProcAddress(hMsmapi32, "HrOpenOfflineObj@20") into a HROPENOFFLINEOBJ*;
  // our embedded object is assignable to the same pointer type, with and without &.
  HROPENOFFLINEOBJ *pfnHrOpenOfflineObj = mapioffline_open_embedded;
  pfnHrOpenOfflineObj = &mapioffline_open_embedded;

  // The client's own definitions and the library's are one object each: the C file sees the same address.
  CHECK(doc_client_c_global_state() == &GUID_GlobalState);
  CHECK(IsEqualGUID(GUID_GlobalState, GUID{0xFBEFFD93, 0xB11F, 0x4094, {0x84, 0x2B, 0x96, 0xDC, 0xD3, 0x1E, 0x63, 0xD1}}));
  CHECK(doc_client_smaller(3, 7) == 3);
  CHECK(doc_client_macros_checked() == 1);

  IMAPIOfflineMgr *pOfflineObj = nullptr;
  HRESULT hr = pfnHrOpenOfflineObj(0, DOC_PROFILE, &GUID_GlobalState, nullptr, &pOfflineObj);
  CHECK_HR(hr, S_OK);
  if (FAILED(hr) || !pOfflineObj) return check_report("test_doc_client");

  IMAPIOffline *pOffline = nullptr;
  CHECK_HR(pOfflineObj->QueryInterface(IID_IMAPIOffline, reinterpret_cast<LPVOID *>(&pOffline)), S_OK);
  ULONG ulCapabilities = 0;
  if (pOffline) {
    CHECK_HR(pOffline->GetCapabilities(&ulCapabilities), S_OK);
    pOffline->Release();
  }
  CHECK((ulCapabilities & MAPIOFFLINE_CAPABILITY_OFFLINE) != 0);

#ifdef _WIN32
  // __uuidof and IID_PPV_ARGS, as Windows code asks for interfaces today.
  CHECK(__uuidof(IMAPIOffline) == IID_IMAPIOffline);
  CHECK(__uuidof(IMAPIOfflineMgr) == IID_IMAPIOfflineMgr);
  CHECK(__uuidof(IMAPIOfflineNotify) == IID_IMAPIOfflineNotify);
  CHECK(__uuidof(pOfflineObj) == IID_IMAPIOfflineMgr);
  IMAPIOffline *pViaPpv = nullptr;
  CHECK_HR(pOfflineObj->QueryInterface(IID_PPV_ARGS(&pViaPpv)), S_OK);
  CHECK(pViaPpv == static_cast<IMAPIOffline *>(pOfflineObj));
  if (pViaPpv) pViaPpv->Release();
#endif
#if defined(__MINGW32__)
  CHECK(doc_client_mapi_before_not_found() == static_cast<HRESULT>(0x8004010F));
  CHECK(doc_client_mapi_after_no_support() == static_cast<HRESULT>(0x80040102));
  CHECK(doc_client_mapi_after_c_unknown_flags() == static_cast<HRESULT>(0x80040106));
#endif

  StateSink *pSink = new StateSink;
  MAPIOFFLINE_ADVISEINFO adviseInfo = {};
  adviseInfo.ulSize = sizeof(adviseInfo);
  adviseInfo.ulClientToken = 0xD0C;
  adviseInfo.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  adviseInfo.pCallback = pSink;
  adviseInfo.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  adviseInfo.ulStateMask = MAPIOFFLINE_STATE_ALL;
  ULONG ulAdviseToken = 0;
  CHECK_HR(pOfflineObj->Advise(MAPIOFFLINE_ADVISE_DEFAULT, &adviseInfo, &ulAdviseToken), S_OK);
  CHECK(pSink->refs == 2);  // the manager holds its own reference

  CHECK_HR(pOfflineObj->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK,
                                        MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CHECK(pSink->notifications == 3);  // START, STATECHANGE, DONE, all through the STDMETHODIMP Notify
  CHECK(pSink->last.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE);
  CHECK(pSink->last.ulClientToken == 0xD0C);
  CHECK(pSink->last.Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_OFFLINE);
  ULONG ulState = 0;
  CHECK_HR(pOfflineObj->GetCurrentState(&ulState), S_OK);
  CHECK(ulState == MAPIOFFLINE_STATE_OFFLINE);

  CHECK_HR(pOfflineObj->Unadvise(MAPIOFFLINE_UNADVISE_DEFAULT, ulAdviseToken), S_OK);
  CHECK(pSink->Release() == 0);  // Unadvise gave the manager's reference back
  CHECK(pOfflineObj->Release() == 0);
  return check_report("test_doc_client");
}
