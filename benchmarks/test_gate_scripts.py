"""The two gate scripts' decisions on made-up results (no timing): what passes, what fails, and why."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_gate = _script("bench_gate")
callgrind_gate = _script("callgrind_gate")

# ns per item, shaped like a real run (see bench_gate.FLOORS).
RUN = {"test_delivery_ours[objects]": 120.0, "test_delivery_ours[raw]": 110.0, "test_notify_ours": 30.0,
       "test_drain_ours[objects]": 35.0, "test_drain_ours[raw]": 2.0, "test_delivery_simplequeue": 55.0,
       "test_drain_simplequeue": 30.0, "test_delivery_ctypes_sink": 8000.0}


def _scaled(run: dict[str, float], factor: float, only: set[str] | None = None) -> dict[str, float]:
    return {k: v * (factor if only is None or k in only else 1.0) for k, v in run.items()}


def test_same_results_pass() -> None:
    _, failures = bench_gate.check(RUN, dict(RUN))
    assert failures == []


def test_slower_runner_alone_passes() -> None:
    # Everything 2.5x slower in the head's run, the references too: the runner, not the code.
    _, failures = bench_gate.check(_scaled(RUN, 2.5), RUN)
    assert failures == []


def test_our_regression_fails_even_on_a_faster_runner() -> None:
    head = _scaled(_scaled(RUN, 0.8), 2.0, {"test_drain_ours[objects]"})  # runner 20% faster, our drain 2x slower
    head = _scaled(head, 1.6, {"test_drain_ours[objects]"})
    _, failures = bench_gate.check(head, RUN)
    assert len(failures) == 1 and "test_drain_ours[objects]" in failures[0]


def test_raw_limit_catches_what_the_references_miss() -> None:
    head = _scaled(RUN, 3.5, set(bench_gate.OURS))  # all of ours 3.5x slower; references unchanged
    _, failures = bench_gate.check(head, RUN)
    assert any("3.50x slower than base" in f for f in failures)


def test_floors_without_a_base() -> None:
    assert bench_gate.check(RUN, None)[1] == []
    slow = _scaled(RUN, 20.0, {"test_delivery_ours[objects]"})  # only 3.3x the ctypes sink: below its 5x floor
    _, failures = bench_gate.check(slow, None)
    assert any("test_delivery_ctypes_sink" in f for f in failures)


def test_load_merges_files_by_minimum(tmp_path: Path) -> None:
    def write(name: str, seconds: float) -> str:
        path = tmp_path / name
        path.write_text(json.dumps({"benchmarks": [
            {"name": "test_notify_ours", "group": "gate", "stats": {"min": seconds}, "extra_info": {"items": 1000}},
            {"name": "other", "group": "delivery", "stats": {"min": 1.0}, "extra_info": {}}]}))
        return str(path)

    merged = bench_gate.load([write("a.json", 4e-5), write("b.json", 3e-5)])
    assert merged == {"test_notify_ours": pytest.approx(3e-8)}


def test_callgrind_compare() -> None:
    base = {"notify": 65.0, "pop": 44.4, "drain": 187.4}
    assert callgrind_gate.compare(base, dict(base), 5.0)[1] == []
    within = {**base, "notify": 68.0}  # +4.6%
    assert callgrind_gate.compare(base, within, 5.0)[1] == []
    grown = {**base, "drain": 200.0}   # +6.7%
    failures = callgrind_gate.compare(base, grown, 5.0)[1]
    assert len(failures) == 1 and failures[0].startswith("drain")
    assert callgrind_gate.compare(base, {"notify": 65.0, "pop": 44.4}, 5.0)[1] == ["drain: missing from head"]
