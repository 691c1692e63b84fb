/* Following files across rotation and truncation; long lines; compressed
 * replays; the capped log with merged repeats. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "../t.h"
#include "watch/watch.h"

struct lines {
    int n;
    size_t maxlen;
    char last[128];
};

static void on_line(void *ud, const char *l, size_t n)
{
    struct lines *c = ud;
    c->n++;
    if (n > c->maxlen)
        c->maxlen = n;
    size_t k = n < sizeof c->last - 1 ? n : sizeof c->last - 1;
    memcpy(c->last, l, k);
    c->last[k] = '\0';
}

static void append(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, s, strlen(s));
        (void)w;
        close(fd);
    }
}

static char *tmpdir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/mamori-watch-io.XXXXXX");
    return mkdtemp(buf);
}

TEST(watch_follow_rotation_truncation_recreation)
{
    char dir[64], path[128], rot[140];
    if (!tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/auth.log", dir);
    snprintf(rot, sizeof rot, "%s/auth.log.1", dir);
    append(path, "old line before start\n");
    struct watch_follow *f = watch_follow_open(path, false);
    CHECK(f != NULL);
    struct lines c = {0};
    CHECK_INT(watch_follow_poll(f, on_line, &c), 0); /* starts at the end */
    append(path, "one\ntwo\npart");
    CHECK_INT(watch_follow_poll(f, on_line, &c), 2);
    append(path, "ial\n");
    CHECK_INT(watch_follow_poll(f, on_line, &c), 1);
    CHECK_STR(c.last, "partial");
    /* rotation: rename, late writes to the old file, then a new file */
    CHECK_INT(rename(path, rot), 0);
    append(rot, "late in old\n");
    append(path, "first in new\n");
    CHECK_INT(watch_follow_poll(f, on_line, &c), 2);
    CHECK_STR(c.last, "first in new");
    /* truncation in place */
    CHECK_INT(truncate(path, 0), 0);
    append(path, "after truncate\n");
    CHECK_INT(watch_follow_poll(f, on_line, &c), 1);
    CHECK_STR(c.last, "after truncate");
    /* deleted and re-created */
    unlink(path);
    CHECK_INT(watch_follow_poll(f, on_line, &c), 0);
    append(path, "recreated\n");
    CHECK_INT(watch_follow_poll(f, on_line, &c), 1);
    CHECK_STR(c.last, "recreated");
    /* a 1 MB line is cut at WATCH_LINE_MAX, the next line is intact */
    char *big = malloc((1 << 20) + 2);
    if (big) {
        memset(big, 'A', 1 << 20);
        big[1 << 20] = '\n';
        big[(1 << 20) + 1] = '\0';
        append(path, big);
        append(path, "after big\n");
        c.maxlen = 0;
        CHECK_INT(watch_follow_poll(f, on_line, &c), 2);
        CHECK_INT(c.maxlen, WATCH_LINE_MAX);
        CHECK_STR(c.last, "after big");
        free(big);
    }
    watch_follow_close(f);
    unlink(path);
    unlink(rot);
    rmdir(dir);
}

TEST(watch_read_file_zst_and_gz)
{
    char dir[64], p1[128], p2[128], p3[128];
    if (!tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    const char *text = "a\nb\nc\nlast";
    snprintf(p1, sizeof p1, "%s/x.log", dir);
    snprintf(p2, sizeof p2, "%s/x.log.zst", dir);
    snprintf(p3, sizeof p3, "%s/x.log.gz", dir);
    append(p1, text);
    char z[256];
    size_t zn = ZSTD_compress(z, sizeof z, text, strlen(text), 3);
    CHECK(!ZSTD_isError(zn));
    int fd = open(p2, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, z, zn) == (ssize_t)zn);
    close(fd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "gzip -n -c %s > %s", p1, p3);
    CHECK_INT(system(cmd), 0);
    const char *ps[] = {p1, p2, p3};
    for (int i = 0; i < 3; i++) {
        struct lines c = {0};
        CHECK_INT(watch_read_file(ps[i], on_line, &c), 0);
        CHECK_INT(c.n, 4);
        CHECK_STR(c.last, "last");
        unlink(ps[i]);
    }
    struct lines c = {0};
    CHECK_INT(watch_read_file("/nonexistent/mamori.log", on_line, &c), -1);
    rmdir(dir);
}

TEST(watch_log_cap_and_repeats)
{
    char dir[64], path[128];
    if (!tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/mamori.log", dir);
    struct watch_log *l = watch_log_open(path, 4096, 16384);
    CHECK(l != NULL);
    if (!l)
        return;
    for (int i = 0; i < 1000000; i++)
        watch_log_line(l, 1795640400 + i / 1000, "banned 203.0.113.1", 18);
    watch_log_flush(l);
    /* one line plus one "repeated" line, however many came */
    CHECK(watch_log_bytes_written(l) < 200);
    /* distinct lines: rotation keeps the total under the cap */
    char msg[64];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(msg, sizeof msg, "event %d with some text to fill", i);
        watch_log_line(l, 1795640400, msg, (size_t)n);
    }
    watch_log_close(l);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(cat %s/* | wc -c) -le 16384 && ls %s | grep -q zst", dir, dir);
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

TEST(watch_disk_growth_and_top_growers)
{
    char dir[64], p1[128], p2[128];
    if (!tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(p1, sizeof p1, "%s/slow.log", dir);
    snprintf(p2, sizeof p2, "%s/fast.log", dir);
    struct watch_conf c;
    char err[128];
    watch_conf_defaults(&c);
    CHECK_INT(watch_conf_set(&c, "disk", dir, err, sizeof err), 0);
    CHECK_INT(watch_conf_set(&c, "grow_dir", dir, err, sizeof err), 0);
    CHECK_INT(watch_conf_set(&c, "disk_warn", "1", err, sizeof err), 0);
    struct watch_disk *d = watch_disk_new(&c);
    CHECK(d != NULL);
    if (!d)
        return;
    struct watch_disk_report r[4];
    CHECK_INT(watch_disk_sample(d, 1000, r, 4), 1);
    CHECK(r[0].used_pct > 0 && r[0].used_pct <= 100);
    CHECK_INT(r[0].level >= 1, 1); /* warn at 1% */
    char names[3][256];
    uint64_t grown[3];
    append(p1, "x");
    CHECK_INT(watch_disk_top_growers(d, names, grown, 3), 0); /* baseline */
    append(p1, "yy");
    char *blob = calloc(1, 100001);
    if (blob) {
        memset(blob, 'z', 100000);
        append(p2, blob);
        free(blob);
    }
    CHECK_INT(watch_disk_top_growers(d, names, grown, 3), 2);
    CHECK(strstr(names[0], "fast.log") != NULL);
    CHECK_INT(grown[0], 100000);
    CHECK_INT(grown[1], 2);
    watch_disk_free(d);
    watch_conf_free(&c);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}
