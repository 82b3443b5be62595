"""A stateful property test over the public API (hypothesis RuleBasedStateMachine), checked against a model.

The machine opens embedded objects, advises in every mode (plain subscriptions with their own sink or on shared,
reused sinks; callback subscriptions), changes the state (blocking, non-blocking, twice in a row while the first is
pending), consumes with get/drain/drain_into/iteration, unadvises and closes. The model predicts every record (kind,
client token, states, dropped_before), every counter and every end of stream; reopening a profile whose handles
are all closed gives a fresh ONLINE object.

Determinism: a non-blocking change is followed by ``wait_idle()``, and callback subscriptions use rings large
enough that their dispatcher (which consumes concurrently) never drops; everything else runs on this thread."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, invariant, rule

from mapioffline import (RECORD_FORMAT, ClosedError, Notification, OfflineObject, Pending, Sink, State, StreamEnded,
                         Subscription)
from mapioffline.testing import live_offline_objects, live_sinks
from sink_model import ModelSink
from stateful_objects import ObjectsMachine

Record = tuple[int, int, int, int, int]  # kind, client_token, old, new, dropped_before


@dataclass
class ModelSub:
    sub: Subscription
    profile: str
    token: int
    sink: ModelSink
    real_sink: Sink
    callback: list[Notification] | None
    expected_callback: list[Record] = field(default_factory=list)
    active: bool = True
    closed: bool = False


def _record(n: Notification) -> Record:
    return (n.raw_kind, n.client_token, n.raw_old_state, n.raw_new_state, n.dropped_before)


PROFILES = ["stateful-a", "stateful-b"]


class DeliveryMachine(ObjectsMachine):
    profiles = PROFILES
    handles = Bundle("handles")
    subs = Bundle("subs")

    def __init__(self) -> None:
        super().__init__()
        self.baseline = (live_sinks(), live_offline_objects())
        self.shared = [Sink(c) for c in (2, 4)]
        self.shared_models = [ModelSink(s.capacity) for s in self.shared]

    # -- objects ---------------------------------------------------------------------------------------------
    @rule(target=handles, profile=st.sampled_from(PROFILES))
    def open(self, profile: str) -> OfflineObject:
        return self._open(profile)

    @rule(obj=consumes(handles))
    def close_handle(self, obj: OfflineObject) -> None:
        self._close_handle(obj)

    # -- subscriptions ---------------------------------------------------------------------------------------
    @rule(target=subs, obj=handles, where=st.sampled_from(["own", "shared0", "shared1", "callback"]),
          capacity=st.integers(1, 8))
    def advise(self, obj: OfflineObject, where: str, capacity: int) -> ModelSub:
        token = self._new_token()
        callback: list[Notification] | None = None
        if where == "own":
            sub = obj.advise(token=token, capacity=capacity)
            model = ModelSink(sub.sink.capacity)
        elif where == "callback":
            callback = []
            sub = obj.advise(token=token, capacity=1024, callback=callback.append)
            model = ModelSink(sub.sink.capacity)
        else:
            index = int(where[-1])
            sub = obj.advise(self.shared[index], token=token)
            model = self.shared_models[index]
        model.fed()
        m = ModelSub(sub, obj.profile, token, model, sub.sink, callback)
        self.all_subs.append(m)
        return m

    @rule(m=subs)
    def unadvise(self, m: ModelSub) -> None:
        m.sub.unadvise()
        self._end(m)

    @rule(m=consumes(subs))
    def close_sub(self, m: ModelSub) -> None:
        m.sub.close()
        self._end(m)
        m.closed = True
        if m.callback is not None:
            # close() handed every notification already in the sink to the callback, in order.
            m.expected_callback.extend(m.sink.pop())
            assert [_record(n) for n in m.callback] == m.expected_callback
        if m.real_sink not in self.shared:
            assert m.real_sink.closed

    # -- state changes ---------------------------------------------------------------------------------------
    @rule(obj=handles, to=st.sampled_from([State.OFFLINE, State.ONLINE]), block=st.booleans())
    def set_state(self, obj: OfflineObject, to: State, block: bool) -> None:
        obj.set_state(to, block=block)
        if not block:
            assert obj.wait_idle(10)
        self._apply(obj.profile, to)
        assert obj.state is self.state[obj.profile]

    @rule(obj=handles, first=st.sampled_from([State.OFFLINE, State.ONLINE]),
          second=st.sampled_from([State.OFFLINE, State.ONLINE]))
    def set_state_twice_while_pending(self, obj: OfflineObject, first: State, second: State) -> None:
        obj.set_state(first, block=False)
        try:
            obj.set_state(second, block=False)  # Pending before the first one's DONE, queued during it
            accepted = True
        except Pending:
            accepted = False
        assert obj.wait_idle(10)
        self._apply(obj.profile, first)
        if accepted:
            self._apply(obj.profile, second)
        assert obj.state is self.state[obj.profile]

    # -- consumers -------------------------------------------------------------------------------------------
    def _consumable(self) -> list[tuple[Sink, ModelSink]]:
        pairs = [(m.real_sink, m.sink) for m in self.all_subs
                 if m.callback is None and not m.closed and m.real_sink not in self.shared]
        return pairs + list(zip(self.shared, self.shared_models))

    @rule(data=st.data(), how=st.sampled_from(["get", "drain", "drain_into", "iterate"]), count=st.integers(0, 5))
    def consume(self, data: st.DataObject, how: str, count: int) -> None:
        sink, model = data.draw(st.sampled_from(self._consumable()))
        if how == "get":
            try:
                got = [_record(sink.get(timeout=0))]
            except TimeoutError:
                got = []
                assert not model.queue and not model.ended
            except StreamEnded:
                got = []
                assert not model.queue and model.ended
            assert got == model.pop(1)
        elif how == "drain":
            assert [_record(n) for n in sink.drain(count)] == model.pop(count)
        elif how == "drain_into":
            buffer = bytearray(32 * max(count, 1))
            n = sink.drain_into(buffer)
            expected = model.pop(max(count, 1))
            records = [struct.unpack_from(RECORD_FORMAT, buffer, 32 * i) for i in range(n)]
            assert [(r[1], r[2], r[4], r[5]) for r in records] == [e[:4] for e in expected]
        elif model.ended:  # iteration blocks while the stream goes on: only iterate a sink whose stream is over
            assert [_record(n) for n in sink] == model.pop()

    # -- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def counters_match(self) -> None:
        for sink, model in self._consumable():
            assert sink.stats == model.stats()

    def teardown(self) -> None:
        self._close_all()
        for sink in self.shared:
            sink.close()
        try:
            self.shared[0].get(0)
            raise AssertionError("a closed sink must refuse get()")
        except ClosedError:
            pass


DeliveryMachine.TestCase.settings = settings(
    # 50 x 30 in the suite; .ci/run runs this machine and the burst machine at 300 x 60 through these variables.
    max_examples=int(os.environ.get("MAPIOFFLINE_STATEFUL_EXAMPLES", "50")),
    stateful_step_count=int(os.environ.get("MAPIOFFLINE_STATEFUL_STEPS", "30")), deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
    print_blob=True)
TestDeliveryMachine = DeliveryMachine.TestCase
