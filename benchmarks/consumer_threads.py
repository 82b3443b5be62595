"""Delivery throughput by number of consumer threads: 1, 2 and 4 Python threads taking records with get() (one
Notification per call: the Python-side cost a GIL serializes), all on one shared sink or on one sink each, fed by a
native pump (one producer thread per sink). Run on one interpreter it prints that interpreter's table; with
``--compare PY [PY ...]`` it runs itself under each interpreter in turn (same run, alternating rounds) and prints
them side by side, e.g. a GIL build against a free-threaded one:

    python benchmarks/consumer_threads.py --compare .venv/bin/python .venv-ci-ft/bin/python

Rates are records taken per second of wall time, from the start of the consumers until the last of them ended
(median of the rounds); a run that dropped records says so. Numbers from a shared machine: read the ratios."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import threading
import time

CONSUMERS = (1, 2, 4)
LAYOUTS = ("one sink", "sink each")


def _interpreter() -> str:
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return f"{sys.version.split()[0]}{'t' if free else ''} (GIL {'on' if gil else 'off'})"


def run_once(consumers: int, layout: str, records: int) -> tuple[float, int]:
    """Records per second and records dropped, for ``consumers`` threads taking ``records`` in all."""
    from mapioffline import Sink, StreamEnded
    from mapioffline.testing import start_pump

    sink_count = 1 if layout == "one sink" else consumers
    per_sink = records // sink_count
    sinks = [Sink(1 << 20) for _ in range(sink_count)]
    taken = [0] * consumers
    gate = threading.Barrier(consumers + 1)

    def consume(index: int, sink: Sink) -> None:
        count = 0
        gate.wait()
        try:
            while True:
                sink.get()
                count += 1
        except StreamEnded:
            taken[index] = count

    try:
        for sink in sinks:
            sink._attach()  # a feed: once detached, get() ends with StreamEnded after the last record
        threads = [threading.Thread(target=consume, args=(i, sinks[i % sink_count])) for i in range(consumers)]
        for t in threads:
            t.start()
        gate.wait()
        start = time.perf_counter()
        pumps = [start_pump(sink.com_pointer, per_sink) for sink in sinks]
        for pump, sink in zip(pumps, sinks):
            pump.join()
            sink._detach()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        dropped = sum(sink.stats.dropped for sink in sinks)
        assert sum(taken) + dropped == per_sink * sink_count, (taken, dropped)
    finally:
        for sink in sinks:
            sink.close()
    return sum(taken) / elapsed, dropped


def measure(records: int, rounds: int) -> dict[str, object]:
    rates: dict[str, list[float]] = {}
    drops: dict[str, int] = {}
    for _ in range(rounds):
        for layout in LAYOUTS:
            for consumers in CONSUMERS:
                key = f"{layout}/{consumers}"
                rate, dropped = run_once(consumers, layout, records)
                rates.setdefault(key, []).append(rate)
                drops[key] = drops.get(key, 0) + dropped
    return {
        "interpreter": _interpreter(),
        "records": records,
        "rounds": rounds,
        "rate": {key: statistics.median(values) for key, values in rates.items()},
        "dropped": drops,
    }


def table(results: list[dict[str, object]]) -> str:
    header = ["layout", "consumers"]
    for r in results:
        header += [f"{r['interpreter']} rec/s", "vs 1 thread"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for layout in LAYOUTS:
        for consumers in CONSUMERS:
            key = f"{layout}/{consumers}"
            row = [layout, str(consumers)]
            for r in results:
                rate = r["rate"]  # type: ignore[index]
                dropped = r["dropped"][key]  # type: ignore[index]
                row.append(f"{rate[key]:,.0f}" + (f" ({dropped} dropped)" if dropped else ""))
                row.append(f"{rate[key] / rate[f'{layout}/1']:.2f}x")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=400_000, help="records per run, over all sinks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print this interpreter's results as JSON")
    parser.add_argument("--compare", nargs="+", metavar="PYTHON", help="run under each interpreter, one table")
    args = parser.parse_args()
    if args.compare:
        # Alternating rounds: a burst of load on the shared machine hits every interpreter alike.
        per: list[list[dict[str, object]]] = [[] for _ in args.compare]
        for _ in range(args.rounds):
            for i, python in enumerate(args.compare):
                out = subprocess.run([python, __file__, "--json", "--rounds", "1", "--records", str(args.records)],
                                     check=True, capture_output=True, text=True).stdout
                per[i].append(json.loads(out))
        merged = []
        for runs in per:
            merged.append({
                "interpreter": runs[0]["interpreter"],
                "rate": {k: statistics.median(r["rate"][k] for r in runs) for k in runs[0]["rate"]},  # type: ignore
                "dropped": {k: sum(r["dropped"][k] for r in runs) for k in runs[0]["dropped"]},  # type: ignore
            })
        print(f"{args.records:,} records per run, median of {args.rounds} rounds, get() per record\n")
        print(table(merged))
        return 0
    result = measure(args.records, args.rounds)
    print(json.dumps(result) if args.json else table([result]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
