// Fuzz target: one IMAPIOfflineMgr::Advise call with arbitrary MAPIOFFLINE_ADVISEINFO bytes, flags and out-pointer,
// and a callback whose QueryInterface the input chooses (misbehaving ones included).
//
// Oracles (spec §7.7-7.10, §7.14):
//  - the result is exactly what the validation rules predict (E_INVALIDARG, E_NOINTERFACE or S_OK), *token is 0 on
//    every failure and non-zero on success;
//  - a refused Advise holds no reference on the callback (its count is back at 1 at once);
//  - an accepted one delivers START, STATECHANGE, DONE with the client token, to the object QueryInterface named
//    (a tear-off when the callback answers with another object), and Unadvise gives the reference back;
//  - at the end the live offline objects and live sinks are back at their baseline.
#include "fuzz_common.h"

using fuzz::Callback;
using fuzz::InNotify;
using fuzz::Qi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Reader in(data, size);
  const long objects_before = mapioffline_live_offline_objects();
  const long sinks_before = mapioffline_live_sinks();

  MAPIOFFLINE_ADVISEINFO info;
  std::memset(&info, 0, sizeof info);
  // The input's first bytes are the struct (pointer bytes included; they are replaced below).
  const uint8_t shape = in.u8();
  if (shape & 1) {
    in.bytes(&info, sizeof info);
  } else {
    // A mostly valid struct with a few fuzzed fields: reaches the QueryInterface and delivery paths quickly.
    info.ulSize = (shape & 2) ? sizeof info : in.u32();
    info.ulClientToken = in.u32();
    info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
    info.ulAdviseTypes = (shape & 4) ? in.u32() : MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
    info.ulStateMask = (shape & 8) ? in.u32() : MAPIOFFLINE_STATE_ALL;
  }
  const ULONG flags = (shape & 0x10) ? in.u32() : 0;
  const bool null_info = (shape & 0x20) != 0 && (in.u8() & 1);
  const bool null_token = (shape & 0x40) != 0 && (in.u8() & 1);
  const uint8_t which = in.u8();

  Callback callback(static_cast<Qi>(which % static_cast<uint8_t>(Qi::kCount)), InNotify::kNothing);
  Callback tear_off(Qi::kGood, InNotify::kNothing);
  callback.set_other(&tear_off);
  IMAPIOfflineNotify *native = nullptr;
  const int callback_kind = (which >> 4) % 3;  // 0: foreign callback, 1: native sink, 2: NULL
  if (callback_kind == 1) FUZZ_CHECK(mapioffline_sink_create(8, &native) == S_OK);
  info.pCallback = callback_kind == 0 ? static_cast<IUnknown *>(&callback)
                   : callback_kind == 1 ? static_cast<IUnknown *>(native)
                                        : nullptr;

  IMAPIOfflineMgr *mgr = fuzz::OpenProfile(u"fuzz-advise");
  ULONG token = 0xDEADBEEF;
  const HRESULT hr = mgr->Advise(flags, null_info ? nullptr : &info, null_token ? nullptr : &token);

  // What the rules predict.
  const bool valid = flags == 0 && !null_info && !null_token && info.ulSize >= sizeof info &&
                     info.CallbackType == MAPIOFFLINE_CALLBACK_TYPE_NOTIFY && info.pCallback != nullptr &&
                     info.ulAdviseTypes == MAPIOFFLINE_ADVISE_TYPE_STATECHANGE &&
                     (info.ulStateMask & MAPIOFFLINE_STATE_OFFLINE_MASK) == MAPIOFFLINE_STATE_OFFLINE_MASK;
  const Qi qi = static_cast<Qi>(which % static_cast<uint8_t>(Qi::kCount));
  const bool qi_usable = callback_kind == 1 || qi == Qi::kGood || qi == Qi::kOther || qi == Qi::kSFalse;
  if (!null_token && hr != S_OK) FUZZ_CHECK(token == 0);
  if (!valid) {
    FUZZ_CHECK(hr == E_INVALIDARG);
    FUZZ_CHECK(callback.qi_calls_.load() == 0);  // validation comes before any call on the callback
  } else if (!qi_usable) {
    FUZZ_CHECK(hr == E_NOINTERFACE);
  } else {
    FUZZ_CHECK(hr == S_OK);
    FUZZ_CHECK(token != 0);
  }
  FUZZ_CHECK(callback.refs() == (hr == S_OK && callback_kind == 0 && qi != Qi::kOther ? 2u : 1u));
  FUZZ_CHECK(tear_off.refs() == (hr == S_OK && callback_kind == 0 && qi == Qi::kOther ? 2u : 1u));

  if (hr == S_OK) {
    // One blocking change: every phase reaches the registered object on this thread before SetCurrentState returns.
    ULONG state = 0;
    FUZZ_CHECK(mgr->GetCurrentState(&state) == S_OK);
    const ULONG target = state == MAPIOFFLINE_STATE_ONLINE ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE;
    FUZZ_CHECK(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, target, nullptr) == S_OK);
    if (callback_kind == 1) {
      MAPIOFFLINE_RECORD records[8];
      uint64_t dropped = 0;
      FUZZ_CHECK(mapioffline_sink_pop_batch(native, records, 8, &dropped) == 3);
      FUZZ_CHECK(dropped == 0);
      for (ULONG i = 0; i < 3; ++i) {
        FUZZ_CHECK(fuzz::ValidRecord(&records[i].notify));
        FUZZ_CHECK(static_cast<ULONG>(records[i].notify.NotifyType) == i + 1);
        FUZZ_CHECK(records[i].notify.ulClientToken == info.ulClientToken);
        FUZZ_CHECK(records[i].notify.Info.StateChange.ulStateNew == target);
      }
    } else {
      Callback &registered = qi == Qi::kOther ? tear_off : callback;
      FUZZ_CHECK(registered.notifies() == 3);
    }
    FUZZ_CHECK(mgr->Unadvise(in.u32(), token) == S_OK);  // any flags: always S_OK
    FUZZ_CHECK(mgr->Unadvise(0, token) == S_OK);          // twice: still S_OK, nothing released twice
  }
  FUZZ_CHECK(callback.refs() == 1);
  FUZZ_CHECK(tear_off.refs() == 1);
  mgr->Release();
  if (native) native->Release();
  fuzz::WaitForLiveObjects(objects_before);
  FUZZ_CHECK(mapioffline_live_sinks() == sinks_before);
  return 0;
}
