/* The shared ban table: the watcher writes, the proxy's workers read.
 *
 * Invariant: at most max entries; an entry outlives its ban (until < now)
 * so a repeat offender's count survives, until the table is full and it is
 * the least recently banned one. A read lock is enough for lookups: they do
 * not reorder the recency list. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "watch/atab.h"

struct ban_rec {
    struct watch_atab_hdr h;
    struct watch_ban ban;
};

struct watch_bans {
    pthread_rwlock_t lk;
    struct watch_atab t;
};

struct watch_bans *watch_bans_new(size_t max)
{
    struct watch_bans *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (watch_atab_init(&b->t, sizeof(struct ban_rec), max) < 0) {
        free(b);
        return NULL;
    }
    pthread_rwlock_init(&b->lk, NULL);
    return b;
}

void watch_bans_free(struct watch_bans *b)
{
    if (!b)
        return;
    watch_atab_fini(&b->t);
    pthread_rwlock_destroy(&b->lk);
    free(b);
}

int watch_bans_put(struct watch_bans *b, const struct watch_ban *ban)
{
    bool created;
    pthread_rwlock_wrlock(&b->lk);
    struct ban_rec *r = watch_atab_put(&b->t, &ban->addr, &created, NULL, NULL);
    if (r)
        r->ban = *ban;
    pthread_rwlock_unlock(&b->lk);
    return r ? 0 : -1;
}

bool watch_bans_del(struct watch_bans *b, const struct watch_addr *a)
{
    pthread_rwlock_wrlock(&b->lk);
    bool ok = watch_atab_del(&b->t, a);
    pthread_rwlock_unlock(&b->lk);
    return ok;
}

bool watch_bans_get(struct watch_bans *b, const struct watch_addr *a, struct watch_ban *out)
{
    pthread_rwlock_rdlock(&b->lk);
    struct ban_rec *r = watch_atab_get(&b->t, a, false);
    if (r && out)
        *out = r->ban;
    pthread_rwlock_unlock(&b->lk);
    return r != NULL;
}

bool watch_bans_check(struct watch_bans *b, const struct watch_addr *a, int64_t now,
                      struct watch_ban *out)
{
    /* the exact address, then the prefixes bans are usually made for */
    static const uint8_t v6p[] = {128, 64, 56, 48};
    static const uint8_t v4p[] = {32, 24};
    const uint8_t *ps = a->fam == 6 ? v6p : v4p;
    size_t np = a->fam == 6 ? sizeof v6p : sizeof v4p;
    bool hit = false;
    pthread_rwlock_rdlock(&b->lk);
    for (size_t i = 0; i < np && !hit; i++) {
        if (ps[i] > a->plen)
            continue;
        struct watch_addr k = *a;
        int bits = a->fam == 6 ? 128 : 32;
        for (int j = ps[i]; j < bits; j++)
            k.a[j / 8] &= (uint8_t) ~(0x80u >> (j % 8));
        k.plen = ps[i];
        struct ban_rec *r = watch_atab_get(&b->t, &k, false);
        if (r && r->ban.until > now) {
            hit = true;
            if (out)
                *out = r->ban;
        }
    }
    pthread_rwlock_unlock(&b->lk);
    return hit;
}

size_t watch_bans_count(struct watch_bans *b)
{
    pthread_rwlock_rdlock(&b->lk);
    size_t n = b->t.n;
    pthread_rwlock_unlock(&b->lk);
    return n;
}

uint64_t watch_bans_evicted(struct watch_bans *b)
{
    pthread_rwlock_rdlock(&b->lk);
    uint64_t n = b->t.evicted;
    pthread_rwlock_unlock(&b->lk);
    return n;
}

void watch_bans_each(struct watch_bans *b, void (*fn)(void *ud, const struct watch_ban *), void *ud)
{
    pthread_rwlock_rdlock(&b->lk);
    for (struct ban_rec *r = watch_atab_first(&b->t); r; r = watch_atab_next(&b->t, r))
        fn(ud, &r->ban);
    pthread_rwlock_unlock(&b->lk);
}
