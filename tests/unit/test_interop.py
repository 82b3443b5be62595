"""Interop by address, as pywin32/comtypes/ctypes code does: OfflineObject.from_pointer and Sink.com_pointer."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

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
from mapioffline._ctypes_abi import CtypesComObject
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


class _IUnknownVtbl(ctypes.Structure):
    _fields_ = [("QueryInterface", ctypes.c_void_p), ("AddRef", ctypes.c_void_p), ("Release", ctypes.c_void_p)]


class _IUnknown(ctypes.Structure):
    _fields_ = [("lpVtbl", ctypes.POINTER(_IUnknownVtbl))]


class _ComtypesStylePointer(ctypes.c_void_p):
    """What comtypes makes of POINTER(IUnknown): a c_void_p subclass carrying the interface's IID."""

    _iid_ = IID_IUnknown


class _HasAsParameter:
    """An object that hands ctypes its pointer through _as_parameter_ (as ctypes' own protocol does)."""

    def __init__(self, address: int) -> None:
        self._as_parameter_ = ctypes.c_void_p(address)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda a: a, id="int"),
        pytest.param(lambda a: ctypes.c_void_p(a), id="c_void_p"),
        pytest.param(lambda a: ctypes.cast(a, ctypes.POINTER(_IUnknown)), id="POINTER(struct)"),
        pytest.param(lambda a: ctypes.cast(a, ctypes.POINTER(ctypes.c_void_p)), id="POINTER(c_void_p)"),
        pytest.param(lambda a: _ComtypesStylePointer(a), id="comtypes-style"),
        pytest.param(lambda a: _HasAsParameter(a), id="_as_parameter_"),
    ],
)
def test_from_pointer_takes_pointer_objects(offline: OfflineObject, make: Callable[[int], object]) -> None:
    refs = com_refcount(offline.com_pointer)
    with OfflineObject.from_pointer(make(offline.com_pointer)) as wrapped:  # type: ignore[arg-type]
        assert wrapped.com_pointer == offline.com_pointer
        assert com_refcount(offline.com_pointer) == refs + 1
        assert wrapped.state is offline.state
    assert com_refcount(offline.com_pointer) == refs


@pytest.mark.parametrize(
    "null", [ctypes.c_void_p(), ctypes.POINTER(_IUnknown)(), _ComtypesStylePointer(), _HasAsParameter(0)],
    ids=["c_void_p", "POINTER", "comtypes-style", "_as_parameter_"],
)
def test_from_pointer_null_pointer_objects_are_value_errors(null: object) -> None:
    with pytest.raises(ValueError, match="NULL"):
        OfflineObject.from_pointer(null)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0x10", 1.0, None, True, ctypes.c_uint32(5), object()])
def test_from_pointer_names_what_it_got(value: object) -> None:
    with pytest.raises(TypeError, match="ctypes pointer") as info:
        OfflineObject.from_pointer(value)  # type: ignore[arg-type]
    assert f"not {type(value).__module__}.{type(value).__qualname__}" in str(info.value)


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


# -- a foreign manager reporting a state outside OFFLINE/ONLINE ---------------------------------------------------

class _ForeignManager(CtypesComObject):
    """An IMAPIOfflineMgr written with ctypes whose GetCurrentState reports ``state`` (any number); the other
    methods answer S_OK. Only what from_pointer, state and close() call is real."""

    def __init__(self, state: int) -> None:
        self.state = state
        hr, ptr, ulong, ulong_p = ctypes.c_int32, ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)

        def get_current_state(this: int, out: Any) -> int:
            out[0] = self.state
            return 0

        def ok(*args: object) -> int:
            return 0

        super().__init__(None, [
            (hr, (ulong, ulong, ulong, ptr), ok),  # SetCurrentState
            (hr, (ulong_p,), ok),  # GetCapabilities
            (hr, (ulong_p,), get_current_state),
            (hr, (), ok),  # placeholder slot
            (hr, (ulong, ptr, ulong_p), ok),  # Advise
            (hr, (ulong, ulong), ok),  # Unadvise
        ])


@pytest.mark.parametrize(("reported", "state"), [(1, State.OFFLINE), (2, State.ONLINE), (0, State.UNKNOWN),
                                                 (7, State.UNKNOWN), (0xFFFFFFFF, State.UNKNOWN)])
def test_state_of_a_foreign_manager_is_always_a_state_with_the_raw_number_beside_it(
    reported: int, state: State
) -> None:
    manager = _ForeignManager(reported)
    with OfflineObject.from_pointer(manager.com_pointer) as wrapped:
        assert wrapped.state is state
        assert wrapped.raw_state == reported and type(wrapped.raw_state) is int
    assert manager.refs == 1  # from_pointer's reference went back on close()
