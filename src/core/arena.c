#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16u
#define ARENA_CHUNK_MIN (16u * 1024u)

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    /* data follows, aligned */
};

struct arena {
    struct chunk *head;  /* current chunk; older ones follow via next */
    struct chunk *first; /* kept across resets */
    size_t cap;          /* hard limit on bytes held in chunks */
    size_t held;         /* bytes currently held in chunks */
    size_t used;         /* bytes handed out */
    void *last;          /* most recent allocation (for in-place realloc) */
};

#define CHUNK_HDR ((sizeof(struct chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

static unsigned char *chunk_data(struct chunk *c) { return (unsigned char *)c + CHUNK_HDR; }

static struct chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - CHUNK_HDR)
        return NULL;
    struct chunk *c = malloc(CHUNK_HDR + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

struct arena *arena_new(size_t cap_bytes)
{
    struct arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cap = cap_bytes;
    size_t first = cap_bytes < ARENA_CHUNK_MIN ? cap_bytes : ARENA_CHUNK_MIN;
    a->first = chunk_new(first);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->head = a->first;
    a->held = first;
    return a;
}

/* Keeps the largest chunk (up to ARENA_KEEP_MAX) so that a reused arena
 * serves the next transaction of the same size without malloc. */
#define ARENA_KEEP_MAX (8u << 20)

void arena_reset(struct arena *a)
{
    struct chunk *keep = a->first;
    for (struct chunk *c = a->head; c; c = c->next)
        if (c->size > keep->size && c->size <= ARENA_KEEP_MAX)
            keep = c;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        if (c != keep)
            free(c);
        c = n;
    }
    a->first = keep;
    a->head = keep;
    keep->used = 0;
    keep->next = NULL;
    a->held = keep->size;
    a->used = 0;
    a->last = NULL;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        size_t size = c->size * 2;
        if (size < need)
            size = need;
        if (size < ARENA_CHUNK_MIN)
            size = ARENA_CHUNK_MIN;
        if (a->held > a->cap || size > a->cap - a->held) {
            if (need > a->cap - (a->held > a->cap ? a->cap : a->held))
                return NULL;
            size = need;
        }
        struct chunk *nc = chunk_new(size);
        if (!nc)
            return NULL;
        nc->next = c;
        a->head = nc;
        a->held += size;
        c = nc;
    }
    void *p = chunk_data(c) + c->used;
    c->used += need;
    a->used += need;
    a->last = p;
    return p;
}

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *arena_memdup(struct arena *a, const void *p, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void *arena_realloc(struct arena *a, void *old, size_t old_n, size_t new_n)
{
    if (!old)
        return arena_alloc(a, new_n);
    if (new_n <= old_n)
        return old;
    struct chunk *c = a->head;
    if (old == a->last && new_n <= SIZE_MAX - ARENA_ALIGN) {
        size_t off = (size_t)((unsigned char *)old - chunk_data(c));
        size_t need = (new_n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        if (off + need <= c->size) {
            a->used += off + need - c->used;
            c->used = off + need;
            return old;
        }
    }
    void *p = arena_alloc(a, new_n);
    if (p)
        memcpy(p, old, old_n);
    return p;
}

size_t arena_used(const struct arena *a) { return a->used; }
