"""OfflineObject and open_offline with the embedded backend: opening, state changes, capabilities, bad inputs,
Pending, lifetime of the embedded object."""

from __future__ import annotations

import _thread
import ctypes
import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest
from conftest import (
    HRESULT,
    IID_IMAPIOfflineMgr,
    IID_IUnknown,
    PythonSink,
    raw_advise,
    raw_unadvise,
)

import mapioffline
from mapioffline import (
    OFFLINE_MASK,
    Capability,
    ClosedError,
    MapiError,
    NotifyKind,
    NotSupported,
    OfflineObject,
    Pending,
    State,
    open_offline,
)
from mapioffline._ctypes_abi import CtypesComObject
from mapioffline.testing import live_offline_objects

# -- open_offline ---------------------------------------------------------------------------------------------


def test_embedded_backend(profile: str) -> None:
    with open_offline(profile, backend="embedded") as obj:
        assert obj.backend == "embedded"
        assert obj.profile == profile
        assert not obj.closed
        assert isinstance(obj.com_pointer, int) and obj.com_pointer > 0
        assert repr(obj) == f"<mapioffline.OfflineObject backend='embedded' profile={profile!r}>"


def test_auto_backend_is_never_the_simulator(profile: str) -> None:
    assert not mapioffline._core._outlook_loaded()
    with pytest.raises(mapioffline.NotFound, match='backend="embedded"'):
        open_offline(profile)


def test_default_profile() -> None:
    with open_offline(backend="embedded") as obj:
        assert obj.profile == "mapioffline"


def test_outlook_backend_outside_outlook_raises_a_clear_mapi_error(profile: str) -> None:
    with pytest.raises(MapiError) as info:
        open_offline(profile, backend="outlook")
    if sys.platform != "win32":
        assert isinstance(info.value, NotSupported)
        assert isinstance(info.value, NotImplementedError)
        assert "Windows" in str(info.value)


def test_available_backends() -> None:
    backends = mapioffline.available_backends()
    assert backends["embedded"] == "available"
    assert not backends["outlook"].startswith("available")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((1,), {}, TypeError),
        ((None,), {}, TypeError),
        ((b"name",), {}, TypeError),
        (("",), {}, ValueError),
        (("a\0b",), {}, ValueError),
        (("p",), {"backend": "Embedded"}, ValueError),
        (("p",), {"backend": "com"}, ValueError),
        (("p",), {"backend": None}, TypeError),
        (("p",), {"backend": 1}, TypeError),
    ],
)
def test_open_offline_bad_arguments(args: tuple[object, ...], kwargs: dict[str, object],
                                    error: type[Exception]) -> None:
    with pytest.raises(error):
        open_offline(*args, **kwargs)  # type: ignore[arg-type]


def test_backend_is_keyword_only(profile: str) -> None:
    with pytest.raises(TypeError):
        open_offline(profile, "embedded")  # type: ignore[call-arg]


def test_cannot_be_constructed_directly() -> None:
    with pytest.raises(TypeError, match="open_offline"):
        OfflineObject()


# -- one object per profile -----------------------------------------------------------------------------------


def test_same_profile_case_insensitive_is_the_same_object(profile: str) -> None:
    with open_offline(profile, backend="embedded") as a, open_offline(profile.upper(), backend="embedded") as b:
        assert a.com_pointer == b.com_pointer
        a.set_state(State.OFFLINE)
        assert b.state is State.OFFLINE
    with open_offline(profile + "-other", backend="embedded") as c:
        assert c.state is State.ONLINE


def test_object_lives_while_a_handle_refers_to_it_and_a_new_one_starts_online(profile: str) -> None:
    baseline = live_offline_objects()
    first = open_offline(profile, backend="embedded")
    first.set_state(State.OFFLINE)
    second = open_offline(profile, backend="embedded")
    first.close()
    assert live_offline_objects() == baseline + 1
    assert second.state is State.OFFLINE
    second.close()
    assert live_offline_objects() == baseline
    with open_offline(profile, backend="embedded") as again:
        assert again.state is State.ONLINE


# -- capabilities and state -----------------------------------------------------------------------------------


def test_capabilities_exact_flags_for_the_embedded_backend(offline: OfflineObject) -> None:
    caps = offline.capabilities
    assert type(caps) is Capability
    assert caps == Capability.OFFLINE | Capability.ONLINE
    assert int(caps) == 0x3


def test_new_object_starts_online(offline: OfflineObject) -> None:
    assert offline.state is State.ONLINE


@pytest.mark.parametrize("target", [State.OFFLINE, 1])
def test_set_state_blocking_delivers_before_returning(offline: OfflineObject, target: int) -> None:
    with offline.advise(token=11) as sub:
        offline.set_state(target)
        assert offline.state is State.OFFLINE
        # block=True: DONE reached every sink before set_state returned, so nothing needs waiting for.
        got = sub.sink.drain()
    assert [(n.kind, n.client_token, n.mask, n.old_state, n.new_state) for n in got] == [
        (kind, 11, OFFLINE_MASK, State.ONLINE, State.OFFLINE)
        for kind in (NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE)
    ]
    assert got[0].timestamp_ns <= got[1].timestamp_ns <= got[2].timestamp_ns


def test_set_state_non_blocking_runs_on_the_objects_thread(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        offline.set_state(State.OFFLINE, block=False)
        kinds = [sub.sink.get(timeout=10).kind for _ in range(3)]
        assert kinds == [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]
        assert sub.sink.last_state is State.OFFLINE
    assert offline.wait_idle(10)
    assert offline.state is State.OFFLINE


def test_setting_the_current_state_succeeds_without_notifications(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        offline.set_state(State.ONLINE)
        offline.set_state(State.ONLINE, block=False)
        assert sub.sink.drain() == []
        assert sub.sink.stats.received == 0


def test_every_sink_gets_its_own_client_token(offline: OfflineObject) -> None:
    subs = [offline.advise(token=t) for t in (0, 5, 0xFFFFFFFF)]
    try:
        offline.set_state(State.OFFLINE)
        offline.set_state(State.ONLINE)
        for sub, token in zip(subs, (0, 5, 0xFFFFFFFF)):
            got = sub.sink.drain()
            assert len(got) == 6
            assert {n.client_token for n in got} == {token}
            assert [n.new_state for n in got] == [State.OFFLINE] * 3 + [State.ONLINE] * 3
    finally:
        for sub in subs:
            sub.close()


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((0,), {}, ValueError),
        ((3,), {}, ValueError),
        ((-1,), {}, ValueError),
        ((OFFLINE_MASK,), {}, ValueError),
        ((True,), {}, TypeError),
        (("OFFLINE",), {}, TypeError),
        ((1.0,), {}, TypeError),
        ((None,), {}, TypeError),
        ((State.OFFLINE,), {"block": 1}, TypeError),
        ((State.OFFLINE,), {"block": None}, TypeError),
        ((State.OFFLINE,), {"block": "yes"}, TypeError),
    ],
)
def test_set_state_bad_arguments(offline: OfflineObject, args: tuple[object, ...], kwargs: dict[str, object],
                                 error: type[Exception]) -> None:
    with offline.advise() as sub:
        with pytest.raises(error):
            offline.set_state(*args, **kwargs)  # type: ignore[arg-type]
        assert offline.state is State.ONLINE
        assert sub.sink.drain() == []


def test_block_is_keyword_only(offline: OfflineObject) -> None:
    with pytest.raises(TypeError):
        offline.set_state(State.OFFLINE, False)  # type: ignore[call-arg]


# -- Pending --------------------------------------------------------------------------------------------------


def test_pending_while_a_non_blocking_change_is_in_flight(offline: OfflineObject) -> None:
    # A Python (ctypes) sink whose Notify waits on a gate holds the change in flight deterministically.
    gate = threading.Event()
    slow = PythonSink(gate)
    hr, token = raw_advise(offline.com_pointer, slow.com_pointer, client_token=3)
    assert hr == 0 and token != 0
    try:
        offline.set_state(State.OFFLINE, block=False)
        assert slow.entered.wait(10)
        for target, block in ((State.ONLINE, True), (State.ONLINE, False), (State.OFFLINE, True)):
            with pytest.raises(Pending) as info:
                offline.set_state(target, block=block)
            assert info.value.hresult == 0x8000000A and info.value.name == "E_PENDING"
            assert not isinstance(info.value, ValueError)
        # Python argument checks still come first.
        with pytest.raises(TypeError):
            offline.set_state("ONLINE")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            offline.set_state(7)
        gate.set()
        assert offline.wait_idle(10)
        assert offline.state is State.OFFLINE
        # Retrying after Pending works.
        offline.set_state(State.ONLINE)
        assert int(offline.state) == State.ONLINE
    finally:
        gate.set()
        assert raw_unadvise(offline.com_pointer, token) == 0
    assert [r[0] for r in slow.records] == [1, 2, 3, 1, 2, 3]
    assert {r[1] for r in slow.records} == {3}
    assert slow.refs == 1  # Unadvise released the manager's reference


# -- closed handles -------------------------------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_raises_closed_error(profile: str) -> None:
    obj = open_offline(profile, backend="embedded")
    obj.close()
    obj.close()
    assert obj.closed
    assert repr(obj) == "<mapioffline.OfflineObject backend='embedded' closed>"
    uses: list[Callable[[], object]] = [
        lambda: obj.state, lambda: obj.capabilities, lambda: obj.com_pointer, lambda: obj.set_state(State.OFFLINE),
        lambda: obj.set_state(State.OFFLINE, block=False), lambda: obj.advise(), lambda: obj.__enter__(),
    ]
    for use in uses:
        with pytest.raises(ClosedError):
            use()


def test_with_statement_closes(profile: str) -> None:
    with open_offline(profile, backend="embedded") as obj:
        pass
    assert obj.closed


# -- the last handle, reopening -------------------------------------------------------------------------------


def test_reopening_after_the_last_handle_closed_gives_a_fresh_online_object(profile: str) -> None:
    """Issue 8 item 11: closing the last handle with a non-blocking change in flight (or just finished) ends the
    object; the next open is a new ONLINE object that the old change never touches."""
    rounds = 100
    stale = []
    for round_ in range(rounds):
        with open_offline(profile, backend="embedded") as obj:
            try:
                obj.set_state(State.OFFLINE, block=False)
            except Pending:  # the previous round's object, its change still in flight
                stale.append((round_, obj.state, "Pending on the first call"))
                continue
        with open_offline(profile, backend="embedded") as again, again.advise(token=round_) as sub:
            state = again.state
            try:
                again.set_state(State.OFFLINE)  # a fresh object: a whole ONLINE -> OFFLINE change, at once
            except Pending:
                stale.append((round_, state, "Pending"))
                continue
            kinds = [(n.kind, n.old_state, n.new_state) for n in sub.sink.drain()]
            if state is not State.ONLINE or len(kinds) != 3 or kinds[0][1] is not State.ONLINE:
                stale.append((round_, state, kinds))
    assert stale == [], f"{len(stale)} of {rounds} reopens gave the old object: {stale[:3]}"


# -- DONE means finished --------------------------------------------------------------------------------------


def test_a_consumer_that_saw_done_can_change_the_state_at_once(offline: OfflineObject) -> None:
    """Issue 8 item 12, spec 7.4 refinement (0.2): once a consumer has seen STATECHANGE_DONE, a blocking
    set_state from its thread is carried out (right after DONE reached the other sinks), never Pending. 1,000 other
    sinks make the DONE phase last long enough for the consumer to act inside it."""
    rounds = 80
    trigger = offline.advise(token=1)  # advised first: DONE reaches it before the 1,000 others
    others = [offline.advise(token=2, capacity=2) for _ in range(1000)]
    results: list[str] = []
    answered = threading.Semaphore(0)

    def consume() -> None:
        while len(results) < rounds:
            try:
                n = trigger.sink.get(timeout=10)
            except TimeoutError:
                results.append("no DONE within 10 s")
                answered.release()
                return
            if n.kind is not NotifyKind.STATECHANGE_DONE or n.new_state is not State.OFFLINE:
                continue
            try:
                offline.set_state(State.ONLINE, block=True)
                results.append("ok" if offline.state is State.ONLINE else f"returned while {offline.state!r}")
            except Pending:
                results.append("Pending")
            answered.release()

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        for _ in range(rounds):
            offline.set_state(State.OFFLINE, block=True)
            assert answered.acquire(timeout=20)
            if results[-1] != "ok":
                # The old behaviour: the consumer gave up. Its change is still to be made for the next round (our
                # own blocking call above has returned, so nothing is in flight now).
                offline.set_state(State.ONLINE)
    finally:
        consumer.join(20)
        for sub in others:
            sub.close()
        trigger.close()
    assert not consumer.is_alive()
    failed = [r for r in results if r != "ok"]
    assert failed == [], f"{len(failed)} of {rounds} rounds failed: {sorted(set(failed))}"


def test_a_blocking_no_op_made_during_done_returns_once_done_reached_every_sink(offline: OfflineObject) -> None:
    """Issue 19 item 7. README: set_state(block=True) returns once DONE reached every sink. Asked, while a change
    hands out DONE, for the state that change is heading to, it is a no-op (nothing sent) but still a blocking call:
    it returns once that DONE reached every sink. It used to return at once, and a caller that then closed a callback
    subscription lost the DONE: one notification fewer than required."""
    received_when_it_returned: list[int] = []
    callers: list[threading.Thread] = []

    class HoldsDone(PythonSink):  # advised first: DONE reaches it before the subscription below
        def _notify(self, this: int, record: object) -> None:
            super()._notify(this, record)
            if record.contents.NotifyType != NotifyKind.STATECHANGE_DONE:  # type: ignore[attr-defined]
                return
            calling = threading.Event()

            def no_op() -> None:
                calling.set()
                offline.set_state(State.OFFLINE, block=True)  # where the change in flight is heading
                received_when_it_returned.append(sub.sink.stats.received)

            caller = threading.Thread(target=no_op)
            callers.append(caller)
            caller.start()
            assert calling.wait(10)
            caller.join(0.1)  # a no-op that does not wait for DONE returns here, while DONE is held

    holder = HoldsDone()
    hr, token = raw_advise(offline.com_pointer, holder.com_pointer)
    assert hr == 0
    try:
        with offline.advise() as sub:
            offline.set_state(State.OFFLINE, block=True)
            for caller in callers:
                caller.join(10)
            assert received_when_it_returned == [3]  # START, STATECHANGE and DONE, not 2
            assert [n.kind for n in sub.sink.drain()] == [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE,
                                                          NotifyKind.STATECHANGE_DONE]
    finally:
        assert raw_unadvise(offline.com_pointer, token) == 0


# -- wait_idle ------------------------------------------------------------------------------------------------


class _ForeignManager(CtypesComObject):
    """A minimal IMAPIOfflineMgr in ctypes (only IUnknown works): an object that is not the embedded one."""

    def __init__(self) -> None:
        no_support = (HRESULT, (), lambda this: 0x80040102 - 2**32)
        super().__init__((IID_IUnknown, IID_IMAPIOfflineMgr), [no_support] * 13)


def test_wait_idle_waits_for_a_change_in_flight_without_polling(offline: OfflineObject) -> None:
    assert offline.wait_idle() is True  # idle: at once
    assert offline.wait_idle(0) is True
    gate = threading.Event()
    slow = PythonSink(gate)  # holds the change inside its first Notify until the gate opens
    hr, token = raw_advise(offline.com_pointer, slow.com_pointer)
    assert hr == 0
    try:
        offline.set_state(State.OFFLINE, block=False)
        assert slow.entered.wait(10)
        started = time.monotonic()
        assert offline.wait_idle(0.05) is False  # still in flight when the timeout passed
        assert time.monotonic() - started >= 0.05
        assert offline.wait_idle(0) is False
        waited: list[bool] = []
        waiter = threading.Thread(target=lambda: waited.append(offline.wait_idle(10)))
        waiter.start()
        gate.set()
        waiter.join(20)
        assert waited == [True]
        # Everything had been delivered and the state changed when wait_idle returned True.
        assert [r[0] for r in slow.records] == [1, 2, 3]
        assert offline.state is State.OFFLINE
        offline.set_state(State.ONLINE, block=False)  # idle again: a new change is accepted
        assert offline.wait_idle(10) is True
        assert offline.state is State.ONLINE
    finally:
        gate.set()
        assert raw_unadvise(offline.com_pointer, token) == 0


def test_wait_idle_covers_a_change_queued_during_done(offline: OfflineObject) -> None:
    """A set_state made while DONE is being delivered runs right after it; wait_idle waits for that one too."""
    gate = threading.Event()
    queued: list[BaseException | None] = []

    class DoneQueues(PythonSink):
        def _notify(self, this: int, record: object) -> None:
            super()._notify(this, record)
            r = record.contents  # type: ignore[attr-defined]
            if r.NotifyType == 3 and r.ulStateNew == State.OFFLINE:
                result: list[BaseException | None] = []
                t = threading.Thread(target=lambda: result.append(_try_set(offline, State.ONLINE)))
                t.start()
                t.join(10)  # a non-blocking request during DONE is answered at once
                queued.extend(result)
                gate.wait(10)  # DONE (and so the queued change) held until the test has looked

    sink = DoneQueues()
    hr, token = raw_advise(offline.com_pointer, sink.com_pointer)
    assert hr == 0
    try:
        offline.set_state(State.OFFLINE, block=False)
        assert offline.wait_idle(0.05) is False
        gate.set()
        assert offline.wait_idle(10) is True
        assert queued == [None]
        assert [(r[0], r[4]) for r in sink.records] == [(1, 1), (2, 1), (3, 1), (1, 2), (2, 2), (3, 2)]
        assert offline.state is State.ONLINE
    finally:
        gate.set()
        assert raw_unadvise(offline.com_pointer, token) == 0


def _try_set(obj: OfflineObject, state: State) -> BaseException | None:
    try:
        obj.set_state(state, block=False)
    except BaseException as e:
        return e
    return None


def test_wait_idle_from_inside_the_objects_own_notify_is_refused(offline: OfflineObject) -> None:
    """A ctypes sink's Notify runs inside the change: waiting there would never end, so it raises at once."""
    seen: list[object] = []

    class WaitsInside(PythonSink):
        def _notify(self, this: int, record: object) -> None:
            super()._notify(this, record)
            try:
                seen.append(offline.wait_idle())
            except MapiError as e:
                seen.append((type(e), e.name))

    sink = WaitsInside()
    hr, token = raw_advise(offline.com_pointer, sink.com_pointer)
    assert hr == 0
    try:
        offline.set_state(State.OFFLINE)
    finally:
        assert raw_unadvise(offline.com_pointer, token) == 0
    assert seen == [(MapiError, "MAPI_E_CALL_FAILED")] * 3


def test_wait_idle_needs_the_embedded_object() -> None:
    foreign = _ForeignManager()
    with OfflineObject.from_pointer(foreign.com_pointer) as wrapped:
        with pytest.raises(NotSupported, match="embedded"):
            wrapped.wait_idle(0)
        with pytest.raises(NotImplementedError):
            wrapped.wait_idle()
    assert foreign.refs == 1  # the call's own reference was released too


def test_wait_idle_through_from_pointer_on_the_embedded_object(offline: OfflineObject) -> None:
    with OfflineObject.from_pointer(offline.com_pointer) as wrapped:
        assert wrapped.wait_idle(0) is True


@pytest.mark.parametrize(("timeout", "error"), [(-1, ValueError), (float("nan"), ValueError), ("1", TypeError),
                                                (True, TypeError)])
def test_wait_idle_bad_timeout(offline: OfflineObject, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        offline.wait_idle(timeout)  # type: ignore[arg-type]


def test_wait_idle_after_close_raises_closed_error(profile: str) -> None:
    obj = open_offline(profile, backend="embedded")
    obj.close()
    with pytest.raises(ClosedError):
        obj.wait_idle(0)


def test_wait_idle_is_interrupted_by_a_signal_handler(offline: OfflineObject) -> None:
    """The GIL is released in slices: a signal handler (Ctrl-C's path) runs and its exception ends the wait."""
    assert threading.current_thread() is threading.main_thread()

    class Interrupted(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Interrupted

    gate = threading.Event()
    slow = PythonSink(gate)
    hr, token = raw_advise(offline.com_pointer, slow.com_pointer)
    previous = signal.signal(signal.SIGUSR1, handler) if hasattr(signal, "SIGUSR1") else None
    timer = threading.Timer(0.1, lambda: (signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
                                          if previous is not None else _thread.interrupt_main()))
    try:
        offline.set_state(State.OFFLINE, block=False)
        assert slow.entered.wait(10)
        started = time.monotonic()
        timer.start()
        with pytest.raises(Interrupted if previous is not None else KeyboardInterrupt):
            offline.wait_idle(30)
        assert time.monotonic() - started < 2.0
    finally:
        timer.cancel()
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
        gate.set()
        assert offline.wait_idle(10)
        assert raw_unadvise(offline.com_pointer, token) == 0
