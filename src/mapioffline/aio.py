"""asyncio delivery: ``await sink.aget()`` and ``async for n in sink``.

On selector loops the sink's descriptor (level-triggered) is watched with add_reader. A wake-up is only a hint:
take what is pending, and the watcher is removed in ``finally`` so that cancellation leaves nothing behind. Loops
without add_reader (the Windows Proactor loop) wait in the default executor, in short slices."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mapioffline._core import Notification, Sink

__all__ = ["aget"]

_EXECUTOR_SLICE_S = 0.05


async def aget(sink: Sink) -> Notification:
    """The next notification from ``sink``. Raises ClosedError when the sink is (or gets) closed."""
    loop = asyncio.get_running_loop()
    while True:
        notification = sink._try_get()
        if notification is not None:
            return notification
        fd, keepalive = sink._watch()
        try:
            if fd is None or not await _wait_readable(loop, fd):
                # No descriptor, or a loop without add_reader: wait on a worker thread, briefly, then look again.
                await loop.run_in_executor(None, sink._wait, _EXECUTOR_SLICE_S)
        finally:
            keepalive.release()


async def _wait_readable(loop: asyncio.AbstractEventLoop, fd: int) -> bool:
    """Waits until fd is readable; False if this loop cannot watch descriptors."""
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        loop.add_reader(fd, on_readable)
    except NotImplementedError:
        return False
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return True
