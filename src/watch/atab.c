/* Bounded hash + recency list over addresses; see atab.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch/atab.h"

static uint64_t addr_hash(const struct watch_addr *a)
{
    uint64_t w0, w1;
    memcpy(&w0, a->a, 8);
    memcpy(&w1, a->a + 8, 8);
    uint64_t h = (w0 ^ ((uint64_t)a->fam << 56) ^ ((uint64_t)a->plen << 48)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h = (h ^ w1) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static struct watch_atab_hdr *rec(struct watch_atab *t, uint32_t i)
{
    return (struct watch_atab_hdr *)(t->ents + (size_t)i * t->esz);
}

static uint32_t idx(struct watch_atab *t, const void *r)
{
    return (uint32_t)(((const unsigned char *)r - t->ents) / t->esz);
}

int watch_atab_init(struct watch_atab *t, size_t esz, size_t cap)
{
    memset(t, 0, sizeof *t);
    if (cap < 1)
        cap = 1;
    if (cap > (size_t)UINT32_MAX / 2 || esz < sizeof(struct watch_atab_hdr))
        return -1;
    t->esz = esz;
    t->cap = cap;
    t->nb = 16;
    while (t->nb < cap)
        t->nb <<= 1;
    t->buckets = malloc(t->nb * sizeof(uint32_t));
    if (!t->buckets)
        return -1;
    memset(t->buckets, 0xff, t->nb * sizeof(uint32_t));
    t->head = t->tail = t->freel = WATCH_ATAB_NIL;
    return 0;
}

void watch_atab_fini(struct watch_atab *t)
{
    free(t->ents);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static void list_unlink(struct watch_atab *t, struct watch_atab_hdr *h)
{
    if (h->prev != WATCH_ATAB_NIL)
        rec(t, h->prev)->next = h->next;
    else
        t->head = h->next;
    if (h->next != WATCH_ATAB_NIL)
        rec(t, h->next)->prev = h->prev;
    else
        t->tail = h->prev;
    h->prev = h->next = WATCH_ATAB_NIL;
}

static void list_push(struct watch_atab *t, struct watch_atab_hdr *h, uint32_t i)
{
    h->prev = WATCH_ATAB_NIL;
    h->next = t->head;
    if (t->head != WATCH_ATAB_NIL)
        rec(t, t->head)->prev = i;
    t->head = i;
    if (t->tail == WATCH_ATAB_NIL)
        t->tail = i;
}

static void hash_unlink(struct watch_atab *t, uint32_t i)
{
    struct watch_atab_hdr *h = rec(t, i);
    uint32_t *pp = &t->buckets[addr_hash(&h->key) & (t->nb - 1)];
    while (*pp != WATCH_ATAB_NIL) {
        if (*pp == i) {
            *pp = h->hnext;
            return;
        }
        pp = &rec(t, *pp)->hnext;
    }
}

void *watch_atab_get(struct watch_atab *t, const struct watch_addr *k, bool touch)
{
    uint32_t i = t->buckets[addr_hash(k) & (t->nb - 1)];
    while (i != WATCH_ATAB_NIL) {
        struct watch_atab_hdr *h = rec(t, i);
        if (watch_addr_eq(&h->key, k)) {
            if (touch && t->head != i) {
                list_unlink(t, h);
                list_push(t, h, i);
            }
            return h;
        }
        i = h->hnext;
    }
    return NULL;
}

void *watch_atab_put(struct watch_atab *t, const struct watch_addr *k, bool *created,
                     void (*on_evict)(void *ud, void *rec), void *ud)
{
    void *r = watch_atab_get(t, k, true);
    *created = false;
    if (r)
        return r;
    uint32_t i;
    if (t->freel != WATCH_ATAB_NIL) {
        i = t->freel;
        t->freel = rec(t, i)->hnext;
    } else if (t->n < t->cap) {
        if (t->n == t->alloc) {
            size_t na = t->alloc ? t->alloc * 2 : 64;
            if (na > t->cap)
                na = t->cap;
            if (na > SIZE_MAX / t->esz)
                return NULL;
            unsigned char *ne = realloc(t->ents, na * t->esz);
            if (!ne)
                return NULL;
            t->ents = ne;
            t->alloc = na;
        }
        i = (uint32_t)t->n;
    } else {
        i = t->tail;
        struct watch_atab_hdr *old = rec(t, i);
        if (on_evict)
            on_evict(ud, old);
        hash_unlink(t, i);
        list_unlink(t, old);
        t->n--;
        t->evicted++;
    }
    t->n++;
    struct watch_atab_hdr *h = rec(t, i);
    memset(h, 0, t->esz);
    h->key = *k;
    uint32_t *b = &t->buckets[addr_hash(k) & (t->nb - 1)];
    h->hnext = *b;
    *b = i;
    list_push(t, h, i);
    *created = true;
    return h;
}

bool watch_atab_del(struct watch_atab *t, const struct watch_addr *k)
{
    struct watch_atab_hdr *h = watch_atab_get(t, k, false);
    if (!h)
        return false;
    uint32_t i = idx(t, h);
    hash_unlink(t, i);
    list_unlink(t, h);
    h->hnext = t->freel;
    t->freel = i;
    t->n--;
    return true;
}

void *watch_atab_first(struct watch_atab *t)
{
    return t->head == WATCH_ATAB_NIL ? NULL : rec(t, t->head);
}

void *watch_atab_next(struct watch_atab *t, void *r)
{
    struct watch_atab_hdr *h = r;
    return h->next == WATCH_ATAB_NIL ? NULL : rec(t, h->next);
}
