// The shared-memory layout of a bridge channel: one region per profile, written by one publisher process and read
// by any number of subscriber processes of the same user.
//
// Every field has a fixed width and a fixed offset (checked below), so a 64-bit subscriber can follow a 32-bit
// publisher: no pointers, no size_t, no pthread objects, nothing whose layout depends on the C library. All
// integers are little-endian (every platform we build for is).
//
// Who writes what:
//  - Identity (Header, first 64 bytes): the publisher, once, before the region becomes visible. Subscribers
//    validate it at attach time and keep their own copies of the geometry; they never re-read it.
//  - Status, ring head, cells: the publisher only. Subscribers read them as untrusted input.
//  - Wake words (sleepers, forwarded, wanted): subscribers. The publisher reads `wanted` (and, to heal a wake that
//    was not passed on, `forwarded` and `sleepers`) to decide whether a publication needs a wake syscall
//    (Writer::WakeSubscribers). `armed` is no longer used (it keeps its place).
//  - Request slots: a subscriber fills a slot, the publisher answers in it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mapioffline/mapioffline.h"

namespace mapioffline {
namespace channel {

inline constexpr uint32_t kMagic = 0x48434F4Du;  // "MOCH" in memory order
inline constexpr uint32_t kLayoutVersion = 2;  // 2: `wanted` (a version-1 subscriber does not set it)
inline constexpr uint32_t kMaxProfileUnits = 256;  // UTF-16 code units of the folded profile name
static_assert(MAPIOFFLINE_MAX_PROFILE_NAME <= kMaxProfileUnits, "a valid profile name fits the header");
inline constexpr uint32_t kRequestSlots = 8;
inline constexpr uint32_t kMinRingCapacity = 2;
inline constexpr uint32_t kMaxRingCapacity = 1u << 20;
inline constexpr uint32_t kDefaultRingCapacity = 4096;

// Header::flags
inline constexpr uint32_t kFlagAllowSetState = 0x1;

// Header::status
inline constexpr uint32_t kStatusLive = 1;     // publishing
inline constexpr uint32_t kStatusStopped = 2;  // the publisher stopped on purpose

// RequestSlot::state
inline constexpr uint32_t kSlotFree = 0;
inline constexpr uint32_t kSlotClaimed = 1;  // a subscriber is filling it in
inline constexpr uint32_t kSlotReady = 2;    // waiting for the publisher
inline constexpr uint32_t kSlotRunning = 3;  // the publisher is calling SetCurrentState
inline constexpr uint32_t kSlotDone = 4;     // hr and head_after are valid

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free (an address-based lock would not be shared between processes)");
static_assert(sizeof(std::atomic<uint32_t>) == 4 && sizeof(std::atomic<uint64_t>) == 8, "atomic sizes");

// One request a subscriber makes to the publisher (set_state). 64 bytes.
struct alignas(64) RequestSlot {
  std::atomic<uint32_t> state;  // kSlot*: the word the requester sleeps on (futex / polled under Windows events)
  uint32_t requester_pid;       // lets another subscriber reclaim a slot whose requester died
  uint32_t flags;               // SetCurrentState's ulFlags
  uint32_t target;              // SetCurrentState's ulState
  int32_t hr;                   // the publisher's answer
  uint32_t reserved0;
  uint64_t head_after;  // the ring head once SetCurrentState returned: a blocking caller waits until delivered
  uint8_t reserved1[32];
};
static_assert(sizeof(RequestSlot) == 64, "RequestSlot is one cache line");

struct alignas(64) Header {
  // -- identity: written once by the publisher before the region is visible (64 bytes) ------------------------
  uint32_t magic;
  uint32_t version;
  uint32_t header_size;    // sizeof(Header)
  uint32_t cell_size;      // sizeof(Cell)
  uint32_t ring_capacity;  // cells, a power of two in [kMinRingCapacity, kMaxRingCapacity]
  uint32_t ring_offset;    // == header_size
  uint64_t region_size;    // ring_offset + ring_capacity * cell_size
  uint32_t capabilities;   // the source's GetCapabilities
  uint32_t flags;          // kFlag*
  uint32_t publisher_pid;
  uint32_t profile_units;  // length of profile[] in use
  uint64_t publisher_start;  // the publisher process's start time (OS-specific units): guards against pid reuse
  uint64_t reserved0;

  // -- status (publisher) ------------------------------------------------------------------------------------
  alignas(64) std::atomic<uint32_t> state;  // the source's current state
  std::atomic<uint32_t> status;             // kStatus*
  std::atomic<uint64_t> change_counter;     // +1 per DONE with mask OFFLINE_MASK

  // -- ring head (publisher): records 0 .. head-1 have been published --------------------------------------
  alignas(64) std::atomic<uint64_t> head;

  // -- wake-up words: see channel/publisher.cpp and bridge_object.cpp for the protocol --------------------------
  // wake_word has a line of its own (the publisher writes it every time, subscribers only read it); the words
  // subscribers write share the next line, which the publisher only reads, so the two sides do not fight over one.
  alignas(64) std::atomic<uint32_t> wake_word;  // +1 per publication (and on stop): the futex subscribers sleep on
  alignas(64) std::atomic<uint32_t> sleepers;   // subscribers (about to be) asleep on wake_word
  std::atomic<uint32_t> forwarded;              // the last wake_word value a woken subscriber passed on to all
  std::atomic<uint32_t> armed;                  // unused (the first wake protocol's flag; see writer.cpp)
  std::atomic<uint32_t> wanted;                 // the highest wake_word value a subscriber asleep waits for

  // -- requests ----------------------------------------------------------------------------------------------
  alignas(64) std::atomic<uint32_t> request_word;  // +1 per request: the futex the publisher's request thread sleeps on

  alignas(64) uint16_t profile[kMaxProfileUnits];  // the folded profile name (detects hash collisions)
  RequestSlot slots[kRequestSlots];
};

// One ring cell: a seqlock around one MAPIOFFLINE_RECORD stored as four 64-bit words (atomics, so that a reader
// racing the writer reads torn data it then discards, instead of a C++ data race). 64 bytes.
//   seq == 2 * (n + 1)       the cell holds record n, complete
//   seq == 2 * (n + 1) - 1   record n is being written
struct alignas(64) Cell {
  std::atomic<uint64_t> seq;
  std::atomic<uint64_t> words[4];
  uint64_t reserved[3];
};
static_assert(sizeof(Cell) == 64, "Cell is one cache line");
static_assert(sizeof(MAPIOFFLINE_RECORD) == 4 * sizeof(uint64_t), "a record is four 64-bit words");

static_assert(offsetof(Header, magic) == 0, "layout");
static_assert(offsetof(Header, region_size) == 24, "layout");
static_assert(offsetof(Header, publisher_start) == 48, "layout");
static_assert(offsetof(Header, state) == 64, "layout");
static_assert(offsetof(Header, change_counter) == 72, "layout");
static_assert(offsetof(Header, head) == 128, "layout");
static_assert(offsetof(Header, wake_word) == 192, "layout");
static_assert(offsetof(Header, sleepers) == 256, "layout");
static_assert(offsetof(Header, forwarded) == 260, "layout");
static_assert(offsetof(Header, armed) == 264, "layout");
static_assert(offsetof(Header, wanted) == 268, "layout");
static_assert(offsetof(Header, request_word) == 320, "layout");
static_assert(offsetof(Header, profile) == 384, "layout");
static_assert(offsetof(Header, slots) == 896, "layout");
static_assert(sizeof(Header) == 1408, "layout");

inline constexpr uint64_t RegionSize(uint32_t capacity) {
  return static_cast<uint64_t>(sizeof(Header)) + static_cast<uint64_t>(capacity) * sizeof(Cell);
}

inline Cell *CellsOf(Header *h) { return reinterpret_cast<Cell *>(reinterpret_cast<char *>(h) + sizeof(Header)); }
inline const Cell *CellsOf(const Header *h) {
  return reinterpret_cast<const Cell *>(reinterpret_cast<const char *>(h) + sizeof(Header));
}

}  // namespace channel
}  // namespace mapioffline
