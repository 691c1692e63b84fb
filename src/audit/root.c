/* Root-safe file access for the audit.
 *
 * Every path is resolved inside the audit root: with openat2(2) and
 * RESOLVE_IN_ROOT where the kernel has it, otherwise component by component
 * with O_NOFOLLOW opens, re-rooting absolute symlink targets, clamping ".."
 * at the root and giving up after AUDIT_MAX_HOPS symlinks. Reads never block
 * (O_NONBLOCK, regular files only) and never pass the caller's bound. */
#include "audit/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AUDIT_MAX_HOPS 40
#define AUDIT_MAX_DIRENTS 200000
#define AUDIT_PATH_MAX 4096

static int openat2_state; /* 0 unknown, 1 works, -1 missing */

static int try_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)flags;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (r < 0)
        return -errno;
    return (int)r;
}

/* Opens each component of resolved[] from the root without following. */
static int walk_resolved(int rootfd, const char *resolved)
{
    int fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    const char *p = resolved;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(fd);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int nfd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        int err = errno;
        close(fd);
        if (nfd < 0)
            return -err;
        fd = nfd;
        p += n;
        if (*p == '/')
            p++;
    }
    return fd;
}

/* The portable resolver. `rem` holds the path still to walk; symlink targets
 * are spliced in front of what remains. */
static int resolve_portable(int rootfd, const char *path, int flags)
{
    char rem[AUDIT_PATH_MAX * 2], resolved[AUDIT_PATH_MAX] = "";
    size_t rlen = 0;
    int hops = 0, fd = -1, ret;
    size_t pl = strlen(path);
    if (pl >= sizeof rem)
        return -ENAMETOOLONG;
    memcpy(rem, path, pl + 1);
    int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -errno;
    char *p = rem;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) {
            /* Path named a directory (or the root) itself. */
            ret = openat(cur, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
            ret = ret < 0 ? -errno : ret;
            goto out;
        }
        char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX) {
            ret = -ENAMETOOLONG;
            goto out;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        char *next = p + n;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        if (!strcmp(comp, ".")) {
            p = next;
            if (last) {
                ret = openat(cur, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
                ret = ret < 0 ? -errno : ret;
                goto out;
            }
            continue;
        }
        if (!strcmp(comp, "..")) {
            char *slash = strrchr(resolved, '/');
            if (slash) {
                *slash = '\0';
            } else {
                resolved[0] = '\0';
            }
            rlen = strlen(resolved);
            close(cur);
            cur = walk_resolved(rootfd, resolved);
            if (cur < 0) {
                ret = cur;
                cur = -1;
                goto out;
            }
            p = next;
            if (last) {
                ret = openat(cur, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
                ret = ret < 0 ? -errno : ret;
                goto out;
            }
            continue;
        }
        fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            ret = -errno;
            goto out;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
            ret = -errno;
            goto out;
        }
        if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
            if (++hops > AUDIT_MAX_HOPS) {
                ret = -ELOOP;
                goto out;
            }
            char tgt[AUDIT_PATH_MAX];
            ssize_t tl = readlinkat(fd, "", tgt, sizeof tgt - 1);
            if (tl < 0) {
                ret = -errno;
                goto out;
            }
            tgt[tl] = '\0';
            close(fd);
            fd = -1;
            /* new rem = tgt + "/" + next */
            char tmp[AUDIT_PATH_MAX * 2];
            size_t nl = strlen(next);
            if ((size_t)tl + 1 + nl + 1 > sizeof tmp) {
                ret = -ENAMETOOLONG;
                goto out;
            }
            memcpy(tmp, tgt, (size_t)tl);
            tmp[tl] = '/';
            memcpy(tmp + tl + 1, next, nl + 1);
            memcpy(rem, tmp, (size_t)tl + 1 + nl + 1);
            p = rem;
            if (tgt[0] == '/') {
                resolved[0] = '\0';
                rlen = 0;
                close(cur);
                cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cur < 0) {
                    ret = -errno;
                    goto out;
                }
            }
            if (last && !*next) {
                /* Strip the trailing "/" we added so the target is "last". */
                size_t rl = strlen(rem);
                while (rl > 1 && rem[rl - 1] == '/')
                    rem[--rl] = '\0';
            }
            continue;
        }
        if (last) {
            if (flags & O_PATH) {
                ret = fd;
                fd = -1;
                goto out;
            }
            close(fd);
            fd = -1;
            ret = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
            ret = ret < 0 ? -errno : ret;
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            ret = -ENOTDIR;
            goto out;
        }
        if (rlen + 1 + n + 1 > sizeof resolved) {
            ret = -ENAMETOOLONG;
            goto out;
        }
        if (rlen)
            resolved[rlen++] = '/';
        memcpy(resolved + rlen, comp, n + 1);
        rlen += n;
        close(cur);
        cur = fd;
        fd = -1;
        p = next;
    }
out:
    if (fd >= 0)
        close(fd);
    if (cur >= 0)
        close(cur);
    return ret;
}

int audit_open(struct audit_ctx *c, const char *path, int flags)
{
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    /* openat2 is strict: O_PATH takes only O_DIRECTORY and O_NOFOLLOW. */
    flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
    if (!c->no_openat2 && openat2_state >= 0) {
        int fd = try_openat2(c->rootfd, path, flags);
        if (fd != -ENOSYS && fd != -EPERM) {
            openat2_state = 1;
            return fd;
        }
        if (openat2_state == 0)
            openat2_state = -1;
    }
    return resolve_portable(c->rootfd, path, flags);
}

char *audit_read(struct audit_ctx *c, const char *path, size_t max, size_t *len, bool *truncated)
{
    char *data = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    if (truncated)
        *truncated = false;
    int fd = audit_open(c, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        goto out;
    }
    cap = st.st_size > 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
    if (cap > max + 1)
        cap = max + 1;
    data = malloc(cap);
    if (!data) {
        err = ENOMEM;
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) {
                if (truncated)
                    *truncated = true;
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nd = realloc(data, ncap);
            if (!nd) {
                err = ENOMEM;
                goto out;
            }
            data = nd;
            cap = ncap;
        }
        ssize_t r = read(fd, data + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    data[n] = '\0';
out:
    close(fd);
    if (err) {
        free(data);
        errno = err;
        return NULL;
    }
    if (len)
        *len = n;
    return data;
}

int audit_stat(struct audit_ctx *c, const char *path, struct stat *st, bool follow)
{
    int fd = audit_open(c, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return fd;
    int r = fstatat(fd, "", st, AT_EMPTY_PATH) < 0 ? -errno : 0;
    close(fd);
    return r;
}

bool audit_exists(struct audit_ctx *c, const char *path)
{
    struct stat st;
    return audit_stat(c, path, &st, true) == 0;
}

int audit_readlink(struct audit_ctx *c, const char *path, char *out, size_t outsz)
{
    if (outsz == 0)
        return -EINVAL;
    int fd = audit_open(c, path, O_PATH | O_NOFOLLOW);
    if (fd < 0)
        return fd;
    ssize_t r = readlinkat(fd, "", out, outsz - 1);
    int ret = r < 0 ? -errno : (int)r;
    if (r >= 0)
        out[r] = '\0';
    close(fd);
    return ret;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int audit_list_dir(struct audit_ctx *c, const char *path, char ***names)
{
    *names = NULL;
    int fd = audit_open(c, path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int ret = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n >= AUDIT_MAX_DIRENTS)
            break;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                ret = -ENOMEM;
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        v[n] = strdup(de->d_name);
        if (!v[n]) {
            ret = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    ret = (int)n;
out:
    closedir(d);
    if (ret < 0)
        audit_free_list(v, (int)n);
    return ret;
}

void audit_free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int audit_path_join(char *out, size_t outsz, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    bool slash = !(dl > 0 && dir[dl - 1] == '/');
    if (name[0] == '/')
        slash = false;
    if (dl + (slash ? 1 : 0) + nl + 1 > outsz)
        return -1;
    memcpy(out, dir, dl);
    size_t o = dl;
    if (slash)
        out[o++] = '/';
    memcpy(out + o, name, nl + 1);
    return 0;
}

static bool has_glob(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[')
            return true;
    return false;
}

struct glob_state {
    int (*fn)(struct audit_ctx *, const char *, void *);
    void *arg;
    int depth;
    int count;
};

static int glob_rec(struct audit_ctx *c, const char *prefix, const char *rest, struct glob_state *g)
{
    while (*rest == '/')
        rest++;
    if (!*rest) {
        if (!audit_exists(c, prefix))
            return 0;
        if (++g->count > 10000)
            return -1;
        return g->fn(c, prefix, g->arg);
    }
    const char *e = strchr(rest, '/');
    size_t n = e ? (size_t)(e - rest) : strlen(rest);
    const char *after = rest + n;
    char path[AUDIT_PATH_MAX];
    if (!has_glob(rest, n)) {
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX)
            return 0;
        memcpy(comp, rest, n);
        comp[n] = '\0';
        if (audit_path_join(path, sizeof path, prefix, comp) < 0)
            return 0;
        return glob_rec(c, path, after, g);
    }
    if (++g->depth > 16)
        return 0;
    char pat[NAME_MAX + 1];
    if (n > NAME_MAX)
        return 0;
    memcpy(pat, rest, n);
    pat[n] = '\0';
    char **names;
    int k = audit_list_dir(c, prefix, &names);
    int ret = 0;
    for (int i = 0; i < k && ret == 0; i++) {
        if (fnmatch(pat, names[i], FNM_PERIOD) != 0)
            continue;
        if (audit_path_join(path, sizeof path, prefix, names[i]) < 0)
            continue;
        ret = glob_rec(c, path, after, g);
    }
    if (k > 0)
        audit_free_list(names, k);
    g->depth--;
    return ret;
}

int audit_glob(struct audit_ctx *c, const char *pattern,
               int (*fn)(struct audit_ctx *c, const char *path, void *arg), void *arg)
{
    struct glob_state g = {fn, arg, 0, 0};
    return glob_rec(c, "/", pattern, &g);
}

void audit_lines_init(struct audit_lines *l, const char *p, size_t n)
{
    l->p = p;
    l->end = p + n;
    l->lineno = 0;
}

bool audit_lines_next(struct audit_lines *l, const char **line, size_t *len)
{
    if (l->p >= l->end)
        return false;
    const char *s = l->p;
    const char *nl = memchr(s, '\n', (size_t)(l->end - s));
    const char *e = nl ? nl : l->end;
    l->p = nl ? nl + 1 : l->end;
    if (e > s && e[-1] == '\r')
        e--;
    *line = s;
    *len = (size_t)(e - s);
    l->lineno++;
    return true;
}

#define STREAM_LINE_MAX 8192
#define STREAM_GZ_MAX ((size_t)16 << 20)    /* compressed input bound */
#define STREAM_GZ_OUT_MAX ((size_t)256 << 20)

static int feed_lines(const char *p, size_t n, int (*fn)(void *, const char *, size_t), void *arg)
{
    struct audit_lines l;
    audit_lines_init(&l, p, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        if (len > STREAM_LINE_MAX)
            len = STREAM_LINE_MAX;
        if (fn(arg, line, len))
            return 1;
    }
    return 0;
}

int audit_stream_lines(struct audit_ctx *c, const char *path, size_t tail_max,
                       int (*fn)(void *arg, const char *line, size_t len), void *arg)
{
    size_t pl = strlen(path);
    if (pl > 3 && !strcmp(path + pl - 3, ".gz")) {
        size_t n;
        bool trunc;
        char *z = audit_read(c, path, STREAM_GZ_MAX, &n, &trunc);
        if (!z)
            return -errno;
        struct buf out;
        buf_init(&out, STREAM_GZ_OUT_MAX);
        int r = audit_gunzip((const unsigned char *)z, n, &out);
        free(z);
        if (r == 0 || out.len > 0)
            feed_lines(out.p ? out.p : "", out.len, fn, arg);
        buf_free(&out);
        return r;
    }
    int fd = audit_open(c, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    bool skip_first = false;
    if (tail_max && (uint64_t)st.st_size > tail_max) {
        if (lseek(fd, st.st_size - (off_t)tail_max, SEEK_SET) >= 0)
            skip_first = true;
    }
    char *bufp = malloc(1 << 16);
    if (!bufp) {
        close(fd);
        return -ENOMEM;
    }
    size_t have = 0, cap = 1 << 16;
    int ret = 0;
    for (;;) {
        ssize_t r = read(fd, bufp + have, cap - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (have && !skip_first)
                fn(arg, bufp, have > STREAM_LINE_MAX ? STREAM_LINE_MAX : have);
            ret = r < 0 ? -errno : 0;
            break;
        }
        have += (size_t)r;
        char *s = bufp, *end = bufp + have;
        char *nl;
        int stop = 0;
        while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
            size_t len = (size_t)(nl - s);
            if (skip_first) {
                skip_first = false;
            } else {
                if (len && s[len - 1] == '\r')
                    len--;
                if (fn(arg, s, len > STREAM_LINE_MAX ? STREAM_LINE_MAX : len)) {
                    stop = 1;
                    break;
                }
            }
            s = nl + 1;
        }
        if (stop)
            break;
        have = (size_t)(end - s);
        if (have == cap) {
            /* One huge line: hand over its head and drop the rest. */
            if (!skip_first)
                fn(arg, bufp, STREAM_LINE_MAX);
            skip_first = true;
            have = 0;
        } else if (have) {
            memmove(bufp, s, have);
        }
    }
    free(bufp);
    close(fd);
    return ret;
}
