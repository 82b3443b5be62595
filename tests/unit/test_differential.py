"""Differential: the same random script of state changes and consumer calls, run through our Sink (advised to the
embedded object) and through the reference model of a sink (tests/sink_model.py), must give equal observations.

The model: a bounded FIFO per subscription; a state change to a different state pushes START, STATECHANGE and
DONE (a full queue refuses the newest and counts a drop); drops are reported as ``dropped_before`` on the next record
that fits after them; ``last_state`` is the new state of the latest DONE, dropped or not. Hypothesis prints the
failing script (and a reproduce blob); the seeded test prints its seed.
"""

from __future__ import annotations

import os
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapioffline import OFFLINE_MASK, Notification, OfflineObject, State, StreamEnded, open_offline
from sink_model import ModelSink

Event = tuple[Any, ...]  # ("set", state, block) | ("drain", max_items) | ("get",) | ("check",) | ("unadvise", index)
Record = tuple[int, int, int, int, int, int]  # kind, client_token, mask, old, new, dropped_before


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
            models = [ModelSink(sub.sink.capacity) for sub in subs]
            last_states: list[State | None] = [None for _ in subs]
            for m in models:
                m.fed()
            state = State.ONLINE
            for step, event in enumerate(script):
                what = event[0]
                if what == "set":
                    target, block = event[1], event[2]
                    obj.set_state(target, block=block)
                    if not block:
                        assert obj.wait_idle(10)
                    if target != state:
                        advised = [i for i, m in enumerate(models) if m.feeds]
                        for kind in (1, 2, 3):
                            for i in advised:
                                models[i].push((kind, 100 + i, OFFLINE_MASK, state, target))
                        for i in advised:
                            last_states[i] = target  # the latest DONE's, dropped or not
                        state = target
                elif what == "drain":
                    index, max_items = event[1], event[2]
                    real.append((step, [_record(n) for n in subs[index].sink.drain(max_items)]))
                    expected.append((step, models[index].pop(max_items)))
                elif what == "get":
                    index = event[1]
                    try:
                        got: object = _record(subs[index].sink.get(timeout=0))
                    except TimeoutError:
                        got = "timeout"
                    except StreamEnded:
                        got = "ended"
                    real.append((step, got))
                    taken = models[index].pop(1)
                    # Once unadvised and empty, the stream is over: get() says so instead of timing out.
                    expected.append((step, taken[0] if taken else ("ended" if models[index].ended else "timeout")))
                elif what == "check":
                    index = event[1]
                    sink = subs[index].sink
                    last = sink.last_state
                    real.append((step, sink.stats, None if last is None else int(last), int(obj.state)))
                    expected.append((step, models[index].stats(), last_states[index], int(state)))
                elif what == "unadvise":
                    index = event[1]
                    subs[index].unadvise()
                    models[index].feeds = 0  # its only subscription; unadvising twice is allowed
            for index, (sub, model) in enumerate(zip(subs, models)):  # finally, everything that is left
                real.append(("end", index, [_record(n) for n in sub.sink.drain()], sub.sink.stats))
                expected.append(("end", index, model.pop(), model.stats()))
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
