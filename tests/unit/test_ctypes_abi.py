"""Where ctypes can speak our COM ABI (mapioffline._ctypes_abi), and that the benchmark's ctypes sink refuses,
rather than crashes, where it cannot. Python here is 64-bit, so i386 Linux is given to the decision as arguments."""

from __future__ import annotations

import ctypes

import pytest

from mapioffline import _ctypes_abi
from mapioffline.bench import inprocess as _bench
from mapioffline._ctypes_abi import ctypes_com_problem


@pytest.mark.parametrize(("platform_name", "bits", "machine"), [
    ("win32", 64, "AMD64"),      # one convention
    ("win32", 32, "x86"),        # WINFUNCTYPE is stdcall
    ("win32", 32, "AMD64"),      # 32-bit Python on 64-bit Windows: still WINFUNCTYPE
    ("linux", 64, "x86_64"),     # SysV: our header's STDMETHODCALLTYPE is empty there
    ("linux", 64, "aarch64"),
    ("linux", 32, "armv7l"),     # 32-bit, but not x86: no stdcall in the header
    ("darwin", 64, "arm64"),
])
def test_ctypes_com_works(platform_name: str, bits: int, machine: str) -> None:
    assert ctypes_com_problem(platform_name, bits, machine) is None


@pytest.mark.parametrize("machine", ["i686", "i386", "x86_64"])  # x86_64: a 32-bit Python on a 64-bit kernel
def test_ctypes_com_refused_on_i386_linux(machine: str) -> None:
    problem = ctypes_com_problem("linux", 32, machine)
    assert problem is not None
    assert "stdcall" in problem and "WINFUNCTYPE" in problem


def test_this_process() -> None:
    # This suite runs on 64-bit Pythons (x86_64 Linux, Windows): ctypes interop works in all of them.
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes_com_problem() is None


def test_bench_ctypes_sink_refuses_where_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on i386 Linux: no callback may be created (a native thread could call it), a clear error instead.
    monkeypatch.setattr(_ctypes_abi, "ctypes_com_problem", lambda: "no stdcall here")
    with pytest.raises(NotImplementedError, match="no stdcall here"):
        _bench.CtypesSink()


def test_bench_collect_leaves_the_ctypes_baselines_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # The whole `bench` command on such a target: it must measure the rest and say why the baseline is missing,
    # without ever calling the ctypes measurements. Each measurement is replaced by a cheap stand-in.
    monkeypatch.setattr(_bench, "ctypes_com_problem", lambda: "no stdcall here")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a ctypes measurement ran although ctypes cannot make our calls here")

    monkeypatch.setattr(_bench, "delivery_ctypes", never)
    monkeypatch.setattr(_bench, "notify_cost_ctypes", never)
    fake = {"per_s": 1e6, "ns_per_item": 1000.0, "sent": 1, "delivered": 1, "dropped": 0}
    monkeypatch.setattr(_bench, "delivery_ours", lambda *a, **k: dict(fake))
    monkeypatch.setattr(_bench, "delivery_simplequeue", lambda *a, **k: dict(fake))
    monkeypatch.setattr(_bench, "drain_prefilled", lambda *a, **k: 10.0)
    monkeypatch.setattr(_bench, "notify_cost_ours", lambda *a, **k: 20.0)
    latency = {"p50_us": 1.0, "p99_us": 2.0}
    for name in ("latency_get", "latency_aget", "latency_callback", "latency_condvar", "latency_simplequeue"):
        monkeypatch.setattr(_bench, name, lambda *a, **k: dict(latency))
    monkeypatch.setattr(_bench, "state_queries", lambda *a, **k: {"state_ns": 5.0})
    monkeypatch.setattr(_bench, "fan_out", lambda *a, **k: 1.0)
    monkeypatch.setattr(_bench, "advise_cycle", lambda *a, **k: 1.0)
    import mapioffline.bench.bridge as bridge_bench  # the bridge figures are not what this test is about

    monkeypatch.setattr(bridge_bench, "collect", lambda quick: {"wakeup_in_process_get": dict(latency),
                                                                "wakeup_cross_process_get": dict(latency)})
    monkeypatch.setattr(_bench, "idle_cpu", lambda *a, **k: 0.0)
    results = _bench.collect(quick=True)
    assert results["ctypes_baseline_skipped"] == "no stdcall here"
    assert results["delivery"]["ctypes_sink"] is None
    results.pop("bridge", None)  # the stand-in above has none of the bridge table's figures
    table = _bench._table(results)
    assert "ctypes Python-callback sink" in table and "skipped" in table
    assert "x ctypes sink" not in table
