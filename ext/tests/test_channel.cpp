// Native tests of the bridge channel in one process: a publisher over the embedded object and bridge objects
// reading its region (the same code paths as across processes; the Python suite runs them across processes).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "channel/layout.h"
#include "channel/os.h"
#include "channel/reader.h"
#include "channel/writer.h"
#include "check.h"
#include "mapioffline/mapioffline.h"
#include "test_sink_helpers.h"

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel/locator.h"
#endif
#if defined(_WIN32)
#include <windows.h>
#endif

namespace {

std::u16string Wide(const char *s) {
  std::u16string w;
  for (; *s; ++s) w.push_back(static_cast<char16_t>(*s));
  return w;
}

// A publisher of `profile` over `source`, with the default ring and no options; nullptr (a failed check) if refused.
mapioffline_bridge_publisher *StartPublisher(IMAPIOfflineMgr *source, const std::u16string &profile) {
  mapioffline_bridge_publisher *pub = nullptr;
  CHECK_HR(mapioffline_bridge_publish_start(source, reinterpret_cast<const WCHAR *>(profile.c_str()), 0, 0, &pub,
                                            nullptr),
           S_OK);
  return pub;
}

// A native sink of `capacity` records, attached and advised on `obj` with `client_token`; nullptr if it cannot be
// made (the failed check says so).
IMAPIOfflineNotify *NewAdvisedSink(IMAPIOfflineMgr *obj, ULONG capacity, ULONG client_token) {
  IMAPIOfflineNotify *sink = nullptr;
  CHECK_HR(mapioffline_sink_create(capacity, &sink), S_OK);
  if (!sink) return nullptr;
  mapioffline_sink_attach(sink);
  Advise(obj, sink, client_token);
  return sink;
}

// Pops everything up to `want` records, waiting for each (bounded by a 5 s timeout per wait: a missing record
// fails the test instead of hanging it).
std::vector<MAPIOFFLINE_RECORD> PopAll(IMAPIOfflineNotify *sink, size_t want, std::vector<uint64_t> *gaps) {
  std::vector<MAPIOFFLINE_RECORD> out;
  while (out.size() < want) {
    MAPIOFFLINE_RECORD r;
    uint64_t gap = 0;
    if (mapioffline_sink_pop_records(sink, &r, 1, &gap) == 1) {
      out.push_back(r);
      if (gaps) gaps->push_back(gap);
      continue;
    }
    const int w = mapioffline_sink_wait(sink, 5000000000ll, 0);
    if (w == MAPIOFFLINE_WAIT_TIMEOUT || w == MAPIOFFLINE_WAIT_ENDED || w == MAPIOFFLINE_WAIT_CLOSED) break;
  }
  return out;
}

void TestNotFound() {
  const std::u16string profile = Wide("channel-test-none");
  IMAPIOfflineMgr *bridge = nullptr;
  const char *detail = nullptr;
  CHECK_HR(mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(profile.c_str()), &bridge, &detail),
           MAPI_E_NOT_FOUND);
  CHECK(bridge == nullptr);
  CHECK(detail != nullptr);
}

// The bridge's entry points refuse what the profile-name rule refuses (mapioffline_profile_name_error), with its
// message as the detail.
void TestProfileNameRule() {
  const std::u16string ok = Wide("channel-test-names");
  const std::u16string over(MAPIOFFLINE_MAX_PROFILE_NAME + 1, u'p');
  const char16_t unpaired[] = {u'a', 0xDC80, 0};
  IMAPIOfflineMgr *source = OpenEmbedded(ok);
  for (const WCHAR *name : {reinterpret_cast<const WCHAR *>(over.c_str()), reinterpret_cast<const WCHAR *>(unpaired)}) {
    const char *why = mapioffline_profile_name_error(name);
    CHECK(why != nullptr);
    IMAPIOfflineMgr *bridge = nullptr;
    const char *detail = nullptr;
    CHECK_HR(mapioffline_open_bridge(name, &bridge, &detail), E_INVALIDARG);
    CHECK(bridge == nullptr && detail == why);
    mapioffline_bridge_publisher *pub = nullptr;
    detail = nullptr;
    CHECK_HR(mapioffline_bridge_publish_start(source, name, 0, 0, &pub, &detail), E_INVALIDARG);
    CHECK(pub == nullptr && detail == why);
  }
  source->Release();
}

void TestPublishAndFollow() {
  const std::u16string profile = Wide("Channel-Test-A");
  const std::u16string other_case = Wide("CHANNEL-test-a");
  IMAPIOfflineMgr *source = OpenEmbedded(profile);
  mapioffline_bridge_publisher *pub = nullptr;
  CHECK_HR(mapioffline_bridge_publish_start(source, reinterpret_cast<const WCHAR *>(profile.c_str()),
                                            MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE, 8, &pub, nullptr),
           S_OK);
  // A second publisher for the same (case-folded) profile is refused while the first lives.
  mapioffline_bridge_publisher *second = nullptr;
  CHECK_HR(mapioffline_bridge_publish_start(source, reinterpret_cast<const WCHAR *>(other_case.c_str()), 0, 0,
                                            &second, nullptr),
           MAPI_E_CALL_FAILED);

  IMAPIOfflineMgr *bridge = nullptr;
  CHECK_HR(mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(other_case.c_str()), &bridge, nullptr), S_OK);
  if (!bridge) {
    mapioffline_bridge_publish_stop(pub);
    source->Release();
    return;
  }
  CHECK(mapioffline_is_bridge(reinterpret_cast<IUnknown *>(bridge)) == 1);
  CHECK(mapioffline_is_bridge(reinterpret_cast<IUnknown *>(source)) == 0);
  ULONG state = 0, caps = 0;
  CHECK_HR(bridge->GetCurrentState(&state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_ONLINE);
  CHECK_HR(bridge->GetCapabilities(&caps), S_OK);
  CHECK(caps == (MAPIOFFLINE_CAPABILITY_OFFLINE | MAPIOFFLINE_CAPABILITY_ONLINE));

  IMAPIOfflineNotify *sink = NewAdvisedSink(bridge, 64, 77);

  // A change made on the source arrives through the channel, in order, with our client token.
  CHECK_HR(source->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                   nullptr),
           S_OK);
  std::vector<MAPIOFFLINE_RECORD> got = PopAll(sink, 3, nullptr);
  CHECK(got.size() == 3);
  if (got.size() == 3) {
    CHECK(got[0].notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START);
    CHECK(got[2].notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE);
    CHECK(got[2].notify.ulClientToken == 77);
    CHECK(got[2].notify.Info.StateChange.ulStateNew == MAPIOFFLINE_STATE_OFFLINE);
    CHECK(got[2].timestamp_ns > 0);
  }
  CHECK_HR(bridge->GetCurrentState(&state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_OFFLINE);

  // A request through the channel: blocking, so the DONE has reached our sink when it returns.
  CHECK_HR(bridge->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_ONLINE,
                                   nullptr),
           S_OK);
  MAPIOFFLINE_RECORD batch[8];
  CHECK(mapioffline_sink_pop_records(sink, batch, 8, nullptr) == 3);
  CHECK_HR(source->GetCurrentState(&state), S_OK);
  CHECK(state == MAPIOFFLINE_STATE_ONLINE);
  // Argument errors are the embedded object's, without a round trip.
  CHECK_HR(bridge->SetCurrentState(0x4, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_ONLINE, nullptr),
           MAPI_E_UNKNOWN_FLAGS);
  CHECK_HR(bridge->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, 7, nullptr), E_INVALIDARG);

  MAPIOFFLINE_BRIDGE_STATS stats;
  CHECK_HR(mapioffline_bridge_stats(bridge, &stats), S_OK);
  CHECK(stats.ring_capacity == 8);
  CHECK(stats.allow_set_state == 1);
  CHECK(stats.received == 6);

  // Stop: the stream ends after everything published before was delivered.
  mapioffline_bridge_publish_stop(pub);
  CHECK(PopAll(sink, 1, nullptr).empty());
  CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_PUBLISHER_GONE);
  CHECK_HR(bridge->GetCurrentState(&state), MAPIOFFLINE_E_PUBLISHER_GONE);
  IMAPIOfflineNotify *late = nullptr;
  CHECK_HR(mapioffline_sink_create(4, &late), S_OK);
  MAPIOFFLINE_ADVISEINFO info = AdviseInfo(late, 0);
  ULONG token = 0;
  CHECK_HR(bridge->Advise(0, &info, &token), MAPIOFFLINE_E_PUBLISHER_GONE);
  late->Release();
  IMAPIOfflineMgr *after_stop = nullptr;
  CHECK_HR(mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(profile.c_str()), &after_stop, nullptr),
           MAPI_E_NOT_FOUND);
  bridge->Release();
  sink->Release();
  source->Release();
}


// One wake of one thread per publication, and the fan-out among subscribers: 12 bridge objects (each with its own
// reader thread, all asleep on the channel's one futex word) each get every notification of paced changes, so
// every one of them is woken each time, although the publisher wakes only one.
void TestEveryAsleepSubscriberIsWokenThroughTheFanOut() {
  const std::u16string profile = Wide("channel-test-fanout");
  IMAPIOfflineMgr *source = OpenEmbedded(profile);
  mapioffline_bridge_publisher *pub = StartPublisher(source, profile);
  if (!pub) {
    source->Release();
    return;
  }
  constexpr int kSubscribers = 12, kChanges = 20;
  std::vector<IMAPIOfflineMgr *> bridges;
  std::vector<IMAPIOfflineNotify *> sinks;
  for (int i = 0; i < kSubscribers; ++i) {
    IMAPIOfflineMgr *bridge = nullptr;
    CHECK_HR(mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(profile.c_str()), &bridge, nullptr), S_OK);
    if (!bridge) break;
    bridges.push_back(bridge);
    IMAPIOfflineNotify *sink = NewAdvisedSink(bridge, 256, static_cast<ULONG>(i));
    if (!sink) break;
    sinks.push_back(sink);
  }
  for (int c = 0; c < kChanges; ++c) {
    // Every subscriber has all of this change before the next one starts, so each change finds them asleep (or on
    // their way to sleep): the wake, not a busy reader, has to bring each record.
    CHECK_HR(source->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK,
                                     c % 2 == 0 ? MAPIOFFLINE_STATE_OFFLINE : MAPIOFFLINE_STATE_ONLINE, nullptr),
             S_OK);
    for (IMAPIOfflineNotify *sink : sinks) CHECK(PopAll(sink, 3, nullptr).size() == 3);
  }
  uint64_t published = 0;
  mapioffline_bridge_publisher_counters(pub, &published, nullptr);
  CHECK(published == 3u * kChanges);
  // At most one wake syscall per publication, whatever the number of subscribers.
  CHECK(mapioffline_bridge_publisher_wake_calls(pub) <= published);
  mapioffline_bridge_publish_stop(pub);
  for (IMAPIOfflineNotify *sink : sinks) {
    CHECK(PopAll(sink, 1, nullptr).empty());
    CHECK(mapioffline_sink_end_reason(sink) == MAPIOFFLINE_END_PUBLISHER_GONE);
    sink->Release();
  }
  for (IMAPIOfflineMgr *bridge : bridges) bridge->Release();
  source->Release();
}

// The host's thread of TestExecutor: runs jobs one at a time, as Outlook's thread runs the add-in's window messages;
// the executor hands it a job and waits for its answer, as SendMessage does.
class HostThread {
 public:
  HostThread() : thread_([this] { Main(); }) {}
  ~HostThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  HRESULT Run(const std::function<HRESULT()> &job) {
    std::unique_lock<std::mutex> lock(mutex_);
    HRESULT answer = E_FAIL;
    bool answered = false;
    jobs_.push_back([&] {
      const HRESULT hr = job();
      std::lock_guard<std::mutex> inner(mutex_);
      answer = hr;
      answered = true;
    });
    cv_.notify_all();
    cv_.wait(lock, [&] { return answered; });
    return answer;
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void Main() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
      cv_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool quit_ = false;
  std::thread thread_;
};

struct ExecutorLog {
  HostThread *host;
  IMAPIOfflineMgr *source;
  std::mutex mutex;
  std::condition_variable cv;
  int calls = 0;
  int on_host = 0;
  ULONG last_flags = 0xffffffff;
  HRESULT refuse = S_OK;  // an error: answered without calling the source
  bool swallow = false;   // S_OK without calling the source: a change whose DONE never comes
  template <typename T>
  void Set(T *field, T value) {
    std::lock_guard<std::mutex> lock(mutex);
    *field = value;
  }
};

HRESULT RunOnHost(void *context, ULONG flags, ULONG state) {
  auto *log = static_cast<ExecutorLog *>(context);
  return log->host->Run([=] {
    std::lock_guard<std::mutex> lock(log->mutex);
    ++log->calls;
    if (std::this_thread::get_id() == log->host->id()) ++log->on_host;
    log->last_flags = flags;
    log->cv.notify_all();
    if (FAILED(log->refuse)) return log->refuse;
    if (log->swallow) return S_OK;
    return log->source->SetCurrentState(flags, MAPIOFFLINE_STATE_OFFLINE_MASK, state, nullptr);
  });
}

void TestExecutor() {
  const std::u16string profile = Wide("Channel-Test-Executor");
  const WCHAR *name = reinterpret_cast<const WCHAR *>(profile.c_str());
  IMAPIOfflineMgr *source = OpenEmbedded(profile);
  HostThread host;
  ExecutorLog log;
  log.host = &host;
  log.source = source;
  MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS options;
  std::memset(&options, 0, sizeof options);
  options.ulSize = sizeof options;
  options.ulFlags = MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE;
  options.ulRingCapacity = 16;
  options.run_set_state = RunOnHost;
  options.run_set_state_context = &log;
  mapioffline_bridge_publisher *pub = nullptr;
  CHECK_HR(mapioffline_bridge_publish_start_ex(source, name, nullptr, &pub, nullptr), E_INVALIDARG);
  options.ulSize = sizeof options - 1;
  CHECK_HR(mapioffline_bridge_publish_start_ex(source, name, &options, &pub, nullptr), E_INVALIDARG);
  options.ulSize = sizeof options;
  CHECK_HR(mapioffline_bridge_publish_start_ex(source, name, &options, &pub, nullptr), S_OK);
  if (!pub) {
    source->Release();
    return;
  }
  IMAPIOfflineMgr *bridge = nullptr;
  CHECK_HR(mapioffline_open_bridge(name, &bridge, nullptr), S_OK);
  if (!bridge) {
    mapioffline_bridge_publish_stop(pub);
    source->Release();
    return;
  }
  IMAPIOfflineNotify *sink = NewAdvisedSink(bridge, 64, 5);

  // Blocking: the executor runs it on the host's thread without BLOCK; the answer waits for the DONE anyway.
  CHECK_HR(bridge->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                   nullptr),
           S_OK);
  MAPIOFFLINE_RECORD batch[8];
  CHECK(mapioffline_sink_pop_records(sink, batch, 8, nullptr) == 3);
  CHECK(batch[2].notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE);
  {
    std::lock_guard<std::mutex> lock(log.mutex);
    CHECK(log.calls == 1 && log.on_host == 1);
    CHECK(log.last_flags == 0);
  }
  // A blocking no-op (already OFFLINE) answers at once, with no notification.
  CHECK_HR(bridge->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                   nullptr),
           S_OK);
  CHECK(mapioffline_sink_pop_records(sink, batch, 8, nullptr) == 0);
  // Not blocking: accepted, the notifications follow.
  CHECK_HR(bridge->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_ONLINE, nullptr), S_OK);
  std::vector<MAPIOFFLINE_RECORD> got = PopAll(sink, 3, nullptr);
  CHECK(got.size() == 3 && got[2].notify.NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE);
  // The executor's own error is the answer. (The log's switches are set under its mutex: the request's way to the
  // host's thread goes through two mappings of one region, an ordering ThreadSanitizer cannot see.)
  log.Set(&log.refuse, MAPI_E_CALL_FAILED);
  CHECK_HR(bridge->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                   nullptr),
           MAPI_E_CALL_FAILED);
  log.Set(&log.refuse, S_OK);
  {
    std::lock_guard<std::mutex> lock(log.mutex);
    CHECK(log.calls == 4 && log.on_host == 4);
  }

  // Stopping while a blocking request waits for a DONE that never comes: answered with an error at once.
  log.Set(&log.swallow, true);
  HRESULT waited = S_OK;
  std::thread requester([&] {
    waited = bridge->SetCurrentState(MAPIOFFLINE_FLAG_BLOCK, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE,
                                     nullptr);
  });
  {
    std::unique_lock<std::mutex> lock(log.mutex);
    CHECK(log.cv.wait_for(lock, std::chrono::seconds(10), [&] { return log.calls == 5; }));
  }
  const auto before = std::chrono::steady_clock::now();
  mapioffline_bridge_publish_stop(pub);
  requester.join();
  CHECK_HR(waited, MAPIOFFLINE_E_PUBLISHER_GONE);
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(5));  // the 15 s DONE wait was cut short
  bridge->Release();
  sink->Release();
  source->Release();
}

using mapioffline::channel::Identity;
using mapioffline::channel::Reader;
using mapioffline::channel::Writer;
namespace ch = mapioffline::channel;

// A region image in plain memory, written by the real Writer.
struct Image {
  explicit Image(uint32_t capacity) : bytes(ch::RegionSize(capacity) + 64) {
    base = reinterpret_cast<void *>((reinterpret_cast<uintptr_t>(bytes.data()) + 63) & ~uintptr_t(63));
  }
  std::vector<unsigned char> bytes;
  void *base;
  ch::Header *header() { return static_cast<ch::Header *>(base); }
};

// An image of an 8-cell channel for `folded` whose writer is live, ONLINE.
struct LiveImage : Image {
  explicit LiveImage(const std::u16string &profile)
      : Image(8), folded(profile), writer(base, nullptr, Identity{8, 3, 0, 1, 1}, folded) {
    writer.Go(MAPIOFFLINE_STATE_ONLINE);
  }
  HRESULT Attach(Reader *reader) const { return reader->Attach(base, ch::RegionSize(8), folded); }
  std::u16string folded;
  Writer writer;
};

MAPIOFFLINE_RECORD Record(ULONG i) {
  MAPIOFFLINE_RECORD r;
  std::memset(&r, 0, sizeof r);
  r.notify.ulSize = sizeof r.notify;
  r.notify.NotifyType = MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE;
  r.notify.Info.StateChange.ulMask = MAPIOFFLINE_STATE_OFFLINE_MASK;
  r.notify.Info.StateChange.ulStateOld = i;  // a sequence number the test checks
  r.timestamp_ns = i;
  return r;
}

void TestReaderGapsAndOrder() {
  LiveImage image(Wide("gap"));
  Reader reader;
  CHECK_HR(image.Attach(&reader), S_OK);
  CHECK_HR(Reader().Attach(image.base, ch::RegionSize(8), Wide("gaq")), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  for (ULONG i = 0; i < 5; ++i) image.writer.Publish(Record(i));
  MAPIOFFLINE_RECORD out[16];
  uint64_t dropped = 0;
  CHECK(reader.Read(out, 16, &dropped) == 5);
  CHECK(dropped == 0);
  CHECK(out[4].notify.Info.StateChange.ulStateOld == 4);
  // 20 more into a ring of 8: the reader lost 12 and reads the last 8, in order.
  for (ULONG i = 5; i < 25; ++i) image.writer.Publish(Record(i));
  CHECK(reader.Read(out, 16, &dropped) == 8);
  CHECK(dropped == 12);
  CHECK(out[0].notify.Info.StateChange.ulStateOld == 17);
  CHECK(out[7].notify.Info.StateChange.ulStateOld == 24);
  dropped = 0;
  CHECK(reader.Read(out, 16, &dropped) == 0);
  CHECK(dropped == 0);
}

void TestReaderRefusesCorruption() {
  LiveImage image(Wide("bad"));
  const std::u16string &folded = image.folded;
  struct Case {
    const char *name;
    void (*spoil)(ch::Header *);
  } cases[] = {
      {"magic", [](ch::Header *h) { h->magic ^= 1; }},
      {"an older version (its subscribers and ours would miss each other's wakes)",
       [](ch::Header *h) { h->version = ch::kLayoutVersion - 1; }},
      {"a newer version", [](ch::Header *h) { h->version = ch::kLayoutVersion + 1; }},
      {"capacity not a power of two", [](ch::Header *h) { h->ring_capacity = 6; }},
      {"capacity beyond the region", [](ch::Header *h) { h->ring_capacity = 1u << 20; }},
      {"region size", [](ch::Header *h) { h->region_size += 64; }},
      {"cell size", [](ch::Header *h) { h->cell_size = 32; }},
      {"profile length", [](ch::Header *h) { h->profile_units = 100000; }},
      {"status", [](ch::Header *h) { h->status.store(77); }},
  };
  for (const Case &c : cases) {
    Image copy(8);
    std::memcpy(copy.base, image.base, ch::RegionSize(8));
    c.spoil(copy.header());
    Reader reader;
    const HRESULT hr = reader.Attach(copy.base, ch::RegionSize(8), folded);
    if (hr != MAPIOFFLINE_E_CHANNEL_CORRUPT) fprintf(stderr, "case '%s' not refused\n", c.name);
    CHECK_HR(hr, MAPIOFFLINE_E_CHANNEL_CORRUPT);
  }
  // After attach: a head that claims unwritten records, or goes back, ends the reader with an error.
  Reader reader;
  CHECK_HR(image.Attach(&reader), S_OK);
  image.header()->head.store(3);
  MAPIOFFLINE_RECORD out[4];
  uint64_t dropped = 0;
  CHECK(reader.Read(out, 4, &dropped) == -1);
  CHECK(reader.Read(out, 4, &dropped) == -1);  // stays failed
  Reader back;
  image.writer.Publish(Record(0));
  image.writer.Publish(Record(1));
  CHECK_HR(back.Attach(image.base, ch::RegionSize(8), folded), S_OK);
  image.header()->head.store(1);
  CHECK(back.Read(out, 4, &dropped) == -1);
  // A stopped publisher is not found, not corrupt.
  image.writer.Stop();
  CHECK_HR(Reader().Attach(image.base, ch::RegionSize(8), folded), MAPI_E_NOT_FOUND);
}

// A loss after records already taken ends the batch: the loss is reported by the next call, before the record
// that follows it, so a sink's dropped_before lands on that record (before, the whole batch's losses came before
// its first record).
void TestReaderStopsAtALoss() {
  LiveImage image(Wide("gap-mid"));
  Reader reader;
  CHECK_HR(image.Attach(&reader), S_OK);
  for (ULONG i = 0; i < 5; ++i) image.writer.Publish(Record(i));
  // Record 2's cell as the reader finds it when the writer rewrote it for a later lap during the read.
  ch::CellsOf(image.header())[2].seq.store(2 * (2 + 8 + 1));
  MAPIOFFLINE_RECORD out[16];
  uint64_t dropped = 0;
  CHECK(reader.Read(out, 16, &dropped) == 2);
  CHECK(dropped == 0);
  CHECK(out[1].notify.Info.StateChange.ulStateOld == 1);
  CHECK(reader.Read(out, 16, &dropped) == 2);
  CHECK(dropped == 1);
  CHECK(out[0].notify.Info.StateChange.ulStateOld == 3);
}

// A sink that releases a reference it was given (the last one of a bridge object) from inside its first Notify,
// on the bridge's reader thread.
class ReleasingSink final : public TestSink {
 public:
  explicit ReleasingSink(IUnknown *release_in_notify) : release_(release_in_notify) {}
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *) noexcept override {
    if (IUnknown *r = release_.exchange(nullptr)) r->Release();
  }
  bool released() const { return release_.load() == nullptr; }

 private:
  std::atomic<IUnknown *> release_;
};

// A publisher of `profile` over the embedded object, flooded by a thread calling its Notify without pause.
struct FloodedPublisher {
  IMAPIOfflineMgr *source = nullptr;
  mapioffline_bridge_publisher *pub = nullptr;
  std::atomic<bool> stop{false};
  std::thread flood;

  explicit FloodedPublisher(const std::u16string &profile) {
    source = OpenEmbedded(profile);
    pub = StartPublisher(source, profile);
    if (!pub) return;
    IMAPIOfflineNotify *notify = mapioffline_bridge_publisher_notify(pub);
    flood = std::thread([this, notify] {
      MAPIOFFLINE_RECORD r = Record(0);
      for (ULONG i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        r.notify.Info.StateChange.ulStateOld = i;
        notify->Notify(&r.notify);
      }
    });
  }
  ~FloodedPublisher() {
    stop.store(true);
    if (flood.joinable()) flood.join();
    if (pub) mapioffline_bridge_publish_stop(pub);
    if (source) source->Release();
  }
};

// Bridge objects closed while their reader thread delivers a flood, in every order: unadvise then release, release
// with the registration still there (the teardown ends it), and the last reference released by a sink from inside
// its Notify, on the reader thread itself (which then owns the teardown). Before the fix the reader took a reference
// around each delivery, after the count could have reached 0: two teardowns at once (heap corruption, or a hang).
void TestCloseWhileReceiving() {
  const std::u16string profile = Wide("channel-test-close");
  FloodedPublisher publisher(profile);
  if (!publisher.pub) return;
  const WCHAR *name = reinterpret_cast<const WCHAR *>(profile.c_str());
  uint32_t random = 19;
  auto next = [&random] { return random = random * 1664525u + 1013904223u; };
  int receiving = 0;
  constexpr int kRounds = 600;
  for (int round = 0; round < kRounds; ++round) {
    IMAPIOfflineMgr *bridge = nullptr;
    CHECK_HR(mapioffline_open_bridge(name, &bridge, nullptr), S_OK);
    if (!bridge) return;
    const uint32_t r = next() >> 8;
    // The last round is closed by this thread: no detached teardown may still run when the process exits.
    const int order = round == kRounds - 1 ? 0 : static_cast<int>(r % 3);
    if (order == 2) {
      // The sink gets our reference and releases it from inside its first Notify; the reader thread tears down,
      // the registration's reference to the sink last before the object goes.
      ReleasingSink *sink = new ReleasingSink(bridge);
      Advise(bridge, sink, 0);
      while (!sink->released() || sink->refs() != 1) std::this_thread::yield();
      ++receiving;
      sink->Release();
      continue;
    }
    static const ULONG kCapacities[] = {2, 256, 4096};
    IMAPIOfflineNotify *sink = NewAdvisedSink(bridge, kCapacities[(r >> 4) % 3], 1);
    std::this_thread::sleep_for(std::chrono::microseconds((r >> 8) % 2001));
    MAPIOFFLINE_SINK_STATS stats;
    mapioffline_sink_stats(sink, &stats);
    receiving += stats.received > 0;
    if (order == 0) {
      bridge->Unadvise(0, 1);  // NewAdvisedSink's registration: the object's first token
      sink->Release();
      bridge->Release();
    } else {
      bridge->Release();
      sink->Release();
    }
  }
  CHECK(receiving > kRounds / 10);  // the reader was delivering when the objects were closed
}

#if defined(__linux__)
// A sink whose Notify waits until told to return: a Notify in progress on the reader thread, held at a fork.
class HeldSink final : public TestSink {
 public:
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *) noexcept override {
    std::unique_lock<std::mutex> lock(mutex_);
    inside_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return let_go_; });
  }
  bool WaitInside() {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return inside_; });
  }
  void LetGo() {
    std::lock_guard<std::mutex> lock(mutex_);
    let_go_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool inside_ = false;
  bool let_go_ = false;
};

// In a fork child, Unadvise of a registration whose Notify the parent's reader thread was running at the fork
// returns at once (that Notify never ends there), as the embedded object's does.
void TestUnadviseInAForkChild() {
  const std::u16string profile = Wide("channel-test-fork");
  IMAPIOfflineMgr *source = OpenEmbedded(profile);
  mapioffline_bridge_publisher *pub = StartPublisher(source, profile);
  IMAPIOfflineMgr *bridge = nullptr;
  if (pub) CHECK_HR(mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(profile.c_str()), &bridge, nullptr), S_OK);
  if (!bridge) {
    if (pub) mapioffline_bridge_publish_stop(pub);
    source->Release();
    return;
  }
  HeldSink *sink = new HeldSink;
  const ULONG token = Advise(bridge, sink, 0);
  CHECK_HR(source->SetCurrentState(0, MAPIOFFLINE_STATE_OFFLINE_MASK, MAPIOFFLINE_STATE_OFFLINE, nullptr), S_OK);
  CHECK(sink->WaitInside());
  const pid_t child = fork();
  if (child == 0) {
    alarm(10);  // the old Unadvise waited for that Notify forever: SIGALRM fails the check below
    _exit(bridge->Unadvise(0, token) == S_OK ? 0 : 1);
  }
  int status = 0;
  CHECK(child > 0 && waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  sink->LetGo();
  bridge->Unadvise(0, token);
  bridge->Release();
  sink->Release();
  mapioffline_bridge_publish_stop(pub);
  source->Release();
}
#endif

// A live region of this process's with its writer, for the publisher's half of the wake protocol
// (Writer::WakeSubscribers); stopped and unlinked at the end of the test.
struct LiveRegion {
  ch::Region region;
  std::unique_ptr<Writer> writer;

  explicit LiveRegion(const char *profile) {
    const std::u16string folded = Wide(profile);
    const char *detail = nullptr;
    CHECK_HR(ch::Region::Create(folded, ch::RegionSize(8), &region, &detail), S_OK);
    if (!region.valid()) return;
    writer = std::make_unique<Writer>(region.base(), &region,
                                      Identity{8, 3, 0, ch::SelfPid(), ch::SelfStartTime()}, folded);
    writer->Go(MAPIOFFLINE_STATE_ONLINE);
  }
  ~LiveRegion() {
    if (!writer) return;
    writer->Stop();
    region.Unlink();
  }
};

#if defined(_WIN32)
// The channel's names live in the user's private namespace ("mapioffline-s<session>\..."), where no other user can
// create or list anything; only where the system has no private namespaces (Wine: their calls are stubs) do they
// fall back to the session's Local\ namespace. Under Wine this checks the fallback; on Windows, the namespace.
void TestNamesLiveInTheUsersPrivateNamespace() {
  const bool wine = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr;
  for (int round = 0; round < 2; ++round) {  // the namespace is opened once per process: the second round reuses it
    LiveRegion live("names-namespace");
    const std::string &name = live.region.name();
    const std::string expected = wine ? "Local\\mapioffline-S-1-" : "mapioffline-s";
    CHECK(name.compare(0, expected.size(), expected) == 0);
    DWORD session = 0;
    CHECK(ProcessIdToSessionId(GetCurrentProcessId(), &session));
    if (!wine) CHECK(name.compare(0, name.find('\\') + 1, "mapioffline-s" + std::to_string(session) + "\\") == 0);
    ch::Region follower;
    const char *detail = nullptr;
    CHECK_HR(ch::Region::Open(Wide("names-namespace"), &follower, &detail), S_OK);
    CHECK(follower.name() == name);
  }
}
#endif

// A publication pays a wake syscall only when some subscriber went to sleep waiting for it (`wanted`): a subscriber
// that was stopped or killed while asleep costs the publications after it nothing (the count-based protocol paid
// one syscall per publication for it, forever).
void TestOnlyANewSleeperCostsAWake() {
  LiveRegion live("channel-test-wanted");
  if (!live.writer) return;
  Writer &writer = *live.writer;
  writer.set_heal_interval_ns(INT64_MAX);  // this test is about `wanted` alone (Windows cannot say who was woken)
  ch::Header *h = writer.header();
  writer.Publish(Record(0));  // nobody asleep: no syscall
  CHECK(writer.wake_calls() == 0);
  // A subscriber read wake_word, armed for the next value, counted itself asleep... and was stopped there.
  h->wanted.store(h->wake_word.load() + 1);
  h->sleepers.store(1);
  writer.Publish(Record(1));  // the publication it waits for: one syscall
  CHECK(writer.wake_calls() == 1);
  for (int i = 2; i < 10; ++i) writer.Publish(Record(static_cast<uint32_t>(i)));
  CHECK(writer.wake_calls() == 1);  // nobody waits for these
  h->wanted.store(h->wake_word.load() + 50);  // a value far ahead (a hostile or confused writer): costs syscalls
  writer.Publish(Record(10));
  CHECK(writer.wake_calls() == 2);
}

#if defined(__linux__)
// Blocks until thread `tid` of this process sleeps in a futex wait (the kernel has queued it), at most 10 s (then
// the check fails: a kernel whose /proc does not show it cannot run this test). No API says so; the test is about
// what the publisher does once a sleeper is queued, so it must not publish before.
void WaitUntilInFutexWait(pid_t tid) {
  const std::string base = "/proc/self/task/" + std::to_string(tid);
  const std::string futex = std::to_string(SYS_futex) + " ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    char buf[256] = {};
    const int fd = open((base + "/syscall").c_str(), O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    std::string stat;
    const int sfd = open((base + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
    if (sfd >= 0) {
      char sbuf[512] = {};
      if (read(sfd, sbuf, sizeof sbuf - 1) > 0) stat = sbuf;
      close(sfd);
    }
    const size_t paren = stat.rfind(')');
    const bool sleeping = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S';
    if (n > 0 && std::string(buf, static_cast<size_t>(n)).rfind(futex, 0) == 0 && sleeping) return;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  fprintf(stderr, "thread %d never showed up in a futex wait\n", static_cast<int>(tid));
  CHECK(false);
}

// A subscriber's sleep (BridgeObject::SleepUntilPublished) without its epilogue: once woken it neither uncounts
// itself nor passes the wake on, as if it were killed right then. Returns once the kernel has queued it.
struct RawSleeper {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> woken{false};
  std::thread thread;

  RawSleeper(const ch::Region &region, ch::Header *h) {
    thread = std::thread([this, &region, h] {
      const uint32_t seen = h->wake_word.load();
      h->wanted.store(seen + 1);
      h->sleepers.fetch_add(1);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
      region.Wait(&h->wake_word, seen, -1);
      woken.store(true);
    });
    while (tid.load() == 0) std::this_thread::yield();
    WaitUntilInFutexWait(tid.load());
  }
  ~RawSleeper() { thread.join(); }
};

// A subscriber the publisher woke dies before passing the wake on (its count stays, `forwarded` stays behind):
// a publication after the heal interval wakes another sleeper, and only then; a heal that found nobody queued owes
// nothing; a wake passed on is not healed.
void TestAWakeNotPassedOnIsHealed() {
  LiveRegion live("channel-test-heal");
  if (!live.writer) return;
  Writer &writer = *live.writer;
  ch::Header *h = writer.header();
  for (const bool heal_due : {true, false}) {
    writer.set_heal_interval_ns(heal_due ? 0 : INT64_MAX);
    const uint64_t calls = writer.wake_calls();
    // Queued in this order; a futex wakes its sleepers of one priority first in, first out.
    auto victim = std::make_unique<RawSleeper>(live.region, h);
    RawSleeper survivor(live.region, h);
    writer.Publish(Record(1));  // someone waits for it: wakes the victim, which then "dies"
    victim.reset();             // joined: it was woken
    CHECK(writer.wake_calls() == calls + 1);
    CHECK(!survivor.woken.load());
    writer.Publish(Record(2));  // nobody new waits, but the last wake was not passed on
    if (heal_due) {
      CHECK(writer.wake_calls() == calls + 2);  // the heal: it woke the survivor (joined below)
      writer.Publish(Record(3));  // the survivor "died" too: healed again, and this wake found nobody queued...
      CHECK(writer.wake_calls() == calls + 3);
      writer.Publish(Record(4));  // ...so it owes nothing: no more heals
      CHECK(writer.wake_calls() == calls + 3);
    } else {
      CHECK(writer.wake_calls() == calls + 1);  // within the interval: no heal yet
      CHECK(!survivor.woken.load());
      h->forwarded.store(h->wake_word.load());  // passed on (as a live subscriber marks it)...
      writer.set_heal_interval_ns(0);
      writer.Publish(Record(3));  // ...so even with the interval over, no heal
      CHECK(writer.wake_calls() == calls + 1);
      CHECK(!survivor.woken.load());
      live.region.Wake(&h->wake_word, -1);  // let the survivor go
    }
    h->sleepers.store(0);
  }
}
#endif

#if defined(__linux__)
// Hostile locators under a channel's name (Linux), each written by this test as any process of the user could:
// every one is refused (corrupt, or "no live publisher") without a crash or a hang, and a publisher replaces the
// name unless a live process really holds a ring there.
struct HostileLocators {
  std::u16string profile = Wide("channel-test-hostile");  // already folded: lower case ASCII
  std::string path = LocatorPath(profile);

  static std::string LocatorPath(const std::u16string &folded) {
    std::string path;
    const char *detail = nullptr;
    CHECK_HR(ch::LocatorPath(folded, &path, &detail), S_OK);
    return path;
  }

  void Write(const void *bytes, size_t size) {
    unlink(path.c_str());
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, bytes, size) == static_cast<ssize_t>(size));
    close(fd);
  }
  void Write(const ch::Locator &locator) {
    const ch::LocatorImage image = ch::EncodeLocator(locator);
    Write(&image, sizeof image);
  }
  HRESULT Open() {
    IMAPIOfflineMgr *bridge = nullptr;
    const char *detail = nullptr;
    const HRESULT hr = mapioffline_open_bridge(reinterpret_cast<const WCHAR *>(profile.c_str()), &bridge, &detail);
    if (bridge) bridge->Release();
    if (FAILED(hr)) CHECK(detail != nullptr);  // every refusal says why
    return hr;
  }
  // The locator of a ring at `fd` in this (live, non-publishing) process.
  static ch::Locator Ours(int fd, uint64_t size = ch::RegionSize(8)) {
    ch::Locator locator;
    locator.pid = ch::SelfPid();
    locator.start = ch::SelfStartTime();
    locator.fd = fd;
    locator.region_size = size;
    return locator;
  }
  static int Memfd(uint64_t size, unsigned seals) {
    const int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) == 0);
    if (seals) CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
    return fd;
  }
  // Publishing replaces the name (true) or is refused because a live publisher holds it (false).
  bool PublisherReplaces() {
    IMAPIOfflineMgr *source = OpenEmbedded(profile);
    mapioffline_bridge_publisher *pub = nullptr;
    const HRESULT hr = mapioffline_bridge_publish_start(source, reinterpret_cast<const WCHAR *>(profile.c_str()), 0,
                                                        8, &pub, nullptr);
    if (pub) mapioffline_bridge_publish_stop(pub);
    source->Release();
    return SUCCEEDED(hr);
  }
};

void TestHostileLocators() {
  HostileLocators t;
  const unsigned all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  const uint64_t size = ch::RegionSize(8);

  // Bytes that are no locator at all.
  t.Write("", 0);
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  t.Write("0123456789", 10);
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  unsigned char garbage[sizeof(ch::LocatorImage) + 1];
  for (size_t i = 0; i < sizeof garbage; ++i) garbage[i] = static_cast<unsigned char>(i * 37 + 11);
  t.Write(garbage, sizeof(ch::LocatorImage));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  CHECK(t.PublisherReplaces());
  const ch::LocatorImage valid = ch::EncodeLocator(HostileLocators::Ours(0));
  std::memcpy(garbage, &valid, sizeof valid);
  t.Write(garbage, sizeof garbage);  // a valid locator and one byte more
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);

  // A pid that is gone, and our own pid with another start time (a reused pid): no live publisher.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  ch::Locator dead = HostileLocators::Ours(0);
  dead.pid = static_cast<uint32_t>(child);
  t.Write(dead);
  CHECK_HR(t.Open(), MAPI_E_NOT_FOUND);
  CHECK(t.PublisherReplaces());
  ch::Locator reused = HostileLocators::Ours(0);
  reused.start += 1;
  t.Write(reused);
  CHECK_HR(t.Open(), MAPI_E_NOT_FOUND);

  // A live process of ours (this one) whose descriptor is no ring.
  int pipe_fds[2];
  CHECK(pipe(pipe_fds) == 0);
  t.Write(HostileLocators::Ours(pipe_fds[0]));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  CHECK(t.PublisherReplaces());
  const int null_device = open("/dev/null", O_RDWR | O_CLOEXEC);
  t.Write(HostileLocators::Ours(null_device));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  char regular_path[] = "/tmp/mapioffline-hostile-XXXXXX";
  const int regular = mkstemp(regular_path);
  CHECK(regular >= 0 && ftruncate(regular, static_cast<off_t>(size)) == 0);
  unlink(regular_path);
  t.Write(HostileLocators::Ours(regular));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  // A tmpfs file: it reports F_SEAL_SEAL, nothing else.
  const std::string shm_path = "/dev/shm/mapioffline-hostile-" + std::to_string(static_cast<long>(getpid()));
  const int shm_file = open(shm_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  CHECK(shm_file >= 0 && ftruncate(shm_file, static_cast<off_t>(size)) == 0);
  unlink(shm_path.c_str());
  t.Write(HostileLocators::Ours(shm_file));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  // A descriptor number this process does not have: its publisher closed the ring (stopping).
  t.Write(HostileLocators::Ours(4000));
  CHECK_HR(t.Open(), MAPI_E_NOT_FOUND);

  // Memfds that are not sealed as a ring is: nothing, SHRINK alone, everything but SEAL, write-sealed, or of
  // another size than the locator says.
  const int unsealed = HostileLocators::Memfd(size, 0);
  const int shrink_only = HostileLocators::Memfd(size, F_SEAL_SHRINK);
  const int resealable = HostileLocators::Memfd(size, F_SEAL_SHRINK | F_SEAL_GROW);
  const int write_sealed = HostileLocators::Memfd(size, all | F_SEAL_WRITE);
  const int other_size = HostileLocators::Memfd(size + 64, all);
  for (int fd : {unsealed, shrink_only, resealable, write_sealed, other_size}) {
    t.Write(HostileLocators::Ours(fd));
    CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  }
  CHECK(t.PublisherReplaces());

  // A ring sealed as a publisher's is, in a live process, whose content is no channel: the reader decides, and a
  // new publisher leaves the name alone only while the ring looks like a publisher's (starting, or live).
  const int ring = HostileLocators::Memfd(size, all);
  t.Write(HostileLocators::Ours(ring));
  CHECK_HR(t.Open(), MAPI_E_NOT_FOUND);  // all zero: a publisher that is still starting
  CHECK(!t.PublisherReplaces());
  ch::Header header;
  std::memset(&header, 0, sizeof header);
  header.status.store(ch::kStatusLive);  // live, but no magic
  CHECK(pwrite(ring, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header));
  CHECK_HR(t.Open(), MAPIOFFLINE_E_CHANNEL_CORRUPT);
  CHECK(t.PublisherReplaces());

  for (int fd : {pipe_fds[0], pipe_fds[1], null_device, regular, shm_file, unsealed, shrink_only, resealable,
                 write_sealed, other_size, ring}) {
    close(fd);
  }
  unlink(t.path.c_str());
}
#endif  // __linux__

}  // namespace

int main() {
#if defined(__linux__) || defined(_WIN32)
  // The OS layers (Linux: shared memory, futexes, pidfd; Windows: named mappings, semaphores, process handles).
  TestNotFound();
  TestProfileNameRule();
  TestPublishAndFollow();
  TestEveryAsleepSubscriberIsWokenThroughTheFanOut();
  TestOnlyANewSleeperCostsAWake();
  TestExecutor();
  TestCloseWhileReceiving();
#endif
#if defined(_WIN32)
  TestNamesLiveInTheUsersPrivateNamespace();
#endif
#if defined(__linux__)
  TestUnadviseInAForkChild();
  TestAWakeNotPassedOnIsHealed();
  TestHostileLocators();
#endif
  TestReaderGapsAndOrder();
  TestReaderStopsAtALoss();
  TestReaderRefusesCorruption();
  return check_report("test_channel");
}
