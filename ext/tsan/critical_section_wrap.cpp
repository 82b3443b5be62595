// Linked only into a ThreadSanitizer build of the extension for a free-threaded interpreter (setup.py,
// MAPIOFFLINE_SANITIZE=thread on a Py_GIL_DISABLED Python), through -Wl,--wrap of the two functions below.
//
// The binding keeps each handle's state inside Cython critical sections (PyCriticalSection_Begin/End on the
// handle). The interpreter is not built with TSan, so the per-object mutex those take is invisible to it: every
// access they order would be reported as a race. Each Begin/End is therefore also announced to TSan as an
// acquire/release of that mutex's address: exactly the ordering the mutex gives, nothing more. (On a GIL build
// the GIL is a pthread mutex, which TSan intercepts, and this file is not used.)
#include <Python.h>

#if !defined(Py_GIL_DISABLED)
#error "critical_section_wrap.cpp is for free-threaded (Py_GIL_DISABLED) builds only"
#endif

extern "C" {
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

void __real_PyCriticalSection_Begin(PyCriticalSection *c, PyObject *op);
void __real_PyCriticalSection_End(PyCriticalSection *c);

void __wrap_PyCriticalSection_Begin(PyCriticalSection *c, PyObject *op) {
  __real_PyCriticalSection_Begin(c, op);
  __tsan_acquire(&op->ob_mutex);
}

void __wrap_PyCriticalSection_End(PyCriticalSection *c) {
  __tsan_release(c->_cs_mutex);
  __real_PyCriticalSection_End(c);
}
}
