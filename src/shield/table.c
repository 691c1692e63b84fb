/* Sharded LRU hash table with a fixed capacity (see shield_int.h).
 *
 * STAB_SHARDS shards, each with its own mutex, a preallocated entry array,
 * a power-of-two bucket array of chain heads and an intrusive LRU list.
 * The shard and the bucket come from a keyed hash (random seed per table)
 * so an attacker cannot aim many keys at one chain. When a shard is full
 * the tail of its LRU list is reused: the table never grows. Memory is
 * calloc'ed up front; untouched pages are not resident until used. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shield/shield_int.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t shield_hash64(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = mix64(seed ^ (n * 0x9e3779b97f4a7c15ULL));
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix64(h ^ w) * 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w ^ ((uint64_t)n << 56));
}

static uint64_t key_hash(const struct stab *t, const uint8_t key[STAB_KEY])
{
    uint64_t w[3];
    memcpy(w, key, sizeof w);
    uint64_t h = mix64(t->seed[0] ^ w[0]);
    h = mix64(h ^ w[1] ^ t->seed[1]);
    return mix64(h ^ w[2]);
}

int stab_init(struct stab *t, size_t max_entries)
{
    memset(t, 0, sizeof *t); /* keep = NULL: the owner sets it after init */
    if (RAND_bytes((unsigned char *)t->seed, sizeof t->seed) != 1)
        return -1;
    if (max_entries < STAB_SHARDS)
        max_entries = STAB_SHARDS;
    if (max_entries > (size_t)UINT32_MAX / 2)
        return -1;
    uint32_t per = (uint32_t)((max_entries + STAB_SHARDS - 1) / STAB_SHARDS);
    uint32_t nb = 1;
    while (nb < per)
        nb <<= 1;
    for (int i = 0; i < STAB_SHARDS; i++) {
        struct stab_shard *s = &t->shard[i];
        pthread_mutex_init(&s->mu, NULL);
        s->e = calloc(per, sizeof *s->e);
        s->bucket = malloc((size_t)nb * sizeof *s->bucket);
        if (!s->e || !s->bucket) {
            stab_destroy(t);
            return -1;
        }
        memset(s->bucket, 0xff, (size_t)nb * sizeof *s->bucket);
        s->cap = per;
        s->mask = nb - 1;
        s->head = s->tail = STAB_NIL;
        s->free = STAB_NIL; /* entries [used, cap) are fresh; no free list needed */
    }
    return 0;
}

void stab_destroy(struct stab *t)
{
    for (int i = 0; i < STAB_SHARDS; i++) {
        struct stab_shard *s = &t->shard[i];
        if (!s->e && !s->bucket)
            continue;
        free(s->e);
        free(s->bucket);
        s->e = NULL;
        s->bucket = NULL;
        pthread_mutex_destroy(&s->mu);
    }
}

static void lru_unlink(struct stab_shard *s, uint32_t i)
{
    struct stab_entry *e = &s->e[i];
    if (e->prev != STAB_NIL)
        s->e[e->prev].next = e->next;
    else
        s->head = e->next;
    if (e->next != STAB_NIL)
        s->e[e->next].prev = e->prev;
    else
        s->tail = e->prev;
}

static void lru_push_head(struct stab_shard *s, uint32_t i)
{
    struct stab_entry *e = &s->e[i];
    e->prev = STAB_NIL;
    e->next = s->head;
    if (s->head != STAB_NIL)
        s->e[s->head].prev = i;
    s->head = i;
    if (s->tail == STAB_NIL)
        s->tail = i;
}

static void chain_remove(struct stab_shard *s, uint32_t b, uint32_t i)
{
    uint32_t *link = &s->bucket[b];
    while (*link != STAB_NIL) {
        if (*link == i) {
            *link = s->e[i].hnext;
            return;
        }
        link = &s->e[*link].hnext;
    }
}

struct stab_entry *stab_lookup(struct stab *t, const uint8_t key[STAB_KEY], bool create,
                               bool *created, struct stab_shard **sh, uint64_t now)
{
    uint64_t h = key_hash(t, key);
    struct stab_shard *s = &t->shard[h >> 58]; /* 64 shards: top 6 bits */
    uint32_t b = (uint32_t)h & s->mask;
    if (created)
        *created = false;
    pthread_mutex_lock(&s->mu);
    *sh = s;
    for (uint32_t i = s->bucket[b]; i != STAB_NIL; i = s->e[i].hnext) {
        if (memcmp(s->e[i].key, key, STAB_KEY) == 0) {
            if (s->head != i) {
                lru_unlink(s, i);
                lru_push_head(s, i);
            }
            return &s->e[i];
        }
    }
    if (!create)
        return NULL;
    uint32_t i;
    if (s->used < s->cap) {
        i = s->used++;
    } else {
        i = s->tail;
        for (int k = 0; k < STAB_KEEP_TRIES && t->keep && t->keep(&s->e[i], now); k++) {
            lru_unlink(s, i);
            lru_push_head(s, i);
            i = s->tail;
        }
        struct stab_entry *old = &s->e[i];
        uint32_t ob = (uint32_t)key_hash(t, old->key) & s->mask;
        chain_remove(s, ob, i);
        lru_unlink(s, i);
        s->evictions++;
    }
    struct stab_entry *e = &s->e[i];
    memcpy(e->key, key, STAB_KEY);
    e->a = e->b = 0;
    e->hnext = s->bucket[b];
    s->bucket[b] = i;
    lru_push_head(s, i);
    if (created)
        *created = true;
    return e;
}

void stab_unlock(struct stab_shard *sh) { pthread_mutex_unlock(&sh->mu); }

size_t stab_count(const struct stab *t)
{
    size_t n = 0;
    for (int i = 0; i < STAB_SHARDS; i++)
        n += __atomic_load_n(&t->shard[i].used, __ATOMIC_RELAXED);
    return n;
}

uint64_t stab_evictions(const struct stab *t)
{
    uint64_t n = 0;
    for (int i = 0; i < STAB_SHARDS; i++)
        n += __atomic_load_n(&t->shard[i].evictions, __ATOMIC_RELAXED);
    return n;
}

void shield_addr_key(const struct shield_addr *a, uint8_t key[16])
{
    memset(key, 0, 16);
    if (a->family == 6) {
        memcpy(key, a->b, 8);
        key[15] = 6;
    } else {
        memcpy(key, a->b, 4);
        key[15] = 4;
    }
}

uint64_t shield_now_ms(uint64_t now_ms)
{
    if (now_ms)
        return now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
