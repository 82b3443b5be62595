"""OfflineObject and open_offline with the embedded backend: opening, state changes, capabilities, bad inputs,
Pending, lifetime of the embedded object."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import pytest
from conftest import PythonSink, raw_advise, raw_unadvise, wait_not_pending

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
from mapioffline.testing import live_offline_objects

# -- open_offline ---------------------------------------------------------------------------------------------


def test_embedded_backend(profile: str) -> None:
    with open_offline(profile, backend="embedded") as obj:
        assert obj.backend == "embedded"
        assert obj.profile == profile
        assert not obj.closed
        assert isinstance(obj.com_pointer, int) and obj.com_pointer > 0
        assert repr(obj) == f"<mapioffline.OfflineObject backend='embedded' profile={profile!r}>"


def test_auto_backend_is_embedded_outside_outlook(profile: str) -> None:
    assert not mapioffline._core._outlook_loaded()
    with open_offline(profile) as obj:
        assert obj.backend == "embedded"


def test_default_profile() -> None:
    with open_offline() as obj:
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
    with open_offline(profile) as a, open_offline(profile.upper()) as b:
        assert a.com_pointer == b.com_pointer
        a.set_state(State.OFFLINE)
        assert b.state is State.OFFLINE
    with open_offline(profile + "-other") as c:
        assert c.state is State.ONLINE


def test_object_lives_while_a_handle_refers_to_it_and_a_new_one_starts_online(profile: str) -> None:
    baseline = live_offline_objects()
    first = open_offline(profile)
    first.set_state(State.OFFLINE)
    second = open_offline(profile)
    first.close()
    assert live_offline_objects() == baseline + 1
    assert second.state is State.OFFLINE
    second.close()
    assert live_offline_objects() == baseline
    with open_offline(profile) as again:
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
    wait_not_pending(offline, State.OFFLINE)
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
        wait_not_pending(offline, State.OFFLINE)
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
    obj = open_offline(profile)
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
    with open_offline(profile) as obj:
        pass
    assert obj.closed
