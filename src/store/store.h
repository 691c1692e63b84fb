/* store: mamori's event store, one SQLite file in WAL mode.
 *
 * Contract. Tables: events (what happened), bans (who is or was banned,
 * one row per address, with the offence count), known_logins (addresses
 * with a past successful login) and audit_runs. All writes are prepared
 * statements with bound parameters. store_retention() deletes events older
 * than max_age_s and then the oldest events until the file is under
 * max_bytes; bans are never deleted by retention while active. A store is
 * used by one thread at a time (the watcher); other processes (mamori
 * events, mamori bans) may read and write it concurrently: WAL plus a busy
 * timeout. */
#ifndef MAMORI_STORE_STORE_H
#define MAMORI_STORE_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_opts {
    int64_t max_age_s; /* 0 = keep forever */
    int64_t max_bytes; /* 0 = no size cap */
};

struct store *store_open(const char *path, const struct store_opts *o, char *err, size_t errlen);
void store_close(struct store *s);
/* Group many writes into one transaction (replays). */
int store_begin(struct store *s);
int store_commit(struct store *s);

struct store_event {
    int64_t id, t;
    const char *kind;     /* "ban", "alert", "unban", "disk", "notify"... */
    const char *rule;     /* e.g. "ssh:auth_fail", "ssh_login_new_address" */
    const char *ip;       /* may be NULL */
    const char *severity; /* low, medium, high */
    const char *message;
};
int store_event_add(struct store *s, const struct store_event *e);

struct store_filter {
    const char *ip, *rule, *kind;
    int64_t since, until; /* 0 = open */
    int64_t limit;        /* 0 = 1000 */
};
/* Newest first. fn returns non-zero to stop. Returns rows seen or -1. */
long store_events_query(struct store *s, const struct store_filter *f,
                        int (*fn)(void *ud, const struct store_event *e), void *ud);

struct store_ban {
    const char *ip;
    const char *reason;
    double score;
    int64_t first_seen, last_seen, banned_at, until;
    uint32_t count;
};
int store_ban_put(struct store *s, const struct store_ban *b);
/* Ends the ban now (the row stays for the offence count). 1 if it existed. */
int store_ban_del(struct store *s, const char *ip, int64_t now);
long store_bans_list(struct store *s, bool active_only, int64_t now,
                     int (*fn)(void *ud, const struct store_ban *b), void *ud);

int store_known_add(struct store *s, const char *ip, int64_t t);
long store_known_list(struct store *s, int (*fn)(void *ud, const char *ip), void *ud);

int store_audit_run_add(struct store *s, int64_t t, const char *worst, long nfindings,
                        const char *json);

struct store_retention_stats {
    long deleted_age, deleted_size;
    int64_t bytes_before, bytes_after;
};
int store_retention(struct store *s, int64_t now, struct store_retention_stats *st);
int64_t store_bytes(struct store *s);

#endif
