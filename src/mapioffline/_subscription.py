"""Subscription: one Advise registration, as a context manager, with optional callback delivery."""

from __future__ import annotations

import atexit
import logging
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mapioffline.errors import ClosedError

if TYPE_CHECKING:
    from mapioffline._core import Notification, OfflineObject, Sink

__all__ = ["Subscription"]

logger = logging.getLogger("mapioffline")

# Subscriptions with a dispatcher thread, closed at interpreter exit before daemon threads are stopped.
_dispatching: weakref.WeakSet[Subscription] = weakref.WeakSet()


class Subscription:
    """A registration made by ``OfflineObject.advise()``. Leaving the ``with`` block (or ``close()``) unadvises
    and, if ``advise()`` made the sink, closes it. ``unadvise()`` only stops delivery: what arrived can still be
    drained. Holds its own reference on the offline object."""

    _offline: OfflineObject | None
    _sink: Sink
    _owns_sink: bool
    _advise_token: int
    _client_token: int
    _callback: Callable[[Notification], object] | None
    _dispatcher: threading.Thread | None

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
        from mapioffline._core import Sink

        if sink is not None and not isinstance(sink, Sink):
            raise TypeError(f"sink must be a mapioffline.Sink or None, not {type(sink).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        if isinstance(token, bool) or not isinstance(token, int):
            raise TypeError(f"token must be an int, not {type(token).__name__}")
        if not 0 <= token <= 0xFFFFFFFF:
            raise ValueError(f"token must fit in 32 bits, not {token}")
        own = offline._clone()  # checks that the object is open
        try:
            owns_sink = sink is None
            the_sink = Sink(capacity) if sink is None else sink
            try:
                advise_token = own._advise_native(the_sink, token)
            except BaseException:
                if owns_sink:
                    the_sink.close()
                raise
        except BaseException:
            own.close()
            raise
        self = cls.__new__(cls)
        self._offline = own
        self._sink = the_sink
        self._owns_sink = owns_sink
        self._advise_token = advise_token
        self._client_token = token
        self._callback = callback
        self._dispatcher = None
        if callback is not None:
            the_sink._set_dispatched(True)
            self._dispatcher = threading.Thread(
                target=self._dispatch, name=f"mapioffline-dispatch-{advise_token}", daemon=True
            )
            _dispatching.add(self)
            self._dispatcher.start()
        return self

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

    def _dispatch(self) -> None:
        sink, callback = self._sink, self._callback
        assert callback is not None
        while True:
            try:
                notification = sink._dispatch_get()
            except ClosedError:
                return
            if notification is None:
                return
            try:
                callback(notification)
            except Exception:
                logger.exception("mapioffline: subscription %d callback raised", self._advise_token)

    def unadvise(self) -> None:
        """Stops delivery (Unadvise); the sink stays open so what arrived can be drained. Idempotent."""
        token, self._advise_token = self._advise_token, 0
        if token and self._offline is not None:
            try:
                self._offline._unadvise_native(token)
            except ClosedError:
                pass  # forked child: nothing to unadvise here
        if token:
            try:
                self._sink._detach()
            except ClosedError:
                pass

    def close(self) -> None:
        """Unadvises, closes the sink if advise() made it, waits for a running callback (unless called from it)
        and releases the object. Idempotent."""
        self.unadvise()
        if self._owns_sink:
            self._sink.close()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join()
        _dispatching.discard(self)
        offline, self._offline = self._offline, None
        if offline is not None:
            offline.close()

    def __enter__(self) -> Subscription:
        if self._offline is None:
            raise ClosedError("the subscription is closed")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_offline", None) is not None:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __repr__(self) -> str:
        state = "active" if self._advise_token else ("unadvised" if self._offline is not None else "closed")
        return f"<mapioffline.Subscription {state} advise_token={self._advise_token} client_token={self._client_token}>"


@atexit.register
def _close_dispatching() -> None:
    """At exit, stop dispatcher threads cleanly before the interpreter stops daemon threads."""
    for subscription in list(_dispatching):
        try:
            subscription.close()
        except Exception:  # pragma: no cover - best effort at exit
            logger.exception("mapioffline: closing a subscription at exit failed")
