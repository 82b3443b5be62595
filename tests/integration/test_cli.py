"""The command line: python -m mapioffline {demo,info} and the mapioffline console script."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mapioffline
from mapioffline import _bridge
from mapioffline.bench import inprocess as _bench
from mapioffline.__main__ import EXIT_STATUSES, main
from mapioffline._names import shown


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
    every_field = {"event", "step", "set_state", "consumer", "kind", "kind_value", "client_token", "mask",
                   "old_state", "old_state_value", "new_state", "new_state_value", "timestamp_ns", "dropped_before",
                   "latency_us"}
    assert all(set(e) == every_field for e in events)
    changes = [("OFFLINE", True), ("ONLINE", False), ("OFFLINE", False), ("ONLINE", True)]
    for step, (state, block) in enumerate(changes, start=1):
        mine = [e for e in events if e["step"] == step]
        assert len(mine) == 9  # 3 kinds x 3 consumers
        assert all(e["set_state"] == {"state": state, "block": block} for e in mine)
        assert all(e["new_state"] == state and e["new_state_value"] == (1 if state == "OFFLINE" else 2) for e in mine)
        assert all(e["mask"] == 3 and e["dropped_before"] == 0 for e in mine)
        assert sorted(e["kind_value"] for e in mine) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    for consumer, token in (("blocking", 1), ("callback", 2), ("asyncio", 3)):
        mine = [e for e in events if e["consumer"] == consumer]
        assert len(mine) == 12
        assert {e["client_token"] for e in mine} == {token}
        assert [e["kind"] for e in mine] == ["STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"] * 4
        assert [e["new_state"] for e in mine[2::3]] == ["OFFLINE", "ONLINE", "OFFLINE", "ONLINE"]
        assert all(e["latency_us"] >= 0 and e["timestamp_ns"] > 0 for e in mine)
    assert summary["event"] == "summary"
    assert summary["expected"] == summary["received"] == 36
    assert summary["final_state"] == "ONLINE" and summary["final_state_value"] == 2
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
        (["demo", "--profile", ""], "mapioffline: error: invalid profile name '': a profile name must not be empty (E_INVALIDARG, 0x80070057)"),
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
    assert capsys.readouterr().err == "mapioffline: error: invalid profile name '': a profile name must not be empty (E_INVALIDARG, 0x80070057)\n"


def test_console_script_is_installed() -> None:
    scripts = Path(sysconfig.get_path("scripts"))
    candidates = [scripts / "mapioffline", scripts / "mapioffline.exe", Path(sys.executable).parent / "mapioffline",
                  Path(sys.executable).parent / "mapioffline.exe"]
    script = next((c for c in candidates if c.exists()), None)
    assert script is not None, f"no mapioffline script among {candidates}"
    result = subprocess.run([os.fspath(script), "info"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mapioffline ")


# -- for scripts: --version, info --json, bench --json -, exit statuses ---------------------------------------------


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0 and result.stderr == ""
    core = mapioffline._core
    assert result.stdout == f"mapioffline {mapioffline.__version__} (core {core.CORE_VERSION}, header {core.HEADER_VERSION})\n"


def test_info_json() -> None:
    result = cli("info", "--json")
    assert result.returncode == 0 and result.stderr == ""
    info = json.loads(result.stdout)
    assert (info["mapioffline"], info["core"]) == (mapioffline.__version__, mapioffline._core.CORE_VERSION)
    assert info["abi"]["sizeof_MAPIOFFLINE_NOTIFY"] == 24
    assert info["abi"]["IID_IMAPIOfflineMgr"] == "{42175607-FF3E-4790-BC18-66C8643E6424}"
    assert info["abi"]["RECORD_FORMAT"] == "<6IQ"
    assert {k: v for k, v in info["abi"].items() if not k.startswith("RECORD_")} == mapioffline._core.abi_info()
    assert info["backends"]["embedded"] == "available"
    assert info["backends"]["outlook"].startswith("not")
    assert info["python"]["version"] == sys.version.split()[0]
    # The same export line as the text output (no Outlook MAPI DLL in a test process).
    assert info["outlook_export"] is None
    assert info["outlook_export_status"].startswith("n/a: no Outlook MAPI DLL")


def test_help_documents_every_exit_status() -> None:
    out = cli("--help").stdout
    assert EXIT_STATUSES in out
    for status in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {status} " in out


def test_readme_documents_the_same_exit_statuses() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    if not readme.is_file():
        pytest.skip("runs from the source tree")
    assert EXIT_STATUSES in readme.read_text(encoding="utf-8")


def _results(*, quick: bool, dropped: int) -> dict[str, object]:
    """A results dict shaped like _bench.collect()'s, without a minute of measuring."""
    def run(per_s: float, dropped: int = 0) -> dict[str, float]:
        return {"per_s": per_s, "ns_per_item": 1e9 / per_s, "sent": 1000, "delivered": 1000 - dropped,
                "dropped": dropped}

    latency = {"p50_us": 10.0, "p99_us": 20.0}
    return {
        "machine": _bench.machine(), "quick": quick,
        "delivery": {"ours_objects_1p": run(9.4e6, dropped), "ours_objects_2p": run(8e6, 12), "ours_raw_1p": run(3e7),
                     "ctypes_sink": run(7.6e4), "simplequeue": run(1e6)},
        "drain_prefilled_ns": {"objects": 50.0, "raw": 2.0},
        "notify_busy_ns": {"ours_idle": 20.0, "ours_busy": 21.0, "ctypes_idle": 5000.0, "ctypes_busy": 90000.0},
        "latency": {k: latency for k in ("get", "get_spin", "aget", "callback", "condvar_native", "simplequeue")},
        "state_queries": {"OfflineObject.state_ns": 40.0, "Sink.last_state_ns": 30.0},
        "fan_out_us": {"1": 5.0, "10": 9.0}, "advise_cycle_us": 3.0, "idle_cpu_ms_per_s": 0.01,
    }


def test_bench_json_dash_writes_json_to_stdout_and_the_table_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _results(quick=True, dropped=405)
    monkeypatch.setattr(_bench, "collect", lambda quick: results)
    assert main(["bench", "--quick", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == results  # stdout is the JSON and nothing else
    assert "delivery into Notification objects, 1 producer" in err and "[quick]" in err
    assert not Path("-").exists()


def test_bench_json_file_keeps_the_table_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = _results(quick=False, dropped=0)
    monkeypatch.setattr(_bench, "collect", lambda quick: results)
    assert main(["bench", "--json", os.fspath(tmp_path / "r.json")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("mapioffline ") and "[quick]" not in out
    assert json.loads((tmp_path / "r.json").read_text()) == results


def test_every_rate_the_bench_prints_says_how_many_it_dropped() -> None:
    table = _bench._table(_results(quick=False, dropped=405))
    rates = [line for line in table.splitlines() if "M/s" in line or "ns/record" in line]
    assert len(rates) == 7
    assert all("dropped " in line for line in rates), table
    headline = next(line for line in rates if "1 producer" in line and "objects" in line)
    assert "dropped 405 of 1,000" in headline


def test_bench_plot_without_matplotlib_names_the_extra_before_measuring(tmp_path: Path) -> None:
    # sys.modules[name] = None makes that import fail, as when matplotlib is not installed.
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from mapioffline.bench import inprocess as _bench\n"
            "def no(quick): raise AssertionError('measured before checking for matplotlib')\n"
            "_bench.collect = no\n"
            "from mapioffline.__main__ import main\n"
            f"sys.exit(main(['bench', '--plot', {os.fspath(tmp_path / 'p.png')!r}]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("mapioffline: error: bench --plot needs matplotlib")
    assert "pip install 'mapioffline[bench]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_plot_labels_values_and_marks_runs_that_dropped() -> None:
    bars = _bench.delivery_bars(_results(quick=False, dropped=405))
    by_name = {b["name"]: b for b in bars}
    assert by_name["ours objects 1p"]["label"] == "9.4 M/s (dropped 405 of 1,000)"
    assert by_name["ours objects 1p"]["dropped"] is True
    assert by_name["ours raw 1p"]["label"] == "30 M/s" and by_name["ours raw 1p"]["dropped"] is False
    assert [b["baseline"] for b in bars] == [False, False, False, True, True]


def test_plot_title_says_when_it_was_a_quick_run() -> None:
    assert "QUICK RUN" in _bench.plot_title(_results(quick=True, dropped=0))
    assert "QUICK" not in _bench.plot_title(_results(quick=False, dropped=0))


def test_plot_renders(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the 'bench' extra")
    path = tmp_path / "bench.png"
    _bench._plot(_results(quick=True, dropped=405), os.fspath(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- one error path for every command (issue 19.4), per-command --help (18.8) ---------------------------------------

BRIDGE_COMMANDS = [["state"], ["watch"], ["watch", "--wait"], ["set-state", "OFFLINE"]]
EVERY_PROFILE_COMMAND = [["demo"], ["bridge", "publish"], *BRIDGE_COMMANDS]


def one_error_line(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The one stderr line of a failed command (and its status), no traceback."""
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mapioffline: error: "), lines
    return lines[0]


@contextlib.contextmanager
def published(profile: str, *, allow_set_state: bool = False) -> Iterator[tuple[mapioffline.OfflineObject, str]]:
    """A publisher of ``profile``'s embedded object in this process: (that object, the region's name)."""
    with mapioffline.open_offline(profile, backend="embedded") as source, \
            _bridge.publish(profile, source, allow_set_state=allow_set_state) as publisher:
        yield source, publisher.region_name


def locator_path(region_name: str) -> Path:
    """Where a region's locator lives: POSIX shared memory names are files in /dev/shm."""
    return Path("/dev/shm" + region_name) if region_name.count("/") == 1 else Path(region_name)


def replace_file(path: Path, content: bytes) -> None:
    """Puts a new file with ``content`` in ``path``'s place (a rename: its directory's watchers see a new name)."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(content)
    temporary.chmod(0o600)
    temporary.replace(path)


@pytest.fixture
def bad_locator_at(profile: str) -> Iterator[tuple[str, Path]]:
    """``profile`` with a locator of random bytes where its publisher's would be (what a crash or another program
    can leave); yields the profile and the locator's path."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the locator is a file in /dev/shm on Linux")
    with published(profile) as (_, region):
        pass
    path = locator_path(region)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, bytes(range(7, 39)))
    finally:
        os.close(fd)
    yield profile, path
    path.unlink(missing_ok=True)


@pytest.fixture
def bad_locator(bad_locator_at: tuple[str, Path]) -> str:
    """``profile`` with a locator of random bytes (bad_locator_at)."""
    return bad_locator_at[0]


@pytest.mark.parametrize("command", EVERY_PROFILE_COMMAND)
def test_a_profile_name_over_the_limit_is_one_line_that_states_the_rule(command: list[str]) -> None:
    line = one_error_line(cli(*command, "--profile", "p" * 300))
    assert "at most 255" in line and "300" in line, line
    assert "p" * 100 not in line  # the name, shortened


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX argv is bytes; Windows passes UTF-16")
@pytest.mark.parametrize("command", EVERY_PROFILE_COMMAND)
def test_a_profile_argument_that_is_not_valid_utf8_is_one_line(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "mapioffline", *command, "--profile", b"caf\xe9"],
                            capture_output=True, text=True, timeout=60)
    assert "unpaired surrogate" in one_error_line(result)


def test_a_bad_ring_capacity_is_one_line(profile: str) -> None:
    line = one_error_line(cli("bridge", "publish", "--profile", profile, "--ring-capacity", "3"))
    assert "power of two" in line


@pytest.mark.parametrize("command", [c for c in BRIDGE_COMMANDS if "--wait" not in c])
def test_a_bad_locator_is_one_line(bad_locator: str, command: list[str]) -> None:
    assert "locator" in one_error_line(cli(*command, "--profile", bad_locator))


@pytest.mark.parametrize("command", [["state"], ["watch"], ["set-state", "ONLINE"]])
def test_no_publisher_is_status_3_on_one_line(profile: str, command: list[str]) -> None:
    line = one_error_line(cli(*command, "--profile", profile), status=3)
    assert "bridge publish --profile" in line


def test_an_unexpected_error_is_one_line_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mapioffline import _demo

    def broken(as_json: bool) -> int:
        raise RuntimeError("something no command expects")

    monkeypatch.setattr(_demo, "print_info", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["mapioffline: error: RuntimeError: something no command expects"]


def test_watch_exits_0_when_the_reader_of_its_output_goes_away(profile: str) -> None:
    # `watch --json | head -1`: head reads the first line and exits; the next line watch writes finds no reader.
    with published(profile) as (source, _):
        watch = subprocess.Popen([sys.executable, "-m", "mapioffline", "watch", "--profile", profile, "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert watch.stdout is not None and watch.stderr is not None
            assert json.loads(watch.stdout.readline())["event"] == "subscribed"
            watch.stdout.close()
            source.set_state(mapioffline.State.OFFLINE)
            assert watch.wait(60) == 0
            assert watch.stderr.read() == ""
        finally:
            if watch.poll() is None:
                watch.kill()
            watch.wait(60)  # not communicate(): on Windows its reader threads fail on the stdout closed above
            if watch.stderr is not None:
                watch.stderr.close()


def test_watch_wait_waits_through_a_bad_locator_and_says_once_what_it_waits_for(
        bad_locator_at: tuple[str, Path]) -> None:
    profile, path = bad_locator_at
    watch = subprocess.Popen([sys.executable, "-m", "mapioffline", "watch", "--profile", profile, "--json", "--wait"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None and watch.stderr is not None
        waiting = watch.stderr.readline()
        assert waiting.startswith(f"mapioffline: waiting for a publisher of profile {shown(profile)}: "), waiting
        assert "no valid magic" in waiting  # why the channel there cannot be followed
        # Each change of the channel's name wakes it to look again: the same bad locator again fails the same way
        # (said once: a repeat would be the next line), a truncated one for a new reason, which it says.
        replace_file(path, path.read_bytes())
        replace_file(path, b"\x00" * 5)
        assert watch.stderr.readline() == (
            f"mapioffline: waiting for a publisher of profile {shown(profile)}: the channel's locator is truncated\n")
        with published(profile) as (source, _):  # a new publisher replaces the bad locator
            assert json.loads(watch.stdout.readline())["event"] == "subscribed"
            source.set_state(mapioffline.State.OFFLINE)
            assert [json.loads(watch.stdout.readline())["kind"] for _ in range(3)] == [
                "STATECHANGE_START", "STATECHANGE", "STATECHANGE_DONE"]
        assert json.loads(watch.stdout.readline())["event"] == "publisher_gone"
        waiting_again = watch.stderr.readline()
        assert waiting_again.startswith(f"mapioffline: waiting for a publisher of profile {shown(profile)}: ")
        assert "no bridge publisher runs" in waiting_again
        watch.send_signal(signal.SIGINT)
        assert watch.wait(60) == 130
        # A starting publisher's name exists before it is live: a watch that wakes then says that none runs, and
        # follows it a moment later. Then the line above was that one, and the same reason, said again once the
        # publisher was gone (a publisher was followed in between), may precede the interruption.
        assert watch.stderr.read() in ("mapioffline: interrupted\n", waiting_again + "mapioffline: interrupted\n")
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.communicate()


def test_watch_json_lines_carry_every_notification_field(profile: str) -> None:
    with published(profile) as (source, _):
        watch = subprocess.Popen([sys.executable, "-m", "mapioffline", "watch", "--profile", profile, "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert watch.stdout is not None
            assert json.loads(watch.stdout.readline()) == {"event": "subscribed", "profile": profile,
                                                           "state": "ONLINE"}
            with source.advise() as mine:
                source.set_state(mapioffline.State.OFFLINE)
                expected = [mine.sink.get(timeout=60).to_dict() for _ in range(3)]
            lines = [json.loads(watch.stdout.readline()) for _ in range(3)]
        finally:
            watch.kill()
            watch.communicate()
    for line, n in zip(lines, expected):
        # Each sink stamps a record when it receives it: the publisher's own sink, not ours, stamped watch's.
        assert isinstance(line["timestamp_ns"], int) and line["timestamp_ns"] > 0
        assert line == {"event": "notification", "profile": profile, **n, "client_token": 0,
                        "timestamp_ns": line["timestamp_ns"]}


@pytest.mark.skipif(not sys.platform.startswith("linux") and sys.platform != "win32", reason="the bridge")
def test_set_state_changes_the_state_through_the_bridge(profile: str) -> None:
    with published(profile, allow_set_state=True) as (source, _):
        result = cli("set-state", "--profile", profile, "OFFLINE")
        assert (result.returncode, result.stdout, result.stderr) == (0, "OFFLINE\n", "")
        assert source.state is mapioffline.State.OFFLINE  # blocking: returned once the change was done
        with source.advise() as mine:
            result = cli("set-state", "--profile", profile, "ONLINE", "--no-block", "--json")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout) == {"profile": profile, "state": "ONLINE", "block": False}
            kinds = [mine.sink.get(timeout=60) for _ in range(3)]
        assert [(n.kind.name, n.new_state.name) for n in kinds] == [
            ("STATECHANGE_START", "ONLINE"), ("STATECHANGE", "ONLINE"), ("STATECHANGE_DONE", "ONLINE")]


def test_set_state_refused_says_how_to_allow_it(profile: str) -> None:
    with published(profile) as (source, _):
        line = one_error_line(cli("set-state", "--profile", profile, "OFFLINE"))
        assert source.state is mapioffline.State.ONLINE
    assert "bridge publish --profile" in line and "--allow-set-state" in line
    assert "addin install --allow-set-state" in line


def test_set_state_takes_only_online_or_offline(profile: str) -> None:
    result = cli("set-state", "--profile", profile, "UNKNOWN")
    assert result.returncode == 2 and "invalid choice: 'UNKNOWN'" in result.stderr


def _actions(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}".strip())
        else:
            yield path, action


def test_every_option_has_help_text() -> None:
    from mapioffline.__main__ import _parser

    missing = [(path, action.dest) for path, action in _actions(_parser()) if not action.help]
    assert missing == []


def _statuses(help_text: str) -> set[int]:
    """The statuses the "exit status:" section of a --help lists."""
    section = help_text.split("exit status:\n", 1)[1]
    return {int(m.group(1)) for m in re.finditer(r"^  (\d+) ", section, re.MULTILINE)}


@pytest.mark.parametrize(("command", "statuses"), [
    ([], {0, 1, 2, 3, 4, 130}),
    (["demo"], {0, 1, 2, 130}),
    (["info"], {0, 1, 2, 130}),
    (["bench"], {0, 1, 2, 130}),
    (["bridge"], {0, 1, 2}),
    (["bridge", "publish"], {0, 1, 2}),
    (["state"], {0, 1, 2, 3, 4, 130}),
    (["watch"], {0, 1, 2, 3, 4, 130}),
    (["set-state"], {0, 1, 2, 3, 4, 130}),
    (["addin"], {0, 1, 2}),
])
def test_each_help_lists_its_own_exit_statuses(command: list[str], statuses: set[int]) -> None:
    result = cli(*command, "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert _statuses(result.stdout) == statuses


def test_watch_wait_says_a_reason_once_across_a_publisher_that_stops_before_it_is_followed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A publisher can stop between the open that finds it and the advise (ClosedError): nothing was followed, so the
    # wait goes on, and the same reason is not said twice.
    class Stopped:
        def advise(self) -> None:
            raise mapioffline.ClosedError("the publisher stopped")

        def __enter__(self) -> Stopped:
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

    opens = iter([Stopped(), KeyboardInterrupt()])

    def open_bridge_through(profile: str, clears: object, waiting: Callable[[Exception], None]) -> Stopped:
        waiting(mapioffline.NotFound("no bridge publisher runs"))
        result = next(opens)
        if isinstance(result, KeyboardInterrupt):
            raise result
        return result

    monkeypatch.setattr(_bridge, "open_bridge_through", open_bridge_through)
    assert main(["watch", "--profile", "p", "--wait"]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "mapioffline: waiting for a publisher of profile 'p': no bridge publisher runs",
        "mapioffline: interrupted",
    ]
