#include <stdio.h>
#include <sys/resource.h>

#include "shield/shield.h"
#include "../t.h"

static struct shield_addr A(const char *s)
{
    struct shield_addr a;
    shield_addr_parse(s, strlen(s), &a);
    return a;
}

TEST(rate_parse_syntax_and_errors)
{
    double ps;
    unsigned burst;
    char err[128];
#define P(s) shield_rate_parse(s, strlen(s), &ps, &burst, err, sizeof err)
    CHECK_INT(P("10r/s,burst=20"), 0);
    CHECK(ps == 10.0);
    CHECK_INT(burst, 20);
    CHECK_INT(P("10r/s"), 0);
    CHECK_INT(burst, 10);
    CHECK_INT(P("600r/m"), 0);
    CHECK(ps == 10.0);
    CHECK_INT(P("30r/m, burst=5"), 0);
    CHECK(ps == 0.5);
    CHECK_INT(burst, 5);
    CHECK_INT(P("0.5r/s"), 0);
    CHECK_INT(burst, 1);
    CHECK_INT(P("1r/h"), 0);
    CHECK_INT(P("10"), -1);
    CHECK_STR(err, "expected a rate like 10r/s, 600r/m or 100r/h");
    CHECK_INT(P("10r/d"), -1);
    CHECK_STR(err, "unknown unit 'r/d' (use r/s, r/m or r/h)");
    CHECK_INT(P("0r/s"), -1);
    CHECK_STR(err, "the rate must be more than 0");
    CHECK_INT(P("10r/s,burst=0"), -1);
    CHECK_STR(err, "burst must be a number from 1 to 1000000");
    CHECK_INT(P("10r/s,burst=x"), -1);
    CHECK_INT(P("10r/s,nodelay"), -1);
    CHECK_STR(err, "unexpected 'nodelay' (only ',burst=N' may follow the rate)");
    CHECK_INT(P("10r/sec"), -1);
    CHECK_INT(P("r/s"), -1);
#undef P
}

TEST(ratelimit_burst_then_rate)
{
    struct shield_ratelimit *r = shield_ratelimit_new(10, 20, 1000);
    struct shield_addr a = A("198.51.100.1");
    uint64_t t0 = 1700000000000ULL;
    for (int i = 0; i < 20; i++)
        CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0), 0);
    unsigned retry = shield_ratelimit_take(r, &a, NULL, 0, t0);
    CHECK_INT(retry, 1);
    /* 100 ms later one token is back. */
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0 + 100), 0);
    CHECK(shield_ratelimit_take(r, &a, NULL, 0, t0 + 100) > 0);
    /* Another address has its own bucket. */
    struct shield_addr b = A("198.51.100.2");
    CHECK_INT(shield_ratelimit_take(r, &b, NULL, 0, t0), 0);
    /* Extra key bytes separate buckets too. */
    CHECK_INT(shield_ratelimit_take(r, &a, "/login", 6, t0 + 100), 0);
    /* After 2 s the bucket is full again. */
    for (int i = 0; i < 20; i++)
        CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0 + 2200), 0);
    CHECK(shield_ratelimit_take(r, &a, NULL, 0, t0 + 2200) > 0);
    shield_ratelimit_free(r);
}

TEST(ratelimit_retry_after_seconds)
{
    struct shield_ratelimit *r = shield_ratelimit_new(1.0 / 60.0, 1, 1000); /* 1r/m */
    struct shield_addr a = A("203.0.113.9");
    uint64_t t0 = 1700000000000ULL;
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0), 0);
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0), 60);
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0 + 30000), 30);
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0 + 60000), 0);
    shield_ratelimit_free(r);
}

TEST(ratelimit_ipv6_keyed_by_64)
{
    struct shield_ratelimit *r = shield_ratelimit_new(1, 2, 1000);
    struct shield_addr a = A("2001:db8:1:2::1"), b = A("2001:db8:1:2:ffff::9"),
                       c = A("2001:db8:1:3::1");
    uint64_t t0 = 1700000000000ULL;
    CHECK_INT(shield_ratelimit_take(r, &a, NULL, 0, t0), 0);
    CHECK_INT(shield_ratelimit_take(r, &b, NULL, 0, t0), 0);
    CHECK(shield_ratelimit_take(r, &a, NULL, 0, t0) > 0); /* same /64 */
    CHECK_INT(shield_ratelimit_take(r, &c, NULL, 0, t0), 0);
    shield_ratelimit_free(r);
}

TEST(ratelimit_bounded_lru)
{
    struct shield_ratelimit *r = shield_ratelimit_new(1, 1, 640); /* 10 per shard */
    uint64_t t0 = 1700000000000ULL;
    struct shield_addr hot = A("192.0.2.1");
    CHECK_INT(shield_ratelimit_take(r, &hot, NULL, 0, t0), 0);
    for (uint32_t i = 0; i < 50000; i++) {
        struct shield_addr a = {.family = 4};
        a.b[0] = 10, a.b[1] = (uint8_t)(i >> 16), a.b[2] = (uint8_t)(i >> 8), a.b[3] = (uint8_t)i;
        shield_ratelimit_take(r, &a, NULL, 0, t0);
        if (i % 8 == 0) /* the hot client keeps its bucket: recently used */
            CHECK(shield_ratelimit_take(r, &hot, NULL, 0, t0) > 0);
    }
    CHECK(shield_ratelimit_entries(r) <= 640);
    CHECK(shield_ratelimit_evictions(r) >= 50000 - 640);
    shield_ratelimit_free(r);
}

TEST(behaviour_bans_over_threshold)
{
    struct shield_behaviour_config c = {.window_s = 60, .threshold = 20, .ban_s = 300,
                                        .w_blocked = 10, .w_429 = 2, .w_4xx = 1,
                                        .max_entries = 1000};
    struct shield_behaviour *b = shield_behaviour_new(&c);
    struct shield_addr a = A("198.51.100.50"), ok = A("198.51.100.51");
    uint64_t t0 = 1700000000000ULL;
    CHECK_INT(shield_behaviour_note(b, &a, 200, false, t0), 0);
    CHECK_INT(shield_behaviour_note(b, &ok, 200, false, t0), 0);
    for (int i = 0; i < 19; i++)
        CHECK_INT(shield_behaviour_note(b, &a, 404, false, t0 + (uint64_t)i), 0);
    CHECK_INT(shield_behaviour_banned(b, &a, t0), 0);
    CHECK_INT(shield_behaviour_note(b, &a, 404, false, t0 + 20), 300);
    CHECK_INT(shield_behaviour_banned(b, &a, t0 + 1000), 299);
    CHECK_INT(shield_behaviour_banned(b, &ok, t0 + 1000), 0);
    /* The decision is returned once per ban. */
    CHECK_INT(shield_behaviour_note(b, &a, 403, true, t0 + 2000), 0);
    CHECK_INT(shield_behaviour_banned(b, &a, t0 + 301000), 0);
    /* Two blocks are enough; a sliding window forgets old events. */
    struct shield_addr z = A("2001:db8::7");
    CHECK_INT(shield_behaviour_note(b, &z, 403, true, t0), 0);
    CHECK_INT(shield_behaviour_note(b, &z, 403, true, t0 + 130000), 0);
    CHECK_INT(shield_behaviour_note(b, &z, 403, true, t0 + 131000), 300);
    /* Manual ban and unban. */
    shield_behaviour_ban(b, &ok, 60, t0);
    CHECK_INT(shield_behaviour_banned(b, &ok, t0), 60);
    shield_behaviour_ban(b, &ok, 0, t0);
    CHECK_INT(shield_behaviour_banned(b, &ok, t0), 0);
    shield_behaviour_free(b);
}

/* A reload that builds a new shield copies the running bans (IPv4 and an
 * IPv6 /64), with the time they have left, and nothing else. */
TEST(behaviour_copy_bans_keeps_running_bans)
{
    struct shield_behaviour *src = shield_behaviour_new(NULL);
    struct shield_behaviour *dst = shield_behaviour_new(NULL);
    uint64_t t0 = 1700000000000ULL;
    struct shield_addr a = A("198.51.100.7"), v6 = A("2001:db8:1:2::99"),
                       gone = A("198.51.100.8"), scored = A("198.51.100.9");
    shield_behaviour_ban(src, &a, 600, t0);
    shield_behaviour_ban(src, &v6, 60, t0);
    shield_behaviour_ban(src, &gone, 10, t0);
    CHECK_INT(shield_behaviour_note(src, &scored, 404, false, t0), 0);
    CHECK_INT((int)shield_behaviour_copy_bans(dst, src, t0 + 20000), 2);
    CHECK_INT(shield_behaviour_banned(dst, &a, t0 + 20000), 580);
    struct shield_addr same64 = A("2001:db8:1:2::1");
    CHECK_INT(shield_behaviour_banned(dst, &same64, t0 + 20000), 40);
    CHECK_INT(shield_behaviour_banned(dst, &gone, t0 + 20000), 0);
    CHECK_INT(shield_behaviour_banned(dst, &scored, t0 + 20000), 0);
    CHECK_INT((int)shield_behaviour_entries(dst), 2);
    shield_behaviour_free(src);
    shield_behaviour_free(dst);
}

/* A million distinct clients (a quarter IPv6 /64s) through tables bounded
 * at 100,000: the bound holds, and a client that keeps coming back keeps
 * its state. Peak RSS is printed (inflated under ASan; bench/shield-bench.sh
 * has the release figures). */
TEST(ratelimit_and_behaviour_bound_under_1m_addresses)
{
    struct shield_ratelimit *r = shield_ratelimit_new(1, 1, 100000);
    struct shield_behaviour_config bc = {.max_entries = 100000, .threshold = 1000000};
    struct shield_behaviour *b = shield_behaviour_new(&bc);
    uint64_t t0 = 1700000000000ULL;
    struct shield_addr hot = A("192.0.2.1");
    CHECK_INT(shield_ratelimit_take(r, &hot, NULL, 0, t0), 0);
    shield_behaviour_ban(b, &hot, 600, t0);
    for (uint32_t i = 0; i < 1000000; i++) {
        struct shield_addr a = {.family = 4};
        uint32_t k = 0x0b000000u + i;
        a.b[0] = (uint8_t)(k >> 24), a.b[1] = (uint8_t)(k >> 16), a.b[2] = (uint8_t)(k >> 8),
        a.b[3] = (uint8_t)k;
        if (i % 4 == 3) {
            a.family = 6;
            memset(a.b, 0, 16);
            a.b[0] = 0x20, a.b[1] = 0x01, a.b[2] = 0x0d, a.b[3] = 0xb8;
            memcpy(a.b + 4, &i, 4);
            a.b[15] = (uint8_t)i; /* host part: must not matter */
        }
        shield_ratelimit_take(r, &a, NULL, 0, t0);
        shield_behaviour_note(b, &a, 404, false, t0);
        if (i % 1000 == 0) {
            CHECK(shield_ratelimit_take(r, &hot, NULL, 0, t0) > 0);
            CHECK(shield_behaviour_banned(b, &hot, t0) > 0);
        }
    }
    size_t cap = 100000 + 64; /* rounded up to the shard count */
    CHECK(shield_ratelimit_entries(r) <= cap);
    CHECK(shield_behaviour_entries(b) <= cap);
    CHECK(shield_ratelimit_evictions(r) >= 1000000 - cap);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  1M distinct addresses: rate table %zu entries, %llu evictions; behaviour table "
           "%zu entries; peak RSS of the test process %ld MB\n",
           shield_ratelimit_entries(r), (unsigned long long)shield_ratelimit_evictions(r),
           shield_behaviour_entries(b), ru.ru_maxrss / 1024);
    shield_ratelimit_free(r);
    shield_behaviour_free(b);
}

/* An active ban is not evicted by a flood of new addresses. */
TEST(behaviour_ban_survives_eviction)
{
    struct shield_behaviour_config c = {.max_entries = 640, .threshold = 1000000};
    struct shield_behaviour *b = shield_behaviour_new(&c);
    uint64_t t0 = 1700000000000ULL;
    struct shield_addr bad = A("203.0.113.66"), old = A("203.0.113.67");
    shield_behaviour_ban(b, &bad, 600, t0);
    shield_behaviour_ban(b, &old, 10, t0);
    for (uint32_t i = 0; i < 50000; i++) {
        struct shield_addr a = {.family = 4};
        a.b[0] = 10, a.b[1] = (uint8_t)(i >> 16), a.b[2] = (uint8_t)(i >> 8), a.b[3] = (uint8_t)i;
        shield_behaviour_note(b, &a, 404, false, t0 + 20000); /* old's ban is over by now */
    }
    CHECK(shield_behaviour_entries(b) <= 640);
    CHECK_INT(shield_behaviour_banned(b, &bad, t0 + 20000), 580);
    CHECK_INT(shield_behaviour_banned(b, &old, t0 + 20000), 0);
    shield_behaviour_free(b);
}
