"""Bridge stress peers (Linux): objects closed while they receive, and sequenced floods checked record by record.
Used by tests/integration/test_bridge_stress.py and benchmarks/soak_bridge.py; each role ends with one JSON line on stdout.

    python bridge_churn.py close PROFILE (--rounds N | --seconds S) [--seed N] [--publish]
        Round after round: opens a bridge object on PROFILE, advises (sink capacity 2, 256 or 4096; a callback in
        3 rounds of 10), sleeps 0-2 ms, closes the subscription and the object in a random order. --publish: this
        process publishes PROFILE itself, flooded without pause by the native pump on the publisher's Notify (the
        object's reader thread is then always delivering when it is closed); without it, a publisher of another
        process is followed, and rounds that find none (or lose it) are counted, not errors.
        Prints {"rounds", "receiving" (rounds that received before the close), "received", "no_publisher"}.
    python bridge_churn.py publish PROFILE [--ring N]
        Publishes PROFILE flooded by one native producer whose old_state is the record's sequence number modulo
        BURST; prints "ready", runs until stdin closes, then prints {"published": n}.
    python bridge_churn.py follow PROFILE --records N [--capacity C] [--mode get|drain|callback]
        Takes N records from PROFILE's publisher and checks each against the one before: with one producer,
        seq == previous + 1 + dropped_before (modulo BURST), i.e. every gap is reported on the record right after
        it. Prints {"records", "dropped", "violations", "examples"} (or {"end": error} when the publisher went away).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from typing import Any

import mapioffline
from mapioffline import _bridge
from mapioffline.testing import start_pump

# Records per pump burst. A burst restarts the producer's sequence at 0, so a record's old_state is its index in
# the whole flood modulo BURST, and the gap rule holds modulo BURST across bursts.
BURST = 1 << 20


def say(obj: object) -> None:
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)


class Flood:
    """One native producer calling the publisher's Notify without pause (bursts of BURST back to back, so that it
    can be stopped: a pump's own count cannot be cut short), until stop()."""

    def __init__(self, publisher: _bridge.BridgePublisher) -> None:
        self.pointer = publisher._notify_pointer
        self.published = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            start_pump(self.pointer, BURST, kind=mapioffline.NotifyKind.STATECHANGE, sequence=True).join()
            self.published += BURST

    def stop(self) -> None:
        """Returns once the producer has stopped (the publisher's Notify must outlive it)."""
        self._stopping.set()
        self._thread.join()


def close_rounds(profile: str, rounds: int | None, seconds: float | None, seed: int, publish: bool) -> dict[str, Any]:
    publisher = _bridge.publish(profile) if publish else None
    flood = Flood(publisher) if publisher is not None else None
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds if seconds is not None else None
    done = receiving = received = no_publisher = 0
    callback_count = [0]

    def on_notify(_: mapioffline.Notification) -> None:
        callback_count[0] += 1

    try:
        while (rounds is None or done < rounds) and (deadline is None or time.monotonic() < deadline):
            done += 1
            capacity = rng.choice((2, 256, 4096))
            callback = on_notify if rng.random() < 0.3 else None
            pause = rng.uniform(0, 0.002)
            subscription_first = rng.random() < 0.5
            try:
                offline = mapioffline.open_offline(profile, backend="bridge")
            except mapioffline.NotFound:
                if publish:
                    raise
                no_publisher += 1
                continue
            try:
                subscription = offline.advise(capacity=capacity, callback=callback)
            except mapioffline.ClosedError:  # PublisherGone: the publisher stopped or died meanwhile
                offline.close()
                if publish:
                    raise
                no_publisher += 1
                continue
            time.sleep(pause)
            got = subscription.sink.stats.received
            receiving += got > 0
            received += got
            if subscription_first:
                subscription.close()
                offline.close()
            else:
                offline.close()
                subscription.close()
    finally:
        if flood is not None:
            flood.stop()
        if publisher is not None:
            publisher.stop()
    return {"rounds": done, "receiving": receiving, "received": received, "no_publisher": no_publisher}


def publish_flood(profile: str, ring: int) -> None:
    publisher = _bridge.publish(profile, ring_capacity=ring)
    flood = Flood(publisher)
    say("ready")
    sys.stdin.read()  # until the parent closes our stdin
    flood.stop()
    publisher.stop()
    say({"published": flood.published})


def follow(profile: str, records: int, capacity: int, mode: str) -> dict[str, Any]:
    previous: int | None = None
    taken = dropped = violations = 0
    examples: list[str] = []
    finished = threading.Event()

    def check(n: mapioffline.Notification) -> None:
        nonlocal previous, taken, dropped, violations
        seq = n.raw_old_state
        if previous is not None and seq != (previous + 1 + n.dropped_before) % BURST:
            violations += 1
            if len(examples) < 5:
                examples.append(f"{previous} -> {seq} dropped_before {n.dropped_before}")
        previous = seq
        taken += 1
        dropped += n.dropped_before
        if taken == records:
            finished.set()

    with mapioffline.open_offline(profile, backend="bridge") as offline:
        try:
            if mode == "callback":
                def on_notify(n: mapioffline.Notification) -> None:
                    if not finished.is_set():
                        check(n)

                with offline.advise(capacity=capacity, callback=on_notify) as subscription:
                    while not finished.wait(0.1):
                        if not subscription.dispatcher_alive:
                            break
            else:
                with offline.advise(capacity=capacity) as subscription:
                    sink = subscription.sink
                    while taken < records:
                        if mode == "get":
                            check(sink.get())
                        else:
                            batch = sink.drain(records - taken)
                            for n in batch:
                                check(n)
                            if not batch:
                                check(sink.get())  # sleeps until the next one
        except mapioffline.ClosedError as error:  # the publisher went away first
            return {"end": type(error).__name__, "records": taken, "violations": violations, "examples": examples}
    return {"records": taken, "dropped": dropped, "violations": violations, "examples": examples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("close", "publish", "follow"))
    ap.add_argument("profile")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--publish", action="store_true")
    ap.add_argument("--ring", type=int, default=0)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--capacity", type=int, default=256)
    ap.add_argument("--mode", choices=("get", "drain", "callback"), default="get")
    args = ap.parse_args()
    if args.role == "close":
        say(close_rounds(args.profile, args.rounds, args.seconds, args.seed, args.publish))
    elif args.role == "publish":
        publish_flood(args.profile, args.ring)
    else:
        say(follow(args.profile, args.records, args.capacity, args.mode))


if __name__ == "__main__":
    main()
