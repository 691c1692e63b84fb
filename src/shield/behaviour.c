/* Bad behaviour: a weighted count of blocked, 429 and 4xx answers per
 * address over a sliding window, and the resulting bans.
 *
 * The sliding window is the usual two-bucket estimate: the score is the
 * current window's count plus the previous window's count weighted by how
 * much of it still overlaps the sliding window. Per entry (see stab):
 *   a = prev_score << 32 | cur_score
 *   b = ban_until_s << 32 | window_index
 * The table is bounded and evicts the least recently seen address, but
 * passes over addresses under an active ban (a few per eviction, so a
 * shard full of bans still takes new addresses; the watch module's
 * nftables ban is the durable copy). */
#include <stdlib.h>
#include <string.h>

#include "shield/shield_int.h"

struct shield_behaviour {
    struct stab t;
    struct shield_behaviour_config c;
};

/* Active bans outlive eviction (see STAB_KEEP_TRIES): a flood of new
 * addresses cannot push a banned one out of the table. */
static bool ban_active(const struct stab_entry *e, uint64_t now_s)
{
    return (uint32_t)(e->b >> 32) > now_s;
}

struct shield_behaviour *shield_behaviour_new(const struct shield_behaviour_config *c)
{
    struct shield_behaviour *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (c)
        b->c = *c;
    if (!b->c.window_s)
        b->c.window_s = 60;
    if (!b->c.threshold)
        b->c.threshold = 50;
    if (!b->c.ban_s)
        b->c.ban_s = 600;
    if (!b->c.w_blocked)
        b->c.w_blocked = 10;
    if (!b->c.w_429)
        b->c.w_429 = 2;
    if (!b->c.w_4xx)
        b->c.w_4xx = 1;
    if (!b->c.max_entries)
        b->c.max_entries = 100000;
    if (stab_init(&b->t, b->c.max_entries)) {
        free(b);
        return NULL;
    }
    b->t.keep = ban_active;
    return b;
}

void shield_behaviour_free(struct shield_behaviour *b)
{
    if (!b)
        return;
    stab_destroy(&b->t);
    free(b);
}

static void make_key(const struct shield_addr *a, uint8_t key[STAB_KEY])
{
    memset(key, 0, STAB_KEY);
    shield_addr_key(a, key);
}

unsigned shield_behaviour_note(struct shield_behaviour *b, const struct shield_addr *a,
                               int status, bool blocked, uint64_t now_ms)
{
    unsigned w = blocked ? b->c.w_blocked
                 : status == 429 ? b->c.w_429
                 : (status >= 400 && status < 500) ? b->c.w_4xx
                                                     : 0;
    if (!w)
        return 0;
    uint64_t now = shield_now_ms(now_ms);
    uint64_t wms = (uint64_t)b->c.window_s * 1000u;
    uint32_t idx = (uint32_t)(now / wms);
    uint32_t now_s = (uint32_t)(now / 1000u);
    uint8_t key[STAB_KEY];
    make_key(a, key);
    struct stab_shard *sh;
    bool created;
    struct stab_entry *e = stab_lookup(&b->t, key, true, &created, &sh, now_s);
    uint32_t cur = (uint32_t)e->a, prev = (uint32_t)(e->a >> 32);
    uint32_t win = (uint32_t)e->b, ban_until = (uint32_t)(e->b >> 32);
    unsigned ban = 0;
    if (created) {
        cur = prev = 0;
        win = idx;
    } else if (idx != win) {
        prev = idx == win + 1 ? cur : 0;
        cur = 0;
        win = idx;
    }
    cur = cur > UINT32_MAX - w ? UINT32_MAX : cur + w;
    if (ban_until <= now_s) {
        double frac = (double)(now % wms) / (double)wms;
        double score = (double)prev * (1.0 - frac) + (double)cur;
        if (score >= b->c.threshold) {
            ban = b->c.ban_s;
            ban_until = now_s + ban;
            cur = prev = 0;
        }
    }
    e->a = (uint64_t)prev << 32 | cur;
    e->b = (uint64_t)ban_until << 32 | win;
    stab_unlock(sh);
    return ban;
}

unsigned shield_behaviour_banned(struct shield_behaviour *b, const struct shield_addr *a,
                                 uint64_t now_ms)
{
    uint8_t key[STAB_KEY];
    make_key(a, key);
    uint32_t now_s = (uint32_t)(shield_now_ms(now_ms) / 1000u);
    struct stab_shard *sh;
    struct stab_entry *e = stab_lookup(&b->t, key, false, NULL, &sh, now_s);
    unsigned left = 0;
    if (e) {
        uint32_t until = (uint32_t)(e->b >> 32);
        if (until > now_s)
            left = until - now_s;
    }
    stab_unlock(sh);
    return left;
}

void shield_behaviour_ban(struct shield_behaviour *b, const struct shield_addr *a,
                          unsigned seconds, uint64_t now_ms)
{
    uint8_t key[STAB_KEY];
    make_key(a, key);
    uint64_t now = shield_now_ms(now_ms);
    uint32_t now_s = (uint32_t)(now / 1000u);
    struct stab_shard *sh;
    bool created;
    struct stab_entry *e = stab_lookup(&b->t, key, seconds > 0, &created, &sh, now_s);
    if (e) {
        uint32_t win = created ? (uint32_t)(now / ((uint64_t)b->c.window_s * 1000u))
                               : (uint32_t)e->b;
        uint32_t until = seconds ? now_s + seconds : 0;
        e->b = (uint64_t)until << 32 | win;
        if (created)
            e->a = 0;
    }
    stab_unlock(sh);
}

size_t shield_behaviour_entries(const struct shield_behaviour *b) { return stab_count(&b->t); }

/* Copies src's active bans into dst (a reload that builds a new shield
 * keeps its bans). Each shard's bans are collected under its lock and
 * applied after, so the two tables are never locked together. */
size_t shield_behaviour_copy_bans(struct shield_behaviour *dst, struct shield_behaviour *src,
                                  uint64_t now_ms)
{
    uint64_t now = shield_now_ms(now_ms);
    uint32_t now_s = (uint32_t)(now / 1000u);
    size_t copied = 0;
    enum { CHUNK = 256 };
    struct {
        struct shield_addr a;
        unsigned left;
    } got[CHUNK];
    for (int i = 0; i < STAB_SHARDS; i++) {
        struct stab_shard *sh = &src->t.shard[i];
        size_t n = 0;
        pthread_mutex_lock(&sh->mu);
        for (uint32_t k = sh->head; k != STAB_NIL && n < CHUNK; k = sh->e[k].next) {
            const struct stab_entry *e = &sh->e[k];
            uint32_t until = (uint32_t)(e->b >> 32);
            if (until <= now_s)
                continue;
            struct shield_addr *a = &got[n].a;
            memset(a, 0, sizeof *a);
            a->family = e->key[15] == 6 ? 6 : 4;
            memcpy(a->b, e->key, a->family == 6 ? 8 : 4);
            got[n++].left = until - now_s;
        }
        pthread_mutex_unlock(&sh->mu);
        for (size_t j = 0; j < n; j++)
            shield_behaviour_ban(dst, &got[j].a, got[j].left, now);
        copied += n;
    }
    return copied;
}
