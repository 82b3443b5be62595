"""The reference model of one Sink, for the tests that check the real one against it (unit/test_stateful.py,
unit/test_differential.py).

A bounded FIFO: a full ring refuses the newest record and counts a drop. Each record keeps the drop count of its
push, so the record handed out next reports the drops since the one before it as ``dropped_before``. The stream
ends once every subscription that fed the sink has ended."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mapioffline import SinkStats


@dataclass
class ModelSink:
    capacity: int  # the real ring's (the requested capacity rounded up to a power of two)
    queue: deque[tuple[tuple[int, ...], int]] = field(default_factory=deque)  # (record, drops counted at its push)
    received: int = 0
    delivered: int = 0
    dropped: int = 0
    reported: int = 0
    feeds: int = 0  # subscriptions feeding the sink now
    ever_fed: bool = False

    def fed(self) -> None:
        """A subscription starts feeding the sink."""
        self.feeds += 1
        self.ever_fed = True

    def push(self, record: tuple[int, ...]) -> None:
        self.received += 1
        if len(self.queue) >= self.capacity:
            self.dropped += 1
        else:
            self.queue.append((record, self.dropped))

    def pop(self, count: int | None = None) -> list[tuple[int, ...]]:
        """What taking up to ``count`` records (None: all there are) gives: each record with its dropped_before."""
        out: list[tuple[int, ...]] = []
        while self.queue and (count is None or len(out) < count):
            record, stamp = self.queue.popleft()
            out.append((*record, stamp - self.reported))
            self.reported = stamp
        self.delivered += len(out)
        return out

    @property
    def ended(self) -> bool:
        return self.ever_fed and self.feeds == 0

    def stats(self) -> SinkStats:
        return SinkStats(self.received, self.delivered, self.dropped, 0, self.reported)
