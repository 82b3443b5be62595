// The eight reserved slots of IMAPIOfflineMgr (spec §7.2), as every offline object of ours answers them: `this`
// only, never called by clients. A base between the interface and our final classes; it adds no data and no
// virtual functions, so the vtable keeps the interface's exact order.
#pragma once
#include "mapioffline/mapioffline.h"

namespace mapioffline {

class ReservedSlots : public IMAPIOfflineMgr {
 public:
  HRESULT STDMETHODCALLTYPE Placeholder1() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder2() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder3() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder4() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder5() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder6() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder7() noexcept override { return MAPI_E_NO_SUPPORT; }
  HRESULT STDMETHODCALLTYPE Placeholder8() noexcept override { return MAPI_E_NO_SUPPORT; }
};

}  // namespace mapioffline
