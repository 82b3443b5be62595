#!/usr/bin/env python3
"""Instruction-count gate for the hot paths, with valgrind's callgrind: deterministic where wall time on a shared
runner is not, so a small threshold is meaningful.

  measure [--python PY] [--records N] --out FILE   count instructions per record of each hot path in PY's
                                                   installed mapioffline (default: this interpreter)
  compare --base FILE --head FILE [--max-growth P] fail (exit 1) when a path's count grows more than P percent

Hot paths, each counted alone (callgrind --toggle-collect: only instructions executed inside the function and what
it calls), divided by the number of records:
  notify  IMAPIOfflineNotify::Notify of our sink (mapioffline::Sink::Notify), called by the native test pump
  pop     mapioffline_sink_pop_records, the C API's pop (here under Sink.drain_into, raw 32-byte records)
  drain   Sink.drain(): pop plus making the Notification objects (the Cython wrapper, whole call)
The driver runs one producer thread into a ring large enough to never drop, PYTHONHASHSEED fixed, the cyclic GC off
and the allocator warmed before drain; notify and pop then repeat exactly, drain within ~1.5% across process
environments (heap layout; identical within one environment). Counts differ between compilers, Python and Cython
versions: compare two builds made on the same machine, as the CI job does for PR head and base, or a build against
a baseline recorded with the same toolchain, as .ci/run does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gate_report import publish

# Callgrind matches these against demangled names; `*` stands for Cython's method index, which moves when methods
# are added to Sink. mapioffline::Sink is an alias: callgrind sees the class template it names.
PATHS = {
    "notify": "mapioffline::BasicSink<mapioffline::MpscRing<*>, mapioffline::ProductSteps>::Notify(*",
    "pop": "mapioffline_sink_pop_records",
    "drain": "__pyx_pw_11mapioffline_5_core_4Sink_*drain(*",
}
DEFAULT_MAX_GROWTH = 5.0  # percent; instruction counts do not drift with load, so this can be tight

# The cyclic GC is collected and switched off first: otherwise how many objects Python's startup happened to
# allocate (which depends on the environment, e.g. LANG) decides when a collection falls inside drain(), and the
# drain count moved by 4% between two shells.
_DRIVER = """
import gc
import sys
import mapioffline
from mapioffline.testing import pump

n = int(sys.argv[1])
gc.collect()
gc.disable()
with mapioffline.Sink(capacity=n) as sink:
    pump(sink.com_pointer, n)                     # n x Notify, one native producer thread
    buffer = bytearray(mapioffline.RECORD_SIZE * n)
    assert sink.drain_into(buffer) == n           # pop: raw records
    # Warm-up outside the counted function: n Notification objects made by get() and freed, so that drain()
    # finds the allocator's pools as they will be in steady state rather than however startup left them.
    # (Only when drain is counted: get() pops through the pop path too.)
    if sys.argv[2] == "drain":
        pump(sink.com_pointer, n)
        warm = [sink.get(timeout=0) for _ in range(n)]
        del warm
    pump(sink.com_pointer, n)
    assert len(sink.drain()) == n                 # drain: into Notification objects
    assert sink.stats.dropped == 0
"""


def _callgrind_total(out_file: Path) -> int:
    """The collected instruction count (Ir) of a callgrind output file."""
    text = out_file.read_text(errors="replace")
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not match:
        raise SystemExit(f"callgrind_gate: no totals in {out_file}")
    return int(match.group(1))


def measure(python: str, records: int) -> dict[str, float]:
    # Valgrind runs in a temporary folder: a relative interpreter path (.venv-head/bin/python) must be made absolute
    # first, and a bare name looked up on PATH.
    resolved = os.path.abspath(python) if os.sep in python or (os.altsep and os.altsep in python) else shutil.which(python)
    if not resolved or not os.path.exists(resolved):
        raise SystemExit(f"callgrind_gate: no interpreter {python!r}")
    python = resolved
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="callgrind-gate-") as tmp:
        for name, function in PATHS.items():
            out_file = Path(tmp) / f"callgrind.{name}"
            # Notify runs twice per driver run (two pumps; the drain run's warm-up is not counted for notify),
            # pop and drain once each.
            calls = 2 * records if name == "notify" else records
            cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={function}",
                   f"--callgrind-out-file={out_file}", python, "-c", _DRIVER, str(records), name]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
            if proc.returncode != 0:
                raise SystemExit(f"callgrind_gate: {name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
            total = _callgrind_total(out_file)
            if total == 0:
                raise SystemExit(f"callgrind_gate: {name}: nothing collected in {function!r} (renamed?)")
            counts[name] = round(total / calls, 2)
    return counts


def compare(base: dict[str, float], head: dict[str, float], max_growth: float) -> tuple[list[str], list[str]]:
    """(markdown table rows, failures): a path fails when head > base x (1 + max_growth / 100), or is missing."""
    rows, failures = [], []
    for name in PATHS:
        if name not in head:
            failures.append(f"{name}: missing from head")
            continue
        if name not in base:
            rows.append(f"| {name} | - | {head[name]:.1f} | new |")
            continue
        growth = (head[name] / base[name] - 1) * 100 if base[name] else float("inf")
        bad = growth > max_growth
        rows.append(f"| {name} | {base[name]:.1f} | {head[name]:.1f} | {growth:+.1f}% {'FAIL' if bad else 'ok'} |")
        if bad:
            failures.append(f"{name}: {base[name]:.1f} -> {head[name]:.1f} instructions/record "
                            f"({growth:+.1f}% > {max_growth:g}%)")
    return rows, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    m = commands.add_parser("measure")
    m.add_argument("--python", default=sys.executable)
    m.add_argument("--records", type=int, default=20_000)
    m.add_argument("--out", required=True)
    c = commands.add_parser("compare")
    c.add_argument("--base", required=True)
    c.add_argument("--head", required=True)
    c.add_argument("--max-growth", type=float, default=DEFAULT_MAX_GROWTH, help="percent (default %(default)s)")
    c.add_argument("--title", default="Instruction counts per record (callgrind)")
    args = parser.parse_args(argv)
    if args.command == "measure":
        counts = measure(args.python, args.records)
        Path(args.out).write_text(json.dumps(counts, indent=2) + "\n")
        print(json.dumps(counts))
        return 0
    base = json.loads(Path(args.base).read_text())
    head = json.loads(Path(args.head).read_text())
    rows, failures = compare(base, head, args.max_growth)
    report = "\n".join([f"### {args.title}", "", f"Fails above +{args.max_growth:g}% per path.", "",
                        "| path | base | head | change |", "|---|---|---|---|", *rows])
    return publish(report, failures, "callgrind gate")


if __name__ == "__main__":
    sys.exit(main())
