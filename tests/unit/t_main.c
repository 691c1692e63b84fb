#include "t.h"

#include <stdarg.h>
#include <stdlib.h>

#define T_MAX 4096

static struct {
    const char *name;
    const char *file;
    void (*fn)(struct t_ctx *);
} tests[T_MAX];
static int ntests;

void t_register(const char *name, const char *file, void (*fn)(struct t_ctx *))
{
    if (ntests >= T_MAX) {
        fprintf(stderr, "t: too many tests (raise T_MAX)\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    ntests++;
}

void t_fail(struct t_ctx *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "FAIL %s (%s:%d): ", t->name, file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    t->failed++;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]) && !strstr(tests[i].file, argv[1]))
            continue;
        struct t_ctx t = {tests[i].name, 0};
        tests[i].fn(&t);
        if (t.failed)
            failed++;
        else
            passed++;
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
