"""State queries, fan-out of one state change to many sinks, advise/unadvise cycles, and the idle cost of a
blocked consumer."""

from __future__ import annotations

import pytest
from conftest import SCALE, scaled

import mapioffline
from mapioffline.bench import inprocess as _bench


@pytest.fixture
def offline():
    with mapioffline.open_offline("mapioffline-bench-state", backend="embedded") as obj:
        yield obj


@pytest.mark.benchmark(group="state-queries")
def test_offline_state(benchmark, offline):
    assert benchmark(lambda: offline.state) == mapioffline.State.ONLINE


@pytest.mark.benchmark(group="state-queries")
def test_sink_last_state(benchmark):
    with mapioffline.Sink(16) as sink:
        assert benchmark(lambda: sink.last_state) is None


@pytest.mark.benchmark(group="fan-out")
@pytest.mark.parametrize("sinks", [1, 10, 100, 1000])
def test_fan_out(benchmark, rounds, sinks):
    us = benchmark.pedantic(_bench.fan_out, args=(sinks, 10 if SCALE == 1 else 2), rounds=rounds, iterations=1)
    benchmark.extra_info["us_per_change"] = us


@pytest.mark.benchmark(group="advise-cycle")
def test_advise_cycle(benchmark, offline):
    with mapioffline.Sink(16) as sink:
        benchmark(lambda: offline.advise(sink).close())


@pytest.mark.benchmark(group="idle")
def test_idle_consumer_cpu(benchmark):
    seconds = 1.0 if SCALE == 1 else 0.2
    ms = benchmark.pedantic(_bench.idle_cpu, args=(seconds,), rounds=1, iterations=1)
    benchmark.extra_info["cpu_ms_per_s"] = ms
    assert ms >= 0
