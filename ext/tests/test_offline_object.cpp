// The embedded offline object: opening, identity, state changes, Advise/Unadvise rules, re-entrancy, lifetime.
#include "check.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mapioffline/mapioffline.h"
#include "test_sink_helpers.h"

namespace {

ULONG State(IMAPIOfflineMgr *mgr) {
  ULONG state = 0;
  CHECK_HR(mgr->GetCurrentState(&state), S_OK);
  return state;
}

// Waits for an asynchronous change (and what was queued after it) to finish, without spinning.
void WaitIdle(IMAPIOfflineMgr *mgr) { CHECK_HR(mapioffline_offline_wait_idle(mgr, 10'000'000'000), S_OK); }

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

// True for the `type` record of a change to `new_state`.
bool IsOf(const MAPIOFFLINE_NOTIFY &n, MAPIOFFLINE_NOTIFY_TYPE type, ULONG new_state) {
  return n.NotifyType == type && n.Info.StateChange.ulStateNew == new_state;
}

// What a change OFFLINE and one back ONLINE leave: their two triples for `token`, nothing else, the object ONLINE.
void CheckOfflineAndBack(IMAPIOfflineMgr *mgr, const std::vector<MAPIOFFLINE_NOTIFY> &r, ULONG token) {
  CHECK(r.size() == 6);
  CheckTriple(r, 0, token, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
  CheckTriple(r, 3, token, MAPIOFFLINE_STATE_OFFLINE, MAPIOFFLINE_STATE_ONLINE);
  CHECK(State(mgr) == MAPIOFFLINE_STATE_ONLINE);
}

// The end of a test with a hooked sink: the hook (which refers to the test's locals) off, unadvised, both released.
void Finish(IMAPIOfflineMgr *mgr, RecordingSink *sink, ULONG token) {
  sink->hook = nullptr;
  mgr->Unadvise(0, token);
  sink->Release();
  mgr->Release();
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
  IMAPIOfflineMgr *a = OpenEmbedded(u"Outlook");
  IMAPIOfflineMgr *b = OpenEmbedded(u"OUTLOOK");
  IMAPIOfflineMgr *c = OpenEmbedded(u"Other");
  IMAPIOfflineMgr *d = OpenEmbedded(u"\u00c9t\u00c9");  // Latin-1 capitals fold too
  IMAPIOfflineMgr *e = OpenEmbedded(u"\u00e9t\u00e9");
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
  IMAPIOfflineMgr *again = OpenEmbedded(u"outlook");
  CHECK(State(again) == MAPIOFFLINE_STATE_ONLINE);  // a later open starts afresh
  again->Release();
}

void TestIdentityAndCapabilities() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"identity");
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
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"arguments");
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
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"async");
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
  Finish(mgr, sink, token);
}

void TestReentrancy() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"reentrant");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  auto *sink = new RecordingSink;
  std::atomic<long> block_result{1}, default_in_start{1}, default_in_done{1}, second_default_in_done{1},
      block_in_done{1};
  std::atomic<int> dones{0};
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    if (IsOf(n, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START, MAPIOFFLINE_STATE_OFFLINE)) {
      block_result = mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      default_in_start = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
    }
    if (n.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE && dones.fetch_add(1) == 0) {
      block_in_done = mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      default_in_done = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      second_default_in_done = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr);
    }
  };
  const ULONG token = Advise(mgr, sink, 1);
  // BLOCK from the test thread; the DONE hook queues a change back to ONLINE that runs right after.
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CHECK_HR(block_result.load(), E_PENDING);           // BLOCK inside Notify: E_PENDING, not a deadlock
  CHECK_HR(default_in_start.load(), E_PENDING);       // DEFAULT inside START: in flight
  CHECK_HR(block_in_done.load(), E_PENDING);          // BLOCK inside DONE would wait for itself: E_PENDING
  CHECK_HR(default_in_done.load(), S_OK);             // DEFAULT inside DONE: accepted
  CHECK_HR(second_default_in_done.load(), E_PENDING); // only one follow-up
  WaitIdle(mgr);
  const auto r = sink->Records();
  CheckOfflineAndBack(mgr, r, 1);
  Finish(mgr, sink, token);
}

void TestUnadviseInsideNotify() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"unadvise-inside");
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
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"advise");
  auto *sink = new RecordingSink;
  ULONG token = 77;
  MAPIOFFLINE_ADVISEINFO info = AdviseInfo(sink, 0);
  CHECK_HR(mgr->Advise(1, &info, &token), E_INVALIDARG);
  CHECK(token == 0);  // out-parameter cleared on failure
  CHECK_HR(mgr->Advise(0, nullptr, &token), E_INVALIDARG);
  CHECK_HR(mgr->Advise(0, &info, nullptr), E_INVALIDARG);
  info.ulSize = sizeof info - 1;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = AdviseInfo(sink, 0);
  info.CallbackType = static_cast<MAPIOFFLINE_CALLBACK_TYPE>(1);
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = AdviseInfo(nullptr, 0);
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = AdviseInfo(sink, 0);
  info.ulAdviseTypes = 2;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  info = AdviseInfo(sink, 0);
  info.ulStateMask = 0x1;
  CHECK_HR(mgr->Advise(0, &info, &token), E_INVALIDARG);
  CHECK(sink->refs() == 1);  // no failed call kept a reference

  auto *deaf = new RecordingSink;
  deaf->refuse_notify_interface = true;
  info = AdviseInfo(deaf, 0);
  CHECK_HR(mgr->Advise(0, &info, &token), E_NOINTERFACE);
  CHECK(deaf->refs() == 1);
  deaf->Release();

  // Larger structures and supersets of OFFLINE_MASK are accepted; tokens are non-zero and increasing.
  struct {
    MAPIOFFLINE_ADVISEINFO info;
    ULONG extra;
  } bigger{AdviseInfo(sink, 0), 0};
  bigger.info.ulSize = sizeof bigger;
  bigger.info.ulStateMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  ULONG t1 = 0, t2 = 0;
  CHECK_HR(mgr->Advise(0, &bigger.info, &t1), S_OK);
  CHECK(sink->refs() == 2);  // exactly one reference per registration
  t2 = Advise(mgr, sink, 0);
  CHECK(t1 != 0 && t2 > t1);
  CHECK(sink->refs() == 3);
  CHECK_HR(mgr->Unadvise(0, t1), S_OK);
  CHECK_HR(mgr->Unadvise(0, t1), S_OK);       // twice: still S_OK
  CHECK_HR(mgr->Unadvise(0, 0), S_OK);        // unknown token
  CHECK_HR(mgr->Unadvise(0x55, 12345), S_OK); // unknown flags too
  CHECK(sink->refs() == 2);
  CHECK_HR(mgr->Unadvise(0, t2), S_OK);
  CHECK(sink->refs() == 1);
  const ULONG t3 = Advise(mgr, sink, 0);
  CHECK(t3 > t2);  // never reused
  mgr->Unadvise(0, t3);
  sink->Release();
  mgr->Release();
}

void TestReleaseWithAdvisedSinks() {
  const long live = RecordingSink::live.load();
  const long objects = mapioffline_live_offline_objects();
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"release-advised");
  for (int i = 0; i < 5; ++i) {
    auto *sink = new RecordingSink;
    Advise(mgr, sink, i);
    sink->Release();
  }
  // The last client Release ends the object at once, even with an asynchronous change in flight: it unadvises
  // every sink, lets the current change finish (undelivered) and joins the object's thread before returning.
  CHECK_HR(mgr->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CHECK(mgr->Release() == 0);
  CHECK(mapioffline_live_offline_objects() == objects);
  CHECK(RecordingSink::live.load() == live);
}

// Issue 8 item 11: a non-blocking change used to hold a reference of its own, so that reopening the profile right
// after its last client handle closed could return the old object (in flight, then OFFLINE).
void TestReopenAfterLastReleaseIsFresh() {
  const int rounds = 200;
  int stale = 0;
  for (int round = 0; round < rounds; ++round) {
    IMAPIOfflineMgr *mgr = OpenEmbedded(u"reopen");
    auto *sink = new RecordingSink;
    Advise(mgr, sink, 0);
    sink->Release();
    CHECK_HR(mgr->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
    if (round % 2) WaitIdle(mgr);  // odd rounds: the change has just finished, even rounds: still in flight
    mgr->Release();
    IMAPIOfflineMgr *again = OpenEmbedded(u"reopen");
    WaitIdle(again);  // the old change, had we been given the old object
    if (State(again) != MAPIOFFLINE_STATE_ONLINE) ++stale;
    again->Release();
  }
  CHECK(stale == 0);
  if (stale) fprintf(stderr, "reopen: %d of %d rounds gave the old object\n", stale, rounds);
}

// A sink's Notify releases the last reference while the change runs on the object's own thread: the object leaves
// the registry at once, no later Notify starts, and the thread deletes the object once its change has returned.
void TestLastReleaseInsideNotifyOnTheWorker() {
  const long objects = mapioffline_live_offline_objects();
  const long sinks = RecordingSink::live.load();
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"release-on-worker");
  std::atomic<IMAPIOfflineMgr *> owned{mgr};
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
  auto *first = new RecordingSink;
  first->hook = [&](const MAPIOFFLINE_NOTIFY &) {
    IMAPIOfflineMgr *last = owned.exchange(nullptr);
    if (!last) return;
    CHECK(last->Release() == 0);
    std::lock_guard<std::mutex> lock(m);
    released = true;
    cv.notify_all();
  };
  auto *second = new RecordingSink;  // advised after `first`: the release comes before its first Notify
  Advise(mgr, first, 1);
  Advise(mgr, second, 2);
  CHECK_HR(mgr->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  {
    std::unique_lock<std::mutex> lock(m);
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; }));
  }
  IMAPIOfflineMgr *again = OpenEmbedded(u"release-on-worker");
  CHECK(State(again) == MAPIOFFLINE_STATE_ONLINE);
  again->Release();
  // Deletion on the object's thread is asynchronous by design (nothing is left to wait on): bounded poll.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((mapioffline_live_offline_objects() != objects || first->refs() != 1 || second->refs() != 1) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(mapioffline_live_offline_objects() == objects);
  CHECK(first->refs() == 1 && second->refs() == 1);  // both registrations' references were released
  CHECK(first->Records().size() == 1);  // START only: the release ended the change's delivery
  CHECK(second->Records().empty());
  first->hook = nullptr;
  first->Release();
  second->Release();
  CHECK(RecordingSink::live.load() == sinks);
}

// Issue 8 item 12 / spec 7.4 refinement (0.2): a consumer that has seen DONE may act on it at once. Here the first
// sink's DONE wakes another thread, which calls SetCurrentState(BLOCK) while DONE is still being handed to 1,000
// more sinks: it is queued, runs right after, and returns S_OK once its own change is complete.
void TestBlockingChangeRightAfterDone() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"after-done");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  const int rounds = 100;
  std::mutex m;
  std::condition_variable cv;
  int dones = 0, answered = 0;
  std::vector<HRESULT> results;
  auto *trigger = new RecordingSink;
  trigger->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    if (!IsOf(n, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE, MAPIOFFLINE_STATE_OFFLINE)) return;
    std::lock_guard<std::mutex> lock(m);
    ++dones;
    cv.notify_all();
  };
  const ULONG trigger_token = Advise(mgr, trigger, 1);
  std::vector<IMAPIOfflineNotify *> others(1000);
  std::vector<ULONG> tokens;
  for (auto &sink : others) {
    CHECK_HR(mapioffline_sink_create(4, &sink), S_OK);
    tokens.push_back(Advise(mgr, sink, 2));
  }
  std::thread consumer([&] {
    for (int round = 0; round < rounds; ++round) {
      {
        std::unique_lock<std::mutex> lock(m);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return dones > round; })) return;
      }
      const HRESULT hr = mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      const ULONG after = State(mgr);  // BLOCK returned: its own change is complete
      std::lock_guard<std::mutex> lock(m);
      results.push_back(hr == S_OK && after != MAPIOFFLINE_STATE_ONLINE ? E_FAIL : hr);
      ++answered;
      cv.notify_all();
    }
  });
  for (int round = 0; round < rounds; ++round) {
    CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
    std::unique_lock<std::mutex> lock(m);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered > round; })) break;
    if (results[round] != S_OK) {
      // E_PENDING means the change that sent DONE still counted as in flight: the consumer never got to act.
      lock.unlock();
      WaitIdle(mgr);
      if (State(mgr) != MAPIOFFLINE_STATE_ONLINE) {
        mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
      }
    }
  }
  consumer.join();
  int pending = 0, other = 0;
  for (HRESULT hr : results) {
    if (hr == E_PENDING) ++pending;
    else if (hr != S_OK) ++other;
  }
  CHECK(results.size() == static_cast<size_t>(rounds));
  CHECK(pending == 0 && other == 0);
  if (pending || other) fprintf(stderr, "after-done: %d E_PENDING, %d other failures in %d rounds\n", pending, other, rounds);
  if (pending == 0 && other == 0) {
    // Every change reached every sink whole: START, STATECHANGE, DONE per change, two changes per round.
    const auto r = trigger->Records();
    CHECK(r.size() == static_cast<size_t>(6 * rounds));
    for (size_t i = 0; i + 6 <= r.size(); i += 6) {
      CheckTriple(r, i, 1, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
      CheckTriple(r, i + 3, 1, MAPIOFFLINE_STATE_OFFLINE, MAPIOFFLINE_STATE_ONLINE);
    }
    MAPIOFFLINE_SINK_STATS stats;
    mapioffline_sink_stats(others.back(), &stats);
    CHECK(stats.received == static_cast<uint64_t>(6 * rounds));
  }
  trigger->hook = nullptr;
  mgr->Unadvise(0, trigger_token);
  trigger->Release();
  for (size_t i = 0; i < others.size(); ++i) {
    mgr->Unadvise(0, tokens[i]);
    others[i]->Release();
  }
  mgr->Release();
}

// While DONE is being delivered (held here inside one sink's Notify), another thread's request is answered at once
// when it needs no waiting: a non-blocking no-op (the state the change went to) is S_OK without notifications, a
// non-blocking change is queued and runs right after, and a second request while one is queued gets E_PENDING.
// (A blocking no-op waits until that DONE has reached every sink: with DONE held here it would wait for this test;
// tests/unit/test_offline_object.py checks it.)
void TestRequestsDuringDone() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"during-done");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  std::mutex m;
  std::condition_variable cv;
  bool in_done = false, answered = false;
  HRESULT noop_default = 1, queued = 1, second = 1, second_block = 1;
  auto *sink = new RecordingSink;
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    if (!IsOf(n, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE, MAPIOFFLINE_STATE_OFFLINE)) return;
    std::unique_lock<std::mutex> lock(m);
    in_done = true;
    cv.notify_all();
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered; }));
  };
  const ULONG token = Advise(mgr, sink, 7);
  std::thread other([&] {
    {
      std::unique_lock<std::mutex> lock(m);
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return in_done; })) return;
    }
    noop_default = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr);
    queued = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr);
    second = mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr);
    second_block = mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr);
    std::lock_guard<std::mutex> lock(m);
    answered = true;
    cv.notify_all();
  });
  CHECK_HR(mgr->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  other.join();
  CHECK_HR(noop_default, S_OK);
  CHECK_HR(queued, S_OK);
  CHECK_HR(second, E_PENDING);
  CHECK_HR(second_block, E_PENDING);
  WaitIdle(mgr);
  const auto r = sink->Records();
  CheckOfflineAndBack(mgr, r, 7);  // the change, then the queued one; the no-ops sent nothing
  Finish(mgr, sink, token);
}

// mapioffline_offline_wait_idle: the documented way to wait for a change that really is in flight.
void TestWaitIdle() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"wait-idle");
  const ULONG mask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  CHECK_HR(mapioffline_offline_wait_idle(mgr, 0), S_OK);  // idle: at once, even with no time to wait
  CHECK_HR(mapioffline_offline_wait_idle(mgr, -1), S_OK);
  CHECK_HR(mapioffline_offline_wait_idle(nullptr, 0), E_INVALIDARG);
  auto *foreign = new RecordingSink;  // any other COM object: its vtable is not ours
  CHECK_HR(mapioffline_offline_wait_idle(reinterpret_cast<IMAPIOfflineMgr *>(foreign), 0), MAPI_E_NO_SUPPORT);
  foreign->Release();

  // A change held inside START: the wait times out with E_PENDING, then returns S_OK once it has ended.
  std::mutex gate;
  gate.lock();
  std::atomic<bool> in_start{false};
  std::atomic<long> inside_notify{1};
  auto *sink = new RecordingSink;
  sink->hook = [&](const MAPIOFFLINE_NOTIFY &n) {
    if (IsOf(n, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START, MAPIOFFLINE_STATE_OFFLINE)) {
      inside_notify = mapioffline_offline_wait_idle(mgr, -1);  // would wait for itself: refused at once
      in_start = true;
      std::lock_guard<std::mutex> wait_for_test(gate);
    }
    if (IsOf(n, MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE, MAPIOFFLINE_STATE_OFFLINE)) {
      // A follow-up queued during DONE counts as in flight: the wait below covers it too.
      CHECK_HR(mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_ONLINE, nullptr), S_OK);
    }
  };
  const ULONG token = Advise(mgr, sink, 4);
  CHECK_HR(mgr->SetCurrentState(0, mask, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  while (!in_start) std::this_thread::yield();
  CHECK_HR(inside_notify.load(), MAPI_E_CALL_FAILED);
  const auto before = std::chrono::steady_clock::now();
  CHECK_HR(mapioffline_offline_wait_idle(mgr, 20'000'000), E_PENDING);
  CHECK(std::chrono::steady_clock::now() - before >= std::chrono::milliseconds(20));  // it did wait
  CHECK_HR(mapioffline_offline_wait_idle(mgr, 0), E_PENDING);
  std::atomic<long> waited{1};
  std::thread waiter([&] { waited = mapioffline_offline_wait_idle(mgr, -1); });
  gate.unlock();
  waiter.join();
  CHECK_HR(waited.load(), S_OK);
  const auto r = sink->Records();
  CheckOfflineAndBack(mgr, r, 4);  // both changes had ended when the wait returned
  Finish(mgr, sink, token);
}

void TestChurnDuringChanges() {
  IMAPIOfflineMgr *mgr = OpenEmbedded(u"churn");
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

// The profile-name rule (mapioffline_profile_name_error), as HrOpenOfflineObj applies it: 1 to 255 UTF-16 units,
// no unpaired surrogate.
void TestProfileNameRule() {
  const std::u16string at_limit(MAPIOFFLINE_MAX_PROFILE_NAME, u'p');
  const std::u16string over = at_limit + u"p";
  std::u16string pairs;  // 127 surrogate pairs and one unit: 255 units
  for (int i = 0; i < 127; ++i) pairs += u"\U0001F600";
  pairs += u"p";
  const std::u16string pairs_over = pairs + u"p";
  auto w = [](const std::u16string &s) { return reinterpret_cast<const WCHAR *>(s.c_str()); };
  CHECK(mapioffline_profile_name_error(w(at_limit)) == nullptr);
  CHECK(mapioffline_profile_name_error(w(pairs)) == nullptr);
  CHECK(mapioffline_profile_name_error(w(u"\u00e9t\u00e9")) == nullptr);
  const char *empty = mapioffline_profile_name_error(w(u""));
  CHECK(empty != nullptr && std::string(empty) == "a profile name must not be empty");
  CHECK(mapioffline_profile_name_error(nullptr) == empty);
  const char *longer = mapioffline_profile_name_error(w(over));
  CHECK(longer != nullptr && std::string(longer) == "a profile name has at most 255 UTF-16 code units");
  CHECK(mapioffline_profile_name_error(w(pairs_over)) == longer);
  const char16_t lone_low[] = {u'a', 0xDC80, 0};
  const char16_t lone_high[] = {u'a', 0xD800, u'b', 0};
  const char16_t high_at_end[] = {u'a', 0xD800, 0};
  const char *unpaired = mapioffline_profile_name_error(reinterpret_cast<const WCHAR *>(lone_low));
  CHECK(unpaired != nullptr && std::string(unpaired) == "a profile name must be text: it has an unpaired surrogate");
  CHECK(mapioffline_profile_name_error(reinterpret_cast<const WCHAR *>(lone_high)) == unpaired);
  CHECK(mapioffline_profile_name_error(reinterpret_cast<const WCHAR *>(high_at_end)) == unpaired);

  IMAPIOfflineMgr *mgr = nullptr;
  CHECK_HR(mapioffline_open_embedded(0, w(over), &GUID_GlobalState, nullptr, &mgr), E_INVALIDARG);
  CHECK_HR(mapioffline_open_embedded(0, reinterpret_cast<const WCHAR *>(lone_low), &GUID_GlobalState, nullptr, &mgr),
           E_INVALIDARG);
  CHECK(mgr == nullptr);
  OpenEmbedded(at_limit.c_str())->Release();
  OpenEmbedded(pairs.c_str())->Release();
}

int main() {
  TestOpen();
  TestProfileNameRule();
  TestIdentityAndCapabilities();
  TestSetCurrentStateArguments();
  TestAsyncChangeAndPending();
  TestReentrancy();
  TestUnadviseInsideNotify();
  TestAdviseValidation();
  TestReleaseWithAdvisedSinks();
  TestReopenAfterLastReleaseIsFresh();
  TestLastReleaseInsideNotifyOnTheWorker();
  TestBlockingChangeRightAfterDone();
  TestRequestsDuringDone();
  TestWaitIdle();
  TestChurnDuringChanges();
  CHECK(mapioffline_live_offline_objects() == 0);
  CHECK(RecordingSink::live.load() == 0);
  return check_report("test_offline_object");
}
