"""Whether ctypes can speak our COM ABI in this process: the one place that decides, for the benchmark's ctypes
sink, the test suite's ctypes helpers and the README's interop promise.

Our header's STDMETHODCALLTYPE is stdcall on Windows x86 and on i386 Linux (so that 32-bit Linux reproduces the
Win32 convention), and the platform's only convention elsewhere (x86_64, ARM). ctypes declares stdcall functions
only with ``WINFUNCTYPE``, which exists only on Windows. So on i386 Linux a ctypes callback (a COM object written
in Python) would return without popping the arguments its stdcall caller expects it to pop, corrupting the
caller's stack; and a ctypes call into one of our methods would leave the callee's pop to libffi's own stack
restore, which nothing here tests. There, ctypes interop is refused instead of crashing.
"""

from __future__ import annotations

import ctypes
import platform
import sys
from collections.abc import Callable
from typing import Any

_X86_MACHINES = {"i386", "i486", "i586", "i686", "x86", "x86_64", "amd64"}


def ctypes_com_problem(platform_name: str | None = None, pointer_bits: int | None = None,
                       machine: str | None = None) -> str | None:
    """None when ctypes can implement and call our COM interfaces here; else why not. The arguments (this
    process's by default) exist so that the decision can be tested on any host."""
    platform_name = sys.platform if platform_name is None else platform_name
    pointer_bits = 8 * ctypes.sizeof(ctypes.c_void_p) if pointer_bits is None else pointer_bits
    machine = platform.machine() if machine is None else machine
    if platform_name == "win32":
        return None  # WINFUNCTYPE is stdcall on x86; x64 has one convention
    # A 32-bit x86 process (platform.machine() reports the kernel's x86_64 for 32-bit Python on a 64-bit kernel).
    if pointer_bits == 32 and machine.lower() in _X86_MACHINES:
        return ("ctypes cannot declare stdcall functions off Windows (ctypes.WINFUNCTYPE is Windows-only), and on "
                "i386 Linux our COM methods are stdcall, as on Win32: a ctypes COM object or vtable call would "
                "unbalance the stack. Use mapioffline's own Sink, or native code, on this platform")
    return None


def method_type() -> Callable[..., Any]:
    """ctypes' function-pointer factory for our COM methods here: WINFUNCTYPE on Windows, CFUNCTYPE elsewhere.
    Raises NotImplementedError (with the reason) where ctypes has none that matches (i386 Linux)."""
    problem = ctypes_com_problem()
    if problem:
        raise NotImplementedError(problem)
    factory: Callable[..., Any] = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)
    return factory


_E_NOINTERFACE = 0x80004002 - 2**32  # as ctypes returns a signed HRESULT


class CtypesComObject:
    """A COM object written in Python with ctypes, the way a pywin32/comtypes user without mapioffline writes one:
    IUnknown (QueryInterface answering ``iids``, AddRef/Release counting ``refs``) followed by ``methods``, each a
    ``(restype, argtypes, function)`` whose function takes ``this`` first. ``com_pointer`` is the object's address.
    The benchmark's baseline sink and the tests' foreign sinks and managers are all made from it.

    ``iids``: the 16-byte IIDs QueryInterface answers (None: every IID, as the simplest hand-written object does).
    Raises NotImplementedError where ctypes cannot make our calling convention (i386 Linux), before any callback
    exists that a native thread could call."""

    def __init__(self, iids: tuple[bytes, ...] | None,
                 methods: list[tuple[Any, tuple[Any, ...], Callable[..., Any]]]) -> None:
        method = method_type()
        self.refs = 1
        self._iids = iids
        void_p = ctypes.c_void_p
        slots = [(ctypes.c_int32, (void_p, ctypes.POINTER(void_p)), self._query_interface),
                 (ctypes.c_uint32, (), self._add_ref), (ctypes.c_uint32, (), self._release), *methods]
        self._callbacks = [method(restype, void_p, *argtypes)(function) for restype, argtypes, function in slots]
        self._vtable = (void_p * len(self._callbacks))(*(ctypes.cast(cb, void_p) for cb in self._callbacks))
        self._object = (void_p * 1)(ctypes.addressof(self._vtable))
        self.com_pointer: int = ctypes.addressof(self._object)

    def _query_interface(self, this: int, iid: int, out: Any) -> int:
        if self._iids is not None and ctypes.string_at(iid, 16) not in self._iids:
            out[0] = None
            return _E_NOINTERFACE
        out[0] = this
        self.refs += 1
        return 0

    def _add_ref(self, this: int) -> int:
        self.refs += 1
        return self.refs

    def _release(self, this: int) -> int:
        self.refs -= 1
        return self.refs
