/* Event store: events and filters, bans and their counts, retention. */
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "../t.h"

static int count_ev(void *ud, const struct store_event *e)
{
    (void)e;
    (*(long *)ud)++;
    return 0;
}

struct bl {
    long n;
    unsigned count;
    char ip[64];
};

static int on_ban(void *ud, const struct store_ban *b)
{
    struct bl *x = ud;
    x->n++;
    x->count = b->count;
    snprintf(x->ip, sizeof x->ip, "%s", b->ip);
    return 0;
}

TEST(store_events_bans_retention)
{
    char path[] = "/tmp/mamori-store-test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    char err[256];
    struct store_opts o = {.max_age_s = 86400, .max_bytes = 256 * 1024};
    struct store *s = store_open(path, &o, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t now = 1795640400;
    store_begin(s);
    char msg[200];
    for (int i = 0; i < 5000; i++) {
        snprintf(msg, sizeof msg, "event %d padding padding padding padding padding padding", i);
        struct store_event e = {.t = now - 2 * 86400 + i * 40, .kind = i % 2 ? "ban" : "alert",
                                .rule = "ssh:auth_fail", .ip = i % 10 ? "203.0.113.1" : "198.51.100.1",
                                .severity = "medium", .message = msg};
        CHECK_INT(store_event_add(s, &e), 0);
    }
    store_commit(s);
    long n = 0;
    struct store_filter f = {.ip = "198.51.100.1", .limit = 100000};
    CHECK_INT(store_events_query(s, &f, count_ev, &n), 500);
    n = 0;
    struct store_filter f2 = {.kind = "ban", .since = now - 86400, .limit = 100000};
    store_events_query(s, &f2, count_ev, &n);
    CHECK(n > 0 && n < 2500);
    /* bans: put, count kept at the max, del ends it */
    struct store_ban b = {.ip = "203.0.113.1", .reason = "ssh:auth_fail", .banned_at = now,
                          .until = now + 600, .count = 2};
    CHECK_INT(store_ban_put(s, &b), 0);
    b.count = 1;
    CHECK_INT(store_ban_put(s, &b), 0);
    struct bl x = {0};
    CHECK_INT(store_bans_list(s, true, now, on_ban, &x), 1);
    CHECK_INT(x.count, 2);
    CHECK_INT(store_ban_del(s, "203.0.113.1", now + 1), 1);
    x.n = 0;
    CHECK_INT(store_bans_list(s, true, now + 2, on_ban, &x), 0);
    CHECK_INT(store_bans_list(s, false, now + 2, on_ban, &x), 1);
    /* retention: by age, then by size */
    struct store_retention_stats rs;
    CHECK_INT(store_retention(s, now, &rs), 0);
    CHECK(rs.deleted_age > 0);
    CHECK(rs.bytes_after <= 256 * 1024);
    store_close(s);
    char wal[300];
    unlink(path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    CHECK(store_open("/nonexistent/dir/x.db", &o, err, sizeof err) == NULL);
}

static int count_known(void *ud, const char *ip)
{
    (void)ip;
    (*(long *)ud)++;
    return 0;
}

TEST(store_known_logins_and_audit_runs)
{
    char path[] = "/tmp/mamori-store-test2.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    char err[256];
    struct store *s = store_open(path, NULL, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(store_known_add(s, "192.0.2.1", 1), 0);
    CHECK_INT(store_known_add(s, "192.0.2.1", 2), 0); /* same address: one row */
    CHECK_INT(store_known_add(s, "2001:db8::/64", 3), 0);
    long n = 0;
    CHECK_INT(store_known_list(s, count_known, &n), 2);
    CHECK_INT(store_audit_run_add(s, 5, "high", 3, "{\"findings\":[]}"), 0);
    /* hostile text is data, not SQL */
    struct store_event e = {.t = 1, .kind = "alert", .rule = "x'); DROP TABLE events;--",
                            .ip = "192.0.2.1", .message = "\xff\xfe"};
    CHECK_INT(store_event_add(s, &e), 0);
    long m = 0;
    struct store_filter f = {.rule = "x'); DROP TABLE events;--"};
    CHECK_INT(store_events_query(s, &f, count_ev, &m), 1);
    store_close(s);
    /* a second process's view: reopen and read */
    s = store_open(path, NULL, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        m = 0;
        struct store_filter all = {0};
        CHECK_INT(store_events_query(s, &all, count_ev, &m), 1);
        store_close(s);
    }
    char side[300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}
