/* mamori's own log file: capped in bytes (core/caplog.h: rotation, zstd,
 * the cap), repeats merged. A line equal to the previous one is only
 * counted; "last message repeated N times" is written when another line
 * comes or on flush. A failed write (disk full) drops the line and is
 * counted: logging never stops the watcher. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/caplog.h"
#include "watch/watch.h"

#define LINE_MAX_BYTES 4096

struct watch_log {
    struct caplog *log; /* rotation, compression and the cap (core/caplog.h) */
    char last[LINE_MAX_BYTES];
    size_t last_n;
    uint64_t repeats;
    int64_t last_t;
};

struct watch_log *watch_log_open(const char *path, size_t rotate_bytes, size_t max_bytes)
{
    if (rotate_bytes < 1024 || max_bytes < 2 * rotate_bytes) {
        errno = EINVAL;
        return NULL;
    }
    struct watch_log *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    char err[256];
    l->log = caplog_open(path, rotate_bytes, max_bytes, err, sizeof err);
    if (!l->log) {
        free(l);
        return NULL;
    }
    return l;
}

static void emit(struct watch_log *l, int64_t t, const char *msg, size_t n)
{
    char line[LINE_MAX_BYTES + 64];
    char ts[32];
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm))
        ts[0] = '\0';
    int h = snprintf(line, sizeof line, "%s ", ts);
    if (h < 0)
        return;
    size_t len = (size_t)h;
    if (n > LINE_MAX_BYTES)
        n = LINE_MAX_BYTES;
    memcpy(line + len, msg, n);
    len += n;
    line[len++] = '\n';
    caplog_write(l->log, line, len); /* a lost line is counted there */
}

static void flush_repeats(struct watch_log *l)
{
    if (!l->repeats)
        return;
    char msg[96];
    int n = snprintf(msg, sizeof msg, "last message repeated %llu times",
                     (unsigned long long)l->repeats);
    l->repeats = 0;
    if (n > 0)
        emit(l, l->last_t, msg, (size_t)n);
}

void watch_log_line(struct watch_log *l, int64_t now, const char *msg, size_t n)
{
    char clean[LINE_MAX_BYTES];
    if (n > sizeof clean)
        n = sizeof clean;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        clean[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (n == l->last_n && !memcmp(clean, l->last, n)) {
        l->repeats++;
        l->last_t = now;
        return;
    }
    flush_repeats(l);
    memcpy(l->last, clean, n);
    l->last_n = n;
    l->last_t = now;
    emit(l, now, clean, n);
}

void watch_log_flush(struct watch_log *l)
{
    flush_repeats(l);
}

void watch_log_close(struct watch_log *l)
{
    if (!l)
        return;
    flush_repeats(l);
    caplog_close(l->log);
    free(l);
}

uint64_t watch_log_bytes_written(const struct watch_log *l)
{
    return caplog_bytes_written(l->log);
}

uint64_t watch_log_write_errors(const struct watch_log *l)
{
    return caplog_write_errors(l->log);
}
