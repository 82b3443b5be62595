#include "addin.h"

#include <atomic>
#include <new>
#include <string>

#include "com_object.h"
#include "mapioffline/mapioffline.h"
#include "request_window.h"

namespace mapioffline {
namespace addin {

const IID IID_IDTExtensibility2 = {0xB65AD801, 0xABAF, 0x11D0, {0xBB, 0x8B, 0x00, 0xA0, 0xC9, 0x0F, 0x27, 0x44}};
const CLSID CLSID_OutlookAddin = {0x6D3E4F2A, 0x8B1C, 0x4E5D, {0x9A, 0x7F, 0x3C, 0x2B, 0x1D, 0x0E, 0x9F, 0x81}};
const wchar_t kProgId[] = L"MapiOffline.OutlookAddin";
const wchar_t kSettingsKey[] = L"Software\\mapioffline\\Addin";
const wchar_t kAllowSetStateValue[] = L"AllowSetState";

LONG &ModuleLocks() noexcept {
  static LONG locks = 0;
  return locks;
}

HINSTANCE &ModuleInstance() noexcept {
  static HINSTANCE instance = nullptr;
  return instance;
}

namespace {

void Log(const char *what, HRESULT hr, const char *detail) {
  char text[256];
  wsprintfA(text, "mapioffline add-in: %s (0x%08lX) %s\n", what, static_cast<unsigned long>(hr), detail ? detail : "");
  OutputDebugStringA(text);
}

// One property of an IDispatch object, read late-bound (Outlook's object model has no header here).
HRESULT GetProperty(IDispatch *object, const wchar_t *name, VARIANT *out) {
  DISPID id = 0;
  LPOLESTR names[1] = {const_cast<LPOLESTR>(name)};
  HRESULT hr = object->GetIDsOfNames(IID_NULL, names, 1, LOCALE_USER_DEFAULT, &id);
  if (FAILED(hr)) return hr;
  DISPPARAMS none = {nullptr, nullptr, 0, 0};
  VariantInit(out);
  return object->Invoke(id, IID_NULL, LOCALE_USER_DEFAULT, DISPATCH_PROPERTYGET, &none, out, nullptr, nullptr);
}

// Application.Session.CurrentProfileName, on Outlook's thread (its object model is apartment-bound).
HRESULT CurrentProfileName(IDispatch *application, std::wstring *profile) {
  VARIANT session;
  HRESULT hr = GetProperty(application, L"Session", &session);
  if (FAILED(hr)) return hr;
  if (session.vt != VT_DISPATCH || !session.pdispVal) {
    VariantClear(&session);
    return DISP_E_TYPEMISMATCH;
  }
  VARIANT name;
  hr = GetProperty(session.pdispVal, L"CurrentProfileName", &name);
  VariantClear(&session);
  if (FAILED(hr)) return hr;
  if (name.vt != VT_BSTR || !name.bstrVal) {
    VariantClear(&name);
    return DISP_E_TYPEMISMATCH;
  }
  profile->assign(name.bstrVal, SysStringLen(name.bstrVal));
  VariantClear(&name);
  return S_OK;
}

// HKCU\Software\mapioffline\Addin, AllowSetState (REG_DWORD) = 1: the user lets other processes ask for set_state
// (`python -m mapioffline addin install --allow-set-state`). Missing, another value or another type: off.
bool AllowSetStateConfigured() {
  DWORD value = 0, size = sizeof value;
  return RegGetValueW(HKEY_CURRENT_USER, kSettingsKey, kAllowSetStateValue, RRF_RT_REG_DWORD, nullptr, &value,
                      &size) == ERROR_SUCCESS &&
         value == 1;
}

class OutlookAddin final
    : public ComObject<OutlookAddin, IDTExtensibility2, nullptr, &IID_IDispatch, &IID_IDTExtensibility2> {
 public:
  OutlookAddin() { InterlockedIncrement(&ModuleLocks()); }

  // IDispatch: Outlook binds to IDTExtensibility2 through the vtable; late binding is not offered.
  HRESULT STDMETHODCALLTYPE GetTypeInfoCount(UINT *count) override {
    if (count) *count = 0;
    return S_OK;
  }
  HRESULT STDMETHODCALLTYPE GetTypeInfo(UINT, LCID, ITypeInfo **info) override {
    if (info) *info = nullptr;
    return E_NOTIMPL;
  }
  HRESULT STDMETHODCALLTYPE GetIDsOfNames(REFIID, LPOLESTR *, UINT, LCID, DISPID *) override {
    return DISP_E_UNKNOWNNAME;
  }
  HRESULT STDMETHODCALLTYPE Invoke(DISPID, REFIID, LCID, WORD, DISPPARAMS *, VARIANT *, EXCEPINFO *,
                                   UINT *) override {
    return DISP_E_MEMBERNOTFOUND;
  }

  // Runs on Outlook's thread at start-up: a few property reads, opening the offline object in-process, one registry
  // read, creating the channel (and, when the user allowed requests, a message-only window): no waits, no network,
  // well under Outlook's add-in start-up budget. Failures are logged (OutputDebugString) and reported as S_OK, so
  // that Outlook does not disable the add-in for a missing profile.
  HRESULT STDMETHODCALLTYPE OnConnection(IDispatch *application, int, IDispatch *, SAFEARRAY **) override {
    if (publisher_ || !application) return S_OK;
    std::wstring profile;
    HRESULT hr = CurrentProfileName(application, &profile);
    if (FAILED(hr) || profile.empty()) {
      Log("cannot read Application.Session.CurrentProfileName", hr, nullptr);
      return S_OK;
    }
    const WCHAR *name = reinterpret_cast<const WCHAR *>(profile.c_str());
    const char *detail = nullptr;
    hr = mapioffline_open_outlook(name, /*allow_search=*/0, &offline_, &detail);
    if (FAILED(hr)) {
      Log("cannot open Outlook's offline object", hr, detail);
      return S_OK;
    }
    // Requests run on this thread (Outlook's), through the window's procedure; the publisher's request thread only
    // waits. Without the window, subscribers' set_state is refused (MAPI_E_NO_SUPPORT), as when not allowed.
    if (AllowSetStateConfigured()) {
      requests_ = new (std::nothrow) RequestWindow;
      if (requests_ && !requests_->Create(offline_)) {
        Log("cannot create the request window; set_state requests stay refused", HRESULT_FROM_WIN32(GetLastError()),
            nullptr);
        delete requests_;
        requests_ = nullptr;
      }
    }
    MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS options;
    ZeroMemory(&options, sizeof options);
    options.ulSize = sizeof options;
    if (requests_) {
      options.ulFlags = MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE;
      options.run_set_state = &RequestWindow::Run;
      options.run_set_state_context = requests_;
    }
    hr = mapioffline_bridge_publish_start_ex(offline_, name, &options, &publisher_, &detail);
    if (FAILED(hr)) {
      Log("cannot publish the offline state", hr, detail);
      Shutdown();
    }
    return S_OK;
  }

  HRESULT STDMETHODCALLTYPE OnDisconnection(int, SAFEARRAY **) override {
    Shutdown();
    return S_OK;
  }
  HRESULT STDMETHODCALLTYPE OnAddInsUpdate(SAFEARRAY **) override { return S_OK; }
  HRESULT STDMETHODCALLTYPE OnStartupComplete(SAFEARRAY **) override { return S_OK; }
  HRESULT STDMETHODCALLTYPE OnBeginShutdown(SAFEARRAY **) override {
    Shutdown();
    return S_OK;
  }

 private:
  friend ComObject;  // deletes us at the last Release
  ~OutlookAddin() {
    Shutdown();
    InterlockedDecrement(&ModuleLocks());
  }

  // Refuses requests from now on (one already sent to the window is answered with an error), unadvises and
  // unpublishes (subscribers' streams end; a request waiting for its DONE is answered with an error), destroys the
  // window, then releases Outlook's object. In this order: stopping waits for the request thread, which must not be
  // waiting for this thread. On Outlook's thread. Idempotent.
  void Shutdown() noexcept {
    if (requests_) requests_->Close();
    if (publisher_) {
      mapioffline_bridge_publish_stop(publisher_);
      publisher_ = nullptr;
    }
    if (requests_) {
      requests_->Destroy();
      delete requests_;
      requests_ = nullptr;
    }
    if (offline_) {
      offline_->Release();
      offline_ = nullptr;
    }
  }

  IMAPIOfflineMgr *offline_ = nullptr;
  mapioffline_bridge_publisher *publisher_ = nullptr;
  RequestWindow *requests_ = nullptr;  // only when the user allowed set_state requests
};

class ClassFactory final : public IClassFactory {
 public:
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IClassFactory)) return E_NOINTERFACE;
    *out = static_cast<IClassFactory *>(this);
    AddRef();
    return S_OK;
  }
  ULONG STDMETHODCALLTYPE AddRef() override { return 2; }  // a static object
  ULONG STDMETHODCALLTYPE Release() override { return 1; }
  HRESULT STDMETHODCALLTYPE CreateInstance(IUnknown *outer, REFIID iid, void **out) override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (outer) return CLASS_E_NOAGGREGATION;
    auto *addin = new (std::nothrow) OutlookAddin;
    if (!addin) return E_OUTOFMEMORY;
    const HRESULT hr = addin->QueryInterface(iid, out);
    addin->Release();
    return hr;
  }
  HRESULT STDMETHODCALLTYPE LockServer(BOOL lock) override {
    if (lock) {
      InterlockedIncrement(&ModuleLocks());
    } else {
      InterlockedDecrement(&ModuleLocks());
    }
    return S_OK;
  }
};

ClassFactory g_factory;

}  // namespace

}  // namespace addin
}  // namespace mapioffline

using mapioffline::addin::ModuleInstance;
using mapioffline::addin::ModuleLocks;

extern "C" BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID) {
  if (reason == DLL_PROCESS_ATTACH) {
    ModuleInstance() = instance;
    DisableThreadLibraryCalls(instance);
  }
  return TRUE;
}

extern "C" HRESULT STDAPICALLTYPE DllGetClassObject(REFCLSID clsid, REFIID iid, void **out) {
  if (!out) return E_POINTER;
  *out = nullptr;
  if (!IsEqualGUID(clsid, mapioffline::addin::CLSID_OutlookAddin)) return CLASS_E_CLASSNOTAVAILABLE;
  return mapioffline::addin::g_factory.QueryInterface(iid, out);
}

extern "C" HRESULT STDAPICALLTYPE DllCanUnloadNow() { return ModuleLocks() == 0 ? S_OK : S_FALSE; }
