#include "request_window.h"

#include "addin.h"

namespace mapioffline {
namespace addin {

namespace {

const wchar_t kClassName[] = L"MapiOfflineAddinRequests";
constexpr UINT kRunSetState = WM_APP + 0x4D4F;  // "MO": ours, on our own window only

}  // namespace

RequestWindow::~RequestWindow() { Destroy(); }

bool RequestWindow::Create(IMAPIOfflineMgr *source) noexcept {
  if (window_ || !source) return false;
  idle_ = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (!idle_) return false;
  WNDCLASSEXW wc;
  ZeroMemory(&wc, sizeof wc);
  wc.cbSize = sizeof wc;
  wc.lpfnWndProc = Procedure;
  wc.hInstance = ModuleInstance();
  wc.lpszClassName = kClassName;
  if (!RegisterClassExW(&wc) && GetLastError() != ERROR_CLASS_ALREADY_EXISTS) return false;
  // HWND_MESSAGE: never shown, never enumerated, receives no broadcasts; only our executor sends to it.
  window_ = CreateWindowExW(0, kClassName, L"", 0, 0, 0, 0, 0, HWND_MESSAGE, nullptr, ModuleInstance(), nullptr);
  if (!window_) return false;
  source_ = source;
  SetWindowLongPtrW(window_, GWLP_USERDATA, reinterpret_cast<LONG_PTR>(this));
  return true;
}

HRESULT RequestWindow::Run(void *context, ULONG flags, ULONG state) noexcept {
  auto *self = static_cast<RequestWindow *>(context);
  // Counted before closing_ is read (both seq_cst): either Close sees us in flight, or we see it closing.
  self->in_flight_.fetch_add(1, std::memory_order_seq_cst);
  if (self->closing_.load(std::memory_order_seq_cst)) {
    self->Leave();
    return MAPIOFFLINE_E_PUBLISHER_GONE;
  }
  UINT_PTR id = ++self->next_id_;
  if (id == 0) id = ++self->next_id_;  // 0 means "none"
  AcquireSRWLockExclusive(&self->lock_);
  self->pending_id_ = id;
  self->pending_flags_ = flags;
  self->pending_state_ = state;
  ReleaseSRWLockExclusive(&self->lock_);
  DWORD_PTR result = 0;
  const LRESULT sent = SendMessageTimeoutW(self->window_, kRunSetState, static_cast<WPARAM>(id), 0,
                                           SMTO_ABORTIFHUNG | SMTO_ERRORONEXIT, kSendTimeoutMs, &result);
  HRESULT hr = static_cast<HRESULT>(static_cast<LONG>(result));
  if (!sent) {
    // Timed out, or Outlook's thread hangs: withdraw the request unless the procedure took it meanwhile (then it ran,
    // but its answer is lost: a timeout either way, and a late change still shows in the notifications).
    AcquireSRWLockExclusive(&self->lock_);
    if (self->pending_id_ == id) self->pending_id_ = 0;
    ReleaseSRWLockExclusive(&self->lock_);
    hr = HRESULT_FROM_WIN32(ERROR_TIMEOUT);
  }
  self->Leave();
  return hr;
}

void RequestWindow::Leave() noexcept {
  if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1 && closing_.load(std::memory_order_seq_cst)) {
    SetEvent(idle_);
  }
}

HRESULT RequestWindow::Answer(WPARAM id) noexcept {
  AcquireSRWLockExclusive(&lock_);
  const bool mine = id != 0 && pending_id_ == static_cast<UINT_PTR>(id);
  const ULONG flags = pending_flags_, state = pending_state_;
  if (mine) pending_id_ = 0;
  ReleaseSRWLockExclusive(&lock_);
  if (!mine) return HRESULT_FROM_WIN32(ERROR_TIMEOUT);  // withdrawn: its sender gave up already
  if (closing_.load(std::memory_order_seq_cst)) return MAPIOFFLINE_E_PUBLISHER_GONE;
  // Never BLOCK here: that would hold Outlook's thread until the change completes (the publisher waits instead).
  return source_->SetCurrentState(flags & ~static_cast<ULONG>(MAPIOFFLINE_FLAG_BLOCK), MAPIOFFLINE_STATE_OFFLINE_MASK,
                                  state, nullptr);
}

LRESULT CALLBACK RequestWindow::Procedure(HWND window, UINT message, WPARAM wparam, LPARAM lparam) {
  if (message == kRunSetState) {
    auto *self = reinterpret_cast<RequestWindow *>(GetWindowLongPtrW(window, GWLP_USERDATA));
    const HRESULT hr = self ? self->Answer(wparam) : MAPIOFFLINE_E_PUBLISHER_GONE;
    return static_cast<LRESULT>(static_cast<ULONG>(hr));  // SendMessageTimeoutW's result: the low 32 bits
  }
  return DefWindowProcW(window, message, wparam, lparam);
}

void RequestWindow::Close() noexcept {
  if (!window_) return;
  closing_.store(true, std::memory_order_seq_cst);
  for (;;) {
    // Dispatches messages sent to this thread's windows (ours, refused now), and only those: Outlook's posted
    // messages stay queued (PM_NOREMOVE | PM_QS_SENDMESSAGE).
    MSG msg;
    PeekMessageW(&msg, nullptr, 0, 0, PM_NOREMOVE | PM_QS_SENDMESSAGE);
    if (in_flight_.load(std::memory_order_seq_cst) == 0) return;
    // An executor call between counting itself and sending: wake when its message arrives, or when it leaves.
    // Bounded by its own send timeout.
    MsgWaitForMultipleObjectsEx(1, &idle_, kSendTimeoutMs, QS_SENDMESSAGE, MWMO_INPUTAVAILABLE);
  }
}

void RequestWindow::Destroy() noexcept {
  if (window_) {
    SetWindowLongPtrW(window_, GWLP_USERDATA, 0);
    DestroyWindow(window_);
    window_ = nullptr;
    UnregisterClassW(kClassName, ModuleInstance());  // fails while another instance's window lives: harmless
  }
  if (idle_) {
    CloseHandle(idle_);
    idle_ = nullptr;
  }
  source_ = nullptr;
}

}  // namespace addin
}  // namespace mapioffline
