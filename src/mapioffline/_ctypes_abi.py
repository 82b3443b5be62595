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
