"""Building ext/ with CMake for the native tests: the toolchain arguments of the mingw-w64 targets and one build
call, shared by the tests under tests/native/."""

from __future__ import annotations

import subprocess
from pathlib import Path

EXT = Path(__file__).resolve().parents[1] / "ext"
MINGW64 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++-posix"]
MINGW32 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=i686-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=i686-w64-mingw32-g++-posix"]
WINE_EMULATOR = ["-DCMAKE_CROSSCOMPILING_EMULATOR=wine"]


def cmake_build(build: Path, cmake_args: list[str], targets: list[str]) -> None:
    """Configures ext/ (tests on) into ``build`` and builds ``targets`` (niced: the machine is shared)."""
    for cmd in (["cmake", "-S", str(EXT), "-B", str(build), "-DBUILD_TESTING=ON", *cmake_args],
                ["cmake", "--build", str(build), "-j", "2", "--target", *targets]):
        result = subprocess.run(["nice", *cmd], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
