/* SQLite event store (see store.h). WAL mode so readers (mamori events,
 * mamori bans list) never block the watcher; incremental auto-vacuum so the
 * size cap can give pages back to the filesystem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"

struct store {
    sqlite3 *db;
    struct store_opts o;
    sqlite3_stmt *ins_event, *put_ban, *add_known;
    int in_tx;
};

static const char schema[] =
    "PRAGMA auto_vacuum=INCREMENTAL;"
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS events("
    " id INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, rule TEXT,"
    " ip TEXT, severity TEXT, message TEXT);"
    "CREATE INDEX IF NOT EXISTS events_t ON events(t);"
    "CREATE INDEX IF NOT EXISTS events_ip ON events(ip);"
    "CREATE TABLE IF NOT EXISTS bans("
    " ip TEXT PRIMARY KEY, reason TEXT, score REAL, first_seen INTEGER, last_seen INTEGER,"
    " banned_at INTEGER, until INTEGER, count INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS bans_until ON bans(until);"
    "CREATE TABLE IF NOT EXISTS known_logins(ip TEXT PRIMARY KEY, t INTEGER);"
    "CREATE TABLE IF NOT EXISTS audit_runs("
    " id INTEGER PRIMARY KEY, t INTEGER NOT NULL, worst TEXT, findings INTEGER, report TEXT);";

static void set_err(char *err, size_t errlen, const char *path, sqlite3 *db, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
}

struct store *store_open(const char *path, const struct store_opts *o, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        s->o = *o;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        set_err(err, errlen, path, s->db, "cannot open the event store");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, errlen, path, s->db, "cannot create the schema");
        goto fail;
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO events(t,kind,rule,ip,severity,message) VALUES(?,?,?,?,?,?)",
                           -1, &s->ins_event, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO bans(ip,reason,score,first_seen,last_seen,banned_at,until,count)"
                           " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(ip) DO UPDATE SET"
                           " reason=excluded.reason, score=excluded.score,"
                           " first_seen=excluded.first_seen, last_seen=excluded.last_seen,"
                           " banned_at=excluded.banned_at, until=excluded.until,"
                           " count=max(bans.count, excluded.count)",
                           -1, &s->put_ban, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO known_logins(ip,t) VALUES(?,?)", -1,
                           &s->add_known, NULL) != SQLITE_OK) {
        set_err(err, errlen, path, s->db, "cannot prepare statements");
        goto fail;
    }
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        store_commit(s);
    sqlite3_finalize(s->ins_event);
    sqlite3_finalize(s->put_ban);
    sqlite3_finalize(s->add_known);
    sqlite3_close(s->db);
    free(s);
}

int store_begin(struct store *s)
{
    if (s->in_tx)
        return 0;
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    s->in_tx = 1;
    return 0;
}

int store_commit(struct store *s)
{
    if (!s->in_tx)
        return 0;
    s->in_tx = 0;
    return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int step_done(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r == SQLITE_DONE ? 0 : -1;
}

int store_event_add(struct store *s, const struct store_event *e)
{
    sqlite3_stmt *st = s->ins_event;
    sqlite3_bind_int64(st, 1, e->t);
    bind_text(st, 2, e->kind ? e->kind : "event");
    bind_text(st, 3, e->rule);
    bind_text(st, 4, e->ip);
    bind_text(st, 5, e->severity);
    bind_text(st, 6, e->message);
    return step_done(st);
}

long store_events_query(struct store *s, const struct store_filter *f,
                        int (*fn)(void *ud, const struct store_event *e), void *ud)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT id,t,kind,rule,ip,severity,message FROM events WHERE"
                      " (?1 IS NULL OR ip=?1) AND (?2 IS NULL OR rule=?2) AND"
                      " (?3 IS NULL OR kind=?3) AND (?4=0 OR t>=?4) AND (?5=0 OR t<=?5)"
                      " ORDER BY t DESC, id DESC LIMIT ?6";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    bind_text(st, 1, f->ip);
    bind_text(st, 2, f->rule);
    bind_text(st, 3, f->kind);
    sqlite3_bind_int64(st, 4, f->since);
    sqlite3_bind_int64(st, 5, f->until);
    sqlite3_bind_int64(st, 6, f->limit > 0 ? f->limit : 1000);
    long n = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e = {
            .id = sqlite3_column_int64(st, 0),
            .t = sqlite3_column_int64(st, 1),
            .kind = (const char *)sqlite3_column_text(st, 2),
            .rule = (const char *)sqlite3_column_text(st, 3),
            .ip = (const char *)sqlite3_column_text(st, 4),
            .severity = (const char *)sqlite3_column_text(st, 5),
            .message = (const char *)sqlite3_column_text(st, 6),
        };
        n++;
        if (fn(ud, &e))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        n = -1;
    sqlite3_finalize(st);
    return n;
}

int store_ban_put(struct store *s, const struct store_ban *b)
{
    sqlite3_stmt *st = s->put_ban;
    bind_text(st, 1, b->ip);
    bind_text(st, 2, b->reason);
    sqlite3_bind_double(st, 3, b->score);
    sqlite3_bind_int64(st, 4, b->first_seen);
    sqlite3_bind_int64(st, 5, b->last_seen);
    sqlite3_bind_int64(st, 6, b->banned_at);
    sqlite3_bind_int64(st, 7, b->until);
    sqlite3_bind_int64(st, 8, b->count ? b->count : 1);
    return step_done(st);
}

int store_ban_del(struct store *s, const char *ip, int64_t now)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "UPDATE bans SET until=?2 WHERE ip=?1 AND until>?2", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, now);
    int r = sqlite3_step(st);
    int ch = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? (ch > 0) : -1;
}

long store_bans_list(struct store *s, bool active_only, int64_t now,
                     int (*fn)(void *ud, const struct store_ban *b), void *ud)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT ip,reason,score,first_seen,last_seen,banned_at,until,count"
                           " FROM bans WHERE (?1=0 OR until>?2) ORDER BY banned_at, ip",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, active_only);
    sqlite3_bind_int64(st, 2, now);
    long n = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_ban b = {
            .ip = (const char *)sqlite3_column_text(st, 0),
            .reason = (const char *)sqlite3_column_text(st, 1),
            .score = sqlite3_column_double(st, 2),
            .first_seen = sqlite3_column_int64(st, 3),
            .last_seen = sqlite3_column_int64(st, 4),
            .banned_at = sqlite3_column_int64(st, 5),
            .until = sqlite3_column_int64(st, 6),
            .count = (uint32_t)sqlite3_column_int64(st, 7),
        };
        if (!b.ip)
            continue;
        n++;
        if (fn(ud, &b))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        n = -1;
    sqlite3_finalize(st);
    return n;
}

int store_known_add(struct store *s, const char *ip, int64_t t)
{
    bind_text(s->add_known, 1, ip);
    sqlite3_bind_int64(s->add_known, 2, t);
    return step_done(s->add_known);
}

long store_known_list(struct store *s, int (*fn)(void *ud, const char *ip), void *ud)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT ip FROM known_logins ORDER BY t DESC LIMIT 1000000", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        if (!ip)
            continue;
        n++;
        if (fn(ud, ip))
            break;
    }
    sqlite3_finalize(st);
    return n;
}

int store_audit_run_add(struct store *s, int64_t t, const char *worst, long nfindings,
                        const char *json)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO audit_runs(t,worst,findings,report) VALUES(?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, t);
    bind_text(st, 2, worst);
    sqlite3_bind_int64(st, 3, nfindings);
    bind_text(st, 4, json);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : -1;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Bytes the database holds in use (pages minus free pages). */
int64_t store_bytes(struct store *s)
{
    int64_t pc = pragma_int(s->db, "PRAGMA page_count");
    int64_t ps = pragma_int(s->db, "PRAGMA page_size");
    return pc > 0 && ps > 0 ? pc * ps : 0;
}

static long exec_changes(sqlite3 *db, const char *sql, int64_t arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, arg);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

int store_retention(struct store *s, int64_t now, struct store_retention_stats *out)
{
    struct store_retention_stats st = {0};
    bool was_tx = s->in_tx;
    if (was_tx)
        store_commit(s);
    st.bytes_before = store_bytes(s);
    if (s->o.max_age_s > 0) {
        long n = exec_changes(s->db, "DELETE FROM events WHERE t < ?1", now - s->o.max_age_s);
        st.deleted_age = n > 0 ? n : 0;
        exec_changes(s->db, "DELETE FROM bans WHERE until < ?1", now - s->o.max_age_s);
    }
    sqlite3_exec(s->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
    /* over the cap: drop the oldest tenth of the events until under it */
    for (int round = 0; s->o.max_bytes > 0 && round < 64; round++) {
        if (store_bytes(s) <= s->o.max_bytes)
            break;
        int64_t total = pragma_int(s->db, "SELECT count(*) FROM events");
        if (total <= 0)
            break;
        int64_t chunk = total / 10 > 100 ? total / 10 : (total < 100 ? total : 100);
        long n = exec_changes(s->db,
                              "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY t, id"
                              " LIMIT ?1)",
                              chunk);
        if (n <= 0)
            break;
        st.deleted_size += n;
        sqlite3_exec(s->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
    }
    sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    st.bytes_after = store_bytes(s);
    if (out)
        *out = st;
    if (was_tx)
        store_begin(s);
    return 0;
}
