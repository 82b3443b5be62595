// Finding Outlook's HrOpenOfflineObj (spec §5): an already loaded olmapi32.dll / msmapi32.dll first; on request,
// then the mail client's DllPathEx registry value, then FGetComponentPath from mapistub.dll / mapi32.dll.
#include "mapioffline/mapioffline.h"

#if defined(_WIN32)
#include <string>

#include "profile_key.h"

namespace {

using HrOpenOfflineObjFn = HRESULT(STDMETHODCALLTYPE *)(ULONG, const WCHAR *, const GUID *, const GUID *,
                                                        IMAPIOfflineMgr **);
using FGetComponentPathFn = BOOL(STDAPICALLTYPE *)(LPCSTR, LPSTR, LPSTR, DWORD, BOOL);

// The export's name, in the order tried. On x86 the stdcall-decorated name (5 arguments x 4 bytes) is what Outlook
// exports and what the docs tell GetProcAddress to use. On x64 there is no stdcall decoration and MAPIStubLibrary
// (MFCMAPI) resolves the plain name; but Microsoft's page and sample use "HrOpenOfflineObj@20" on every platform,
// and a Microsoft x64 binary was seen asking for that spelling, so it is tried second rather than never: an x64
// DLL that exports the decorated spelling verbatim is found too. Which one real x64 Outlook exports is not known
// here (no Outlook); either way the right one is found, and mapioffline_outlook_export says which.
#if defined(_M_IX86) || defined(__i386__)
constexpr const char *kExportNames[] = {"HrOpenOfflineObj@20", "HrOpenOfflineObj"};
#else
constexpr const char *kExportNames[] = {"HrOpenOfflineObj", "HrOpenOfflineObj@20"};
#endif

constexpr wchar_t kMailClientKey[] = L"Software\\Clients\\Mail\\Microsoft Outlook";
// The sample's component ID; the mail client key's MSIComponentID value is preferred when present.
constexpr char kDefaultComponentId[] = "{FF1D0740-D227-11D1-A4B0-006008AF820E}";

HMODULE FindLoadedModule() {
  HMODULE module = GetModuleHandleW(L"olmapi32.dll");
  if (!module) module = GetModuleHandleW(L"msmapi32.dll");
  return module;
}

HMODULE LoadFromDllPathEx() {
  wchar_t path[MAX_PATH * 2];
  DWORD size = sizeof path, type = 0;
  // RRF_RT_REG_EXPAND_SZ is valid only with RRF_NOEXPAND (without it RegGetValue fails, ERROR_INVALID_PARAMETER),
  // so a REG_EXPAND_SZ value is read as is and expanded here.
  if (RegGetValueW(HKEY_LOCAL_MACHINE, kMailClientKey, L"DllPathEx",
                   RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, &type, path, &size) != ERROR_SUCCESS) {
    return nullptr;
  }
  if (type == REG_EXPAND_SZ) {
    wchar_t expanded[MAX_PATH * 2];
    const DWORD n = ExpandEnvironmentStringsW(path, expanded, MAX_PATH * 2);
    if (n == 0 || n > MAX_PATH * 2) return nullptr;
    return LoadLibraryW(expanded);
  }
  return LoadLibraryW(path);
}

// Reads a REG_MULTI_SZ value's first string (an LCID qualifier), or "" when absent.
std::string ReadFirstMultiString(const char *name) {
  char buffer[256] = {};
  DWORD size = sizeof buffer - 2;
  if (RegGetValueA(HKEY_LOCAL_MACHINE, "Software\\Clients\\Mail\\Microsoft Outlook", name,
                   RRF_RT_REG_MULTI_SZ | RRF_RT_REG_SZ, nullptr, buffer, &size) != ERROR_SUCCESS) {
    return std::string();
  }
  return std::string(buffer);
}

// Needs an MSI-registered Outlook component, which exists only on a real Office install.
HMODULE LoadFromComponentPath() {
  char system_dir[MAX_PATH];
  const UINT n = GetSystemDirectoryA(system_dir, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) return nullptr;
  HMODULE stub = LoadLibraryA((std::string(system_dir) + "\\mapistub.dll").c_str());
  if (!stub) stub = LoadLibraryA((std::string(system_dir) + "\\mapi32.dll").c_str());
  if (!stub) return nullptr;
  auto get_path = reinterpret_cast<FGetComponentPathFn>(
      reinterpret_cast<void (*)()>(GetProcAddress(stub, "FGetComponentPath")));
  HMODULE result = nullptr;
  if (get_path) {
    std::string component = ReadFirstMultiString("MSIComponentID");
    if (component.empty()) component = kDefaultComponentId;
    std::string app_lcid = ReadFirstMultiString("MSIApplicationLCID");
    std::string office_lcid = ReadFirstMultiString("MSIOfficeLCID");
    char *qualifiers[] = {app_lcid.empty() ? nullptr : &app_lcid[0], office_lcid.empty() ? nullptr : &office_lcid[0],
                          nullptr};
    for (char *qualifier : qualifiers) {
      char dll_path[MAX_PATH] = {};
      if (get_path(component.c_str(), qualifier, dll_path, MAX_PATH, TRUE) && dll_path[0]) {
        result = LoadLibraryA(dll_path);
        if (result) break;
      }
      if (!qualifier) break;
    }
  }
  FreeLibrary(stub);
  return result;
}

// The first of kExportNames that module exports, and its name (static storage) in *name; NULL when none.
HrOpenOfflineObjFn FindExport(HMODULE module, const char **name) {
  for (const char *candidate : kExportNames) {
    auto fn = reinterpret_cast<HrOpenOfflineObjFn>(
        reinterpret_cast<void (*)()>(GetProcAddress(module, candidate)));
    if (fn) {
      *name = candidate;
      return fn;
    }
  }
  *name = nullptr;
  return nullptr;
}

}  // namespace

extern "C" int mapioffline_outlook_loaded(void) { return FindLoadedModule() != nullptr ? 1 : 0; }

extern "C" const char *mapioffline_outlook_export(void) {
  HMODULE module = FindLoadedModule();
  const char *name = nullptr;
  if (module) FindExport(module, &name);
  return name;
}

extern "C" HRESULT mapioffline_open_outlook(const WCHAR *profile, int allow_search, IMAPIOfflineMgr **out,
                                            const char **detail) {
  const char *ignored;
  if (!detail) detail = &ignored;
  *detail = "";
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (const char *why = mapioffline::ProfileNameError(profile)) {
    *detail = why;
    return E_INVALIDARG;
  }
  HMODULE module = FindLoadedModule();
  if (!module && allow_search) module = LoadFromDllPathEx();
  if (!module && allow_search) module = LoadFromComponentPath();
  if (!module) {
    *detail = "no Outlook MAPI DLL (olmapi32.dll or msmapi32.dll) is loaded or registered";
    return MAPI_E_CALL_FAILED;
  }
  const char *export_name = nullptr;
  HrOpenOfflineObjFn open = FindExport(module, &export_name);
  if (!open) {
    *detail = "the Outlook MAPI DLL does not export HrOpenOfflineObj (neither spelling)";
    return MAPI_E_CALL_FAILED;
  }
  // A module we loaded ourselves stays loaded: the returned object's code lives in it.
  const HRESULT hr = open(0, profile, &GUID_GlobalState, nullptr, out);
  if (hr == MAPI_E_NOT_FOUND) {
    *detail = "Outlook's offline object exists only inside Outlook's process";
  } else if (FAILED(hr)) {
    *detail = "HrOpenOfflineObj failed";
  }
  if (FAILED(hr)) *out = nullptr;
  return hr;
}

#else

extern "C" int mapioffline_outlook_loaded(void) { return 0; }
extern "C" const char *mapioffline_outlook_export(void) { return nullptr; }

extern "C" HRESULT mapioffline_open_outlook(const WCHAR *, int, IMAPIOfflineMgr **out, const char **detail) {
  if (out) *out = nullptr;
  if (detail) *detail = "Outlook's offline object exists only on Windows, inside Outlook's process";
  return MAPI_E_NO_SUPPORT;
}

#endif
