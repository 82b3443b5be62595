"""Why a stream ended: Sink.end_reason and Subscription.end_reason, read after a loop stopped, no exception caught."""

from __future__ import annotations

import asyncio
import sys

import pytest

import mapioffline
from mapioffline import EndReason, OfflineObject, Sink
from mapioffline.bridge import publish

HAVE_BRIDGE = sys.platform.startswith("linux") or sys.platform == "win32"


def test_none_while_streaming_and_before_any_feed(offline: OfflineObject) -> None:
    with Sink() as sink:
        assert sink.end_reason is None  # never fed: it just waits
        with offline.advise(sink) as sub:
            assert sub.end_reason is None and sink.end_reason is None


def test_unadvised(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        sub.unadvise()
        assert list(sub.sink) == []
        assert sub.end_reason is EndReason.UNADVISED
        assert sub.sink.end_reason is EndReason.UNADVISED
    assert sub.end_reason is EndReason.UNADVISED
    assert sub.sink.end_reason is EndReason.UNADVISED  # readable after close, as it was


def test_a_new_subscription_reopens_the_stream(offline: OfflineObject) -> None:
    with Sink() as sink:
        with offline.advise(sink):
            pass
        assert sink.end_reason is EndReason.UNADVISED
        with offline.advise(sink) as again:
            assert sink.end_reason is None and again.end_reason is None


def test_sink_closed_while_streaming(offline: OfflineObject) -> None:
    sink = Sink()
    with offline.advise(sink) as sub:
        sink.close()
        assert list(sink) == []
        assert sink.end_reason is EndReason.CLOSED
        assert sub.end_reason is EndReason.CLOSED
    assert sub.end_reason is EndReason.CLOSED  # the unadvise that followed does not hide the first reason


@pytest.mark.skipif(not HAVE_BRIDGE, reason="no bridge")
@pytest.mark.parametrize("loop", ["for", "async for"])
def test_publisher_gone(profile: str, loop: str) -> None:
    received: list[mapioffline.Notification] = []
    publisher = publish(profile)
    with publisher, mapioffline.open_offline(profile, backend="bridge") as obj:
        with obj.advise() as sub:
            publisher.stop()
            if loop == "for":
                received.extend(sub.sink)
            elif loop == "async for":

                async def consume() -> None:
                    async for n in sub.sink:
                        received.append(n)

                asyncio.run(consume())
            assert sub.end_reason is EndReason.PUBLISHER_GONE
        assert sub.end_reason is EndReason.PUBLISHER_GONE
        assert sub.sink.end_reason is EndReason.PUBLISHER_GONE
    assert received == []


def test_values_are_documented_strings() -> None:
    assert [r.value for r in EndReason] == ["unadvised", "publisher_gone", "failed", "closed"]
    assert str(EndReason.PUBLISHER_GONE) == "PUBLISHER_GONE"
    assert EndReason("publisher_gone") is EndReason.PUBLISHER_GONE
