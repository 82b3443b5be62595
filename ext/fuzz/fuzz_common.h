// Shared pieces of the fuzz targets: a byte reader over the fuzz input, a foreign IMAPIOfflineNotify whose COM
// behaviour the input chooses (the misbehaving callbacks of issue 11), and the end-of-run oracles.
//
// Every check here aborts (libFuzzer then saves the input as a crash): a failed oracle is a finding, not noise.
#pragma once
#undef NDEBUG
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "mapioffline/mapioffline.h"

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond);   \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace fuzz {

// Consumes the fuzz input front to back; past the end every read yields zeros, so any input is a valid script.
class Reader {
 public:
  Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return v;
  }
  // Up to n bytes into out; returns how many were left in the input.
  size_t bytes(void *out, size_t n) {
    const size_t take = pos_ < size_ ? (size_ - pos_ < n ? size_ - pos_ : n) : 0;
    if (take) std::memcpy(out, data_ + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

// How a foreign callback answers QueryInterface(IID_IMAPIOfflineNotify).
enum class Qi : uint8_t {
  kGood,             // S_OK, *out = this, AddRef
  kRefuse,           // E_NOINTERFACE, *out = nullptr
  kFailButWrite,     // E_FAIL with *out = this and no AddRef: a caller that uses *out over-releases us
  kSuccessNull,      // S_OK with *out = nullptr
  kOther,            // S_OK with another object (a tear-off), AddRef'd on that one
  kSFalse,           // S_FALSE (a success code) with *out = this, AddRef
  kUnknownOnly,      // a plain IUnknown: answers IID_IUnknown, refuses IID_IMAPIOfflineNotify
  kCount
};

// What a callback does from inside Notify (re-entrancy the contract allows).
enum class InNotify : uint8_t {
  kNothing,
  kUnadviseSelf,        // Unadvise(own token) from inside its own Notify
  kSetStateAsync,       // non-blocking SetCurrentState from inside Notify (queued when inside DONE)
  kSetStateBlock,       // blocking SetCurrentState from inside Notify: must answer E_PENDING, never deadlock
  kReleaseObject,       // drops the reference it holds on the offline object (possibly the last one)
  kGetState,
  kCount
};

// A foreign IMAPIOfflineNotify. The harness holds the first reference and never lets the count reach zero itself:
// at the end of a run the count must be back at 1 (every reference the library took was given back, none twice).
class Callback final : public IMAPIOfflineNotify {
 public:
  Callback(Qi qi, InNotify action) : qi_(qi), action_(action) {}
  Callback(const Callback &) = delete;

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override {
    qi_calls_.fetch_add(1, std::memory_order_relaxed);
    if (!out) return E_POINTER;
    const bool wanted = IsEqualGUID(iid, IID_IUnknown) || IsEqualGUID(iid, IID_IMAPIOfflineNotify);
    switch (qi_) {
      case Qi::kGood:
        if (!wanted) break;
        *out = static_cast<IMAPIOfflineNotify *>(this);
        AddRef();
        return S_OK;
      case Qi::kRefuse:
        break;
      case Qi::kFailButWrite:
        *out = static_cast<IMAPIOfflineNotify *>(this);
        return E_FAIL;
      case Qi::kSuccessNull:
        *out = nullptr;
        return S_OK;
      case Qi::kOther:
        if (!wanted || !other_) break;
        *out = static_cast<IMAPIOfflineNotify *>(other_);
        other_->AddRef();
        return S_OK;
      case Qi::kSFalse:
        if (!wanted) break;
        *out = static_cast<IMAPIOfflineNotify *>(this);
        AddRef();
        return S_FALSE;
      case Qi::kUnknownOnly:
        if (!IsEqualGUID(iid, IID_IUnknown)) break;
        *out = static_cast<IUnknown *>(this);
        AddRef();
        return S_OK;
      case Qi::kCount:
        break;
    }
    *out = nullptr;
    return E_NOINTERFACE;
  }
  ULONG STDMETHODCALLTYPE AddRef() noexcept override { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }
  ULONG STDMETHODCALLTYPE Release() noexcept override {
    const ULONG before = refs_.fetch_sub(1, std::memory_order_acq_rel);
    FUZZ_CHECK(before > 1);  // the library must never take the harness's own reference
    return before - 1;
  }
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *n) noexcept override;

  ULONG refs() const { return refs_.load(std::memory_order_acquire); }
  void set_other(Callback *other) { other_ = other; }
  // The object this callback may act on from inside Notify, and its registration; set by the harness.
  void bind(IMAPIOfflineMgr *mgr, bool owns_reference) {
    mgr_.store(mgr, std::memory_order_release);
    owns_mgr_ref_.store(owns_reference, std::memory_order_release);
  }
  void set_token(ULONG token) { token_.store(token, std::memory_order_release); }
  // Gives back the object reference if Notify did not drop it already.
  void unbind() {
    IMAPIOfflineMgr *mgr = mgr_.exchange(nullptr, std::memory_order_acq_rel);
    if (mgr && owns_mgr_ref_.exchange(false, std::memory_order_acq_rel)) mgr->Release();
  }
  uint64_t notifies() const { return notifies_.load(std::memory_order_relaxed); }

  std::atomic<uint32_t> qi_calls_{0};

 private:
  const Qi qi_;
  const InNotify action_;
  Callback *other_ = nullptr;
  std::atomic<ULONG> refs_{1};
  std::atomic<IMAPIOfflineMgr *> mgr_{nullptr};
  std::atomic<bool> owns_mgr_ref_{false};
  std::atomic<ULONG> token_{0};
  std::atomic<uint64_t> notifies_{0};
  std::mutex order_mutex_;
  int last_type_ = 0;  // per callback: START, STATECHANGE, DONE repeat in order (under order_mutex_)
};

inline bool ValidRecord(const MAPIOFFLINE_NOTIFY *n) {
  return n && n->ulSize == sizeof(MAPIOFFLINE_NOTIFY) && n->NotifyType >= MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START &&
         n->NotifyType <= MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
         n->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK &&
         (n->Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_ONLINE ||
          n->Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_OFFLINE) &&
         (n->Info.StateChange.ulStateOld == MAPIOFFLINE_STATE_ONLINE ||
          n->Info.StateChange.ulStateOld == MAPIOFFLINE_STATE_OFFLINE) &&
         n->Info.StateChange.ulStateOld != n->Info.StateChange.ulStateNew;
}

inline void Callback::Notify(const MAPIOFFLINE_NOTIFY *n) noexcept {
  FUZZ_CHECK(ValidRecord(n));
  FUZZ_CHECK(refs() > 1);  // the registration's reference is held across the call
  notifies_.fetch_add(1, std::memory_order_relaxed);
  {
    // Only a callback registered once checks the phase order; the harness registers each callback at most once.
    std::lock_guard<std::mutex> lock(order_mutex_);
    const int type = static_cast<int>(n->NotifyType);
    FUZZ_CHECK(last_type_ == 0 || type == last_type_ % 3 + 1 || type == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START);
    last_type_ = type;
  }
  IMAPIOfflineMgr *mgr = mgr_.load(std::memory_order_acquire);
  if (!mgr) return;
  switch (action_) {
    case InNotify::kNothing:
    case InNotify::kCount:
      break;
    case InNotify::kUnadviseSelf:
      FUZZ_CHECK(mgr->Unadvise(0, token_.load(std::memory_order_acquire)) == S_OK);
      break;
    case InNotify::kSetStateAsync: {
      const ULONG target = n->Info.StateChange.ulStateOld;  // flip back
      const HRESULT hr = mgr->SetCurrentState(MAPIOFFLINE_FLAG_DEFAULT, MAPIOFFLINE_STATE_OFFLINE_MASK, target, nullptr);
      FUZZ_CHECK(hr == S_OK || hr == E_PENDING);
      break;
    }
    case InNotify::kSetStateBlock:
      // From inside our own Notify a blocking change would wait for itself.
      FUZZ_CHECK(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK,
                                      n->Info.StateChange.ulStateOld, nullptr) == E_PENDING);
      break;
    case InNotify::kReleaseObject:
      if (owns_mgr_ref_.exchange(false, std::memory_order_acq_rel)) {
        mgr_.store(nullptr, std::memory_order_release);
        mgr->Release();
      }
      break;
    case InNotify::kGetState: {
      ULONG state = 0;
      FUZZ_CHECK(mgr->GetCurrentState(&state) == S_OK);
      FUZZ_CHECK(state == MAPIOFFLINE_STATE_ONLINE || state == MAPIOFFLINE_STATE_OFFLINE);
      break;
    }
  }
}

inline IMAPIOfflineMgr *OpenProfile(const char16_t *name) {
  IMAPIOfflineMgr *mgr = nullptr;
  FUZZ_CHECK(mapioffline_open_embedded(0, reinterpret_cast<const WCHAR *>(name), &GUID_GlobalState, nullptr, &mgr) ==
             S_OK);
  return mgr;
}

// An accepted non-blocking change holds its own reference on the object until its worker has delivered DONE, so
// the live-object count reaches its baseline asynchronously. Wait for that (bounded: a hang is a finding).
inline void WaitForLiveObjects(long baseline) {
  for (long i = 0; i < 2000000; ++i) {
    if (mapioffline_live_offline_objects() == baseline) return;
    std::this_thread::yield();
  }
  std::fprintf(stderr, "live offline objects %ld, baseline %ld\n", mapioffline_live_offline_objects(), baseline);
  FUZZ_CHECK(!"offline objects never returned to baseline");
}

}  // namespace fuzz
