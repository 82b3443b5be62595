// DllRegisterServer / DllUnregisterServer: the per-user registration regsvr32 performs, and the same keys as
// `python -m mapioffline addin install` writes. All under HKEY_CURRENT_USER (no elevation):
//   Software\Classes\CLSID\{clsid}\InprocServer32   (default) = this DLL, ThreadingModel = Apartment
//   Software\Classes\CLSID\{clsid}\ProgID            (default) = MapiOffline.OutlookAddin
//   Software\Classes\MapiOffline.OutlookAddin\CLSID  (default) = {clsid}
//   Software\Microsoft\Office\Outlook\Addins\MapiOffline.OutlookAddin
//                                                   LoadBehavior = 3 (load at start-up), FriendlyName, Description
// Software\Classes is redirected per registry view on 64-bit Windows, so the 32-bit DLL registered by a 32-bit
// regsvr32 lands in the 32-bit view and the 64-bit DLL in the 64-bit one: register the DLL of Outlook's bitness
// (or both). The Addins key is shared by both views.
#include <windows.h>

#include <string>

#include "addin.h"

using mapioffline::addin::CLSID_OutlookAddin;
using mapioffline::addin::kProgId;
using mapioffline::addin::ModuleInstance;

namespace {

const wchar_t kFriendlyName[] = L"mapioffline";
const wchar_t kDescription[] = L"Publishes Outlook's online/offline state to other processes of this user";

std::wstring ClsidText() {
  wchar_t text[64];
  StringFromGUID2(CLSID_OutlookAddin, text, 64);
  return text;
}

bool SetString(const std::wstring &key, const wchar_t *name, const std::wstring &value) {
  HKEY k = nullptr;
  if (RegCreateKeyExW(HKEY_CURRENT_USER, key.c_str(), 0, nullptr, 0, KEY_SET_VALUE, nullptr, &k, nullptr) !=
      ERROR_SUCCESS) {
    return false;
  }
  const LONG r = RegSetValueExW(k, name, 0, REG_SZ, reinterpret_cast<const BYTE *>(value.c_str()),
                                static_cast<DWORD>((value.size() + 1) * sizeof(wchar_t)));
  RegCloseKey(k);
  return r == ERROR_SUCCESS;
}

bool SetDword(const std::wstring &key, const wchar_t *name, DWORD value) {
  HKEY k = nullptr;
  if (RegCreateKeyExW(HKEY_CURRENT_USER, key.c_str(), 0, nullptr, 0, KEY_SET_VALUE, nullptr, &k, nullptr) !=
      ERROR_SUCCESS) {
    return false;
  }
  const LONG r = RegSetValueExW(k, name, 0, REG_DWORD, reinterpret_cast<const BYTE *>(&value), sizeof value);
  RegCloseKey(k);
  return r == ERROR_SUCCESS;
}

std::wstring ClassKey() { return L"Software\\Classes\\CLSID\\" + ClsidText(); }
std::wstring ProgIdKey() { return std::wstring(L"Software\\Classes\\") + kProgId; }
std::wstring AddinKey() { return std::wstring(L"Software\\Microsoft\\Office\\Outlook\\Addins\\") + kProgId; }

}  // namespace

extern "C" HRESULT STDAPICALLTYPE DllRegisterServer() {
  wchar_t path[MAX_PATH];
  const DWORD n = GetModuleFileNameW(ModuleInstance(), path, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) return E_FAIL;
  const bool ok = SetString(ClassKey(), nullptr, kDescription) &&
                  SetString(ClassKey() + L"\\InprocServer32", nullptr, path) &&
                  SetString(ClassKey() + L"\\InprocServer32", L"ThreadingModel", L"Apartment") &&
                  SetString(ClassKey() + L"\\ProgID", nullptr, kProgId) &&
                  SetString(ProgIdKey(), nullptr, kDescription) &&
                  SetString(ProgIdKey() + L"\\CLSID", nullptr, ClsidText()) &&
                  SetString(AddinKey(), L"FriendlyName", kFriendlyName) &&
                  SetString(AddinKey(), L"Description", kDescription) && SetDword(AddinKey(), L"LoadBehavior", 3);
  return ok ? S_OK : E_FAIL;  // SELFREG_E_CLASS needs olectl.h; regsvr32 reports any failure
}

extern "C" HRESULT STDAPICALLTYPE DllUnregisterServer() {
  // Missing keys are fine: unregistering twice succeeds.
  RegDeleteTreeW(HKEY_CURRENT_USER, AddinKey().c_str());
  RegDeleteTreeW(HKEY_CURRENT_USER, ProgIdKey().c_str());
  RegDeleteTreeW(HKEY_CURRENT_USER, ClassKey().c_str());
  return S_OK;
}
