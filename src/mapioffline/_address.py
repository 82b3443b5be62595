"""The address behind a pointer-like object (for OfflineObject.from_pointer): a leaf module, imported by the
binding, that knows ctypes so the binding itself only ever sees an int."""

from __future__ import annotations

import ctypes

__all__ = ["address_of"]


def address_of(pointer: object, what: str = "address") -> int:
    """The address held by ``pointer``: an int, a ``ctypes.c_void_p``, any ctypes pointer (comtypes interface
    pointers such as ``POINTER(IUnknown)`` instances are ctypes pointers), or an object that hands ctypes its
    pointer through ``_as_parameter_`` (the ctypes protocol for "pass me as this").

    Raises TypeError naming what it got otherwise, ValueError for a NULL pointer."""
    seen = pointer
    # _as_parameter_ may itself be a pointer object or an int; follow it a few steps (a cycle is a TypeError).
    for _ in range(4):
        if isinstance(pointer, bool):
            break
        if isinstance(pointer, int):
            return pointer
        if isinstance(pointer, ctypes.c_void_p):
            return _not_null(pointer.value, seen, what)
        if isinstance(pointer, ctypes._Pointer):  # every POINTER(T) instance, comtypes' interfaces included
            return _not_null(ctypes.cast(pointer, ctypes.c_void_p).value, seen, what)
        inner = getattr(pointer, "_as_parameter_", None)
        if inner is None or inner is pointer:
            break
        pointer = inner
    raise TypeError(
        f"{what} must be an int, a ctypes.c_void_p, a ctypes pointer (comtypes interface pointers are) or an object "
        f"with _as_parameter_ giving one, not {type(seen).__module__}.{type(seen).__qualname__}"
    )


def _not_null(value: int | None, seen: object, what: str) -> int:
    if not value:
        raise ValueError(f"{what} is a NULL pointer ({type(seen).__qualname__})")
    return value
