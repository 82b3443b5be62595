"""The public Sink: the compiled sink plus asyncio delivery (the binding itself knows nothing of asyncio)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from mapioffline import _core
from mapioffline._core import Notification
from mapioffline.errors import ClosedError

__all__ = ["Sink"]


class Sink(_core.Sink):
    __doc__ = _core.Sink.__doc__
    __slots__ = ()

    def aget(self) -> Coroutine[Any, Any, Notification]:
        """``await sink.aget()``: the next notification without blocking the event loop (selector loops watch
        fileno(); the Proactor loop waits in the default executor). Any number of tasks, on one loop or several,
        may await one sink: each notification goes to exactly one of them. Raises what get() raises at the end
        of the stream (StreamEnded, ClosedError)."""
        from mapioffline import aio  # asyncio loads with the first await, not with the package

        return aio.aget(self)

    def __aiter__(self) -> Sink:
        return self

    async def __anext__(self) -> Notification:
        from mapioffline import aio

        try:
            return await aio.aget(self)
        except ClosedError:  # StreamEnded and PublisherGone derive from it
            raise StopAsyncIteration from None
