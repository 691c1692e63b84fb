/* Micro-benchmark of the bot shield (src/shield). Run bench/shield-bench.sh,
 * which builds this at -O2 and runs each part in its own process so peak
 * RSS figures are per part:
 *
 *   shield-bench check    shield_check() cost for a request that passes
 *   shield-bench iplist   1,000,000-entry CIDR list: build time, memory, lookup
 *   shield-bench rate N   peak RSS, N distinct addresses through the rate limiter
 *   shield-bench behav N  peak RSS, N distinct addresses in the bad-behaviour table
 *   shield-bench verify   challenge verification and cookie check cost
 *   shield-bench threads  shield_check() throughput on all cores */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "shield/shield.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static struct shield_addr v4(uint32_t k)
{
    struct shield_addr a = {.family = 4};
    a.b[0] = (uint8_t)(k >> 24), a.b[1] = (uint8_t)(k >> 16);
    a.b[2] = (uint8_t)(k >> 8), a.b[3] = (uint8_t)k;
    return a;
}

/* A list like a big reputation feed: 1M entries, 70% single hosts, 30%
 * networks /16-/30, plus 10% IPv6 /48-/64. */
static struct shield_iplist *big_list(size_t n, double *build_s, size_t *mem)
{
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        uint64_t x = next();
        if (i % 10 == 9) {
            struct shield_addr a = {.family = 6};
            a.b[0] = 0x20, a.b[1] = 0x01;
            memcpy(a.b + 2, &x, 6);
            shield_iplist_builder_add_addr(b, &a, 48 + (unsigned)(x >> 60));
            continue;
        }
        struct shield_addr a = v4((uint32_t)x);
        unsigned plen = (x >> 40) % 10 < 7 ? 32 : 16 + (unsigned)((x >> 50) % 15);
        shield_iplist_builder_add_addr(b, &a, plen);
    }
    struct shield_iplist *l = shield_iplist_build(b);
    *build_s = now_s() - t0;
    *mem = shield_iplist_memory(l);
    return l;
}

static int bench_iplist(void)
{
    long r0 = rss_kb();
    double bs;
    size_t mem;
    struct shield_iplist *l = big_list(1000000, &bs, &mem);
    long r1 = rss_kb();
    enum { Q = 4000000 };
    static struct shield_addr qs[1024];
    for (int i = 0; i < 1024; i++)
        qs[i] = v4((uint32_t)next());
    size_t hits = 0;
    double t0 = now_s();
    for (int i = 0; i < Q; i++)
        hits += shield_iplist_contains(l, &qs[i & 1023], NULL);
    double t = now_s() - t0;
    /* Worst case: addresses inside the list's entries (deepest walks). */
    struct shield_addr a6 = {.family = 6};
    a6.b[0] = 0x20, a6.b[1] = 0x01;
    double t1 = now_s();
    for (int i = 0; i < Q; i++) {
        a6.b[2 + (i & 7)] = (uint8_t)i;
        hits += shield_iplist_contains(l, &a6, NULL);
    }
    double t6 = now_s() - t1;
    printf("iplist: %zu entries, build %.0f ms, %.1f MB held (RSS +%.1f MB, peak %.1f MB), "
           "lookup IPv4 %.0f ns, IPv6 %.0f ns (hits %zu)\n",
           shield_iplist_count(l), bs * 1e3, (double)mem / 1048576.0,
           (double)(r1 - r0) / 1024.0, (double)peak_kb() / 1024.0, t / Q * 1e9, t6 / Q * 1e9,
           hits);
    shield_iplist_unref(l);
    return 0;
}

static int bench_table(bool behav, size_t n, size_t bound)
{
    long r0 = rss_kb();
    struct shield_ratelimit *r = NULL;
    struct shield_behaviour *b = NULL;
    if (behav) {
        struct shield_behaviour_config c = {.max_entries = bound};
        b = shield_behaviour_new(&c);
    } else {
        r = shield_ratelimit_new(10, 20, bound);
    }
    uint64_t t = 1700000000000ULL;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        struct shield_addr a = v4(0x0a000000u + (uint32_t)i * 2654435761u);
        if (i % 4 == 3) { /* a quarter IPv6, distinct /64s */
            a.family = 6;
            memset(a.b, 0, 16);
            a.b[0] = 0x20, a.b[1] = 0x01, a.b[2] = 0x0d, a.b[3] = 0xb8;
            memcpy(a.b + 4, &i, 4);
        }
        if (behav)
            shield_behaviour_note(b, &a, 404, false, t);
        else
            shield_ratelimit_take(r, &a, NULL, 0, t);
    }
    double el = now_s() - t0;
    printf("%s: %zu distinct addresses, bound %zu: %zu entries kept, %.0f ns/op, "
           "RSS +%.1f MB, peak RSS %.1f MB\n",
           behav ? "behaviour" : "ratelimit", n, bound,
           behav ? shield_behaviour_entries(b) : shield_ratelimit_entries(r), el / (double)n * 1e9,
           (double)(rss_kb() - r0) / 1024.0, (double)peak_kb() / 1024.0);
    shield_ratelimit_free(r);
    shield_behaviour_free(b);
    return 0;
}

static struct shield *full_shield(bool challenge, struct shield_iplist **deny_out)
{
    static const uint8_t key[SHIELD_KEY_LEN] = {7};
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.block_tor = c.block_proxy = true;
    c.rate[0].per_sec = 1000, c.rate[0].burst = 2000; /* passes: we measure the cost */
    c.rate[1].per_sec = 1000, c.rate[1].burst = 2000, c.rate[1].key = SHIELD_RATE_KEY_PATH;
    c.rate[1].path_prefix = "/login";
    c.challenge = challenge;
    c.challenge_key = key;
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    if (!s) {
        fprintf(stderr, "shield_new: %s\n", err);
        exit(1);
    }
    double bs;
    size_t mem;
    struct shield_iplist *deny = big_list(1000000, &bs, &mem);
    shield_set_list(s, SHIELD_LIST_DENY, shield_iplist_ref(deny));
    const char tor[] = "185.220.101.1\n185.220.101.2\n185.220.101.3\n";
    shield_set_list(s, SHIELD_LIST_TOR, shield_iplist_load_buffer(tor, sizeof tor - 1, "tor", 0,
                                                                  err, sizeof err));
    const char allow[] = "192.0.2.10\n";
    shield_set_list(s, SHIELD_LIST_ALLOW, shield_iplist_load_buffer(allow, sizeof allow - 1,
                                                                    "allow", 0, err, sizeof err));
    const char adm[] = "192.0.2.0/28\n";
    shield_set_path_allow(s, "/admin", 6,
                          shield_iplist_load_buffer(adm, sizeof adm - 1, "adm", 0, err, sizeof err));
    *deny_out = deny;
    return s;
}

#define CLIENTS 4096

struct clients {
    struct shield_addr a[CLIENTS];
    char cookie[CLIENTS][160];
};

static void make_clients(struct clients *cl, const struct shield_iplist *deny, struct shield *s,
                         bool challenge)
{
    static const uint8_t key[SHIELD_KEY_LEN] = {7};
    struct shield_challenge *ch = challenge ? shield_challenge_new(key, 16, 3600, 300) : NULL;
    for (int i = 0; i < CLIENTS;) {
        struct shield_addr a = v4((uint32_t)next());
        if (shield_iplist_contains(deny, &a, NULL))
            continue;
        cl->a[i] = a;
        char v[100] = "";
        if (ch)
            shield_challenge_cookie(ch, &a, 0, v, sizeof v);
        snprintf(cl->cookie[i], sizeof cl->cookie[i], "theme=dark; mamori_pass=%s; sid=1", v);
        i++;
    }
    shield_challenge_free(ch);
    (void)s;
}

static double run_checks(struct shield *s, const struct clients *cl, long n, int *passed)
{
    struct shield_request r;
    memset(&r, 0, sizeof r);
    r.method = "GET", r.method_len = 3;
    r.path = "/shop/items/42", r.path_len = 14;
    r.accept = "text/html,application/xhtml+xml", r.accept_len = 32;
    struct shield_verdict v;
    int ok = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        int k = (int)(i % CLIENTS);
        r.addr = cl->a[k];
        r.cookie = cl->cookie[k], r.cookie_len = strlen(cl->cookie[k]);
        r.now_ms = 0; /* read the clock, as the proxy does */
        shield_check(s, &r, &v);
        ok += v.action == SHIELD_PASS;
    }
    *passed = ok;
    return now_s() - t0;
}

static int bench_check(void)
{
    for (int ch = 0; ch < 2; ch++) {
        struct shield_iplist *deny;
        struct shield *s = full_shield(ch, &deny);
        static struct clients cl;
        make_clients(&cl, deny, s, ch);
        int ok;
        run_checks(s, &cl, 200000, &ok); /* warm up */
        long n = ch ? 1000000 : 5000000;
        double t = run_checks(s, &cl, n, &ok);
        printf("check%s: %.0f ns per passing request (%d/%ld passed; deny list 1M entries, "
               "tor + allow lists, 1 path rule, 2 rate rules%s)\n",
               ch ? "+cookie" : "", t / (double)n * 1e9, ok, n, ch ? ", challenge cookie" : "");
        shield_iplist_unref(deny);
        shield_free(s);
    }
    return 0;
}

static int bench_verify(void)
{
    static const uint8_t key[SHIELD_KEY_LEN] = {9};
    struct shield_challenge *c = shield_challenge_new(key, 16, 3600, 300);
    struct shield_addr a = v4(0xc6336407);
    char nonce[96], cnt[24], ck[128];
    shield_challenge_nonce(c, &a, 0, nonce, sizeof nonce);
    unsigned long i = 0;
    double t0 = now_s();
    for (;; i++) {
        int n = snprintf(cnt, sizeof cnt, "%lu", i);
        if (shield_pow_zero_bits(nonce, 56, cnt, (size_t)n) >= 16)
            break;
    }
    double solve = now_s() - t0;
    enum { N = 200000 };
    size_t cn = strlen(cnt);
    int ok = 0;
    t0 = now_s();
    for (int k = 0; k < N; k++)
        ok += shield_challenge_verify(c, &a, nonce, 56, cnt, cn, 0);
    double tv = now_s() - t0;
    shield_challenge_cookie(c, &a, 0, ck, sizeof ck);
    t0 = now_s();
    for (int k = 0; k < N; k++)
        ok += shield_challenge_cookie_valid(c, &a, ck, strlen(ck), 0);
    double tc = now_s() - t0;
    printf("challenge: C client solved difficulty 16 in %lu tries (%.1f ms); verify %.2f us, "
           "cookie check %.2f us (%d ok)\n",
           i + 1, solve * 1e3, tv / N * 1e6, tc / N * 1e6, ok);
    shield_challenge_free(c);
    return 0;
}

struct targ {
    struct shield *s;
    const struct clients *cl;
    long n;
    double t;
    int ok;
};

static void *thr(void *p)
{
    struct targ *a = p;
    a->t = run_checks(a->s, a->cl, a->n, &a->ok);
    return NULL;
}

static int bench_threads(void)
{
    struct shield_iplist *deny;
    struct shield *s = full_shield(false, &deny);
    static struct clients cl;
    make_clients(&cl, deny, s, false);
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1)
        nt = 1;
    if (nt > 16)
        nt = 16;
    pthread_t th[16];
    struct targ ta[16];
    double t0 = now_s();
    for (long i = 0; i < nt; i++) {
        ta[i] = (struct targ){s, &cl, 2000000, 0, 0};
        pthread_create(&th[i], NULL, thr, &ta[i]);
    }
    for (long i = 0; i < nt; i++)
        pthread_join(th[i], NULL);
    double t = now_s() - t0;
    printf("threads: %ld threads, %.1f M checks/s in total\n", nt,
           (double)nt * 2000000.0 / t / 1e6);
    shield_iplist_unref(deny);
    shield_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "check";
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    size_t bound = argc > 3 ? strtoul(argv[3], NULL, 10) : 100000;
    if (!strcmp(what, "check"))
        return bench_check();
    if (!strcmp(what, "iplist"))
        return bench_iplist();
    if (!strcmp(what, "rate"))
        return bench_table(false, n, bound);
    if (!strcmp(what, "behav"))
        return bench_table(true, n, bound);
    if (!strcmp(what, "verify"))
        return bench_verify();
    if (!strcmp(what, "threads"))
        return bench_threads();
    fprintf(stderr, "usage: shield-bench check|iplist|rate N BOUND|behav N BOUND|verify|threads\n");
    return 2;
}
