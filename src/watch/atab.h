/* Bounded address tables used inside watch/ (not a public API).
 *
 * A record starts with struct watch_atab_hdr; the table owns the records.
 * Lookups hash the address; the records are also on a recency list (head =
 * most recently put or touched). Invariant: n <= cap; when a put would pass
 * cap, the tail (least recent) record is handed to on_evict and reused, so
 * memory never grows past cap records however many addresses arrive. */
#ifndef MAMORI_WATCH_ATAB_H
#define MAMORI_WATCH_ATAB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

#define WATCH_ATAB_NIL UINT32_MAX

struct watch_atab_hdr {
    struct watch_addr key;
    uint32_t hnext, prev, next;
};

struct watch_atab {
    size_t esz, cap, n, alloc;
    unsigned char *ents;
    uint32_t *buckets;
    size_t nb; /* power of two */
    uint32_t head, tail, freel;
    uint64_t evicted;
};

int watch_atab_init(struct watch_atab *t, size_t esz, size_t cap);
void watch_atab_fini(struct watch_atab *t);
void *watch_atab_get(struct watch_atab *t, const struct watch_addr *k, bool touch);
/* Finds or creates (zeroed body) the record for k; *created says which.
 * NULL only when out of memory. */
void *watch_atab_put(struct watch_atab *t, const struct watch_addr *k, bool *created,
                     void (*on_evict)(void *ud, void *rec), void *ud);
bool watch_atab_del(struct watch_atab *t, const struct watch_addr *k);
/* Walk from most to least recent. */
void *watch_atab_first(struct watch_atab *t);
void *watch_atab_next(struct watch_atab *t, void *rec);

#endif
