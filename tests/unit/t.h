/* Minimal unit-test framework: TEST(name) { ... } registers a test at load
 * time; CHECK* macros record failures and keep going. The runner prints
 * each failure with file:line and ends with "N passed, N failed". */
#ifndef MAMORI_TEST_T_H
#define MAMORI_TEST_T_H
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct t_ctx {
    const char *name;
    int failed;
};

void t_register(const char *name, const char *file, void (*fn)(struct t_ctx *));
void t_fail(struct t_ctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TEST(fn)                                                                   \
    static void fn(struct t_ctx *t);                                               \
    __attribute__((constructor)) static void t_reg_##fn(void) { t_register(#fn, __FILE__, fn); } \
    static void fn(struct t_ctx *t)

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c))                                                                  \
            t_fail(t, __FILE__, __LINE__, "CHECK(%s)", #c);                        \
    } while (0)
#define CHECK_INT(a, b)                                                            \
    do {                                                                           \
        long long t_a = (long long)(a), t_b = (long long)(b);                      \
        if (t_a != t_b)                                                            \
            t_fail(t, __FILE__, __LINE__, "%s == %lld, expected %lld", #a, t_a, t_b); \
    } while (0)
#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *t_a = (a), *t_b = (b);                                         \
        if (!t_a || !t_b || strcmp(t_a, t_b) != 0)                                 \
            t_fail(t, __FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,     \
                   t_a ? t_a : "(null)", t_b ? t_b : "(null)");                    \
    } while (0)
/* Compares a (ptr,len) result with an expected byte string (may hold NULs). */
#define CHECK_MEM(p, n, exp, expn)                                                 \
    do {                                                                           \
        size_t t_n = (n), t_en = (expn);                                           \
        if (t_n != t_en || memcmp((p), (exp), t_n) != 0)                           \
            t_fail(t, __FILE__, __LINE__, "%s: got \"%.*s\" (%zu), expected \"%.*s\" (%zu)", \
                   #p, (int)t_n, (const char *)(p), t_n, (int)t_en, (const char *)(exp), t_en); \
    } while (0)

#endif
