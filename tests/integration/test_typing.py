"""Static typing: mypy --strict passes on the package, stubtest finds the .pyi true to the compiled module, and a
user's typed code sees the precise types."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sysconfig

import pytest

if sysconfig.get_config_var("Py_GIL_DISABLED"):
    # mypy publishes no free-threaded wheels and its source build needs Rust crates: .ci/freethreaded checks that
    # these are the only skips there.
    pytest.importorskip("mypy", reason="mypy cannot be installed on free-threaded CPython (no wheels)")
else:
    pytest.importorskip("mypy", reason="mypy is in the 'test' extra")

import mapioffline

TESTS = Path(__file__).resolve().parents[1]
PYPROJECT = TESTS.parent / "pyproject.toml"
ALLOWLIST = TESTS / "stubtest_allowlist.txt"
PACKAGE = Path(mapioffline.__file__).resolve().parent
README = TESTS.parent / "README.md"


def _cache(tmp_path_factory: pytest.TempPathFactory, name: str) -> str:
    """mypy's incremental cache for one kind of run: in a source checkout the project's own .mypy_cache (where a
    developer's mypy keeps it), so a test run after an edit checks what changed, as mypy does; else a fresh one."""
    root = PYPROJECT.parent / ".mypy_cache" if PYPROJECT.exists() else tmp_path_factory.mktemp("mypy-cache")
    return os.fspath(root / f"tests-{name}")


def _config() -> list[str]:
    # The project's [tool.mypy] (strict, and the optional matplotlib import); tests may run from another directory.
    return ["--config-file", os.fspath(PYPROJECT)] if PYPROJECT.exists() else []


class _Check:
    """A type checker's process, started as soon as the module's tests begin and read by the test that needs it:
    the three checks are independent, so they overlap on the machine's cores instead of running one after another."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=cwd)
        self._result: subprocess.CompletedProcess[str] | None = None

    def result(self) -> subprocess.CompletedProcess[str]:
        if self._result is None:
            out, err = self._proc.communicate(timeout=300)
            self._result = subprocess.CompletedProcess(self._proc.args, self._proc.returncode, out, err)
        return self._result

    def stop(self) -> None:
        if self._proc.poll() is None:  # a check whose test was deselected
            self._proc.kill()
        self._proc.communicate()


def test_the_wheel_carries_stubs_and_py_typed() -> None:
    assert (PACKAGE / "_core.pyi").is_file()
    assert (PACKAGE / "py.typed").is_file()


@dataclass
class MypyRun:
    """One `mypy --strict` over the package and every snippet below: mypy's start-up and the package's analysis are
    paid once, and each test reads the errors of its own file. Everything is named as a module (-p, -m), found from
    the snippets' folder and the installed package: a path to the installed package would make its site-packages a
    source root, where an embeddable Python's own modules shadow mypy's (Windows CPython)."""

    result: subprocess.CompletedProcess[str]
    errors: dict[str, list[str]]

    def of(self, name: str) -> list[str]:
        return self.errors.get(name, [])


SNIPPETS: dict[str, str] = {}  # file name -> code, filled below


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Check]]:
    """The module's three type-checker processes, started together: `mypy --strict` over the package and the
    snippets, the same for the other OS, and stubtest."""
    work = tmp_path_factory.mktemp("typing")
    names = []
    for name, code in {**SNIPPETS, **_readme_examples()}.items():
        (work / name).write_text(code)
        names.append(name)
    other_os = tmp_path_factory.mktemp("typing-other-os")
    platform = "linux" if sys.platform == "win32" else "win32"
    snippets = [arg for name in names for arg in ("-m", name.removesuffix(".py"))]
    started = {
        "strict": _Check(["mypy", "--strict", *_config(), "--cache-dir", _cache(tmp_path_factory, "strict"),
                          "-p", "mapioffline", *snippets], work),
        "other_os": _Check(["mypy", "--strict", *_config(), "--platform", platform, "--cache-dir",
                            _cache(tmp_path_factory, platform), "-p", "mapioffline"], other_os),
        "stubtest": _Check(["mypy.stubtest", "mapioffline", "--allowlist", os.fspath(ALLOWLIST),
                            *(["--mypy-config-file", os.fspath(PYPROJECT)] if PYPROJECT.exists() else [])],
                           tmp_path_factory.mktemp("stubtest")),
    }
    yield started
    for check in started.values():
        check.stop()


@pytest.fixture(scope="module")
def mypy_run(checks: dict[str, _Check]) -> MypyRun:
    result = checks["strict"].result()
    names = set(SNIPPETS) | set(_readme_examples())
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if ": error:" in line:
            errors.setdefault(Path(line.split(":")[0]).name if line.split(":")[0] in names else "mapioffline",
                              []).append(line)
    return MypyRun(result, errors)


def test_mypy_strict_on_the_package(mypy_run: MypyRun) -> None:
    # Exit 1 is misuse.py's errors; anything else (2: a crash or a usage error) would hide every result.
    assert mypy_run.result.returncode in (0, 1) and not mypy_run.result.stderr.strip(), mypy_run.result.stderr
    assert not mypy_run.of("mapioffline"), mypy_run.result.stdout


def test_mypy_strict_on_the_package_for_the_other_os(checks: dict[str, _Check]) -> None:
    """Linux and Windows, from either: code that calls a POSIX-only API on a path Windows also takes type-checks on
    Linux and fails on the users' OS (bench/bridge.py did)."""
    result = checks["other_os"].result()
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubtest(checks: dict[str, _Check]) -> None:
    result = checks["stubtest"].result()
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
    import ctypes
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
            assert_type(n.kind, NotifyKind)
            assert_type(n.old_state, State)
            assert_type(n.new_state, State)
            assert_type(n.raw_kind, int)
            assert_type(n.raw_old_state, int)
            assert_type(n.raw_new_state, int)
            assert_type(n.to_dict()["kind"], str)
            assert_type(n.to_dict()["kind_value"], int)
            assert_type(n.timestamp_ns, int)
            assert_type(sub.sink.drain(10), list[Notification])
            assert_type(sub.sink.stats, SinkStats)
            assert_type(sub.sink.stats.received, int)
            assert_type(sub.sink.last_state, State | None)
            assert_type(sub.sink.raw_last_state, int | None)
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
            assert_type(obj.state, State)
            assert_type(obj.raw_state, int)
        for pointer in (ctypes.c_void_p(address), ctypes.cast(address, ctypes.POINTER(ctypes.c_void_p))):
            OfflineObject.from_pointer(pointer).close()
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

# What a user writes with states and kinds: names, comparisons, a match on the kind, JSON. Must pass --strict
# without a cast or an isinstance (the reason the enums are never unions with int).
NAMES = """
    import json

    import mapioffline
    from mapioffline import Notification, NotifyKind, State

    def describe(n: Notification) -> str:
        match n.kind:
            case NotifyKind.STATECHANGE_START:
                phase = "about to change"
            case NotifyKind.STATECHANGE:
                phase = "changing"
            case NotifyKind.STATECHANGE_DONE:
                phase = "changed"
            case NotifyKind.UNKNOWN:
                phase = f"unknown kind {n.raw_kind}"
        return f"{n.kind.name.lower()}: {phase} {n.old_state.name} -> {n.new_state.name}"

    def going_offline(n: Notification) -> bool:
        return n.kind is NotifyKind.STATECHANGE_DONE and n.new_state is State.OFFLINE

    with mapioffline.open_offline("names", backend="embedded") as offline:
        current: State = offline.state
        print(current.name, str(offline.capabilities), f"{offline.state}")
        with offline.advise() as sub:
            offline.set_state(State.OFFLINE)
            for n in sub.sink.drain():
                print(describe(n), going_offline(n), json.dumps(n.to_dict()))
            last = sub.sink.last_state
            if last is not None:
                print(last.name.title())
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


SNIPPETS.update({"user.py": textwrap.dedent(USER_CODE), "names.py": textwrap.dedent(NAMES),
                 "misuse.py": textwrap.dedent(MISUSE)})


def _readme_examples() -> dict[str, str]:
    if not README.is_file():
        return {}
    fence = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return {f"readme_example_{i}.py": code
            for i, code in enumerate(fence.findall(README.read_text(encoding="utf-8")))}


def test_user_code_sees_precise_types(mypy_run: MypyRun) -> None:
    assert not mypy_run.of("user.py"), mypy_run.result.stdout


def test_user_code_with_names_of_states_and_kinds(mypy_run: MypyRun, tmp_path: Path) -> None:
    assert not mypy_run.of("names.py"), mypy_run.result.stdout
    # And it runs: the names it prints are the members' names.
    (tmp_path / "names.py").write_text(SNIPPETS["names.py"])
    ran = subprocess.run([sys.executable, "names.py"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "ONLINE OFFLINE|ONLINE ONLINE"
    assert [line.split(" {")[0] for line in lines[1:4]] == [
        "statechange_start: about to change ONLINE -> OFFLINE False",
        "statechange: changing ONLINE -> OFFLINE False",
        "statechange_done: changed ONLINE -> OFFLINE True",
    ]
    assert lines[4] == "Offline"


def test_readme_examples_pass_mypy_strict(mypy_run: MypyRun) -> None:
    if not README.is_file():
        pytest.skip("the README is in the source tree only")
    examples = _readme_examples()
    assert len(examples) >= 9
    failing = {name: mypy_run.of(name) for name in examples if mypy_run.of(name)}
    assert not failing, mypy_run.result.stdout


def test_misuse_is_caught_by_the_type_checker(mypy_run: MypyRun) -> None:
    errors = mypy_run.of("misuse.py")
    # Line 8 assigns to a read-only property (and an int where a NotifyKind belongs): mypy may say both.
    assert sorted({int(line.split(":")[1]) for line in errors}) == [3, 4, 5, 6, 8], mypy_run.result.stdout
