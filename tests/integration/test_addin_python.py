"""Outlook's path end to end with the consumer our users write: the add-in DLL this installation ships, inside the
fake Outlook host (ext/tests/addin/fake_outlook_host.cpp: registers the add-in, creates it by ProgID, hands it a
fake Application with the stand-in olmapi32.dll loaded), publishes Outlook's state; a Windows Python process
(`python -m mapioffline watch --json`) subscribes through the bridge and sees every notification, then the end of the
stream when Outlook shuts down. Runs under .ci/windows-python, which builds the host and sets
MAPIOFFLINE_FAKE_OUTLOOK to its folder."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from line_program import LINE_TIMEOUT_S, Program

from mapioffline import _addin

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="the Outlook add-in runs on Windows")
KINDS = ("STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE")


@pytest.fixture
def fake_outlook() -> Path:
    folder = os.environ.get("MAPIOFFLINE_FAKE_OUTLOOK")
    if not folder:
        pytest.skip("needs the fake Outlook host built from ext/tests/addin (.ci/windows-python sets "
                    "MAPIOFFLINE_FAKE_OUTLOOK to its folder)")
    return Path(folder)


def test_the_shipped_addin_publishes_outlooks_state_to_a_python_subscriber(fake_outlook: Path) -> None:
    addin = _addin.dll_paths()["64" if sys.maxsize > 2**32 else "32"]
    profile = f"Outlook-{uuid.uuid4().hex[:8]}"
    host = Program([os.fspath(fake_outlook / "fake_outlook_host.exe"), os.fspath(addin),
                  os.fspath(fake_outlook / "standin" / "olmapi32.dll"), profile], stdin=True)
    watch: Program | None = None
    try:
        assert host.line() in ("created com", "created hkcu")  # hkcu: Wine's HKCR does not merge the user's classes
        assert host.line().startswith("connected ")
        assert host.line() == "ready"
        watch = Program([sys.executable, "-m", "mapioffline", "watch", "--profile", profile, "--json"], stdin=False)
        subscribed = json.loads(watch.line())
        assert subscribed["event"] == "subscribed" and subscribed["state"] == "ONLINE", subscribed
        assert host.send("offline") == "ok 00000000"
        got = [json.loads(watch.line()) for _ in range(3)]
        assert [(n["event"], n["kind"], n["old_state"], n["new_state"]) for n in got] == [
            ("notification", kind, "ONLINE", "OFFLINE") for kind in KINDS], got
        assert host.send("online") == "ok 00000000"
        got = [json.loads(watch.line()) for _ in range(3)]
        assert [(n["kind"], n["old_state"], n["new_state"]) for n in got] == [
            (kind, "OFFLINE", "ONLINE") for kind in KINDS], got
        # Outlook shuts down: the add-in unpublishes, the subscriber's stream ends (watch's status 4).
        assert host.send("shutdown") == "bye"
        assert json.loads(watch.line()) == {"event": "publisher_gone", "profile": profile}
        assert watch.process.wait(LINE_TIMEOUT_S) == 4
        assert host.process.wait(LINE_TIMEOUT_S) == 0
    finally:
        host.close()
        if watch is not None:
            watch.close()
