// The embedded offline object: opening, identity, state changes, Advise/Unadvise rules, re-entrancy, lifetime.
#include "check.h"

#include <chrono>
#include <thread>
#include <vector>

#include "mapioffline/mapioffline.h"
#include "test_sink_helpers.h"

namespace {

IMAPIOfflineMgr *Open(const char16_t *profile) {
  IMAPIOfflineMgr *mgr = nullptr;
  CHECK_HR(mapioffline_open_embedded(0, reinterpret_cast<const WCHAR *>(profile), &GUID_GlobalState, nullptr, &mgr),
           S_OK);
  return mgr;
}

MAPIOFFLINE_ADVISEINFO Info(IUnknown *sink, ULONG client_token) {
  MAPIOFFLINE_ADVISEINFO info{};
  info.ulSize = sizeof info;
  info.ulClientToken = client_token;
  info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  info.pCallback = sink;
  info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  info.ulStateMask = MAPIOFFLINE_STATE_ALL;
  return info;
}

ULONG Advise(IMAPIOfflineMgr *mgr, IUnknown *sink, ULONG client_token) {
  MAPIOFFLINE_ADVISEINFO info = Info(sink, client_token);
  ULONG token = 0;
  CHECK_HR(mgr->Advise(0, &info, &token), S_OK);
  CHECK(token != 0);
  return token;
}

ULONG State(IMAPIOfflineMgr *mgr) {
  ULONG state = 0;
  CHECK_HR(mgr->GetCurrentState(&state), S_OK);
  return state;
}

// Waits for an asynchronous change to finish: SetCurrentState(current) answers E_PENDING while one is in flight.
void WaitIdle(IMAPIOfflineMgr *mgr) {
  for (int i = 0; i < 10000; ++i) {
    if (mgr->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, State(mgr), nullptr) != E_PENDING) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(!"change never finished");
}

void CheckTriple(const std::vector<MAPIOFFLINE_NOTIFY> &r, size_t at, ULONG token, ULONG old_state, ULONG new_state) {
  CHECK(r.size() >= at + 3);
  if (r.size() < at + 3) return;
  for (ULONG i = 0; i < 3; ++i) {
    const MAPIOFFLINE_NOTIFY &n = r[at + i];
    CHECK(n.ulSize == 24);
    CHECK(static_cast<ULONG>(n.NotifyType) == i + 1);  // START, STATECHANGE, DONE in order
    CHECK(n.ulClientToken == token);
    CHECK(n.Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK);
    CHECK(n.Info.StateChange.ulStateOld == old_state);
    CHECK(n.Info.StateChange.ulStateNew == new_state);
  }
}

void TestOpen() {
  IMAPIOfflineMgr *mgr = reinterpret_cast<IMAPIOfflineMgr *>(0x1);
  const WCHAR *name = reinterpret_cast<const WCHAR *>(u"Outlook");
  const WCHAR empty[] = {0};
  CHECK_HR(mapioffline_open_embedded(0, name, &GUID_GlobalState, nullptr, nullptr), E_INVALIDARG);
  CHECK_HR(mapioffline_open_embedded(1, name, &GUID_GlobalState, nullptr, &mgr), E_INVALIDARG);
  CHECK(mgr == nullptr);
  CHECK_HR(mapioffline_open_embedded(0, nullptr, &GUID_GlobalState, nullptr, &mgr), E_INVALIDARG);
  CHECK_HR(mapioffline_open_embedded(0, empty, &GUID_GlobalState, nullptr, &mgr), E_INVALIDARG);
  CHECK_HR(mapioffline_open_embedded(0, name, &GUID_GlobalState, &GUID_GlobalState, &mgr), E_INVALIDARG);
  CHECK_HR(mapioffline_open_embedded(0, name, nullptr, nullptr, &mgr), MAPI_E_NOT_FOUND);
  CHECK_HR(mapioffline_open_embedded(0, name, &IID_IMAPIOffline, nullptr, &mgr), MAPI_E_NOT_FOUND);
  CHECK(mgr == nullptr);

  const long live = mapioffline_live_offline_objects();
  IMAPIOfflineMgr *a = Open(u"Outlook");
  IMAPIOfflineMgr *b = Open(u"OUTLOOK");
  IMAPIOfflineMgr *c = Open(u"Other");
  IMAPIOfflineMgr *d = Open(u"\u00c9t\u00c9");  // Latin-1 capitals fold too
  IMAPIOfflineMgr *e = Open(u"\u00e9t\u00e9");
  CHECK(a == b && a != c && d == e);
  CHECK(mapioffline_live_offline_objects() == live + 3);
  CHECK(State(a) == MAPIOFFLINE_STATE_ONLINE);  // a new object starts ONLINE
  CHECK_HR(a->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                              nullptr), S_OK);
  CHECK(State(b) == MAPIOFFLINE_STATE_OFFLINE);
  CHECK(a->Release() == 1);
  CHECK(b->Release() == 0);
  c->Release();
  d->Release();
  e->Release();
  CHECK(mapioffline_live_offline_objects() == live);
  IMAPIOfflineMgr *again = Open(u"outlook");
  CHECK(State(again) == MAPIOFFLINE_STATE_ONLINE);  // a later open starts afresh
  again->Release();
}

void TestIdentityAndCapabilities() {
  IMAPIOfflineMgr *mgr = Open(u"identity");
  void *unknown = nullptr, *offline = nullptr, *manager = nullptr, *other = reinterpret_cast<void *>(1);
  CHECK_HR(mgr->QueryInterface(IID_IUnknown, &unknown), S_OK);
  CHECK_HR(mgr->QueryInterface(IID_IMAPIOffline, &offline), S_OK);
  CHECK_HR(mgr->QueryInterface(IID_IMAPIOfflineMgr, &manager), S_OK);
  CHECK(unknown == offline && offline == manager && manager == static_cast<void *>(mgr));
  CHECK_HR(mgr->QueryInterface(IID_IMAPIOfflineNotify, &other), E_NOINTERFACE);
  CHECK(other == nullptr);
  CHECK_HR(mgr->QueryInterface(IID_IUnknown, nullptr), E_POINTER);
  CHECK(mgr->Release() == 3);
  static_cast<IMAPIOffline *>(offline)->Release();
  static_cast<IUnknown *>(unknown)->Release();

  ULONG caps = 0;
  CHECK_HR(mgr->GetCapabilities(&caps), S_OK);
  CHECK(caps == (MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE));
  CHECK_HR(mgr->GetCapabilities(nullptr), E_INVALIDARG);
  CHECK_HR(mgr->GetCurrentState(nullptr), E_INVALIDARG);
  CHECK_HR(mgr->Placeholder1(), MAPI_E_NO_SUPPORT);
  CHECK_HR(mgr->Placeholder2(), MAPI_E_NO_SUPPORT);
  CHECK_HR(mgr->Placeholder8(), MAPI_E_NO_SUPPORT);
  CHECK(mgr->Release() == 0);
}

void TestSetCurrentStateArguments() {
  IMAPIOfflineMgr *mgr = Open(u"arguments");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  int reserved = 0;
  CHECK_HR(mgr->SetCurrentState(0x1, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), MAPI_E_UNKNOWN_FLAGS);
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK | 0x4000, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr),
           MAPI_E_UNKNOWN_FLAGS);
  CHECK_HR(mgr->SetCurrentState(0, MAPIOFFLINE_STATE_ALL, MAPIOFFLINE_STATE_OFFLINE, nullptr), E_INVALIDARG);
  CHECK_HR(mgr->SetCurrentState(0, mask, 0, nullptr), E_INVALIDARG);
  CHECK_HR(mgr->SetCurrentState(0, mask, 3, nullptr), E_INVALIDARG);
  CHECK_HR(mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, &reserved), E_INVALIDARG);
  CHECK(State(mgr) == MAPIOFFLINE_STATE_ONLINE);

  auto *sink = new RecordingSink;
  const ULONG token = Advise(mgr, sink, 5);
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr), S_OK);
  CHECK(sink->Records().empty());  // already ONLINE: no notifications
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CheckTriple(sink->Records(), 0, 5, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
  CHECK(sink->Records().size() == 3);
  CHECK_HR(mgr->Unadvise(0, token), S_OK);
  sink->Release();
  mgr->Release();
}

void TestAsyncChangeAndPending() {
  IMAPIOfflineMgr *mgr = Open(u"async");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  auto *sink = new RecordingSink;
  std::mutex gate;
  gate.lock();  // holds the change inside its first Notify until we have checked E_PENDING
  std::atomic<bool> in_notify{false};
  std::atomic<ULONG> state_seen_in_start{0}, state_seen_in_done{0};
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    ULONG s = 0;
    mgr->GetCurrentState(&s);
    if (n.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START) {
      state_seen_in_start = s;
      in_notify = true;
      std::lock_guard<std::mutex> wait_for_test(gate);
    }
    if (n.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE) state_seen_in_done = s;
  };
  const ULONG token = Advise(mgr, sink, 9);
  CHECK_HR(mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  while (!in_notify) std::this_thread::yield();
  // In flight: every call gets E_PENDING, before the no-op check, after the argument checks.
  CHECK_HR(mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr), E_PENDING);
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), E_PENDING);
  CHECK_HR(mgr->SetCurrentState(0x1, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), MAPI_E_UNKNOWN_FLAGS);
  CHECK(State(mgr) == MAPIOFFLINE_STATE_ONLINE);  // the old state until DONE
  gate.unlock();
  WaitIdle(mgr);
  CHECK(state_seen_in_start == MAPIOFFLINE_STATE_ONLINE);
  CHECK(state_seen_in_done == MAPIOFFLINE_STATE_OFFLINE);
  CheckTriple(sink->Records(), 0, 9, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
  sink->hook = nullptr;
  mgr->Unadvise(0, token);
  sink->Release();
  mgr->Release();
}

void TestReentrancy() {
  IMAPIOfflineMgr *mgr = Open(u"reentrant");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  auto *sink = new RecordingSink;
  std::atomic<long> block_result{1}, default_in_start{1}, default_in_done{1}, second_default_in_done{1};
  std::atomic<int> dones{0};
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    if (n.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START && n.Info.StateChange.ulStateNew == 1) {
      block_result = mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      default_in_start = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
    }
    if (n.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE && dones.fetch_add(1) == 0) {
      default_in_done = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      second_default_in_done = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr);
    }
  };
  const ULONG token = Advise(mgr, sink, 1);
  // BLOCK from the test thread; the DONE hook queues a change back to ONLINE that runs right after.
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CHECK_HR(block_result.load(), E_PENDING);           // BLOCK inside Notify: E_PENDING, not a deadlock
  CHECK_HR(default_in_start.load(), E_PENDING);       // DEFAULT inside START: in flight
  CHECK_HR(default_in_done.load(), S_OK);             // DEFAULT inside DONE: accepted
  CHECK_HR(second_default_in_done.load(), E_PENDING); // only one follow-up
  WaitIdle(mgr);
  const auto r = sink->Records();
  CHECK(r.size() == 6);
  CheckTriple(r, 0, 1, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
  CheckTriple(r, 3, 1, MAPIOFFLINE_STATE_OFFLINE, MAPIOFFLINE_STATE_ONLINE);
  CHECK(State(mgr) == MAPIOFFLINE_STATE_ONLINE);
  sink->hook = nullptr;
  mgr->Unadvise(0, token);
  sink->Release();
  mgr->Release();
}

void TestUnadviseInsideNotify() {
  IMAPIOfflineMgr *mgr = Open(u"unadvise-inside");
  auto *sink = new RecordingSink;
  ULONG token = 0;
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &) { CHECK_HR(mgr->Unadvise(0, token), S_OK); };
  token = Advise(mgr, sink, 3);
  sink->Release();  // the manager's reference is now the only one: Unadvise inside Notify drops it
  auto *watcher = new RecordingSink;
  const ULONG watcher_token = Advise(mgr, watcher, 4);
  const long live = RecordingSink::live.load();
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                nullptr), S_OK);
  CHECK(RecordingSink::live.load() == live - 1);  // freed after its only Notify returned, not during it
  CHECK(watcher->Records().size() == 3);          // the other sink still got the whole change
  mgr->Unadvise(0, watcher_token);
  watcher->Release();
  mgr->Release();
}

void TestAdviseValidation() {
  IMAPIOfflineMgr *mgr = Open(u"advise");
  auto *sink = new RecordingSink;
  ULONG token = 77;
  MAPIOFFLINE_ADVISEINFO info = Info(sink, 0);
  CHECK_HR(mgr->Advise(1, &info, &token), E_INVALIDARG);
  CHECK(token == 0);  // out-parameter cleared on failure
  CHECK_HR(mgr->Advise(0, nullptr, &token), E_INVALIDARG);
  CHECK_HR(mgr->Advise(0, &info, nullptr), E_INVALIDARG);
  info.ulSize = sizeof info - 1;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = Info(sink, 0);
  info.CallbackType = static_cast<MAPIOFFLINE_CALLBACK_TYPE>(1);
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = Info(nullptr, 0);
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = Info(sink, 0);
  info.ulAdviseTypes = 2;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = Info(sink, 0);
  info.ulStateMask = 0x1;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  CHECK(sink->Refs() == 1);  // no failed call kept a reference

  auto *deaf = new RecordingSink;
  deaf->refuse_notify_interface = true;
  info = Info(deaf, 0);
  CHECK_HR(mgr->Advise(0, &info, &token), E_NOINTERFACE);
  CHECK(deaf->Refs() == 1);
  deaf->Release();

  // Larger structures and supersets of OFFLINE_MASK are accepted; tokens are non-zero and increasing.
  struct {
    MAPIOFFLINE_ADVISEINFO info;
    ULONG extra;
  } bigger{Info(sink, 0), 0};
  bigger.info.ulSize = sizeof bigger;
  bigger.info.ulStateMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  ULONG t1 = 0, t2 = 0;
  CHECK_HR(mgr->Advise(0, &bigger.info, &t1), S_OK);
  CHECK(sink->Refs() == 2);  // exactly one reference per registration
  t2 = Advise(mgr, sink, 0);
  CHECK(t1 != 0 && t2 > t1);
  CHECK(sink->Refs() == 3);
  CHECK_HR(mgr->Unadvise(0, t1), S_OK);
  CHECK_HR(mgr->Unadvise(0, t1), S_OK);       // twice: still S_OK
  CHECK_HR(mgr->Unadvise(0, 0), S_OK);        // unknown token
  CHECK_HR(mgr->Unadvise(0x55, 12345), S_OK); // unknown flags too
  CHECK(sink->Refs() == 2);
  CHECK_HR(mgr->Unadvise(0, t2), S_OK);
  CHECK(sink->Refs() == 1);
  const ULONG t3 = Advise(mgr, sink, 0);
  CHECK(t3 > t2);  // never reused
  mgr->Unadvise(0, t3);
  sink->Release();
  mgr->Release();
}

void TestReleaseWithAdvisedSinks() {
  const long live = RecordingSink::live.load();
  const long objects = mapioffline_live_offline_objects();
  IMAPIOfflineMgr *mgr = Open(u"release-advised");
  for (int i = 0; i < 5; ++i) {
    auto *sink = new RecordingSink;
    Advise(mgr, sink, i);
    sink->Release();
  }
  // An asynchronous change in flight keeps the object alive past our Release; its thread is joined at the end.
  CHECK_HR(mgr->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  mgr->Release();
  for (int i = 0; i < 5000 && mapioffline_live_offline_objects() != objects; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(mapioffline_live_offline_objects() == objects);
  CHECK(RecordingSink::live.load() == live);
}

void TestChurnDuringChanges() {
  IMAPIOfflineMgr *mgr = Open(u"churn");
  const int rounds = static_cast<int>(stress_n(1000000) / 1000);
  std::atomic<bool> stop{false};
  std::vector<std::thread> churners;
  std::atomic<long> bad_sequences{0};
  for (int t = 0; t < 2; ++t) {
    churners.emplace_back([&] {
      while (!stop.load()) {
        auto *sink = new RecordingSink;
        const ULONG token = Advise(mgr, sink, 0);
        std::this_thread::yield();
        mgr->Unadvise(0, token);
        // After Unadvise no new Notify starts; what arrived must be whole START/STATECHANGE/DONE prefixes.
        const auto r = sink->Records();
        for (size_t i = 1; i < r.size(); ++i) {
          const ULONG prev = r[i - 1].NotifyType, cur = r[i].NotifyType;
          if (!(cur == prev + 1 || (prev == 3 && cur == 1))) bad_sequences.fetch_add(1);
        }
        const size_t before = r.size();
        std::this_thread::yield();
        if (sink->Records().size() != before) bad_sequences.fetch_add(1);
        sink->Release();
      }
    });
  }
  ULONG target = MAPIOFFLINE_STATE_OFFLINE;
  for (int i = 0; i < rounds; ++i) {
    const HRESULT hr = mgr->SetCurrentState(i % 2 ? MAPIOFFLINE_FLAG_BLOCK : 0, MAPIOFFLINE_STATE_OFFLINE_MASK,
                                            target, nullptr);
    CHECK(hr == S_OK || hr == E_PENDING);
    if (hr == S_OK) target = target == MAPIOFFLINE_STATE_OFFLINE ? MAPIOFFLINE_STATE_ONLINE : MAPIOFFLINE_STATE_OFFLINE;
  }
  stop = true;
  for (auto &t : churners) t.join();
  WaitIdle(mgr);
  CHECK(bad_sequences.load() == 0);
  mgr->Release();
}

}  // namespace

int main() {
  TestOpen();
  TestIdentityAndCapabilities();
  TestSetCurrentStateArguments();
  TestAsyncChangeAndPending();
  TestReentrancy();
  TestUnadviseInsideNotify();
  TestAdviseValidation();
  TestReleaseWithAdvisedSinks();
  TestChurnDuringChanges();
  CHECK(mapioffline_live_offline_objects() == 0);
  CHECK(RecordingSink::live.load() == 0);
  return check_report("test_offline_object");
}
