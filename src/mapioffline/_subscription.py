"""Subscription: one Advise registration, as a context manager, with optional callback delivery.

A subscription owns the registration state: it attaches to its sink when Advise succeeds and detaches exactly once
when it ends, so that a sink shared by several subscriptions streams while any of them is active, and a sink can be
advised again after its subscription ended."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mapioffline._dispatch import Dispatcher, hand_over
from mapioffline._enums import EndReason
from mapioffline._lifecycle import Lifecycle
from mapioffline.errors import ClosedError

if TYPE_CHECKING:
    from mapioffline._core import Notification, OfflineObject
    from mapioffline._sink import Sink

__all__ = ["Subscription"]


class Subscription(Lifecycle):
    """A registration made by ``OfflineObject.advise()``.

    ``unadvise()`` stops delivery: what arrived can still be taken, and consumers of the sink stop once it is empty
    (unless another subscription still feeds the same sink). ``close()`` (or leaving the ``with`` block) unadvises,
    lets a callback receive every notification already in the sink, closes the sink if ``advise()`` made it, and
    releases the subscription's own reference on the offline object."""

    _what = "subscription"
    _offline: OfflineObject | None = None  # its own handle on the object: held from advise() until close()
    _sink: Sink
    _owns_sink: bool
    _advise_token: int
    _client_token: int
    _dispatcher: Dispatcher | None
    _lock: threading.Lock
    _unadvise_lock: threading.Lock
    _close_sink_when_dispatcher_ends: bool
    _end_reason: EndReason | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("use OfflineObject.advise()")

    @classmethod
    def _create(
        cls,
        offline: OfflineObject,
        sink: Sink | None,
        token: int,
        capacity: int,
        callback: Callable[[Notification], object] | None,
    ) -> Subscription:
        from mapioffline._sink import Sink  # imported here: _sink -> aio, and _offline -> this module

        if sink is not None and not isinstance(sink, Sink):
            raise TypeError(f"sink must be a mapioffline.Sink or None, not {type(sink).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        if isinstance(token, bool) or not isinstance(token, int):
            raise TypeError(f"token must be an int, not {type(token).__name__}")
        if not 0 <= token <= 0xFFFFFFFF:
            raise ValueError(f"token must fit in 32 bits, not {token}")
        self = cls.__new__(cls)
        self._lock = threading.Lock()
        self._unadvise_lock = threading.Lock()
        self._sink = Sink(capacity) if sink is None else sink
        self._owns_sink = sink is None
        self._client_token = token
        self._close_sink_when_dispatcher_ends = False
        self._end_reason = None
        self._advise_token = 0
        self._offline = None
        # Before Advise, a previous, unadvised callback subscription on the sink hands over what is left and stops,
        # so no record of this new feed can reach the old callback; a callback subscription also claims the sink.
        self._dispatcher = None
        try:
            if callback is not None:
                self._dispatcher = Dispatcher(self._sink, callback, self._dispatcher_ended)
            elif sink is not None:
                hand_over(self._sink)
            own = offline._clone()  # checks that the object is open
            try:
                self._advise_token = own._advise_native(self._sink, token)
                self._offline = own
            except BaseException:
                own.close()
                raise
            self._sink._attach()  # after Advise succeeded: a failed advise leaves a user's sink as it was
        except BaseException:
            self._abandon()
            raise
        if self._dispatcher is not None:
            self._dispatcher.start(f"mapioffline-dispatch-{self._advise_token}")
        return self

    def _abandon(self) -> None:
        """Undoes a half-made subscription (advise() failed part way)."""
        if self._dispatcher is not None:
            self._dispatcher.release_claim()
        token, self._advise_token = self._advise_token, 0
        offline, self._offline = self._offline, None
        if offline is not None:
            if token:
                offline._unadvise_native(token)
            offline.close()
        if self._owns_sink:
            self._sink.close()

    @property
    def advise_token(self) -> int:
        """The manager's token for this registration (0 once unadvised)."""
        return self._advise_token

    @property
    def client_token(self) -> int:
        """The token echoed in every Notification's client_token."""
        return self._client_token

    @property
    def sink(self) -> Sink:
        """The sink notifications go to."""
        return self._sink

    @property
    def active(self) -> bool:
        """True until unadvise() or close()."""
        return self._advise_token != 0

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._offline is None

    @property
    def dispatcher_alive(self) -> bool | None:
        """For a callback subscription: whether its dispatcher thread still runs (False once it has delivered
        everything after close(), or if it died); None without a callback."""
        return None if self._dispatcher is None else self._dispatcher.alive

    @property
    def callback_running_for(self) -> float | None:
        """Seconds the callback now running has taken so far (a stuck callback shows here); None when idle or
        without a callback."""
        return None if self._dispatcher is None else self._dispatcher.callback_running_for

    @property
    def end_reason(self) -> EndReason | None:
        """Why this subscription's stream ended: None while it goes on; EndReason.PUBLISHER_GONE when the bridge
        publisher feeding the sink stopped or died (FAILED for another failure of a feed), CLOSED when the sink was
        closed first, else UNADVISED once unadvise() or close() ended it. Lets code after a ``for``/``async for``
        loop, or after a callback subscription, tell why without catching exceptions."""
        if self._end_reason is not None:
            return self._end_reason
        try:
            return self._sink.end_reason
        except ClosedError:  # a fork child: the sink is inert there
            return EndReason.CLOSED

    def unadvise(self) -> None:
        """Stops delivery (Unadvise); the sink stays open so what arrived can still be taken. Idempotent, and
        safe from several threads at once: a second caller returns once the first has finished."""
        with self._unadvise_lock:  # the whole step: close() must not release the object under a running Unadvise
            with self._lock:
                token, self._advise_token = self._advise_token, 0
            if not token:
                return
            try:
                reason = self._sink.end_reason  # read before our own detach: a failure or a close came first
            except ClosedError:
                reason = None
            self._end_reason = EndReason.UNADVISED if reason in (None, EndReason.UNADVISED) else reason
            offline = self._offline
            if offline is not None:
                try:
                    offline._unadvise_native(token)
                except ClosedError:
                    pass  # forked child: nothing to unadvise here
            if self._dispatcher is not None:
                self._dispatcher.retired = True
            try:
                self._sink._detach()  # after Unadvise: no Notify of ours can follow the end of the stream
            except ClosedError:
                pass

    def close(self, timeout: float | None = None) -> bool:
        """Unadvises; for a callback subscription, lets the dispatcher hand every notification already in the sink
        to the callback, waiting at most ``timeout`` seconds (None: no limit; from inside the callback it does not
        wait, the rest follows once the callback returns); closes the sink if advise() made it; releases the
        object. Returns False when the timeout passed first (what is left stays counted in
        ``sink.stats.pending``), else True. Idempotent."""
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
            if not timeout >= 0:
                raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
        self.unadvise()
        finished = True
        dispatcher = self._dispatcher
        if dispatcher is not None:
            if dispatcher.is_current_thread():
                # From inside the callback: the dispatcher flushes once the callback returns, then closes an owned
                # sink itself (closing it here would discard what is still pending).
                with self._lock:
                    self._close_sink_when_dispatcher_ends = True
                dispatcher.finish(None)
                self._release_offline()
                return True
            finished = dispatcher.finish(timeout)
        if self._owns_sink:
            self._sink.close()
        self._release_offline()
        return finished

    def _dispatcher_ended(self) -> None:
        with self._lock:
            close_sink = self._close_sink_when_dispatcher_ends
        if close_sink and self._owns_sink:
            self._sink.close()

    def _release_offline(self) -> None:
        with self._lock:
            offline, self._offline = self._offline, None
        if offline is not None:
            offline.close()

    def __repr__(self) -> str:
        state = "active" if self._advise_token else ("unadvised" if self._offline is not None else "closed")
        return f"<mapioffline.Subscription {state} advise_token={self._advise_token} client_token={self._client_token}>"
