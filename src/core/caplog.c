/* Capped log files: one file written line by line, rotated by size, old
 * files compressed with zstd, the total on disk never above a cap.
 *
 * Invariant: the live file stays under rotate_bytes (a line that would pass
 * it rotates first, unless the file is empty), and the rotated files
 * (PATH.NNNNNNNN.zst) sum to at most max_bytes - rotate_bytes; so the log
 * never holds more than max_bytes on disk. Past the cap the oldest rotated
 * files are deleted: a flood overwrites a ring, it never fills the disk.
 * Sequence numbers continue from the rotated files already there.
 *
 * Each line is one write(2) on an O_APPEND descriptor, under a mutex that
 * orders writers against rotation; a failed write (disk full) drops the
 * line, is counted, and is reported once on stderr: logging never stops
 * its caller. Shared by the proxy's event log and the watcher's own log. */
#include "core/caplog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define LOG_MAX_ROTATED 100000

struct caplog {
    pthread_mutex_t mu;
    int fd;
    char path[PATH_MAX];
    char dir[PATH_MAX];
    char base[NAME_MAX + 1];
    size_t size;
    size_t rotate_bytes;
    size_t max_bytes;
    unsigned long next_seq;
    bool warned;
    uint64_t written, errors;
};

/* Bounded copy that always terminates (and keeps -Wformat-truncation quiet). */
static void copy_n(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void split_path(struct caplog *l)
{
    const char *slash = strrchr(l->path, '/');
    if (slash) {
        size_t dl = (size_t)(slash - l->path);
        if (dl == 0)
            dl = 1;
        copy_n(l->dir, sizeof l->dir, l->path, dl);
        copy_n(l->base, sizeof l->base, slash + 1, strlen(slash + 1));
    } else {
        copy_n(l->dir, sizeof l->dir, ".", 1);
        copy_n(l->base, sizeof l->base, l->path, strlen(l->path));
    }
}

/* "base.NNNNNNNN" or "base.NNNNNNNN.zst": returns the sequence number or 0. */
static unsigned long rotated_seq(const struct caplog *l, const char *name)
{
    size_t bl = strlen(l->base);
    if (strncmp(name, l->base, bl) || name[bl] != '.')
        return 0;
    const char *p = name + bl + 1;
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || (*end && strcmp(end, ".zst")))
        return 0;
    return v;
}

struct rot_file {
    unsigned long seq;
    off_t size;
    char name[NAME_MAX + 1];
};

static int cmp_rot(const void *a, const void *b)
{
    const struct rot_file *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Lists rotated files oldest first; *n gets the count. Caller frees. */
static struct rot_file *list_rotated(const struct caplog *l, size_t *n)
{
    *n = 0;
    DIR *d = opendir(l->dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    struct rot_file *v = malloc(cap * sizeof(*v));
    struct dirent *e;
    while (v && (e = readdir(d))) {
        unsigned long seq = rotated_seq(l, e->d_name);
        if (!seq)
            continue;
        if (*n == cap) {
            if (cap >= LOG_MAX_ROTATED)
                break;
            struct rot_file *nv = realloc(v, cap * 2 * sizeof(*v));
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        struct stat st;
        char full[PATH_MAX + NAME_MAX + 2];
        snprintf(full, sizeof full, "%s/%s", l->dir, e->d_name);
        if (stat(full, &st) < 0)
            continue;
        v[*n].seq = seq;
        v[*n].size = st.st_size;
        copy_n(v[*n].name, sizeof v[*n].name, e->d_name, strlen(e->d_name));
        (*n)++;
    }
    closedir(d);
    if (v)
        qsort(v, *n, sizeof(*v), cmp_rot);
    return v;
}

static void enforce_cap(struct caplog *l)
{
    size_t n;
    struct rot_file *v = list_rotated(l, &n);
    if (!v)
        return;
    unsigned long long total = 0;
    for (size_t i = 0; i < n; i++)
        total += (unsigned long long)v[i].size;
    unsigned long long budget = l->max_bytes - l->rotate_bytes;
    for (size_t i = 0; i < n && total > budget; i++) {
        char full[PATH_MAX + NAME_MAX + 2];
        snprintf(full, sizeof full, "%s/%s", l->dir, v[i].name);
        if (unlink(full) == 0)
            total -= (unsigned long long)v[i].size;
    }
    free(v);
}

/* Compresses src into src.zst and removes src; on failure src is removed
 * too (the cap matters more than the old lines). */
static void compress_file(const char *src)
{
    char dst[PATH_MAX + 48];
    snprintf(dst, sizeof dst, "%s.zst", src);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    char *data = NULL, *out = NULL;
    int fd = -1;
    if (in < 0)
        goto out;
    struct stat st;
    if (fstat(in, &st) < 0 || st.st_size < 0 || (unsigned long long)st.st_size > (1ull << 31))
        goto out;
    size_t n = (size_t)st.st_size;
    data = malloc(n ? n : 1);
    if (!data)
        goto out;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(in, data + got, n - got);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    size_t bound = ZSTD_compressBound(n);
    out = malloc(bound);
    if (!out)
        goto out;
    size_t z = ZSTD_compress(out, bound, data, n, 3);
    if (ZSTD_isError(z))
        goto out;
    fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        goto out;
    size_t off = 0;
    while (off < z) {
        ssize_t w = write(fd, out + off, z - off);
        if (w <= 0) {
            close(fd);
            fd = -1;
            unlink(dst);
            goto out;
        }
        off += (size_t)w;
    }
out:
    if (fd >= 0)
        close(fd);
    if (in >= 0)
        close(in);
    free(data);
    free(out);
    unlink(src);
}

static int open_live(struct caplog *l)
{
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return -1;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
    return 0;
}

static void rotate(struct caplog *l)
{
    char rot[PATH_MAX + 32];
    snprintf(rot, sizeof rot, "%s.%08lu", l->path, l->next_seq++);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (rename(l->path, rot) == 0)
        compress_file(rot);
    else
        unlink(l->path); /* cannot keep it: the cap wins */
    if (open_live(l) < 0 && !l->warned) {
        fprintf(stderr, "mamori: %s: cannot reopen after rotation: %s\n", l->path,
                strerror(errno));
        l->warned = true;
    }
    enforce_cap(l);
}

struct caplog *caplog_open(const char *path, size_t rotate_bytes, size_t max_bytes, char *err,
                           size_t errlen)
{
    if (rotate_bytes == 0 || max_bytes < rotate_bytes) {
        snprintf(err, errlen, "%s: the size cap must be at least the rotation size", path);
        return NULL;
    }
    struct caplog *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(path) >= sizeof l->path - 32) {
        snprintf(err, errlen, "%s: path too long", path);
        free(l);
        return NULL;
    }
    copy_n(l->path, sizeof l->path, path, strlen(path));
    split_path(l);
    l->rotate_bytes = rotate_bytes;
    l->max_bytes = max_bytes;
    pthread_mutex_init(&l->mu, NULL);
    if (open_live(l) < 0) {
        snprintf(err, errlen, "%s: cannot open for appending: %s", path, strerror(errno));
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    size_t n;
    struct rot_file *v = list_rotated(l, &n);
    l->next_seq = n ? v[n - 1].seq + 1 : 1;
    free(v);
    pthread_mutex_lock(&l->mu);
    if (l->size >= l->rotate_bytes)
        rotate(l);
    else
        enforce_cap(l);
    pthread_mutex_unlock(&l->mu);
    return l;
}

const char *caplog_path(const struct caplog *l) { return l->path; }

int caplog_fd(const struct caplog *l) { return l->fd; }

size_t caplog_rotate_bytes(const struct caplog *l) { return l->rotate_bytes; }

size_t caplog_max_bytes(const struct caplog *l) { return l->max_bytes; }

uint64_t caplog_bytes_written(const struct caplog *l) { return l->written; }

uint64_t caplog_write_errors(const struct caplog *l) { return l->errors; }

int caplog_write(struct caplog *l, const char *line, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (l->size + n > l->rotate_bytes && l->size > 0)
        rotate(l);
    if (l->fd < 0 && open_live(l) < 0) {
        l->errors++;
        rc = -1;
        goto out;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(l->fd, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!l->warned)
                fprintf(stderr, "mamori: %s: write failed: %s (log lines are being lost)\n",
                        l->path, strerror(errno));
            l->warned = true;
            l->errors++;
            l->size += off;
            rc = -1;
            goto out;
        }
        off += (size_t)w;
    }
    l->size += n;
    l->written += n;
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void caplog_close(struct caplog *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
