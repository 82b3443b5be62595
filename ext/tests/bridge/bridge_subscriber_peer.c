/* A C99 subscriber over the bridge: opens the bridge object of a profile, advises a native sink and prints
 *   "subscribed <state>"                          once advised
 *   "<kind> <old> <new> <dropped_before>"         for each notification
 *   "end <reason>"                                when the stream ends (2: MAPIOFFLINE_END_PUBLISHER_GONE)
 * Exit status 0, or 3 when no publisher runs.
 *   bridge_subscriber_peer PROFILE */
#include <stdio.h>
#include <string.h>

#include "mapioffline/mapioffline.h"

int main(int argc, char **argv) {
  WCHAR name[128];
  size_t i, n;
  IMAPIOfflineMgr *bridge = NULL;
  IMAPIOfflineNotify *sink = NULL;
  MAPIOFFLINE_ADVISEINFO info;
  ULONG token = 0, state = 0;
  const char *detail = NULL;
  HRESULT hr;
  if (argc < 2 || strlen(argv[1]) >= 128) {
    fprintf(stderr, "usage: %s PROFILE\n", argv[0]);
    return 2;
  }
  for (i = 0; argv[1][i]; ++i) name[i] = (WCHAR)argv[1][i];
  name[i] = 0;
  hr = mapioffline_open_bridge(name, &bridge, &detail);
  if (FAILED(hr)) {
    printf("error %08lx %s\n", (unsigned long)hr, detail ? detail : "");
    return hr == MAPI_E_NOT_FOUND ? 3 : 1;
  }
  if (FAILED(mapioffline_sink_create(1024, &sink))) return 1;
  memset(&info, 0, sizeof info);
  info.ulSize = sizeof info;
  info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  info.pCallback = (IUnknown *)sink;
  info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  info.ulStateMask = MAPIOFFLINE_STATE_ALL;
  mapioffline_sink_attach(sink);
  if (FAILED(bridge->lpVtbl->Advise(bridge, 0, &info, &token))) return 1;
  bridge->lpVtbl->GetCurrentState(bridge, &state);
  printf("subscribed %lu\n", (unsigned long)state);
  fflush(stdout);
  for (;;) {
    MAPIOFFLINE_RECORD records[16];
    uint64_t gaps[16];
    int w;
    n = mapioffline_sink_pop_records(sink, records, 16, gaps);
    for (i = 0; i < n; ++i) {
      printf("%d %lu %lu %llu\n", (int)records[i].notify.NotifyType,
             (unsigned long)records[i].notify.Info.StateChange.ulStateOld,
             (unsigned long)records[i].notify.Info.StateChange.ulStateNew, (unsigned long long)gaps[i]);
    }
    fflush(stdout);
    if (n > 0) continue;
    w = mapioffline_sink_wait(sink, -1, 0);
    if (w == MAPIOFFLINE_WAIT_ENDED || w == MAPIOFFLINE_WAIT_CLOSED) {
      if (mapioffline_sink_pop_records(sink, records, 1, gaps) == 0) break;
      printf("%d %lu %lu %llu\n", (int)records[0].notify.NotifyType,
             (unsigned long)records[0].notify.Info.StateChange.ulStateOld,
             (unsigned long)records[0].notify.Info.StateChange.ulStateNew, (unsigned long long)gaps[0]);
    }
  }
  printf("end %lu\n", (unsigned long)mapioffline_sink_end_reason(sink));
  fflush(stdout);
  bridge->lpVtbl->Unadvise(bridge, 0, token);
  bridge->lpVtbl->Release(bridge);
  sink->lpVtbl->Release(sink);
  return 0;
}
