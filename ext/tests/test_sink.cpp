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
  CHECK(gap == 0);  // the two drops came after these four: they belong to the next record pushed
  CHECK(out[0].notify.ulClientToken == 7 && out[0].notify.NotifyType == 3);
  CHECK(out[0].timestamp_ns <= before && out[0].timestamp_ns > 0);
  CHECK(mapioffline_sink_pop_batch(sink, out, 8, &gap) == 0 && gap == 0);
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.dropped == 2 && stats.dropped_reported == 0);

  sink->Notify(&unknown);  // unknown kinds are delivered as they came
  uint64_t each = 0;
  CHECK(mapioffline_sink_pop_records(sink, out, 1, &each) == 1);
  CHECK(static_cast<ULONG>(out[0].notify.NotifyType) == 99 && out[0].timestamp_ns >= before);
  CHECK(each == 2);  // the first record pushed after the drops reports them
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.dropped_reported == 2);
  sink->Notify(&unknown);
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
  CHECK(stats.received == 9 && stats.delivered == 6 && stats.dropped == 2);
  ULONG last = 0;
  CHECK(mapioffline_sink_get_last_state(sink, &last) == 1 && last == MAPIOFFLINE_STATE_OFFLINE);
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

// Drops are stamped when the next record is pushed: capacity 4, sequence 0..9 sent before any pop drops 4..9, and
// those drops belong to the record sent after them (10), not to record 0.
void TestDropsAttributedAtPushTime() {
  IMAPIOfflineNotify *sink = NewSink(4);
  for (ULONG i = 0; i <= 10; ++i) {
    MAPIOFFLINE_NOTIFY n = Record(2, i, 1, 2);
    sink->Notify(&n);
    if (i == 9) {  // make room: 0..3 are taken, 10 then fits
      MAPIOFFLINE_RECORD out[4];
      uint64_t gaps[4] = {9, 9, 9, 9};
      CHECK(mapioffline_sink_pop_records(sink, out, 4, gaps) == 4);
      for (int k = 0; k < 4; ++k) CHECK(out[k].notify.ulClientToken == static_cast<ULONG>(k) && gaps[k] == 0);
    }
  }
  MAPIOFFLINE_RECORD out[4];
  uint64_t gaps[4] = {9, 9, 9, 9};
  CHECK(mapioffline_sink_pop_records(sink, out, 4, gaps) == 1);
  CHECK(out[0].notify.ulClientToken == 10 && gaps[0] == 6);
  MAPIOFFLINE_SINK_STATS stats;
  mapioffline_sink_stats(sink, &stats);
  CHECK(stats.dropped == 6 && stats.dropped_reported == 6);
  mapioffline_sink_note_dropped(sink, 3);  // a feed's upstream loss is reported on the next record too
  MAPIOFFLINE_NOTIFY n = Record(2, 11, 1, 2);
  sink->Notify(&n);
  CHECK(mapioffline_sink_pop_records(sink, out, 4, gaps) == 1 && gaps[0] == 3);
  sink->Release();
}

// The stream's end: records pending are still delivered, then waits report ENDED; attaching again reopens it.
void TestStreamEnds() {
  IMAPIOfflineNotify *sink = NewSink(8);
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_NONE);  // never attached: an idle sink, no end
  CHECK(mapioffline_sink_wait(sink, 0, 0) == MAPIOFFLINE_WAIT_TIMEOUT);
  mapioffline_sink_attach(sink);
  mapioffline_sink_attach(sink);  // a second feed shares the sink
  MAPIOFFLINE_NOTIFY n = Record(3, 1, 2, 1);
  sink->Notify(&n);
  mapioffline_sink_detach(sink);
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_NONE);  // one feed left
  mapioffline_sink_detach(sink);
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_UNADVISED);
  CHECK(mapioffline_sink_wait(sink, -1, 0) == MAPIOFFLINE_WAIT_READY);  // what arrived first
  MAPIOFFLINE_RECORD out[2];
  CHECK(mapioffline_sink_pop_records(sink, out, 2, nullptr) == 1);
  CHECK(mapioffline_sink_wait(sink, -1, 0) == MAPIOFFLINE_WAIT_ENDED);
  mapioffline_sink_detach(sink);  // an extra detach is ignored, not wrapped around
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_UNADVISED);
  mapioffline_sink_attach(sink);  // advised again
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_NONE);
  CHECK(mapioffline_sink_wait(sink, 0, 0) == MAPIOFFLINE_WAIT_TIMEOUT);
  // A waiter asleep when the feed fails wakes with ENDED and the reason.
  std::thread waiter([&] { CHECK(mapioffline_sink_wait(sink, -1, 0) == MAPIOFFLINE_WAIT_ENDED); });
  mapioffline_sink_fail(sink, MAPIOFFLINE_END_PUBLISHER_GONE);
  waiter.join();
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_PUBLISHER_GONE);
  mapioffline_sink_attach(sink);  // a new feed forgets the failure
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_NONE);
  mapioffline_sink_close(sink);
  CHECK(mapioffline_sink_wait(sink, -1, 0) == MAPIOFFLINE_WAIT_CLOSED);
  sink->Release();
}

// An interrupt that lands after the caller read the count but before it sleeps is not lost: wait_since returns at
// once. Many rounds against a racing interrupter; a lost interrupt hangs the round (the CTest timeout catches it).
void TestInterruptSinceIsNeverLost() {
  IMAPIOfflineNotify *sink = NewSink(4);
  const uint32_t seen = mapioffline_sink_interrupts(sink);
  mapioffline_sink_interrupt(sink);  // before the wait even starts
  CHECK(mapioffline_sink_wait_since(sink, -1, 0, seen) == MAPIOFFLINE_WAIT_INTERRUPTED);
  CHECK(mapioffline_sink_wait(sink, 0, 0) == MAPIOFFLINE_WAIT_TIMEOUT);  // the old call knows no interrupts
  for (int round = 0; round < 2000; ++round) {
    const uint32_t before = mapioffline_sink_interrupts(sink);
    std::thread interrupter([&] { mapioffline_sink_interrupt(sink); });
    CHECK(mapioffline_sink_wait_since(sink, -1, 0, before) == MAPIOFFLINE_WAIT_INTERRUPTED);
    interrupter.join();
  }
  sink->Release();
}

// A spin never outlasts the timeout.
void TestSpinIsBoundedByTimeout() {
  IMAPIOfflineNotify *sink = NewSink(4);
  const uint64_t start = mapioffline_now_ns();
  CHECK(mapioffline_sink_wait(sink, 1000000, 2000000000ull) == MAPIOFFLINE_WAIT_TIMEOUT);
  CHECK(mapioffline_now_ns() - start < 1000000000ull);  // 1 ms asked, 2 s of spin refused (1 s: a generous bound)
  sink->Release();
}

}  // namespace

int main() {
  TestDropsAttributedAtPushTime();
  TestStreamEnds();
  TestInterruptSinceIsNeverLost();
  TestSpinIsBoundedByTimeout();
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
