// The extern "C" API of the bridge (declared in mapioffline.h, "Bridge" section).
#include "channel/bridge_object.h"
#include "channel/os.h"
#include "channel/publisher.h"
#include "profile_key.h"
#include "mapioffline/mapioffline.h"

using mapioffline::channel::BridgeObject;
using mapioffline::channel::ChannelWatch;
using mapioffline::channel::Publisher;

#if defined(__linux__) || defined(_WIN32)
#define MAPIOFFLINE_HAVE_BRIDGE 1
#else
#define MAPIOFFLINE_HAVE_BRIDGE 0
#endif

// The opaque handle is the Publisher itself.
struct mapioffline_bridge_publisher {};
// The opaque handle is a ChannelWatch.
struct mapioffline_bridge_watch {};

extern "C" {

HRESULT mapioffline_bridge_publish_start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags,
                                         ULONG ring_capacity, mapioffline_bridge_publisher **out,
                                         const char **detail) {
  if (detail) *detail = nullptr;
  if (!out) return E_INVALIDARG;
  *out = nullptr;
#if MAPIOFFLINE_HAVE_BRIDGE
  Publisher *publisher = nullptr;
  const HRESULT hr = Publisher::Start(source, profile, flags, ring_capacity, Publisher::Executor{}, &publisher, detail);
  if (SUCCEEDED(hr)) *out = reinterpret_cast<mapioffline_bridge_publisher *>(publisher);
  return hr;
#else
  (void)source, (void)profile, (void)flags, (void)ring_capacity;
  if (detail) *detail = "the bridge exists on Linux and Windows only";
  return MAPI_E_NO_SUPPORT;
#endif
}

HRESULT mapioffline_bridge_publish_start_ex(IMAPIOfflineMgr *source, const WCHAR *profile,
                                            const MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS *options,
                                            mapioffline_bridge_publisher **out, const char **detail) {
  if (detail) *detail = nullptr;
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (!options || options->ulSize < sizeof *options || options->ulReserved != 0) {
    if (detail) *detail = "options: ulSize must be at least sizeof(MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS), ulReserved 0";
    return E_INVALIDARG;
  }
#if MAPIOFFLINE_HAVE_BRIDGE
  Publisher *publisher = nullptr;
  const Publisher::Executor executor{options->run_set_state, options->run_set_state_context};
  const HRESULT hr =
      Publisher::Start(source, profile, options->ulFlags, options->ulRingCapacity, executor, &publisher, detail);
  if (SUCCEEDED(hr)) *out = reinterpret_cast<mapioffline_bridge_publisher *>(publisher);
  return hr;
#else
  (void)source, (void)profile;
  if (detail) *detail = "the bridge exists on Linux and Windows only";
  return MAPI_E_NO_SUPPORT;
#endif
}

void mapioffline_bridge_publish_stop(mapioffline_bridge_publisher *publisher) {
  if (publisher) reinterpret_cast<Publisher *>(publisher)->Stop();
}

IMAPIOfflineNotify *mapioffline_bridge_publisher_notify(mapioffline_bridge_publisher *publisher) {
  return publisher ? static_cast<IMAPIOfflineNotify *>(reinterpret_cast<Publisher *>(publisher)) : nullptr;
}

void mapioffline_bridge_publisher_counters(mapioffline_bridge_publisher *publisher, uint64_t *published,
                                           uint64_t *notify_ns) {
  auto *p = reinterpret_cast<Publisher *>(publisher);
  if (published) *published = p ? p->published() : 0;
  if (notify_ns) *notify_ns = p ? p->notify_ns() : 0;
}

uint64_t mapioffline_bridge_publisher_wake_calls(mapioffline_bridge_publisher *publisher) {
  return publisher ? reinterpret_cast<Publisher *>(publisher)->wake_calls() : 0;
}

const char *mapioffline_bridge_publisher_region(mapioffline_bridge_publisher *publisher) {
  return publisher ? reinterpret_cast<Publisher *>(publisher)->region().name().c_str() : "";
}

HRESULT mapioffline_open_bridge(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail) {
#if MAPIOFFLINE_HAVE_BRIDGE
  return BridgeObject::Open(profile, out, detail);
#else
  if (out) *out = nullptr;
  if (detail) *detail = "the bridge exists on Linux and Windows only";
  (void)profile;
  return MAPI_E_NO_SUPPORT;
#endif
}

int mapioffline_is_bridge(IUnknown *p) { return BridgeObject::FromInterface(p) ? 1 : 0; }

HRESULT mapioffline_bridge_stats(IMAPIOfflineMgr *bridge, MAPIOFFLINE_BRIDGE_STATS *out) {
  BridgeObject *object = BridgeObject::FromInterface(bridge);
  if (!out || !object) return E_INVALIDARG;
  object->Stats(out);
  return S_OK;
}

HRESULT mapioffline_bridge_watch_start(const WCHAR *profile, mapioffline_bridge_watch **out) {
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (!profile || !profile[0]) return E_INVALIDARG;
#if MAPIOFFLINE_HAVE_BRIDGE
  try {
    auto *watch = new ChannelWatch;
    try {
      watch->Start(mapioffline::FoldProfileName(profile));
    } catch (...) {
      delete watch;
      return E_OUTOFMEMORY;
    }
    *out = reinterpret_cast<mapioffline_bridge_watch *>(watch);
    return S_OK;
  } catch (...) {
    return E_OUTOFMEMORY;
  }
#else
  return MAPI_E_NO_SUPPORT;
#endif
}

int mapioffline_bridge_watch_wait(mapioffline_bridge_watch *watch, int64_t timeout_ns) {
  return watch && reinterpret_cast<ChannelWatch *>(watch)->Wait(timeout_ns) ? 1 : 0;
}

void mapioffline_bridge_watch_stop(mapioffline_bridge_watch *watch) { delete reinterpret_cast<ChannelWatch *>(watch); }

}  // extern "C"
