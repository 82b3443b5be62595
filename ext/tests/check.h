/* Minimal checks for the native tests (C99 and C++): count failures, print where, never abort early. */
#ifndef MAPIOFFLINE_TESTS_CHECK_H
#define MAPIOFFLINE_TESTS_CHECK_H
#undef NDEBUG
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
#include <atomic>
/* Atomic in C++: stress tests check from several threads at once. */
static std::atomic<int> g_checks{0};
static std::atomic<int> g_failures{0};
#else
static int g_checks = 0;
static int g_failures = 0;
#endif

#define CHECK(cond)                                                             \
  do {                                                                          \
    ++g_checks;                                                                 \
    if (!(cond)) {                                                              \
      ++g_failures;                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                           \
  } while (0)

#define CHECK_HR(expr, expected)                                                                             \
  do {                                                                                                       \
    long check_hr_got_ = (long)(expr);                                                                       \
    ++g_checks;                                                                                              \
    if (check_hr_got_ != (long)(expected)) {                                                                 \
      ++g_failures;                                                                                          \
      fprintf(stderr, "%s:%d: %s returned 0x%08lx, expected 0x%08lx\n", __FILE__, __LINE__, #expr,           \
              (unsigned long)check_hr_got_ & 0xffffffffUL, (unsigned long)(long)(expected) & 0xffffffffUL); \
    }                                                                                                        \
  } while (0)

/* Prints the summary line that the pytest driver parses, and the exit status. */
static int check_report(const char *suite) {
  const int checks = g_checks, failures = g_failures;
  printf("%s: %d checks, %d failures\n", suite, checks, failures);
  return failures == 0 ? 0 : 1;
}

/* Scale of stress loops: MAPIOFFLINE_STRESS_N overrides the default (smaller under sanitizers and Wine). */
static unsigned long stress_n(unsigned long default_n) {
#ifdef _MSC_VER
  /* C4996 (an error under test_doc_client's /WX): MSVC deprecates getenv because another thread's _putenv can free
     the string it returned. No test sets the environment, and the string is parsed here and never kept. */
#pragma warning(suppress : 4996)
#endif
  const char *s = getenv("MAPIOFFLINE_STRESS_N");
  return (s && *s) ? strtoul(s, NULL, 10) : default_n;
}

#endif
