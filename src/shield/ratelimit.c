/* Rate limits: one token bucket per key, kept as GCRA's "theoretical
 * arrival time" (one 64-bit number per key instead of tokens + timestamp).
 *
 * With emission interval T = 1/rate and bucket size C (burst), a request
 * at time `now` is allowed when max(tat, now) + T - now <= C*T, and then
 * tat = max(tat, now) + T. This is exactly a bucket of C tokens refilled at
 * `rate`. A key whose tat is in the past is equivalent to a fresh key, so
 * evicting the least-recently-used key when the table is full loses
 * nothing unless the table is too small for the live clients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shield/shield_int.h"

struct shield_ratelimit {
    struct stab t;
    uint64_t interval_us; /* T */
    uint64_t window_us;   /* C*T */
};

static bool digit(char c) { return c >= '0' && c <= '9'; }

int shield_rate_parse(const char *s, size_t n, double *per_sec, unsigned *burst, char *err,
                      size_t errcap)
{
    size_t i = 0;
    double v = 0, scale = 1;
    bool any = false, dot = false;
    while (i < n && s[i] == ' ')
        i++;
    for (; i < n && (digit(s[i]) || (s[i] == '.' && !dot)); i++) {
        if (s[i] == '.') {
            dot = true;
            continue;
        }
        any = true;
        if (dot)
            v += (s[i] - '0') * (scale /= 10);
        else if (v < 1e9)
            v = v * 10 + (s[i] - '0');
    }
    if (!any || i + 1 >= n || s[i] != 'r' || s[i + 1] != '/') {
        snprintf(err, errcap, "expected a rate like 10r/s, 600r/m or 100r/h");
        return -1;
    }
    i += 2;
    if (i >= n) {
        snprintf(err, errcap, "missing unit after 'r/' (use r/s, r/m or r/h)");
        return -1;
    }
    double div;
    switch (s[i]) {
    case 's': div = 1; break;
    case 'm': div = 60; break;
    case 'h': div = 3600; break;
    default:
        snprintf(err, errcap, "unknown unit 'r/%c' (use r/s, r/m or r/h)", s[i]);
        return -1;
    }
    i++;
    if (v <= 0) {
        snprintf(err, errcap, "the rate must be more than 0");
        return -1;
    }
    double ps = v / div;
    unsigned b = ps < 1 ? 1 : (unsigned)ceil(ps);
    while (i < n && (s[i] == ',' || s[i] == ' ')) {
        while (i < n && (s[i] == ',' || s[i] == ' '))
            i++;
        if (i == n)
            break;
        if (n - i < 6 || memcmp(s + i, "burst=", 6) != 0) {
            snprintf(err, errcap, "unexpected '%.*s' (only ',burst=N' may follow the rate)",
                     (int)(n - i > 40 ? 40 : n - i), s + i);
            return -1;
        }
        i += 6;
        unsigned long bv = 0;
        size_t st = i;
        while (i < n && digit(s[i]) && bv <= 1000000)
            bv = bv * 10 + (unsigned long)(s[i++] - '0');
        if (i == st || bv < 1 || bv > 1000000 || (i < n && digit(s[i]))) {
            snprintf(err, errcap, "burst must be a number from 1 to 1000000");
            return -1;
        }
        b = (unsigned)bv;
    }
    if (i != n) {
        snprintf(err, errcap, "unexpected '%.*s' after the rate", (int)(n - i > 40 ? 40 : n - i),
                 s + i);
        return -1;
    }
    *per_sec = ps;
    *burst = b;
    return 0;
}

struct shield_ratelimit *shield_ratelimit_new(double per_sec, unsigned burst, size_t max_entries)
{
    if (!(per_sec > 0) || per_sec > 1e9)
        return NULL;
    struct shield_ratelimit *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (stab_init(&r->t, max_entries ? max_entries : 100000)) {
        free(r);
        return NULL;
    }
    r->interval_us = (uint64_t)(1e6 / per_sec);
    if (r->interval_us == 0)
        r->interval_us = 1;
    r->window_us = r->interval_us * (burst ? burst : 1);
    return r;
}

void shield_ratelimit_free(struct shield_ratelimit *r)
{
    if (!r)
        return;
    stab_destroy(&r->t);
    free(r);
}

unsigned shield_ratelimit_take(struct shield_ratelimit *r, const struct shield_addr *a,
                               const void *extra, size_t extra_n, uint64_t now_ms)
{
    uint8_t key[STAB_KEY];
    shield_addr_key(a, key);
    uint64_t eh = extra_n ? shield_hash64(extra, extra_n, r->t.seed[1]) : 0;
    memcpy(key + 16, &eh, 8);
    uint64_t now = shield_now_ms(now_ms) * 1000u;
    struct stab_shard *sh;
    struct stab_entry *e = stab_lookup(&r->t, key, true, NULL, &sh, 0);
    unsigned retry = 0;
    uint64_t tat = e->a > now ? e->a : now;
    uint64_t next = tat + r->interval_us;
    if (next - now <= r->window_us) {
        e->a = next;
    } else {
        uint64_t wait = next - now - r->window_us; /* until one token is back */
        retry = (unsigned)((wait + 999999u) / 1000000u);
        if (retry == 0)
            retry = 1;
    }
    stab_unlock(sh);
    return retry;
}

size_t shield_ratelimit_entries(const struct shield_ratelimit *r) { return stab_count(&r->t); }
uint64_t shield_ratelimit_evictions(const struct shield_ratelimit *r)
{
    return stab_evictions(&r->t);
}
