// Fuzz target: a native sink driven by a script of Notify calls with arbitrary record bytes and sizes,
// interleaved with every consumer entry point (try_pop, pop_records, pop_batch, wait and wait_since with a zero
// timeout, fileno, interrupt, close) and the stream calls (attach, detach, fail, note_dropped).
//
// Oracle: a reference model (a std::deque bounded by the rounded capacity) run beside the sink. After every step
// the sink must agree with it exactly: the records popped and their order, the drops reported per record (stamped
// at push) and per batch, the counters of mapioffline_sink_stats, last_state, the end reason, wait's answer, and
// whether the descriptor is readable (while a record is pending, after close, while the stream has ended, and
// after an interrupt or a stream change until a pop finds the ring empty;
// spuriously readable only from a moment it was due to be readable until the next pop that comes back short).
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
  struct Cell {
    MAPIOFFLINE_NOTIFY notify;
    uint64_t dropped_at_push;  // the cumulative drop count when it was pushed
  };
  size_t capacity = 0;
  std::deque<Cell> ring;
  uint64_t pushed = 0, delivered = 0, dropped = 0, invalid = 0, reported = 0;
  ULONG last_state = 0;
  bool last_state_seen = false;
  bool closed = false;
  uint64_t feeds = 0;
  bool ever_attached = false;
  ULONG failed = MAPIOFFLINE_END_NONE;
  uint32_t interrupts = 0;

  ULONG EndReason() const {
    if (failed) return failed;
    return ever_attached && feeds == 0 ? MAPIOFFLINE_END_UNADVISED : MAPIOFFLINE_END_NONE;
  }
  // The drop gap the next popped record reports, and the new reported count.
  uint64_t Take() {
    const Cell &c = ring.front();
    const uint64_t gap = c.dropped_at_push > reported ? c.dropped_at_push - reported : 0;
    if (gap) reported = c.dropped_at_push;
    ring.pop_front();
    ++delivered;
    return gap;
  }
  // Readable because of a stream change (interrupt, close, last detach, fail), until a pop finds the ring empty.
  bool interrupted_fd = false;
  // The descriptor is re-armed only by a pop that comes back short (one syscall saved per full batch): once it was
  // due to be readable, it may still read as ready with nothing pending (a spurious wake-up, which the API
  // allows), until the next short pop.
  bool may_be_stale = false;

  void Notify(const MAPIOFFLINE_NOTIFY *n) {
    if (!n || n->ulSize < sizeof *n) {
      ++invalid;
      return;
    }
    if (n->NotifyType == MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE &&
        n->Info.StateChange.ulMask == MAPIOFFLINE_STATE_OFFLINE_MASK) {
      last_state = n->Info.StateChange.ulStateNew;
      last_state_seen = true;
    }
    if (closed || ring.size() == capacity) {
      ++dropped;
      return;
    }
    ++pushed;
    ring.push_back({*n, dropped});
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
          FUZZ_CHECK(std::memcmp(&out, &model.ring.front().notify, sizeof out) == 0);
          model.Take();  // try_pop discards the gap, but it counts as reported all the same
          model.may_be_stale = true;
        } else {
          model.interrupted_fd = false;
          model.may_be_stale = false;
        }
        break;
      }
      case 5: {  // pop_records (per-record drop gaps) or pop_batch (their sum), 0..80 records
        const uint8_t b = in.u8();
        const size_t max = b % 81;
        std::vector<MAPIOFFLINE_RECORD> out(max + 1);
        std::vector<uint64_t> gaps(max + 1, 12345);
        uint64_t total = 12345;
        const bool per_record = (b & 0x80) != 0;
        const bool want_gaps = (in.u8() & 1) != 0;
        const size_t got = per_record
                               ? mapioffline_sink_pop_records(sink, out.data(), max, want_gaps ? gaps.data() : nullptr)
                               : mapioffline_sink_pop_batch(sink, out.data(), max, want_gaps ? &total : nullptr);
        const size_t expect = std::min(max, model.ring.size());
        FUZZ_CHECK(got == expect);
        uint64_t sum = 0;
        for (size_t i = 0; i < got; ++i) {
          FUZZ_CHECK(std::memcmp(&out[i].notify, &model.ring.front().notify, sizeof out[i].notify) == 0);
          if (i) FUZZ_CHECK(out[i].timestamp_ns >= out[i - 1].timestamp_ns);
          const uint64_t gap = model.Take();
          sum += gap;
          if (per_record && want_gaps) FUZZ_CHECK(gaps[i] == gap);
        }
        if (!per_record && want_gaps) FUZZ_CHECK(total == sum);
        if (per_record) FUZZ_CHECK(gaps[got] == 12345);  // nothing written past the records taken
        if (got < max) {
          model.interrupted_fd = false;
          model.may_be_stale = false;
        } else if (max > 0) {
          model.may_be_stale = true;
        }
        break;
      }
      case 6: {  // wait / wait_since, never blocking: the answer is a function of the state, in this order
        const uint8_t b = in.u8();
        FUZZ_CHECK(mapioffline_sink_interrupts(sink) == model.interrupts);
        const uint32_t seen = (b & 2) ? model.interrupts - (b >> 6) : model.interrupts;
        const int r = (b & 4) ? mapioffline_sink_wait_since(sink, 0, (b & 1) ? 1000 : 0, seen)
                              : mapioffline_sink_wait(sink, 0, (b & 1) ? 1000 : 0);
        const int expect = !model.ring.empty()                      ? MAPIOFFLINE_WAIT_READY
                           : model.closed                           ? MAPIOFFLINE_WAIT_CLOSED
                           : model.EndReason()                      ? MAPIOFFLINE_WAIT_ENDED
                           : (b & 4) && seen != model.interrupts    ? MAPIOFFLINE_WAIT_INTERRUPTED
                                                                    : MAPIOFFLINE_WAIT_TIMEOUT;
        FUZZ_CHECK(r == expect);
        break;
      }
      case 7:
        if (fd < 0) {
          fd = mapioffline_sink_fileno(sink);
          FUZZ_CHECK(fd >= 0);
          model.may_be_stale = false;  // a new descriptor starts exact
          // ... and readable if anything is already pending or over; it stays so until a short pop.
          model.interrupted_fd = !model.ring.empty() || model.closed || model.EndReason();
        } else {
          FUZZ_CHECK(mapioffline_sink_fileno(sink) == fd);  // made once, then the same descriptor
        }
        break;
      case 8: {  // the stream and the consumer side: interrupt, close, attach, detach, fail, upstream drops
        const uint8_t b = in.u8();
        bool wakes = false;
        switch (b % 6) {
          case 0:
            mapioffline_sink_interrupt(sink);
            ++model.interrupts;
            wakes = true;
            break;
          case 1:
            mapioffline_sink_close(sink);
            wakes = !model.closed;  // idempotent: a second close does nothing
            model.closed = true;
            break;
          case 2:
            mapioffline_sink_attach(sink);
            ++model.feeds;
            model.ever_attached = true;
            model.failed = MAPIOFFLINE_END_NONE;
            break;
          case 3:
            mapioffline_sink_detach(sink);
            if (model.feeds) {
              wakes = --model.feeds == 0;
            }
            break;
          case 4: {
            ULONG reason = (b & 8) ? in.u32() : 1 + in.u8() % 3;
            mapioffline_sink_fail(sink, reason);
            if (reason == MAPIOFFLINE_END_NONE || reason > 0xFF) reason = MAPIOFFLINE_END_FAILED;
            model.failed = reason;
            model.ever_attached = true;
            wakes = true;
            break;
          }
          case 5: {
            const uint64_t n = in.u8();
            mapioffline_sink_note_dropped(sink, n);
            model.dropped += n;
            break;
          }
        }
        if (wakes && fd >= 0) model.interrupted_fd = true;
        break;
      }
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
    FUZZ_CHECK(stats.received == model.pushed + model.dropped);
    FUZZ_CHECK(stats.delivered == model.delivered);
    FUZZ_CHECK(stats.dropped == model.dropped);
    FUZZ_CHECK(stats.invalid == model.invalid);
    FUZZ_CHECK(stats.dropped_reported == model.reported);
    FUZZ_CHECK(stats.received == stats.delivered + stats.dropped + model.ring.size());
    ULONG last = 99;
    FUZZ_CHECK(mapioffline_sink_get_last_state(sink, &last) == (model.last_state_seen ? 1 : 0));
    FUZZ_CHECK(last == (model.last_state_seen ? model.last_state : 0));
    FUZZ_CHECK(mapioffline_sink_last_state(sink) == model.last_state);
    FUZZ_CHECK(mapioffline_sink_is_closed(sink) == (model.closed ? 1 : 0));
    FUZZ_CHECK(mapioffline_sink_end_reason(sink) == model.EndReason());
    if (fd >= 0) {
      const bool required = !model.ring.empty() || model.closed || model.EndReason() || model.interrupted_fd;
      const bool readable = Readable(fd);
      FUZZ_CHECK(readable || !required);  // never a lost wake-up
      // Spurious readiness only while a condition held since the last short pop: the descriptor is re-armed by a
      // pop that comes back short, never by a condition going away (a re-attach) or by a pop taking all it asked.
      FUZZ_CHECK(!readable || required || model.may_be_stale);
      if (required) model.may_be_stale = true;
    }
  }
  FUZZ_CHECK(sink->Release() == 0);
  FUZZ_CHECK(mapioffline_live_sinks() == sinks_before);
  return 0;
}
