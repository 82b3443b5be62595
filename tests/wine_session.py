"""A Wine prefix made ready before CTest runs programs in it, shared by the Windows-under-Wine tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator


def _quiet(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=timeout)


@contextlib.contextmanager
def wine_session(env: dict[str, str]) -> Iterator[None]:
    """Starts a persistent wineserver for env's WINEPREFIX and creates the prefix before the tests run.

    Without it, every test waits ~2 s for the server to exit, and a program started while the prefix is still
    being created can find it half made ("could not load kernel32.dll")."""
    wineserver = shutil.which("wineserver")
    if wineserver:
        _quiet([wineserver, "-p"], env, 60)
    try:
        for _ in range(3):  # creating a prefix occasionally fails on a loaded machine; a retry completes it
            if _quiet(["wine", "cmd", "/c", "exit"], env, 180).returncode == 0:
                break
        yield
    finally:
        if wineserver:  # stops this prefix's server and its processes only
            _quiet([wineserver, "-k"], env, 60)
