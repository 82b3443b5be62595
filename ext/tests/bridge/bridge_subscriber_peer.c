/* A C99 subscriber over the bridge: opens the bridge object of a profile, advises a native sink and prints
 *   "subscribed <state>"                          once advised
 *   "<kind> <old> <new> <dropped_before>"         for each notification
 *   "end <reason>"                                when the stream ends (2: MAPIOFFLINE_END_PUBLISHER_GONE)
 * Exit status 0, or 3 when no publisher runs.
 *   bridge_subscriber_peer PROFILE
 * With "requests" after the profile it asks the publisher for set_state instead, one stdin command a line:
 *   block offline|online   SetCurrentState(BLOCK) -> "set <hr> seen <kinds>": the kinds of the notifications that
 *                          had reached the sink when the call returned (a blocking call returns after its DONE)
 *   async offline|online   SetCurrentState(0) -> "set <hr>", then, once a DONE arrived, "got <kinds>" (or "got
 *                          <kinds> timeout" after 10 s, "got <kinds> end" when the stream ended)
 * and exits at end of input.
 *   bridge_subscriber_peer PROFILE requests */
#include <stdio.h>
#include <string.h>

#include "mapioffline/mapioffline.h"

/* Prints " <kind>" for every record in the sink now (wait_ns < 0), or until a DONE (waiting up to wait_ns for each
 * record). Returns 1 once a DONE was printed (or, now-mode, always), 0 on timeout, -1 when the stream ended. */
static int print_kinds(IMAPIOfflineNotify *sink, int64_t wait_ns) {
  for (;;) {
    MAPIOFFLINE_RECORD record;
    int w;
    if (mapioffline_sink_pop_records(sink, &record, 1, NULL) == 1) {
      printf(" %d", (int)record.notify.NotifyType);
      if (wait_ns >= 0 && record.notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE) return 1;
      continue;
    }
    if (wait_ns < 0) return 1;
    w = mapioffline_sink_wait(sink, wait_ns, 0);
    if (w == MAPIOFFLINE_WAIT_TIMEOUT) return 0;
    if (w == MAPIOFFLINE_WAIT_ENDED || w == MAPIOFFLINE_WAIT_CLOSED) {
      while (mapioffline_sink_pop_records(sink, &record, 1, NULL) == 1) {
        printf(" %d", (int)record.notify.NotifyType);
        if (record.notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE) return 1;
      }
      return -1;
    }
  }
}

static void run_requests(IMAPIOfflineMgr *bridge, IMAPIOfflineNotify *sink) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    const int block = strncmp(line, "block", 5) == 0;
    const ULONG state = strstr(line, "offline") ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE;
    const HRESULT hr = bridge->lpVtbl->SetCurrentState(bridge, block ? MAPIOFFLINE_FLAG_BLOCK : 0,
                                                       MAPIOFFLINE_STATE_OFFLINE_MASK, state, NULL);
    printf("set %08lx", (unsigned long)hr);
    if (block) {
      printf(" seen");
      print_kinds(sink, -1);
    } else if (SUCCEEDED(hr)) {
      int r;
      printf("\ngot");
      r = print_kinds(sink, 10000000000ll);
      if (r == 0) printf(" timeout");
      if (r < 0) printf(" end");
    }
    printf("\n");
    fflush(stdout);
  }
}

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
  if (argc > 2 && strcmp(argv[2], "requests") == 0) {
    run_requests(bridge, sink);
  } else {
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
  }
  bridge->lpVtbl->Unadvise(bridge, 0, token);
  bridge->lpVtbl->Release(bridge);
  sink->lpVtbl->Release(sink);
  return 0;
}
