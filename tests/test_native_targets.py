"""Builds the native core for every target reachable here and runs its CTest suite.

Targets: Linux x86_64 (gcc, clang), ASan+UBSan, TSan, Linux i386 (-m32, stdcall), Windows x64 (mingw-w64 under
Wine) and Windows i686 (mingw-w64, build only: its layout asserts are compile-time). A target whose toolchain is
missing is skipped with the reason, unless MAPIOFFLINE_REQUIRE_ALL_TARGETS=1 (set by .ci/run): then it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from wine_session import wine_session

EXT = Path(__file__).resolve().parent.parent / "ext"
SANITIZE = "-fno-omit-frame-pointer -fno-sanitize-recover=all"
# UBSan's vptr check assumes every object has C++ RTTI; COM objects written in C (our C99 test's sink) have none.
ASAN_FLAGS = f"-fsanitize=address,undefined -fno-sanitize=vptr {SANITIZE}"
TSAN_FLAGS = "-fsanitize=thread -Wno-tsan"
SMALL_STRESS = "100000"  # per producer, where each operation is slow (sanitizers, Wine)


@dataclass
class Target:
    name: str
    tools: list[str]
    cmake_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    run: bool = True


MINGW64 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++-posix", "-DCMAKE_CROSSCOMPILING_EMULATOR=wine"]
MINGW32 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=i686-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=i686-w64-mingw32-g++-posix"]

TARGETS = [
    Target("linux-x86_64-gcc", ["gcc", "g++"], ["-DCMAKE_C_COMPILER=gcc", "-DCMAKE_CXX_COMPILER=g++"]),
    Target("linux-x86_64-clang", ["clang", "clang++"], ["-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++"]),
    Target("linux-x86_64-asan-ubsan", ["gcc", "g++"],
           ["-DCMAKE_BUILD_TYPE=Debug", f"-DCMAKE_C_FLAGS={ASAN_FLAGS}", f"-DCMAKE_CXX_FLAGS={ASAN_FLAGS}"],
           {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "ASAN_OPTIONS": "detect_leaks=1"}),
    Target("linux-x86_64-tsan", ["gcc", "g++"],
           ["-DCMAKE_BUILD_TYPE=Debug", f"-DCMAKE_C_FLAGS={TSAN_FLAGS}", f"-DCMAKE_CXX_FLAGS={TSAN_FLAGS}"],
           {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "TSAN_OPTIONS": "halt_on_error=1"}),
    Target("linux-i386", ["gcc", "g++"], ["-DCMAKE_C_FLAGS=-m32", "-DCMAKE_CXX_FLAGS=-m32"]),
    Target("windows-x64-wine", ["x86_64-w64-mingw32-g++-posix", "wine"], MINGW64,
           {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "WINEDEBUG": "-all"}),
    Target("windows-i686-build-only", ["i686-w64-mingw32-g++-posix"], MINGW32, run=False),
]


def _missing(target: Target) -> str | None:
    for tool in ["cmake", *target.tools]:
        if shutil.which(tool) is None:
            return f"{tool} not found"
    if target.name == "linux-i386" and not _can_compile_m32():
        return "g++ -m32 cannot link (install g++-multilib)"
    return None


def _can_compile_m32() -> bool:
    probe = subprocess.run(["g++", "-m32", "-x", "c++", "-", "-o", os.devnull, "-pthread"],
                           input=b"int main(){}", capture_output=True)
    return probe.returncode == 0


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-6000:]}"
    return output


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_native_target(target: Target, tmp_path_factory: pytest.TempPathFactory) -> None:
    reason = _missing(target)
    if reason:
        if os.environ.get("MAPIOFFLINE_REQUIRE_ALL_TARGETS") == "1":
            pytest.fail(f"{target.name}: {reason} (MAPIOFFLINE_REQUIRE_ALL_TARGETS=1)")
        pytest.skip(f"{target.name}: {reason}")
    build = tmp_path_factory.mktemp(target.name)
    env = {**os.environ, **target.env}
    if "wine" in target.tools:
        env.setdefault("WINEPREFIX", str(tmp_path_factory.getbasetemp() / "wineprefix"))
    _run(["cmake", "-S", str(EXT), "-B", str(build), *target.cmake_args], env)
    _run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)], env)
    if not target.run:
        executables = list(build.glob("tests/*.exe"))
        assert len(executables) == 5, executables  # every test compiled, so every layout assert held
        return
    # The Outlook loader's Wine tests run in test_outlook_loader_wine.py (they need registry fixtures).
    ctest = ["ctest", "--test-dir", str(build), "--output-on-failure", "-V", "-E", r"^outlook_loader\."]
    if "wine" in target.tools:
        with wine_session(env):
            output = _run(ctest, env)
    else:
        output = _run(ctest, env)
    suites = re.findall(r"(test_\w+): (\d+) checks, (\d+) failures", output)
    assert {name for name, _, _ in suites} == {"test_sink", "test_offline_object", "test_stress", "test_channel", "test_c_abi"}
    assert all(failures == "0" for _, _, failures in suites)
    print(f"{target.name}: " + ", ".join(f"{name} {checks} checks" for name, checks, _ in suites))
