"""asyncio: await sink.aget() and async for, on a selector loop (watching fileno()) and on a loop without
add_reader (the path the Windows Proactor loop takes: waiting in the default executor)."""

from __future__ import annotations

import asyncio
import selectors
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from mapioffline import ClosedError, Notification, NotifyKind, OfflineObject, Sink, State
from mapioffline.testing import pump

_KINDS = [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]


class ReaderlessLoop(asyncio.SelectorEventLoop):
    """A loop that cannot watch descriptors, like the Proactor loop: aget must fall back to the executor."""

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:  # type: ignore[override]
        raise NotImplementedError


def _selector_loop() -> asyncio.AbstractEventLoop:
    return asyncio.SelectorEventLoop(selectors.DefaultSelector())


LOOPS = [
    pytest.param(_selector_loop, id="selector"),
    pytest.param(ReaderlessLoop, id="executor-fallback"),
]


def run(factory: Callable[[], asyncio.AbstractEventLoop], coroutine: Coroutine[Any, Any, Any]) -> Any:
    loop = factory()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.mark.parametrize("factory", LOOPS)
def test_aget_waits_without_blocking_the_loop(factory: Callable[[], asyncio.AbstractEventLoop],
                                              offline: OfflineObject) -> None:
    async def main() -> list[Notification]:
        with offline.advise(token=3) as sub:
            ticks = 0

            ticked = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    if ticks == 3:
                        ticked.set()
                    await asyncio.sleep(0)

            getter = asyncio.ensure_future(sub.sink.aget())
            tick_task = asyncio.ensure_future(ticker())
            await ticked.wait()  # the loop kept running while aget waited
            assert not getter.done()
            offline.set_state(State.OFFLINE, block=False)
            first = await asyncio.wait_for(getter, 10)
            rest = [await asyncio.wait_for(sub.sink.aget(), 10) for _ in range(2)]
            tick_task.cancel()
            return [first, *rest]

    got = run(factory, main())
    assert [n.kind for n in got] == _KINDS
    assert {n.client_token for n in got} == {3}


@pytest.mark.parametrize("factory", LOOPS)
def test_aget_returns_at_once_when_something_is_pending(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def main(sink: Sink) -> Notification:
        return await sink.aget()

    with Sink(4) as sink:
        pump(sink.com_pointer, 1, kind=2)
        assert run(factory, main(sink)).kind is NotifyKind.STATECHANGE


@pytest.mark.parametrize("factory", LOOPS)
def test_async_for_ends_when_the_subscription_is_unadvised_and_drained(
        factory: Callable[[], asyncio.AbstractEventLoop], offline: OfflineObject) -> None:
    async def main() -> list[Notification]:
        got: list[Notification] = []
        with offline.advise() as sub:

            async def consume() -> None:
                async for n in sub.sink:
                    got.append(n)

            consumer = asyncio.ensure_future(consume())
            await asyncio.sleep(0)  # the consumer's first step: it is waiting in aget now
            offline.set_state(State.OFFLINE)
            offline.set_state(State.ONLINE)
            sub.unadvise()
            await asyncio.wait_for(consumer, 10)
        return got

    got = run(factory, main())
    assert [n.kind for n in got] == _KINDS * 2


@pytest.mark.parametrize("factory", LOOPS)
def test_close_wakes_aget_with_closed_error_and_ends_async_for(
        factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def main() -> None:
        sink = Sink(4)
        getter = asyncio.ensure_future(sink.aget())
        await asyncio.sleep(0)  # the getter's first step: it is waiting now, and close must wake it
        assert not getter.done()
        sink.close()
        with pytest.raises(ClosedError):
            await asyncio.wait_for(getter, 10)
        with pytest.raises(ClosedError):
            await sink.aget()
        other = Sink(4)
        seen = []
        first = asyncio.Event()

        async def consume() -> None:
            async for n in other:
                seen.append(n)
                first.set()

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        pump(other.com_pointer, 1)
        await asyncio.wait_for(first.wait(), 10)
        other.close()
        await asyncio.wait_for(consumer, 10)
        assert len(seen) == 1

    run(factory, main())


@pytest.mark.skipif(sys.platform == "win32", reason="fileno() is POSIX")
def test_cancellation_leaves_no_reader_registered() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with Sink(4) as sink:
            fd = sink.fileno()
            getter = asyncio.ensure_future(sink.aget())
            await asyncio.sleep(0)  # the getter's first step: its reader is registered now
            assert not getter.done()
            getter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await getter
            assert loop.remove_reader(fd) is False  # nothing left behind
            # The sink still works after the cancelled wait.
            pump(sink.com_pointer, 1)
            n = await asyncio.wait_for(sink.aget(), 10)
            assert n.kind is NotifyKind.STATECHANGE_DONE
            assert loop.remove_reader(fd) is False

            # wait_for timing out cancels too.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sink.aget(), 0.02)
            assert loop.remove_reader(fd) is False

    run(_selector_loop, main())


def test_asyncio_run_default_loop(offline: OfflineObject) -> None:
    """The plain asyncio.run() entry point users write."""

    async def main() -> list[Notification]:
        with offline.advise() as sub:
            offline.set_state(State.OFFLINE, block=False)
            return [await asyncio.wait_for(sub.sink.aget(), 10) for _ in range(3)]

    assert [n.kind for n in asyncio.run(main())] == _KINDS


@pytest.mark.parametrize("factory", LOOPS)
def test_many_notifications_through_async_for(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    total = 20000

    async def main(sink: Sink) -> int:
        count = 0
        async for n in sink:
            assert n.raw_old_state == count
            count += 1
            if count == total:
                break
        return count

    with Sink(1 << 15) as sink:
        pump(sink.com_pointer, total, sequence=True)
        assert run(factory, main(sink)) == total
