// The native sink: COM identity and refcounts, Notify's accounting, consumer side (pop, wait, descriptor, close).
#include "check.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "mapioffline/mapioffline.h"

#if !defined(_WIN32)
#include <poll.h>
#endif

namespace {

MAPIOFFLINE_NOTIFY Record(ULONG type, ULONG token, ULONG old_state, ULONG new_state) {
  MAPIOFFLINE_NOTIFY n{};
  n.ulSize = sizeof n;
  n.NotifyType = static_cast<MAPIOFFLINE_NOTIFY_TYPE>(type);
  n.ulClientToken = token;
  n.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  n.Info.StateChange.ulStateOld = old_state;
  n.Info.StateChange.ulStateNew = new_state;
  return n;
}

IMAPIOfflineNotify *NewSink(ULONG capacity) {
  IMAPIOfflineNotify *sink = nullptr;
  CHECK_HR(mapioffline_sink_create(capacity, &sink), S_OK);
  return sink;
}

void TestCreate() {
  IMAPIOfflineNotify *sink = reinterpret_cast<IMAPIOfflineNotify *>(0x1);
  CHECK_HR(mapioffline_sink_create(0, &sink), E_INVALIDARG);
  CHECK(sink == nullptr);
  CHECK_HR(mapioffline_sink_create(MAPIOFFLINE_SINK_MAX_CAPACITY + 1, &sink), E_INVALIDARG);
  CHECK_HR(mapioffline_sink_create(4, nullptr), E_INVALIDARG);
  sink = NewSink(5);
  CHECK(mapioffline_sink_capacity(sink) == 8);  // rounded up to a power of two
  CHECK(mapioffline_is_native_sink(sink) == 1);
  CHECK(mapioffline_is_native_sink(nullptr) == 0);
  CHECK(sink->Release() == 0);
}

void TestIdentityAndRefcount() {
  const long live = mapioffline_live_sinks();
  IMAPIOfflineNotify *sink = NewSink(4);
  CHECK(mapioffline_live_sinks() == live + 1);
  void *p = reinterpret_cast<void *>(0x1);
  CHECK_HR(sink->QueryInterface(IID_IMAPIOffline, &p), E_NOINTERFACE);
  CHECK(p == nullptr);
  CHECK_HR(sink->QueryInterface(IID_IUnknown, nullptr), E_POINTER);
  void *unknown = nullptr;
  void *notify = nullptr;
  CHECK_HR(sink->QueryInterface(IID_IUnknown, &unknown), S_OK);
  CHECK_HR(sink->QueryInterface(IID_IMAPIOfflineNotify, &notify), S_OK);
  CHECK(unknown == notify && notify == static_cast<void *>(sink));  // one identity
  CHECK(sink->AddRef() == 4);
  CHECK(sink->Release() == 3);
  CHECK(sink->Release() == 2);
  CHECK(sink->Release() == 1);
  CHECK(sink->Release() == 0);
  CHECK(mapioffline_live_sinks() == live);
}

void TestNotifyAccounting() {
  IMAPIOfflineNotify *sink = NewSink(4);
  MAPIOFFLINE_NOTIFY n = Record(3, 7, MAPIOFFLINE_STATE_ONLINE, MAPIOFFLINE_STATE_OFFLINE);
  sink->Notify(nullptr);
  MAPIOFFLINE_NOTIFY shorty = n;
  shorty.ulSize = 23;
  sink->Notify(&shorty);
  CHECK(mapioffline_sink_last_state(sink) == 0);  // invalid records do not touch the cache
  for (int i = 0; i < 6; ++i) sink->Notify(&n);
  MAPIOFFLINE_NOTIFY unknown = Record(99, 1, 0, 0);
  MAPIOFFLINE_SINK_STATS stats;
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.received == 6 && stats.dropped == 2 && stats.invalid == 2 && stats.delivered == 0);
  CHECK(mapioffline_sink_last_state(sink) == MAPIOFFLINE_STATE_OFFLINE);

  MAPIOFFLINE_RECORD out[8];
  uint64_t gap = 99;
  const uint64_t before = mapioffline_now_ns();
  CHECK(mapioffline_sink_pop_batch(sink, out, 8, &gap) == 4);
  CHECK(gap == 2);  // the two drops are reported before the first record after them
  CHECK(out[0].notify.ulClientToken == 7 && out[0].notify.NotifyType == 3);
  CHECK(out[0].timestamp_ns <= before && out[0].timestamp_ns > 0);
  CHECK(mapioffline_sink_pop_batch(sink, out, 8, &gap) == 0 && gap == 0);

  sink->Notify(&unknown);  // unknown kinds are delivered as they came
  MAPIOFFLINE_NOTIFY got{};
  uint64_t ts = 0;
  CHECK(mapioffline_sink_try_pop(sink, &got, &ts) == 1);
  CHECK(static_cast<ULONG>(got.NotifyType) == 99 && ts >= before);
  CHECK(mapioffline_sink_try_pop(sink, &got, nullptr) == 0);

  MAPIOFFLINE_NOTIFY other_mask = Record(3, 1, 1, 2);
  other_mask.Info.StateChange.ulMask = 0x100;
  sink->Notify(&other_mask);  // DONE with another mask: not a state change of ours
  CHECK(mapioffline_sink_last_state(sink) == MAPIOFFLINE_STATE_OFFLINE);
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.received == 8 && stats.delivered == 5 && stats.dropped == 2);
  sink->Release();
}

void TestWaitTimeoutAndWake() {
  IMAPIOfflineNotify *sink = NewSink(16);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(mapioffline_sink_wait(sink, 20000000, 0) == MAPIOFFLINE_WAIT_TIMEOUT);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(19));
  CHECK(mapioffline_sink_wait(sink, 0, 0) == MAPIOFFLINE_WAIT_TIMEOUT);

  // Many rounds of "consumer asleep, producer wakes it": a missed wake-up would hang (the wait has no limit).
  const int rounds = 2000;
  std::atomic<int> consumed{0};
  std::thread consumer([&] {
    MAPIOFFLINE_NOTIFY n;
    while (consumed.load() < rounds) {
      if (mapioffline_sink_try_pop(sink, &n, nullptr)) {
        consumed.fetch_add(1);
      } else {
        mapioffline_sink_wait(sink, -1, 0);
      }
    }
  });
  MAPIOFFLINE_NOTIFY n = Record(1, 0, 1, 2);
  for (int i = 0; i < rounds; ++i) {
    while (consumed.load() < i) std::this_thread::yield();
    sink->Notify(&n);
  }
  consumer.join();
  CHECK(consumed.load() == rounds);

  // spin mode finds a record without sleeping
  sink->Notify(&n);
  CHECK(mapioffline_sink_wait(sink, -1, 100000) == MAPIOFFLINE_WAIT_READY);
  sink->Release();
}

void TestInterruptWakesWithoutClosing() {
  IMAPIOfflineNotify *sink = NewSink(4);
  std::atomic<int> result{99};
  std::thread waiter([&] { result = mapioffline_sink_wait(sink, -1, 0); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  mapioffline_sink_interrupt(sink);
  waiter.join();  // a lost interrupt would hang here
  CHECK(result.load() == MAPIOFFLINE_WAIT_READY);
  CHECK(mapioffline_sink_is_closed(sink) == 0);
  sink->Release();
}

void TestCloseWakesWaiters() {
  IMAPIOfflineNotify *sink = NewSink(16);
  std::vector<std::thread> waiters;
  std::atomic<int> closed_results{0};
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      if (mapioffline_sink_wait(sink, -1, 0) == MAPIOFFLINE_WAIT_CLOSED) closed_results.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  mapioffline_sink_close(sink);
  for (auto &t : waiters) t.join();
  CHECK(closed_results.load() == 3);
  CHECK(mapioffline_sink_is_closed(sink) == 1);
  MAPIOFFLINE_NOTIFY n = Record(1, 0, 1, 2);
  sink->Notify(&n);  // counted and discarded
  MAPIOFFLINE_SINK_STATS stats;
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.received == 1 && stats.dropped == 1);
  mapioffline_sink_close(sink);  // idempotent
  sink->Release();
}

#if !defined(_WIN32)
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void TestPollDescriptor() {
  IMAPIOfflineNotify *sink = NewSink(16);
  MAPIOFFLINE_NOTIFY n = Record(1, 0, 1, 2);
  sink->Notify(&n);  // pending before anyone asked for the descriptor
  const int fd = mapioffline_sink_fileno(sink);
  CHECK(fd >= 0);
  CHECK(mapioffline_sink_fileno(sink) == fd);
  CHECK(Readable(fd));  // level-triggered: pending records make it readable at once
  CHECK(Readable(fd));  // and it stays so until they are taken
  MAPIOFFLINE_RECORD out[4];
  CHECK(mapioffline_sink_pop_batch(sink, out, 4, nullptr) == 1);
  CHECK(!Readable(fd));
  sink->Notify(&n);
  sink->Notify(&n);
  CHECK(Readable(fd));
  CHECK(mapioffline_sink_pop_batch(sink, out, 1, nullptr) == 1);
  CHECK(Readable(fd));  // one still pending
  CHECK(mapioffline_sink_pop_batch(sink, out, 4, nullptr) == 1);
  CHECK(!Readable(fd));
  // A producer thread racing a consumer that polls: every record is seen, no hang.
  const int total = 20000;
  std::thread producer([&] {
    for (int i = 0; i < total; ++i) {
      while (true) {
        MAPIOFFLINE_SINK_STATS s;
        mapioffline_sink_stats(sink, &s);
        if (s.received - s.delivered < 8) break;
        std::this_thread::yield();
      }
      sink->Notify(&n);
    }
  });
  int seen = 0;
  while (seen < total) {
    pollfd p{fd, POLLIN, 0};
    CHECK(poll(&p, 1, 5000) == 1);
    seen += static_cast<int>(mapioffline_sink_pop_batch(sink, out, 4, nullptr));
  }
  producer.join();
  CHECK(seen == total);
  // A pop that finds the ring empty re-arms; until then a stale readiness is allowed (a spurious wake-up).
  CHECK(mapioffline_sink_pop_batch(sink, out, 4, nullptr) == 0);
  CHECK(!Readable(fd));
  mapioffline_sink_close(sink);
  CHECK(Readable(fd));  // closed: readable so that a waiting loop notices
  sink->Release();
}
#endif

}  // namespace

int main() {
  TestCreate();
  TestIdentityAndRefcount();
  TestNotifyAccounting();
  TestWaitTimeoutAndWake();
  TestCloseWakesWaiters();
  TestInterruptWakesWithoutClosing();
#if !defined(_WIN32)
  TestPollDescriptor();
#endif
  CHECK(mapioffline_live_sinks() == 0);
  return check_report("test_sink");
}
