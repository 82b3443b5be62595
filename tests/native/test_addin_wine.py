"""The Outlook add-in (ext/addin) under Wine, hosted by a fake Outlook (ext/tests/addin/fake_outlook_host.cpp):
the host registers the add-in with its DllRegisterServer, creates it by ProgID, hands it a fake Application whose
Session.CurrentProfileName answers, with the stand-in olmapi32.dll loaded, then changes the state; a second Wine
process (the C99 subscriber of ext/tests/bridge) sees the state and every notification; shutting the host down, or
killing it, ends the subscriber's stream. With the user's AllowSetState value, the subscriber's set_state requests
run on the host's main thread (an STA pumping messages, as Outlook's), never with BLOCK there; without it they are
refused; a request waiting when the host shuts down ends with an error. The i686 add-in is built and its exports
checked.
Missing tools skip, unless MAPIOFFLINE_REQUIRE_ALL_TARGETS=1 (set by .ci/run): then they fail."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from line_program import LINE_TIMEOUT_S, Program
from native_build import MINGW32, MINGW64, cmake_build
from native_probe import require_tools
from wine_session import wine_session

# Builds from the source tree with other toolchains and runs Windows code under Wine: minutes. Left out by the
# fast path and the wheel test command (-m "not native and not model").

ADDIN_KEY = r"HKCU\Software\Microsoft\Office\Outlook\Addins\MapiOffline.OutlookAddin"
SETTINGS_KEY = r"HKCU\Software\mapioffline\Addin"  # AllowSetState: what `addin install --allow-set-state` writes
# HRESULTs as the C subscriber prints them
S_OK = "00000000"
MAPI_E_NO_SUPPORT = "80040102"
PUBLISHER_GONE = "80040a01"  # MAPIOFFLINE_E_PUBLISHER_GONE
START, CHANGE, DONE = "1", "2", "3"


def _windows_path(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


@pytest.fixture(scope="module")
def wine_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    require_tools(["cmake", "x86_64-w64-mingw32-g++-posix", "wine"])
    build = tmp_path_factory.mktemp("addin-x64")
    cmake_build(build, MINGW64, ["mapioffline_addin", "fake_outlook_host", "olmapi32_recording", "bridge_subscriber_peer"])
    env = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(tmp_path_factory.mktemp("wine") / "prefix")}
    return build, env


def _start_host(build: Path, env: dict[str, str], profile: str) -> Program:
    host = Program(["wine", str(build / "tests" / "addin" / "fake_outlook_host.exe"),
                    _windows_path(build / "addin" / "mapioffline_addin.dll"),
                    _windows_path(build / "tests" / "addin" / "standin" / "olmapi32.dll"), profile], env)
    created = host.line()
    # "com" on Windows; Wine's HKEY_CLASSES_ROOT does not merge the user's classes, so the host resolves the
    # ProgID through the HKCU keys the add-in registered.
    assert created in ("created com", "created hkcu"), created
    connected = host.line()
    assert re.fullmatch(r"connected \d+", connected), connected
    assert int(connected.split()[1]) < 100_000  # OnConnection well under Outlook's 100 ms budget... and then some
    assert host.line() == "ready"
    return host


def _reg_query(env: dict[str, str], key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["wine", "reg", "query", key], env=env, capture_output=True, text=True, timeout=120)


def _reg(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(["wine", "reg", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_addin_publishes_outlook_state_to_another_process(wine_build: tuple[Path, dict[str, str]]) -> None:
    build, env = wine_build
    subscriber_exe = str(build / "tests" / "bridge" / "bridge_subscriber_peer.exe")
    with wine_session(env):
        profile = f"Outlook-{uuid.uuid4().hex[:8]}"
        host = _start_host(build, env, profile)
        subscriber = Program(["wine", subscriber_exe, profile], env)
        try:
            assert "LoadBehavior" in _reg_query(env, ADDIN_KEY).stdout  # registered per user while it runs
            assert subscriber.line() == "subscribed 2"  # the state Outlook's object reports: ONLINE
            assert host.send("offline") == "ok 00000000"
            assert [subscriber.line() for _ in range(3)] == ["1 2 1 0", "2 2 1 0", "3 2 1 0"]
            assert host.send("online") == "ok 00000000"
            assert [subscriber.line() for _ in range(3)] == ["1 1 2 0", "2 1 2 0", "3 1 2 0"]
            # Outlook shuts down: OnBeginShutdown/OnDisconnection unpublish; the subscriber's stream ends.
            assert host.send("shutdown") == "bye"
            assert subscriber.line() == "end 2"
            assert host.process.wait(LINE_TIMEOUT_S) == 0
            assert _reg_query(env, ADDIN_KEY).returncode != 0  # DllUnregisterServer removed the keys
        finally:
            host.close()
            subscriber.close()

        # Outlook killed: no clean-up runs in it; the subscriber sees the process die.
        profile = f"Outlook-{uuid.uuid4().hex[:8]}"
        host = _start_host(build, env, profile)
        subscriber = Program(["wine", subscriber_exe, profile], env)
        try:
            assert subscriber.line() == "subscribed 2"
            host.process.send_signal(signal.SIGKILL)
            assert subscriber.line() == "end 2"
        finally:
            host.close()
            subscriber.close()


def test_addin_runs_set_state_requests_on_outlooks_thread_when_allowed(
        wine_build: tuple[Path, dict[str, str]]) -> None:
    build, env = wine_build
    subscriber_exe = str(build / "tests" / "bridge" / "bridge_subscriber_peer.exe")
    with wine_session(env):
        _reg(env, "add", SETTINGS_KEY, "/v", "AllowSetState", "/t", "REG_DWORD", "/d", "1", "/f")
        try:
            profile = f"Outlook-{uuid.uuid4().hex[:8]}"
            host = _start_host(build, env, profile)
            requester = Program(["wine", subscriber_exe, profile, "requests"], env)
            try:
                assert requester.line() == "subscribed 2"
                assert host.send("calls") == "calls 0 none 00000000"
                # Blocking: answered only once its DONE had reached the subscriber's sink.
                assert requester.send("block offline") == f"set {S_OK} seen {START} {CHANGE} {DONE}"
                # Run by the add-in's window procedure on the host's main thread (the STA), without BLOCK.
                assert host.send("calls") == "calls 1 main 00000000"
                assert requester.send("block offline") == f"set {S_OK} seen"  # a no-op: no notification, no wait
                assert host.send("calls") == "calls 2 main 00000000"
                # Not blocking: accepted, then the notifications follow.
                assert requester.send("async online") == f"set {S_OK}"
                assert requester.line() == f"got {START} {CHANGE} {DONE}"
                assert host.send("calls") == "calls 3 main 00000000"

                # Outlook busy (not pumping) while a blocking request waits for it, then shut down: the request is
                # answered with an error, the host is not held up, nothing ran on any other thread.
                assert host.send("hold") == "holding"
                assert requester.process.stdin is not None
                requester.process.stdin.write("block offline\n")
                requester.process.stdin.flush()
                assert host.line() == "sent"  # the add-in's message is waiting in the host's queue
                assert host.send("shutdown") == "bye"
                assert requester.line() == f"set {PUBLISHER_GONE} seen"
                assert host.process.wait(LINE_TIMEOUT_S) == 0
            finally:
                host.close()
                requester.close()
        finally:
            _reg(env, "delete", SETTINGS_KEY, "/f")

        # Without the value (the default, and what DllRegisterServer leaves): refused, nothing called.
        profile = f"Outlook-{uuid.uuid4().hex[:8]}"
        host = _start_host(build, env, profile)
        requester = Program(["wine", subscriber_exe, profile, "requests"], env)
        try:
            assert requester.line() == "subscribed 2"
            assert requester.send("block offline") == f"set {MAPI_E_NO_SUPPORT} seen"
            assert requester.send("async offline") == f"set {MAPI_E_NO_SUPPORT}"
            assert host.send("calls") == "calls 0 none 00000000"
            assert host.send("shutdown") == "bye"
        finally:
            host.close()
            requester.close()


def test_addin_builds_for_x86_with_undecorated_com_exports(tmp_path: Path) -> None:
    require_tools(["cmake", "i686-w64-mingw32-g++-posix", "i686-w64-mingw32-objdump"])
    cmake_build(tmp_path / "build", MINGW32, ["mapioffline_addin"])
    dll = tmp_path / "build" / "addin" / "mapioffline_addin.dll"
    dump = subprocess.run(["i686-w64-mingw32-objdump", "-p", str(dll)], capture_output=True, text=True).stdout
    for name in ("DllGetClassObject", "DllCanUnloadNow", "DllRegisterServer", "DllUnregisterServer"):
        assert re.search(rf"\] {name}$", dump, re.M), name  # regsvr32 and COM look these names up exactly
    imported = set(re.findall(r"DLL Name: (\S+)", dump))
    assert not any(re.match(r"lib(stdc\+\+|gcc|winpthread)", d, re.I) for d in imported), imported
