#!/usr/bin/env python3
"""Run mapioffline_bench and compare our sink with the peer queues.

    python3 benchmarks/native/compare.py BUILD/benchmarks/mapioffline_bench [--benchmark_min_time 0.2]
        [--benchmark_repetitions 3] [--benchmark_filter REGEX] [--json-out FILE] [-- EXTRA ARGS...]
    python3 benchmarks/native/compare.py --from-json FILE [FILE...] [--stat median|min]

For each scenario -- full_path p1 (1 producer + consumer), p2 (2 busy producers + consumer), p2y (2 producers
that yield every 256 calls + consumer), single_thread b1 (Notify + pop of one) and b256 (256 Notify + one
pop_batch) -- prints every sink's ns per notification (wall ns
per DELIVERED record: drops do not count as work), its ratio to ours, the producer-side ns per call, drop %,
allocations per Notify and the order/loss checks; then whether ours is <= 1.0x the fastest peer that passed its
checks. With repetitions, each row shows the median repetition (--stat min: the fastest one, which filters
out interference from other processes); a check counts as failed if any repetition failed it.

Exit status: 0, or 1 if our own sink failed a check or allocated in Notify, 2 on a usage or run error.
Standard library only.
"""
import argparse
import json
import re
import subprocess
import sys

SCENARIOS = [
    ("full_path", "p1", "full path, 1 producer + 1 consumer (separate cores)"),
    ("full_path", "p2", "full path, 2 producers + 1 consumer, all busy (3 threads on 2 cores: scheduler-bound)"),
    ("full_path", "p2y", "full path, 2 producers yielding every 256 calls + 1 consumer (consumer keeps up)"),
    ("single_thread", "b1", "single thread, Notify + pop of 1"),
    ("single_thread", "b256", "single thread, 256 x Notify + pop_batch(256)"),
]
OURS = "ours"
ABLATION_PREFIX = "x_"  # our sink with one hot-path step changed: not peers
CHECK_COUNTERS = ("order_violations", "corrupt", "loss_rounds")
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def run_benchmark(binary, min_time, repetitions, bench_filter, extra, timeout):
    def command(min_time_value):
        cmd = [binary, "--benchmark_format=json"]
        if min_time_value is not None:
            cmd.append("--benchmark_min_time=" + min_time_value)
        if repetitions:
            cmd += ["--benchmark_repetitions=%d" % repetitions, "--benchmark_report_aggregates_only=false"]
            if repetitions > 1:
                # Interleave repetitions in random order: a burst of other load on the machine then spoils single
                # repetitions of random benchmarks, which the median discards, not a whole block of neighbours.
                cmd.append("--benchmark_enable_random_interleaving=true")
        if bench_filter:
            cmd.append("--benchmark_filter=" + bench_filter)
        return cmd + list(extra)

    def run(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            sys.exit("compare.py: %s did not finish within %s s" % (" ".join(cmd), timeout))

    cmd = command(min_time)
    proc = run(cmd)
    # Google Benchmark < 1.8 wants a plain number of seconds, >= 1.8 prefers "0.2s": accept either spelling.
    if proc.returncode != 0 and min_time and "min_time" in proc.stderr:
        alt = min_time[:-1] if min_time.endswith("s") else min_time + "s"
        cmd = command(alt)
        proc = run(cmd)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit("compare.py: %s exited with %d" % (" ".join(cmd), proc.returncode))
    print("command: " + " ".join(cmd))
    try:
        with open("/proc/loadavg") as f:
            print("load average at end: " + " ".join(f.read().split()[:3]))
    except OSError:
        pass
    return proc.stdout


def split_name(entry):
    """(family, scenario, sink) from a benchmark entry; None for names outside the scheme (steps/...)."""
    name = entry.get("run_name") or entry["name"]
    name = re.sub(r"_(mean|median|stddev|cv)$", "", name)
    parts = [p for p in name.split("/") if p != "manual_time" and not p.startswith("repeats:")]
    if len(parts) != 3:
        return None
    return tuple(parts)


def pick(entries, stat):
    """One repetition's entry (so that all columns of a row come from the same run): the median or the fastest."""
    entries = sorted(entries, key=lambda e: ns_per_notify(e) if ns_per_notify(e) is not None else
                     e.get("real_time", 0.0))
    return entries[0] if stat == "min" else entries[(len(entries) - 1) // 2]


def collect(doc, stat):
    """{(family, scenario, sink): {"values": entry used for numbers, "failed": set of reasons}} and step costs."""
    runs = {}        # key -> plain repetition entries
    aggregates = {}  # key -> median aggregate (used only when the JSON has no plain entries)
    failed = {}
    for entry in doc.get("benchmarks", []):
        aggregate = entry.get("aggregate_name")
        if aggregate in ("stddev", "cv"):
            continue
        key = split_name(entry)
        if key is None:
            name = re.sub(r"_(mean|median)$", "", entry["name"])
            if not name.startswith("steps/"):
                continue
            key = ("steps", name)
        reasons = failed.setdefault(key, set())
        if entry.get("error_occurred"):
            reasons.add("error: " + entry.get("error_message", "?"))
            continue
        for counter in CHECK_COUNTERS:  # any repetition (or a mean > 0) failing is a failure
            if entry.get(counter, 0) > 0:
                reasons.add(counter)
        if aggregate is None:
            runs.setdefault(key, []).append(entry)
        elif aggregate == "median":
            aggregates[key] = entry
    results, steps = {}, {}
    for key, reasons in failed.items():
        values = pick(runs[key], stat) if key in runs else aggregates.get(key)
        if key[0] == "steps":
            if values:
                steps[key[1]] = values["real_time"] * UNIT_NS.get(values.get("time_unit", "ns"), 1.0)
        else:
            results[key] = {"values": values, "failed": reasons}
    return results, steps


def ns_per_notify(entry):
    if entry is None:
        return None
    if "ns_per_notify" in entry:
        return float(entry["ns_per_notify"])
    ips = entry.get("items_per_second")
    return 1e9 / ips if ips else None


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_scenario(family, scenario, title, results):
    rows = sorted((k[2], v) for k, v in results.items() if k[0] == family and k[1] == scenario)
    if not rows:
        return None
    ours = next((v for s, v in rows if s == OURS), None)
    ours_ns = ns_per_notify(ours["values"]) if ours else None
    print("\n== %s/%s: %s ==" % (family, scenario, title))
    header = "%-26s %10s %9s %9s %7s %13s %13s %8s  %s" % (
        "sink", "ns/notify", "x ours", "ns/call", "drop%", "allocs/notify", "warmup_allocs", "preempt", "checks")
    print(header)
    print("-" * len(header))
    peers = []
    ablations = []
    for sink, slot in rows:
        (ablations if sink.startswith(ABLATION_PREFIX) else peers).append((sink, slot))
    fastest = None
    failed_peers = []
    for group_name, group in (("", peers), ("ablations (our sink, one step changed; not peers):", ablations)):
        if group_name and group:
            print(group_name)
        for sink, slot in sorted(group, key=lambda r: (r[0] != OURS, ns_per_notify(r[1]["values"]) or 1e30)):
            v = slot["values"] or {}
            ns = ns_per_notify(slot["values"])
            ratio = ns / ours_ns if ns and ours_ns else None
            checks = "FAILED: " + ", ".join(sorted(slot["failed"])) if slot["failed"] else "ok"
            preempt = v.get("preempt_per_round", v.get("preempt_per_s"))
            print("%-26s %10s %9s %9s %7s %13s %13s %8s  %s" % (
                sink, fmt(ns, ".1f"), fmt(ratio, ".2f") + ("x" if ratio else ""),
                fmt(v.get("ns_per_call"), ".1f"), fmt(v.get("drop_pct"), ".2f"),
                fmt(v.get("allocs_per_notify"), ".4g"), fmt(v.get("warmup_allocs"), ".0f"),
                fmt(preempt, ".1f"), checks))
            if group is peers and sink != OURS:
                if slot["failed"] or ns is None:
                    failed_peers.append(sink)
                elif fastest is None or ns < fastest[1]:
                    fastest = (sink, ns)
    # Producer-side view (full path): what a Notify call costs its caller, whatever the consumer managed.
    calls = [(sink, (slot["values"] or {}).get("ns_per_call")) for sink, slot in peers
             if sink != OURS and not slot["failed"] and slot["values"]]
    calls = [c for c in calls if c[1] is not None]
    ours_call = (ours["values"] or {}).get("ns_per_call") if ours else None
    if calls and ours_call is not None:
        best = min(calls, key=lambda c: c[1])
        print("producer side: ours %.1f ns/call vs fastest valid peer (%s, %.1f ns/call) = %.2fx" % (
            ours_call, best[0], best[1], ours_call / best[1]))
    verdict = None
    if ours_ns and fastest:
        ratio = ours_ns / fastest[1]
        verdict = ratio <= 1.0
        print("ours / fastest valid peer (%s, %.1f ns) = %.2fx -> ours <= 1.0x fastest: %s" % (
            fastest[0], fastest[1], ratio, "YES" if verdict else "NO"))
    if failed_peers:
        print("left out of 'fastest' (failed order/loss checks or errored): " + ", ".join(failed_peers))
    return {"scenario": "%s/%s" % (family, scenario), "ours_ns": ours_ns, "fastest": fastest,
            "verdict": verdict, "failed_peers": failed_peers,
            "ours_failed": sorted(ours["failed"]) if ours else ["missing"],
            "ours_allocs": (ours["values"] or {}).get("allocs_per_notify") if ours else None}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", nargs="?", help="path to mapioffline_bench")
    parser.add_argument("--benchmark_min_time", "--min-time", dest="min_time",
                        help="passed through to the benchmark (seconds; '0.2' or '0.2s')")
    parser.add_argument("--benchmark_repetitions", "--repetitions", dest="repetitions", type=int,
                        help="repetitions per benchmark; medians are compared")
    parser.add_argument("--benchmark_filter", "--filter", dest="filter", help="regex passed through")
    parser.add_argument("--json-out", help="also save the benchmark's JSON here")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before the run is abandoned")
    parser.add_argument("--from-json", nargs="+", help="compare saved JSON file(s) instead of running")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="which repetition to show: the median one (default) or the fastest one")
    parser.add_argument("extra", nargs="*", help="further benchmark arguments (after --)")
    args = parser.parse_args(argv)
    if args.from_json:
        docs = []
        for path in args.from_json:
            with open(path) as f:
                docs.append(json.load(f))
        text = json.dumps({"context": docs[0].get("context", {}),
                           "benchmarks": [b for d in docs for b in d.get("benchmarks", [])]})
    elif args.binary:
        text = run_benchmark(args.binary, args.min_time, args.repetitions, args.filter, args.extra, args.timeout)
        if args.json_out:
            with open(args.json_out, "w") as f:
                f.write(text)
    else:
        parser.print_usage(sys.stderr)
        return 2
    doc = json.loads(text)
    ctx = doc.get("context", {})
    print("host: %s CPUs @ %s MHz, Google Benchmark library build: %s, %s, load average at start: %s" % (
        ctx.get("num_cpus"), ctx.get("mhz_per_cpu"), ctx.get("library_build_type"), ctx.get("date"),
        " ".join("%.2f" % x for x in ctx.get("load_avg", [])) or "?"))
    print("ns/notify = wall ns per delivered record; x ours = ns/notify / ours' ns/notify (<1: faster than ours);")
    print("ns/call = producer-side ns per Notify call, drops included (full path only)")
    print("preempt = involuntary context switches of our threads per round (full path) or per second (single")
    print("  thread); in p1 and single_thread anything but ~0 means other processes took our cores: rerun")
    print("statistic: " + args.stat)
    results, steps = collect(doc, args.stat)
    summaries = []
    for family, scenario, title in SCENARIOS:
        s = print_scenario(family, scenario, title, results)
        if s:
            summaries.append(s)
    if steps:
        print("\n== hot-path step costs (single thread, ns) ==")
        for name in sorted(steps):
            print("%-34s %8.2f" % (name, steps[name]))
    print("\n== summary ==")
    status = 0
    for s in summaries:
        fastest = "%s %.1f ns" % s["fastest"] if s["fastest"] else "none"
        ratio = s["ours_ns"] / s["fastest"][1] if s["fastest"] and s["ours_ns"] else None
        print("%-24s ours %8s ns | fastest valid peer: %-28s | ours/fastest %6s | <= 1.0x: %-3s | failed: %s" % (
            s["scenario"], fmt(s["ours_ns"], ".1f"), fastest, fmt(ratio, ".2f"),
            {True: "YES", False: "NO", None: "-"}[s["verdict"]], ", ".join(s["failed_peers"]) or "none"))
        if s["ours_failed"]:
            print("  OUR SINK FAILED: " + ", ".join(s["ours_failed"]))
            status = 1
        if s["ours_allocs"]:
            print("  OUR SINK ALLOCATED in Notify: %s per call" % s["ours_allocs"])
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
