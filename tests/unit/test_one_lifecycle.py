"""One lifecycle (issue 20 item 2): every handle, native or Python, follows the same rules (close() idempotent,
``closed``, a context manager that refuses a closed handle, a ResourceWarning when collected open), and the fork
generation that makes inherited handles inert is the native core's own counter."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from mapioffline import ClosedError, NotFound, Sink, bridge, open_offline
from mapioffline import _core
from mapioffline._offline import OfflineObject
from mapioffline.testing import live_offline_objects, start_pump

# Each factory makes one open handle; the ExitStack keeps what it needs alive (closed after the test).
Factory = Callable[[ExitStack, str], Any]


def _sink(stack: ExitStack, profile: str) -> Any:
    return Sink(4)


def _offline(stack: ExitStack, profile: str) -> Any:
    return open_offline(profile, backend="embedded")


def _subscription(stack: ExitStack, profile: str) -> Any:
    return stack.enter_context(open_offline(profile, backend="embedded")).advise()


def _publisher(stack: ExitStack, profile: str) -> Any:
    return bridge.publish(profile)


def _pump(stack: ExitStack, profile: str) -> Any:
    return start_pump(stack.enter_context(Sink(4)).com_pointer, 0)


HANDLES: dict[str, tuple[Factory, str]] = {
    # name: (factory, what the warning for one collected open says)
    "sink": (_sink, "unclosed <mapioffline.Sink"),
    "offline": (_offline, "unclosed <mapioffline.OfflineObject"),
    "subscription": (_subscription, "unclosed <mapioffline.Subscription"),
    "publisher": (_publisher, "unstopped <mapioffline.BridgePublisher"),
    "pump": (_pump, "unjoined <mapioffline.testing.PumpHandle"),
}


@pytest.fixture(params=sorted(HANDLES))
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "publisher" and sys.platform not in ("linux", "win32"):
        pytest.skip("the bridge exists on Linux and Windows")
    return str(request.param)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def test_close_is_idempotent_and_closed_tells(kind: str, stack: ExitStack, profile: str) -> None:
    handle = HANDLES[kind][0](stack, profile)
    assert handle.closed is False
    handle.close()
    assert handle.closed is True
    handle.close()
    assert handle.closed is True


def test_with_closes_and_refuses_a_closed_handle(kind: str, stack: ExitStack, profile: str) -> None:
    handle = HANDLES[kind][0](stack, profile)
    with handle as entered:
        assert entered is handle
    assert handle.closed
    with pytest.raises(ClosedError):
        with handle:
            pass


def test_collected_open_warns_and_is_closed(kind: str, stack: ExitStack, profile: str) -> None:
    factory, warning = HANDLES[kind]
    handle = factory(stack, profile)
    with pytest.warns(ResourceWarning, match=warning):
        del handle
        gc.collect()


def test_pump_join_is_close() -> None:
    with Sink(16) as sink:
        pump = start_pump(sink.com_pointer, 5, threads=2)
        with pump:
            pass
        assert not pump.running and pump.closed
        assert pump.elapsed_ns > 0 and pump.join() == pump.elapsed_ns
        assert sink.stats.received == 10


def test_open_bridge_raises_or_gives_a_handle(profile: str) -> None:
    before = live_offline_objects()
    with pytest.raises(NotFound):
        _core._open_bridge(OfflineObject, profile)
    with bridge.publish(profile):
        with _core._open_bridge(OfflineObject, profile) as obj:
            assert type(obj) is OfflineObject and obj.backend == "bridge" and obj.profile == profile
            assert bridge.stats(obj).publisher_pid == os.getpid()
        with pytest.raises(ClosedError):
            bridge.stats(obj)  # pinned: a closed handle is refused, never read
    assert live_offline_objects() == before
