"""Lifetime: ResourceWarning for unclosed handles, interpreter exit with live handles, fork()."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from mapioffline import OfflineObject, Sink, State, open_offline
from mapioffline.testing import live_offline_objects, live_sinks


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


# -- ResourceWarning ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "live", "name"),
    [(lambda profile: Sink(4), live_sinks, "Sink"),
     (lambda profile: open_offline(profile, backend="embedded"), live_offline_objects, "OfflineObject")],
    ids=["sink", "offline_object"])
def test_unclosed_handle_warns_and_is_closed(make: Callable[[str], object], live: Callable[[], int], name: str,
                                             profile: str) -> None:
    before = live()
    handle = make(profile)
    with pytest.warns(ResourceWarning, match=f"unclosed <mapioffline.{name}"):
        del handle
        gc.collect()
    assert live() == before


def test_unclosed_subscription_warns_and_is_closed(offline: OfflineObject) -> None:
    before = live_sinks()
    sub = offline.advise()
    sink = sub.sink
    assert live_sinks() == before + 1
    with pytest.warns(ResourceWarning, match="unclosed <mapioffline.Subscription"):
        del sub
        gc.collect()
    assert sink.closed
    assert live_sinks() == before


def test_closed_handles_do_not_warn(profile: str) -> None:
    # filterwarnings = error: any ResourceWarning here would fail the test.
    obj = open_offline(profile, backend="embedded")
    sub = obj.advise()
    sink = Sink(4)
    sub.close()
    obj.close()
    sink.close()
    del obj, sub, sink
    gc.collect()


# -- interpreter exit -----------------------------------------------------------------------------------------

EXIT_SCRIPT = """
import threading
import mapioffline
from mapioffline import State

obj = mapioffline.open_offline("exit-test", backend="embedded")
other = mapioffline.open_offline("exit-test-2", backend="embedded")
plain = [obj.advise(token=i) for i in range(3)]
called = threading.Event()
with_callback = obj.advise(callback=lambda n: called.set())
own_sink = mapioffline.Sink(2)
passed = obj.advise(own_sink)
obj.set_state(State.OFFLINE)
called.wait(10)
# A consumer blocked in iteration on a daemon thread, another in get().
threading.Thread(target=lambda: list(plain[0].sink), daemon=True).start()
threading.Thread(target=lambda: plain[1].sink.get(), daemon=True).start()
# State changes in flight while the interpreter exits.
obj.set_state(State.ONLINE, block=False)
other.set_state(State.OFFLINE, block=False)
print("leaving", flush=True)
"""


@pytest.mark.parametrize("flags", [[], ["-X", "dev"]], ids=["default", "dev-mode"])
def test_interpreter_exit_with_open_handles_and_a_change_in_flight(flags: list[str]) -> None:
    for _ in range(3):  # exit races are timing-dependent: try a few times
        result = subprocess.run([sys.executable, *flags, "-c", EXIT_SCRIPT], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "leaving\n"
        assert result.stderr == ""


def test_interpreter_exit_with_handles_in_a_reference_cycle() -> None:
    result = run_python("""
        import mapioffline
        class Holder:
            pass
        h = Holder()
        h.me = h
        h.obj = mapioffline.open_offline("cycle", backend="embedded")
        h.sub = h.obj.advise()
        h.obj.set_state(mapioffline.State.OFFLINE, block=False)
        del h
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# -- fork -----------------------------------------------------------------------------------------------------

FORK_SCRIPT = """
import os, sys
import mapioffline
from mapioffline import ClosedError, State

obj = mapioffline.open_offline("fork-test", backend="embedded")
sub = obj.advise()
sink = mapioffline.Sink(4)
pid = os.fork()
if pid == 0:
    failures = 0
    uses = {
        "state": lambda: obj.state,
        "set_state": lambda: obj.set_state(State.OFFLINE),
        "advise": lambda: obj.advise(),
        "sink.get": lambda: sub.sink.get(0),
        "sink.drain": lambda: sink.drain(),
        "sink.com_pointer": lambda: sink.com_pointer,
        "iterate": lambda: next(iter(sink)),
    }
    for name, use in uses.items():
        try:
            use()
            print(f"{name}: no error", flush=True)
            failures += 1
        except ClosedError as e:
            if "fork" not in str(e):
                failures += 1
            print(f"{name}: ClosedError", flush=True)
    # Closing in the child must not touch the parent's threads or references.
    sub.close(); obj.close(); sink.close()
    os._exit(1 if failures else 0)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
# The parent's handles are unaffected.
obj.set_state(State.OFFLINE)
print("parent got", len(sub.sink.drain()), flush=True)
sub.close(); obj.close(); sink.close()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")
def test_handles_inherited_by_a_fork_child_raise_closed_error() -> None:
    # In a fresh interpreter: forking the multi-threaded pytest process itself would be unsafe.
    result = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK_SCRIPT],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["child exit 0", "parent got 3"], result.stdout
    assert sum(line.endswith(": ClosedError") for line in lines) == 7, result.stdout
    assert result.stderr == ""


def test_state_is_reported_for_a_fresh_object_after_everything_closed(profile: str) -> None:
    with open_offline(profile, backend="embedded") as obj:
        obj.set_state(State.OFFLINE)
    with open_offline(profile, backend="embedded") as obj:
        assert obj.state is State.ONLINE
