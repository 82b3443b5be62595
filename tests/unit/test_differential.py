"""Differential: the same random script of state changes and consumer calls, run through our Sink (advised to the
embedded object) and through a model built on queue.Queue, must give equal observations.

The model: a bounded queue.Queue per subscription; a state change to a different state puts START, STATECHANGE and
DONE (a full queue refuses the newest and counts a drop); drops are reported as ``dropped_before`` on the next record
that fits after them (the count is stamped when a record is put); ``last_state``
is the new state of the latest DONE, dropped or not. Hypothesis prints the failing script (and a reproduce blob);
the seeded test prints its seed.
"""

from __future__ import annotations

import os
import queue
import random
from dataclasses import dataclass, field
from typing import Any


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapioffline import OFFLINE_MASK, Notification, OfflineObject, SinkStats, State, StreamEnded, open_offline

Event = tuple[Any, ...]  # ("set", state, block) | ("drain", max_items) | ("get",) | ("check",) | ("unadvise", index)
Record = tuple[int, int, int, int, int, int]  # kind, client_token, mask, old, new, dropped_before


@dataclass
class ModelSink:
    """What one subscription's Sink should do, built on queue.Queue."""

    capacity: int
    token: int
    queue: queue.Queue[tuple[tuple[int, int, int, int, int], int]] = field(init=False)
    advised: bool = True
    received: int = 0
    delivered: int = 0
    dropped: int = 0
    reported: int = 0
    last_state: int | None = None

    def __post_init__(self) -> None:
        self.queue = queue.Queue(maxsize=self.capacity)

    def notify(self, kind: int, old: int, new: int) -> None:
        if not self.advised:
            return
        self.received += 1
        if kind == 3:
            self.last_state = new
        try:
            self.queue.put_nowait(((kind, self.token, OFFLINE_MASK, old, new), self.dropped))
        except queue.Full:
            self.dropped += 1

    def take(self, max_items: int | None) -> list[Record]:
        out: list[Record] = []
        while (max_items is None or len(out) < max_items) and not self.queue.empty():
            record, dropped_at_put = self.queue.get_nowait()
            gap, self.reported = dropped_at_put - self.reported, dropped_at_put
            out.append((*record, gap))
        self.delivered += len(out)
        return out

    def stats(self) -> tuple[SinkStats, int | None]:
        return SinkStats(self.received, self.delivered, self.dropped, 0, self.reported), self.last_state


def _record(n: Notification) -> Record:
    return (n.raw_kind, n.client_token, n.mask, n.raw_old_state, n.raw_new_state, n.dropped_before)


def run_script(profile: str, capacities: list[int], script: list[Event]) -> tuple[list[object], list[object]]:
    """Runs the script through the real thing and through the model; returns both lists of observations."""
    real: list[object] = []
    expected: list[object] = []
    with open_offline(profile, backend="embedded") as obj:
        subs = [obj.advise(token=100 + i, capacity=c) for i, c in enumerate(capacities)]
        try:
            # The model uses the real ring size (capacity rounded up to a power of two).
            models = [ModelSink(sub.sink.capacity, 100 + i) for i, sub in enumerate(subs)]
            state = State.ONLINE
            for step, event in enumerate(script):
                what = event[0]
                if what == "set":
                    target, block = event[1], event[2]
                    obj.set_state(target, block=block)
                    if not block:
                        assert obj.wait_idle(10)
                    if target != state:
                        for kind in (1, 2, 3):
                            for m in models:
                                m.notify(kind, state, target)
                        state = target
                elif what == "drain":
                    index, max_items = event[1], event[2]
                    real.append((step, [_record(n) for n in subs[index].sink.drain(max_items)]))
                    expected.append((step, models[index].take(max_items)))
                elif what == "get":
                    index = event[1]
                    try:
                        got: object = _record(subs[index].sink.get(timeout=0))
                    except TimeoutError:
                        got = "timeout"
                    except StreamEnded:
                        got = "ended"
                    real.append((step, got))
                    taken = models[index].take(1)
                    # Once unadvised and empty, the stream is over: get() says so instead of timing out.
                    expected.append((step, taken[0] if taken else ("timeout" if models[index].advised else "ended")))
                elif what == "check":
                    index = event[1]
                    sink = subs[index].sink
                    last = sink.last_state
                    real.append((step, sink.stats, None if last is None else int(last), int(obj.state)))
                    expected.append((step, *models[index].stats(), int(state)))
                elif what == "unadvise":
                    index = event[1]
                    subs[index].unadvise()
                    models[index].advised = False
            for index, (sub, model) in enumerate(zip(subs, models)):  # finally, everything that is left
                real.append(("end", index, [_record(n) for n in sub.sink.drain()], sub.sink.stats))
                leftover = model.take(None)
                expected.append(("end", index, leftover, model.stats()[0]))
        finally:
            for sub in subs:
                sub.close()
    return real, expected


SUBSCRIPTIONS = 2


def _events() -> st.SearchStrategy[Event]:
    index = st.integers(0, SUBSCRIPTIONS - 1)
    return st.one_of(
        st.tuples(st.just("set"), st.sampled_from([State.OFFLINE, State.ONLINE]), st.booleans()),
        st.tuples(st.just("drain"), index, st.one_of(st.none(), st.integers(0, 5))),
        st.tuples(st.just("get"), index),
        st.tuples(st.just("check"), index),
        st.tuples(st.just("unadvise"), index),
    )


_runs = iter(range(10**9))


@settings(max_examples=60, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(capacities=st.lists(st.integers(1, 9), min_size=SUBSCRIPTIONS, max_size=SUBSCRIPTIONS),
       script=st.lists(_events(), max_size=30))
def test_sink_matches_a_queue_model(capacities: list[int], script: list[Event]) -> None:
    real, expected = run_script(f"differential-{next(_runs)}", capacities, script)
    assert real == expected


def _random_script(rng: random.Random, length: int) -> list[Event]:
    script: list[Event] = []
    for _ in range(length):
        roll = rng.random()
        index = rng.randrange(SUBSCRIPTIONS)
        if roll < 0.45:
            script.append(("set", rng.choice([State.OFFLINE, State.ONLINE]), rng.random() < 0.5))
        elif roll < 0.7:
            script.append(("drain", index, rng.choice([None, 0, 1, 2, 7])))
        elif roll < 0.85:
            script.append(("get", index))
        elif roll < 0.995:
            script.append(("check", index))
        else:
            script.append(("unadvise", index))
    return script


def test_seeded_long_script_matches_the_model() -> None:
    seed = int(os.environ.get("MAPIOFFLINE_TEST_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    capacities = [rng.randint(1, 16) for _ in range(SUBSCRIPTIONS)]
    script = _random_script(rng, 300)
    real, expected = run_script(f"differential-seeded-{seed}", capacities, script)
    assert real == expected, f"differential mismatch; reproduce with MAPIOFFLINE_TEST_SEED={seed}"
