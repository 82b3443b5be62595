// Runs subscribers' set_state requests on Outlook's own thread. Outlook's offline object belongs to Outlook's main
// thread (an STA that pumps messages), so the publisher's request thread must not call it: the add-in hands the
// publisher an executor (mapioffline_bridge_publish_start_ex) that sends a message to a message-only window created
// on Outlook's thread, whose window procedure calls SetCurrentState there, never with MAPIOFFLINE_FLAG_BLOCK (the
// publisher's request thread waits for a blocking change's DONE instead). Outlook's thread never waits for anyone:
// the request thread does the waiting, bounded (SendMessageTimeoutW, kSendTimeoutMs, SMTO_ABORTIFHUNG).
//
// Lifetime, all on Outlook's thread: Create (OnConnection), then Close (at shutdown, before the publisher stops:
// every later request is refused and one already sent is answered, so that stopping the publisher, which waits for
// the request thread, cannot wait for Outlook's thread), then Destroy (after the publisher stopped).
#pragma once
#include <windows.h>

#include <atomic>

#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace addin {

// How long the request thread waits for Outlook's thread to take a request; the publisher then waits up to 15 s
// for the DONE, within the subscriber's 30 s.
inline constexpr UINT kSendTimeoutMs = 10000;

class RequestWindow {
 public:
  RequestWindow() = default;
  RequestWindow(const RequestWindow &) = delete;
  RequestWindow &operator=(const RequestWindow &) = delete;
  ~RequestWindow();

  // On Outlook's thread. `source`: borrowed, outlives the window (the add-in releases it after Destroy). false:
  // no window (the add-in then publishes without requests).
  bool Create(IMAPIOfflineMgr *source) noexcept;
  // The executor (mapioffline_bridge_run_set_state), context = this: on the publisher's request thread.
  static HRESULT Run(void *context, ULONG flags, ULONG state) noexcept;
  // On Outlook's thread: refuse from now on (MAPIOFFLINE_E_PUBLISHER_GONE), and return once no executor call is in
  // progress, dispatching the message of one already sent (the procedure refuses it too). Idempotent.
  void Close() noexcept;
  // On Outlook's thread, after the publisher stopped (no executor call can start any more).
  void Destroy() noexcept;

 private:
  static LRESULT CALLBACK Procedure(HWND window, UINT message, WPARAM wparam, LPARAM lparam);
  HRESULT Answer(WPARAM id) noexcept;  // Outlook's thread
  void Leave() noexcept;               // request thread: one executor call fewer

  HWND window_ = nullptr;
  IMAPIOfflineMgr *source_ = nullptr;
  std::atomic<bool> closing_{false};
  std::atomic<LONG> in_flight_{0};
  HANDLE idle_ = nullptr;  // manual-reset: set when the last executor call leaves after Close began
  // The request being sent, taken by the window procedure or withdrawn by the executor when its send timed out, so
  // that a message Outlook's thread reaches late runs nothing. Under lock_.
  SRWLOCK lock_ = SRWLOCK_INIT;
  UINT_PTR pending_id_ = 0;  // 0: none
  ULONG pending_flags_ = 0;
  ULONG pending_state_ = 0;
  UINT_PTR next_id_ = 0;  // request thread only (one request at a time)
};

}  // namespace addin
}  // namespace mapioffline
