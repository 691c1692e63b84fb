/* mamori's own log file: capped in bytes, repeats merged.
 *
 * Invariants: the live file stays under rotate_bytes; rotated files are
 * zstd-compressed as PATH.NNNNNNNN.zst and together stay under
 * max_bytes - rotate_bytes (oldest deleted first), so the whole log never
 * holds more than max_bytes. A line equal to the previous one is only
 * counted; "last message repeated N times" is written when another line
 * comes or on flush. A failed write (disk full) drops the line and is
 * counted: logging never stops the watcher. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "watch/watch.h"

#define LINE_MAX_BYTES 4096

struct watch_log {
    char path[PATH_MAX - 32];
    char dir[PATH_MAX], base[NAME_MAX + 1];
    int fd;
    size_t size, rotate_bytes, max_bytes;
    unsigned long seq;
    char last[LINE_MAX_BYTES];
    size_t last_n;
    uint64_t repeats;
    int64_t last_t;
    uint64_t written, errors;
};

static unsigned long rot_seq(const struct watch_log *l, const char *name)
{
    size_t bl = strlen(l->base);
    if (strncmp(name, l->base, bl) || name[bl] != '.')
        return 0;
    char *e;
    unsigned long v = strtoul(name + bl + 1, &e, 10);
    return e != name + bl + 1 && !strcmp(e, ".zst") ? v : 0;
}

struct rot {
    unsigned long seq;
    off_t size;
};

static int cmp_rot(const void *a, const void *b)
{
    const struct rot *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Deletes the oldest rotated files until they fit the budget. */
static void enforce(struct watch_log *l)
{
    DIR *d = opendir(l->dir);
    if (!d)
        return;
    size_t n = 0, cap = 64;
    struct rot *v = malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d))) {
        unsigned long s = rot_seq(l, e->d_name);
        if (!s)
            continue;
        char p[PATH_MAX + NAME_MAX + 2];
        snprintf(p, sizeof p, "%s/%s", l->dir, e->d_name);
        struct stat st;
        if (stat(p, &st) < 0)
            continue;
        if (n == cap) {
            if (cap >= 65536)
                break;
            struct rot *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        v[n].seq = s;
        v[n].size = st.st_size;
        n++;
        if (s >= l->seq)
            l->seq = s + 1;
    }
    closedir(d);
    if (!v)
        return;
    qsort(v, n, sizeof *v, cmp_rot);
    unsigned long long total = 0, budget = l->max_bytes - l->rotate_bytes;
    for (size_t i = 0; i < n; i++)
        total += (unsigned long long)v[i].size;
    for (size_t i = 0; i < n && total > budget; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s.%08lu.zst", l->path, v[i].seq);
        if (unlink(p) == 0)
            total -= (unsigned long long)v[i].size;
    }
    free(v);
}

static void compress_to(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    char *data = NULL, *z = NULL;
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0 || st.st_size <= 0 || st.st_size > (1 << 30))
        goto done;
    size_t n = (size_t)st.st_size, got = 0;
    data = malloc(n);
    if (!data)
        goto done;
    while (got < n) {
        ssize_t r = read(in, data + got, n - got);
        if (r <= 0)
            goto done;
        got += (size_t)r;
    }
    size_t bound = ZSTD_compressBound(n);
    z = malloc(bound);
    if (!z)
        goto done;
    size_t zn = ZSTD_compress(z, bound, data, n, 3);
    if (ZSTD_isError(zn))
        goto done;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (out < 0)
        goto done;
    size_t off = 0;
    while (off < zn) {
        ssize_t w = write(out, z + off, zn - off);
        if (w <= 0) {
            close(out);
            out = -1;
            unlink(dst); /* disk full: a partial archive is worth nothing */
            goto done;
        }
        off += (size_t)w;
    }
done:
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    free(data);
    free(z);
    unlink(src);
}

static int open_live(struct watch_log *l)
{
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return -1;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
    return 0;
}

static void rotate(struct watch_log *l)
{
    char tmp[PATH_MAX], dst[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.%08lu", l->path, l->seq);
    snprintf(dst, sizeof dst, "%s.zst", tmp);
    l->seq++;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (rename(l->path, tmp) == 0)
        compress_to(tmp, dst);
    else
        unlink(l->path);
    open_live(l);
    enforce(l);
}

static void cpy_cut(char *d, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(d, s, n);
    d[n] = '\0';
}

struct watch_log *watch_log_open(const char *path, size_t rotate_bytes, size_t max_bytes)
{
    struct watch_log *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (strlen(path) >= sizeof l->path || rotate_bytes < 1024 || max_bytes < 2 * rotate_bytes) {
        free(l);
        errno = EINVAL;
        return NULL;
    }
    memcpy(l->path, path, strlen(path) + 1);
    const char *sl = strrchr(path, '/');
    if (sl) {
        size_t dl = sl == path ? 1 : (size_t)(sl - path);
        memcpy(l->dir, path, dl);
        l->dir[dl] = '\0';
        cpy_cut(l->base, sizeof l->base, sl + 1);
    } else {
        memcpy(l->dir, ".", 2);
        cpy_cut(l->base, sizeof l->base, path);
    }
    l->rotate_bytes = rotate_bytes;
    l->max_bytes = max_bytes;
    l->seq = 1;
    l->fd = -1;
    enforce(l);
    if (open_live(l) < 0) {
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
    if (l->size + len > l->rotate_bytes)
        rotate(l);
    if (l->fd < 0 && open_live(l) < 0) {
        l->errors++;
        return;
    }
    ssize_t w = write(l->fd, line, len);
    if (w != (ssize_t)len) {
        l->errors++; /* disk full or I/O error: the line is lost, counted */
        if (w > 0)
            l->size += (size_t)w;
        return;
    }
    l->size += len;
    l->written += len;
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
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

uint64_t watch_log_bytes_written(const struct watch_log *l)
{
    return l->written;
}

uint64_t watch_log_write_errors(const struct watch_log *l)
{
    return l->errors;
}
