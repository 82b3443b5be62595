// Fuzz target: interleaved scripts over the embedded offline object. The input is a sequence of operations: open
// and release references (case-variant profile names), Advise foreign callbacks (misbehaving QueryInterface,
// re-entrant Notify: Unadvise of itself, SetCurrentState blocking or not, dropping its object reference) and native
// sinks, Unadvise of known or arbitrary tokens, SetCurrentState/GetCurrentState/GetCapabilities/QueryInterface
// with arbitrary arguments, and draining the native sinks. Non-blocking changes run on the object's worker thread,
// concurrently with the script.
//
// Oracles: each call's HRESULT is one the contract allows for its arguments (spec §7.4-7.9, §7.13-7.14);
// out-params are zeroed on failure; case-variant names open the same object; every record a callback or sink gets
// is well formed, and per registration the phases come START, STATECHANGE, DONE in order; at the end, once every
// reference is released, the live offline objects and live sinks are back at their baseline and every foreign
// callback's (and tear-off's) reference count is back at the 1 the script started it with.
#include <memory>

#include "fuzz_common.h"

using fuzz::Callback;
using fuzz::InNotify;
using fuzz::Qi;

namespace {

const char16_t *const kProfiles[] = {u"fuzz-seq-a", u"FUZZ-Seq-A", u"fuzz-seq-b"};
int ObjectOf(int profile) { return profile == 2 ? 1 : 0; }  // names 0 and 1 fold to the same object

struct Ref {
  IMAPIOfflineMgr *mgr;
  int object;
};
struct Registration {
  int object;
  ULONG token;
};

struct Script {
  std::vector<Ref> refs;
  std::vector<Registration> registrations;
  std::vector<std::unique_ptr<Callback>> callbacks;  // tear-offs included
  std::vector<IMAPIOfflineNotify *> sinks;

  IMAPIOfflineMgr *AnyRef(int object) {
    for (auto &r : refs)
      if (r.object == object) return r.mgr;
    return nullptr;
  }
};

void CheckRecord(const MAPIOFFLINE_RECORD &r) { FUZZ_CHECK(fuzz::ValidRecord(&r.notify)); }

void DrainSinks(Script &s) {
  MAPIOFFLINE_RECORD records[16];
  for (auto *sink : s.sinks) {
    size_t n;
    while ((n = mapioffline_sink_pop_batch(sink, records, 16, nullptr)) > 0) {
      for (size_t i = 0; i < n; ++i) CheckRecord(records[i]);
    }
  }
}

HRESULT ExpectedSetStateError(ULONG flags, ULONG mask, ULONG state, bool reserved) {
  if (flags & ~MAPIOFFLINE_FLAG_BLOCK) return MAPI_E_UNKNOWN_FLAGS;
  if (mask != MAPIOFFLINE_STATE_OFFLINE_MASK || reserved) return E_INVALIDARG;
  if (state != MAPIOFFLINE_STATE_ONLINE && state != MAPIOFFLINE_STATE_OFFLINE) return E_INVALIDARG;
  return S_OK;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Reader in(data, size);
  const long objects_before = mapioffline_live_offline_objects();
  const long sinks_before = mapioffline_live_sinks();
  Script s;
  ULONG client_token = 100;

  for (int step = 0; step < 96 && !in.empty(); ++step) {
    const uint8_t op = in.u8() % 9;
    Ref *ref = s.refs.empty() ? nullptr : &s.refs[in.u8() % s.refs.size()];
    switch (op) {
      case 0: {  // open
        const int profile = in.u8() % 3;
        IMAPIOfflineMgr *mgr = fuzz::OpenProfile(kProfiles[profile]);
        const int object = ObjectOf(profile);
        if (IMAPIOfflineMgr *other = s.AnyRef(object)) FUZZ_CHECK(other == mgr);  // one object per folded name
        if (IMAPIOfflineMgr *other = s.AnyRef(1 - object)) FUZZ_CHECK(other != mgr);
        s.refs.push_back({mgr, object});
        break;
      }
      case 1:  // release one reference
        if (ref) {
          const int object = ref->object;
          ref->mgr->Release();
          s.refs.erase(s.refs.begin() + (ref - s.refs.data()));
          if (!s.AnyRef(object)) {
            // The object may now be gone (with its registrations) and a reopen makes a new one whose tokens start
            // again at 1: forget these tokens, so that they are neither compared with nor unadvised on the new one.
            std::vector<Registration> kept;
            for (auto &r : s.registrations)
              if (r.object != object) kept.push_back(r);
            s.registrations.swap(kept);
          }
        }
        break;
      case 2: {  // Advise a foreign callback
        if (!ref || s.callbacks.size() >= 24) break;
        const uint8_t b = in.u8();
        const Qi qi = static_cast<Qi>(b % static_cast<uint8_t>(Qi::kCount));
        const InNotify action = static_cast<InNotify>((b >> 3) % static_cast<uint8_t>(InNotify::kCount));
        s.callbacks.push_back(std::make_unique<Callback>(qi, action));
        Callback *callback = s.callbacks.back().get();
        Callback *registered = callback;
        if (qi == Qi::kOther) {
          s.callbacks.push_back(std::make_unique<Callback>(Qi::kGood, action));
          registered = s.callbacks.back().get();
          callback->set_other(registered);
        }
        ref->mgr->AddRef();  // the callback's own reference, dropped by kReleaseObject or at the end
        registered->bind(ref->mgr, true);
        MAPIOFFLINE_ADVISEINFO info{sizeof info, client_token++, MAPIOFFLINE_CALLBACK_TYPE_NOTIFY, callback,
                                    MAPIOFFLINE_ADVISE_TYPE_STATECHANGE,
                                    (b & 0x80) ? MAPIOFFLINE_STATE_ALL : MAPIOFFLINE_STATE_OFFLINE_MASK};
        ULONG token = 1;
        const HRESULT hr = ref->mgr->Advise(0, &info, &token);
        const bool usable = qi == Qi::kGood || qi == Qi::kOther || qi == Qi::kSFalse;
        FUZZ_CHECK(hr == (usable ? S_OK : E_NOINTERFACE));
        if (hr == S_OK) {
          FUZZ_CHECK(token != 0);
          for (auto &r : s.registrations) FUZZ_CHECK(r.object != ref->object || r.token < token);  // increasing
          registered->set_token(token);
          s.registrations.push_back({ref->object, token});
        } else {
          FUZZ_CHECK(token == 0);
        }
        break;
      }
      case 3: {  // Advise a native sink (a new one, or one already advised elsewhere)
        if (!ref) break;
        const uint8_t b = in.u8();
        if (s.sinks.empty() || ((b & 1) && s.sinks.size() < 6)) {
          IMAPIOfflineNotify *sink = nullptr;
          FUZZ_CHECK(mapioffline_sink_create(1 + b % 32, &sink) == S_OK);
          s.sinks.push_back(sink);
        }
        IMAPIOfflineNotify *sink = s.sinks[(b >> 1) % s.sinks.size()];
        MAPIOFFLINE_ADVISEINFO info{sizeof info, client_token++, MAPIOFFLINE_CALLBACK_TYPE_NOTIFY, sink,
                                    MAPIOFFLINE_ADVISE_TYPE_STATECHANGE, MAPIOFFLINE_STATE_ALL};
        ULONG token = 0;
        FUZZ_CHECK(ref->mgr->Advise(0, &info, &token) == S_OK);
        s.registrations.push_back({ref->object, token});
        break;
      }
      case 4: {  // Unadvise a known token or an arbitrary one, with arbitrary flags: always S_OK
        if (!ref) break;
        const uint8_t b = in.u8();
        ULONG token = in.u32();
        if ((b & 1) && !s.registrations.empty()) token = s.registrations[b % s.registrations.size()].token;
        FUZZ_CHECK(ref->mgr->Unadvise((b & 2) ? in.u32() : 0, token) == S_OK);
        break;
      }
      case 5: {  // SetCurrentState with arbitrary arguments
        if (!ref) break;
        const uint8_t b = in.u8();
        const ULONG flags = (b & 3) == 0 ? MAPIOFFLINE_FLAG_BLOCK : (b & 3) == 3 ? in.u32() : 0;
        const ULONG mask = (b & 4) ? in.u32() : MAPIOFFLINE_STATE_OFFLINE_MASK;
        const ULONG state = (b & 8) ? in.u32() : 1 + ((b >> 4) & 1);
        const bool reserved = (b & 0x20) != 0 && (b & 0x40) != 0;
        int dummy = 0;
        const HRESULT hr = ref->mgr->SetCurrentState(flags, mask, state, reserved ? &dummy : nullptr);
        const HRESULT invalid = ExpectedSetStateError(flags, mask, state, reserved);
        if (invalid != S_OK) {
          FUZZ_CHECK(hr == invalid);
        } else {
          FUZZ_CHECK(hr == S_OK || hr == E_PENDING);
          if (hr == S_OK && (flags & MAPIOFFLINE_FLAG_BLOCK)) {
            // A blocking change is done when it returns (unless a callback flipped it back from inside DONE,
            // which queues a follow-up): the state is one of the two either way.
            ULONG now = 0;
            FUZZ_CHECK(ref->mgr->GetCurrentState(&now) == S_OK);
            FUZZ_CHECK(now == MAPIOFFLINE_STATE_ONLINE || now == MAPIOFFLINE_STATE_OFFLINE);
          }
        }
        break;
      }
      case 6: {  // GetCurrentState / GetCapabilities, NULL out-pointers included
        if (!ref) break;
        const uint8_t b = in.u8();
        ULONG value = 77;
        if (b & 1) {
          FUZZ_CHECK(ref->mgr->GetCurrentState((b & 2) ? nullptr : &value) == ((b & 2) ? E_INVALIDARG : S_OK));
          if (!(b & 2)) FUZZ_CHECK(value == MAPIOFFLINE_STATE_ONLINE || value == MAPIOFFLINE_STATE_OFFLINE);
        } else {
          FUZZ_CHECK(ref->mgr->GetCapabilities((b & 2) ? nullptr : &value) == ((b & 2) ? E_INVALIDARG : S_OK));
          if (!(b & 2)) FUZZ_CHECK(value == (MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE));
        }
        break;
      }
      case 7: {  // QueryInterface with a known or arbitrary IID
        if (!ref) break;
        IID iid;
        const uint8_t pick = in.u8() % 5;
        const IID *known[] = {&IID_IUnknown, &IID_IMAPIOffline, &IID_IMAPIOfflineMgr, &IID_IMAPIOfflineNotify};
        if (pick < 4) iid = *known[pick];
        else in.bytes(&iid, sizeof iid);
        void *out = reinterpret_cast<void *>(1);
        const HRESULT hr = ref->mgr->QueryInterface(iid, &out);
        const bool ours = IsEqualGUID(iid, IID_IUnknown) || IsEqualGUID(iid, IID_IMAPIOffline) ||
                          IsEqualGUID(iid, IID_IMAPIOfflineMgr);
        FUZZ_CHECK(hr == (ours ? S_OK : E_NOINTERFACE));
        FUZZ_CHECK(out == (ours ? static_cast<void *>(ref->mgr) : nullptr));
        if (ours) static_cast<IUnknown *>(out)->Release();
        FUZZ_CHECK(ref->mgr->QueryInterface(iid, nullptr) == E_POINTER);
        break;
      }
      case 8:
        DrainSinks(s);
        break;
    }
  }

  // Teardown: Unadvise what is left (the script holds a reference to each such object), drop every reference;
  // the last Release drops whatever registrations remain.
  for (auto &r : s.registrations) FUZZ_CHECK(s.AnyRef(r.object)->Unadvise(0, r.token) == S_OK);
  for (auto &callback : s.callbacks) callback->unbind();
  for (auto &r : s.refs) r.mgr->Release();
  fuzz::WaitForLiveObjects(objects_before);
  for (auto &callback : s.callbacks) FUZZ_CHECK(callback->refs() == 1);
  DrainSinks(s);
  for (auto *sink : s.sinks) FUZZ_CHECK(sink->Release() == 0);
  FUZZ_CHECK(mapioffline_live_sinks() == sinks_before);
  return 0;
}
