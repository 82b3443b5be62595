"""The command line: python -m mapioffline {demo,info} and the mapioffline console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import mapioffline
from mapioffline.__main__ import main


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mapioffline", *args], capture_output=True, text=True,
                          timeout=120)


def test_demo() -> None:
    result = cli("demo")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "embedded offline object" in out
    lines = out.splitlines()
    for consumer, token in (("blocking", 1), ("callback", 2), ("asyncio", 3)):
        mine = [line.split() for line in lines if line.split()[:1] == [consumer] and "latency" in line]
        events = [words for words in mine if f"token={token}" in words]
        assert len(events) == 12, out
        assert [words[1] for words in events] == ["STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"] * 4
    assert lines.count("-- set_state(OFFLINE, block=True)") == 1
    assert "summary: 36/36 notifications, final state ONLINE" in out
    assert "latency" in out


def test_demo_json_lines() -> None:
    result = cli("demo", "--json", "--profile", "json-demo")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = [json.loads(line) for line in result.stdout.splitlines()]  # every line is JSON
    *events, summary = records
    assert all(e["event"] == "notification" for e in events)
    assert len(events) == 36
    for consumer, token in (("blocking", 1), ("callback", 2), ("asyncio", 3)):
        mine = [e for e in events if e["consumer"] == consumer]
        assert len(mine) == 12
        assert {e["client_token"] for e in mine} == {token}
        assert [e["kind"] for e in mine] == ["STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"] * 4
        assert [e["new_state"] for e in mine[2::3]] == ["OFFLINE", "ONLINE", "OFFLINE", "ONLINE"]
        assert all(e["latency_us"] >= 0 and e["timestamp_ns"] > 0 for e in mine)
    assert summary["event"] == "summary"
    assert summary["expected"] == summary["received"] == 36
    assert summary["final_state"] == "ONLINE"
    for consumer in ("blocking", "callback", "asyncio"):
        stats = summary["consumers"][consumer]
        assert stats["count"] == 12
        assert 0 <= stats["median_us"] <= stats["max_us"]


def test_info() -> None:
    result = cli("info")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith(f"mapioffline {mapioffline.__version__} (core {mapioffline._core.CORE_VERSION})")
    assert "sizeof_MAPIOFFLINE_NOTIFY      24" in out
    assert "IID_IMAPIOfflineMgr            {42175607-FF3E-4790-BC18-66C8643E6424}" in out
    assert "IID_IMAPIOfflineNotify         {0317BDE5-FC29-44CD-8DCD-36125A3BE9EC}" in out
    assert "embedded  available" in out
    assert "outlook   not" in out  # never available outside Outlook's process, with the reason
    assert "outlook export n/a: no Outlook MAPI DLL" in out  # which HrOpenOfflineObj spelling: none loaded here


@pytest.mark.parametrize(("name", "loaded", "expected"), [
    ("HrOpenOfflineObj@20", True, "HrOpenOfflineObj@20 (found in the loaded Outlook MAPI DLL)"),
    ("HrOpenOfflineObj", True, "HrOpenOfflineObj (found in the loaded Outlook MAPI DLL)"),
    (None, True, "none: the loaded Outlook MAPI DLL exports neither"),
    (None, False, "n/a: no Outlook MAPI DLL"),
])
def test_info_outlook_export_line(name: str | None, loaded: bool, expected: str) -> None:
    # The states a Windows process can be in; only the last one occurs here (the loader's own answer for each
    # spelling is tested natively, under Wine, by outlook_loader_test's loaded/alternate modes).
    from mapioffline._demo import _outlook_export_line

    assert _outlook_export_line(name, loaded).startswith(expected)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["demo", "--help"], ["info", "--help"], ["bench", "--help"]])
def test_help(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mapioffline")
    assert result.stderr == ""


def test_help_lists_every_command() -> None:
    out = cli("--help").stdout
    for command in ("demo", "info", "bench"):
        assert command in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--profile", ""], "mapioffline: error: profile must be a non-empty profile name"),
    ],
)
def test_a_runtime_user_mistake_is_one_line_and_a_nonzero_exit(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [message]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [[], ["bogus"], ["demo", "--no-such-flag"], ["info", "extra"]])
def test_a_command_line_mistake_is_one_error_line_and_a_nonzero_exit(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("mapioffline: error: ")
    # argparse puts the usage line before it, as every command-line tool users know does.
    assert result.stderr.splitlines()[-1] == errors[0]


def test_main_returns_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    assert "backends" in capsys.readouterr().out
    assert main(["demo", "--profile", ""]) == 1
    assert capsys.readouterr().err == "mapioffline: error: profile must be a non-empty profile name\n"


def test_console_script_is_installed() -> None:
    scripts = Path(sysconfig.get_path("scripts"))
    candidates = [scripts / "mapioffline", scripts / "mapioffline.exe", Path(sys.executable).parent / "mapioffline",
                  Path(sys.executable).parent / "mapioffline.exe"]
    script = next((c for c in candidates if c.exists()), None)
    assert script is not None, f"no mapioffline script among {candidates}"
    result = subprocess.run([os.fspath(script), "info"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mapioffline ")
