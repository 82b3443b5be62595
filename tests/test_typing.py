"""Static typing: mypy --strict passes on the package, stubtest finds the .pyi true to the compiled module, and a
user's typed code sees the precise types."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is in the 'test' extra")

import mapioffline

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"
ALLOWLIST = TESTS / "stubtest_allowlist.txt"
PACKAGE = Path(mapioffline.__file__).resolve().parent


def _config() -> list[str]:
    # The project's [tool.mypy] (strict, and the optional matplotlib import); tests may run from another directory.
    return ["--config-file", os.fspath(PYPROJECT)] if PYPROJECT.exists() else []


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_wheel_carries_stubs_and_py_typed() -> None:
    assert (PACKAGE / "_core.pyi").is_file()
    assert (PACKAGE / "py.typed").is_file()


def test_mypy_strict_on_the_package(tmp_path: Path) -> None:
    result = _run(["mypy", "--strict", *_config(), "--cache-dir", os.fspath(tmp_path / "cache"),
                   "-p", "mapioffline"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_stubtest(tmp_path: Path) -> None:
    result = _run(["mypy.stubtest", "mapioffline", "--allowlist", os.fspath(ALLOWLIST),
                   *(["--mypy-config-file", os.fspath(PYPROJECT)] if PYPROJECT.exists() else [])], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_allowlist_entries_are_commented() -> None:
    lines = ALLOWLIST.read_text().splitlines()
    entries = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    assert entries
    for i in entries:
        assert lines[i].startswith("mapioffline._core."), lines[i]
        above = i - 1
        while above in entries:  # a comment may explain a group of entries
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"allowlist entry without a comment: {lines[i]}"


USER_CODE = """
    import asyncio
    from typing_extensions import assert_type

    import mapioffline
    from mapioffline import Capability, Notification, NotifyKind, OfflineObject, Sink, SinkStats, State, Subscription
    from mapioffline.testing import PumpHandle, start_pump

    def blocking(obj: OfflineObject) -> None:
        with obj.advise(token=1) as sub:
            assert_type(sub, Subscription)
            assert_type(sub.sink, Sink)
            n = sub.sink.get(timeout=1.5)
            assert_type(n, Notification)
            assert_type(n.kind, NotifyKind | int)
            assert_type(n.new_state, State | int)
            assert_type(n.timestamp_ns, int)
            assert_type(sub.sink.drain(10), list[Notification])
            assert_type(sub.sink.stats, SinkStats)
            assert_type(sub.sink.stats.received, int)
            assert_type(sub.sink.last_state, State | int | None)
            for m in sub.sink:
                assert_type(m, Notification)

    def callbacks(obj: OfflineObject) -> Subscription:
        def on_notification(n: Notification) -> None:
            print(n.kind)
        return obj.advise(callback=on_notification, capacity=64)

    async def in_asyncio(sink: Sink) -> None:
        assert_type(await sink.aget(), Notification)
        async for n in sink:
            assert_type(n, Notification)

    def interop(address: int) -> None:
        with OfflineObject.from_pointer(address) as obj:
            assert_type(obj.capabilities, Capability)
            assert_type(obj.state, State | int)
            obj.set_state(State.OFFLINE, block=False)
            with Sink(16) as sink:
                assert_type(sink.com_pointer, int)
                handle = start_pump(sink.com_pointer, 10, threads=2)
                assert_type(handle, PumpHandle)
                assert_type(handle.join(), int)
                buffer = bytearray(32 * 4)
                assert_type(sink.drain_into(buffer), int)

    with mapioffline.open_offline("typed", backend="embedded") as o:
        blocking(o)
        callbacks(o).close()
    asyncio.run(in_asyncio(Sink()))
"""

MISUSE = """
    import mapioffline
    obj = mapioffline.open_offline(42)
    sink = mapioffline.Sink(capacity="big")
    sink.get(timeout="soon")
    sink.drain(max_items="all")
    n = sink.get()
    n.kind = 3
"""


def test_user_code_sees_precise_types(tmp_path: Path) -> None:
    (tmp_path / "user.py").write_text(textwrap.dedent(USER_CODE))
    result = _run(["mypy", "--strict", "--cache-dir", os.fspath(tmp_path / "cache"), "user.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_is_caught_by_the_type_checker(tmp_path: Path) -> None:
    (tmp_path / "misuse.py").write_text(textwrap.dedent(MISUSE))
    result = _run(["mypy", "--strict", "--cache-dir", os.fspath(tmp_path / "cache"), "misuse.py"], tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [int(line.split(":")[1]) for line in errors] == [3, 4, 5, 6, 8], result.stdout
