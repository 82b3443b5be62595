#!/usr/bin/env python3
"""Bridge soak (Linux): a publisher process flooded without pause, subscriber processes coming and going, bridge
objects closed while they receive, for a while.

    python benchmarks/soak_bridge.py --seconds 600

The peers are tests/bridge_churn.py processes:
  publisher   one process publishing profile P (ring --ring), one sequenced native producer flooding it
  followers   --followers processes at a time on P, each taking a random number of records in a random delivery mode
              (get, drain, callback) and sink size (2, 256, 4096), checking every record: seq == previous + 1 +
              dropped_before. One in five is SIGKILLed part way instead (a subscriber that dies while receiving);
              each one that ends is replaced by a new one.
  closers     two processes of close rounds for the whole run (open, advise, 0-2 ms, close subscription and object in
              either order): one on P, one on a profile it publishes and floods itself (the in-process case).
Fails (exit 1) if any follower reports a gap on the wrong record, any peer crashes, hangs past its bound or writes
to stderr (sanitizer reports), or the publisher does not stop cleanly. Prints the figures every --report-every
seconds and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHURN = str(Path(__file__).resolve().parent.parent / "tests" / "bridge_churn.py")
# A peer asked to finish (stdin closed, or its --seconds over) must be gone within this bound, or it hung.
FINISH_S = 120.0


def spawn(*args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, CHURN, *args], stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fail(errors: list[str], what: str) -> None:
    errors.append(what)
    print(f"FAIL: {what}", file=sys.stderr, flush=True)


def finish(proc: subprocess.Popen[str], what: str, errors: list[str], timeout: float = FINISH_S) -> dict[str, Any]:
    """Waits for a peer's end; its JSON summary, or {} with the failure added to errors."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        fail(errors, f"{what}: hung (still running {timeout:.0f} s after it should have ended)")
        return {}
    if proc.returncode != 0 or err:
        fail(errors, f"{what}: exit status {proc.returncode}, stderr:\n{err[-4000:]}")
        return {}
    try:
        result: dict[str, Any] = json.loads(out.splitlines()[-1])
    except (IndexError, ValueError):
        fail(errors, f"{what}: no summary line in {out[-500:]!r}")
        return {}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--followers", type=int, default=3, help="follower processes at a time")
    ap.add_argument("--ring", type=int, default=256, help="the publisher's ring capacity")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "1")))
    ap.add_argument("--report-every", type=float, default=30.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    profile = f"soak-bridge-{os.getpid()}"
    errors: list[str] = []
    figures = {"followers_done": 0, "followers_killed": 0, "records_checked": 0, "records_dropped": 0,
               "gap_violations": 0}
    start = time.monotonic()
    deadline = start + args.seconds

    publisher = spawn("publish", profile, "--ring", str(args.ring), stdin=True)
    assert publisher.stdout is not None
    if publisher.stdout.readline() != "ready\n":
        finish(publisher, "publisher", errors)
        return 1
    closers = {
        "closer (publisher in another process)": spawn("close", profile, "--seconds", str(args.seconds),
                                                       "--seed", str(args.seed)),
        "closer (publisher in its process)": spawn("close", f"{profile}-own", "--publish", "--seconds",
                                                   str(args.seconds), "--seed", str(args.seed + 1)),
    }
    followers: list[tuple[subprocess.Popen[str], float | None, str]] = []  # (process, kill at, description)

    def start_follower() -> None:
        mode = rng.choice(("get", "drain", "callback"))
        capacity = rng.choice((2, 256, 4096))
        records = rng.randrange(5_000, 100_000)
        kill_at = time.monotonic() + rng.uniform(0.05, 2.0) if rng.random() < 0.2 else None
        what = f"follower {mode}/{capacity}/{records}"
        followers.append((spawn("follow", profile, "--records", str(records), "--mode", mode, "--capacity",
                                str(capacity)), kill_at, what))

    def reap(proc: subprocess.Popen[str], killed: bool, what: str) -> None:
        if killed:
            proc.communicate()
            figures["followers_killed"] += 1
            return
        result = finish(proc, what, errors)
        if not result:
            return
        figures["followers_done"] += 1
        figures["records_checked"] += result["records"]
        figures["records_dropped"] += result.get("dropped", 0)
        figures["gap_violations"] += result["violations"]
        if result["violations"] or "end" in result:
            fail(errors, f"{what}: {result}")

    next_report = start + args.report_every
    while time.monotonic() < deadline and not errors:
        while len(followers) < args.followers:
            start_follower()
        time.sleep(0.02)
        now = time.monotonic()
        still = []
        for proc, kill_at, what in followers:
            if proc.poll() is not None:
                reap(proc, False, what)
            elif kill_at is not None and now >= kill_at:
                proc.kill()
                reap(proc, True, what)
            else:
                still.append((proc, kill_at, what))
        followers = still
        if now >= next_report:
            next_report += args.report_every
            print(f"[{now - start:6.0f} s] {figures}", flush=True)
    for proc, _, what in followers:  # the run is over: whoever still follows is stopped
        proc.kill()
        reap(proc, True, what)
    closes: dict[str, Any] = {}
    for what, proc in closers.items():
        if errors:  # the run failed early: the closers' figures are not wanted
            proc.kill()
            proc.communicate()
            continue
        closes[what] = finish(proc, what, errors, timeout=max(0.0, deadline - time.monotonic()) + FINISH_S)
    published = finish(publisher, "publisher", errors)  # communicate() closes its stdin: it stops
    print(json.dumps({"seconds": round(time.monotonic() - start, 1), **figures, "close_rounds": closes,
                      "published": published.get("published")}, indent=1))
    if errors:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
