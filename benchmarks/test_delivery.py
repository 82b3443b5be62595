"""Delivery into Python, steady state: native producer thread(s) -> Notify -> drain() / drain_into(), beside a
ctypes Python-callback sink fed by the same pump and queue.SimpleQueue between two Python threads."""

from __future__ import annotations

import pytest
from conftest import scaled

from mapioffline.bench import inprocess as _bench
from mapioffline._ctypes_abi import ctypes_com_problem

# i386 Linux: ctypes has no stdcall, our ABI there is stdcall (see mapioffline._ctypes_abi).
NO_CTYPES_COM = ctypes_com_problem()


@pytest.mark.benchmark(group="delivery")
@pytest.mark.parametrize("producers", [1, 2])
def test_ours_objects(benchmark, rounds, producers):
    n = scaled(2_000_000)
    result = benchmark.pedantic(_bench.delivery_ours, args=(n, producers), rounds=rounds, iterations=1)
    benchmark.extra_info.update(result)
    assert result["delivered"] + result["dropped"] == (n // producers) * producers


@pytest.mark.benchmark(group="delivery")
def test_ours_raw(benchmark, rounds):
    n = scaled(2_000_000)
    result = benchmark.pedantic(_bench.delivery_ours, args=(n, 1, True), rounds=rounds, iterations=1)
    benchmark.extra_info.update(result)
    assert result["delivered"] + result["dropped"] == n


@pytest.mark.skipif(NO_CTYPES_COM is not None, reason=str(NO_CTYPES_COM))
@pytest.mark.benchmark(group="delivery")
def test_baseline_ctypes_sink(benchmark, rounds):
    result = benchmark.pedantic(_bench.delivery_ctypes, args=(scaled(20_000),), rounds=rounds, iterations=1)
    benchmark.extra_info.update(result)


@pytest.mark.benchmark(group="delivery")
def test_baseline_simplequeue(benchmark, rounds):
    result = benchmark.pedantic(_bench.delivery_simplequeue, args=(scaled(500_000),), rounds=rounds, iterations=1)
    benchmark.extra_info.update(result)


@pytest.mark.benchmark(group="drain-prefilled")
@pytest.mark.parametrize("raw", [False, True], ids=["objects", "raw"])
def test_drain_prefilled(benchmark, rounds, raw):
    ns = benchmark.pedantic(_bench.drain_prefilled, args=(1 << 16, raw), rounds=rounds, iterations=1)
    benchmark.extra_info["ns_per_record"] = ns
