"""The channel's native peers across processes: a C++ publisher of the embedded object and C99 subscribers
(ext/tests/bridge), built for Linux and, with mingw-w64, for Windows and run under Wine, where the Windows OS layer
(named mappings, semaphores, process handles) does the work. Publisher stop and death end the subscribers' streams.
Missing tools skip, unless MAPIOFFLINE_REQUIRE_ALL_TARGETS=1 (set by .ci/run): then they fail."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest
from line_program import Program
from native_build import MINGW64, cmake_build
from native_probe import require_tools
from wine_session import wine_session

# Builds from the source tree with other toolchains and runs Windows code under Wine: minutes. Left out by the
# fast path and the wheel test command (-m "not native and not model").

PEERS = ["bridge_publisher_peer", "bridge_subscriber_peer"]


def _scenario(prefix: list[str], build: Path, suffix: str, env: dict[str, str], death_bound_s: float) -> None:
    profile = f"native-{uuid.uuid4().hex[:12]}"
    tools = build / "tests" / "bridge"

    def start(name: str) -> Program:
        program = Program([*prefix, str(tools / (name + suffix)), profile], env)
        started.append(program)
        return program

    started: list[Program] = []
    try:
        publisher = start("bridge_publisher_peer")
        assert publisher.line() == "ready"
        subscribers = [start("bridge_subscriber_peer") for _ in range(2)]
        for s in subscribers:
            assert s.line() == "subscribed 2"  # ONLINE
        assert publisher.send("offline") == "ok 00000000"
        for s in subscribers:
            assert [s.line() for _ in range(3)] == ["1 2 1 0", "2 2 1 0", "3 2 1 0"]  # START, CHANGE, DONE
        # Death: the publisher is killed (no clean-up runs); every subscriber's stream ends, PUBLISHER_GONE.
        killed = time.monotonic()
        publisher.process.send_signal(signal.SIGKILL)
        for s in subscribers:
            assert s.line() == "end 2"
        elapsed = time.monotonic() - killed
        assert elapsed < death_bound_s, f"death noticed after {elapsed:.2f} s"
        # A new publisher replaces the dead one; a clean stop ends its subscriber's stream as well.
        replacement = start("bridge_publisher_peer")
        assert replacement.line() == "ready"
        follower = start("bridge_subscriber_peer")
        assert follower.line() == "subscribed 2"
        assert replacement.send("offline") == "ok 00000000"
        assert follower.line() == "1 2 1 0"
        assert replacement.send("stop") == "stopped"
        assert [follower.line() for _ in range(3)] == ["2 2 1 0", "3 2 1 0", "end 2"]
    finally:
        for program in started:
            program.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux peers")
def test_native_peers_linux(tmp_path: Path) -> None:
    require_tools(["cmake", "g++"])
    cmake_build(tmp_path / "build", [], PEERS)
    _scenario([], tmp_path / "build", "", dict(os.environ), death_bound_s=1.0)


def test_native_peers_windows_under_wine(tmp_path: Path) -> None:
    require_tools(["cmake", "x86_64-w64-mingw32-g++-posix", "wine"])
    cmake_build(tmp_path / "build", MINGW64, PEERS)
    env = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(tmp_path / "wineprefix")}
    with wine_session(env):
        # Wine reports a process's death through wineserver: give it a little more than a native system needs.
        _scenario(["wine"], tmp_path / "build", ".exe", env, death_bound_s=5.0)
