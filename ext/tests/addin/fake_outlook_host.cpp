// A fake Outlook: hosts mapioffline_addin.dll as Outlook hosts COM add-ins.
//   fake_outlook_host ADDIN_DLL STANDIN_OLMAPI32_DLL PROFILE
// 1. LoadLibrary(olmapi32 stand-in): in Outlook, olmapi32.dll is always loaded; the add-in's loader finds it.
// 2. Registers the add-in with its own DllRegisterServer (what regsvr32 does) and checks Outlook's Addins key
//    (LoadBehavior 3); CLSIDFromProgID + CoCreateInstance(IID_IDTExtensibility2), as Outlook creates add-ins.
// 3. OnConnection(fake Application) whose Session.CurrentProfileName is PROFILE (late-bound IDispatch, like
//    Outlook's object model); prints "connected <microseconds>", then OnStartupComplete and "ready".
// stdin: "offline" / "online": SetCurrentState(BLOCK) on the stand-in's HrOpenOfflineObj object for PROFILE (the
// object the add-in publishes) -> "ok <hr>"; "shutdown": OnBeginShutdown, OnDisconnection, Release,
// DllUnregisterServer -> "bye". Failures print "error ..." and exit 1.
#include <windows.h>
#include <oaidl.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "addin.h"
#include "mapioffline/mapioffline.h"

using mapioffline::addin::IDTExtensibility2;

namespace {

const IID kIID_IDTExtensibility2 = {0xB65AD801, 0xABAF, 0x11D0, {0xBB, 0x8B, 0x00, 0xA0, 0xC9, 0x0F, 0x27, 0x44}};

// An IDispatch with one property (DISPID 1) whose value a lambda-free function table provides.
class FakeDispatch : public IDispatch {
 public:
  FakeDispatch(const wchar_t *property, VARIANT value) : property_(property), value_(value) {}
  virtual ~FakeDispatch() { VariantClear(&value_); }
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IDispatch)) return E_NOINTERFACE;
    *out = static_cast<IDispatch *>(this);
    AddRef();
    return S_OK;
  }
  ULONG STDMETHODCALLTYPE AddRef() override { return ++refs_; }
  ULONG STDMETHODCALLTYPE Release() override {
    const ULONG n = --refs_;
    if (n == 0) delete this;
    return n;
  }
  HRESULT STDMETHODCALLTYPE GetTypeInfoCount(UINT *count) override {
    *count = 0;
    return S_OK;
  }
  HRESULT STDMETHODCALLTYPE GetTypeInfo(UINT, LCID, ITypeInfo **) override { return E_NOTIMPL; }
  HRESULT STDMETHODCALLTYPE GetIDsOfNames(REFIID, LPOLESTR *names, UINT count, LCID, DISPID *ids) override {
    if (count != 1 || lstrcmpiW(names[0], property_) != 0) return DISP_E_UNKNOWNNAME;
    ids[0] = 1;
    return S_OK;
  }
  HRESULT STDMETHODCALLTYPE Invoke(DISPID id, REFIID, LCID, WORD flags, DISPPARAMS *, VARIANT *result, EXCEPINFO *,
                                   UINT *) override {
    if (id != 1 || !(flags & DISPATCH_PROPERTYGET) || !result) return DISP_E_MEMBERNOTFOUND;
    VariantInit(result);
    return VariantCopy(result, &value_);
  }

 private:
  ULONG refs_ = 1;
  const wchar_t *property_;
  VARIANT value_;
};

std::wstring Wide(const char *s) {
  std::wstring w;
  for (; *s; ++s) w.push_back(static_cast<wchar_t>(static_cast<unsigned char>(*s)));
  return w;
}

std::wstring ReadString(const std::wstring &key, const wchar_t *name) {
  wchar_t buffer[1024];
  DWORD size = sizeof buffer;
  if (RegGetValueW(HKEY_CURRENT_USER, key.c_str(), name, RRF_RT_REG_SZ, nullptr, buffer, &size) != ERROR_SUCCESS) {
    return L"";
  }
  return buffer;
}

// Creates a COM class by ProgID as Windows does for per-user registrations. CoCreateInstance looks in
// HKEY_CLASSES_ROOT, which on Windows merges HKCU\Software\Classes over HKLM's; Wine's does not merge the user's
// classes, so when COM cannot find the ProgID, resolve it through HKCU\Software\Classes ourselves (ProgID ->
// CLSID -> InprocServer32 -> DllGetClassObject), reading exactly the keys DllRegisterServer wrote. *route says which.
HRESULT CreateByProgId(const wchar_t *prog_id, REFIID iid, void **out, const char **route) {
  CLSID clsid;
  HRESULT hr = CLSIDFromProgID(prog_id, &clsid);
  if (SUCCEEDED(hr)) {
    *route = "com";
    return CoCreateInstance(clsid, nullptr, CLSCTX_INPROC_SERVER, iid, out);
  }
  *route = "hkcu";
  const std::wstring clsid_text = ReadString(std::wstring(L"Software\\Classes\\") + prog_id + L"\\CLSID", nullptr);
  if (clsid_text.empty() || FAILED(CLSIDFromString(clsid_text.c_str(), &clsid))) return REGDB_E_CLASSNOTREG;
  const std::wstring server =
      ReadString(L"Software\\Classes\\CLSID\\" + clsid_text + L"\\InprocServer32", nullptr);
  if (server.empty()) return REGDB_E_CLASSNOTREG;
  HMODULE module = LoadLibraryW(server.c_str());
  if (!module) return HRESULT_FROM_WIN32(GetLastError());
  auto get_class = reinterpret_cast<HRESULT(STDAPICALLTYPE *)(REFCLSID, REFIID, void **)>(
      GetProcAddress(module, "DllGetClassObject"));
  if (!get_class) return E_FAIL;
  IClassFactory *factory = nullptr;
  hr = get_class(clsid, IID_IClassFactory, reinterpret_cast<void **>(&factory));
  if (FAILED(hr)) return hr;
  hr = factory->CreateInstance(nullptr, iid, out);
  factory->Release();
  return hr;
}

int Fail(const char *what, HRESULT hr) {
  std::printf("error %s 0x%08lx\n", what, static_cast<unsigned long>(hr));
  std::fflush(stdout);
  return 1;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ADDIN_DLL STANDIN_OLMAPI32_DLL PROFILE\n", argv[0]);
    return 2;
  }
  const std::wstring addin_path = Wide(argv[1]), standin_path = Wide(argv[2]), profile = Wide(argv[3]);
  HRESULT hr = CoInitializeEx(nullptr, COINIT_APARTMENTTHREADED);  // Outlook's main thread is an STA
  if (FAILED(hr)) return Fail("CoInitializeEx", hr);
  HMODULE olmapi32 = LoadLibraryW(standin_path.c_str());
  if (!olmapi32) return Fail("LoadLibrary(olmapi32)", HRESULT_FROM_WIN32(GetLastError()));
  using OpenFn = HRESULT(STDAPICALLTYPE *)(ULONG, const WCHAR *, const GUID *, const GUID *, IMAPIOfflineMgr **);
  auto open = reinterpret_cast<OpenFn>(GetProcAddress(olmapi32, "HrOpenOfflineObj"));
  if (!open) open = reinterpret_cast<OpenFn>(GetProcAddress(olmapi32, "HrOpenOfflineObj@20"));
  if (!open) return Fail("HrOpenOfflineObj", E_FAIL);

  // Registration, as regsvr32 does it.
  HMODULE addin_dll = LoadLibraryW(addin_path.c_str());
  if (!addin_dll) return Fail("LoadLibrary(add-in)", HRESULT_FROM_WIN32(GetLastError()));
  auto do_register = reinterpret_cast<HRESULT(STDAPICALLTYPE *)()>(GetProcAddress(addin_dll, "DllRegisterServer"));
  auto do_unregister =
      reinterpret_cast<HRESULT(STDAPICALLTYPE *)()>(GetProcAddress(addin_dll, "DllUnregisterServer"));
  if (!do_register || !do_unregister) return Fail("DllRegisterServer export", E_FAIL);
  hr = do_register();
  if (FAILED(hr)) return Fail("DllRegisterServer", hr);
  DWORD load_behavior = 0, size = sizeof load_behavior;
  hr = HRESULT_FROM_WIN32(RegGetValueW(HKEY_CURRENT_USER,
                                       L"Software\\Microsoft\\Office\\Outlook\\Addins\\MapiOffline.OutlookAddin",
                                       L"LoadBehavior", RRF_RT_REG_DWORD, nullptr, &load_behavior, &size));
  if (FAILED(hr) || load_behavior != 3) return Fail("Addins\\...\\LoadBehavior", FAILED(hr) ? hr : E_FAIL);

  // Creation by ProgID, as Outlook does for each entry of its Addins key.
  IDTExtensibility2 *addin = nullptr;
  const char *route = "";
  hr = CreateByProgId(L"MapiOffline.OutlookAddin", kIID_IDTExtensibility2, reinterpret_cast<void **>(&addin), &route);
  if (FAILED(hr)) return Fail("create by ProgID", hr);
  std::printf("created %s\n", route);

  // Application.Session.CurrentProfileName
  VARIANT name;
  VariantInit(&name);
  name.vt = VT_BSTR;
  name.bstrVal = SysAllocString(profile.c_str());
  auto *session = new FakeDispatch(L"CurrentProfileName", name);
  VARIANT session_value;
  VariantInit(&session_value);
  session_value.vt = VT_DISPATCH;
  session_value.pdispVal = session;  // the variant owns the reference
  auto *application = new FakeDispatch(L"Session", session_value);

  LARGE_INTEGER frequency, before, after;
  QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&before);
  SAFEARRAY *custom = nullptr;
  hr = addin->OnConnection(application, /*ext_cm_Startup=*/1, nullptr, &custom);
  QueryPerformanceCounter(&after);
  if (FAILED(hr)) return Fail("OnConnection", hr);
  const long long us = (after.QuadPart - before.QuadPart) * 1000000 / frequency.QuadPart;
  std::printf("connected %lld\n", us);
  addin->OnStartupComplete(&custom);
  std::printf("ready\n");
  std::fflush(stdout);

  IMAPIOfflineMgr *offline = nullptr;
  hr = open(0, reinterpret_cast<const WCHAR *>(profile.c_str()), &GUID_GlobalState, nullptr, &offline);
  if (FAILED(hr)) return Fail("HrOpenOfflineObj", hr);
  char line[64];
  while (std::fgets(line, sizeof line, stdin)) {
    if (std::strncmp(line, "shutdown", 8) == 0) break;
    const ULONG state = std::strncmp(line, "offline", 7) == 0 ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE;
    hr = offline->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, state, nullptr);
    std::printf("ok %08lx\n", static_cast<unsigned long>(hr));
    std::fflush(stdout);
  }
  addin->OnBeginShutdown(&custom);
  addin->OnDisconnection(/*ext_dm_HostShutdown=*/0, &custom);
  addin->Release();
  application->Release();
  offline->Release();
  do_unregister();
  std::printf("bye\n");
  std::fflush(stdout);
  CoUninitialize();
  return 0;
}
