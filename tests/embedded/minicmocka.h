/*
 * minicmocka.h - the part of cmocka's API that mote's unit tests use, in one header, for targets
 * where cmocka cannot go (Cortex-M3 under qemu). Same names and semantics as cmocka 1.1: a failed
 * assertion prints one line with file:line and ends the current test (setjmp/longjmp); a group
 * prints a closing "N passed, N failed" line and returns the number of failed tests.
 *
 * Integer assertions compare as cmocka does, after a cast to uintmax_t, so a test that passes on
 * the host passes here. Everything is static: include it in the one .c file of a test program.
 */
#ifndef MINICMOCKA_H
#define MINICMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

/* clang-format would break these braced initializers over several lines. */
/* clang-format off */
#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, setup) {#f, f, setup, NULL, NULL}
#define cmocka_unit_test_teardown(f, teardown) {#f, f, NULL, teardown, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) {#f, f, setup, teardown, NULL}
#define cmocka_unit_test_prestate(f, state) {#f, f, NULL, NULL, state}
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state)                        \
    {#f, f, setup, teardown, state}
/* clang-format on */

#define cmocka_run_group_tests(tests, group_setup, group_teardown)                                 \
    mc__run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, group_teardown)
#define cmocka_run_group_tests_name(name, tests, group_setup, group_teardown)                      \
    mc__run_group(name, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, group_teardown)

/* No leak checking here: the host run (cmocka, AddressSanitizer) does that. */
#define test_malloc(size) malloc(size)
#define test_calloc(n, size) calloc(n, size)
#define test_realloc(ptr, size) realloc(ptr, size)
#define test_free(ptr) free(ptr)

#define MC__U(x) ((uintmax_t)(x))

#define assert_true(c) mc__check(!!(c), __FILE__, __LINE__, "%s is not true", #c)
#define assert_false(c) mc__check(!(c), __FILE__, __LINE__, "%s is not false", #c)
#define assert_null(p) mc__check((p) == NULL, __FILE__, __LINE__, "%s is not NULL", #p)
#define assert_non_null(p) mc__check((p) != NULL, __FILE__, __LINE__, "%s is NULL", #p)
#define assert_int_equal(a, b) mc__int(1, MC__U(a), MC__U(b), __FILE__, __LINE__)
#define assert_int_not_equal(a, b) mc__int(0, MC__U(a), MC__U(b), __FILE__, __LINE__)
#define assert_ptr_equal(a, b) mc__ptr(1, (const void *)(a), (const void *)(b), __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b)                                                                 \
    mc__ptr(0, (const void *)(a), (const void *)(b), __FILE__, __LINE__)
#define assert_string_equal(a, b)                                                                  \
    mc__str(1, (const char *)(a), (const char *)(b), __FILE__, __LINE__)
#define assert_string_not_equal(a, b)                                                              \
    mc__str(0, (const char *)(a), (const char *)(b), __FILE__, __LINE__)
#define assert_memory_equal(a, b, size)                                                            \
    mc__mem(1, (const void *)(a), (const void *)(b), (size_t)(size), __FILE__, __LINE__)
#define assert_memory_not_equal(a, b, size)                                                        \
    mc__mem(0, (const void *)(a), (const void *)(b), (size_t)(size), __FILE__, __LINE__)
#define assert_in_range(v, min, max)                                                               \
    mc__range(1, MC__U(v), MC__U(min), MC__U(max), __FILE__, __LINE__)
#define assert_not_in_range(v, min, max)                                                           \
    mc__range(0, MC__U(v), MC__U(min), MC__U(max), __FILE__, __LINE__)
#define assert_return_code(rc, error)                                                              \
    mc__check((intmax_t)(rc) >= 0, __FILE__, __LINE__, "%s < 0 (%lld)", #rc,                       \
              (long long)(intmax_t)(rc))

#define fail() mc__fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) mc__fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() mc__skip(__FILE__, __LINE__)
#define print_message(...) printf(__VA_ARGS__)
#define print_error(...) printf(__VA_ARGS__)

enum { MC__PASSED, MC__FAILED, MC__SKIPPED };

struct mc__state {
    jmp_buf env;
    int armed;  /* env is valid: a test, setup or teardown is running */
    int result; /* MC__PASSED, MC__FAILED or MC__SKIPPED for the current test */
    int setup_ok;
    void *test_state;  /* the `void **state` of the current test (static: survives longjmp) */
    void *group_state; /* the group setup's state */
    const char *name;  /* current test, or the group's name during group setup/teardown */
    unsigned passed, failed, skipped;
};

#if defined(__GNUC__)
#define MC__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MC__PRINTF(fmt, args)
#endif
static inline void mc__fail(const char *file, int line, const char *fmt, ...) MC__PRINTF(3, 4);
static inline void mc__check(int ok, const char *file, int line, const char *fmt, ...)
    MC__PRINTF(4, 5);

static inline struct mc__state *mc__st(void)
{
    static struct mc__state st;
    return &st;
}

static inline void mc__vreport(const char *tag, const char *file, int line, const char *fmt,
                               va_list ap)
{
    printf("[ %s ] %s: %s:%d: ", tag, mc__st()->name ? mc__st()->name : "?", file, line);
    vprintf(fmt, ap);
    printf("\n");
}

static inline void mc__abort_test(int result)
{
    struct mc__state *s = mc__st();
    s->result = result;
    if (s->armed)
        longjmp(s->env, 1);
    /* An assertion outside any test: nothing to return to. */
    printf("%u passed, %u failed\n", s->passed, s->failed + 1);
    exit(1);
}

static inline void mc__fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mc__vreport("FAILED ", file, line, fmt, ap);
    va_end(ap);
    mc__abort_test(MC__FAILED);
}

static inline void mc__check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (ok)
        return;
    va_start(ap, fmt);
    mc__vreport("FAILED ", file, line, fmt, ap);
    va_end(ap);
    mc__abort_test(MC__FAILED);
}

static inline void mc__skip(const char *file, int line)
{
    printf("[ SKIPPED ] %s: %s:%d\n", mc__st()->name ? mc__st()->name : "?", file, line);
    mc__abort_test(MC__SKIPPED);
}

static inline void mc__int(int want_equal, uintmax_t a, uintmax_t b, const char *file, int line)
{
    if ((a == b) == want_equal)
        return;
    mc__fail(file, line, "%lld (%#llx) %s %lld (%#llx)", (long long)a, (unsigned long long)a,
             want_equal ? "!=" : "==", (long long)b, (unsigned long long)b);
}

static inline void mc__ptr(int want_equal, const void *a, const void *b, const char *file, int line)
{
    if ((a == b) == want_equal)
        return;
    mc__fail(file, line, "%p %s %p", a, want_equal ? "!=" : "==", b);
}

static inline void mc__str(int want_equal, const char *a, const char *b, const char *file, int line)
{
    int equal = (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
    if (equal == want_equal)
        return;
    mc__fail(file, line, "\"%s\" %s \"%s\"", a ? a : "(null)",
             want_equal ? "!=" : "==", b ? b : "(null)");
}

static inline void mc__mem(int want_equal, const void *a, const void *b, size_t size,
                           const char *file, int line)
{
    const unsigned char *x = a, *y = b;
    size_t i, first = size, differ = 0;
    if (x == NULL || y == NULL)
        mc__fail(file, line, "memory comparison with a NULL pointer");
    for (i = 0; i < size; i++) {
        if (x[i] != y[i]) {
            if (first == size)
                first = i;
            differ++;
        }
    }
    if ((differ == 0) == want_equal)
        return;
    if (want_equal)
        mc__fail(file, line, "%lu of %lu bytes differ, first at offset %lu: 0x%02x != 0x%02x",
                 (unsigned long)differ, (unsigned long)size, (unsigned long)first, x[first],
                 y[first]);
    mc__fail(file, line, "%lu bytes are equal", (unsigned long)size);
}

static inline void mc__range(int want_in, uintmax_t v, uintmax_t min, uintmax_t max,
                             const char *file, int line)
{
    int in = v >= min && v <= max;
    if (in == want_in)
        return;
    mc__fail(file, line, "%llu is %s range [%llu, %llu]", (unsigned long long)v,
             want_in ? "not in" : "in", (unsigned long long)min, (unsigned long long)max);
}

/* Runs one fixture or test body under setjmp; returns the result it ended with. */
static inline int mc__guarded(CMUnitTestFunction test, CMFixtureFunction fixture, void **state)
{
    struct mc__state *s = mc__st();
    s->result = MC__PASSED;
    if (setjmp(s->env) == 0) {
        s->armed = 1;
        if (test != NULL) {
            test(state);
        } else if (fixture(state) != 0) {
            printf("[ FAILED  ] %s: setup or teardown returned non-zero\n", s->name);
            s->result = MC__FAILED;
        }
    }
    s->armed = 0;
    return s->result;
}

static inline int mc__run_group(const char *group, const struct CMUnitTest *tests, size_t count,
                                CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    struct mc__state *s = mc__st();
    size_t i;

    s->passed = s->failed = s->skipped = 0;
    s->group_state = NULL;
    s->name = group;
    if (group_setup != NULL && mc__guarded(NULL, group_setup, &s->group_state) != MC__PASSED) {
        s->failed = (unsigned)count;
        printf("%u passed, %u failed\n", s->passed, s->failed);
        return (int)s->failed;
    }

    for (i = 0; i < count; i++) {
        int result;
        s->name = tests[i].name;
        s->test_state = tests[i].initial_state != NULL ? tests[i].initial_state : s->group_state;
        result = MC__PASSED;
        s->setup_ok = 1;
        if (tests[i].setup_func != NULL) {
            result = mc__guarded(NULL, tests[i].setup_func, &s->test_state);
            s->setup_ok = result == MC__PASSED;
        }
        if (s->setup_ok)
            result = mc__guarded(tests[i].test_func, NULL, &s->test_state);
        if (s->setup_ok && tests[i].teardown_func != NULL &&
            mc__guarded(NULL, tests[i].teardown_func, &s->test_state) == MC__FAILED)
            result = MC__FAILED;
        if (result == MC__PASSED)
            s->passed++;
        else if (result == MC__SKIPPED)
            s->skipped++;
        else
            s->failed++;
    }

    s->name = group;
    if (group_teardown != NULL && mc__guarded(NULL, group_teardown, &s->group_state) != MC__PASSED)
        s->failed++;

    if (s->skipped)
        printf("%u passed, %u failed, %u skipped\n", s->passed, s->failed, s->skipped);
    else
        printf("%u passed, %u failed\n", s->passed, s->failed);
    return (int)s->failed;
}

#endif /* MINICMOCKA_H */
