"""Can a native target WORK on this host? A probe build (and run), not only a look for the tool's name.

The native-target tests skip when their probe fails (and fail instead under MAPIOFFLINE_REQUIRE_ALL_TARGETS=1, as
.ci/run sets): a tool can be on PATH and still unusable, e.g. manylinux images have gcc but no libasan to link
ASan programs, windows-latest has a gcc that is not our cross compiler, and a wrapper script can simply fail. Each
probe compiles a small C and C++ program with the target's compilers and flags (threads and atomics, as the core
uses) and, for targets that run their tests, runs it (under Wine for Windows). Results are cached per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_PROGRAM_CXX = """#include <atomic>
#include <cstdio>
#include <thread>
int main() {
  std::atomic<int> n{0};
  std::thread t([&] { n.fetch_add(1); });
  t.join();
  std::printf("probe %d\\n", n.load());
  return n.load() == 1 ? 0 : 1;
}
"""
_PROGRAM_C = "int probe_c(void) { return 42; }\n"


@dataclass(frozen=True)
class Toolchain:
    """What a native target needs: its C and C++ compilers, their flags, and how to run what they build."""

    cc: str
    cxx: str
    flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    emulator: tuple[str, ...] = ()  # e.g. ("wine",): programs run through it
    run: bool = True
    extra_tools: tuple[str, ...] = field(default=())  # also needed (objdump, wineserver...), checked by --version


_cache: dict[Toolchain, str | None] = {}


def _attempt(cmd: list[str], env: dict[str, str] | None, timeout: float) -> str | None:
    """None when cmd ran and exited 0; else why not, in one line."""
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except FileNotFoundError:
        return f"{cmd[0]} not found"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{' '.join(cmd)}: {error}"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return f"`{' '.join(cmd)}` exited {proc.returncode}: {last[0][:200]}"
    return None


def probe(toolchain: Toolchain, env: dict[str, str] | None = None) -> str | None:
    """None when the toolchain builds (and runs) a program here; else the reason it cannot."""
    if toolchain in _cache:
        return _cache[toolchain]
    reason = _probe(toolchain, env)
    _cache[toolchain] = reason
    return reason


def _probe(toolchain: Toolchain, env: dict[str, str] | None) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"the native targets are built from a Linux host (this is {sys.platform})"
    for tool in ("cmake", "ctest", *toolchain.extra_tools):
        if shutil.which(tool) is None:
            return f"{tool} not found"
        reason = _attempt([tool, "--version"], env, 60)
        if reason:
            return reason
    with tempfile.TemporaryDirectory(prefix="mapioffline-probe-") as tmp:
        folder = Path(tmp)
        (folder / "probe.cpp").write_text(_PROGRAM_CXX)
        (folder / "probe_c.c").write_text(_PROGRAM_C)
        reason = _attempt([toolchain.cc, *toolchain.flags, "-c", str(folder / "probe_c.c"), "-o",
                           str(folder / "probe_c.o")], env, 120)
        if reason:
            return reason
        exe = folder / "probe.exe"
        reason = _attempt([toolchain.cxx, *toolchain.flags, str(folder / "probe.cpp"), "-o", str(exe),
                           *toolchain.link_flags], env, 180)
        if reason:
            return reason
        if toolchain.run:
            # Wine creates its prefix on the first run; that can take a minute on a loaded machine.
            reason = _attempt([*toolchain.emulator, str(exe)], env, 300)
            if reason:
                return reason
    return None


def require(toolchain: Toolchain, what: str, env: dict[str, str] | None = None) -> None:
    """Skips the test (fails it under MAPIOFFLINE_REQUIRE_ALL_TARGETS=1) unless the toolchain works here."""
    reason = probe(toolchain, env)
    if reason is None:
        return
    if os.environ.get("MAPIOFFLINE_REQUIRE_ALL_TARGETS") == "1":
        pytest.fail(f"{what}: {reason} (MAPIOFFLINE_REQUIRE_ALL_TARGETS=1)")
    pytest.skip(f"{what} cannot work here: {reason}")


def require_tools(tools: list[str]) -> None:
    """Skips (fails under MAPIOFFLINE_REQUIRE_ALL_TARGETS=1) when a tool is missing or cannot even report its
    version: a tool on PATH that cannot work (a wheel-test machine's stub) is not a reason to fail."""
    for tool in tools:
        reason = None
        if shutil.which(tool) is None:
            reason = f"{tool} not found"
        elif subprocess.run([tool, "--version"], capture_output=True, timeout=300).returncode != 0:
            reason = f"`{tool} --version` failed"
        if reason is not None:
            if os.environ.get("MAPIOFFLINE_REQUIRE_ALL_TARGETS") == "1":
                pytest.fail(f"{reason} (MAPIOFFLINE_REQUIRE_ALL_TARGETS=1)")
            pytest.skip(f"{reason}: this target cannot work here")
