"""Notify's cost while the main thread is busy holding the GIL in a Python loop, against idle; ours and the
ctypes sink (which needs the GIL for every call)."""

from __future__ import annotations

import pytest
from conftest import scaled

from mapioffline.bench import inprocess as _bench
from mapioffline._ctypes_abi import ctypes_com_problem

# i386 Linux: ctypes has no stdcall, our ABI there is stdcall (see mapioffline._ctypes_abi).
NO_CTYPES_COM = ctypes_com_problem()


@pytest.mark.benchmark(group="notify-busy")
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_ours(benchmark, rounds, busy):
    ns = benchmark.pedantic(_bench.notify_cost_ours, args=(scaled(1_000_000), busy), rounds=rounds, iterations=1)
    benchmark.extra_info["ns_per_notify"] = ns


@pytest.mark.skipif(NO_CTYPES_COM is not None, reason=str(NO_CTYPES_COM))
@pytest.mark.benchmark(group="notify-busy")
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_baseline_ctypes(benchmark, rounds, busy):
    ns = benchmark.pedantic(_bench.notify_cost_ctypes, args=(scaled(5_000), busy), rounds=rounds, iterations=1)
    benchmark.extra_info["ns_per_notify"] = ns
