// Publishes the embedded object of a profile through the bridge, driven by stdin (one command a line):
//   offline | online   a blocking SetCurrentState on the embedded object; answers "ok <hresult>"
//   stop               stops publishing; answers "stopped"
// Prints "ready" once publishing. At end of input it stops and exits.
//   bridge_publisher_peer PROFILE [RING_CAPACITY]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mapioffline/mapioffline.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROFILE [RING_CAPACITY]\n", argv[0]);
    return 2;
  }
  std::u16string profile;
  for (const char *p = argv[1]; *p; ++p) profile.push_back(static_cast<char16_t>(*p));
  const ULONG ring = argc > 2 ? static_cast<ULONG>(std::strtoul(argv[2], nullptr, 10)) : 0;
  const WCHAR *name = reinterpret_cast<const WCHAR *>(profile.c_str());
  IMAPIOfflineMgr *source = nullptr;
  HRESULT hr = mapioffline_open_embedded(0, name, &GUID_GlobalState, nullptr, &source);
  if (FAILED(hr)) return 1;
  mapioffline_bridge_publisher *publisher = nullptr;
  const char *detail = nullptr;
  hr = mapioffline_bridge_publish_start(source, name, 0, ring, &publisher, &detail);
  if (FAILED(hr)) {
    std::printf("error %08lx %s\n", static_cast<unsigned long>(hr), detail ? detail : "");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char line[64];
  while (std::fgets(line, sizeof line, stdin)) {
    if (std::strncmp(line, "stop", 4) == 0) {
      if (publisher) mapioffline_bridge_publish_stop(publisher);
      publisher = nullptr;
      std::printf("stopped\n");
    } else {
      const ULONG state = std::strncmp(line, "offline", 7) == 0 ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE;
      hr = source->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, state, nullptr);
      std::printf("ok %08lx\n", static_cast<unsigned long>(hr));
    }
    std::fflush(stdout);
  }
  if (publisher) mapioffline_bridge_publish_stop(publisher);
  source->Release();
  return 0;
}
