"""The public OfflineObject: the compiled handle plus ``advise()``, which makes a Subscription (a facade object)."""

from __future__ import annotations

from collections.abc import Callable

from mapioffline import _core
from mapioffline._core import Notification
from mapioffline._sink import Sink
from mapioffline._subscription import Subscription

__all__ = ["OfflineObject"]


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
