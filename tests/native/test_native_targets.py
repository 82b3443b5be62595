"""Builds the native core for every target reachable here and runs its CTest suite.

Targets: Linux x86_64 (gcc, clang), ASan+UBSan, TSan, Linux i386 (-m32, stdcall), Windows x64 (mingw-w64 under
Wine) and Windows i686 (mingw-w64, build only: its layout asserts are compile-time). A target that cannot work on
this host (its probe build or run fails, see native_probe.py) is skipped with the reason, unless
MAPIOFFLINE_REQUIRE_ALL_TARGETS=1 (set by .ci/run): then it fails. Marked `native`: the wheel test command leaves
these out (they build from the source tree; CI runs them in their own job).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from native_probe import Toolchain, require
from wine_session import wine_session


EXT = Path(__file__).resolve().parents[2] / "ext"
SANITIZE = "-fno-omit-frame-pointer -fno-sanitize-recover=all"
# UBSan's vptr check assumes every object has C++ RTTI; COM objects written in C (our C99 test's sink) have none.
ASAN_FLAGS = f"-fsanitize=address,undefined -fno-sanitize=vptr {SANITIZE}"
TSAN_FLAGS = "-fsanitize=thread -Wno-tsan"
SMALL_STRESS = "100000"  # per producer, where each operation is slow (sanitizers, Wine)


@dataclass
class Target:
    name: str
    toolchain: Toolchain
    cmake_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    config: str = "RelWithDebInfo"  # passed to the build and to ctest -C, so multi-config generators work too

    @property
    def run(self) -> bool:
        return self.toolchain.run

    @property
    def wine(self) -> bool:
        return "wine" in self.toolchain.emulator


MINGW64 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++-posix", "-DCMAKE_CROSSCOMPILING_EMULATOR=wine"]
MINGW32 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=i686-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=i686-w64-mingw32-g++-posix"]

GCC = Toolchain("gcc", "g++", link_flags=("-pthread",))
TARGETS = [
    Target("linux-x86_64-gcc", GCC, ["-DCMAKE_C_COMPILER=gcc", "-DCMAKE_CXX_COMPILER=g++"]),
    Target("linux-x86_64-clang", Toolchain("clang", "clang++", link_flags=("-pthread",)),
           ["-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++"]),
    Target("linux-x86_64-asan-ubsan", Toolchain("gcc", "g++", tuple(ASAN_FLAGS.split()), ("-pthread",)),
           ["-DCMAKE_C_COMPILER=gcc", "-DCMAKE_CXX_COMPILER=g++", "-DCMAKE_BUILD_TYPE=Debug",
            f"-DCMAKE_C_FLAGS={ASAN_FLAGS}", f"-DCMAKE_CXX_FLAGS={ASAN_FLAGS}"],
           {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "ASAN_OPTIONS": "detect_leaks=1"}, config="Debug"),
    Target("linux-x86_64-tsan", Toolchain("gcc", "g++", tuple(TSAN_FLAGS.split()), ("-pthread",)),
           ["-DCMAKE_C_COMPILER=gcc", "-DCMAKE_CXX_COMPILER=g++", "-DCMAKE_BUILD_TYPE=Debug",
            f"-DCMAKE_C_FLAGS={TSAN_FLAGS}", f"-DCMAKE_CXX_FLAGS={TSAN_FLAGS}"],
           {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "TSAN_OPTIONS": "halt_on_error=1"}, config="Debug"),
    Target("linux-i386", Toolchain("gcc", "g++", ("-m32",), ("-pthread",)),
           ["-DCMAKE_C_COMPILER=gcc", "-DCMAKE_CXX_COMPILER=g++", "-DCMAKE_C_FLAGS=-m32", "-DCMAKE_CXX_FLAGS=-m32"]),
    Target("windows-x64-wine", Toolchain("x86_64-w64-mingw32-gcc-posix", "x86_64-w64-mingw32-g++-posix",
                                         link_flags=("-static",), emulator=("wine",), extra_tools=("wine",)),
           MINGW64, {"MAPIOFFLINE_STRESS_N": SMALL_STRESS, "WINEDEBUG": "-all"}),
    Target("windows-i686-build-only", Toolchain("i686-w64-mingw32-gcc-posix", "i686-w64-mingw32-g++-posix",
                                                link_flags=("-static",), run=False), MINGW32),
]
SUITES = {"test_sink", "test_offline_object", "test_stress", "test_channel", "test_c_abi", "test_doc_client"}


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-6000:]}"
    return output


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_native_target(target: Target, tmp_path_factory: pytest.TempPathFactory) -> None:
    build = tmp_path_factory.mktemp(target.name)
    env = {**os.environ, **target.env}
    if target.wine:
        env.setdefault("WINEPREFIX", str(tmp_path_factory.getbasetemp() / "wineprefix"))
    require(target.toolchain, target.name, env)
    _run(["cmake", "-S", str(EXT), "-B", str(build), *target.cmake_args], env)
    _run(["cmake", "--build", str(build), "--config", target.config, "-j", str(os.cpu_count() or 2)], env)
    if not target.run:
        executables = {p.stem for p in build.glob("tests/*.exe")}
        assert executables == SUITES, executables  # every test compiled, so every layout assert held
        return
    # The Outlook loader's Wine tests run in test_outlook_loader_wine.py (they need registry fixtures).
    ctest = ["ctest", "--test-dir", str(build), "-C", target.config, "--output-on-failure", "-V",
             "-E", r"^outlook_loader\."]
    if target.wine:
        with wine_session(env):
            output = _run(ctest, env)
    else:
        output = _run(ctest, env)
    suites = re.findall(r"(test_\w+): (\d+) checks, (\d+) failures", output)
    assert {name for name, _, _ in suites} == SUITES
    assert all(failures == "0" for _, _, failures in suites)
    print(f"{target.name}: " + ", ".join(f"{name} {checks} checks" for name, checks, _ in suites))
