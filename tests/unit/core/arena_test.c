#include "core/arena.h"
#include "core/buf.h"
#include "../t.h"

TEST(arena_alloc_respects_cap)
{
    struct arena *a = arena_new(64 * 1024);
    CHECK(a != NULL);
    void *p = arena_alloc(a, 1000);
    CHECK(p != NULL);
    CHECK(arena_alloc(a, 128 * 1024) == NULL);
    CHECK(arena_alloc(a, (size_t)-1) == NULL);
    char *s = arena_memdup(a, "abc", 3);
    CHECK_STR(s, "abc");
    arena_reset(a);
    CHECK_INT(arena_used(a), 0);
    for (int i = 0; i < 100; i++)
        CHECK(arena_alloc(a, 500) != NULL);
    arena_free(a);
}

TEST(arena_realloc_grows_last_in_place)
{
    struct arena *a = arena_new(1 << 20);
    char *p = arena_alloc(a, 10);
    memcpy(p, "0123456789", 10);
    char *q = arena_realloc(a, p, 10, 40);
    CHECK(q == p);
    char *r = arena_realloc(a, q, 40, 100000);
    CHECK(r != NULL);
    CHECK(memcmp(r, "0123456789", 10) == 0);
    arena_free(a);
}

TEST(buf_bounded_and_json)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_INT(buf_puts(&b, "12345678"), 0);
    CHECK_INT(buf_puts(&b, "9"), -1);
    CHECK_STR(b.p, "12345678");
    buf_free(&b);
    buf_init(&b, 1024);
    CHECK_INT(buf_json_str(&b, "a\"\\\n\x01\xff\xc3\xa9", 8), 0);
    CHECK_STR(b.p, "a\\\"\\\\\\n\\u0001\\u00ff\xc3\xa9");
    buf_free(&b);
}
