"""The benchmarks the PR gate compares (group "gate", read by benchmarks/bench_gate.py).

Each is pytest-benchmark's pedantic mode with the preparation in `setup`, outside the timer: only the measured
section is timed (sink or queue creation, a ring's prefill, the consumer's buffer are not). Every round gets fresh
state; the gate reads each benchmark's minimum over the rounds (the least disturbed one on a shared runner),
divided by `extra_info["items"]`. Our figures sit beside baselines measured in the same job, so the gate can use
ratios: our delivery against the ctypes Python-callback sink and queue.SimpleQueue, our drain against draining a
SimpleQueue, and each of ours against the same benchmark on the PR's base.

MAPIOFFLINE_BENCH_SCALE divides the item counts (as for every benchmark here); MAPIOFFLINE_GATE_ROUNDS sets the
rounds (default 15; 2 under a scale, for smoke runs).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import SCALE, scaled

import mapioffline
from mapioffline import Sink
from mapioffline.bench import inprocess as _bench
from mapioffline._ctypes_abi import ctypes_com_problem
from mapioffline.testing import start_pump

ROUNDS = int(os.environ.get("MAPIOFFLINE_GATE_ROUNDS", "15" if SCALE == 1 else "2"))
N = scaled(200_000)             # items per round for our sink and SimpleQueue
N_CTYPES = scaled(20_000)       # the ctypes sink is ~10-100x slower: fewer items, same per-item figure
NO_CTYPES_COM = ctypes_com_problem()
_RECORD = (3, 0, 3, 2, 1, 0)


def _gate(benchmark: Any, target: Callable[..., object], setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
          items: int, finish: Callable[..., object] | None = None) -> None:
    """Times target over ROUNDS rounds, each on fresh arguments from setup. finish(*args) runs after each round
    (as pedantic's teardown) and, for rounds pedantic did not tear down (with --benchmark-disable it runs the
    target once and skips teardown), after the benchmark: it must be idempotent."""
    benchmark.group = "gate"
    benchmark.extra_info["items"] = items
    made: list[tuple[Any, ...]] = []

    def recording_setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = setup()
        made.append(args)
        return args, kwargs

    try:
        benchmark.pedantic(target, setup=recording_setup, teardown=finish, rounds=ROUNDS, warmup_rounds=1,
                           iterations=1)
    finally:
        if finish is not None:
            for args in made:
                finish(*args)


# -- delivery: a native producer thread -> Notify -> Python consumer ---------------------------------------------

def _deliver(sink: Sink, raw: bool, buffer: bytearray) -> None:
    """Timed: start the pump, take every record, join. The sink is large enough never to drop."""
    pump = start_pump(sink.com_pointer, N)
    delivered = 0
    while delivered < N:
        delivered += sink.drain_into(buffer) if raw else len(sink.drain(4096))
    pump.join()


@pytest.mark.parametrize("raw", [False, True], ids=["objects", "raw"])
def test_delivery_ours(benchmark: Any, raw: bool) -> None:
    counts: dict[int, tuple[int, int]] = {}  # per sink: (delivered, dropped) when it was finished

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (Sink(capacity=N), raw, bytearray(mapioffline.RECORD_SIZE * 4096)), {}

    def finish(sink: Sink, *_: object) -> None:
        if not sink.closed:
            stats = sink.stats
            counts[id(sink)] = (stats.delivered, stats.dropped)
            sink.close()

    _gate(benchmark, _deliver, setup, N, finish)
    assert counts and all(count == (N, 0) for count in counts.values())


@pytest.mark.skipif(NO_CTYPES_COM is not None, reason=str(NO_CTYPES_COM))
def test_delivery_ctypes_sink(benchmark: Any) -> None:
    sinks: list[_bench.CtypesSink] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        sinks.append(_bench.CtypesSink())
        return (sinks[-1],), {}

    _gate(benchmark, lambda sink: start_pump(sink.com_pointer, N_CTYPES).join(), setup, N_CTYPES)
    assert all(len(s.records) == N_CTYPES for s in sinks)


def _simplequeue_deliver(q: queue.SimpleQueue[tuple[int, ...]]) -> None:
    def produce() -> None:
        put = q.put
        for _ in range(N):
            put(_RECORD)

    producer = threading.Thread(target=produce)
    producer.start()
    get = q.get
    for _ in range(N):
        get()
    producer.join()


def test_delivery_simplequeue(benchmark: Any) -> None:
    _gate(benchmark, _simplequeue_deliver, lambda: ((queue.SimpleQueue(),), {}), N)


# -- notify: the producer side alone --------------------------------------------------------------------------------

def test_notify_ours(benchmark: Any) -> None:
    """Timed: N Notify calls from one native thread into an empty ring (no consumer)."""
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (Sink(capacity=N),), {}

    _gate(benchmark, lambda sink: start_pump(sink.com_pointer, N).join(), setup, N, lambda sink: sink.close())


# -- drain: a full ring (or queue) emptied by the consumer ------------------------------------------------------

def _prefilled_sink() -> tuple[tuple[Any, ...], dict[str, Any]]:
    sink = Sink(capacity=N)
    start_pump(sink.com_pointer, N).join()  # the prefill: outside the timer
    return (sink,), {}


@pytest.mark.parametrize("raw", [False, True], ids=["objects", "raw"])
def test_drain_ours(benchmark: Any, raw: bool) -> None:
    buffer = bytearray(mapioffline.RECORD_SIZE * N)
    kept: list[object] = []

    def drain(sink: Sink) -> None:
        if raw:
            assert sink.drain_into(buffer) == N
        else:
            kept.append(sink.drain())  # kept past the timer: draining, not freeing, is measured

    def finish(sink: Sink) -> None:
        kept.clear()
        sink.close()

    _gate(benchmark, drain, _prefilled_sink, N, finish)


def test_drain_simplequeue(benchmark: Any) -> None:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        q: queue.SimpleQueue[tuple[int, ...]] = queue.SimpleQueue()
        for _ in range(N):
            q.put(_RECORD)
        return (q,), {}

    def drain(q: queue.SimpleQueue[tuple[int, ...]]) -> None:
        get = q.get_nowait
        for _ in range(N):
            get()

    _gate(benchmark, drain, setup, N)
