"""Waits in the API: wait_for_state / await_state on the embedded and bridge backends, and open_offline(wait=...)
for a publisher that appears later in another process."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import mapioffline
from mapioffline import OfflineObject, PublisherGone, State, _core
from mapioffline.bridge import publish
from conftest import PythonSink, raw_advise, raw_unadvise
from test_interrupt import HOWS, PROMPT_S, _interrupt_soon

HAVE_BRIDGE = sys.platform.startswith("linux") or sys.platform == "win32"
# A bound on a wait that must succeed: reached only if the product is broken (the test then fails, not hangs).
LONG_S = 30.0


@pytest.fixture(params=["embedded", pytest.param("bridge", marks=pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge"))])
def pair(request: pytest.FixtureRequest, profile: str) -> Iterator[tuple[OfflineObject, OfflineObject]]:
    """(the object under test, the embedded object whose set_state changes its state)."""
    with mapioffline.open_offline(profile, backend="embedded") as source:
        if request.param == "embedded":
            with mapioffline.open_offline(profile, backend="embedded") as obj:
                yield obj, source
        else:
            with publish(profile, source), mapioffline.open_offline(profile, backend="bridge") as obj:
                yield obj, source


def _change_while_reading(monkeypatch: pytest.MonkeyPatch, source: OfflineObject, target: State) -> list[int]:
    """Makes the next state read of any OfflineObject return what it read, after changing ``source`` to
    ``target``: the change falls exactly between "subscribe" and "read the state" of a wait, which must still see
    it (read first and subscribe after, and it would wait for a change that already happened)."""
    reads: list[int] = []
    real = _core.OfflineObject.raw_state

    def raw_state(self: OfflineObject) -> int:
        value: int = real.__get__(self)
        if not reads:
            source.set_state(target)  # block=True: DONE reached every sink, the wait's own included
        reads.append(value)
        return value

    monkeypatch.setattr(OfflineObject, "raw_state", property(raw_state))
    return reads


def test_true_at_once_when_already_in_the_state(pair: tuple[OfflineObject, OfflineObject]) -> None:
    obj, _ = pair
    assert obj.wait_for_state(State.ONLINE) is True
    assert obj.wait_for_state(State.ONLINE, timeout=0) is True


def test_false_when_the_timeout_passes(pair: tuple[OfflineObject, OfflineObject]) -> None:
    obj, _ = pair
    assert obj.wait_for_state(State.OFFLINE, timeout=0) is False
    assert obj.wait_for_state(State.OFFLINE, timeout=0.05) is False


def test_true_when_a_change_brings_it(
    pair: tuple[OfflineObject, OfflineObject], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj, source = pair
    reads = _change_while_reading(monkeypatch, source, State.OFFLINE)
    assert obj.wait_for_state(State.OFFLINE, timeout=LONG_S) is True
    assert reads[0] == State.ONLINE  # it read the old state first: the change came after it subscribed


def test_await_state(pair: tuple[OfflineObject, OfflineObject], monkeypatch: pytest.MonkeyPatch) -> None:
    obj, source = pair

    async def main() -> tuple[bool, bool, bool]:
        at_once = await obj.await_state(State.ONLINE)
        timed_out = await obj.await_state(State.OFFLINE, timeout=0.05)
        _change_while_reading(monkeypatch, source, State.OFFLINE)
        changed = await obj.await_state(State.OFFLINE, timeout=LONG_S)
        return at_once, timed_out, changed

    assert asyncio.run(main()) == (True, False, True)


def test_await_state_cancelled_leaves_nothing_behind(pair: tuple[OfflineObject, OfflineObject]) -> None:
    obj, _ = pair

    async def main() -> None:
        task = asyncio.ensure_future(obj.await_state(State.OFFLINE))
        await asyncio.sleep(0)  # let it subscribe and start waiting
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())  # the live-object guard checks the wait's sink was closed


@pytest.mark.parametrize("asynchronous", [False, True], ids=["wait_for_state", "await_state"])
def test_true_when_a_change_already_in_flight_brings_it(
    offline: OfflineObject, monkeypatch: pytest.MonkeyPatch, asynchronous: bool
) -> None:
    # The embedded object hands a change to the sinks registered when it started, so a wait that subscribes while
    # a change is in flight, and reads the state before that change's DONE, receives nothing of it. The change is
    # held in START by a gated sink and let go exactly when the wait has read the (old) state.
    gate = threading.Event()
    held = PythonSink(gate)
    hr, token = raw_advise(offline.com_pointer, held.com_pointer)
    assert hr == 0
    base = _core.OfflineObject.raw_state

    def read_then_release(obj: OfflineObject) -> int:
        value = base.__get__(obj)
        gate.set()
        return value

    try:
        offline.set_state(State.OFFLINE, block=False)
        assert held.entered.wait(10)
        monkeypatch.setattr(OfflineObject, "raw_state", property(read_then_release))
        if asynchronous:
            assert asyncio.run(offline.await_state(State.OFFLINE, timeout=10)) is True
        else:
            assert offline.wait_for_state(State.OFFLINE, timeout=10) is True
    finally:
        gate.set()
        monkeypatch.undo()
        offline.wait_idle()
        raw_unadvise(offline.com_pointer, token)


@pytest.mark.parametrize("how", HOWS)
def test_ctrl_c_interrupts_wait_for_state(pair: tuple[OfflineObject, OfflineObject], how: str) -> None:
    obj, _ = pair
    timer, sent = _interrupt_soon(how)
    try:
        with pytest.raises(KeyboardInterrupt):
            obj.wait_for_state(State.OFFLINE)
        raised = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
    assert sent and raised - sent[0] < PROMPT_S


@pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge")
def test_publisher_gone_while_waiting(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with mapioffline.open_offline(profile, backend="embedded") as source:
        publisher = publish(profile, source)
        with publisher, mapioffline.open_offline(profile, backend="bridge") as obj:
            real = _core.OfflineObject.raw_state
            monkeypatch.setattr(OfflineObject, "raw_state", property(lambda self: (real.__get__(self), publisher.stop())[0]))
            with pytest.raises(PublisherGone):
                obj.wait_for_state(State.OFFLINE, timeout=LONG_S)


@pytest.mark.parametrize(
    ("state", "timeout", "error"),
    [("OFFLINE", None, TypeError), (True, None, TypeError), (0, None, ValueError), (3, None, ValueError),
     (State.OFFLINE, "1", TypeError), (State.OFFLINE, -1, ValueError), (State.OFFLINE, math.nan, ValueError)],
)
def test_bad_arguments(offline: OfflineObject, state: Any, timeout: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        offline.wait_for_state(state, timeout)
    with pytest.raises(error):
        asyncio.run(offline.await_state(state, timeout))


def test_a_closed_object_raises(profile: str) -> None:
    obj = mapioffline.open_offline(profile, backend="embedded")
    obj.close()
    with pytest.raises(mapioffline.ClosedError):
        obj.wait_for_state(State.ONLINE)


# -- open_offline(wait=...) -----------------------------------------------------------------------------------------

# A publisher in another process that starts only when told ("go" on stdin), then publishes until stdin closes.
LATE_PUBLISHER = textwrap.dedent("""
    import sys
    from mapioffline.bridge import publish
    print("waiting", flush=True)
    sys.stdin.readline()
    with publish(sys.argv[1]):
        print("publishing", flush=True)
        sys.stdin.read()
""")


@pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge")
@pytest.mark.parametrize("backend", ["bridge", "auto"])
def test_open_waits_for_a_publisher_started_later_in_another_process(
    profile: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", LATE_PUBLISHER, profile], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as late:
        _follow_the_late_publisher(late, profile, backend, monkeypatch)


def _follow_the_late_publisher(
    late: subprocess.Popen[str], profile: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert late.stdin is not None and late.stdout is not None
    try:
        assert late.stdout.readline() == "waiting\n"
        attempts: list[str] = []
        real = _core._open_bridge

        def open_bridge(cls: type[OfflineObject], name: str) -> OfflineObject:
            try:
                opened = real(cls, name)
            except mapioffline.MapiError as error:
                attempts.append(type(error).__name__)
                if len(attempts) == 1:  # the first attempt found nothing: only now does the publisher start
                    assert late.stdin is not None
                    late.stdin.write("go\n")
                    late.stdin.flush()
                raise
            attempts.append("opened")
            return opened

        monkeypatch.setattr(_core, "_open_bridge", open_bridge)
        with mapioffline.open_offline(profile, backend=backend, wait=math.inf) as obj:
            assert obj.backend == "bridge"
            assert obj.state is State.ONLINE
        assert attempts[0] == "NotFound" and attempts[-1] == "opened"
    finally:
        late.stdin.close()
        assert late.wait(LONG_S) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Windows' named objects cannot be watched")
def test_the_channel_watch_says_whether_the_channel_changed(profile: str) -> None:
    # What lets a waiter look again only when something changed (watch --wait): False after a quiet wait, True once
    # a publisher created the profile's name.
    with _core._BridgeWatch(profile) as watch:
        assert watch.wait(0.01) is False
        with publish(profile):
            assert watch.wait(None) is True


@pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge")
@pytest.mark.parametrize("backend", ["bridge", "auto"])
def test_open_wait_ends_with_not_found(profile: str, backend: str) -> None:
    with pytest.raises(mapioffline.NotFound, match="bridge publish --profile"):
        mapioffline.open_offline(profile, backend=backend, wait=0.05)
    with pytest.raises(mapioffline.NotFound):
        mapioffline.open_offline(profile, backend=backend, wait=0)


@pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge")
@pytest.mark.parametrize("how", HOWS)
def test_ctrl_c_interrupts_open_wait(profile: str, how: str) -> None:
    timer, sent = _interrupt_soon(how)
    try:
        with pytest.raises(KeyboardInterrupt):
            mapioffline.open_offline(profile, backend="bridge", wait=math.inf)
        raised = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
    assert sent and raised - sent[0] < PROMPT_S


@pytest.mark.parametrize(("wait", "error"), [("1", TypeError), (True, TypeError), (-1, ValueError), (math.nan, ValueError)])
def test_open_wait_bad_values(profile: str, wait: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        mapioffline.open_offline(profile, backend="bridge", wait=wait)


def test_embedded_ignores_wait(profile: str) -> None:
    with mapioffline.open_offline(profile, backend="embedded", wait=5) as obj:
        assert obj.backend == "embedded"
