/* The audit's memory: every run's findings in an SQLite file, keyed by the
 * audited root, so `mamori audit --diff` can list what is new and what was
 * resolved since the previous run of the same root. The newest 50 runs per
 * root are kept. A finding's identity across runs is id + evidence. */
#include "audit/audit.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STATE_KEEP_RUNS 50

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, root TEXT NOT NULL, at INTEGER NOT NULL,"
    " worst TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS findings(run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " id TEXT NOT NULL, severity TEXT NOT NULL, title TEXT NOT NULL, evidence TEXT NOT NULL,"
    " fix TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS findings_run ON findings(run);"
    "CREATE INDEX IF NOT EXISTS runs_root ON runs(root, id);";

static int open_db(const char *path, sqlite3 **db)
{
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "mamori audit: %s: %s\n", path, *db ? sqlite3_errmsg(*db) : "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    sqlite3_busy_timeout(*db, 2000);
    char *err = NULL;
    if (sqlite3_exec(*db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(*db, schema, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "mamori audit: %s: %s\n", path, err ? err : sqlite3_errmsg(*db));
        sqlite3_free(err);
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    return 0;
}

int audit_state_save(struct audit_ctx *c, const char *path)
{
    sqlite3 *db;
    int ret = open_db(path, &db);
    if (ret < 0)
        return ret;
    sqlite3_stmt *run = NULL, *ins = NULL, *prune = NULL;
    ret = -EIO;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO runs(root, at, worst) VALUES(?, ?, ?)", -1, &run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO findings VALUES(?, ?, ?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "DELETE FROM runs WHERE root = ?1 AND id NOT IN "
                           "(SELECT id FROM runs WHERE root = ?1 ORDER BY id DESC LIMIT ?2)",
                           -1, &prune, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(run, 1, c->root, -1, SQLITE_STATIC);
    sqlite3_bind_int64(run, 2, (sqlite3_int64)c->now);
    sqlite3_bind_text(run, 3, c->nf ? audit_sev_name(audit_worst(c)) : "none", -1, SQLITE_STATIC);
    if (sqlite3_step(run) != SQLITE_DONE)
        goto rollback;
    sqlite3_int64 rid = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < c->nf; i++) {
        const struct audit_finding *f = &c->f[i];
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, rid);
        sqlite3_bind_text(ins, 2, f->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, audit_sev_name(f->sev), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, f->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, f->evidence, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, f->fix, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto rollback;
    }
    sqlite3_bind_text(prune, 1, c->root, -1, SQLITE_STATIC);
    sqlite3_bind_int(prune, 2, STATE_KEEP_RUNS);
    if (sqlite3_step(prune) != SQLITE_DONE)
        goto rollback;
    if (sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) == SQLITE_OK)
        ret = 0;
    else
        goto rollback;
    goto out;
rollback:
    fprintf(stderr, "mamori audit: %s: %s\n", path, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
out:
    sqlite3_finalize(run);
    sqlite3_finalize(ins);
    sqlite3_finalize(prune);
    sqlite3_close(db);
    return ret;
}

struct prev {
    char *id, *sev, *title, *evidence;
};

static void jstr(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    buf_json_str(b, s, strlen(s));
    buf_putc(b, '"');
}

static void emit(struct buf *out, bool json, bool first, char sign, const char *id, const char *sev,
                 const char *title, const char *ev)
{
    if (json) {
        buf_puts(out, first ? "" : ",");
        buf_puts(out, "{\"id\":");
        jstr(out, id);
        buf_puts(out, ",\"severity\":");
        jstr(out, sev);
        buf_puts(out, ",\"title\":");
        jstr(out, title);
        buf_puts(out, ",\"evidence\":");
        jstr(out, ev);
        buf_puts(out, "}");
    } else {
        buf_printf(out, "%c %-8s [%s] %s\n      %s\n", sign, sev, id, title, ev);
    }
}

int audit_state_diff(struct audit_ctx *c, const char *path, enum audit_format fmt, struct buf *out)
{
    sqlite3 *db;
    int ret = open_db(path, &db);
    if (ret < 0)
        return ret;
    struct prev *pv = NULL;
    size_t np = 0, cap = 0;
    bool have_prev = false;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT f.id, f.severity, f.title, f.evidence FROM findings f WHERE f.run = "
                           "(SELECT max(id) FROM runs WHERE root = ?)",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_stmt *r = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM runs WHERE root = ?", -1, &r, NULL) == SQLITE_OK) {
            sqlite3_bind_text(r, 1, c->root, -1, SQLITE_STATIC);
            have_prev = sqlite3_step(r) == SQLITE_ROW && sqlite3_column_int(r, 0) > 0;
        }
        sqlite3_finalize(r);
        sqlite3_bind_text(q, 1, c->root, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            if (np == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct prev *nv = realloc(pv, ncap * sizeof *nv);
                if (!nv)
                    break;
                pv = nv;
                cap = ncap;
            }
            struct prev *e = &pv[np];
            e->id = strdup((const char *)sqlite3_column_text(q, 0));
            e->sev = strdup((const char *)sqlite3_column_text(q, 1));
            e->title = strdup((const char *)sqlite3_column_text(q, 2));
            e->evidence = strdup((const char *)sqlite3_column_text(q, 3));
            if (!e->id || !e->sev || !e->title || !e->evidence) {
                free(e->id);
                free(e->sev);
                free(e->title);
                free(e->evidence);
                break;
            }
            np++;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    bool json = fmt != AUDIT_FMT_TEXT;
    size_t nnew = 0, nres = 0;
    if (json)
        buf_printf(out, "{\"previous\":%s,\"new\":[", have_prev ? "true" : "false");
    else if (!have_prev)
        buf_puts(out, "no previous run: every finding is new\n");
    for (size_t i = 0; i < c->nf; i++) {
        const struct audit_finding *f = &c->f[i];
        bool found = false;
        for (size_t j = 0; j < np && !found; j++)
            found = !strcmp(pv[j].id, f->id) && !strcmp(pv[j].evidence, f->evidence);
        if (!found)
            emit(out, json, nnew++ == 0, '+', f->id, audit_sev_name(f->sev), f->title, f->evidence);
    }
    if (json)
        buf_puts(out, "],\"resolved\":[");
    for (size_t j = 0; j < np; j++) {
        bool found = false;
        for (size_t i = 0; i < c->nf && !found; i++)
            found = !strcmp(pv[j].id, c->f[i].id) && !strcmp(pv[j].evidence, c->f[i].evidence);
        if (!found)
            emit(out, json, nres++ == 0, '-', pv[j].id, pv[j].sev, pv[j].title, pv[j].evidence);
    }
    if (json)
        buf_printf(out, "],\"summary\":{\"new\":%zu,\"resolved\":%zu}}\n", nnew, nres);
    else
        buf_printf(out, "%zu new, %zu resolved since the previous run\n", nnew, nres);
    for (size_t j = 0; j < np; j++) {
        free(pv[j].id);
        free(pv[j].sev);
        free(pv[j].title);
        free(pv[j].evidence);
    }
    free(pv);
    return 0;
}
