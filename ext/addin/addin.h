// The Outlook COM add-in that publishes Outlook's offline state to other processes: Outlook loads it (it is
// registered per user with LoadBehavior 3), calls IDTExtensibility2::OnConnection with its Application object, and
// the add-in reads Application.Session.CurrentProfileName, opens Outlook's own offline object with our loader and
// publishes it on the profile's bridge channel until OnDisconnection. No Python runs inside Outlook.
#pragma once
#include <windows.h>
#include <oaidl.h>

namespace mapioffline {
namespace addin {

// IDTExtensibility2 (the Office add-in interface, msaddndr.h, which mingw-w64 does not ship): IDispatch, then five
// methods in this order. Outlook calls them through the vtable.
struct IDTExtensibility2 : public IDispatch {
  virtual HRESULT STDMETHODCALLTYPE OnConnection(IDispatch *application, int connect_mode, IDispatch *addin_instance,
                                                 SAFEARRAY **custom) = 0;
  virtual HRESULT STDMETHODCALLTYPE OnDisconnection(int remove_mode, SAFEARRAY **custom) = 0;
  virtual HRESULT STDMETHODCALLTYPE OnAddInsUpdate(SAFEARRAY **custom) = 0;
  virtual HRESULT STDMETHODCALLTYPE OnStartupComplete(SAFEARRAY **custom) = 0;
  virtual HRESULT STDMETHODCALLTYPE OnBeginShutdown(SAFEARRAY **custom) = 0;
};

extern const IID IID_IDTExtensibility2;  // {B65AD801-ABAF-11D0-BB8B-00A0C90F2744}
extern const CLSID CLSID_OutlookAddin;   // ours
extern const wchar_t kProgId[];          // "MapiOffline.OutlookAddin"

// Live add-in objects and class factory locks, for DllCanUnloadNow.
LONG &ModuleLocks() noexcept;
HINSTANCE &ModuleInstance() noexcept;

}  // namespace addin
}  // namespace mapioffline
