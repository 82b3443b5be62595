"""Shared settings for the pytest-benchmark suite.

MAPIOFFLINE_BENCH_SCALE divides every workload (e.g. 20 for the CI smoke run: `--benchmark-disable` then runs each
benchmark once, so an erroring benchmark fails CI while speed itself never does)."""

from __future__ import annotations

import os

import pytest

SCALE = max(1, int(os.environ.get("MAPIOFFLINE_BENCH_SCALE", "1")))


def scaled(n: int) -> int:
    return max(1, n // SCALE)


@pytest.fixture
def rounds() -> int:
    return 3 if SCALE == 1 else 1
