/* Plain C99: the header's C view (lpVtbl structs, REFIID as pointer), the GUID bytes, and a full
 * Advise / notify / Unadvise cycle made only through lpVtbl calls, with a sink written in C. */
#include "check.h"

#include <string.h>

#include "mapioffline/mapioffline.h"

#if defined(__i386__) && defined(__GNUC__)
/* 32-bit: STDMETHODCALLTYPE must really be stdcall (a different function type from the default cdecl). */
typedef char stdcall_in_force[__builtin_types_compatible_p(void(STDMETHODCALLTYPE *)(int), void (*)(int)) ? -1 : 1];
#endif

static const unsigned char kGlobalStateBytes[16] = {0x93, 0xfd, 0xef, 0xfb, 0x1f, 0xb1, 0x94, 0x40,
                                                    0x84, 0x2b, 0x96, 0xdc, 0xd3, 0x1e, 0x63, 0xd1};
static const unsigned char kOfflineBytes[16] = {0xb5, 0x72, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                                0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
static const unsigned char kNotifyBytes[16] = {0xe5, 0xbd, 0x17, 0x03, 0x29, 0xfc, 0xcd, 0x44,
                                               0x8d, 0xcd, 0x36, 0x12, 0x5a, 0x3b, 0xe9, 0xec};
static const unsigned char kMgrBytes[16] = {0x07, 0x56, 0x17, 0x42, 0x3e, 0xff, 0x90, 0x47,
                                            0xbc, 0x18, 0x66, 0xc8, 0x64, 0x3e, 0x64, 0x24};
static const unsigned char kUnknownBytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46};

/* A sink in C: counts records and references. */
typedef struct CSink {
  IMAPIOfflineNotify iface;
  ULONG refs;
  int records;
  MAPIOFFLINE_NOTIFY last;
} CSink;

static HRESULT STDMETHODCALLTYPE CSink_QueryInterface(IMAPIOfflineNotify *This, REFIID riid, void **ppv) {
  if (!ppv) return E_POINTER;
  *ppv = NULL;
  if (!IsEqualGUID(riid, &IID_IUnknown) && !IsEqualGUID(riid, &IID_IMAPIOfflineNotify)) return E_NOINTERFACE;
  *ppv = This;
  This->lpVtbl->AddRef(This);
  return S_OK;
}
static ULONG STDMETHODCALLTYPE CSink_AddRef(IMAPIOfflineNotify *This) { return ++((CSink *)This)->refs; }
static ULONG STDMETHODCALLTYPE CSink_Release(IMAPIOfflineNotify *This) { return --((CSink *)This)->refs; }
static void STDMETHODCALLTYPE CSink_Notify(IMAPIOfflineNotify *This, const MAPIOFFLINE_NOTIFY *n) {
  CSink *self = (CSink *)This;
  self->records++;
  self->last = *n;
}
static const IMAPIOfflineNotifyVtbl kCSinkVtbl = {CSink_QueryInterface, CSink_AddRef, CSink_Release, CSink_Notify};

int main(void) {
  static const WCHAR profile[] = {'c', '9', '9', 0};
  IMAPIOfflineMgr *mgr = NULL;
  IMAPIOffline *offline = NULL;
  IMAPIOfflineNotify *native = NULL;
  MAPIOFFLINE_ADVISEINFO info;
  MAPIOFFLINE_NOTIFY popped;
  ULONG caps = 0, state = 0, token_c = 0, token_native = 0;
  uint64_t ts = 0;
  CSink csink;
  int n;

  CHECK(memcmp(&GUID_GlobalState, kGlobalStateBytes, 16) == 0);
  CHECK(memcmp(&IID_IMAPIOffline, kOfflineBytes, 16) == 0);
  CHECK(memcmp(&IID_IMAPIOfflineNotify, kNotifyBytes, 16) == 0);
  CHECK(memcmp(&IID_IMAPIOfflineMgr, kMgrBytes, 16) == 0);
  CHECK(memcmp(&IID_IUnknown, kUnknownBytes, 16) == 0);
  CHECK(sizeof(MAPIOFFLINE_NOTIFY) == 24);
  CHECK(sizeof(MAPIOFFLINE_ADVISEINFO) == (sizeof(void *) == 8 ? 32 : 24));
  CHECK(strcmp(mapioffline_version(), MAPIOFFLINE_VERSION_STRING) == 0);

  CHECK_HR(mapioffline_open_embedded(0, profile, &GUID_GlobalState, NULL, &mgr), S_OK);
  CHECK_HR(mgr->lpVtbl->QueryInterface(mgr, &IID_IMAPIOffline, (void **)&offline), S_OK);
  CHECK_HR(offline->lpVtbl->GetCapabilities(offline, &caps), S_OK);
  CHECK(caps == (MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE));
  CHECK_HR(offline->lpVtbl->GetCurrentState(offline, &state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_ONLINE);

  csink.iface.lpVtbl = &kCSinkVtbl;
  csink.refs = 1;
  csink.records = 0;
  memset(&info, 0, sizeof info);
  info.ulSize = sizeof info;
  info.ulClientToken = 0xC0FFEE;
  info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  info.pCallback = (IUnknown *)&csink.iface;
  info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  info.ulStateMask = MAPIOFFLINE_STATE_ALL;
  CHECK_HR(mgr->lpVtbl->Advise(mgr, MAPIOFFLINE_ADVISE_DEFAULT, &info, &token_c), S_OK);
  CHECK(token_c != 0 && csink.refs == 2);

  CHECK_HR(mapioffline_sink_create(8, &native), S_OK);
  info.ulClientToken = 42;
  info.pCallback = (IUnknown *)native;
  CHECK_HR(mgr->lpVtbl->Advise(mgr, 0, &info, &token_native), S_OK);
  CHECK(token_native > token_c);

  /* Through IMAPIOffline's vtable: slot 3 with the stdcall argument order. */
  CHECK_HR(offline->lpVtbl->SetCurrentState(offline, MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK,
                                            MAPIOFFLINE_STATE_OFFLINE, NULL), S_OK);
  CHECK(csink.records == 3);
  CHECK(csink.last.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE);
  CHECK(csink.last.ulClientToken == 0xC0FFEE);
  CHECK(csink.last.Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_OFFLINE);
  CHECK(csink.refs == 2); /* the per-call references were all returned */
  for (n = 1; n <= 3; ++n) {
    CHECK(mapioffline_sink_try_pop(native, &popped, &ts) == 1);
    CHECK((int)popped.NotifyType == n && popped.ulClientToken == 42 && ts != 0);
  }
  CHECK(mapioffline_sink_try_pop(native, &popped, NULL) == 0);
  CHECK(mapioffline_sink_last_state(native) == MAPIOFFLINE_STATE_OFFLINE);

  CHECK_HR(mgr->lpVtbl->Placeholder1(mgr), MAPI_E_NO_SUPPORT);
  CHECK_HR(mgr->lpVtbl->Placeholder8(mgr), MAPI_E_NO_SUPPORT);
  CHECK_HR(mgr->lpVtbl->Unadvise(mgr, 0, token_c), S_OK);
  CHECK(csink.refs == 1);
  CHECK_HR(mgr->lpVtbl->Unadvise(mgr, 0, token_native), S_OK);
  CHECK(native->lpVtbl->Release(native) == 0);
  offline->lpVtbl->Release(offline);
  CHECK(mgr->lpVtbl->Release(mgr) == 0);
  CHECK(mapioffline_live_sinks() == 0);
  CHECK(mapioffline_live_offline_objects() == 0);
  return check_report("test_c_abi");
}
