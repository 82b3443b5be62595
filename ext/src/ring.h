// Bounded lock-free multi-producer / single-consumer ring of fixed records.
//
// Each cell carries a sequence number (Vyukov's bounded queue): a producer claims a position with one CAS on the
// shared tail, writes the cell and publishes it by storing sequence = position + 1 (release). The single consumer
// owns the head, reads a cell once its sequence says it is published (acquire) and hands the cell back to
// producers for the next lap by storing sequence = position + capacity (release). Producers never wait for each
// other beyond a failed CAS, never allocate and never block; a full ring is reported, not waited on.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace mapioffline {

// A fixed constant rather than std::hardware_destructive_interference_size, whose value may differ between
// translation units compiled with different flags. 128 covers adjacent-line prefetch on x86.
inline constexpr size_t kCacheLine = 128;

// CellAlign: 0 packs cells at their natural alignment (the default: best with one producer); a cache-line value
// gives each cell its own line (the benchmarks' ablation: less false sharing between producers, more memory).
template <typename T, size_t CellAlign = 0>
class MpscRing {
 public:
  // capacity must be a power of two >= 1 (the caller rounds). Allocates once, here; throws std::bad_alloc.
  explicit MpscRing(size_t capacity) : mask_(capacity - 1), cells_(new Cell[capacity]) {
    for (size_t i = 0; i < capacity; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }
  MpscRing(const MpscRing &) = delete;
  MpscRing &operator=(const MpscRing &) = delete;

  size_t capacity() const noexcept { return mask_ + 1; }
  // Values ever pushed (a hint while producers run; exact once they have stopped).
  uint64_t pushed() const noexcept { return tail_.value.load(std::memory_order_relaxed); }

  // Any thread. Returns false when the ring is full. `fill(T&)` writes the value in place.
  template <typename Fill>
  bool try_push(Fill &&fill) noexcept {
    uint64_t pos = tail_.value.load(std::memory_order_relaxed);
    for (;;) {
      Cell &cell = cells_[pos & mask_];
      // acquire: pairs with the consumer's release that recycled this cell, so our writes land after its reads.
      const uint64_t seq = cell.sequence.load(std::memory_order_acquire);
      const int64_t diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        // relaxed: the cell's sequence, not the tail, publishes the data.
        if (tail_.value.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          fill(cell.value);
          cell.sequence.store(pos + 1, std::memory_order_release);  // publish to the consumer
          return true;
        }
      } else if (diff < 0) {
        return false;  // the cell still holds last lap's value: full
      } else {
        pos = tail_.value.load(std::memory_order_relaxed);  // another producer took pos; try the next one
      }
    }
  }

  // Consumer thread only. Copies up to `max` values out through `take(const T&, size_t index)`; returns how many.
  template <typename Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    uint64_t pos = head_.value.load(std::memory_order_relaxed);
    size_t n = 0;
    while (n < max) {
      Cell &cell = cells_[pos & mask_];
      // acquire: pairs with the producer's publishing release, so the value is complete.
      if (cell.sequence.load(std::memory_order_acquire) != pos + 1) break;
      take(cell.value, n);
      cell.sequence.store(pos + mask_ + 1, std::memory_order_release);  // hand the cell to the next lap
      ++pos;
      ++n;
    }
    head_.value.store(pos, std::memory_order_relaxed);
    return n;
  }

  // Consumer thread (or any thread, as a hint): true when the next cell is published.
  bool has_pending() const noexcept {
    const uint64_t pos = head_.value.load(std::memory_order_relaxed);
    return cells_[pos & mask_].sequence.load(std::memory_order_acquire) == pos + 1;
  }

 private:
  struct alignas(CellAlign ? CellAlign : alignof(std::atomic<uint64_t>)) Cell {
    std::atomic<uint64_t> sequence;
    T value;
  };
  struct alignas(kCacheLine) PaddedAtomic {
    std::atomic<uint64_t> value{0};
  };
  // Written only by the consumer (relaxed); an atomic because waiters on other threads peek at it for a hint.
  struct alignas(kCacheLine) PaddedIndex {
    std::atomic<uint64_t> value{0};
  };

  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  PaddedAtomic tail_;  // shared by producers
  PaddedIndex head_;   // the consumer's own
};

}  // namespace mapioffline
