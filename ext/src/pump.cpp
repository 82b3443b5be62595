// The test pump: native threads calling Notify through the vtable of any IMAPIOfflineNotify, as a manager would.
#include <atomic>
#include <new>
#include <thread>
#include <vector>

#include "clock.h"
#include "fork_generation.h"
#include "mapioffline/testing.h"

struct mapioffline_pump {
  IMAPIOfflineNotify *sink;  // one reference, held until join
  MAPIOFFLINE_PUMP_SPEC spec;
  std::vector<std::thread> threads;
  std::atomic<uint64_t> finished_ns{0};
  uint64_t start_ns = 0;
  uint32_t generation = mapioffline::ForkGeneration();  // a fork child must not join the parent's threads
};

namespace {

void Produce(mapioffline_pump *pump, ULONG index) {
  const MAPIOFFLINE_PUMP_SPEC &spec = pump->spec;
  MAPIOFFLINE_NOTIFY record = spec.record;
  const bool sequence = (spec.flags & MAPIOFFLINE_PUMP_SEQUENCE) != 0;
  const MAPIOFFLINE_NOTIFY *arg = (spec.flags & MAPIOFFLINE_PUMP_NULL) ? nullptr : &record;
  if (sequence) record.ulClientToken = index;
  IMAPIOfflineNotify *sink = pump->sink;
  for (uint64_t i = 0; i < spec.per_thread; ++i) {
    if (sequence) record.Info.StateChange.ulStateOld = static_cast<ULONG>(i);
    sink->Notify(arg);
  }
  const uint64_t now = mapioffline::MonotonicNs();
  uint64_t seen = pump->finished_ns.load(std::memory_order_relaxed);
  while (seen < now && !pump->finished_ns.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

extern "C" HRESULT mapioffline_pump_start(IMAPIOfflineNotify *sink, const MAPIOFFLINE_PUMP_SPEC *spec,
                                          mapioffline_pump **out) {
  if (!out) return E_INVALIDARG;
  *out = nullptr;
  if (!sink || !spec || spec->threads == 0 || spec->threads > 256) return E_INVALIDARG;
  mapioffline_pump *pump = new (std::nothrow) mapioffline_pump;
  if (!pump) return E_OUTOFMEMORY;
  pump->sink = sink;
  pump->spec = *spec;
  sink->AddRef();
  pump->start_ns = mapioffline::MonotonicNs();
  try {
    pump->threads.reserve(spec->threads);
    for (ULONG i = 0; i < spec->threads; ++i) pump->threads.emplace_back(Produce, pump, i);
  } catch (...) {
    mapioffline_pump_join(pump, nullptr);  // joins the threads that did start
    return E_OUTOFMEMORY;
  }
  *out = pump;
  return S_OK;
}

extern "C" void mapioffline_pump_join(mapioffline_pump *pump, uint64_t *elapsed_ns) {
  if (!pump) return;
  if (pump->generation != mapioffline::ForkGeneration()) {
    // Inherited by a fork child: the threads exist only in the parent, and std::thread would abort (or hang) on
    // joining or destroying them. Leak the pump and its sink reference instead.
    if (elapsed_ns) *elapsed_ns = 0;
    return;
  }
  for (auto &t : pump->threads) t.join();
  if (elapsed_ns) {
    const uint64_t end = pump->finished_ns.load(std::memory_order_relaxed);
    *elapsed_ns = end > pump->start_ns ? end - pump->start_ns : 0;
  }
  pump->sink->Release();
  delete pump;
}
