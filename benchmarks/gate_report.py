"""What both gate scripts (bench_gate.py, callgrind_gate.py) do with their verdict: the Markdown report to stdout
and, on GitHub, to the job summary; each failure as an error annotation; the exit status."""

from __future__ import annotations

import os


def publish(report: str, failures: list[str], gate: str) -> int:
    print(report)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report + "\n\n")
    for failure in failures:
        print(f"::error::{gate}: {failure}")
    return 1 if failures else 0
