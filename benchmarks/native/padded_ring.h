// Ablation only: ext/src/ring.h's MpscRing with each cell on its own 64-byte line.
//
// MpscRing's Cell is 8 (sequence) + 32 (record) = 40 bytes, so consecutive cells share cache lines: while the
// consumer reads cell k the producer writes cell k+1 on the same line, and the line bounces between the cores
// (false sharing) on top of the true sharing of the cell being handed over. Padding to 64 bytes costs 24 bytes
// per cell (4096 cells: 160 KiB -> 256 KiB). The algorithm below is MpscRing's, unchanged; only Cell differs.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ring.h"  // kCacheLine

namespace mapioffline_bench {

template <typename T>
class PaddedMpscRing {
 public:
  explicit PaddedMpscRing(size_t capacity) : mask_(capacity - 1), cells_(new Cell[capacity]) {
    for (size_t i = 0; i < capacity; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }

  template <typename Fill>
  bool try_push(Fill &&fill) noexcept {
    uint64_t pos = tail_.value.load(std::memory_order_relaxed);
    for (;;) {
      Cell &cell = cells_[pos & mask_];
      const uint64_t seq = cell.sequence.load(std::memory_order_acquire);
      const int64_t diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        if (tail_.value.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          fill(cell.value);
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = tail_.value.load(std::memory_order_relaxed);
      }
    }
  }

  template <typename Take>
  size_t pop_many(size_t max, Take &&take) noexcept {
    uint64_t pos = head_.value.load(std::memory_order_relaxed);
    size_t n = 0;
    while (n < max) {
      Cell &cell = cells_[pos & mask_];
      if (cell.sequence.load(std::memory_order_acquire) != pos + 1) break;
      take(cell.value, n);
      cell.sequence.store(pos + mask_ + 1, std::memory_order_release);
      ++pos;
      ++n;
    }
    head_.value.store(pos, std::memory_order_relaxed);
    return n;
  }

 private:
  struct alignas(64) Cell {  // the only change
    std::atomic<uint64_t> sequence;
    T value;
  };
  struct alignas(mapioffline::kCacheLine) PaddedAtomic {
    std::atomic<uint64_t> value{0};
  };
  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  PaddedAtomic tail_;
  PaddedAtomic head_;
};

}  // namespace mapioffline_bench
