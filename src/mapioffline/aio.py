"""asyncio delivery: ``await sink.aget()`` and ``async for n in sink``.

On selector loops the sink's descriptor (level-triggered) is watched with add_reader: one watcher per loop and
sink, shared by every task awaiting that sink there (a second add_reader on the same descriptor would replace the
first one's callback and strand its task). A readable descriptor wakes every waiting task; each then takes what is
pending itself, so a record is never handed to a task that was cancelled meanwhile, and the ones that find nothing
wait again. Loops without add_reader (the Windows Proactor loop) wait in the default executor, in short slices."""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mapioffline._core import Notification, Sink, _Pin

__all__ = ["aget"]

_EXECUTOR_SLICE_S = 0.05


class _Watcher:
    """The one add_reader registration of a sink's descriptor on one loop, and the futures waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Sink, fd: int, pin: _Pin) -> None:
        self.loop = loop
        self.sink_id = id(sink)
        self.fd = fd
        self.pin = pin  # a native reference: the descriptor stays open while registered, even if the sink closes
        self.waiters: list[asyncio.Future[None]] = []
        self.stopped = False

    def add(self, waiter: asyncio.Future[None]) -> None:
        if not self.waiters:
            self.loop.add_reader(self.fd, self._readable)
        self.waiters.append(waiter)

    def discard(self, waiter: asyncio.Future[None]) -> None:
        try:
            self.waiters.remove(waiter)
        except ValueError:
            pass
        if not self.waiters:
            self._stop()

    def _readable(self) -> None:
        waiters, self.waiters = self.waiters, []
        self._stop()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _stop(self) -> None:
        # Once only: a task woken by _readable (which stopped us) discards its waiter afterwards, when a newer
        # watcher may own the same descriptor on this loop; a second remove_reader would unregister that one and
        # lose every later wake-up (test_delivery's many-tasks test failed 2 runs in 3 so).
        if self.stopped:
            return
        self.stopped = True
        try:
            self.loop.remove_reader(self.fd)
        except NotImplementedError:  # the loop never had it (Proactor)
            pass
        with _watchers_lock:
            by_sink = _watchers.get(self.loop)
        if by_sink is not None and by_sink.get(self.sink_id) is self:
            del by_sink[self.sink_id]
        self.pin.close()


# Per loop (weakly: a closed, collected loop takes its entries along), per sink id: the active watcher. A loop's
# own dict is only touched from that loop's thread; the outer mapping is shared by the loops of every thread, and
# WeakKeyDictionary is not documented as thread-safe (without the GIL, its weakref callbacks run on any thread).
_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Watcher]] = weakref.WeakKeyDictionary()
_watchers_lock = threading.Lock()


def _watcher_for(loop: asyncio.AbstractEventLoop, sink: Sink) -> _Watcher | None:
    with _watchers_lock:
        by_sink = _watchers.setdefault(loop, {})
    watcher = by_sink.get(id(sink))
    if watcher is None:
        fd, pin = sink._watch()
        if fd is None:  # no descriptor on this platform
            pin.close()
            return None
        watcher = _Watcher(loop, sink, fd, pin)
        by_sink[id(sink)] = watcher
    return watcher


async def aget(sink: Sink) -> Notification:
    """The next notification from ``sink``. Raises what Sink.get() raises at the end of the stream."""
    loop = asyncio.get_running_loop()
    while True:
        notification = sink._try_get()
        if notification is not None:
            return notification
        watcher = _watcher_for(loop, sink)
        if watcher is not None:
            waiter: asyncio.Future[None] = loop.create_future()
            try:
                watcher.add(waiter)
            except NotImplementedError:  # a loop that cannot watch descriptors (Proactor)
                watcher.discard(waiter)
                watcher = None
            else:
                try:
                    await waiter
                finally:
                    watcher.discard(waiter)  # cancellation leaves no reader behind
                continue
        # No descriptor, or a loop without add_reader: wait on a worker thread, briefly, then look again.
        await loop.run_in_executor(None, sink._wait, _EXECUTOR_SLICE_S)
