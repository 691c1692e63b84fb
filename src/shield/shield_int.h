/* Private to src/shield: the sharded, bounded LRU table behind the rate
 * limiter and the bad-behaviour counters, and small shared helpers. */
#ifndef MAMORI_SHIELD_INT_H
#define MAMORI_SHIELD_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shield/shield.h"

#define STAB_KEY 24
#define STAB_NIL UINT32_MAX
#define STAB_SHARDS 64

/* One key's state. Invariant: an entry is either on its shard's free list
 * (via `next`) or on the LRU list AND in exactly one hash chain. */
struct stab_entry {
    uint8_t key[STAB_KEY];
    uint64_t a, b;         /* owner's state */
    uint32_t prev, next;   /* LRU list (head = most recent) */
    uint32_t hnext;        /* hash chain */
    uint32_t pad;
};

struct stab_shard {
    pthread_mutex_t mu;
    struct stab_entry *e;
    uint32_t *bucket;
    uint32_t cap, used, mask;
    uint32_t head, tail, free;
    uint64_t evictions;
} __attribute__((aligned(64)));

/* Entries the owner wants to survive eviction (active bans): when the LRU
 * tail is one of them it is moved to the head instead, up to STAB_KEEP_TRIES
 * times per eviction; then the tail is evicted anyway, so an insert stays
 * O(1) even if a shard is full of kept entries. */
#define STAB_KEEP_TRIES 4
typedef bool (*stab_keep_fn)(const struct stab_entry *e, uint64_t now);

struct stab {
    struct stab_shard shard[STAB_SHARDS];
    uint64_t seed[2];
    stab_keep_fn keep; /* NULL: plain LRU */
};

int stab_init(struct stab *t, size_t max_entries);
void stab_destroy(struct stab *t);
/* Locks the key's shard and returns its entry, creating it (a = b = 0,
 * *created = true) when absent -- evicting the least recently used entry
 * of the shard if it is full (`now` is passed to t->keep). The caller must
 * stab_unlock(*sh). */
struct stab_entry *stab_lookup(struct stab *t, const uint8_t key[STAB_KEY], bool create,
                               bool *created, struct stab_shard **sh, uint64_t now);
void stab_unlock(struct stab_shard *sh);
size_t stab_count(const struct stab *t);
uint64_t stab_evictions(const struct stab *t);

/* Key of an address: IPv4 as is, IPv6 truncated to its /64. */
void shield_addr_key(const struct shield_addr *a, uint8_t key[16]);
/* Wall clock in ms when now_ms is 0. */
uint64_t shield_now_ms(uint64_t now_ms);
/* The path as the per-path allowlists and path rate limits see it: one
 * percent-decode, '\\' as '/', ASCII lower case, ";params" dropped, "//",
 * "." and ".." resolved. Length (>= 1, NUL-terminated), or -1 if it does
 * not fit in cap. */
ssize_t shield_path_normalize(const char *p, size_t n, char *out, size_t cap);
/* 64-bit keyed hash (for extra key material). */
uint64_t shield_hash64(const void *p, size_t n, uint64_t seed);

#endif
