/* Disk guard: how full each configured filesystem is, how fast it fills,
 * when it will be full, and which files grow fastest.
 *
 * Invariants: each filesystem keeps the last NSAMP samples (a ring); the
 * growth rate is the slope between the oldest and newest of them. The file
 * scan visits at most MAX_FILES files at most MAX_DEPTH directories deep,
 * and remembers their sizes in a table of the same bound. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "watch/watch.h"

#define NSAMP 64
#define MAX_FILES 8192
#define MAX_DEPTH 4

struct fs {
    char path[256];
    int64_t t[NSAMP];
    uint64_t used[NSAMP];
    size_t n, head;
};

struct fsize {
    uint64_t h;
    uint64_t size;
    char name[256];
};

struct watch_disk {
    struct fs fs[WATCH_MAX_DISKS];
    size_t nfs;
    char dirs[WATCH_MAX_DISKS][256];
    size_t ndirs;
    int warn, crit;
    struct fsize *prev, *cur;
    size_t nprev, ncur;
    bool have_prev;
};

static void cpy(char *d, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(d, s, n);
    d[n] = '\0';
}

struct watch_disk *watch_disk_new(const struct watch_conf *c)
{
    struct watch_disk *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < c->ndisks && i < WATCH_MAX_DISKS; i++)
        cpy(d->fs[d->nfs++].path, sizeof d->fs[0].path, c->disks[i]);
    if (!d->nfs)
        cpy(d->fs[d->nfs++].path, sizeof d->fs[0].path, "/");
    for (size_t i = 0; i < c->ngrow_dirs && i < WATCH_MAX_DISKS; i++)
        cpy(d->dirs[d->ndirs++], sizeof d->dirs[0], c->grow_dirs[i]);
    if (!d->ndirs)
        cpy(d->dirs[d->ndirs++], sizeof d->dirs[0], "/var/log");
    d->warn = c->disk_warn_pct;
    d->crit = c->disk_crit_pct;
    d->prev = calloc(MAX_FILES, sizeof *d->prev);
    d->cur = calloc(MAX_FILES, sizeof *d->cur);
    if (!d->prev || !d->cur) {
        watch_disk_free(d);
        return NULL;
    }
    return d;
}

void watch_disk_free(struct watch_disk *d)
{
    if (!d)
        return;
    free(d->prev);
    free(d->cur);
    free(d);
}

size_t watch_disk_sample(struct watch_disk *d, int64_t now, struct watch_disk_report *out,
                         size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nfs && k < max; i++) {
        struct fs *f = &d->fs[i];
        struct statvfs sv;
        if (statvfs(f->path, &sv) < 0)
            continue;
        uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
        uint64_t used = (uint64_t)(sv.f_blocks - sv.f_bfree) * bs;
        uint64_t avail = (uint64_t)sv.f_bavail * bs;
        size_t slot = (f->head + f->n) % NSAMP;
        if (f->n == NSAMP) {
            f->head = (f->head + 1) % NSAMP;
            slot = (f->head + NSAMP - 1) % NSAMP;
        } else {
            f->n++;
        }
        f->t[slot] = now;
        f->used[slot] = used;
        struct watch_disk_report *r = &out[k++];
        memset(r, 0, sizeof *r);
        cpy(r->path, sizeof r->path, f->path);
        r->used_pct = used + avail ? 100.0 * (double)used / (double)(used + avail) : 0;
        r->avail_bytes = avail;
        size_t o = f->head;
        int64_t dt = now - f->t[o];
        r->grow_bps = dt > 0 ? ((double)used - (double)f->used[o]) / (double)dt : 0;
        r->eta_full_s = r->grow_bps > 0 ? (double)avail / r->grow_bps : -1;
        r->level = r->used_pct >= d->crit ? 2 : r->used_pct >= d->warn ? 1 : 0;
        /* full within six hours at this pace: say so before it happens */
        if (!r->level && r->eta_full_s >= 0 && r->eta_full_s < 6 * 3600)
            r->level = 1;
    }
    return k;
}

static uint64_t hstr(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void scan(struct watch_disk *d, const char *dir, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp)) && d->ncur < MAX_FILES) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char p[PATH_MAX];
        int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < MAX_DEPTH)
                scan(d, p, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            struct fsize *f = &d->cur[d->ncur++];
            f->h = hstr(p);
            f->size = (uint64_t)st.st_size;
            cpy(f->name, sizeof f->name, p);
        }
    }
    closedir(dp);
}

static int cmp_h(const void *a, const void *b)
{
    const struct fsize *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h;
}

size_t watch_disk_top_growers(struct watch_disk *d, char (*names)[256], uint64_t *grown, size_t max)
{
    d->ncur = 0;
    for (size_t i = 0; i < d->ndirs; i++)
        scan(d, d->dirs[i], 0);
    qsort(d->cur, d->ncur, sizeof *d->cur, cmp_h);
    size_t k = 0;
    /* the first scan is the baseline: growth needs two */
    for (size_t i = 0; d->have_prev && i < d->ncur; i++) {
        const struct fsize *c = &d->cur[i];
        struct fsize *p = bsearch(c, d->prev, d->nprev, sizeof *c, cmp_h);
        uint64_t before = p ? p->size : 0;
        if (c->size <= before)
            continue;
        uint64_t g = c->size - before;
        /* insertion into the top-max list */
        size_t j = k < max ? k++ : max;
        while (j > 0 && grown[j - 1] < g) {
            if (j < max) {
                grown[j] = grown[j - 1];
                memcpy(names[j], names[j - 1], 256);
            }
            j--;
        }
        if (j < max) {
            grown[j] = g;
            cpy(names[j], 256, c->name);
        }
    }
    struct fsize *t = d->prev;
    d->prev = d->cur;
    d->cur = t;
    d->nprev = d->ncur;
    d->have_prev = true;
    return k;
}
