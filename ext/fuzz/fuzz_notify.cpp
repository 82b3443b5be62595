// Fuzz target: a native sink driven by a script of Notify calls with arbitrary record bytes and sizes, interleaved
// with every consumer entry point (try_pop, pop_batch, wait with a zero timeout, fileno, interrupt, close, stats).
//
// Oracle: a reference model (a std::deque bounded by the rounded capacity) run beside the sink. After every step
// the sink must agree with it exactly: the records popped and their order, the drops reported before each batch,
// the counters of mapioffline_sink_stats, last_state, wait's answer, and whether the descriptor is readable
// (readable while a record is pending, after close, and after an interrupt until a pop finds the ring empty;
// spuriously readable only between a pop that took all it asked for and the next pop that comes back short).
// At the end the sink is released and the live-sink count must be back at its baseline.
#include <poll.h>

#include <deque>

#include "fuzz_common.h"

namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

struct Model {
  size_t capacity = 0;
  std::deque<MAPIOFFLINE_NOTIFY> ring;
  uint64_t received = 0, delivered = 0, dropped = 0, invalid = 0, dropped_reported = 0;
  ULONG last_state = 0;
  bool closed = false;
  bool interrupted_fd = false;  // readable because of an interrupt, until a pop finds the ring empty
  // The descriptor is re-armed only by a pop that comes back short (one syscall saved per full batch): after a
  // pop that took exactly what it asked for, it may still read as ready with nothing pending (a spurious wake-up,
  // which the API allows), until the next short pop.
  bool may_be_stale = false;

  void Notify(const MAPIOFFLINE_NOTIFY *n) {
    if (!n || n->ulSize < sizeof *n) {
      ++invalid;
      return;
    }
    ++received;
    if (n->NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
        n->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
      last_state = n->Info.StateChange.ulStateNew;
    }
    if (closed || ring.size() == capacity) {
      ++dropped;
      return;
    }
    ring.push_back(*n);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Reader in(data, size);
  const long sinks_before = mapioffline_live_sinks();
  const ULONG requested = 1 + in.u8() % 16;  // 1..16, rounded up to 2, 4, 8, 16
  IMAPIOfflineNotify *sink = nullptr;
  FUZZ_CHECK(mapioffline_sink_create(requested, &sink) == S_OK);
  Model model;
  model.capacity = mapioffline_sink_capacity(sink);
  FUZZ_CHECK(model.capacity >= 2 && model.capacity >= requested && (model.capacity & (model.capacity - 1)) == 0);
  int fd = -1;

  for (int step = 0; step < 256 && !in.empty(); ++step) {
    switch (in.u8() % 10) {
      case 0:
      case 1:
      case 2: {  // Notify with arbitrary bytes: a buffer of exactly `len` bytes whose ulSize never claims more
        uint8_t len = in.u8() % 40;
        std::vector<uint8_t> buffer(len);
        in.bytes(buffer.data(), len);
        if (len >= 4) {
          ULONG claimed;
          std::memcpy(&claimed, buffer.data(), 4);
          if (claimed > len) claimed = len;  // an honest caller's record is at least ulSize bytes long
          std::memcpy(buffer.data(), &claimed, 4);
        }
        // A buffer shorter than ulSize's own 4 bytes cannot be passed honestly: send NULL instead.
        const MAPIOFFLINE_NOTIFY *n = len >= 4 ? reinterpret_cast<const MAPIOFFLINE_NOTIFY *>(buffer.data()) : nullptr;
        // Notify may read sizeof(MAPIOFFLINE_NOTIFY) bytes only when ulSize allows it; ASan checks the rest.
        MAPIOFFLINE_NOTIFY copy;
        if (n && n->ulSize >= sizeof copy) std::memcpy(&copy, n, sizeof copy);
        sink->Notify(n);
        model.Notify(n && n->ulSize >= sizeof copy ? &copy : n);
        break;
      }
      case 3: {  // a well-formed state change record, to reach last_state and full-ring paths quickly
        MAPIOFFLINE_NOTIFY n{};
        n.ulSize = sizeof n;
        n.NotifyType = static_cast<MAPIOFFLINE_NOTIFY_TYPE>(1 + in.u8() % 3);
        n.ulClientToken = in.u32();
        n.Info.StateChange.ulMask = (in.u8() & 1) ? MAPIOFFLINE_STATE_OFFLINE_MASK : in.u32();
        n.Info.StateChange.ulStateOld = 1 + in.u8() % 2;
        n.Info.StateChange.ulStateNew = in.u32();
        const uint8_t repeat = 1 + in.u8() % 20;
        for (uint8_t i = 0; i < repeat; ++i) {
          sink->Notify(&n);
          model.Notify(&n);
        }
        break;
      }
      case 4: {  // try_pop
        MAPIOFFLINE_NOTIFY out;
        uint64_t ts = 0;
        const int got = mapioffline_sink_try_pop(sink, &out, (in.u8() & 1) ? &ts : nullptr);
        FUZZ_CHECK(got == (model.ring.empty() ? 0 : 1));
        if (got) {
          FUZZ_CHECK(std::memcmp(&out, &model.ring.front(), sizeof out) == 0);
          model.ring.pop_front();
          ++model.delivered;
          model.dropped_reported = model.dropped;  // try_pop discards the gap, but it is reported all the same
          model.may_be_stale = true;
        } else {
          model.interrupted_fd = false;
          model.may_be_stale = false;
        }
        break;
      }
      case 5: {  // pop_batch of 0..17 records
        const size_t max = in.u8() % 18;
        std::vector<MAPIOFFLINE_RECORD> out(max + 1);
        uint64_t gap = 12345;
        const size_t got = mapioffline_sink_pop_batch(sink, out.data(), max, (in.u8() & 1) ? &gap : nullptr);
        const size_t expect = std::min(max, model.ring.size());
        FUZZ_CHECK(got == expect);
        if (gap != 12345) FUZZ_CHECK(gap == (got ? model.dropped - model.dropped_reported : 0));
        if (got) model.dropped_reported = model.dropped;
        for (size_t i = 0; i < got; ++i) {
          FUZZ_CHECK(std::memcmp(&out[i].notify, &model.ring.front(), sizeof out[i].notify) == 0);
          if (i) FUZZ_CHECK(out[i].timestamp_ns >= out[i - 1].timestamp_ns);
          model.ring.pop_front();
        }
        model.delivered += got;
        if (got < max) {
          model.interrupted_fd = false;
          model.may_be_stale = false;
        } else if (max > 0) {
          model.may_be_stale = true;
        }
        break;
      }
      case 6: {  // wait, never blocking: the answer is a function of the state
        const int r = mapioffline_sink_wait(sink, 0, (in.u8() & 1) ? 1000 : 0);
        const int expect = !model.ring.empty() ? MAPIOFFLINE_WAIT_READY
                           : model.closed      ? MAPIOFFLINE_WAIT_CLOSED
                                               : MAPIOFFLINE_WAIT_TIMEOUT;
        FUZZ_CHECK(r == expect);
        break;
      }
      case 7:
        if (fd < 0) {
          fd = mapioffline_sink_fileno(sink);
          FUZZ_CHECK(fd >= 0);
          model.may_be_stale = false;  // a new descriptor starts exact
        } else {
          FUZZ_CHECK(mapioffline_sink_fileno(sink) == fd);  // made once, then the same descriptor
        }
        break;
      case 8:
        if (in.u8() & 1) {
          mapioffline_sink_interrupt(sink);
          if (fd >= 0) model.interrupted_fd = true;
        } else {
          mapioffline_sink_close(sink);
          model.closed = true;
        }
        break;
      case 9: {  // COM surface: QueryInterface with a known or arbitrary IID, AddRef/Release pairs
        IID iid;
        const uint8_t pick = in.u8() % 4;
        if (pick == 0) iid = IID_IUnknown;
        else if (pick == 1) iid = IID_IMAPIOfflineNotify;
        else if (pick == 2) iid = IID_IMAPIOffline;
        else in.bytes(&iid, sizeof iid);
        void *out = reinterpret_cast<void *>(1);
        const HRESULT hr = sink->QueryInterface(iid, &out);
        const bool known = IsEqualGUID(iid, IID_IUnknown) || IsEqualGUID(iid, IID_IMAPIOfflineNotify);
        FUZZ_CHECK(hr == (known ? S_OK : E_NOINTERFACE));
        FUZZ_CHECK(out == (known ? static_cast<void *>(sink) : nullptr));
        if (known) FUZZ_CHECK(static_cast<IUnknown *>(out)->Release() == 1);
        FUZZ_CHECK(sink->QueryInterface(iid, nullptr) == E_POINTER);
        FUZZ_CHECK(mapioffline_is_native_sink(reinterpret_cast<IUnknown *>(sink)) == 1);
        break;
      }
    }
    MAPIOFFLINE_SINK_STATS stats;
    mapioffline_sink_stats(sink, &stats);
    FUZZ_CHECK(stats.received == model.received);
    FUZZ_CHECK(stats.delivered == model.delivered);
    FUZZ_CHECK(stats.dropped == model.dropped);
    FUZZ_CHECK(stats.invalid == model.invalid);
    FUZZ_CHECK(stats.received == stats.delivered + stats.dropped + model.ring.size());
    FUZZ_CHECK(mapioffline_sink_last_state(sink) == model.last_state);
    FUZZ_CHECK(mapioffline_sink_is_closed(sink) == (model.closed ? 1 : 0));
    if (fd >= 0) {
      const bool required = !model.ring.empty() || model.closed || model.interrupted_fd;
      const bool readable = Readable(fd);
      FUZZ_CHECK(readable || !required);       // never a lost wake-up
      FUZZ_CHECK(!readable || required || model.may_be_stale);  // spurious only after a full pop
    }
  }
  FUZZ_CHECK(sink->Release() == 0);
  FUZZ_CHECK(mapioffline_live_sinks() == sinks_before);
  return 0;
}
