"""The libFuzzer target over the bridge reader's parsing of a region (ext/fuzz/fuzz_channel_reader.cpp), built with
clang's -fsanitize=fuzzer,address,undefined. A short run by default; MAPIOFFLINE_FUZZ_SECONDS=N runs N seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "ext" / "fuzz" / "run_channel"


def _have_libfuzzer(tmp_path: Path) -> bool:
    if shutil.which("clang++") is None:
        return False
    probe = tmp_path / "probe.cpp"
    probe.write_text('extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }\n')
    result = subprocess.run(["clang++", "-fsanitize=fuzzer", str(probe), "-o", str(tmp_path / "probe")],
                            capture_output=True)
    return result.returncode == 0


def test_channel_reader_fuzzer(tmp_path: Path) -> None:
    if not _have_libfuzzer(tmp_path):
        if os.environ.get("MAPIOFFLINE_REQUIRE_ALL_TARGETS") == "1":
            pytest.fail("clang++ with libFuzzer is required (MAPIOFFLINE_REQUIRE_ALL_TARGETS=1)")
        pytest.skip("clang++ with libFuzzer not available")
    seconds = os.environ.get("MAPIOFFLINE_FUZZ_SECONDS")
    budget = [f"-max_total_time={int(seconds)}"] if seconds else ["-runs=300000"]
    result = subprocess.run(
        ["nice", str(RUN), *budget, "-seed=12345"], env={**os.environ, "BUILD": str(tmp_path)},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done" in result.stderr
    assert "ERROR" not in result.stderr
