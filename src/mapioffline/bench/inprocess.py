"""Measurements shared by ``python -m mapioffline bench`` and the pytest-benchmark suite (benchmarks/).

Every figure is taken beside its baselines in the same run, because absolute times on shared machines drift:
the ratios are what to read. Baselines: a ctypes Python-callback sink (what a comtypes-style user writes),
queue.SimpleQueue between two Python threads, and a native condition variable for wake-ups.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import platform
import queue
import statistics
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from typing import Any

import mapioffline
from mapioffline import Sink, State, _core, open_offline
from mapioffline import _ctypes_abi
from mapioffline._ctypes_abi import ctypes_com_problem
from mapioffline.testing import start_pump


class _NotifyRecord(ctypes.Structure):
    ulSize: int
    NotifyType: int
    ulClientToken: int
    ulMask: int
    ulStateOld: int
    ulStateNew: int
    _fields_ = [(name, ctypes.c_uint32) for name in
                ("ulSize", "NotifyType", "ulClientToken", "ulMask", "ulStateOld", "ulStateNew")]


class CtypesSink(_ctypes_abi.CtypesComObject):
    """The baseline a Python user would write without us: an IMAPIOfflineNotify whose methods are ctypes
    callbacks into Python, storing each record as a tuple. Every Notify needs the GIL. Raises
    NotImplementedError where ctypes cannot make our calling convention (i386 Linux: see _ctypes_abi)."""

    def __init__(self) -> None:
        self.records: list[tuple[int, int, int, int, int]] = []
        super().__init__(None, [(None, (ctypes.POINTER(_NotifyRecord),), self._notify)])

    def _notify(self, this: int, record: Any) -> None:
        if record:
            r = record[0]
            self.records.append((r.NotifyType, r.ulClientToken, r.ulMask, r.ulStateOld, r.ulStateNew))


# -- delivery throughput -----------------------------------------------------------------------------------------

def delivery_ours(total: int, threads: int = 1, raw: bool = False, capacity: int = 1 << 16) -> dict[str, float]:
    """Native producer threads -> Notify -> our ring -> drain() (Notification objects) or drain_into() (raw),
    until every notification was delivered or dropped. Throughput counts delivered ones."""
    with Sink(capacity) as sink:
        buffer = bytearray(mapioffline.RECORD_SIZE * 4096)
        take: Callable[[], int] = (lambda: sink.drain_into(buffer)) if raw else (lambda: len(sink.drain(4096)))
        start = time.perf_counter_ns()
        pump = start_pump(sink.com_pointer, total // threads, threads=threads)
        delivered = 0
        sent = (total // threads) * threads
        while True:
            got = take()
            delivered += got
            if got == 0:
                stats = sink.stats
                if stats.received == sent and stats.delivered + stats.dropped == sent:
                    break
        elapsed = time.perf_counter_ns() - start
        pump.join()
        dropped = sink.stats.dropped
    return {"per_s": delivered / (elapsed / 1e9), "ns_per_item": elapsed / max(delivered, 1),
            "sent": sent, "delivered": delivered, "dropped": dropped}


def delivery_ctypes(total: int) -> dict[str, float]:
    """The same native pump calling a ctypes Python-callback sink."""
    sink = CtypesSink()
    elapsed = start_pump(sink.com_pointer, total).join()
    assert len(sink.records) == total
    # A callback sink has no queue to overflow: it delivers every record (and stalls the producer instead).
    return {"per_s": total / (elapsed / 1e9), "ns_per_item": elapsed / total, "sent": total, "delivered": total,
            "dropped": 0}


def delivery_simplequeue(total: int) -> dict[str, float]:
    """queue.SimpleQueue between two Python threads carrying the same fields as tuples."""
    q: queue.SimpleQueue[tuple[int, int, int, int, int, int]] = queue.SimpleQueue()

    def produce() -> None:
        put = q.put
        for i in range(total):
            put((3, 0, 3, 2, 1, i))

    start = time.perf_counter_ns()
    producer = threading.Thread(target=produce)
    producer.start()
    get = q.get
    for _ in range(total):
        get()
    elapsed = time.perf_counter_ns() - start
    producer.join()
    # An unbounded queue never drops (it grows instead).
    return {"per_s": total / (elapsed / 1e9), "ns_per_item": elapsed / total, "sent": total, "delivered": total,
            "dropped": 0}


def drain_prefilled(records: int = 1 << 16, raw: bool = False) -> float:
    """ns per record to drain a ring that is already full (no producer running)."""
    with Sink(records) as sink:
        start_pump(sink.com_pointer, records).join()
        if raw:
            buffer = bytearray(mapioffline.RECORD_SIZE * records)
            start = time.perf_counter_ns()
            n = sink.drain_into(buffer)
        else:
            start = time.perf_counter_ns()
            taken = sink.drain()  # kept alive past the clock: draining, not freeing, is measured
            n = len(taken)
        elapsed = time.perf_counter_ns() - start
    assert n == records, (n, records)
    return elapsed / n


# -- Notify while Python is busy ---------------------------------------------------------------------------------

def notify_cost(com_pointer: int, count: int, busy: bool, done: Callable[[], bool]) -> float:
    """ns per Notify from a native thread, with the main thread idle (in join, GIL released) or busy running a
    Python loop (holding the GIL) until ``done()``."""
    pump = start_pump(com_pointer, count)
    if busy:
        spins = 0
        while not done():
            spins += 1  # pure Python work holding the GIL
    return pump.join() / count


def notify_cost_ours(count: int, busy: bool) -> float:
    with Sink(1 << 12) as sink:  # drops once full: the cost of Notify itself is what is measured
        return notify_cost(sink.com_pointer, count, busy, lambda: sink.stats.received == count)


def notify_cost_ctypes(count: int, busy: bool) -> float:
    sink = CtypesSink()
    return notify_cost(sink.com_pointer, count, busy, lambda: len(sink.records) == count)


# -- wake-up latency -------------------------------------------------------------------------------------------------

def _percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_us": ordered[len(ordered) // 2] / 1000, "p99_us": ordered[min(len(ordered) - 1,
                                                                                 int(len(ordered) * 0.99))] / 1000}


def _one_by_one(com_pointer: int, samples: int, taken: threading.Semaphore) -> None:
    """Sends one notification at a time from a fresh native thread, once the consumer has taken the last one and
    had time to fall asleep. Waiting on a semaphore (GIL released), not polling, keeps this thread from competing
    with the consumer for the GIL at the moment being measured."""
    for _ in range(samples):
        time.sleep(0.0005)
        start_pump(com_pointer, 1).join()
        if not taken.acquire(timeout=5):
            raise RuntimeError("a notification was not delivered within 5 s")


def _sink_latency(samples: int, consume: Callable[[Sink, list[int], threading.Semaphore], object]) -> dict[str, float]:
    """Sends notifications one by one into a sink that ``consume(sink, latencies, taken)`` takes them from on a
    thread of its own, appending each one's latency and releasing ``taken``."""
    latencies: list[int] = []
    taken = threading.Semaphore(0)
    with Sink(64) as sink:
        consumer = threading.Thread(target=consume, args=(sink, latencies, taken))
        consumer.start()
        _one_by_one(sink.com_pointer, samples, taken)
        consumer.join()
    return _percentiles(latencies)


def latency_get(samples: int, spin_us: float = 0) -> dict[str, float]:
    def consume(sink: Sink, latencies: list[int], taken: threading.Semaphore) -> None:
        for _ in range(samples):
            n = sink.get(timeout=10, spin_us=spin_us)
            latencies.append(_core.now_ns() - n.timestamp_ns)
            taken.release()

    return _sink_latency(samples, consume)


def latency_aget(samples: int) -> dict[str, float]:
    async def consume(sink: Sink, latencies: list[int], taken: threading.Semaphore) -> None:
        for _ in range(samples):
            n = await sink.aget()
            latencies.append(_core.now_ns() - n.timestamp_ns)
            taken.release()

    return _sink_latency(samples, lambda *args: asyncio.run(consume(*args)))


def latency_callback(samples: int) -> dict[str, float]:
    latencies: list[int] = []
    taken = threading.Semaphore(0)

    def on_notification(n: mapioffline.Notification) -> None:
        latencies.append(_core.now_ns() - n.timestamp_ns)
        taken.release()

    with open_offline("mapioffline-bench", backend="embedded") as obj:
        with obj.advise(callback=on_notification) as sub:
            _one_by_one(sub.sink.com_pointer, samples, taken)
    return _percentiles(latencies)


def latency_simplequeue(samples: int) -> dict[str, float]:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    latencies: list[int] = []
    taken = threading.Semaphore(0)

    def consume() -> None:
        for _ in range(samples):
            stamp = q.get()
            latencies.append(time.perf_counter_ns() - stamp)
            taken.release()

    consumer = threading.Thread(target=consume)
    consumer.start()
    for _ in range(samples):
        time.sleep(0.0005)
        q.put(time.perf_counter_ns())
        taken.acquire(timeout=5)
    consumer.join()
    return _percentiles(latencies)


def latency_condvar(samples: int) -> dict[str, float]:
    return _percentiles(_core._probe_condvar_latency(samples))


# -- state queries, fan-out, advise cycles, idle ------------------------------------------------------------------

def ns_per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def state_queries(calls: int) -> dict[str, float]:
    with open_offline("mapioffline-bench", backend="embedded") as obj, Sink(16) as sink:
        return {"OfflineObject.state_ns": ns_per_call(lambda: obj.state, calls),
                "Sink.last_state_ns": ns_per_call(lambda: sink.last_state, calls)}


def fan_out(sinks: int, changes: int) -> float:
    """µs per set_state(block=True) with ``sinks`` advised sinks (drained between changes, so none drops)."""
    with open_offline(f"mapioffline-fanout-{sinks}", backend="embedded") as obj:
        subscriptions = [obj.advise(capacity=8) for _ in range(sinks)]
        try:
            total = 0
            state = State.OFFLINE
            for _ in range(changes):
                start = time.perf_counter_ns()
                obj.set_state(state, block=True)
                total += time.perf_counter_ns() - start
                state = State.ONLINE if state == State.OFFLINE else State.OFFLINE
                for sub in subscriptions:
                    sub.sink.drain()
            assert all(sub.sink.stats.dropped == 0 for sub in subscriptions)
        finally:
            for sub in subscriptions:
                sub.close()
    return total / changes / 1000


def advise_cycle(cycles: int) -> float:
    """µs per advise() + close() of a subscription on a shared sink."""
    with open_offline("mapioffline-bench", backend="embedded") as obj, Sink(16) as sink:
        start = time.perf_counter_ns()
        for _ in range(cycles):
            obj.advise(sink).close()
        return (time.perf_counter_ns() - start) / cycles / 1000


def idle_cpu(seconds: float) -> float:
    """CPU ms used by a consumer blocked in get() for ``seconds``, per second."""
    result: list[float] = []
    with Sink(16) as sink:
        def consume() -> None:
            start = time.thread_time()
            try:
                sink.get(timeout=seconds)
            except TimeoutError:
                pass
            result.append(time.thread_time() - start)

        consumer = threading.Thread(target=consume)
        consumer.start()
        consumer.join()
    return result[0] * 1000 / seconds


# -- the CLI's quick run -----------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    return {"python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "compiler": platform.python_compiler(), "build_cc": str(sysconfig.get_config_var("CC") or ""),
            "mapioffline": mapioffline.__version__}


def collect(quick: bool) -> dict[str, Any]:
    """Runs every headline measurement once, beside its baselines."""
    scale = 1 if not quick else 10
    n = 4_000_000 // scale
    samples = 400 // scale
    # Where ctypes cannot make our calling convention (i386 Linux) its baselines are left out (None), with the reason.
    no_ctypes = ctypes_com_problem()
    r: dict[str, Any] = {"machine": machine(), "quick": quick, "ctypes_baseline_skipped": no_ctypes}
    r["delivery"] = {
        "ours_objects_1p": delivery_ours(n, 1),
        "ours_objects_2p": delivery_ours(n, 2),
        "ours_raw_1p": delivery_ours(n, 1, raw=True),
        "ctypes_sink": None if no_ctypes else delivery_ctypes(40_000 // scale),
        "simplequeue": delivery_simplequeue(n // 4),
    }
    r["drain_prefilled_ns"] = {"objects": drain_prefilled(), "raw": drain_prefilled(raw=True)}
    notify_n = 2_000_000 // scale
    ctypes_n = 20_000 // scale
    r["notify_busy_ns"] = {
        "ours_idle": notify_cost_ours(notify_n, False), "ours_busy": notify_cost_ours(notify_n, True),
        "ctypes_idle": None if no_ctypes else notify_cost_ctypes(ctypes_n, False),
        "ctypes_busy": None if no_ctypes else notify_cost_ctypes(ctypes_n // 4, True),
    }
    r["latency"] = {
        "get": latency_get(samples), "get_spin": latency_get(samples, spin_us=3000),
        "aget": latency_aget(samples), "callback": latency_callback(samples),
        "condvar_native": latency_condvar(samples), "simplequeue": latency_simplequeue(samples),
    }
    r["state_queries"] = state_queries(200_000 // scale)
    r["fan_out_us"] = {str(k): fan_out(k, 20 if k < 1000 else 10) for k in (1, 10, 100, 1000)}
    r["advise_cycle_us"] = advise_cycle(2000 // scale)
    r["idle_cpu_ms_per_s"] = idle_cpu(1.0 if not quick else 0.3)
    if sys.platform.startswith("linux"):  # the bridge: publisher here, subscribers in helper processes
        from mapioffline.bench.bridge import collect as bridge_collect

        b = r["bridge"] = bridge_collect(quick)
        r["latency"]["set_state_to_get_same_process"] = b["wakeup_in_process_get"]
        r["latency"]["set_state_to_get_other_process"] = b["wakeup_cross_process_get"]
    return r


def _dropped(run: dict[str, Any]) -> str:
    """How many records a delivery run dropped, for every rate shown: a rate from a run that dropped part of its
    burst counts only what was delivered, and says so."""
    return f"dropped {run['dropped']:,} of {run['sent']:,}"


# (key in results["delivery"], row name, short name for the plot, baseline?)
_DELIVERY_RUNS = [
    ("ours_objects_1p", "delivery into Notification objects, 1 producer", "ours objects 1p", False),
    ("ours_objects_2p", "delivery into Notification objects, 2 producers", "ours objects 2p", False),
    ("ours_raw_1p", "delivery raw (drain_into), 1 producer", "ours raw 1p", False),
    ("ctypes_sink", "ctypes Python-callback sink", "ctypes sink", True),
    ("simplequeue", "queue.SimpleQueue, 2 Python threads", "SimpleQueue", True),
]


def _table(r: dict[str, Any]) -> str:
    d, lat, nb = r["delivery"], r["latency"], r["notify_busy_ns"]
    ours = d["ours_objects_1p"]["per_s"]
    ctypes_sink = d["ctypes_sink"]
    vs_ctypes = f"{ours / ctypes_sink['per_s']:.0f}x ctypes sink, " if ctypes_sink else ""
    ratios = {
        "ours_objects_1p": f"{vs_ctypes}{ours / d['simplequeue']['per_s']:.1f}x SimpleQueue",
        "ctypes_sink": "baseline",
        "simplequeue": "baseline",
    }
    rows = []
    for key, name, _, _ in _DELIVERY_RUNS:
        run = d[key]
        if run is None:  # the ctypes sink where ctypes cannot make our calls (i386 Linux)
            rows.append((name, "n/a", "skipped: no stdcall ctypes callbacks here (see mapioffline._ctypes_abi)"))
            continue
        rows.append((name, f"{run['per_s'] / 1e6:.{3 if key == 'ctypes_sink' else 2}f} M/s",
                     "; ".join(part for part in (ratios.get(key, ""), _dropped(run)) if part)))
    rows += [
        # drain_prefilled asserts that every record of the pre-filled ring was drained.
        ("drain pre-filled ring, objects", f"{r['drain_prefilled_ns']['objects']:.1f} ns/record", "dropped 0"),
        ("drain pre-filled ring, raw", f"{r['drain_prefilled_ns']['raw']:.2f} ns/record", "dropped 0"),
        ("Notify idle / while Python busy (ours)", f"{nb['ours_idle']:.1f} / {nb['ours_busy']:.1f} ns",
         f"{nb['ours_busy'] / nb['ours_idle']:.2f}x"),
    ]
    if nb["ctypes_idle"] is not None:
        rows.append(("Notify idle / while Python busy (ctypes)",
                     f"{nb['ctypes_idle'] / 1000:.1f} / {nb['ctypes_busy'] / 1000:.1f} us",
                     f"{nb['ctypes_busy'] / nb['ctypes_idle']:.1f}x"))
    cv = lat["condvar_native"]["p50_us"]
    for name in ("get", "get_spin", "aget", "callback", "simplequeue", "condvar_native"):
        p = lat[name]
        rows.append((f"wake-up latency {name}", f"p50 {p['p50_us']:.1f} us, p99 {p['p99_us']:.1f} us",
                     f"{p['p50_us'] / cv:.2f}x native condvar p50"))
    for key, value in r["state_queries"].items():
        rows.append((key.replace("_ns", ""), f"{value:.0f} ns/call", ""))
    for k, value in r["fan_out_us"].items():
        rows.append((f"set_state(block=True), {k} sinks", f"{value:.1f} us/change", ""))
    rows.append(("advise + close cycle", f"{r['advise_cycle_us']:.1f} us", ""))
    if "bridge" in r:
        b = r["bridge"]
        rows.append(("bridge: cross-process / in-process wake-up p50", f"{b['wakeup_ratio_p50']:.2f}x",
                     f"Notify -> get() (from set_state: {b['wakeup_ratio_p50_from_set_state']:.2f}x), "
                     f"{b['rounds']} alternating rounds"))
        rows.append(("bridge: state read", f"{b['state']['bridge_state_ns']:.0f} ns/call",
                     f"embedded {b['state']['embedded_state_ns']:.0f} ns"))
        for arrangement, by_count in b["publisher_cost"].items():
            for count, label in (("0", "0 subscribers"), ("1", "1 subscriber"),
                                 ("100_1_never_reading", "100 subscribers (1 stopped)")):
                c = by_count[count]
                rows.append((f"bridge: publisher, {label}, {arrangement}",
                             f"{c['paced_notify_ns']:.0f} ns in Notify/notification",
                             f"{c['paced_wake_calls_per_notification']:.2f} wake syscalls/notification, change "
                             f"{c['paced_cpu_ns']:.0f} ns CPU; flood {c['flood_cpu_ns']:.0f} ns CPU, "
                             f"{c['flood_wall_ns']:.0f} ns wall, {c['flood_wake_calls_per_notification']:.3f} wakes"))
            rows.append((f"bridge: publisher, 100 vs 1 subscriber, {arrangement}",
                         f"paced Notify {by_count['paced_notify_ratio_100_vs_1']:.2f}x",
                         f"change CPU {by_count['paced_cpu_ratio_100_vs_1']:.2f}x, "
                         f"flood CPU {by_count['flood_cpu_ratio_100_vs_1']:.2f}x"))
        burst = b["burst_to_100_subscribers"]
        rows.append(("bridge: burst to 100 subscribers", f"{burst['min_received']}..{burst['max_received']} of "
                     f"{burst['burst']}", f"dropped {burst['dropped']} (ring {burst['ring']})"))
    rows.append(("idle consumer blocked in get()", f"{r['idle_cpu_ms_per_s']:.3f} ms CPU/s", ""))
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{a:<{width}}  {b:<32} {c}" for a, b, c in rows]
    m = r["machine"]
    header = (f"mapioffline {m['mapioffline']} bench — {m['python']}, {m['platform']}, {m['processor']}, "
              f"compiler {m['compiler']} ({m['build_cc']}){' [quick]' if r['quick'] else ''}")
    return "\n".join([header, "-" * len(header), *lines])


class PlotNeedsMatplotlib(ImportError):
    """``bench --plot`` without matplotlib: names the extra that brings it."""

    def __init__(self) -> None:
        super().__init__("bench --plot needs matplotlib, which comes with the 'bench' extra: "
                         "pip install 'mapioffline[bench]' (or: pip install matplotlib)")


def _import_pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise PlotNeedsMatplotlib() from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def delivery_bars(r: dict[str, Any]) -> list[dict[str, Any]]:
    """What the plot's delivery panel shows, one bar per run: its name, M/s, the label written beside it (the value,
    and how many records it dropped when it dropped any) and whether it dropped (drawn hatched)."""
    bars = []
    for key, _, short, baseline in _DELIVERY_RUNS:
        run = r["delivery"][key]
        if run is None:  # the ctypes sink is absent where ctypes cannot make our calls (i386 Linux)
            continue
        mps = run["per_s"] / 1e6
        label = f"{mps:.3g} M/s"
        if run["dropped"]:
            label += f" (dropped {run['dropped']:,} of {run['sent']:,})"
        bars.append({"name": short, "mps": mps, "label": label, "dropped": run["dropped"] > 0, "baseline": baseline})
    return bars


def plot_title(r: dict[str, Any]) -> str:
    m = r["machine"]
    quick = " — QUICK RUN (--quick: shorter, noisier)" if r["quick"] else ""
    return f"mapioffline {m['mapioffline']} — {m['python']}, {m['machine']}{quick}"


def _plot(r: dict[str, Any], path: str) -> None:
    plt = _import_pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    bars = delivery_bars(r)
    drawn = left.barh([b["name"] for b in bars], [b["mps"] for b in bars],
                      color=["C3" if b["baseline"] else "C0" for b in bars],
                      hatch=["//" if b["dropped"] else "" for b in bars], edgecolor="black")
    left.bar_label(drawn, labels=[b["label"] for b in bars], padding=3, fontsize=8)
    left.set_xscale("log")
    left.margins(x=0.6)  # room for the labels on a log axis
    left.invert_yaxis()
    left.set_xlabel("notifications into Python, M/s (log)")
    if any(b["dropped"] for b in bars):
        left.set_title("hatched: the run dropped records (rate counts delivered ones)", fontsize=9)
    lat = r["latency"]
    keys = list(lat)
    y = range(len(keys))
    p99 = right.barh([k + 0.2 for k in y], [lat[k]["p99_us"] for k in keys], height=0.4, label="p99", color="C1")
    p50 = right.barh([k - 0.2 for k in y], [lat[k]["p50_us"] for k in keys], height=0.4, label="p50", color="C0")
    right.bar_label(p99, fmt="%.3g", padding=2, fontsize=7)
    right.bar_label(p50, fmt="%.3g", padding=2, fontsize=7)
    right.set_yticks(list(y), keys)
    right.set_xscale("log")
    right.margins(x=0.3)
    right.invert_yaxis()
    right.set_xlabel("wake-up latency, µs (log)")
    right.legend()
    fig.suptitle(plot_title(r))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_bench(json_path: str | None, plot_path: str | None, quick: bool) -> int:
    """``json_path="-"`` writes the JSON to stdout and the table to stderr (so stdout is JSON only)."""
    for path in (json_path, plot_path):  # fail before a minute of measuring, not after
        if path and path != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"cannot write {path!r}: its folder does not exist")
    if plot_path:
        _import_pyplot()  # fail early, before the measurements, if the extra is missing
    results = collect(quick)
    print(_table(results), file=sys.stderr if json_path == "-" else sys.stdout, flush=True)
    if json_path == "-":
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    if plot_path:
        _plot(results, plot_path)
    return 0
