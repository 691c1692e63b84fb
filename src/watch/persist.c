/* Bans between the in-memory table and the event store: what the watcher
 * writes and what another process (the proxy in `mamori run`) reloads to
 * answer "is this client banned?" without running the watcher itself. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "watch/watch.h"
#include "watch/persist.h"

int watch_bans_persist(struct store *s, const struct watch_ban *b)
{
    char ip[64];
    watch_addr_fmt(&b->addr, ip, sizeof ip);
    if (!ip[0])
        return -1;
    struct store_ban sb = {.ip = ip, .reason = b->reason, .score = b->score,
                           .first_seen = b->first_seen, .last_seen = b->last_seen,
                           .banned_at = b->banned_at, .until = b->until, .count = b->count};
    return store_ban_put(s, &sb);
}

struct restore {
    struct watch_bans *b;
    long n;
};

static int one(void *ud, const struct store_ban *sb)
{
    struct restore *r = ud;
    struct watch_ban b;
    memset(&b, 0, sizeof b);
    if (watch_addr_parse(sb->ip, strlen(sb->ip), &b.addr) < 0)
        return 0; /* a row someone edited by hand: skip it */
    snprintf(b.reason, sizeof b.reason, "%s", sb->reason ? sb->reason : "");
    b.score = sb->score;
    b.first_seen = sb->first_seen;
    b.last_seen = sb->last_seen;
    b.banned_at = sb->banned_at;
    b.until = sb->until;
    b.count = sb->count;
    if (watch_bans_put(r->b, &b) == 0)
        r->n++;
    return 0;
}

long watch_bans_restore(struct watch_bans *b, struct store *s, int64_t now, bool active_only)
{
    struct restore r = {b, 0};
    if (store_bans_list(s, active_only, now, one, &r) < 0)
        return -1;
    return r.n;
}
