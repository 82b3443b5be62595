"""A second stateful machine: bursts of ``set_state`` while a change is in flight, with callback subscriptions.

Where ``test_stateful.py`` settles every non-blocking change at once, this machine leaves changes in flight: a
burst makes several ``set_state`` calls in a row (mostly ``block=False``), each either accepted (S_OK: started,
queued after a DONE being handed out, or a no-op) or refused with ``Pending``, and the next rule may run while
the object's thread still delivers. The model applies every accepted request, in order, the moment it is accepted
(README "State changes": only one request can be queued, and none can overtake another, so acceptance order is
delivery order); a refused one changes nothing.

Callback subscriptions are consumed by their dispatcher thread while the object delivers, so whether a record
fits a small ring is a matter of timing. The model therefore keeps, per sink, the log of every record the sink was
sent, each marked as certainly in the ring, certainly dropped, or unknown, and checks what a callback received
against it: every record's ``dropped_before`` must skip exactly the records lost just before it, and once the
subscription is closed, what is left of the log is exactly the drops not reported yet. A callback subscription
unadvised or closed while a change is in flight got a prefix of what it would have been sent: the model marks
those records as possibly never sent and checks the count against the sink's ``received``.

When a blocking call of a burst returns, every record of every change accepted so far has reached its sink
(README: ``block=True`` returns once DONE reached every sink), also when the call was a no-op because the change in
flight was heading to that state already (issue 19 item 7). A ctypes sink slow over DONE widens that phase.
Other rules (plain consumption, advising, unadvising a shared sink) first wait for the object to be idle
(``wait_idle``), which is itself checked: once it returns, every record of every accepted change is in its sink.

Scale: MAPIOFFLINE_STATEFUL_EXAMPLES (test_stateful.py reads it too) and MAPIOFFLINE_STATEFUL_STEPS; the defaults
keep the suite's run short, .ci/run runs 300 x 60."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, invariant, multiple, rule

from conftest import PythonSink, raw_advise, raw_unadvise
from mapioffline import Notification, OfflineObject, Pending, Sink, State, StreamEnded, Subscription
from stateful_objects import ObjectsMachine

Rec = tuple[int, int, int, int]  # kind, client_token, old, new
IN, DROPPED, UNKNOWN = "in", "dropped", "unknown"  # what became of a record sent to a sink


@dataclass
class Item:
    record: Rec
    status: str
    maybe_unsent: bool = False  # sent by a change in flight when its subscription ended: maybe never sent


@dataclass
class SinkModel:
    """One sink: the log of what it was sent, and who consumes it (this thread, or a callback's dispatcher)."""

    real: Sink
    owned: bool  # made by advise(): closed with its subscription
    log: list[Item] = field(default_factory=list)
    taken: int = 0  # log items before this one were consumed (or dropped) before the current consumer began
    ring: list[int] = field(default_factory=list)  # plain mode: log indexes in the ring, oldest first
    dropped: int = 0
    reported: int = 0
    received: int = 0
    delivered: int = 0
    feeds: int = 0
    ever_fed: bool = False
    closed: bool = False
    callback: CallbackModel | None = None  # the callback consuming this sink (active, or unadvised and draining)
    flight_mark: int = 0  # log length when the changes now in flight began

    def push(self, record: Rec) -> None:
        self.received += 1
        if self.callback is not None:
            self.log.append(Item(record, UNKNOWN))  # the dispatcher consumes concurrently: fits or not by timing
        elif len(self.ring) >= self.real.capacity:
            self.log.append(Item(record, DROPPED))
            self.dropped += 1
        else:
            self.log.append(Item(record, IN))
            self.ring.append(len(self.log) - 1)

    def pop(self, count: int) -> list[tuple[int, int, int, int, int]]:
        """Plain mode: what ``count`` records taken from the ring must be (with dropped_before)."""
        out = []
        while self.ring and len(out) < count:
            index = self.ring.pop(0)
            lost = sum(1 for item in self.log[self.taken:index] if item.status == DROPPED)
            out.append((*self.log[index].record, lost))
            self.reported += lost
            self.taken = index + 1
        self.delivered += len(out)
        return out

    @property
    def ended(self) -> bool:
        return self.ever_fed and self.feeds == 0


@dataclass
class CallbackModel:
    sink: SinkModel
    got: list[Notification]
    start: int  # the log index the dispatcher starts from

    def check(self, final: bool) -> None:
        """What the callback received matches the log; with ``final`` (the dispatcher has finished), nothing
        the ring accepted is missing."""
        got = list(self.got)
        log = self.sink.log
        pos = self.start
        for n in got:
            for _ in range(n.dropped_before):  # exactly the records lost just before this one
                assert pos < len(log), f"dropped_before {n.dropped_before} skips past the log"
                assert log[pos].status != IN, f"record {log[pos].record} was in the ring and was skipped"
                pos += 1
            assert pos < len(log), f"callback got {_rec(n)} beyond every record sent"
            item = log[pos]
            assert item.status != DROPPED and item.record == _rec(n), f"got {_rec(n)}, expected {item.record}"
            pos += 1
        if not final:
            return
        stats = self.sink.real.stats
        rest = log[pos:]
        unsent = self.sink.received - stats.received  # records of a subscription ended while they were in flight
        assert 0 <= unsent <= sum(item.maybe_unsent for item in rest), (unsent, rest)
        assert all(item.status != IN for item in rest), f"records still owed to the callback: {rest}"
        assert len(rest) - unsent == stats.dropped - stats.dropped_reported, (rest, stats)
        assert stats.pending == 0 and stats.delivered == self.sink.delivered + len(got)
        if stats.received <= self.sink.real.capacity:
            assert stats.dropped == 0, "a ring that was never full dropped a record"
        # The dispatcher has taken everything: back to an exact model, from the sink's own counters.
        self.sink.received = stats.received
        self.sink.delivered = stats.delivered
        self.sink.dropped = stats.dropped
        self.sink.reported = stats.dropped_reported
        self.sink.log = [Item(item.record, DROPPED) for item in log]  # what is unreported counts as dropped
        self.sink.taken = len(log) - (stats.dropped - stats.dropped_reported)
        self.sink.callback = None


class SlowDoneSink(PythonSink):
    """Takes a while over DONE, without the GIL: the phase in which a new request is queued (or, asking for the
    state the change is heading to, is a no-op) lasts long enough for this thread's next call to land in it."""

    def _notify(self, this: int, record: object) -> None:
        super()._notify(this, record)
        if record and record.contents.NotifyType == 3:  # type: ignore[attr-defined]
            time.sleep(0.0002)


@dataclass
class ForeignSub:
    """A ctypes IMAPIOfflineNotify advised through the vtable: Notify runs on the delivering thread (and needs
    the GIL, which widens every phase of a change), so once the object is idle it has received exactly what the
    model sent it."""

    sink: PythonSink
    profile: str
    obj: OfflineObject
    advise_token: int
    token: int
    expected: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    def check(self, final: bool) -> None:
        got = list(self.sink.records)
        if final:
            assert got == self.expected
        else:
            assert got == self.expected[: len(got)]


@dataclass
class ModelSub:
    sub: Subscription
    profile: str
    token: int
    sink: SinkModel
    callback: CallbackModel | None
    active: bool = True
    closed: bool = False


def _rec(n: Notification) -> Rec:
    return (n.raw_kind, n.client_token, n.raw_old_state, n.raw_new_state)


PROFILES = ["bursts-a", "bursts-b"]
# How burst calls ended, over a run: (accepted or "pending", block, a change of ours may be in flight, no-op).
# For figures only (a script that runs the machine may print it); nothing asserts on it.
BURST_OUTCOMES: Counter[tuple[str, bool, bool, bool]] = Counter()
CAPACITIES = [1, 2, 3, 8, 1024]


class BurstMachine(ObjectsMachine):
    profiles = PROFILES
    handles = Bundle("handles")
    subs = Bundle("subs")

    def __init__(self) -> None:
        super().__init__()
        self.sinks: list[SinkModel] = []  # the user's own sinks (advise() makes the others)
        self.in_flight: OfflineObject | None = None  # a handle whose profile may still be delivering
        self.foreign: list[ForeignSub] = []

    # -- helpers ---------------------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Waits for the changes a burst left in flight; after that every record they sent is in its sink."""
        obj, self.in_flight = self.in_flight, None
        if obj is not None:
            assert obj.wait_idle(30)
            assert obj.state is self.state[obj.profile]
        for f in self.foreign:
            f.check(final=True)

    def _sent(self, profile: str, kind: int, old: State, new: State) -> None:
        for f in self.foreign:
            if f.profile == profile:
                f.expected.append((kind, f.token, 3, int(old), int(new)))

    def _end(self, m: ModelSub) -> bool:
        """While a change is in flight, a subscription that ends got only part of what the model sent it: those
        records may never have been sent."""
        if not super()._end(m):
            return False
        if self.in_flight is not None and self.in_flight.profile == m.profile:
            for item in m.sink.log[m.sink.flight_mark:]:
                if item.record[1] == m.token and item.status != DROPPED:
                    item.maybe_unsent = True
        return True

    # -- objects ---------------------------------------------------------------------------------------------
    @rule(target=handles, profile=st.sampled_from(PROFILES))
    def open(self, profile: str) -> OfflineObject:
        self._settle()
        return self._open(profile)

    @rule(obj=consumes(handles))
    def close_handle(self, obj: OfflineObject) -> None:
        self._settle()
        for f in [f for f in self.foreign if f.obj is obj]:
            assert raw_unadvise(obj.com_pointer, f.advise_token) == 0
            self.foreign.remove(f)
        self._close_handle(obj)

    @rule(capacity=st.sampled_from(CAPACITIES))
    def new_sink(self, capacity: int) -> None:
        self.sinks.append(SinkModel(Sink(capacity), owned=False))

    # -- subscriptions ---------------------------------------------------------------------------------------
    @rule(target=subs, obj=handles, data=st.data(), callback=st.booleans(), capacity=st.sampled_from(CAPACITIES))
    def advise(self, obj: OfflineObject, data: st.DataObject, callback: bool, capacity: int) -> object:
        self._settle()
        s: SinkModel | None = data.draw(st.sampled_from([None, *(s for s in self.sinks if not s.closed)]))
        return self._advise(obj, s, callback, capacity)

    def _advise(self, obj: OfflineObject, s: SinkModel | None, callback: bool, capacity: int) -> object:
        token = self._new_token()
        got: list[Notification] | None = [] if callback else None
        owner = None if s is None or s.callback is None else next(m for m in self.all_subs if m.callback is s.callback)
        if got is not None and owner is not None and owner.active:
            try:
                obj.advise(s.real, token=token, callback=got.append)  # type: ignore[union-attr]
            except ValueError:
                return multiple()  # a sink has at most one active callback subscription
            raise AssertionError("a second active callback subscription on one sink must be refused")
        sub = obj.advise(None if s is None else s.real, token=token, capacity=capacity,
                         callback=None if got is None else got.append)
        if s is None:
            s = SinkModel(sub.sink, owned=True)
        s.feeds += 1
        s.ever_fed = True
        if owner is not None and not owner.active:
            # The sink's callback subscription was unadvised: advise() (with or without a callback) let its
            # dispatcher hand over everything first, so it has finished and got all it will ever get.
            assert s.callback is not None
            s.callback.check(final=True)
        cb: CallbackModel | None = None
        if got is not None:
            cb = CallbackModel(s, got, start=s.taken)
            s.ring = []  # whatever is in the ring now goes to the callback
            s.callback = cb
        m = ModelSub(sub, obj.profile, token, s, cb)
        self.all_subs.append(m)
        return m

    @rule(target=subs, m=subs, callback=st.booleans())
    def readvise(self, m: ModelSub, callback: bool) -> object:
        """Unadvises a subscription on a sink of the user's and advises that sink again at once, on the same
        object: the old dispatcher, if any, may not have seen its stream end yet."""
        if m.sink.owned or m.sink.closed or m.closed or not self.open_handles[m.profile]:
            return multiple()
        self._settle()
        m.sub.unadvise()
        self._end(m)
        return self._advise(self.open_handles[m.profile][0], m.sink, callback, 8)

    @rule(m=subs)
    def unadvise(self, m: ModelSub) -> None:
        if m.callback is None or m.sink.feeds > 1:
            self._settle()  # a plain sink (or a shared one) is checked exactly: no partial delivery
        m.sub.unadvise()
        self._end(m)

    @rule(m=consumes(subs))
    def close_sub(self, m: ModelSub) -> None:
        if m.callback is None or m.sink.feeds > 1 or m.sink.callback is not m.callback:
            self._settle()
        m.sub.close()
        self._end(m)
        m.closed = True
        if m.callback is not None and m.sink.callback is m.callback:
            # close() handed every notification already in the sink to the callback: check all of it.
            m.callback.check(final=True)
        if m.sink.owned:
            assert m.sink.real.closed
            m.sink.closed = True

    @rule(obj=handles, slow=st.booleans())
    def advise_foreign(self, obj: OfflineObject, slow: bool) -> None:
        self._settle()
        sink = SlowDoneSink() if slow else PythonSink()
        token = self._new_token()
        hr, advise_token = raw_advise(obj.com_pointer, sink.com_pointer, token)
        assert hr == 0
        self.foreign.append(ForeignSub(sink, obj.profile, obj, advise_token, token))

    @rule(data=st.data())
    def unadvise_foreign(self, data: st.DataObject) -> None:
        if not self.foreign:
            return
        self._settle()
        f = data.draw(st.sampled_from(self.foreign))
        assert raw_unadvise(f.obj.com_pointer, f.advise_token) == 0
        self.foreign.remove(f)
        assert f.sink.refs == 1  # Unadvise released the manager's reference

    # -- state changes ---------------------------------------------------------------------------------------
    @rule(obj=handles, calls=st.lists(st.tuples(st.sampled_from([State.OFFLINE, State.ONLINE]),
                                                st.sampled_from([False, False, False, True])),
                                      min_size=1, max_size=6))
    def burst(self, obj: OfflineObject, calls: list[tuple[State, bool]]) -> None:
        if self.in_flight is not None and self.in_flight.profile != obj.profile:
            self._settle()  # one profile in flight at a time: a shared sink then has one producer
        idle = self.in_flight is None
        if idle:
            for s in self._all_sinks():
                s.flight_mark = len(s.log)
        for target, block in calls:
            no_op = target == self.state[obj.profile]
            try:
                obj.set_state(target, block=block)
            except Pending:
                BURST_OUTCOMES["pending", block, not idle, no_op] += 1
                assert not idle, "Pending while no change could be in flight"
                continue
            BURST_OUTCOMES["accepted", block, not idle, no_op] += 1
            self._apply(obj.profile, target)
            idle = False
            if block:
                self._check_delivered(obj.profile)
        self.in_flight = obj

    def _check_delivered(self, profile: str) -> None:
        """A blocking set_state has returned: every change accepted so far on the profile reached every sink
        (README: it returns once DONE reached every sink), also when it was a no-op because the change in flight
        was already heading to that state."""
        for s in self._all_sinks():
            if not s.closed and any(m.sink is s and m.profile == profile for m in self.all_subs):
                unsure = sum(item.maybe_unsent for item in s.log)  # its subscription ended while they were in flight
                assert s.received - unsure <= s.real.stats.received <= s.received, (
                    "set_state(block=True) returned before DONE reached every sink")
        for f in self.foreign:
            if f.profile == profile:
                f.check(final=True)

    @rule()
    def wait_idle(self) -> None:
        self._settle()

    # -- consumers (this thread) -----------------------------------------------------------------------------
    @rule(data=st.data(), how=st.sampled_from(["get", "drain"]), count=st.integers(0, 5))
    def consume(self, data: st.DataObject, how: str, count: int) -> None:
        self._settle()
        plain = [s for s in self._all_sinks() if s.callback is None and not s.closed]
        if not plain:
            return
        s = data.draw(st.sampled_from(plain))
        if how == "get":
            try:
                got = [(*_rec(n), n.dropped_before) for n in [s.real.get(timeout=0)]]
            except TimeoutError:
                got = []
                assert not s.ring and not s.ended
            except StreamEnded:
                got = []
                assert not s.ring and s.ended
            assert got == s.pop(1)
        else:
            assert [(*_rec(n), n.dropped_before) for n in s.real.drain(count)] == s.pop(count)

    def _all_sinks(self) -> list[SinkModel]:
        seen: dict[int, SinkModel] = {id(s): s for s in self.sinks}
        for m in self.all_subs:
            seen.setdefault(id(m.sink), m.sink)
        return list(seen.values())

    # -- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def callbacks_consistent(self) -> None:
        for f in self.foreign:
            f.check(final=False)
        for s in self._all_sinks():
            if s.callback is not None:
                s.callback.check(final=False)

    @invariant()
    def counters_match(self) -> None:
        if self.in_flight is not None:
            return
        for s in self._all_sinks():
            if s.callback is None and not s.closed:
                stats = s.real.stats
                assert (stats.received, stats.delivered, stats.dropped, stats.dropped_reported) == (
                    s.received, s.delivered, s.dropped, s.reported)

    def teardown(self) -> None:
        try:
            self._settle()
            for m in self.all_subs:
                if not m.closed:
                    m.sub.close()
                    m.closed = True
                    if m.callback is not None and m.sink.callback is m.callback:
                        m.callback.check(final=True)
        finally:
            # Whatever failed above: release everything, so that the next example starts from fresh objects and
            # no ctypes sink is freed while an object still holds it.
            for f in self.foreign:
                raw_unadvise(f.obj.com_pointer, f.advise_token)
            self._close_all()
            for s in self.sinks:
                s.real.close()


BurstMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("MAPIOFFLINE_STATEFUL_EXAMPLES", "50")),
    stateful_step_count=int(os.environ.get("MAPIOFFLINE_STATEFUL_STEPS", "30")),
    deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, print_blob=True)
TestBurstMachine = BurstMachine.TestCase
