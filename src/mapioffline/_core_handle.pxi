# The lifecycle every handle shares (_Handle) and the pin a waiting call holds (_Pin).
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

cdef class _Handle:
    """The lifecycle every handle shares: one COM reference, open until close() (idempotent), a context manager,
    a ResourceWarning when collected open, and inert in a child after fork() (the parent's objects and threads
    do not exist there: the reference is leaked on purpose, never released).

    Every call that releases the GIL and uses the COM pointer pins it first (_pin: its own AddRef, released after
    the call), so that close() on another thread, which drops the handle's reference, can never free the object
    under a running call."""

    cdef IUnknown *_p
    cdef int _generation
    cdef bint _closed
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._p = NULL
        self._generation = _fork_generation
        self._closed = False

    cdef str _what(self):
        return "handle"

    cdef IUnknown *_unknown(self) except NULL:
        """The pointer, or the error of a closed or forked handle. Only inside critical_section(self): close() on
        another thread releases the reference, so the pointer is usable only until the section ends (pin it to
        use it beyond)."""
        if self._generation != _fork_generation:
            raise _forked_error(self._what())
        if self._closed or self._p is NULL:
            raise ClosedError(f"the {self._what()} is closed")
        return self._p

    cdef IUnknown *_pin(self) except NULL:
        cdef IUnknown *p
        with cython.critical_section(self):
            p = self._unknown()
            p.AddRef()
        return p

    cdef void _before_release(self) noexcept:
        """Runs once, at close(), inside its critical section while the reference is still held (the Sink closes
        its consumer side here): native calls only, nothing that blocks."""
        pass

    cdef void _release(self) noexcept:
        """At deallocation only (no other thread can reach the object then); close() has its own."""
        cdef IUnknown *p = self._p
        self._p = NULL
        if p is not NULL and self._generation == _fork_generation:
            with nogil:  # a last Release may join a native thread that calls a sink needing the GIL
                p.Release()

    @property
    def closed(self):
        """True after close() (or in a fork child, where the handle is inert)."""
        with cython.critical_section(self):
            return self._closed or self._generation != _fork_generation

    def close(self):
        """Releases the handle (idempotent; a no-op in a fork child). Safe from several threads at once, also
        while other threads use the handle: their calls either ran before or fail with ClosedError, and a call
        that pinned the object finishes on its own reference."""
        cdef IUnknown *p
        with cython.critical_section(self):
            if self._closed:
                return
            self._closed = True  # exactly one caller gets past this point
            if self._generation != _fork_generation:
                return
            self._before_release()
            p = self._p
            self._p = NULL
        if p is not NULL:
            with nogil:  # a last Release may join a native thread that calls a sink needing the GIL
                p.Release()

    def __enter__(self):
        with cython.critical_section(self):
            self._unknown()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        cdef bint unclosed
        with cython.critical_section(self):
            unclosed = not self._closed and self._p is not NULL and self._generation == _fork_generation
        if unclosed:
            if not mapioffline_py_finalizing():
                warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __dealloc__(self):
        self._release()


cdef class _Pin(_Handle):
    """One extra reference on a native object, released by close() (collected open, it warns and is released).""" 

    cdef str _what(self):
        return "native reference"
