// mapioffline_open_outlook against a stand-in olmapi32.dll (spec §5). One mode per run, as CTest orders them
// around the registry fixture (see CMakeLists.txt):
//   invalid   NULL / empty profile and NULL out-pointer are refused before any DLL is looked for
//   none      nothing loaded, no DllPathEx: open fails with MAPI_E_CALL_FAILED, "no DLL" detail
//   loaded    the stand-in loaded by full path: found without search, then a full Advise / SetCurrentState(BLOCK) /
//             Notify / Unadvise / Release cycle through the object the DLL returned
//   alternate the stand-in exporting only the other spelling (x64: HrOpenOfflineObj@20, x86: HrOpenOfflineObj)
//             loaded: found as the second name tried, then the same cycle
//   noexport  an olmapi32.dll without HrOpenOfflineObj loaded: MAPI_E_CALL_FAILED, "does not export" detail
//   registry  nothing loaded; allow_search finds the stand-in through DllPathEx (written by the CTest fixture),
//             then the same cycle
// Not tested: the FGetComponentPath route, which needs an MSI-registered Outlook component that cannot be created
// here (under Wine, the `none` mode only sees it fail).
#include "../check.h"

#include <cstring>
#include <cwchar>
#include <string>

#include "mapioffline/mapioffline.h"
#include "../test_sink_helpers.h"

namespace {

const WCHAR *const kProfile = L"Outlook";

std::wstring ExeDir() {
  wchar_t path[MAX_PATH * 2] = {};
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH * 2);
  CHECK(n > 0 && n < MAX_PATH * 2);
  std::wstring dir(path, n);
  const size_t slash = dir.find_last_of(L"\\/");
  return slash == std::wstring::npos ? std::wstring() : dir.substr(0, slash);
}

std::wstring StandinPath() { return ExeDir() + L"\\olmapi32.dll"; }
std::wstring NoExportPath() { return ExeDir() + L"\\noexport\\olmapi32.dll"; }
std::wstring AlternatePath() { return ExeDir() + L"\\alt\\olmapi32.dll"; }

// The spelling Outlook's DLL uses on this architecture (the stand-in's), and the other one (the alt stand-in's).
#if defined(_M_IX86) || defined(__i386__)
const char kPrimaryExport[] = "HrOpenOfflineObj@20";
const char kOtherExport[] = "HrOpenOfflineObj";
#else
const char kPrimaryExport[] = "HrOpenOfflineObj";
const char kOtherExport[] = "HrOpenOfflineObj@20";
#endif

bool Same(const char *a, const char *b) { return a && b && std::strcmp(a, b) == 0; }

std::wstring ModulePath(HMODULE module) {
  wchar_t path[MAX_PATH * 2] = {};
  const DWORD n = GetModuleFileNameW(module, path, MAX_PATH * 2);
  return std::wstring(path, n < MAX_PATH * 2 ? n : 0);
}

bool SamePath(const std::wstring &a, const std::wstring &b) { return !a.empty() && _wcsicmp(a.c_str(), b.c_str()) == 0; }

bool Contains(const char *text, const char *part) { return text && std::strstr(text, part) != nullptr; }

// The module whose image holds `address` (no reference taken), or NULL.
HMODULE ModuleOf(const void *address) {
  HMODULE module = nullptr;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          static_cast<LPCWSTR>(address), &module)) {
    return nullptr;
  }
  return module;
}

bool DllPathExPresent() {
  DWORD size = 0;
  return RegGetValueW(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail\\Microsoft Outlook", L"DllPathEx", RRF_RT_ANY,
                      nullptr, nullptr, &size) == ERROR_SUCCESS;
}

void TestInvalid() {
  const WCHAR empty[] = {0};
  IMAPIOfflineMgr *mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
  const char *detail = nullptr;
  CHECK_HR(mapioffline_open_outlook(nullptr, 1, &mgr, &detail), E_INVALIDARG);
  CHECK(mgr == nullptr);
  CHECK(Contains(detail, "profile name"));
  mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
  detail = nullptr;
  CHECK_HR(mapioffline_open_outlook(empty, 1, &mgr, &detail), E_INVALIDARG);
  CHECK(mgr == nullptr);
  CHECK(Contains(detail, "profile name"));
  CHECK_HR(mapioffline_open_outlook(kProfile, 1, nullptr, &detail), E_INVALIDARG);
  CHECK_HR(mapioffline_open_outlook(empty, 0, &mgr, nullptr), E_INVALIDARG);  // detail is optional
  CHECK(mapioffline_outlook_loaded() == 0);  // argument errors never load anything
}

void TestNone() {
  if (DllPathExPresent()) {
    fprintf(stderr, "DllPathEx is set in this (Wine) prefix: a stale value from an interrupted run? "
                    "Delete it with: wine reg delete \"HKLM\\Software\\Clients\\Mail\\Microsoft Outlook\" /v DllPathEx /f\n");
  }
  CHECK(!DllPathExPresent());
  CHECK(mapioffline_outlook_loaded() == 0);
  for (int allow_search = 0; allow_search <= 1; ++allow_search) {
    IMAPIOfflineMgr *mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
    const char *detail = nullptr;
    CHECK_HR(mapioffline_open_outlook(kProfile, allow_search, &mgr, &detail), MAPI_E_CALL_FAILED);
    CHECK(mgr == nullptr);
    CHECK(Contains(detail, "no Outlook MAPI DLL"));
  }
  CHECK(mapioffline_outlook_loaded() == 0);  // the search loaded nothing that stayed
  CHECK(GetModuleHandleW(L"olmapi32.dll") == nullptr);
}

// Advise a native sink, go OFFLINE with FLAG_BLOCK, pop START / STATECHANGE / DONE, Unadvise, Release: all through
// the object the stand-in DLL returned.
void RunCycle(IMAPIOfflineMgr *mgr, HMODULE dll) {
  CHECK(mgr != nullptr);
  if (!mgr) return;
  // The object is the DLL's: its vtable and code lie inside the DLL's image, not in this program's copy of the core.
  const void *vtable = *reinterpret_cast<void *const *>(mgr);
  const void *advise_slot = reinterpret_cast<void *const *>(vtable)[7];
  CHECK(ModuleOf(vtable) == dll);
  CHECK(ModuleOf(advise_slot) == dll);
  CHECK(ModuleOf(vtable) != GetModuleHandleW(nullptr));
  CHECK(mapioffline_live_offline_objects() == 0);  // our own copy of the core made no object

  ULONG state = 0, caps = 0;
  CHECK_HR(mgr->GetCurrentState(&state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_ONLINE);
  CHECK_HR(mgr->GetCapabilities(&caps), S_OK);
  CHECK((caps & (MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE)) != 0);
  void *offline = nullptr;
  CHECK_HR(mgr->QueryInterface(IID_IMAPIOffline, &offline), S_OK);
  CHECK(offline == static_cast<void *>(mgr));
  if (offline) static_cast<IMAPIOffline *>(offline)->Release();

  IMAPIOfflineNotify *sink = nullptr;
  CHECK_HR(mapioffline_sink_create(16, &sink), S_OK);
  if (!sink) return;
  const ULONG token = Advise(mgr, sink, 0x5157);

  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                nullptr), S_OK);
  CHECK_HR(mgr->GetCurrentState(&state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_OFFLINE);

  // FLAG_BLOCK returned after DONE was delivered: all three records are in the sink already.
  uint64_t last_ts = 0;
  for (ULONG i = 0; i < 3; ++i) {
    MAPIOFFLINE_NOTIFY n{};
    uint64_t ts = 0;
    CHECK(mapioffline_sink_try_pop(sink, &n, &ts) == 1);
    CHECK(n.ulSize == sizeof(MAPIOFFLINE_NOTIFY));
    CHECK(static_cast<ULONG>(n.NotifyType) == i + 1);  // START, STATECHANGE, DONE
    CHECK(n.ulClientToken == 0x5157);
    CHECK(n.Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK);
    CHECK(n.Info.StateChange.ulStateOld == MAPIOFFLINE_STATE_ONLINE);
    CHECK(n.Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_OFFLINE);
    CHECK(ts >= last_ts);
    last_ts = ts;
  }
  MAPIOFFLINE_NOTIFY extra{};
  CHECK(mapioffline_sink_try_pop(sink, &extra, nullptr) == 0);
  CHECK(mapioffline_sink_last_state(sink) == MAPIOFFLINE_STATE_OFFLINE);
  MAPIOFFLINE_SINK_STATS stats{};
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.received == 3 && stats.delivered == 3 && stats.dropped == 0 && stats.invalid == 0);

  CHECK_HR(mgr->Unadvise(MAPIOFFLINE_UNADVISE_DEFAULT, token), S_OK);
  // No longer advised: a change back ONLINE reaches nobody.
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_ONLINE,
                                nullptr), S_OK);
  CHECK(mapioffline_sink_try_pop(sink, &extra, nullptr) == 0);
  CHECK(sink->Release() == 0);  // Unadvise gave back the manager's reference
  CHECK(mapioffline_live_sinks() == 0);
  CHECK(mgr->Release() == 0);
}

// Loads a stand-in DLL; nullptr (a failed check, and why on stderr) when it cannot.
HMODULE LoadStandin(const std::wstring &path) {
  HMODULE dll = LoadLibraryW(path.c_str());
  const DWORD error = dll ? 0 : GetLastError();
  CHECK(dll != nullptr);
  if (!dll) fprintf(stderr, "LoadLibraryW(%ls) failed: error %lu\n", path.c_str(), error);
  return dll;
}

// Opens Outlook's object without search (the stand-in `dll` is loaded already) and runs the cycle on it.
void OpenAndRunCycle(HMODULE dll) {
  IMAPIOfflineMgr *mgr = nullptr;
  const char *detail = nullptr;
  CHECK_HR(mapioffline_open_outlook(kProfile, 0, &mgr, &detail), S_OK);
  CHECK(detail && detail[0] == '\0');
  RunCycle(mgr, dll);
}

void TestLoaded() {
  CHECK(mapioffline_outlook_loaded() == 0);
  HMODULE dll = LoadStandin(StandinPath());
  if (!dll) return;
  CHECK(mapioffline_outlook_loaded() == 1);
  CHECK(GetProcAddress(dll, "mapioffline_open_embedded") == nullptr);  // exported under Outlook's name only
  CHECK(GetProcAddress(dll, kOtherExport) == nullptr);
  CHECK(Same(mapioffline_outlook_export(), kPrimaryExport));
  OpenAndRunCycle(dll);
  CHECK(mapioffline_outlook_loaded() == 1);
}

// A DLL with only the spelling the loader tries second: still found, and the name reported is that one.
void TestAlternate() {
  CHECK(mapioffline_outlook_loaded() == 0);
  CHECK(mapioffline_outlook_export() == nullptr);
  HMODULE dll = LoadStandin(AlternatePath());
  if (!dll) return;
  CHECK(GetProcAddress(dll, kPrimaryExport) == nullptr);  // really only the other spelling
  CHECK(GetProcAddress(dll, kOtherExport) != nullptr);
  CHECK(Same(mapioffline_outlook_export(), kOtherExport));
  OpenAndRunCycle(dll);
}

void TestNoExport() {
  CHECK(mapioffline_outlook_loaded() == 0);
  HMODULE dll = LoadStandin(NoExportPath());
  if (!dll) return;
  CHECK(mapioffline_outlook_loaded() == 1);
  for (int allow_search = 0; allow_search <= 1; ++allow_search) {  // a loaded DLL is used, search or not
    IMAPIOfflineMgr *mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
    const char *detail = nullptr;
    CHECK_HR(mapioffline_open_outlook(kProfile, allow_search, &mgr, &detail), MAPI_E_CALL_FAILED);
    CHECK(mgr == nullptr);
    CHECK(Contains(detail, "does not export HrOpenOfflineObj"));
  }
  CHECK(mapioffline_outlook_export() == nullptr);  // loaded, but neither spelling
}

void TestRegistry() {
  CHECK(DllPathExPresent());
  CHECK(mapioffline_outlook_loaded() == 0);
  IMAPIOfflineMgr *mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
  const char *detail = nullptr;
  // Without search the registry is not consulted.
  CHECK_HR(mapioffline_open_outlook(kProfile, 0, &mgr, &detail), MAPI_E_CALL_FAILED);
  CHECK(mgr == nullptr);
  CHECK(mapioffline_outlook_loaded() == 0);
  detail = nullptr;
  CHECK_HR(mapioffline_open_outlook(kProfile, 1, &mgr, &detail), S_OK);
  if (!mgr) fprintf(stderr, "open_outlook detail: %s\n", detail ? detail : "(null)");
  CHECK(mapioffline_outlook_loaded() == 1);  // the loader keeps the DLL it loaded
  HMODULE dll = GetModuleHandleW(L"olmapi32.dll");
  CHECK(dll != nullptr);
  CHECK(SamePath(ModulePath(dll), StandinPath()));
  CHECK(Same(mapioffline_outlook_export(), kPrimaryExport));
  RunCycle(mgr, dll);
  // Now loaded, it is found without search too.
  mgr = nullptr;
  CHECK_HR(mapioffline_open_outlook(kProfile, 0, &mgr, &detail), S_OK);
  CHECK(mgr && ModuleOf(*reinterpret_cast<void *const *>(mgr)) == dll);
  if (mgr) CHECK(mgr->Release() == 0);
}

}  // namespace

int main(int argc, char **argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string label = argc > 2 ? argv[2] : mode;
  if (mode == "invalid") {
    TestInvalid();
  } else if (mode == "none") {
    TestNone();
  } else if (mode == "loaded") {
    TestLoaded();
  } else if (mode == "alternate") {
    TestAlternate();
  } else if (mode == "noexport") {
    TestNoExport();
  } else if (mode == "registry") {
    TestRegistry();
  } else {
    fprintf(stderr, "usage: outlook_loader_test invalid|none|loaded|alternate|noexport|registry [label]\n");
    return 2;
  }
  return check_report(("outlook_loader_test[" + label + "]").c_str());
}
