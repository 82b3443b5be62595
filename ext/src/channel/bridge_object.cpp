#include "channel/bridge_object.h"

#include <chrono>
#include <cstring>
#include <new>

#include "clock.h"
#include "fork_generation.h"
#include "profile_key.h"

namespace mapioffline {
namespace channel {

namespace {

constexpr size_t kReadBatch = 64;
constexpr int64_t kRequestTimeoutNs = 30ll * 1000000000ll;  // a publisher that never answers is an error, not a hang

std::atomic<const void *> g_bridge_vtable{nullptr};

// The bridge object whose reader thread this is (nullptr on every other thread).
thread_local const void *t_reader_of = nullptr;

// Raises the region's `wanted` to at least `want` ("a publication that makes wake_word `want` must wake someone").
// It only rises (signed: the words wrap), so an older sleeper's value never hides a newer one.
void RaiseWanted(Header *h, uint32_t want) noexcept {
  uint32_t wanted = h->wanted.load(std::memory_order_relaxed);
  while (static_cast<int32_t>(wanted - want) < 0 &&
         !h->wanted.compare_exchange_weak(wanted, want, std::memory_order_relaxed)) {
  }
}

}  // namespace

bool BridgeObject::Is(const void *p) noexcept {
  const void *known = g_bridge_vtable.load(std::memory_order_relaxed);
  return p && known && *static_cast<const void *const *>(p) == known;
}

HRESULT BridgeObject::Open(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail) noexcept {
  static const char *unused;
  if (!detail) detail = &unused;
  *detail = nullptr;
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (const char *why = ProfileNameError(profile)) {
    *detail = why;
    return E_INVALIDARG;
  }
  BridgeObject *self = nullptr;
  std::u16string folded;
  try {
    folded = FoldProfileName(profile);
    self = new BridgeObject;
  } catch (const std::bad_alloc &) {
    return E_OUTOFMEMORY;
  }
  g_bridge_vtable.store(*reinterpret_cast<const void *const *>(self), std::memory_order_relaxed);
  HRESULT hr = Region::Open(folded, &self->region_, detail);
  if (SUCCEEDED(hr)) {
    hr = self->reader_.Attach(self->region_.base(), self->region_.size(), folded);
    if (hr == MAPI_E_NOT_FOUND) *detail = "no live publisher for this profile (it is starting or has stopped)";
    if (hr == MAPIOFFLINE_E_CHANNEL_CORRUPT) *detail = "the channel's region is not a valid channel";
  }
  if (SUCCEEDED(hr) && !self->watch_.Start(self->reader_.publisher_pid(), self->reader_.publisher_start())) {
    hr = MAPI_E_NOT_FOUND;
    *detail = "the channel's publisher is gone";
  }
  if (FAILED(hr)) {
    delete self;
    return hr;
  }
  self->delivered_upto_ = self->reader_.Cursor();
  try {
    self->watcher_thread_ = std::thread([self] { self->WatcherMain(); });
    self->reader_thread_ = std::thread([self] { self->ReaderMain(); });
  } catch (...) {
    *detail = "cannot start the bridge's threads";
    self->Teardown(/*on_reader=*/false);
    return E_OUTOFMEMORY;
  }
  *out = self;
  return S_OK;
}

BridgeObject::BridgeObject() : fork_generation_(ForkGeneration()) {}

BridgeObject::~BridgeObject() = default;

HRESULT BridgeObject::QueryInterface(REFIID iid, void **out) noexcept {
  if (!out) return E_POINTER;
  *out = nullptr;
  if (!IsEqualGUID(iid, IID_IUnknown) && !IsEqualGUID(iid, IID_IMAPIOffline) &&
      !IsEqualGUID(iid, IID_IMAPIOfflineMgr)) {
    return E_NOINTERFACE;
  }
  *out = static_cast<IMAPIOfflineMgr *>(this);
  AddRef();
  return S_OK;
}

ULONG BridgeObject::AddRef() noexcept { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }

// Only the callers' references are counted: our own threads never take one. Once the count reached 0 nothing
// can raise it again (a reference taken by a thread of ours after the last Release reached 0 let two teardowns run
// at once), so exactly one Release calls Destroy.
ULONG BridgeObject::Release() noexcept {
  const ULONG n = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (n == 0) Destroy();
  return n;
}

// The last reference is gone. The thread that released it tears down (joins our threads, deletes us), except our
// reader thread (a sink released the last reference from inside Notify): it cannot join itself, and the delivery
// in progress still uses us, so it only marks the object; ReaderMain tears down once that delivery has returned.
void BridgeObject::Destroy() noexcept {
  // In a fork child our threads do not exist and their locks may be held forever: leak, as the embedded object
  // does (fork_generation.h).
  if (fork_generation_ != ForkGeneration()) return;
  if (t_reader_of == this) {
    destroy_when_delivered_ = true;
    return;
  }
  Teardown(/*on_reader=*/false);
}

// Runs once, on the thread that owns the teardown: the releasing thread (on_reader false), or our reader thread
// between two deliveries, which then returns without touching us.
void BridgeObject::Teardown(bool on_reader) noexcept {
  stop_.store(true, std::memory_order_release);
  watch_.Cancel();
  WakeReader();
  if (watcher_thread_.joinable()) watcher_thread_.join();
  if (reader_thread_.joinable()) {
    if (on_reader) {
      reader_thread_.detach();
    } else {
      reader_thread_.join();
    }
  }
  sinks_.Clear();  // no Notify is in progress: the reader has returned (or is this thread, between deliveries)
  delete this;
}

// Moves the shared wake word on and wakes every sleeper on it, so our reader (wherever it is in its sleep
// protocol) looks again. Other subscribers of the channel wake spuriously and sleep again: this is rare (close,
// publisher death). Our move makes the value others sleep on stale without waking them until our wake below; were
// we killed in between, the publisher would not know to wake them (no one newly waits for its next value). So
// `wanted` first covers the value after ours: the next publication then wakes one of them, who passes it on
// (wake_protocol_model.py, scenario "close"). Compare-exchange, so that the value we cover is the one after ours.
void BridgeObject::WakeReader() noexcept {
  if (!reader_.header()) return;
  Header *h = reader_.header();
  uint32_t word = h->wake_word.load(std::memory_order_relaxed);
  do {
    RaiseWanted(h, word + 2);
  } while (!h->wake_word.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel));
  region_.Wake(&h->wake_word, -1);
}

void BridgeObject::WatcherMain() noexcept {
  if (!watch_.WaitForDeath()) return;  // cancelled: we are closing
  MarkPublisherGone();
}

// The publisher died (watcher), stopped or left a corrupt region (reader): everyone waiting for it looks again.
void BridgeObject::MarkPublisherGone() noexcept {
  publisher_gone_.store(true, std::memory_order_release);
  WakeReader();
  // Requesters sleep on their slots: wake them all, they check publisher_gone_.
  Header *h = reader_.header();
  for (uint32_t i = 0; i < kRequestSlots; ++i) region_.Wake(&h->slots[i].state, -1);
  std::lock_guard<std::mutex> lock(mutex_);
  cv_.notify_all();
}

// Sleeps until the head may have moved, we are closing, or the publisher is gone. The subscriber half of the wake
// protocol described at Writer::WakeSubscribers. The wanted / sleepers / forwarded words are the region's, untrusted:
// a bad value there costs wake-ups (or, lowered by another process of the user, delays ours, as stopping the
// publisher would), never a crash or a spin, since every wake is followed by a fresh look at the head.
bool BridgeObject::SleepUntilPublished() noexcept {
  Header *h = reader_.header();
  const uint32_t seen = h->wake_word.load(std::memory_order_acquire);
  RaiseWanted(h, seen + 1);  // wake me at the publication that makes seen + 1 (covers every older sleeper too)
  h->sleepers.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the publisher's fence
  const bool idle = !reader_.Pending() && !stop_.load(std::memory_order_acquire) &&
                    !publisher_gone_.load(std::memory_order_acquire) && reader_.Status() == kStatusLive;
  if (idle) region_.Wait(&h->wake_word, seen, -1);
  h->sleepers.fetch_sub(1, std::memory_order_relaxed);
  // The publisher wakes one of us (Writer::WakeSubscribers). Whoever finds the value moved past what was last passed
  // on wakes every sleeper, then marks it passed on; whether or not it slept through the change: a subscriber that
  // saw the new head in its re-check is as able to pass it on as one the publisher woke, and may be the only one
  // awake (with the first design's publisher, requiring a sleep first lost a wake-up in wake_protocol_model.py;
  // passing on more often costs only wake-ups). The wake comes before the mark, so a subscriber killed in between
  // leaves the value unmarked, and the publisher's heal wakes another; `forwarded` only moves forward (a subscriber
  // that ran late must not make a newer value look not passed on).
  const uint32_t now = h->wake_word.load(std::memory_order_acquire);
  uint32_t forwarded = h->forwarded.load(std::memory_order_acquire);
  if (static_cast<int32_t>(forwarded - now) < 0) {
    if (h->sleepers.load(std::memory_order_relaxed) != 0) region_.Wake(&h->wake_word, -1);
    while (static_cast<int32_t>(forwarded - now) < 0 &&
           !h->forwarded.compare_exchange_weak(forwarded, now, std::memory_order_acq_rel)) {
    }
  }
  return idle;
}

void BridgeObject::ReaderMain() noexcept {
  t_reader_of = this;
  RunReader();
  t_reader_of = nullptr;
  // A sink released the last reference from inside a Notify: the teardown is ours (Destroy). Nothing else can
  // touch us now (the count reached 0), and Teardown does not return into us.
  if (destroy_when_delivered_) Teardown(/*on_reader=*/true);
}

// Returns when we are closing, the streams have ended, or the last reference was released from inside a Notify.
void BridgeObject::RunReader() noexcept {
  MAPIOFFLINE_RECORD records[kReadBatch];
  for (;;) {
    uint64_t dropped = 0;
    const long n = reader_.Read(records, kReadBatch, &dropped);
    if (stop_.load(std::memory_order_acquire)) return;
    if (n < 0) {
      MarkPublisherGone();
      EndStreams(MAPIOFFLINE_END_FAILED);
      return;
    }
    if (n > 0 || dropped > 0) {
      Deliver(records, static_cast<size_t>(n), dropped);
      if (destroy_when_delivered_) return;
      continue;
    }
    // Nothing left to read: only now does a stop or a death end the streams, so nothing published is lost.
    if (publisher_gone_.load(std::memory_order_acquire) || reader_.Status() != kStatusLive) {
      MarkPublisherGone();  // a stop leaves the process alive: the watcher would not say it
      EndStreams(MAPIOFFLINE_END_PUBLISHER_GONE);
      return;
    }
    SleepUntilPublished();
  }
}

void BridgeObject::Deliver(const MAPIOFFLINE_RECORD *records, size_t n, uint64_t dropped) noexcept {
  received_.fetch_add(n, std::memory_order_relaxed);
  dropped_.fetch_add(dropped, std::memory_order_relaxed);
  sinks_.ForEachActive(sinks_.Current(), [&](AdviseTable::Entry &entry) {
    // A gap first, so that the sink reports it in dropped_before of the next record it receives: every loss Read
    // reported came before records[0] (Read stops at a loss that follows a record it took).
    if (dropped > 0 && entry.native) mapioffline_sink_note_dropped(entry.sink, dropped);
    // An Unadvise from inside one of these calls stops the rest (release_after_call).
    for (size_t i = 0; i < n && !entry.release_after_call; ++i) {
      MAPIOFFLINE_NOTIFY record = records[i].notify;
      record.ulClientToken = entry.client_token;
      entry.sink->Notify(&record);
    }
  });
  std::lock_guard<std::mutex> lock(mutex_);
  delivered_upto_ = reader_.Cursor();
  cv_.notify_all();
}

void BridgeObject::EndStreams(ULONG reason) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    end_reason_.store(reason, std::memory_order_release);
    cv_.notify_all();
  }
  // Through the gate, as a Notify: the fail wakes the sink's consumer, which may unadvise and release the sink at
  // once; Unadvise waits for the gate, so the sink outlives this call (without it: a use-after-free in
  // Sink::Fail's wake-up, seen under ASan). Closing the table first: an Advise from now on is refused.
  sinks_.ForEachActive(sinks_.Close(MAPIOFFLINE_E_PUBLISHER_GONE), [&](AdviseTable::Entry &entry) {
    if (entry.native) mapioffline_sink_fail(entry.sink, reason);
  });
}

HRESULT BridgeObject::GetCapabilities(ULONG *capabilities) noexcept {
  if (!capabilities) return E_INVALIDARG;
  *capabilities = reader_.capabilities();
  return S_OK;
}

HRESULT BridgeObject::GetCurrentState(ULONG *state) noexcept {
  if (!state) return E_INVALIDARG;
  // A dead publisher's last state would be a lie: say it is gone instead.
  // The status too, not only our flag: a stop is visible here before the reader thread has woken up to it.
  if (publisher_gone_.load(std::memory_order_acquire) || reader_.Status() != kStatusLive) {
    return MAPIOFFLINE_E_PUBLISHER_GONE;
  }
  *state = reader_.State();
  return S_OK;
}

HRESULT BridgeObject::Advise(ULONG flags, MAPIOFFLINE_ADVISEINFO *info, ULONG *token) noexcept {
  if (token) *token = 0;
  if (fork_generation_ != ForkGeneration()) return MAPI_E_CALL_FAILED;  // no reader thread in a fork child
  const HRESULT checked = AdviseTable::CheckArguments(flags, info, token);
  if (FAILED(checked)) return checked;
  return sinks_.Add(*info, token);  // MAPIOFFLINE_E_PUBLISHER_GONE once the streams have ended (EndStreams)
}

HRESULT BridgeObject::Unadvise(ULONG /*flags: ignored, always S_OK (spec §7.9)*/, ULONG token) noexcept {
  // Fork child: no reader thread will ever leave a Notify it was in at the fork, nor release the table's lock;
  // the registration leaks with the object.
  if (fork_generation_ != ForkGeneration()) return S_OK;
  sinks_.Remove(token);
  return S_OK;
}

HRESULT BridgeObject::SetCurrentState(ULONG flags, ULONG mask, ULONG state, void *reserved) noexcept {
  // The embedded object's argument rules first (spec §7.6), so errors do not depend on the publisher.
  if (flags & ~MAPIOFFLINE_FLAG_BLOCK) return MAPI_E_UNKNOWN_FLAGS;
  if (mask != MAPIOFFLINE_STATE_OFFLINE_MASK || reserved != nullptr) return E_INVALIDARG;
  if (state != MAPIOFFLINE_STATE_ONLINE && state != MAPIOFFLINE_STATE_OFFLINE) return E_INVALIDARG;
  if (fork_generation_ != ForkGeneration()) return MAPI_E_CALL_FAILED;
  if (publisher_gone_.load(std::memory_order_acquire)) return MAPIOFFLINE_E_PUBLISHER_GONE;
  if (!reader_.allow_set_state()) return MAPI_E_NO_SUPPORT;
  const bool block = (flags & MAPIOFFLINE_FLAG_BLOCK) != 0;
  // Blocking from inside our own Notify would wait for the reader thread, which is us.
  if (block && sinks_.InsideCall()) return E_PENDING;
  uint64_t head_after = 0;
  const HRESULT hr = Request(flags, state, &head_after);
  if (FAILED(hr) || !block) return hr;
  // As the embedded object: a blocking change returns once DONE reached our sinks.
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_for(lock, std::chrono::nanoseconds(kRequestTimeoutNs), [&] {
    return delivered_upto_ >= head_after || end_reason_.load(std::memory_order_acquire) != 0 ||
           publisher_gone_.load(std::memory_order_acquire);
  });
  return hr;
}

// One request through a slot of the region: claim, fill, ring the publisher's doorbell, sleep on the slot.
HRESULT BridgeObject::Request(ULONG flags, ULONG state, uint64_t *head_after) noexcept {
  Header *h = reader_.header();
  RequestSlot *slot = nullptr;
  const uint32_t me = SelfPid();
  for (int pass = 0; pass < 2 && !slot; ++pass) {
    for (uint32_t i = 0; i < kRequestSlots && !slot; ++i) {
      uint32_t expected = kSlotFree;
      if (h->slots[i].state.compare_exchange_strong(expected, kSlotClaimed, std::memory_order_acq_rel)) {
        slot = &h->slots[i];
      } else if (pass == 1 && expected != kSlotRunning && !ProcessAlive(h->slots[i].requester_pid, 0) &&
                 h->slots[i].requester_pid != me) {
        // Second pass: a slot whose requester died is taken over (start time 0: any process of that pid is
        // "alive", so only a pid with no process at all is reclaimed).
        if (h->slots[i].state.compare_exchange_strong(expected, kSlotClaimed, std::memory_order_acq_rel)) {
          slot = &h->slots[i];
        }
      }
    }
  }
  if (!slot) return E_PENDING;  // every slot busy: retryable
  slot->requester_pid = me;
  slot->flags = flags;
  slot->target = state;
  slot->hr = 0;
  slot->head_after = 0;
  slot->state.store(kSlotReady, std::memory_order_release);
  h->request_word.fetch_add(1, std::memory_order_release);
  region_.Wake(&h->request_word, 1);
  const uint64_t start = MonotonicNs();
  for (;;) {
    const uint32_t s = slot->state.load(std::memory_order_acquire);
    if (s == kSlotDone) break;
    if (publisher_gone_.load(std::memory_order_acquire)) return MAPIOFFLINE_E_PUBLISHER_GONE;
    if (s != kSlotReady && s != kSlotRunning) return MAPIOFFLINE_E_CHANNEL_CORRUPT;  // someone else wrote it
    const int64_t left = kRequestTimeoutNs - static_cast<int64_t>(MonotonicNs() - start);
    if (left <= 0) return MAPI_E_CALL_FAILED;
    region_.Wait(&slot->state, s, left);
  }
  const HRESULT hr = slot->hr;
  // The publisher published the change before answering, so an honest head_after is at most the head; a larger
  // one (corrupt region) must not keep a blocking caller waiting for records that never come.
  const uint64_t head = h->head.load(std::memory_order_acquire);
  *head_after = slot->head_after < head ? slot->head_after : head;
  slot->state.store(kSlotFree, std::memory_order_release);
  return hr;
}

void BridgeObject::Stats(MAPIOFFLINE_BRIDGE_STATS *out) const noexcept {
  out->received = received_.load(std::memory_order_relaxed);
  out->dropped = dropped_.load(std::memory_order_relaxed);
  out->publisher_pid = reader_.publisher_pid();
  out->ring_capacity = reader_.capacity();
  out->end_reason = end_reason_.load(std::memory_order_acquire);
  out->publisher_gone = publisher_gone_.load(std::memory_order_acquire) ? 1 : 0;
  out->allow_set_state = reader_.allow_set_state() ? 1 : 0;
  out->reserved = 0;
}

}  // namespace channel
}  // namespace mapioffline
