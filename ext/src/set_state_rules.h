// The argument rules of IMAPIOfflineMgr::SetCurrentState (spec §7.6), the same for every manager of ours (the
// embedded object, the bridge object), checked before anything about the object's own state.
#pragma once
#include "mapioffline/mapioffline.h"

namespace mapioffline {

inline HRESULT CheckSetStateArguments(ULONG flags, ULONG mask, ULONG state, const void *reserved) noexcept {
  if (flags & ~MAPIOFFLINE_FLAG_BLOCK) return MAPI_E_UNKNOWN_FLAGS;
  if (mask != MAPIOFFLINE_STATE_OFFLINE_MASK || reserved != nullptr) return E_INVALIDARG;
  if (state != MAPIOFFLINE_STATE_ONLINE && state != MAPIOFFLINE_STATE_OFFLINE) return E_INVALIDARG;
  return S_OK;
}

}  // namespace mapioffline
