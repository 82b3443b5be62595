"""Bridge benchmark: the cross-process channel against the in-process path, in one run (Linux). Part of
``python -m mapioffline bench`` (the "bridge" section and the bridge bars of its plot); also on its own:

    python benchmarks/bridge_bench.py [--quick] [--json FILE] [--poll-idle]

Measures
  1. wake-up p50/p99: a state change made on the publisher's embedded object (non-blocking) until a subscriber in
     another process returns from get(), against the same change reaching get() on a sleeping thread of the
     publisher's own process, in alternating rounds (the machine's load changes fall on both sides); from the
     publisher's Notify (the record's stamp, as bench.inprocess.latency_get measures) and from set_state; ratios of p50s;
  2. reading the state through the bridge (OfflineObject.state, and the same on the embedded object);
  3. the publisher's cost per notification with 0, 1 and 100 subscribers attached (one of the 100 stopped with
     SIGSTOP, so it never reads): CPU time of the publishing thread per notification for paced blocking changes;
     CPU time of the publisher's process and wall time inside Notify for a flood from the native pump; the wake
     system calls per notification. Twice: with every process free to run anywhere ("shared"), and with the
     publisher alone on CPU 0 and the subscribers on the others ("isolated", when there are two CPUs or more), which
     shows the publisher's own cost without the scheduler's: on a small machine the subscribers it wakes preempt it
     and evict its caches, whatever the protocol does;
  4. 100 subscribers each receiving every notification of a burst that fits the ring (counts and drops).
Each subscriber is a bridge object (own reader thread, own cursor); the 100 are spread over 4 helper processes.
--poll-idle (root) holds /dev/cpu_dma_latency at 0 for the run, so idle CPUs poll instead of halting: in a virtual
machine every wake-up of a halted CPU costs an exit to the hypervisor, and the cross-process path has more CPU hops
than the in-process one (its set_state -> get() ratio is mostly that on this kind of machine).
Pacing between wake-up samples uses short sleeps so that the consumer is asleep when measured (as bench.inprocess does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["collect", "main"]

import mapioffline
from mapioffline import _bridge, _core
from mapioffline.testing import start_pump

PROFILE = f"mapioffline-bridge-bench-{os.getpid()}"
# Helper processes pinned with sched_setaffinity, a subscriber stopped with SIGSTOP, affinity from /proc: Linux.
LINUX_ONLY = "the bridge benchmark runs on Linux (CPU affinity, SIGSTOP, /proc)"


def percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_us": ordered[len(ordered) // 2] / 1000,
            "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000, "samples": len(ordered)}


# -- helper processes ---------------------------------------------------------------------------------------------

def helper_wakeup(profile: str, samples: int) -> None:
    """Subscriber for (1): prints, for each change, the now_ns() at which get() returned its first notification
    and that notification's timestamp (taken by the publisher inside Notify, same clock)."""
    with mapioffline.open_offline(profile, backend="bridge") as obj, obj.advise(capacity=4096) as sub:
        print("ready", flush=True)
        for _ in range(samples):
            first = sub.sink.get(timeout=30)
            t = _core.now_ns()
            sub.sink.get(timeout=30)
            sub.sink.get(timeout=30)
            print(t, first.timestamp_ns, flush=True)
            assert first.kind == mapioffline.NotifyKind.STATECHANGE_START


def helper_hold(profile: str, count: int, expect: int) -> None:
    """Subscribers for (3)/(4): `count` bridge objects with one sink each; after "check" on stdin, waits for
    `expect` records on every sink and prints the received/dropped totals."""
    objects = [mapioffline.open_offline(profile, backend="bridge") for _ in range(count)]
    subs = [obj.advise(capacity=1 << 14) for obj in objects]
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "check" or expect == 0:
            break
        got, dropped = [], 0
        for sub in subs:
            n = 0
            while n < expect:
                batch = sub.sink.drain()
                if not batch:
                    batch = [sub.sink.get(timeout=30)]
                n += len(batch)
                dropped += sum(x.dropped_before for x in batch)
            got.append(n)
        print(json.dumps({"min": min(got), "max": max(got), "dropped": dropped}), flush=True)
    for sub in subs:
        sub.close()
    for obj in objects:
        obj.close()


def spawn(*args: str, cpus: set[int] | None = None) -> subprocess.Popen[str]:
    """A helper process running `args` (see the end of this file), on `cpus` if given."""
    if sys.platform != "linux":  # also what tells mypy, checking for Windows, that the rest is Linux's
        raise NotImplementedError(LINUX_ONLY)
    p = subprocess.Popen([sys.executable, "-m", "mapioffline.bench.bridge", *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True,
                         preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    assert p.stdout is not None
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError(f"helper {args} did not start")
    return p


# -- measurements -------------------------------------------------------------------------------------------------

def paced_changes(source: Any, samples: int, warmup: int, returned: Callable[[], tuple[int, int]]
                  ) -> list[tuple[int, int]]:
    """Makes warmup + samples non-blocking changes on `source`, each once everything is asleep; `returned()` gives
    (when the consumer's get() returned, the record's stamp) for each change. Returns (set_state -> get(),
    Notify -> get()) in ns for the counted ones."""
    latencies: list[tuple[int, int]] = []
    for i in range(warmup + samples):
        time.sleep(0.0005)
        t0 = _core.now_ns()
        source.set_state(mapioffline.State.OFFLINE if i % 2 == 0 else mapioffline.State.ONLINE, block=False)
        t1, stamp = returned()
        if i >= warmup:
            latencies.append((t1 - t0, t1 - stamp))
        source.wait_idle()  # the non-blocking change is over (its DONE reached every sink)
    return latencies


def wakeup_in_process(source: Any, samples: int, warmup: int) -> list[tuple[int, int]]:
    """paced_changes with the get() on a thread of this process that sleeps between changes: the same situation as
    the subscriber process's main thread (and as bench.inprocess.latency_get, the library's in-process wake-up figure), so
    that the process boundary is the only difference."""
    returned: "queue.SimpleQueue[tuple[int, int]]" = queue.SimpleQueue()
    with source.advise(capacity=4096) as sub:

        def consume() -> None:
            for _ in range(warmup + samples):
                first = sub.sink.get(timeout=30)
                returned.put((_core.now_ns(), first.timestamp_ns))
                sub.sink.get(timeout=30)
                sub.sink.get(timeout=30)

        consumer = threading.Thread(target=consume)
        consumer.start()
        try:
            return paced_changes(source, samples, warmup, lambda: returned.get(timeout=30))
        finally:
            consumer.join(timeout=60)


def wakeup_cross_process(source: Any, samples: int, warmup: int) -> list[tuple[int, int]]:
    """paced_changes with the get() in a subscriber process (same CLOCK_MONOTONIC: the helper prints when its get()
    returned and the stamp the publisher's Notify put on the record)."""
    helper = spawn("wakeup", PROFILE, str(warmup + samples))
    stdout = helper.stdout
    assert stdout is not None

    def returned() -> tuple[int, int]:
        t1, stamp = map(int, stdout.readline().split())
        return t1, stamp

    try:
        return paced_changes(source, samples, warmup, returned)
    finally:
        helper.communicate(timeout=30)  # waits, and closes its pipes


def wakeups(source: Any, samples: int, rounds: int, warmup: int = 50) -> dict[str, Any]:
    """Both wake-ups, in alternating rounds, so that a change in the machine's load (shared, noisy) falls on both
    sides alike. `notify_to_get` (the publisher's Notify stamped the record -> get() returned) is the wake-up as
    bench.inprocess.latency_get defines it, and the part the bridge adds to; set_state -> get() adds the source's own
    thread hop, which both sides share. The ratios of the p50s are the figures to read.

    Each round starts with `warmup` changes that are not counted: a subscriber process's first few dozen wake-ups
    after it started are several times slower than its later ones on this kind of machine (measured: p50 33 us over
    ten fresh rounds of 60 against 11 us over one round of 600), and a watching daemon lives far longer than that.
    The in-process side gets the same warm-up (its consumer thread is new each round too)."""
    inside: list[tuple[int, int]] = []
    across: list[tuple[int, int]] = []
    for _ in range(rounds):
        inside += wakeup_in_process(source, samples // rounds, warmup)
        across += wakeup_cross_process(source, samples // rounds, warmup)
    result: dict[str, Any] = {
        "wakeup_in_process_get": {**percentiles([a for a, _ in inside]),
                                  "notify_to_get": percentiles([b for _, b in inside])},
        "wakeup_cross_process_get": {**percentiles([a for a, _ in across]),
                                     "notify_to_get": percentiles([b for _, b in across])},
        "rounds": rounds, "warmup_per_round": warmup,
    }
    result["wakeup_ratio_p50"] = (result["wakeup_cross_process_get"]["notify_to_get"]["p50_us"] /
                                  result["wakeup_in_process_get"]["notify_to_get"]["p50_us"])
    result["wakeup_ratio_p50_from_set_state"] = (result["wakeup_cross_process_get"]["p50_us"] /
                                                 result["wakeup_in_process_get"]["p50_us"])
    return result


def state_reads(calls: int) -> dict[str, float]:
    with mapioffline.open_offline(PROFILE, backend="bridge") as bridge:
        source = mapioffline.open_offline(PROFILE, backend="embedded")
        try:
            result = {}
            for name, obj in (("bridge_state_ns", bridge), ("embedded_state_ns", source)):
                t = time.perf_counter_ns()
                for _ in range(calls):
                    obj.state
                result[name] = (time.perf_counter_ns() - t) / calls
            return result
        finally:
            source.close()


def publisher_cost(publisher: _bridge.BridgePublisher, count: int) -> tuple[float, float]:
    """(wall ns inside Notify, CPU ns of this process) per notification over `count` notifications from the native
    pump, back to back. The wall time comes from the publisher's own counters: on an oversubscribed machine it
    includes being preempted by the subscribers it wakes. The CPU time is the pump thread's work (every other
    thread of this process sleeps meanwhile): what publishing costs, preemption excluded."""
    published0, spent0 = publisher.counters
    cpu0 = time.process_time_ns()
    start_pump(publisher._notify_pointer, count).join()
    cpu1 = time.process_time_ns()
    published1, spent1 = publisher.counters
    return (spent1 - spent0) / (published1 - published0), (cpu1 - cpu0) / (published1 - published0)


def change_cpu_cost(source: Any, changes: int) -> float:
    """CPU ns (thread_time) of the publishing thread per notification: blocking changes on the source deliver on
    the caller's thread, so this is what the source's thread pays for the embedded object plus the publisher,
    whatever the scheduler does to the wall clock. Paced so that subscribers are asleep each time."""
    spent = 0
    for i in range(changes):
        time.sleep(0.0003)
        target = mapioffline.State.OFFLINE if source.state == mapioffline.State.ONLINE else mapioffline.State.ONLINE
        t = time.thread_time_ns()
        source.set_state(target, block=True)
        spent += time.thread_time_ns() - t
    return spent / (3 * changes)


def costs(publisher: _bridge.BridgePublisher, source: Any, quick: bool) -> dict[str, float]:
    """The publisher's cost, several ways. `paced_wake_calls_per_notification` is the algorithmic part, immune to
    the machine's noise: how many wake system calls a paced notification cost the publisher (at most one, whatever
    the number of subscribers). `paced_notify_ns` is the wall time inside the publisher's Notify (its wake system
    call included) for the paced changes: the publisher's own cost per notification, which the `paced_cpu_ns` of
    the whole change (the embedded object's work, the Python call) contains."""
    published0, wakes0 = publisher.counters[0], publisher.wake_calls
    flood_wall, flood_cpu = publisher_cost(publisher, 20_000 if quick else 200_000)
    flood_wakes = (publisher.wake_calls - wakes0) / max(1, publisher.counters[0] - published0)
    (published0, spent0), wakes0 = publisher.counters, publisher.wake_calls
    paced = change_cpu_cost(source, 200 if quick else 1000)
    (published1, spent1), wakes1 = publisher.counters, publisher.wake_calls
    published = max(1, published1 - published0)
    return {"flood_wall_ns": flood_wall, "flood_cpu_ns": flood_cpu, "flood_wake_calls_per_notification": flood_wakes,
            "paced_cpu_ns": paced, "paced_notify_ns": (spent1 - spent0) / published,
            "paced_wake_calls_per_notification": (wakes1 - wakes0) / published}


def pin_this_process(cpus: set[int]) -> None:
    """Every thread of this process (sched_setaffinity acts on one thread; threads started later inherit)."""
    if sys.platform != "linux":  # also what tells mypy, checking for Windows, that the rest is Linux's
        raise NotImplementedError(LINUX_ONLY)
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:  # the thread has ended meanwhile
            pass


def cost_by_subscribers(publisher: _bridge.BridgePublisher, source: Any, quick: bool,
                        cpus: set[int] | None) -> dict[str, Any]:
    """costs() with 0, 1 and 100 subscribers (one of the 100 alone in a stopped process: it never reads, 99 in
    three processes), the subscriber processes on `cpus` if given; and the ratios 100 vs 1 to read."""
    if sys.platform != "linux":  # also what tells mypy, checking for Windows, that the rest is Linux's
        raise NotImplementedError(LINUX_ONLY)
    result: dict[str, Any] = {"0": costs(publisher, source, quick)}
    one = spawn("hold", PROFILE, "1", "0", cpus=cpus)
    result["1"] = costs(publisher, source, quick)
    one.communicate("quit\n", timeout=60)
    never = spawn("hold", PROFILE, "1", "0", cpus=cpus)
    others = [spawn("hold", PROFILE, "33", "0", cpus=cpus) for _ in range(3)]
    os.kill(never.pid, signal.SIGSTOP)
    os.waitpid(never.pid, os.WUNTRACED)
    result["100_1_never_reading"] = costs(publisher, source, quick)
    os.kill(never.pid, signal.SIGCONT)
    for h in [never, *others]:
        h.communicate("quit\n", timeout=120)
    for key in ("paced_notify_ns", "paced_cpu_ns", "flood_cpu_ns"):
        result[f"{key.replace('_ns', '')}_ratio_100_vs_1"] = result["100_1_never_reading"][key] / result["1"][key]
    return result


def collect(quick: bool) -> dict[str, Any]:
    """Every bridge measurement, once: a publisher in this process, subscribers in helper processes."""
    if sys.platform != "linux":  # also what tells mypy, checking for Windows, that the rest is Linux's
        raise NotImplementedError(LINUX_ONLY)
    samples = 100 if quick else 1000
    burst = 3000  # fits the default ring of 4096
    results: dict[str, Any] = {}
    source = mapioffline.open_offline(PROFILE, backend="embedded")
    with _bridge.publish(PROFILE, source) as publisher:
        results.update(wakeups(source, samples, rounds=5 if quick else 10))
        results["state"] = state_reads(200_000 // (10 if quick else 1))

        pointer = publisher._notify_pointer
        results["publisher_cost"] = {"shared": cost_by_subscribers(publisher, source, quick, None)}
        mine = os.sched_getaffinity(0)
        if len(mine) >= 2:
            publisher_cpu = min(mine)
            pin_this_process({publisher_cpu})
            try:
                results["publisher_cost"]["isolated"] = cost_by_subscribers(publisher, source, quick,
                                                                            mine - {publisher_cpu})
            finally:
                pin_this_process(mine)

        holders = [spawn("hold", PROFILE, "25", str(burst)) for _ in range(4)]
        start_pump(pointer, burst).join()
        reports = []
        for h in holders:
            assert h.stdin is not None and h.stdout is not None
            h.stdin.write("check\n")
            h.stdin.flush()
            reports.append(json.loads(h.stdout.readline()))
        for h in holders:
            h.communicate("quit\n", timeout=120)
        results["burst_to_100_subscribers"] = {
            "burst": burst, "ring": publisher_ring(), "min_received": min(r["min"] for r in reports),
            "max_received": max(r["max"] for r in reports), "dropped": sum(r["dropped"] for r in reports),
        }
    source.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--poll-idle", action="store_true",
                        help="keep idle CPUs polling (/dev/cpu_dma_latency = 0; needs root) for the run")
    args = parser.parse_args()
    latency_request = None
    if args.poll_idle:
        # The request holds while the descriptor is open (the kernel's PM QoS interface).
        latency_request = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
        os.write(latency_request, (0).to_bytes(4, sys.byteorder))
    try:
        results = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                               "cpus": os.cpu_count(), "idle": "poll" if args.poll_idle else "as configured"},
                   **collect(args.quick)}
    finally:
        if latency_request is not None:
            os.close(latency_request)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


def publisher_ring() -> int:
    with mapioffline.open_offline(PROFILE, backend="bridge") as obj:
        return _bridge.stats(obj).ring_capacity


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "wakeup":
        helper_wakeup(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "hold":
        helper_hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main())
