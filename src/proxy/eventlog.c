/* The proxy's log files (events and the optional access log): a capped,
 * rotating log (core/caplog.h) shared by the generations that use it, so a
 * reload that keeps the same file keeps writing to the same descriptor. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/caplog.h"
#include "proxy/proxy_int.h"

struct proxy_log {
    atomic_int refs;
    struct caplog *log;
};

struct proxy_log *proxy_log_open(const char *path, size_t rotate_bytes, size_t max_bytes,
                                 char *err, size_t errlen)
{
    struct proxy_log *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->log = caplog_open(path, rotate_bytes, max_bytes, err, errlen);
    if (!l->log) {
        free(l);
        return NULL;
    }
    atomic_init(&l->refs, 1);
    return l;
}

const char *proxy_log_path(const struct proxy_log *l) { return caplog_path(l->log); }

int proxy_log_fd(const struct proxy_log *l) { return caplog_fd(l->log); }

void proxy_log_ref(struct proxy_log *l) { atomic_fetch_add(&l->refs, 1); }

void proxy_log_unref(struct proxy_log *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    caplog_close(l->log);
    free(l);
}

bool proxy_log_same(const struct proxy_log *l, const char *path, size_t rotate_bytes,
                    size_t max_bytes)
{
    return l && !strcmp(caplog_path(l->log), path) && caplog_rotate_bytes(l->log) == rotate_bytes &&
           caplog_max_bytes(l->log) == max_bytes;
}

int proxy_log_write(struct proxy_log *l, const char *line, size_t n)
{
    return caplog_write(l->log, line, n);
}
