// Replaced global allocation functions that count every allocation (see alloc_counter.h).
//
// operator new counts once and takes memory from the raw allocator directly, so an operator new is never counted
// twice. On glibc, malloc & co. are interposed as well (glibc supports replacing them: the executable's definitions
// win, and libc's internal calls use them too) and forward to the __libc_* entry points of the same heap, so memory
// from either path may be freed by the other. Elsewhere only operator new is counted.
#include "alloc_counter.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
// A plain thread_local in the executable lives in static TLS (set up with the thread, before it runs), so
// touching it from malloc cannot recurse into malloc.
thread_local uint64_t t_allocs = 0;
std::atomic<uint64_t> g_allocs{0};

inline void Count() noexcept {
  ++t_allocs;
  g_allocs.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

namespace mapioffline_bench {
uint64_t ThreadAllocs() noexcept { return t_allocs; }
uint64_t TotalAllocs() noexcept { return g_allocs.load(std::memory_order_relaxed); }
void CountAlloc() noexcept { Count(); }
#if defined(__GLIBC__)
bool CountsMalloc() noexcept { return true; }
#else
bool CountsMalloc() noexcept { return false; }
#endif
}  // namespace mapioffline_bench

#if defined(__GLIBC__)
extern "C" {
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void __libc_free(void *);

void *malloc(size_t n) {
  Count();
  return __libc_malloc(n);
}
void *calloc(size_t count, size_t n) {
  Count();
  return __libc_calloc(count, n);
}
void *realloc(void *p, size_t n) {
  Count();
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) {
  Count();
  return __libc_memalign(alignment, n);
}
void *aligned_alloc(size_t alignment, size_t n) {
  Count();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void **out, size_t alignment, size_t n) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return 22;  // EINVAL
  Count();
  void *p = __libc_memalign(alignment, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}  // extern "C"
#define RAW_MALLOC(n) __libc_malloc(n)
#define RAW_MEMALIGN(a, n) __libc_memalign((a), (n))
#define RAW_FREE(p) __libc_free(p)
#define RAW_ALIGNED_FREE(p) __libc_free(p)
#elif defined(_WIN32)
// The Windows CRTs have no aligned_alloc: _aligned_malloc's memory must go back through _aligned_free.
#include <malloc.h>
#define RAW_MALLOC(n) std::malloc(n)
#define RAW_MEMALIGN(a, n) _aligned_malloc((n), (a))
#define RAW_FREE(p) std::free(p)
#define RAW_ALIGNED_FREE(p) _aligned_free(p)
#else
#define RAW_MALLOC(n) std::malloc(n)
#define RAW_MEMALIGN(a, n) std::aligned_alloc((a), (((n) + (a) - 1) / (a)) * (a))
#define RAW_FREE(p) std::free(p)
#define RAW_ALIGNED_FREE(p) std::free(p)
#endif

namespace {
void *CountedNew(std::size_t n) {
  Count();
  if (void *p = RAW_MALLOC(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void *CountedNewAligned(std::size_t n, std::align_val_t al) {
  Count();
  if (void *p = RAW_MEMALIGN(static_cast<std::size_t>(al), n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void *operator new(std::size_t n) { return CountedNew(n); }
void *operator new[](std::size_t n) { return CountedNew(n); }
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
  Count();
  return RAW_MALLOC(n ? n : 1);
}
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
  Count();
  return RAW_MALLOC(n ? n : 1);
}
void *operator new(std::size_t n, std::align_val_t al) { return CountedNewAligned(n, al); }
void *operator new[](std::size_t n, std::align_val_t al) { return CountedNewAligned(n, al); }
void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
  Count();
  return RAW_MEMALIGN(static_cast<std::size_t>(al), n ? n : 1);
}
void *operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
  Count();
  return RAW_MEMALIGN(static_cast<std::size_t>(al), n ? n : 1);
}

void operator delete(void *p) noexcept { RAW_FREE(p); }
void operator delete[](void *p) noexcept { RAW_FREE(p); }
void operator delete(void *p, std::size_t) noexcept { RAW_FREE(p); }
void operator delete[](void *p, std::size_t) noexcept { RAW_FREE(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { RAW_FREE(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { RAW_FREE(p); }
void operator delete(void *p, std::align_val_t) noexcept { RAW_ALIGNED_FREE(p); }
void operator delete[](void *p, std::align_val_t) noexcept { RAW_ALIGNED_FREE(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { RAW_ALIGNED_FREE(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { RAW_ALIGNED_FREE(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { RAW_ALIGNED_FREE(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { RAW_ALIGNED_FREE(p); }
