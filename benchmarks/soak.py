#!/usr/bin/env python3
"""Soak: every consumer mode under native producer threads, advise/unadvise churn and state changes, for a while.

    python benchmarks/soak.py --seconds 600

Workers run side by side until the time is up, each in rounds (a round: a fresh sink and subscription, a few pump
bursts from --producers native threads through the sink's vtable, as Outlook would call Notify, then the end of
the stream and an exact reconciliation):
  get         Sink.get() on a consumer thread until StreamEnded (the subscription is unadvised after the pumps)
  drain       Sink.drain() polled on a consumer thread until the pumps are done and the sink is empty
  drain_into  Sink.drain_into(bytearray) likewise, raw records
  callback    advise(callback=...) on the dispatcher thread; Subscription.close() delivers what is left
  asyncio     `async for` over the sink (and aget()) on an event loop thread until the stream ends
  state       an embedded object with several subscriptions (callback and plain), blocking SetCurrentState
              back and forth: every subscription gets START/STATECHANGE/DONE for every change, exactly
Per round and sink: sent == received + dropped, stats.received == sent, stats.delivered == received, and the
dropped_before values sum to stats.dropped_reported <= stats.dropped (drain_into carries no dropped_before). Every
few seconds: RSS and the live native object counts. At the end every handle is closed and the live sink and
offline-object counts must be back at 0.

`--inject leak` / `--inject lose` break the soak's own consumer on purpose, to show that the RSS bound and the
reconciliation can fail.

Exit status 1 if any count fails to reconcile, a worker raises, the live counts do not return to 0, or RSS after
the warm-up grows by more than --rss-growth-mb (default 24 MB: room for allocator noise, far below a leak of one
record per notification over a run of millions).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field

import mapioffline
from mapioffline import NotifyKind, Sink, State, StreamEnded, testing
from mapioffline._core import live_offline_objects, live_sinks


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Totals:
    rounds: int = 0
    sent: int = 0
    received: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: int, received: int, dropped: int) -> None:
        with self.lock:
            self.rounds += 1
            self.sent += sent
            self.received += received
            self.dropped += dropped


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.deadline = time.monotonic() + args.seconds
        self.rng = random.Random(args.seed)
        self.totals: dict[str, Totals] = {}
        self.errors: list[str] = []
        self.errors_lock = threading.Lock()
        self.kept: list[object] = []  # --inject leak: every notification the get worker receives, kept forever

    def fail(self, what: str) -> None:
        with self.errors_lock:
            self.errors.append(what)
        print(f"FAIL: {what}", flush=True)

    def running(self) -> bool:
        return time.monotonic() < self.deadline and not self.errors

    # -- one round of native producers into a sink --------------------------------------------------------------
    def pump(self, sink: Sink, rng: random.Random) -> int:
        """A few bursts from the native producer threads; returns how many Notify calls were made."""
        sent = 0
        for _ in range(rng.randint(1, 4)):
            count = rng.choice((10, 500, 5000))
            testing.pump(sink.com_pointer, count, threads=self.args.producers, sequence=True,
                         kind=NotifyKind.STATECHANGE)
            sent += count * self.args.producers
        return sent

    def reconcile(self, mode: str, sink: Sink, sent: int, received: int, gaps: int | None) -> None:
        s = sink.stats
        problems = []
        if s.received != sent:
            problems.append(f"stats.received {s.received} != sent {sent}")
        if s.delivered != received:
            problems.append(f"stats.delivered {s.delivered} != received {received}")
        if s.dropped != sent - received:
            problems.append(f"stats.dropped {s.dropped} != sent - received {sent - received}")
        if s.invalid != 0:
            problems.append(f"stats.invalid {s.invalid}")
        if s.dropped_reported > s.dropped:
            problems.append(f"dropped_reported {s.dropped_reported} > dropped {s.dropped}")
        if gaps is not None and gaps != s.dropped_reported:
            problems.append(f"sum(dropped_before) {gaps} != stats.dropped_reported {s.dropped_reported}")
        if problems:
            self.fail(f"{mode}: " + "; ".join(problems))
        self.totals[mode].add(sent, received, s.dropped)

    # -- the workers ---------------------------------------------------------------------------------------------
    def worker(self, mode: str, index: int) -> None:
        rng = random.Random(self.args.seed * 100 + index)
        self.totals[mode] = Totals()
        target = getattr(self, f"round_{mode}")
        try:
            while self.running():
                with mapioffline.open_offline(f"soak-{mode}", backend="embedded") as offline:
                    target(offline, rng)
        except BaseException as e:  # noqa: BLE001 - a soak reports everything
            self.fail(f"{mode} worker raised {type(e).__name__}: {e}")

    def round_get(self, offline, rng) -> None:
        sink = Sink(rng.choice((64, 1024, 65536)))
        got = [0, 0]

        def consume() -> None:
            try:
                while True:
                    n = sink.get()
                    got[0] += 1
                    got[1] += n.dropped_before
                    if self.args.inject == "leak":
                        self.kept.append(n)
            except StreamEnded:
                pass
            if self.args.inject == "lose" and got[0]:
                got[0] -= 1  # pretend one notification went missing

        with sink:
            sub = offline.advise(sink)
            t = threading.Thread(target=consume, name="soak-get")
            t.start()
            sent = self.pump(sink, rng)
            sub.unadvise()  # the stream ends: get() takes what is pending, then raises StreamEnded
            t.join()
            sub.close()
            self.reconcile("get", sink, sent, got[0], got[1])

    def _polling_round(self, offline, rng, mode: str, take) -> None:
        sink = Sink(rng.choice((64, 1024, 65536)))
        done = threading.Event()
        got = [0, 0]

        def consume() -> None:
            while True:
                finished = done.is_set()  # read before the last look: everything was pushed before it was set
                n, gaps = take(sink)
                got[0] += n
                got[1] += gaps
                if n == 0:
                    if finished:
                        return
                    time.sleep(0.0005)  # the consumer's own pacing: a poller that looks every half millisecond

        with sink:
            sub = offline.advise(sink)
            t = threading.Thread(target=consume, name=f"soak-{mode}")
            t.start()
            sent = self.pump(sink, rng)
            done.set()
            t.join()
            sub.close()
            self.reconcile(mode, sink, sent, got[0], got[1] if mode == "drain" else None)

    def round_drain(self, offline, rng) -> None:
        def take(sink: Sink):
            batch = sink.drain(rng.choice((None, 1, 100)))
            return len(batch), sum(n.dropped_before for n in batch)

        self._polling_round(offline, rng, "drain", take)

    def round_drain_into(self, offline, rng) -> None:
        buffer = bytearray(mapioffline.RECORD_SIZE * 512)

        def take(sink: Sink):
            return sink.drain_into(buffer), 0

        self._polling_round(offline, rng, "drain_into", take)

    def round_callback(self, offline, rng) -> None:
        sink = Sink(rng.choice((64, 1024, 65536)))
        got = [0, 0]

        def on_notify(n) -> None:  # the dispatcher thread, one at a time
            got[0] += 1
            got[1] += n.dropped_before

        with sink:
            sub = offline.advise(sink, callback=on_notify)
            sent = self.pump(sink, rng)
            if not sub.close(timeout=60):  # delivers what is already in the sink, then stops the dispatcher
                self.fail("callback: the dispatcher did not finish within 60 s")
            self.reconcile("callback", sink, sent, got[0], got[1])

    def round_asyncio(self, offline, rng) -> None:
        sink = Sink(rng.choice((64, 1024, 65536)))
        got = [0, 0]

        async def consume() -> None:
            n = await sink.aget()  # the first through aget(), the rest by iteration
            got[0] += 1
            got[1] += n.dropped_before
            async for n in sink:
                got[0] += 1
                got[1] += n.dropped_before

        with sink:
            sub = offline.advise(sink)
            # At least one record is sent, so the first aget() cannot meet an empty, ended stream.
            t = threading.Thread(target=asyncio.run, args=(consume(),), name="soak-asyncio")
            t.start()
            sent = self.pump(sink, rng)
            sub.unadvise()
            t.join()
            sub.close()
            self.reconcile("asyncio", sink, sent, got[0], got[1])

    def round_state(self, offline, rng) -> None:
        """Subscriptions on the embedded object, blocking state changes: 3 records per change per subscription."""
        counts: list[list[int]] = []
        subs = []
        for i in range(rng.randint(1, 4)):
            if i % 2:
                box = [0]
                counts.append(box)
                subs.append((offline.advise(token=i, callback=lambda n, box=box: box.__setitem__(0, box[0] + 1)),
                             box))
            else:
                subs.append((offline.advise(token=i, capacity=4096), None))
        changes = rng.randint(1, 20)
        for _ in range(changes):
            target = State.OFFLINE if offline.state == State.ONLINE else State.ONLINE
            offline.set_state(target)  # block=True: DONE reached every sink when it returns
        sent = 3 * changes
        for sub, box in subs:
            if box is None:
                got = len(sub.sink.drain())
                sub.close()
            else:
                if not sub.close(timeout=60):
                    self.fail("state: a dispatcher did not finish within 60 s")
                got = box[0]
            if got != sent:
                self.fail(f"state: a subscription got {got} records for {changes} changes (expected {sent})")
            self.totals["state"].add(sent, got, 0)

    # -- the run ---------------------------------------------------------------------------------------------------
    def run(self) -> int:
        a = self.args
        modes = ["get", "drain", "drain_into", "callback", "asyncio", "state"]
        threads = [threading.Thread(target=self.worker, args=(m, i), name=f"soak-{m}")
                   for i, m in enumerate(modes)]
        start = time.monotonic()
        print(f"soak: {a.seconds} s, {a.producers} native producers per pump, modes {', '.join(modes)}, "
              f"seed {a.seed}", flush=True)
        for t in threads:
            t.start()
        warm_up = min(a.warm_up, a.seconds / 4)
        baseline = None
        peak_after = 0.0
        first_rss = rss_mb()
        next_report = start
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            if now >= next_report:
                rss = rss_mb()
                if now - start >= warm_up:
                    if baseline is None:
                        baseline = rss
                    peak_after = max(peak_after, rss)
                sent = sum(t.sent for t in self.totals.values())
                print(f"  t={now - start:6.1f}s rss={rss:7.1f} MB  sent={sent:>12,}  "
                      f"rounds={sum(t.rounds for t in self.totals.values()):>6}  live sinks={live_sinks()} "
                      f"offline objects={live_offline_objects()}", flush=True)
                next_report = now + a.report_every
            for t in threads:
                t.join(timeout=0.1)
        gc.collect()
        final_rss = rss_mb()
        sinks, objects = live_sinks(), live_offline_objects()
        print(f"soak: {time.monotonic() - start:.1f} s")
        for mode in modes:
            t = self.totals.get(mode, Totals())
            print(f"  {mode:10} rounds={t.rounds:6}  sent={t.sent:>12,}  received={t.received:>12,}  "
                  f"dropped={t.dropped:>10,}  (sent == received + dropped: {t.sent == t.received + t.dropped})")
            if t.rounds == 0:
                self.fail(f"{mode}: not a single round completed")
            if t.sent != t.received + t.dropped:
                self.fail(f"{mode}: totals do not reconcile")
        base = f"{baseline:.1f}" if baseline is not None else "n/a"
        print(f"  rss: start {first_rss:.1f} MB, after warm-up ({warm_up:.0f} s) {base} MB, "
              f"peak after warm-up {peak_after:.1f} MB, end {final_rss:.1f} MB (bound: +{a.rss_growth_mb} MB)")
        print(f"  live sinks {sinks}, live offline objects {objects} (both must be 0)")
        if sinks or objects:
            self.fail(f"live native objects after every handle closed: {sinks} sinks, {objects} offline objects")
        if baseline is not None and max(peak_after, final_rss) > baseline + a.rss_growth_mb:
            self.fail(f"RSS grew from {baseline:.1f} MB to {max(peak_after, final_rss):.1f} MB after warm-up")
        if self.errors:
            print(f"soak FAILED: {len(self.errors)} problem(s)")
            return 1
        print("soak passed")
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--producers", type=int, default=3, help="native producer threads per pump burst")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "1")))
    ap.add_argument("--report-every", type=float, default=5.0)
    ap.add_argument("--warm-up", type=float, default=15.0, help="seconds before the RSS baseline is taken")
    ap.add_argument("--rss-growth-mb", type=float, default=24.0)
    ap.add_argument("--inject", choices=("leak", "lose"),
                    help="negative test of the soak itself: keep every notification (RSS must trip the bound) or "
                         "lose one count per round (reconciliation must fail)")
    return Soak(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
