// A fake Outlook: hosts mapioffline_addin.dll as Outlook hosts COM add-ins.
//   fake_outlook_host ADDIN_DLL STANDIN_OLMAPI32_DLL PROFILE
// 1. LoadLibrary(olmapi32 stand-in): in Outlook, olmapi32.dll is always loaded; the add-in's loader finds it. The
//    stand-in (olmapi32_recording.cpp) records the thread and flags of every SetCurrentState call.
// 2. Registers the add-in with its own DllRegisterServer (what regsvr32 does) and checks Outlook's Addins key
//    (LoadBehavior 3); CLSIDFromProgID + CoCreateInstance(IID_IDTExtensibility2), as Outlook creates add-ins.
// 3. OnConnection(fake Application) whose Session.CurrentProfileName is PROFILE (late-bound IDispatch, like
//    Outlook's object model); prints "connected <microseconds>", then OnStartupComplete and "ready".
// The main thread is an STA that pumps messages, as Outlook's does, and runs the commands; a second thread only
// reads stdin and hands each line over (an event the pump also waits on). Commands, one a line:
//   offline | online   SetCurrentState(BLOCK) on the stand-in's HrOpenOfflineObj object for PROFILE (the object the
//                      add-in publishes), on the main thread -> "ok <hr>"
//   calls              the stand-in's log -> "calls <count> <main|other|none> <flags of the last call, hex>"
//   hold               stops pumping (as a busy Outlook does) -> "holding"; waits, still not pumping, until a message
//                      is sent to this thread -> "sent" (or "nothing sent" after 60 s); then waits for the next
//                      command without pumping and runs it (the test sends "shutdown")
//   shutdown           OnBeginShutdown, OnDisconnection, Release, DllUnregisterServer -> "bye" (also at end of input)
// Failures print "error ..." and exit 1.
#include <windows.h>
#include <oaidl.h>

#include <cstdio>
#include <cstring>
#include <deque>
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

// Lines from stdin, read on a thread of their own so that the main thread can pump messages meanwhile.
class Lines {
 public:
  Lines() : ready_(CreateEventW(nullptr, FALSE, FALSE, nullptr)) { InitializeCriticalSection(&lock_); }
  bool Start() { return ready_ && CreateThread(nullptr, 0, &Lines::Main, this, 0, nullptr) != nullptr; }
  HANDLE ready() const { return ready_; }  // auto-reset: set after each line
  bool Take(std::string *line) {
    EnterCriticalSection(&lock_);
    const bool any = !lines_.empty();
    if (any) {
      *line = lines_.front();
      lines_.pop_front();
    }
    LeaveCriticalSection(&lock_);
    return any;
  }

 private:
  static DWORD WINAPI Main(void *context) {
    auto *self = static_cast<Lines *>(context);
    char line[64];
    while (std::fgets(line, sizeof line, stdin)) self->Put(line);
    self->Put("shutdown");  // end of input
    return 0;
  }
  void Put(const char *line) {
    EnterCriticalSection(&lock_);
    lines_.emplace_back(line);
    LeaveCriticalSection(&lock_);
    SetEvent(ready_);
  }
  HANDLE ready_;
  CRITICAL_SECTION lock_;
  std::deque<std::string> lines_;
};

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
  using LogFn = void (*)(ULONG *, DWORD *, ULONG *);
  auto set_state_log = reinterpret_cast<LogFn>(GetProcAddress(olmapi32, "standin_set_state_log"));
  if (!set_state_log) return Fail("standin_set_state_log", E_FAIL);
  const DWORD main_thread = GetCurrentThreadId();
  Lines lines;
  if (!lines.Start()) return Fail("stdin thread", HRESULT_FROM_WIN32(GetLastError()));
  HANDLE ready = lines.ready();
  bool quit = false, held = false;
  while (!quit) {
    std::string line;
    if (!lines.Take(&line)) {
      if (held) {  // after "hold": the next command, without pumping
        WaitForSingleObject(ready, INFINITE);
        continue;
      }
      // Outlook's message loop: sent messages are dispatched inside the wait's PeekMessage, posted ones here.
      const DWORD w = MsgWaitForMultipleObjectsEx(1, &ready, INFINITE, QS_ALLINPUT, MWMO_INPUTAVAILABLE);
      if (w == WAIT_OBJECT_0 + 1) {
        MSG msg;
        while (PeekMessageW(&msg, nullptr, 0, 0, PM_REMOVE)) {
          TranslateMessage(&msg);
          DispatchMessageW(&msg);
        }
      }
      continue;
    }
    if (line.compare(0, 8, "shutdown") == 0) {
      quit = true;
    } else if (line.compare(0, 5, "calls") == 0) {
      ULONG calls = 0, flags = 0;
      DWORD thread = 0;
      set_state_log(&calls, &thread, &flags);
      std::printf("calls %lu %s %08lx\n", static_cast<unsigned long>(calls),
                  calls == 0 ? "none" : thread == main_thread ? "main" : "other", static_cast<unsigned long>(flags));
    } else if (line.compare(0, 4, "hold") == 0) {
      std::printf("holding\n");
      std::fflush(stdout);
      // Not pumping: a message sent to this thread (the add-in's request) waits in the queue; this only sees it.
      const DWORD w = MsgWaitForMultipleObjectsEx(0, nullptr, 60000, QS_SENDMESSAGE, MWMO_INPUTAVAILABLE);
      std::printf(w == WAIT_OBJECT_0 ? "sent\n" : "nothing sent\n");
      held = true;
    } else {
      const ULONG state =
          line.compare(0, 7, "offline") == 0 ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE;
      hr = offline->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, state, nullptr);
      std::printf("ok %08lx\n", static_cast<unsigned long>(hr));
    }
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
