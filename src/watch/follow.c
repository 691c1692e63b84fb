/* Reading log files: whole files once (plain, .gz, .zst) and following
 * live files across rotation, truncation and re-creation.
 *
 * Following polls: each call reads what is new on the open descriptor, then
 * compares the path's inode with the open one (rotated: finish the old file,
 * then open the new one from its start) and the size with the offset
 * (truncated: start again at 0). A size check alone misses a truncation
 * followed by more writes than were read before, so the first bytes of the
 * file (up to HEAD_MAX) are remembered and compared too (one pread). Polling
 * costs an fstat, a stat and a pread per file per tick and works on every
 * filesystem; inotify would only save the tick.
 *
 * Lines: at most WATCH_LINE_MAX bytes are delivered; the rest of a longer
 * line is skipped up to its newline, so a 1 GB line costs no memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "watch/watch.h"

#define CHUNK (1u << 20)
#define HEAD_MAX 64

typedef void (*line_fn)(void *ud, const char *l, size_t n);

/* Line splitter over a stream of chunks, bounded to WATCH_LINE_MAX. */
struct splitter {
    char *buf; /* WATCH_LINE_MAX bytes */
    size_t len;
    bool skipping; /* inside an over-long line */
};

static void split_feed(struct splitter *s, const char *p, size_t n, line_fn fn, void *ud, long *cnt)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (s->skipping) {
            if (nl)
                s->skipping = false;
        } else if (s->len == 0 && nl) {
            fn(ud, p, take); /* whole line inside the chunk: no copy */
            (*cnt)++;
        } else {
            size_t room = WATCH_LINE_MAX - s->len;
            size_t c = take < room ? take : room;
            memcpy(s->buf + s->len, p, c);
            s->len += c;
            if (s->len == WATCH_LINE_MAX) {
                fn(ud, s->buf, s->len);
                (*cnt)++;
                s->len = 0;
                s->skipping = !nl;
            } else if (nl) {
                fn(ud, s->buf, s->len);
                (*cnt)++;
                s->len = 0;
            }
        }
        if (!nl)
            return;
        n -= take + 1;
        p = nl + 1;
    }
}

/* over-long line without newline cut at the max is delivered; a partial
 * last line at EOF is delivered by split_end */
static void split_end(struct splitter *s, line_fn fn, void *ud, long *cnt)
{
    if (s->len && !s->skipping) {
        fn(ud, s->buf, s->len);
        (*cnt)++;
    }
    s->len = 0;
    s->skipping = false;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Reads fd to EOF through the splitter; zstd-decoded when zst. */
static int read_fd(int fd, bool zst, line_fn fn, void *ud)
{
    struct splitter sp = {0};
    char *in = malloc(CHUNK), *out = NULL;
    ZSTD_DCtx *z = NULL;
    int rc = -1;
    long cnt = 0;
    sp.buf = malloc(WATCH_LINE_MAX);
    if (!in || !sp.buf)
        goto out;
    if (zst) {
        z = ZSTD_createDCtx();
        out = malloc(ZSTD_DStreamOutSize());
        if (!z || !out)
            goto out;
    }
    for (;;) {
        ssize_t r = read(fd, in, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        if (!zst) {
            split_feed(&sp, in, (size_t)r, fn, ud, &cnt);
            continue;
        }
        ZSTD_inBuffer ib = {in, (size_t)r, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = {out, ZSTD_DStreamOutSize(), 0};
            size_t zr = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(zr))
                goto out;
            split_feed(&sp, out, ob.pos, fn, ud, &cnt);
        }
    }
    split_end(&sp, fn, ud, &cnt);
    rc = 0;
out:
    free(in);
    free(out);
    free(sp.buf);
    ZSTD_freeDCtx(z);
    return rc;
}

/* .gz: zlib is not linked, so a `gzip -dc` child decodes into a pipe
 * (execve with a fixed argv, the file as its stdin: no shell, no path in
 * argv). */
static int read_gz(int fd, line_fn fn, void *ud)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd, 0);
        dup2(p[1], 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0)
            dup2(dn, 2);
        char *argv[] = {"gzip", "-dc", NULL};
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        execve("/usr/bin/gzip", argv, envp);
        execve("/bin/gzip", argv, envp);
        _exit(127);
    }
    close(p[1]);
    int rc = read_fd(p[0], false, fn, ud);
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = -1;
    return rc;
}

int watch_read_file(const char *path, line_fn fn, void *ud)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
    if (fd < 0)
        return -1;
    int rc;
    if (has_suffix(path, ".gz"))
        rc = read_gz(fd, fn, ud);
    else
        rc = read_fd(fd, has_suffix(path, ".zst"), fn, ud);
    close(fd);
    return rc;
}

/* ---- following ---------------------------------------------------------- */

struct watch_follow {
    char path[PATH_MAX];
    int fd;
    /* a command source (the systemd journal through journalctl): its
     * stdout is read like a file that only grows; respawned when it dies */
    bool cmd;
    char *argv[8];
    pid_t child;
    time_t next_spawn;
    dev_t dev;
    ino_t ino;
    off_t off;
    struct splitter sp;
    char *chunk;
    char head[HEAD_MAX];
    size_t headn;
};

static int reopen(struct watch_follow *f, bool at_end)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->off = at_end ? st.st_size : 0;
    if (lseek(fd, f->off, SEEK_SET) < 0)
        f->off = 0;
    f->sp.len = 0;
    f->sp.skipping = false;
    f->headn = 0;
    return 0;
}

/* Remembers the file's first bytes once they have been read. */
static void note_head(struct watch_follow *f)
{
    if (f->headn >= HEAD_MAX || f->off <= (off_t)f->headn)
        return;
    size_t want = f->off < HEAD_MAX ? (size_t)f->off : HEAD_MAX;
    ssize_t r = pread(f->fd, f->head, want, 0);
    f->headn = r > 0 ? (size_t)r : 0;
}

/* Truncated (and maybe rewritten past our offset) since the last poll? */
static bool was_truncated(struct watch_follow *f, const struct stat *st)
{
    if (st->st_size < f->off)
        return true;
    if (!f->headn)
        return false;
    char now[HEAD_MAX];
    ssize_t r = pread(f->fd, now, f->headn, 0);
    return r != (ssize_t)f->headn || memcmp(now, f->head, f->headn) != 0;
}

struct watch_follow *watch_follow_open(const char *path, bool from_start)
{
    struct watch_follow *f = calloc(1, sizeof *f);
    if (!f || strlen(path) >= sizeof f->path)
        goto fail;
    memcpy(f->path, path, strlen(path) + 1);
    f->fd = -1;
    f->sp.buf = malloc(WATCH_LINE_MAX);
    f->chunk = malloc(CHUNK);
    if (!f->sp.buf || !f->chunk)
        goto fail;
    reopen(f, !from_start); /* a missing file is fine: it may appear later */
    return f;
fail:
    watch_follow_close(f);
    return NULL;
}

void watch_follow_close(struct watch_follow *f)
{
    if (!f)
        return;
    if (f->child > 0) {
        kill(f->child, SIGTERM);
        waitpid(f->child, NULL, 0);
    }
    for (size_t i = 0; i < sizeof f->argv / sizeof f->argv[0]; i++)
        free(f->argv[i]);
    if (f->fd >= 0)
        close(f->fd);
    free(f->sp.buf);
    free(f->chunk);
    free(f);
}

const char *watch_follow_path(const struct watch_follow *f)
{
    return f->path;
}

/* Reads the open descriptor up to its current end (bounded per poll). */
static void drain_fd(struct watch_follow *f, line_fn fn, void *ud, long *cnt)
{
    for (int i = 0; i < 64; i++) {
        ssize_t r = read(f->fd, f->chunk, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        f->off += r;
        split_feed(&f->sp, f->chunk, (size_t)r, fn, ud, cnt);
    }
}

/* Starts the command with its stdout on a non-blocking pipe (no shell). */
static void spawn_cmd(struct watch_follow *f)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    extern char **environ;
    pid_t pid;
    int rc = posix_spawn(&pid, f->argv[0], &fa, NULL, f->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        f->next_spawn = time(NULL) + 10;
        return;
    }
    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
    f->fd = pfd[0];
    f->child = pid;
    f->sp.len = 0;
    f->sp.skipping = false;
}

struct watch_follow *watch_follow_open_cmd(const char *name, const char *const *argv)
{
    struct watch_follow *f = calloc(1, sizeof *f);
    if (!f || strlen(name) >= sizeof f->path)
        goto fail;
    memcpy(f->path, name, strlen(name) + 1);
    f->fd = -1;
    f->cmd = true;
    for (size_t i = 0; argv[i] && i + 1 < sizeof f->argv / sizeof f->argv[0]; i++)
        if (!(f->argv[i] = strdup(argv[i])))
            goto fail;
    f->sp.buf = malloc(WATCH_LINE_MAX);
    f->chunk = malloc(CHUNK);
    if (!f->sp.buf || !f->chunk || !f->argv[0])
        goto fail;
    spawn_cmd(f);
    return f;
fail:
    watch_follow_close(f);
    return NULL;
}

static long poll_cmd(struct watch_follow *f, line_fn fn, void *ud)
{
    long cnt = 0;
    if (f->fd < 0) {
        if (time(NULL) >= f->next_spawn)
            spawn_cmd(f);
        return 0;
    }
    for (int i = 0; i < 64; i++) {
        ssize_t r = read(f->fd, f->chunk, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cnt; /* nothing more now */
        if (r == 0) {
            /* the command ended: finish its last line, respawn later */
            split_end(&f->sp, fn, ud, &cnt);
            close(f->fd);
            f->fd = -1;
            if (f->child > 0)
                waitpid(f->child, NULL, 0);
            f->child = 0;
            f->next_spawn = time(NULL) + 10;
            return cnt;
        }
        split_feed(&f->sp, f->chunk, (size_t)r, fn, ud, &cnt);
    }
    return cnt;
}

long watch_follow_poll(struct watch_follow *f, line_fn fn, void *ud)
{
    if (f->cmd)
        return poll_cmd(f, fn, ud);
    long cnt = 0;
    if (f->fd < 0) {
        if (reopen(f, false) < 0)
            return 0; /* not there yet */
    }
    struct stat fst, pst;
    if (fstat(f->fd, &fst) == 0 && was_truncated(f, &fst)) {
        /* truncated in place: whatever was half-read is gone */
        lseek(f->fd, 0, SEEK_SET);
        f->off = 0;
        f->sp.len = 0;
        f->sp.skipping = false;
        f->headn = 0;
    }
    drain_fd(f, fn, ud, &cnt);
    note_head(f);
    if (stat(f->path, &pst) < 0)
        return cnt; /* renamed away, new file not created yet: keep the old one */
    if (pst.st_ino != f->ino || pst.st_dev != f->dev) {
        /* rotated or re-created: finish the old file, then the new one from its start */
        drain_fd(f, fn, ud, &cnt);
        split_end(&f->sp, fn, ud, &cnt);
        if (reopen(f, false) == 0) {
            drain_fd(f, fn, ud, &cnt);
            note_head(f);
        }
    }
    return cnt;
}
