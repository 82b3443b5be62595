"""The bridge across processes (Linux): a publisher process, subscriber processes in every delivery mode, publisher
death and replacement, a subscriber that falls behind, requests allowed and refused, file permissions.

Processes synchronise through their pipes (each step prints a line) and waitpid, never through sleeps."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mapioffline
from mapioffline import _bridge
from mapioffline.testing import start_pump

LINUX = sys.platform.startswith("linux")


def _under_wine() -> bool:
    """Whether this Windows process runs under Wine (its ntdll exports wine_get_version)."""
    if sys.platform != "win32":
        return False
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


UNDER_WINE = _under_wine()
# The bridge exists on Linux and Windows. The tests marked linux_only look at what only the Linux channel has (the
# region file, /proc, memfd rings, SIGSTOP); the rest run on both, Windows' under .ci/windows-python.
pytestmark = pytest.mark.skipif(not LINUX and sys.platform != "win32", reason="the bridge is Linux's and Windows'")
linux_only = pytest.mark.skipif(not LINUX, reason="the Linux channel's files, /proc, memfd rings or SIGSTOP")
# Subscriber modes that wait on sink.fileno() with select: POSIX (Windows waits through get() or the executor).
FILENO_MODES = ["drain", "raw"] if LINUX else []

PEER = str(Path(__file__).resolve().parents[1] / "bridge_peer.py")
START, CHANGE, DONE = 1, 2, 3
OFFLINE, ONLINE = 1, 2
# A line a peer owes us must come within this bound, or the test fails instead of hanging.
LINE_TIMEOUT_S = 20.0


class Peer:
    """A bridge_peer.py process with line-by-line access to its stdout."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, PEER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1,
        )
        # A thread hands each stdout line over through a queue: a blocking get with a bound, no polling (select on
        # a buffered pipe would miss lines already buffered).
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.finished: tuple[int, str] | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.lines.put(text.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        try:
            text = self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"peer {self.process.args[2:]} said nothing for {LINE_TIMEOUT_S} s") from None
        if text is None:
            status = self.process.wait(LINE_TIMEOUT_S)
            assert self.process.stderr is not None
            how = f"was killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}"
            raise AssertionError(f"peer {self.process.args[2:]} {how}: {self.process.stderr.read()}")
        return text

    def json(self) -> Any:
        return json.loads(self.line())

    def send(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.line()

    def finish(self) -> tuple[int, str]:
        """Closes stdin, waits for the exit; (status, stderr). Idempotent."""
        if self.finished is not None:
            return self.finished
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.process.wait(LINE_TIMEOUT_S)
        self.reader.join(LINE_TIMEOUT_S)
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        self.finished = (rc, err)
        return rc, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    """Peers a test started. Publishers still running are stopped cleanly (stdin closed: they stop and remove
    their region) before the rest are killed, so tests leave no region behind."""
    made: list[Peer] = []
    yield made
    for peer in made:
        if peer.process.args[2] == "publisher" and peer.process.poll() is None:
            try:
                peer.finish()
            except subprocess.TimeoutExpired:
                pass
    for peer in made:
        peer.kill()


def start_publisher(peers: list[Peer], profile: str, *options: str) -> tuple[Peer, str]:
    publisher = Peer("publisher", profile, *options)
    peers.append(publisher)
    ready = publisher.line()
    if LINUX:
        assert ready.startswith("ready /") and "/mapioffline" in ready, ready
    else:  # a named kernel object in the user's private namespace (Wine has none: the session's Local\ instead)
        assert ready.startswith("ready Local\\mapioffline-" if UNDER_WINE else "ready mapioffline-s"), ready
    return publisher, ready.split()[1]


def start_subscriber(peers: list[Peer], profile: str, mode: str) -> Peer:
    subscriber = Peer("subscriber", profile, mode)
    peers.append(subscriber)
    assert subscriber.line() == "subscribed"
    return subscriber


def assert_a_new_publisher_replaces_the_dead_one(peers: list[Peer], profile: str, region: str) -> None:
    """No one can subscribe to the dead publisher's channel; a new publisher takes its name and serves."""
    with pytest.raises(mapioffline.NotFound):
        mapioffline.open_offline(profile, backend="bridge")
    replacement, region2 = start_publisher(peers, profile)
    assert region2 == region
    follower = start_subscriber(peers, profile, "get")
    assert replacement.send("set OFFLINE") == "ok"
    assert [r["kind"] for r in received(follower, 3)] == [START, CHANGE, DONE]


def change(old: int, new: int) -> list[tuple[int, int, int]]:
    return [(START, old, new), (CHANGE, old, new), (DONE, old, new)]


def received(peer: Peer, count: int) -> list[dict[str, Any]]:
    return [peer.json() for _ in range(count)]


def received_after(peer: Peer, command: str, count: int) -> list[dict[str, Any]]:
    """Sends `command`, whose answer is the first of `count` JSON lines."""
    first = json.loads(peer.send(command))
    return [first] + received(peer, count - 1)


def test_no_publisher_is_not_found_with_what_to_run(profile: str) -> None:
    with pytest.raises(mapioffline.NotFound, match=r"bridge publish --profile"):
        mapioffline.open_offline(profile, backend="bridge")
    # "auto" never falls back to the simulator: it names the three ways on, on every OS.
    with pytest.raises(mapioffline.NotFound) as info:
        mapioffline.open_offline(profile)
    message = str(info.value)
    assert "addin install" in message
    assert f"bridge publish --profile {profile}" in message
    assert 'backend="embedded"' in message


def test_auto_and_bridge_follow_a_publisher_in_this_process(profile: str) -> None:
    with _bridge.publish(profile) as publisher, mapioffline.open_offline(profile) as obj:
        assert obj.backend == "bridge"
        assert obj.state == mapioffline.State.ONLINE
        assert obj.capabilities == mapioffline.Capability.OFFLINE | mapioffline.Capability.ONLINE
        assert not publisher.closed
    with pytest.raises(mapioffline.NotFound):
        mapioffline.open_offline(profile, backend="bridge")


def test_a_consumer_that_closes_the_moment_the_publisher_stops_never_crashes(profile: str) -> None:
    # The publisher's stop wakes the consumer from inside the bridge's end-of-stream call; the consumer unadvises
    # and frees its sink at once. That call once touched the freed sink (ASan: heap-use-after-free in the wake-up).
    for round_ in range(60):
        name = f"{profile}-{round_}"
        publisher = _bridge.publish(name)
        with mapioffline.open_offline(name, backend="bridge") as obj:
            sub = obj.advise()
            ended: list[str] = []

            def consume() -> None:
                try:
                    sub.sink.get(timeout=30)
                except mapioffline.PublisherGone:
                    ended.append("gone")
                sub.close()  # at once: unadvise, and the owned sink's last reference goes

            consumer = threading.Thread(target=consume)
            consumer.start()
            publisher.close()
            consumer.join(30)
            assert ended == ["gone"] and not consumer.is_alive()


def test_every_delivery_mode_across_processes(profile: str, peers: list[Peer]) -> None:
    publisher, _ = start_publisher(peers, profile)
    modes = ["get", *FILENO_MODES, "callback", "iterate", "asyncio"]
    subscribers = [start_subscriber(peers, profile, mode) for mode in modes]
    assert publisher.send("set OFFLINE") == "ok"
    assert publisher.send("set ONLINE") == "ok"
    expected = change(ONLINE, OFFLINE) + change(OFFLINE, ONLINE)
    for mode, subscriber in zip(modes, subscribers):
        got = received(subscriber, 6)
        assert [(r["kind"], r["old"], r["new"]) for r in got] == expected, mode
        assert all(r["token"] == 5 and r["dropped_before"] == 0 for r in got), mode
        stamps = [r["timestamp_ns"] for r in got]
        assert stamps == sorted(stamps) and stamps[0] > 0, mode
    # A clean stop ends every stream: the blocking modes raise PublisherGone, iterations stop.
    assert publisher.send("stop") == "stopped"
    for mode, subscriber in zip(modes, subscribers):
        if mode == "callback":
            subscriber.send("quit")
        else:
            end = subscriber.json()
            if mode in ("get", "drain", "raw"):
                assert end == {"end": "PublisherGone"}, mode
            else:
                assert end == {"end": "iteration", "publisher_gone": True}, mode
        rc, err = subscriber.finish()
        assert rc == 0 and err == "", (mode, err)


def test_publisher_death_ends_streams_and_a_new_publisher_replaces_it(
    profile: str, peers: list[Peer]
) -> None:
    publisher, region = start_publisher(peers, profile)
    subscriber = start_subscriber(peers, profile, "get")
    watch = subprocess.Popen(
        [sys.executable, "-m", "mapioffline", "watch", "--profile", profile, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert watch.stdout is not None
        assert json.loads(watch.stdout.readline())["event"] == "subscribed"
        assert publisher.send("set OFFLINE") == "ok"
        assert [r["new"] for r in received(subscriber, 3)] == [OFFLINE] * 3
        for _ in range(3):
            assert json.loads(watch.stdout.readline())["event"] == "notification"
        # The kernel tells the subscribers (a robust futex), nothing polls: how soon is a figure for the bridge
        # benchmark, not a wall-clock bound here (it failed under a load average of 17).
        publisher.process.kill()  # SIGKILL, TerminateProcess: no clean-up runs in it
        publisher.process.wait()
        assert subscriber.json() == {"end": "PublisherGone"}
        assert watch.wait(LINE_TIMEOUT_S) == 4
        assert json.loads(watch.stdout.readline()) == {"event": "publisher_gone", "profile": profile}
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.communicate()
    # The dead publisher's region is still there (SIGKILL ran no clean-up); a new publisher replaces it.
    if LINUX:
        assert Path(region).exists()
    assert_a_new_publisher_replaces_the_dead_one(peers, profile, region)


def test_a_second_live_publisher_is_refused(profile: str, peers: list[Peer]) -> None:
    start_publisher(peers, profile)
    with pytest.raises(mapioffline.MapiError, match="already publishes"):
        _bridge.publish(profile.upper())  # profile names compare case-insensitively


@linux_only
def test_a_subscriber_that_falls_behind_reports_the_gap(profile: str, peers: list[Peer]) -> None:
    publisher, _ = start_publisher(peers, profile, "--ring", "16")
    subscriber = start_subscriber(peers, profile, "get")
    os.kill(subscriber.process.pid, signal.SIGSTOP)
    _, status = os.waitpid(subscriber.process.pid, os.WUNTRACED)  # returns once it is stopped
    assert os.WIFSTOPPED(status)
    assert publisher.send("burst 20") == "ok"  # 60 notifications into a ring of 16
    os.kill(subscriber.process.pid, signal.SIGCONT)
    assert publisher.send("stop") == "stopped"
    lines = []
    while True:
        item = subscriber.json()
        if "end" in item:
            break
        lines.append(item)
    assert item == {"end": "PublisherGone"}
    gap = sum(r["dropped_before"] for r in lines)
    assert len(lines) == 16, lines  # the ring's last 16 records, in order
    assert gap == 60 - 16
    assert lines[0]["dropped_before"] == gap  # the whole gap is reported before the first record after it
    assert lines[-1]["kind"] == DONE
    with mapioffline.open_offline(profile, backend="embedded") as source:
        pass  # (the publisher's embedded object lives in its own process: nothing to compare here)


def wait_until_every_thread_sleeps(pid: int) -> None:
    """Blocks until every thread of process `pid` is asleep (state S), at most LINE_TIMEOUT_S. No API says when
    another process has gone to sleep; a test about what a sleeping subscriber costs must not start before."""
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    states.append(f.read().rpartition(")")[2].split()[0])
            except FileNotFoundError:  # the thread ended meanwhile
                pass
        if states and all(s == "S" for s in states):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid}'s threads never all slept")


@linux_only
def test_a_stopped_subscriber_costs_the_publisher_at_most_one_wake_call_and_misses_nothing(
        profile: str, peers: list[Peer]) -> None:
    """A subscriber stopped (SIGSTOP, Ctrl-Z) while asleep: the publications after it cost the publisher at most
    one wake system call in all (the one it had gone to sleep waiting for), not one each; continued, it gets them.
    (The count of sleepers, the protocol before, paid 1000 here.)"""
    with mapioffline.open_offline(profile, backend="embedded") as source, _bridge.publish(profile, source) as publisher:
        subscriber = start_subscriber(peers, profile, "get")
        source.set_state(mapioffline.State.OFFLINE, block=True)
        assert [r["kind"] for r in received(subscriber, 3)] == [START, CHANGE, DONE]
        wait_until_every_thread_sleeps(subscriber.process.pid)  # its reader thread too, on the channel's futex
        os.kill(subscriber.process.pid, signal.SIGSTOP)
        _, status = os.waitpid(subscriber.process.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        calls = publisher.wake_calls
        start_pump(publisher._notify_pointer, 1000).join()
        assert publisher.wake_calls - calls <= 1
        os.kill(subscriber.process.pid, signal.SIGCONT)
        assert [r["dropped_before"] for r in received(subscriber, 1000)] == [0] * 1000
    assert subscriber.json() == {"end": "PublisherGone"}


def test_set_state_requests_allowed(profile: str, peers: list[Peer]) -> None:
    publisher, _ = start_publisher(peers, profile, "--allow-set-state")
    subscriber = start_subscriber(peers, profile, "get")
    requester = Peer("request", profile, "OFFLINE")
    peers.append(requester)
    assert requester.json() == {"ok": OFFLINE}  # blocking: the state is OFFLINE when set_state returns
    assert [(r["kind"], r["new"]) for r in received(subscriber, 3)] == [(START, OFFLINE), (CHANGE, OFFLINE),
                                                                        (DONE, OFFLINE)]
    with mapioffline.open_offline(profile, backend="bridge") as obj:
        assert obj.state == mapioffline.State.OFFLINE
        assert _bridge.stats(obj).allow_set_state
        with pytest.raises(ValueError):
            obj.set_state(7)


def test_set_state_requests_refused_by_default(profile: str, peers: list[Peer]) -> None:
    start_publisher(peers, profile)
    requester = Peer("request", profile, "OFFLINE")
    peers.append(requester)
    answer = requester.json()
    assert answer["error"] == "NotSupported"
    assert "--allow-set-state" in answer["message"]
    with mapioffline.open_offline(profile, backend="bridge") as obj:
        assert obj.state == mapioffline.State.ONLINE


@linux_only
def test_region_is_the_users_own(profile: str, peers: list[Peer]) -> None:
    _, region = start_publisher(peers, profile)
    info = os.stat(region)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    directory = os.lstat(Path(region).parent)  # the user's channel directory (test_channel_users.py: the rest)
    assert stat.S_ISDIR(directory.st_mode) and stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_uid == os.getuid()


def _squat(path: Path, mode: int, content: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, content)
    finally:
        os.close(fd)


@linux_only
def test_regions_open_to_others_or_corrupt_are_refused(profile: str) -> None:
    with _bridge.publish(profile) as publisher:
        path = Path(publisher.region_name)
    assert not path.exists()  # a clean stop removes the name
    header = bytearray(4096)
    header[68:72] = (1).to_bytes(4, "little")  # status "live", but no magic
    _squat(path, 0o644, bytes(header))
    try:
        with pytest.raises(mapioffline.MapiError, match="mode 0600") as info:
            mapioffline.open_offline(profile, backend="bridge")
        assert info.value.hresult == 0x80070005
        os.chmod(path, 0o600)
        with pytest.raises(mapioffline.MapiError) as info:
            mapioffline.open_offline(profile, backend="bridge")
        assert info.value.hresult == 0x80040A02
        # A publisher replaces a region that is not a live channel.
        with _bridge.publish(profile), mapioffline.open_offline(profile, backend="bridge") as obj:
            assert obj.state == mapioffline.State.ONLINE
    finally:
        path.unlink(missing_ok=True)


def _rings_of(pid: int) -> list[str]:
    """The /proc paths of the memfd rings among a publisher's descriptors (what its locator points to)."""
    return [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:mapioffline")]


def _ring_of(pid: int) -> str:
    rings = _rings_of(pid)
    assert len(rings) == 1, f"the publisher should hold one memfd ring, it holds {rings}"
    return rings[0]


def _holders(inode: int) -> list[str]:
    """Every process of ours that still has the memfd `inode` open or mapped."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/memfd:") and os.stat(f"/proc/{pid}/fd/{fd}").st_ino == inode:
                    found.append(f"{pid} fd {fd}")
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith("/memfd:") and int(fields[4]) == inode:
                        found.append(f"{pid} maps it")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue  # gone meanwhile, or another user's
    return found


@linux_only
def test_truncating_the_channel_never_crashes_a_subscriber(profile: str, peers: list[Peer]) -> None:
    # Any process of the user can truncate the channel's file. A subscriber that had the file itself mapped died
    # of SIGBUS on its next access (so did the publisher); the name now holds only a locator read with pread, and
    # the ring is a memfd sealed against any change of size.
    publisher, region = start_publisher(peers, profile)
    subscriber = start_subscriber(peers, profile, "commands")
    os.truncate(region, 0)
    assert json.loads(subscriber.send("state")) == {"state": ONLINE}  # a mapping of that file: SIGBUS here
    assert publisher.send("set OFFLINE") == "ok"
    assert [(r["kind"], r["new"]) for r in received_after(subscriber, "next 3", 3)] == [
        (START, OFFLINE), (CHANGE, OFFLINE), (DONE, OFFLINE)]
    # The ring cannot be shrunk or grown, even by a process of ours that opens it.
    ring = os.open(_ring_of(publisher.process.pid), os.O_RDWR)
    try:
        size = os.fstat(ring).st_size
        for new_size in (0, size - 4096, size + 4096):
            with pytest.raises(PermissionError):
                os.ftruncate(ring, new_size)
        assert os.fstat(ring).st_size == size
    finally:
        os.close(ring)
    assert json.loads(subscriber.send("state")) == {"state": OFFLINE}
    assert subscriber.send("advise") == "subscribed"
    assert publisher.send("set ONLINE") == "ok"
    assert [r["kind"] for r in received_after(subscriber, "next 3", 3)] == [START, CHANGE, DONE]
    # A new subscriber finds the truncated locator and refuses it, without crashing either.
    with pytest.raises(mapioffline.MapiError) as info:
        mapioffline.open_offline(profile, backend="bridge")
    assert info.value.name == "MAPIOFFLINE_E_CHANNEL_CORRUPT"
    assert publisher.send("stop") == "stopped"
    assert not Path(region).exists()  # a clean stop still removes the name it created
    rc, err = subscriber.finish()
    assert rc == 0 and err == "", err


@linux_only
def test_a_killed_publisher_leaves_no_ring_behind(profile: str, peers: list[Peer]) -> None:
    publisher, region = start_publisher(peers, profile)
    subscriber = start_subscriber(peers, profile, "get")
    inodes = [os.stat(ring).st_ino for ring in _rings_of(publisher.process.pid)]
    publisher.process.send_signal(signal.SIGKILL)
    publisher.process.wait()
    assert subscriber.json() == {"end": "PublisherGone"}
    rc, err = subscriber.finish()
    assert rc == 0 and err == "", err
    # Only the locator (a few dozen bytes) is left under the name; the ring went with its last user.
    assert os.stat(region).st_size < 4096
    assert len(inodes) == 1, "the publisher held no memfd ring"
    assert _holders(inodes[0]) == []
    assert_a_new_publisher_replaces_the_dead_one(peers, profile, region)


@linux_only
def test_a_starting_publisher_removes_the_locators_of_dead_publishers(profile: str, peers: list[Peer]) -> None:
    """SIGKILL runs no clean-up: the dead publisher's locator stays until any publisher of the user starts, which
    removes the locators of every dead publisher of the user's (and only those: a live one's stays)."""
    killed, killed_region = start_publisher(peers, profile + "-killed")
    _, live_region = start_publisher(peers, profile + "-live")
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    assert Path(killed_region).exists()
    with _bridge.publish(profile + "-other"):
        assert not Path(killed_region).exists()
        assert Path(live_region).exists()
        with mapioffline.open_offline(profile + "-live", backend="bridge") as obj:
            assert obj.state == mapioffline.State.ONLINE


@linux_only
def test_a_publisher_whose_descriptors_are_closed_to_us_is_a_clear_error(profile: str, peers: list[Peer]) -> None:
    # A non-dumpable process's /proc/<pid>/fd is closed to other processes, even the user's own (root passes with
    # CAP_SYS_PTRACE: the peer drops it).
    start_publisher(peers, profile, "--non-dumpable")
    opener = Peer("open", profile)
    peers.append(opener)
    answer = opener.json()
    assert answer.get("error") == "E_ACCESSDENIED", answer
    assert "dumpable" in answer["message"], answer


def test_cli_publish_state_and_sigterm(profile: str) -> None:
    publisher = subprocess.Popen(
        [sys.executable, "-m", "mapioffline", "bridge", "publish", "--profile", profile, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert publisher.stdout is not None
        ready = json.loads(publisher.stdout.readline())
        assert ready["event"] == "publishing" and ready["allow_set_state"] is False
        state = subprocess.run(
            [sys.executable, "-m", "mapioffline", "state", "--profile", profile, "--json"],
            capture_output=True, text=True, timeout=LINE_TIMEOUT_S,
        )
        assert state.returncode == 0, state.stderr
        assert json.loads(state.stdout)["state"] == "ONLINE"
        if LINUX:
            publisher.send_signal(signal.SIGTERM)
            assert publisher.wait(LINE_TIMEOUT_S) == 0
        else:  # no SIGTERM to send another Windows process: TerminateProcess, as Task Manager's "End task"
            publisher.terminate()
            publisher.wait(LINE_TIMEOUT_S)
    finally:
        if publisher.poll() is None:
            publisher.kill()
        publisher.communicate()
    missing = subprocess.run(
        [sys.executable, "-m", "mapioffline", "state", "--profile", profile],
        capture_output=True, text=True, timeout=LINE_TIMEOUT_S,
    )
    assert missing.returncode == 3
    assert "bridge publish --profile" in missing.stderr


@pytest.mark.parametrize("platform", ["win32", "linux", "darwin"])
def test_auto_is_the_same_rule_on_every_os(profile: str, platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Outlook's DLL is not in this process and no publisher runs: "auto" says what to do, never the simulator.
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(mapioffline.NotFound, match=r"python -m mapioffline addin install"):
        mapioffline.open_offline(profile)
    monkeypatch.undo()
    with _bridge.publish(profile):
        monkeypatch.setattr(sys, "platform", platform)
        with mapioffline.open_offline(profile) as obj:  # a running publisher is found there too
            assert obj.backend == "bridge"


def test_available_backends_lists_the_bridge() -> None:
    assert mapioffline.available_backends()["bridge"].startswith("available")
