"""A user's bridge channel against another local user (Linux): the channel's names live in a directory only the user
can create anything in, so another user can neither block a publisher by creating its names first nor list the
profiles it publishes; where someone else's object is in the way, the error says so and names its owner.

The tests that involve a second user create throwaway users (useradd) and run each side as one of them: they need
root and skip without it (.ci/run runs as root). The checks of the user's own directory need no second user."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mapioffline
from mapioffline import _bridge

# The module itself is POSIX (pwd, os.geteuid at import): skipped before it runs anything else.
if not sys.platform.startswith("linux"):
    pytest.skip("the Linux channel", allow_module_level=True)
import pwd  # noqa: E402
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates throwaway users: root only (.ci/run runs as root)")

TIMEOUT_S = 20.0
SHM = Path("/dev/shm")


def profile_hash(folded: str) -> str:
    """region_name.h's ProfileHash: 64-bit FNV-1a of the folded name's UTF-16LE bytes (the name before this change)."""
    h = 0xCBF29CE484222325
    for byte in folded.encode("utf-16-le"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# Starts as root, loads everything it needs (the interpreter may live where only root can read, as under /root),
# then becomes the user: supplementary groups, gid, uid, and dumpable again (a change of uid clears it, and the
# user's other processes open a publisher's ring through its /proc/<pid>/fd). Then runs the command line with the
# given arguments, or the code after "--code".
AS_USER = textwrap.dedent(r"""
    import ctypes, json, os, sys
    import mapioffline.__main__, mapioffline._bridge_cli
    import encodings.utf_16_le
    mapioffline.__main__._parser()  # argparse imports what it needs on first use
    uid, gid, args = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
    if ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 1)")
    if args[0] == "--code":
        sys.argv = args[1:]
        exec(compile(args[1], "<as-user>", "exec"))
    else:
        sys.exit(mapioffline.__main__.main(args))
""")


@dataclass
class User:
    name: str
    uid: int
    gid: int

    def command(self, args: list[str]) -> list[str]:
        return [sys.executable, "-c", AS_USER, str(self.uid), str(self.gid), *args]

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args), env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)

    def popen(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


# For useradd and userdel: without a sanitizer runtime the sanitizer passes preload (it is for our extension).
PLAIN_ENV = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}


def _remove_leftovers(user: User) -> None:
    """Whatever ``user`` left in /dev/shm (a fallback channel directory, a squatted name)."""
    for leftover in SHM.iterdir():
        try:
            if leftover.lstat().st_uid == user.uid:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
        except FileNotFoundError:
            pass


@pytest.fixture(scope="module")
def _made_users() -> Iterator[tuple[User, User]]:
    """Two throwaway users, (victim, other), made once for the module and removed after it."""
    made: list[User] = []
    try:
        for role in ("victim", "other"):
            name = f"mo-{role}-{uuid.uuid4().hex[:8]}"
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            name], check=True, capture_output=True, timeout=TIMEOUT_S, env=PLAIN_ENV)
            entry = pwd.getpwnam(name)
            made.append(User(name, entry.pw_uid, entry.pw_gid))
        yield made[0], made[1]
    finally:
        for user in made:
            subprocess.run(["userdel", user.name], check=False, capture_output=True, timeout=TIMEOUT_S, env=PLAIN_ENV)


@pytest.fixture
def users(_made_users: tuple[User, User]) -> Iterator[tuple[User, User]]:
    """The two users, (victim, other), with nothing of theirs left in /dev/shm before and after the test: each
    test starts as if the users were new."""
    for user in _made_users:
        _remove_leftovers(user)
    yield _made_users
    for user in _made_users:
        _remove_leftovers(user)


def base_env(runtime_dir: Path | None) -> dict[str, str]:
    """This process's environment (a sanitizer build needs its LD_PRELOAD), with XDG_RUNTIME_DIR as asked."""
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    if runtime_dir is not None:
        env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    return env


@pytest.fixture
def victim_runtime_dir(users: tuple[User, User]) -> Iterator[Path]:
    """What logind makes for a user: /run/user/<uid>, owned by the user, mode 0700 (here in /tmp, which the user can
    reach: pytest's own temporary directories are closed to other users)."""
    victim, _ = users
    path = Path(tempfile.mkdtemp(prefix="mapioffline-run-"))
    try:
        os.chown(path, victim.uid, victim.gid)
        yield path
    finally:
        shutil.rmtree(path)


SQUATTER = textwrap.dedent(r"""
    import json, os, sys
    uid, hash_, runtime_dir, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    done = {}
    def attempt(label, action):
        try:
            action()
            done[label] = "created"
        except OSError as error:
            done[label] = type(error).__name__
    def file(path, mode=0o666):
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
        os.fchmod(fd, mode)
        os.close(fd)
    # The name the channel had before: /dev/shm/mapioffline-u<uid>-<hash>.
    attempt("old name", lambda: file(f"/dev/shm/mapioffline-u{uid}-{hash_}"))
    # The per-user directory the channel falls back to without XDG_RUNTIME_DIR, in the form `kind` asks for.
    fallback = f"/dev/shm/mapioffline-{uid}"
    def squat_fallback():
        if kind == "dir-0777":
            os.mkdir(fallback); os.chmod(fallback, 0o777)
        elif kind == "dir-0700":
            os.mkdir(fallback, 0o700)
        elif kind == "symlink":
            os.mkdir(fallback + "-mine", 0o777); os.chmod(fallback + "-mine", 0o777)
            os.symlink(fallback + "-mine", fallback)
        elif kind == "file":
            file(fallback)
    if kind != "none":
        attempt("fallback", squat_fallback)
    # Anything in the user's runtime directory.
    if runtime_dir:
        attempt("runtime dir", lambda: os.mkdir(os.path.join(runtime_dir, "mapioffline"), 0o777))
        attempt("runtime file", lambda: file(os.path.join(runtime_dir, "mapioffline-" + hash_)))
    print(json.dumps(done))
""")

LISTER = textwrap.dedent(r"""
    import json, os, sys
    seen = {}
    for directory in sys.argv[1:]:
        try:
            seen[directory] = sorted(os.listdir(directory))
        except OSError as error:
            seen[directory] = type(error).__name__
    print(json.dumps(seen))
""")


def squat(other: User, victim: User, profile: str, runtime_dir: Path | None, kind: str) -> dict[str, str]:
    done = other.run(["--code", SQUATTER, str(victim.uid), profile_hash(profile), str(runtime_dir or ""), kind],
                     base_env(None))
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def publish(victim: User, profile: str, runtime_dir: Path | None) -> subprocess.Popen[str]:
    return victim.popen(["bridge", "publish", "--profile", profile, "--json"], base_env(runtime_dir))


def stop(publisher: subprocess.Popen[str]) -> tuple[int, str]:
    if publisher.poll() is None:
        publisher.send_signal(signal.SIGTERM)
    try:
        _, err = publisher.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        publisher.kill()
        _, err = publisher.communicate()
    return publisher.returncode, err


@needs_root
@pytest.mark.parametrize("with_runtime_dir", [True, False], ids=["XDG_RUNTIME_DIR", "fallback"])
def test_another_user_cannot_block_or_list_a_users_channel(users: tuple[User, User], victim_runtime_dir: Path,
                                                          with_runtime_dir: bool) -> None:
    """The other user squats every name the publisher could use (the old /dev/shm name, and anything in the runtime
    directory, which it cannot): the victim's publisher starts anyway, its subscribers find it, and the other user
    cannot see which profiles it publishes."""
    victim, other = users
    profile = "work"  # already folded
    runtime_dir = victim_runtime_dir if with_runtime_dir else None
    squatted = squat(other, victim, profile, runtime_dir, "none")
    assert squatted["old name"] == "created"
    if runtime_dir:
        assert squatted["runtime dir"] == squatted["runtime file"] == "PermissionError"
    publisher = publish(victim, profile, runtime_dir)
    try:
        assert publisher.stdout is not None
        line = publisher.stdout.readline()
        assert line, f"the publisher did not start: {stop(publisher)}"
        region = Path(json.loads(line)["region"])
        state = victim.run(["state", "--profile", profile, "--json"], base_env(runtime_dir))
        assert state.returncode == 0, state.stderr
        assert json.loads(state.stdout)["state"] == "ONLINE"
        # The channel's directory is the victim's alone: 0700, theirs, not a symbolic link.
        channel_dir = region.parent
        info = channel_dir.lstat()
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == victim.uid and stat.S_IMODE(info.st_mode) == 0o700
        if runtime_dir:
            assert channel_dir.parent == runtime_dir
        else:
            assert channel_dir == SHM / f"mapioffline-{victim.uid}"
        # What the other user sees: no name anywhere that tells the profile, and no listing of the channel's.
        listed = json.loads(other.run(["--code", LISTER, str(SHM), str(channel_dir), str(runtime_dir or channel_dir)],
                                      base_env(None)).stdout)
        assert listed[str(channel_dir)] == "PermissionError"
        assert listed[str(runtime_dir or channel_dir)] == "PermissionError"
        visible = [name for name in listed[str(SHM)] if profile_hash(profile) in name]
        assert visible == [f"mapioffline-u{victim.uid}-{profile_hash(profile)}"]  # only the other user's own squat
        assert (SHM / visible[0]).lstat().st_uid == other.uid
    finally:
        rc, err = stop(publisher)
    assert rc == 0, err
    assert not region.exists()


@needs_root
@pytest.mark.parametrize("kind", ["dir-0777", "dir-0700", "symlink", "file"])
def test_a_squatted_fallback_directory_is_refused_naming_its_owner(users: tuple[User, User], kind: str) -> None:
    """Without XDG_RUNTIME_DIR the channel lives in /dev/shm/mapioffline-<uid>, a name another user can take first.
    Whatever they put there, the publisher refuses it with one line that says whose it is."""
    victim, other = users
    profile = "work"
    squatted = squat(other, victim, profile, None, kind)
    assert squatted["fallback"] == "created"
    publisher = publish(victim, profile, None)
    assert publisher.stdout is not None
    started = publisher.stdout.readline()
    rc, err = stop(publisher)
    assert not started, f"the publisher started in a directory of {other.name}'s: {started}"
    assert rc == 1, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"/dev/shm/mapioffline-{victim.uid}" in err
    assert f"{other.name!r} (uid {other.uid})" in err, err
    assert "XDG_RUNTIME_DIR" in err, err  # the way out
    # A subscriber is told the same, not "no publisher".
    state = victim.run(["state", "--profile", profile], base_env(None))
    assert state.returncode == 1, state.stderr
    assert f"{other.name!r} (uid {other.uid})" in state.stderr


# -- the user's own directory (no second user needed) ------------------------------------------------------------


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_RUNTIME_DIR for this process (so these tests touch no real channel of the user)."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def test_the_channel_lives_in_the_runtime_directory(runtime_dir: Path, profile: str) -> None:
    with _bridge.publish(profile) as publisher:
        region = Path(publisher.region_name)
        assert region.parent == runtime_dir / "mapioffline"
        assert stat.S_IMODE(region.parent.stat().st_mode) == 0o700
        info = region.lstat()
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
        with mapioffline.open_offline(profile, backend="bridge") as obj:
            assert obj.state == mapioffline.State.ONLINE
    assert not region.exists()


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701])
def test_a_channel_directory_open_to_others_is_refused(runtime_dir: Path, profile: str, mode: int) -> None:
    channel_dir = runtime_dir / "mapioffline"
    channel_dir.mkdir()
    channel_dir.chmod(mode)
    with pytest.raises(mapioffline.MapiError, match=f"mode {mode:04o}") as info, _bridge.publish(profile):
        pass
    assert info.value.hresult == 0x80070005
    assert str(channel_dir) in str(info.value)
    with pytest.raises(mapioffline.MapiError, match=f"mode {mode:04o}"), \
            mapioffline.open_offline(profile, backend="bridge"):
        pass


def test_a_symbolic_link_for_the_channel_directory_is_refused(runtime_dir: Path, tmp_path: Path,
                                                              profile: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (runtime_dir / "mapioffline").symlink_to(elsewhere)
    with pytest.raises(mapioffline.MapiError, match="symbolic link") as info, _bridge.publish(profile):
        pass
    assert info.value.hresult == 0x80070005
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("mode", [0o755, 0o777])
def test_a_runtime_directory_open_to_others_is_not_used(runtime_dir: Path, profile: str, mode: int) -> None:
    """XDG_RUNTIME_DIR must be the user's own with mode 0700 (what logind makes); otherwise the per-user directory
    in /dev/shm is used, as when the variable is unset."""
    runtime_dir.chmod(mode)
    with _bridge.publish(profile) as publisher:
        assert Path(publisher.region_name).parent == SHM / f"mapioffline-{os.getuid()}"
    assert not (runtime_dir / "mapioffline").exists()
