// The subscribing end of a bridge: an IMAPIOfflineMgr over a profile's channel, so that every consumer of the
// embedded object (the Python OfflineObject and all its delivery modes) works unchanged in another process.
//
// GetCurrentState / GetCapabilities read the region (a few ns). Advise / Unadvise follow the embedded object's
// rules (argument checks, tokens, the gate that lets Unadvise wait for a Notify in progress, Unadvise from inside
// Notify). One reader thread per object waits on the channel and calls Notify on the advised sinks; a watcher
// thread sleeps on the publisher's process and wakes the reader when it dies. On a sequence gap the reader tells
// native sinks how many notifications were lost (note_dropped); when the publisher stops or dies it ends their
// streams (fail with MAPIOFFLINE_END_PUBLISHER_GONE) once everything published before has been delivered.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "advise_table.h"
#include "channel/os.h"
#include "channel/reader.h"
#include "mapioffline/mapioffline.h"
#include "reserved_slots.h"

namespace mapioffline {
namespace channel {

class BridgeObject final : public ReservedSlots {
 public:
  // MAPI_E_NOT_FOUND when no live publisher publishes `profile`; *detail (static) says why on failure.
  static HRESULT Open(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail) noexcept;

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override;
  ULONG STDMETHODCALLTYPE AddRef() noexcept override;
  ULONG STDMETHODCALLTYPE Release() noexcept override;
  // Forwarded to the publisher when it allows requests (MAPI_E_NO_SUPPORT otherwise); with FLAG_BLOCK returns
  // once the change's DONE has reached this object's sinks, as the embedded object does.
  HRESULT STDMETHODCALLTYPE SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCapabilities(ULONG *capabilities) noexcept override;
  HRESULT STDMETHODCALLTYPE GetCurrentState(ULONG *state) noexcept override;
  HRESULT STDMETHODCALLTYPE Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept override;
  HRESULT STDMETHODCALLTYPE Unadvise(ULONG flags, ULONG token) noexcept override;

  void Stats(MAPIOFFLINE_BRIDGE_STATS *out) const noexcept;
  // 1 when p is a BridgeObject (checked by its vtable).
  static bool Is(const void *p) noexcept;

 private:
  BridgeObject();
  ~BridgeObject();
  void Destroy() noexcept;
  void Teardown(bool on_reader) noexcept;
  void ReaderMain() noexcept;
  void RunReader() noexcept;
  void WatcherMain() noexcept;
  void MarkPublisherGone() noexcept;
  bool SleepUntilPublished() noexcept;
  void Deliver(const MAPIOFFLINE_RECORD *records, size_t n, uint64_t dropped) noexcept;
  void EndStreams(ULONG reason) noexcept;
  void WakeReader() noexcept;
  HRESULT Request(ULONG flags, ULONG state, uint64_t *head_after) noexcept;

  std::atomic<ULONG> refs_{1};  // the callers' references only (Release)
  const uint32_t fork_generation_;  // made in this generation: in a fork child our threads do not exist
  Region region_;
  Reader reader_;
  PublisherWatch watch_;
  std::thread reader_thread_;
  std::thread watcher_thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> publisher_gone_{false};  // set by the watcher (death) or the reader (stopped, corrupt)
  std::atomic<ULONG> end_reason_{0};         // MAPIOFFLINE_END_* once the reader ended the streams
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> dropped_{0};
  bool destroy_when_delivered_ = false;  // reader thread only: the last Release came from inside a Notify

  AdviseTable sinks_;  // the registrations; its own lock

  mutable std::mutex mutex_;  // guards delivered_upto_; never held while calling a sink
  std::condition_variable cv_;
  uint64_t delivered_upto_ = 0;  // the reader's cursor after its last delivery (a blocking SetCurrentState waits)
};

}  // namespace channel
}  // namespace mapioffline
