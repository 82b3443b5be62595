"""The public OfflineObject: the compiled handle plus what is built from subscriptions: ``advise()``, which makes a
Subscription (a facade object), and the waits for a state, ``wait_for_state()`` and ``await_state()``."""

from __future__ import annotations

import time
from collections.abc import Callable

from mapioffline import _core
from mapioffline._core import Notification
from mapioffline._enums import NotifyKind, State
from mapioffline._sink import Sink
from mapioffline._subscription import Subscription

__all__ = ["OfflineObject"]

# The ring of a wait's own subscription: a wait looks at DONE records and at the sink's last_state, which a full
# ring still updates, so a few records are enough.
_WAIT_CAPACITY = 16


def _target_state(state: object) -> State:
    if isinstance(state, bool) or not isinstance(state, int):
        raise TypeError(f"state must be a State or int, not {type(state).__name__}")
    if state not in (State.OFFLINE, State.ONLINE):
        raise ValueError(f"state must be State.OFFLINE (1) or State.ONLINE (2), not {state!r}")
    return State(state)


def _deadline(timeout: object) -> float | None:
    """The monotonic time a wait of ``timeout`` seconds ends at; None for no limit (None or infinity)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    if timeout == float("inf"):
        return None
    return time.monotonic() + timeout


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _brings(n: Notification, target: State) -> bool:
    return n.kind is NotifyKind.STATECHANGE_DONE and n.is_state_change and n.new_state is target


class OfflineObject(_core.OfflineObject):
    __doc__ = _core.OfflineObject.__doc__
    __slots__ = ()

    def advise(
        self,
        sink: Sink | None = None,
        *,
        token: int = 0,
        capacity: int = 1024,
        callback: Callable[[Notification], object] | None = None,
    ) -> Subscription:
        """Registers a sink and returns a Subscription (a context manager). Without ``sink`` a new Sink of
        ``capacity`` is made and owned by the subscription. With ``callback``, notifications are delivered one by
        one on a dispatcher thread, which then consumes the sink (one callback subscription per sink at a time).

        Raises TypeError/ValueError for bad arguments, ClosedError, MapiError from Advise."""
        return Subscription._create(self, sink, token, capacity, callback)

    def wait_for_state(self, state: State | int, timeout: float | None = None) -> bool:
        """Blocks until the object is in ``state`` (State.OFFLINE or State.ONLINE): returns True at once when it
        already is, True when a change's DONE brings it there, False when ``timeout`` seconds (None or
        ``float("inf")``: no limit) pass first. Works on every backend without polling: it subscribes first, then
        reads the state, then sleeps (GIL released) until a notification arrives. Ctrl-C interrupts it
        (KeyboardInterrupt).

        Raises TypeError/ValueError for a bad ``state`` or ``timeout``, ClosedError when the object is closed,
        PublisherGone when a bridge publisher stops while waiting, MapiError from Advise or GetCurrentState."""
        target = _target_state(state)
        deadline = _deadline(timeout)
        # Subscribed before the state is read: a change that starts after the subscription is in the sink.
        with self.advise(capacity=_WAIT_CAPACITY) as subscription:
            if self._in_state_once_settled(target, deadline, self.wait_idle):
                return True
            sink = subscription.sink
            while True:
                try:
                    n = sink.get(timeout=_left(deadline))
                except TimeoutError:
                    return False
                if _brings(n, target) or sink.last_state is target:  # last_state: a DONE the full ring dropped
                    return True

    def _in_state_once_settled(self, target: State, deadline: float | None,
                               wait_idle: Callable[[float | None], bool]) -> bool:
        """Whether the object is in ``target``, read after subscribing. The embedded object hands a change only to
        the sinks registered when it began, so a change already in flight then (its DONE still to come) would never
        reach our subscription: on that backend the change, and any queued after it, is let finish first
        (``wait_idle``, bounded by the deadline) and the state read again. A bridge object delivers whatever it
        reads after the subscription, so a read state is all it needs."""
        if self.raw_state == target:
            return True
        if self.backend != "embedded":
            return False
        wait_idle(_left(deadline))
        return self.raw_state == target

    async def await_state(self, state: State | int, timeout: float | None = None) -> bool:
        """``await obj.await_state(state, timeout=None)``: wait_for_state() for asyncio, without blocking the
        event loop (the sink's aget()). Cancelling the task ends the wait and its subscription.

        Raises what wait_for_state() raises (KeyboardInterrupt aside)."""
        import asyncio  # loaded by those who await, not with the package

        target = _target_state(state)
        deadline = _deadline(timeout)
        with self.advise(capacity=_WAIT_CAPACITY) as subscription:
            if await asyncio.to_thread(self._in_state_once_settled, target, deadline, self.wait_idle):
                return True
            sink = subscription.sink
            while True:
                left = _left(deadline)
                try:
                    n = await (sink.aget() if left is None else asyncio.wait_for(sink.aget(), left))
                except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
                    return False
                if _brings(n, target) or sink.last_state is target:
                    return True
