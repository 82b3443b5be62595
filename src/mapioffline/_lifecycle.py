"""The lifecycle rules for handles written in Python (Subscription): the rules the binding's _Lifecycle
(_core_handle.pxi) applies to the native handles, for a class that says only whether it is ``closed`` and how to
``close()`` (idempotent). It is a context manager that refuses a closed handle and closes on exit, and a handle
collected open gets a ResourceWarning and is closed."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from mapioffline.errors import ClosedError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Lifecycle"]


class Lifecycle:
    """Mixin: the subclass defines ``closed``, ``close()`` (idempotent) and ``_what`` (its name in messages)."""

    __slots__ = ()
    _what: ClassVar[str]

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def close(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        if self.closed:
            raise ClosedError(f"the {self._what} is closed")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self, _interpreter_finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # sys.is_finalizing is bound as a default: a handle collected during interpreter shutdown (on free-threaded
        # builds, often after the module globals were cleared) still reaches it.
        if self.closed:
            return
        if _interpreter_finalizing():
            # Nobody can act on a warning then, and close() needs the module globals: the native handles this one
            # holds release their references on their own as they are freed.
            return
        warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
        self.close()
