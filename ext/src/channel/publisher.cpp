#include "channel/publisher.h"

#include <chrono>
#include <cstring>
#include <new>

#include "clock.h"
#include "fork_generation.h"
#include "profile_key.h"

namespace mapioffline {
namespace channel {

namespace {

// How long the request thread waits for the DONE of a blocking change an executor started (the subscriber gives up
// after 30 s in all, BridgeObject's kRequestTimeoutNs, so the executor has the rest). Documented in mapioffline.h.
constexpr std::chrono::seconds kDoneWait{15};

}  // namespace

HRESULT Publisher::Start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags, ULONG capacity,
                         const Executor &executor, Publisher **out, const char **detail) noexcept {
  static const char *unused;
  if (!detail) detail = &unused;
  *detail = nullptr;
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (!source) {
    *detail = "a source object is required";
    return E_INVALIDARG;
  }
  if (const char *why = ProfileNameError(profile)) {
    *detail = why;
    return E_INVALIDARG;
  }
  if (flags & ~MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE) return MAPI_E_UNKNOWN_FLAGS;
  if (capacity == 0) capacity = kDefaultRingCapacity;
  if (capacity < kMinRingCapacity || capacity > kMaxRingCapacity || (capacity & (capacity - 1)) != 0) {
    *detail = "the ring capacity must be a power of two between 2 and 2^20";
    return E_INVALIDARG;
  }
  std::u16string folded;
  Publisher *self = nullptr;
  try {
    folded = FoldProfileName(profile);
    self = new Publisher;
    self->fork_generation_ = ForkGeneration();
    self->executor_ = executor;
  } catch (const std::bad_alloc &) {
    return E_OUTOFMEMORY;
  }
  ULONG capabilities = 0;
  HRESULT hr = source->GetCapabilities(&capabilities);
  if (FAILED(hr)) {
    *detail = "the source's GetCapabilities failed";
    self->Release();
    return hr;
  }
  hr = Region::Create(folded, RegionSize(capacity), &self->region_, detail);
  if (FAILED(hr)) {
    self->Release();
    return hr;
  }
  const uint32_t channel_flags = (flags & MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE) ? kFlagAllowSetState : 0;
  const Identity identity{capacity, capabilities, channel_flags, SelfPid(), SelfStartTime()};
  try {
    self->writer_.reset(new Writer(self->region_.base(), &self->region_, identity, folded));
  } catch (const std::bad_alloc &) {
    self->region_.Unlink();
    self->Release();
    return E_OUTOFMEMORY;
  }
  // Advise before reading the state, so that no change falls between the two; a DONE that arrives meanwhile wins
  // over the value read (SetStateIfUnchanged).
  ULONG first = 0;
  source->GetCurrentState(&first);
  self->writer_->Go(first);
  self->region_.Announce();  // after Go: a subscriber that woke at the name's creation found it still starting
  MAPIOFFLINE_ADVISEINFO info;
  std::memset(&info, 0, sizeof info);
  info.ulSize = sizeof info;
  info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  info.pCallback = static_cast<IUnknown *>(static_cast<IMAPIOfflineNotify *>(self));
  info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  info.ulStateMask = MAPIOFFLINE_STATE_ALL;
  hr = source->Advise(MAPIOFFLINE_ADVISE_DEFAULT, &info, &self->advise_token_);
  if (FAILED(hr)) {
    *detail = "the source's Advise failed";
    self->writer_->Stop();
    self->region_.Unlink();
    self->Release();
    return hr;
  }
  if (SUCCEEDED(source->GetCurrentState(&first))) self->writer_->SetStateIfUnchanged(first);
  source->AddRef();
  self->source_ = source;
  if (channel_flags & kFlagAllowSetState) {
    try {
      self->requests_ = std::thread([self] { self->RequestMain(); });
    } catch (...) {
      *detail = "cannot start the request thread";
      self->Stop();
      return E_OUTOFMEMORY;
    }
  }
  *out = self;
  return S_OK;
}

Publisher::~Publisher() = default;

void Publisher::Stop() noexcept {
  // A fork child's copy: the channel is still the parent's, which goes on publishing; touch nothing.
  if (fork_generation_ != ForkGeneration()) return;
  if (source_) {
    source_->Unadvise(MAPIOFFLINE_UNADVISE_DEFAULT, advise_token_);  // waits for a Notify in progress
  }
  if (requests_.joinable()) {
    stopping_.store(true, std::memory_order_release);
    {
      // Under the mutex: a request thread between its check of stopping_ and its wait cannot miss this.
      std::lock_guard<std::mutex> lock(done_mutex_);
    }
    done_cv_.notify_all();
    Header *h = writer_->header();
    h->request_word.fetch_add(1, std::memory_order_release);
    region_.Wake(&h->request_word, -1);
    requests_.join();
  }
  if (writer_) writer_->Stop();
  region_.Unlink();
  if (source_) {
    source_->Release();
    source_ = nullptr;
  }
  Release();
}

void Publisher::Notify(const MAPIOFFLINE_NOTIFY *record) noexcept {
  if (!record || record->ulSize < sizeof(MAPIOFFLINE_NOTIFY)) return;  // what a sink would count as invalid
  MAPIOFFLINE_RECORD r;
  std::memcpy(&r.notify, record, sizeof r.notify);
  r.notify.ulSize = sizeof r.notify;  // a longer record from a newer Outlook is cut to the fields we carry
  const uint64_t start = MonotonicNs();  // CLOCK_MONOTONIC / QPC: one clock for every process of the machine
  r.timestamp_ns = start;
  // A DONE stores the state before it moves the head: a request thread that sees the new state waits until the
  // head covers that DONE too (RunThroughExecutor).
  const bool done = r.notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE;
  if (done) dones_in_progress_.fetch_add(1, std::memory_order_relaxed);  // before Publish's release of the state
  writer_->Publish(r);
  // Relaxed counters: only this publisher writes them (its Notify calls are ordered by the writer's lock anyway).
  published_.fetch_add(1, std::memory_order_relaxed);
  notify_ns_.fetch_add(MonotonicNs() - start, std::memory_order_relaxed);
  if (done) {
    dones_in_progress_.fetch_sub(1, std::memory_order_release);  // after the head moved
    // Pairs with the waiter's increment of done_waiters_ (seq_cst) before it reads the state: either it reads what
    // we just published, or we see it counted and wake it. No waiter (the usual case): no lock, no syscall.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (done_waiters_.load(std::memory_order_relaxed) != 0) {
      { std::lock_guard<std::mutex> lock(done_mutex_); }
      done_cv_.notify_all();
    }
  }
}

// The request thread: sleeps on request_word, answers every ready slot, sleeps again. SetCurrentState runs here,
// on the publisher's own thread, or through the host's executor; either way a blocking change is answered once its
// DONE has been published, so the head recorded in the answer covers it.
void Publisher::RequestMain() noexcept {
  Header *h = writer_->header();
  while (!stopping_.load(std::memory_order_acquire)) {
    const uint32_t seen = h->request_word.load(std::memory_order_acquire);
    AnswerRequests();
    if (stopping_.load(std::memory_order_acquire)) break;
    region_.Wait(&h->request_word, seen, -1);
  }
}

void Publisher::AnswerRequests() noexcept {
  Header *h = writer_->header();
  for (uint32_t i = 0; i < kRequestSlots; ++i) {
    RequestSlot &slot = h->slots[i];
    uint32_t expected = kSlotReady;
    if (!slot.state.compare_exchange_strong(expected, kSlotRunning, std::memory_order_acq_rel)) continue;
    // The slot's fields come from a subscriber: SetCurrentState checks them like any caller's arguments.
    const ULONG flags = slot.flags, target = slot.target;
    const HRESULT hr = executor_.run ? RunThroughExecutor(flags, target)
                                     : source_->SetCurrentState(flags, MAPIOFFLINE_STATE_OFFLINE_MASK, target, nullptr);
    slot.hr = hr;
    slot.head_after = writer_->Head();
    slot.state.store(kSlotDone, std::memory_order_release);
    region_.Wake(&slot.state, -1);
  }
}

// The executor runs the change where the host wants it (Outlook's thread), never with BLOCK: that would hold the
// host's thread for the whole change. The waiting happens here instead: once the executor accepted a blocking
// request, until the published state is the target (the DONE of this change, or at once when it was a no-op:
// SetCurrentState to the current state changes nothing, spec 7.5) and no DONE is half published, woken by Notify,
// bounded by kDoneWait, cut short
// by Stop. (A change queued behind another one's DONE phase, spec 7.4, could be answered when that earlier DONE
// reaches us, if the earlier one was leaving the target: a narrow window, and the answer is never late.)
HRESULT Publisher::RunThroughExecutor(ULONG flags, ULONG target) noexcept {
  const bool block = (flags & MAPIOFFLINE_FLAG_BLOCK) != 0;
  const HRESULT hr = executor_.run(executor_.context, flags & ~static_cast<ULONG>(MAPIOFFLINE_FLAG_BLOCK), target);
  if (FAILED(hr) || !block) return hr;
  const Header *h = writer_->header();
  done_waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool stopped = false, done = false;
  {
    std::unique_lock<std::mutex> lock(done_mutex_);
    done_cv_.wait_for(lock, kDoneWait, [&] {
      // The state first: a DONE that stored it counted itself in dones_in_progress_ before, and uncounts itself
      // (release) only once the head covers it, so when both hold, the head read next (AnswerRequests) covers it.
      done = h->state.load(std::memory_order_acquire) == target &&
             dones_in_progress_.load(std::memory_order_acquire) == 0;
      stopped = !done && stopping_.load(std::memory_order_acquire);
      return done || stopped;
    });
  }
  done_waiters_.fetch_sub(1, std::memory_order_relaxed);
  if (done) return hr;
  return stopped ? MAPIOFFLINE_E_PUBLISHER_GONE : E_PENDING;  // E_PENDING: accepted, still in progress
}

}  // namespace channel
}  // namespace mapioffline
