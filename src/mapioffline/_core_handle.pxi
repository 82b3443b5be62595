# The lifecycle every native handle shares (_Lifecycle), the COM handle on it (_Handle) and the pin a waiting call
# holds (_Pin).
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

cdef class _Lifecycle:
    """The lifecycle every handle of the binding shares: it owns one native resource (a COM reference, a bridge
    publisher, a test pump), open until close() (idempotent, safe from several threads at once: exactly one caller
    releases), a context manager, a ResourceWarning when collected open, and inert in a child after fork() (the
    parent's objects and threads do not exist there: the resource is leaked on purpose, never released).

    A subclass says what its resource is (_what, _closed_word) and how it is released (_free); the rules are here
    only. Its C state (_p, _closed) is only read or written inside ``cython.critical_section(self)``."""

    cdef void *_p
    cdef uint32_t _generation
    cdef bint _closed
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._p = NULL
        self._generation = ForkGeneration()  # the native core's counter: it moves on in the child of every fork()
        self._closed = False

    cdef str _what(self):
        """The resource's name in messages ("the sink is closed")."""
        return "handle"

    cdef str _closed_word(self):
        """What the resource is once released: "closed" ("the publisher is stopped", "unstopped <...>")."""
        return "closed"

    @cython.final
    cdef inline bint _inherited(self) noexcept nogil:
        """True in a fork child for a handle made before the fork."""
        return self._generation != ForkGeneration()

    @cython.final
    cdef void *_resource(self) except NULL:
        """The resource, or the error of a closed or forked handle. Only inside critical_section(self): close() on
        another thread releases it, so it is usable only until the section ends."""
        if self._inherited():
            raise _forked_error(self._what())
        if self._closed or self._p is NULL:
            raise ClosedError(f"the {self._what()} is {self._closed_word()}")
        return self._p

    cdef void _before_release(self) noexcept:
        """Runs once, at close(), inside its critical section while the resource is still held (the Sink closes
        its consumer side here): native calls only, nothing that blocks."""
        pass

    cdef void _free(self, void *p) noexcept:
        """Releases the resource ``p`` (never NULL), once, outside every critical section; with the GIL, which an
        implementation releases around a call that may block or call back into Python."""
        pass

    cdef void _release(self) noexcept:
        """At deallocation only (no other thread can reach the object then); close() has its own."""
        cdef void *p = self._p
        self._p = NULL
        if p is not NULL and not self._inherited():
            self._free(p)

    @property
    def closed(self):
        """True after close() (or in a fork child, where the handle is inert)."""
        with cython.critical_section(self):
            return self._closed or self._inherited()

    def close(self):
        """Releases the handle (idempotent; a no-op in a fork child). Safe from several threads at once, also
        while other threads use the handle: their calls either ran before or fail with ClosedError, and a call
        that pinned the object finishes on its own reference."""
        cdef void *p
        with cython.critical_section(self):
            if self._closed:
                return
            self._closed = True  # exactly one caller gets past this point
            if self._inherited():
                return
            self._before_release()
            p = self._p
            self._p = NULL
        if p is not NULL:
            self._free(p)

    def __enter__(self):
        with cython.critical_section(self):
            self._resource()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        cdef bint unclosed
        with cython.critical_section(self):
            unclosed = not self._closed and self._p is not NULL and not self._inherited()
        if unclosed:
            if not mapioffline_py_finalizing():
                warnings.warn(f"un{self._closed_word()} {self!r}", ResourceWarning, source=self)
            self.close()

    def __dealloc__(self):
        self._release()


cdef class _Handle(_Lifecycle):
    """A handle on one COM reference.

    Every call that releases the GIL and uses the COM pointer pins it first (_pin: its own AddRef, released after
    the call), so that close() on another thread, which drops the handle's reference, can never free the object
    under a running call."""

    @cython.final
    cdef inline IUnknown *_unknown(self) except NULL:
        """_resource() as the COM pointer: inside critical_section(self) only (pin it to use it beyond)."""
        return <IUnknown *>self._resource()

    cdef IUnknown *_pin(self) except NULL:
        cdef IUnknown *p
        with cython.critical_section(self):
            p = self._unknown()
            p.AddRef()
        return p

    cdef void _free(self, void *p) noexcept:
        with nogil:  # a last Release may join a native thread that calls a sink needing the GIL
            (<IUnknown *>p).Release()


cdef class _Pin(_Handle):
    """One extra reference on a native object, released by close() (collected open, it warns and is released)."""

    cdef str _what(self):
        return "native reference"
