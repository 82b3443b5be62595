// The publishing end of a bridge: an IMAPIOfflineNotify advised on a source offline object (the embedded one, or
// Outlook's inside Outlook) that writes every notification into the profile's channel, and, when allowed, a
// request thread that runs subscribers' set_state requests on the source (itself, or through the host's executor).
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "channel/os.h"
#include "channel/writer.h"
#include "com_object.h"
#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace channel {

class Publisher final : public ComObject<Publisher, IMAPIOfflineNotify, nullptr, &IID_IMAPIOfflineNotify> {
 public:
  // Where set_state requests run (mapioffline_bridge_run_set_state): run == nullptr, on the request thread.
  struct Executor {
    mapioffline_bridge_run_set_state run = nullptr;
    void *context = nullptr;
  };
  // Creates (or replaces a dead publisher's) channel for `profile`, advises on `source` and goes live. flags:
  // MAPIOFFLINE_BRIDGE_*; capacity 0 = kDefaultRingCapacity. On failure *detail names the step (static string).
  // The returned object holds one reference for the caller, which Stop() releases.
  static HRESULT Start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags, ULONG capacity,
                       const Executor &executor, Publisher **out, const char **detail) noexcept;
  // Unadvises, marks the channel stopped (subscribers end their streams), removes its name and releases the
  // caller's reference. Not from inside the source's Notify.
  void Stop() noexcept;

  // Any thread the source delivers on: one record into the ring, then at most one futex wake. Never waits for a
  // subscriber, never allocates.
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *record) noexcept override;

  const Region &region() const noexcept { return region_; }
  // Notify calls published, and the time spent in them (two clock reads per call): the publisher's cost, as the
  // source's thread pays it.
  uint64_t published() const noexcept { return published_.load(std::memory_order_relaxed); }
  uint64_t notify_ns() const noexcept { return notify_ns_.load(std::memory_order_relaxed); }
  // Wake system calls the publications made (Writer::wake_calls).
  uint64_t wake_calls() const noexcept { return writer_ ? writer_->wake_calls() : 0; }

 private:
  friend ComObject;  // deletes us at the last Release
  Publisher() = default;
  ~Publisher();
  void RequestMain() noexcept;
  void AnswerRequests() noexcept;
  // One request through the executor: SetCurrentState without BLOCK there, then (blocking request) the wait here.
  HRESULT RunThroughExecutor(ULONG flags, ULONG target) noexcept;

  uint32_t fork_generation_ = 0;  // Stop in a fork child leaks (the request thread does not exist there)
  Region region_;
  std::unique_ptr<Writer> writer_;
  IMAPIOfflineMgr *source_ = nullptr;  // one reference, from Start to Stop
  ULONG advise_token_ = 0;
  std::thread requests_;
  std::atomic<bool> stopping_{false};
  Executor executor_;
  // A request thread waiting for a change the executor started: Notify wakes it after publishing a DONE (and only
  // then, and only while someone waits: done_waiters_), Stop wakes it to give up.
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::atomic<uint32_t> done_waiters_{0};
  std::atomic<uint32_t> dones_in_progress_{0};  // DONE records between the writer's store of the state and its head
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> notify_ns_{0};
};

}  // namespace channel
}  // namespace mapioffline
