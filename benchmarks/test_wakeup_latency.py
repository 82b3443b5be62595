"""Wake-up latency (p50/p99 in extra_info): get(), get(spin_us=...), aget(), callback delivery, against a native
condition variable waking a Python thread and queue.SimpleQueue between Python threads, in the same run."""

from __future__ import annotations

import pytest
from conftest import scaled

from mapioffline.bench import inprocess as _bench

SAMPLES = scaled(300)
CASES = {
    "get": lambda: _bench.latency_get(SAMPLES),
    "get_spin": lambda: _bench.latency_get(SAMPLES, spin_us=3000),
    "aget": lambda: _bench.latency_aget(SAMPLES),
    "callback": lambda: _bench.latency_callback(SAMPLES),
    "baseline_condvar": lambda: _bench.latency_condvar(SAMPLES),
    "baseline_simplequeue": lambda: _bench.latency_simplequeue(SAMPLES),
}


@pytest.mark.benchmark(group="wakeup-latency")
@pytest.mark.parametrize("case", list(CASES))
def test_latency(benchmark, case):
    result = benchmark.pedantic(CASES[case], rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert 0 < result["p50_us"] <= result["p99_us"]
