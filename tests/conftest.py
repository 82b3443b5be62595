"""Shared fixtures: the live-object guard every test runs under, and ctypes helpers for COM interop tests.

The ctypes helpers stand in for what pywin32/comtypes users do: call a COM object's vtable by address, or implement
an IMAPIOfflineNotify in Python and hand its address to a manager.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import mapioffline
from mapioffline import _core
from mapioffline._ctypes_abi import CtypesComObject, ctypes_com_problem
from mapioffline.interop import MAPIOFFLINE_ADVISEINFO
from mapioffline.testing import live_offline_objects, live_sinks

_profile_counter = itertools.count()

# The kinds of test, one folder each: unit/ (the package in one process), integration/ (processes, the CLI, the
# README, typing), stress/ (long floods and close races across processes: marked `stress`, which the fast path
# leaves out), native/ (builds ext/ for other targets or runs Windows code under Wine: marked `native`, which the
# wheel test command leaves out), model/ (the protocol model checks: their slow part is marked `model`).
_FOLDER_MARKERS = {"native": "native", "stress": "stress"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`cmd &`, CI's parallel stages) with SIGINT ignored, and Python then installs
    # no KeyboardInterrupt handler: the Ctrl-C tests, in this process and in the processes it starts (which inherit
    # an ignored signal, but not a handler), would wait for an interrupt that never comes.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = _FOLDER_MARKERS.get(item.path.parent.name)
        if marker:
            item.add_marker(marker)


@pytest.fixture(autouse=True)
def no_leaked_native_objects() -> Iterator[None]:
    """Every test must close what it opens: native sinks and embedded objects return to their count before it.

    No waiting: close() is synchronous (a subscription's close joins its dispatcher, an object's last release joins
    its thread and releases every sink). A full gc.collect() runs only when the counts differ (it is what makes a
    leaked handle in a reference cycle warn and fail the test); collecting around every test would cost more than
    the tests themselves."""
    before = (live_sinks(), live_offline_objects())
    yield
    after = (live_sinks(), live_offline_objects())
    if after != before:
        gc.collect()
        after = (live_sinks(), live_offline_objects())
    assert after[0] == before[0], f"live native sinks: {before[0]} before the test, {after[0]} after"
    assert after[1] == before[1], f"live embedded objects: {before[1]} before the test, {after[1]} after"


@pytest.fixture
def profile(request: pytest.FixtureRequest) -> str:
    """A profile name no other test uses, so each test gets a fresh embedded object (which starts ONLINE). The process
    id keeps test sessions running at once (CI's lanes, two checkouts) apart in the user's one channel directory."""
    return f"test-{os.getpid()}-{request.node.name}-{next(_profile_counter)}"


@pytest.fixture
def offline(profile: str) -> Iterator[mapioffline.OfflineObject]:
    """A fresh embedded offline object, closed after the test."""
    with mapioffline.open_offline(profile, backend="embedded") as obj:
        yield obj


# -- ctypes COM helpers -------------------------------------------------------------------------------------------

HRESULT = ctypes.c_int32
ULONG = ctypes.c_uint32
# Off Windows the header's STDMETHODCALLTYPE is the platform's C convention, except on i386 Linux (stdcall), where
# ctypes has no matching function type: the helpers below skip their test there (mapioffline._ctypes_abi says why).
# On Windows, COM methods are stdcall (the same as cdecl on x64).
_METHOD = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)


def _skip_without_ctypes_com() -> None:
    problem = ctypes_com_problem()
    if problem:
        pytest.skip(problem)


def _iid(name: str) -> bytes:
    """An IID from the core's own table, as the 16 bytes of a GUID in memory."""
    text = _core.abi_info()[name]
    assert isinstance(text, str)
    return uuid.UUID(text).bytes_le


IID_IUnknown = _iid("IID_IUnknown")
IID_IMAPIOfflineMgr = _iid("IID_IMAPIOfflineMgr")
IID_IMAPIOfflineNotify = _iid("IID_IMAPIOfflineNotify")


class NotifyRecord(ctypes.Structure):
    """MAPIOFFLINE_NOTIFY (24 bytes)."""

    _fields_ = [
        ("ulSize", ULONG),
        ("NotifyType", ULONG),
        ("ulClientToken", ULONG),
        ("ulMask", ULONG),
        ("ulStateOld", ULONG),
        ("ulStateNew", ULONG),
    ]


# The package's own ctypes mirror (tests/test_ctypes_abi.py checks its layout against the compiler's).
AdviseInfo = MAPIOFFLINE_ADVISEINFO


def vtable_call(address: int, slot: int, restype: Any, *argtypes: Any) -> Callable[..., object]:
    """The method in ``slot`` of the COM object at ``address``, bound to it (``this`` is passed for you)."""
    _skip_without_ctypes_com()
    vtable = ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)))[0]
    prototype = _METHOD(restype, ctypes.c_void_p, *argtypes)
    method = prototype(vtable[slot])
    return lambda *args: method(address, *args)


def raw_advise(manager: int, sink: int, client_token: int = 0) -> tuple[int, int]:
    """IMAPIOfflineMgr::Advise (slot 7) through the vtable, as ctypes/pywin32 code would: (hresult, token)."""
    info = AdviseInfo(ctypes.sizeof(AdviseInfo), client_token, 0, sink, 1, 0x003F037F)
    token = ULONG(0)
    advise = vtable_call(manager, 7, HRESULT, ULONG, ctypes.POINTER(AdviseInfo), ctypes.POINTER(ULONG))
    hr = advise(0, ctypes.byref(info), ctypes.byref(token))
    assert isinstance(hr, int)
    return hr & 0xFFFFFFFF, token.value


def raw_unadvise(manager: int, token: int) -> int:
    """IMAPIOfflineMgr::Unadvise (slot 8) through the vtable."""
    hr = vtable_call(manager, 8, HRESULT, ULONG, ULONG)(0, token)
    assert isinstance(hr, int)
    return hr & 0xFFFFFFFF


def raw_query_interface(address: int, iid: bytes) -> tuple[int, int]:
    """IUnknown::QueryInterface (slot 0): (hresult, pointer or 0)."""
    out = ctypes.c_void_p(0)
    guid = (ctypes.c_ubyte * 16).from_buffer_copy(iid)
    hr = vtable_call(address, 0, HRESULT, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p))(
        ctypes.addressof(guid), ctypes.byref(out)
    )
    assert isinstance(hr, int)
    return hr & 0xFFFFFFFF, out.value or 0


def raw_release(address: int) -> int:
    """IUnknown::Release (slot 2)."""
    n = vtable_call(address, 2, ULONG)()
    assert isinstance(n, int)
    return n


class PythonSink(CtypesComObject):
    """An IMAPIOfflineNotify implemented in Python with ctypes (the pre-mapioffline way). ``gate``, when given,
    makes Notify wait until it is set: that holds the manager's state change in flight."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        _skip_without_ctypes_com()
        self.records: list[tuple[int, int, int, int, int]] = []
        self.gate = gate
        self.entered = threading.Event()
        super().__init__((IID_IUnknown, IID_IMAPIOfflineNotify),
                         [(None, (ctypes.POINTER(NotifyRecord),), self._notify)])

    def _notify(self, this: int, record: object) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if record:
            r = record.contents  # type: ignore[attr-defined]
            self.records.append((r.NotifyType, r.ulClientToken, r.ulMask, r.ulStateOld, r.ulStateNew))
