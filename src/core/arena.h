/* Per-transaction bump allocator.
 *
 * Contract: an arena hands out memory from chunks it owns and frees all of it
 * at once (arena_reset / arena_free). Nothing is freed individually. Every
 * arena has a hard cap on the bytes it may hold; an allocation that would pass
 * it returns NULL and the caller must treat that as "request too large", never
 * crash. Arenas are not thread-safe: one per transaction. */
#ifndef MAMORI_CORE_ARENA_H
#define MAMORI_CORE_ARENA_H
#include <stddef.h>

struct arena;

struct arena *arena_new(size_t cap_bytes);
void arena_free(struct arena *a);
/* Frees every allocation but keeps the first chunk for reuse. */
void arena_reset(struct arena *a);
/* 16-byte aligned; NULL when the cap would be exceeded or n overflows. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t count, size_t size);
/* Copies n bytes and appends a NUL (the NUL is not part of n). */
char *arena_memdup(struct arena *a, const void *p, size_t n);
/* Grows the most recent allocation in place when possible, else copies. */
void *arena_realloc(struct arena *a, void *old, size_t old_n, size_t new_n);
size_t arena_used(const struct arena *a);

#endif
