"""Interop by address, as pywin32/comtypes/ctypes code does: OfflineObject.from_pointer and Sink.com_pointer."""

from __future__ import annotations

import pytest
from conftest import (
    IID_IMAPIOfflineMgr,
    IID_IMAPIOfflineNotify,
    IID_IUnknown,
    PythonSink,
    raw_advise,
    raw_query_interface,
    raw_release,
    raw_unadvise,
)

from mapioffline import (
    Capability,
    NoInterface,
    NotifyKind,
    OfflineObject,
    Sink,
    SinkStats,
    State,
)
from mapioffline.testing import com_refcount, live_sinks

# -- from_pointer ---------------------------------------------------------------------------------------------


def test_from_pointer_round_trip(offline: OfflineObject) -> None:
    refs = com_refcount(offline.com_pointer)
    with OfflineObject.from_pointer(offline.com_pointer) as wrapped:
        assert com_refcount(offline.com_pointer) == refs + 1  # takes its own reference
        assert wrapped.com_pointer == offline.com_pointer
        assert wrapped.backend == "foreign"
        assert wrapped.capabilities == Capability.OFFLINE | Capability.ONLINE
        wrapped.set_state(State.OFFLINE)
        assert offline.state is State.OFFLINE
    assert com_refcount(offline.com_pointer) == refs  # and releases it; the caller keeps theirs
    assert offline.state is State.OFFLINE


def test_a_sink_advised_through_from_pointer(offline: OfflineObject) -> None:
    with OfflineObject.from_pointer(offline.com_pointer) as wrapped, wrapped.advise(token=12) as sub:
        offline.set_state(State.OFFLINE)
        assert [(n.kind, n.client_token) for n in sub.sink.drain()] == [
            (k, 12) for k in (NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE)]


def test_from_pointer_with_a_sinks_pointer_is_no_interface() -> None:
    with Sink(4) as sink:
        with pytest.raises(NoInterface) as info:
            OfflineObject.from_pointer(sink.com_pointer)
        assert info.value.hresult == 0x80004002
        assert isinstance(info.value, TypeError)
        assert com_refcount(sink.com_pointer) == 1  # no reference leaked


def test_from_pointer_with_a_python_com_object_is_no_interface() -> None:
    py_sink = PythonSink()
    with pytest.raises(NoInterface):
        OfflineObject.from_pointer(py_sink.com_pointer)
    assert py_sink.refs == 1


@pytest.mark.parametrize(
    ("address", "error"),
    [(0, ValueError), (-1, ValueError), (2**64, ValueError), (True, TypeError), ("0x10", TypeError),
     (1.0, TypeError), (None, TypeError)],
)
def test_from_pointer_bad_address(address: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        OfflineObject.from_pointer(address)  # type: ignore[arg-type]


# -- Sink.com_pointer with a manager called through its vtable -------------------------------------------------


def test_sink_query_interface_by_pointer() -> None:
    with Sink(4) as sink:
        for iid in (IID_IUnknown, IID_IMAPIOfflineNotify):
            hr, pointer = raw_query_interface(sink.com_pointer, iid)
            assert (hr, pointer) == (0, sink.com_pointer)  # one identity
            assert com_refcount(sink.com_pointer) == 2
            assert raw_release(pointer) == 1
        hr, pointer = raw_query_interface(sink.com_pointer, IID_IMAPIOfflineMgr)
        assert (hr, pointer) == (0x80004002, 0)


def test_raw_advise_of_a_sinks_com_pointer(offline: OfflineObject) -> None:
    with Sink(8) as sink:
        hr, token = raw_advise(offline.com_pointer, sink.com_pointer, client_token=21)
        assert hr == 0 and token != 0
        assert com_refcount(sink.com_pointer) == 2
        offline.set_state(State.OFFLINE)
        assert [n.client_token for n in sink.drain()] == [21, 21, 21]
        assert sink.last_state is State.OFFLINE
        assert raw_unadvise(offline.com_pointer, token) == 0
        assert com_refcount(sink.com_pointer) == 1


def test_a_foreign_manager_keeps_a_closed_sink_alive(offline: OfflineObject) -> None:
    baseline = live_sinks()
    sink = Sink(8)
    address = sink.com_pointer
    hr, token = raw_advise(offline.com_pointer, address)
    assert hr == 0
    sink.close()  # the manager still holds the sink: its memory must stay valid
    assert live_sinks() == baseline + 1
    assert com_refcount(address) == 1
    offline.set_state(State.OFFLINE)  # Notify on the closed sink: counted and discarded, no crash
    offline.set_state(State.ONLINE)
    assert raw_unadvise(offline.com_pointer, token) == 0  # releases the last reference
    assert live_sinks() == baseline


def test_python_sink_advised_next_to_a_native_one(offline: OfflineObject) -> None:
    py_sink = PythonSink()
    hr, token = raw_advise(offline.com_pointer, py_sink.com_pointer, client_token=2)
    assert hr == 0
    try:
        with offline.advise(token=1) as sub:
            offline.set_state(State.OFFLINE)
            assert len(sub.sink.drain()) == 3
    finally:
        raw_unadvise(offline.com_pointer, token)
    assert [r[:2] for r in py_sink.records] == [(1, 2), (2, 2), (3, 2)]
    assert py_sink.refs == 1


def test_stats_record_type() -> None:
    assert SinkStats._fields == ("received", "delivered", "dropped", "invalid", "dropped_reported")
    assert SinkStats(5, 2, 1, 0).pending == 2
