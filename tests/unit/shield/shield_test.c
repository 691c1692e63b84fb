#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "shield/shield.h"
#include "shield/shield_int.h"
#include "../t.h"

static uint8_t tkey[SHIELD_KEY_LEN] = {1, 2, 3};

static struct shield_request req(const char *ip, const char *method, const char *path,
                                 const char *accept, uint64_t now)
{
    struct shield_request r;
    memset(&r, 0, sizeof r);
    shield_addr_parse(ip, strlen(ip), &r.addr);
    r.method = method, r.method_len = strlen(method);
    const char *q = strchr(path, '?');
    r.path = path, r.path_len = q ? (size_t)(q - path) : strlen(path);
    if (q)
        r.query = q + 1, r.query_len = strlen(q + 1);
    r.accept = accept, r.accept_len = strlen(accept);
    r.cookie = "", r.cookie_len = 0;
    r.now_ms = now;
    return r;
}

static struct shield_iplist *list(const char *txt)
{
    char err[128];
    return shield_iplist_load_buffer(txt, strlen(txt), "t", 0, err, sizeof err);
}

TEST(shield_order_lists_and_paths)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.block_tor = c.block_proxy = true;
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    shield_set_list(s, SHIELD_LIST_DENY, list("203.0.113.0/24 ; SBL1\n"));
    shield_set_list(s, SHIELD_LIST_TOR, list("185.220.101.1\n"));
    shield_set_list(s, SHIELD_LIST_ALLOW, list("192.0.2.10\n203.0.113.10\n"));
    CHECK_INT(shield_set_path_allow(s, "/admin/", 7, list("192.0.2.0/28\n")), 0);
    uint64_t t0 = 1700000000000ULL;
    struct shield_verdict v;
    struct shield_request r = req("198.51.100.1", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r = req("203.0.113.5", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_DENY);
    CHECK_STR(v.reason, "deny-list");
    CHECK_STR(v.tag, "SBL1");
    r = req("203.0.113.10", "GET", "/", "*/*", t0); /* allow wins over deny */
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS_ALLOWLISTED);
    r = req("185.220.101.1", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_STR(v.reason, "tor");
    /* Per-path allowlist, at segment boundaries. */
    r = req("198.51.100.1", "GET", "/admin", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_STR(v.reason, "path-allowlist");
    r = req("198.51.100.1", "POST", "/admin/users/1", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_STR(v.reason, "path-allowlist");
    r = req("198.51.100.1", "GET", "/administrator", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r = req("192.0.2.3", "GET", "/admin/x", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r = req("192.0.2.10", "GET", "/admin/x", "*/*", t0); /* trusted but not in /admin's list */
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS_ALLOWLISTED);
    r = req("203.0.113.10", "GET", "/admin", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_STR(v.reason, "path-allowlist");
    /* Swap the deny list at run time. */
    shield_set_list(s, SHIELD_LIST_DENY, list("198.51.100.1\n"));
    r = req("198.51.100.1", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_STR(v.reason, "deny-list");
    r = req("203.0.113.5", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    shield_set_list(s, SHIELD_LIST_DENY, NULL);
    r = req("198.51.100.1", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    shield_free(s);
}

TEST(shield_rate_limit_and_429_page)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.rate[0].per_sec = 2, c.rate[0].burst = 3;
    c.rate[1].per_sec = 1.0 / 60, c.rate[1].burst = 2, c.rate[1].key = SHIELD_RATE_KEY_PATH;
    c.rate[1].path_prefix = "/login";
    char err[128], buf[4096];
    struct shield *s = shield_new(&c, err, sizeof err);
    uint64_t t0 = 1700000000000ULL;
    struct shield_verdict v;
    struct shield_request r = req("198.51.100.1", "POST", "/login", "application/json", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r.now_ms += 1000;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r.now_ms += 1000;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_RATE_LIMITED);
    CHECK_INT(v.retry_after, 58);
    struct shield_response out;
    CHECK_INT(shield_render(s, &r, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 429);
    CHECK_STR(out.content_type, "application/json");
    CHECK(strstr(out.headers, "Retry-After: 58\r\n") != NULL);
    CHECK(strstr(buf, "\"retry_after\":58") != NULL);
    /* The general limit: 3 at once. */
    struct shield_request g = req("198.51.100.2", "GET", "/", "text/html,*/*", t0);
    for (int i = 0; i < 3; i++) {
        shield_check(s, &g, &v);
        CHECK_INT(v.action, SHIELD_PASS);
    }
    shield_check(s, &g, &v);
    CHECK_INT(v.action, SHIELD_RATE_LIMITED);
    CHECK_INT(shield_render(s, &g, &v, buf, sizeof buf, &out), 0);
    CHECK_STR(out.content_type, "text/html; charset=utf-8");
    CHECK(strstr(buf, "try again in 1 second") != NULL);
    shield_free(s);
}

TEST(shield_bad_behaviour_bans)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.behaviour.threshold = 30;
    c.behaviour.ban_s = 120;
    c.behaviour.max_entries = 1000;
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    shield_set_list(s, SHIELD_LIST_ALLOW, list("192.0.2.10\n"));
    uint64_t t0 = 1700000000000ULL;
    struct shield_addr a, trusted;
    shield_addr_parse("198.51.100.9", 12, &a);
    shield_addr_parse("192.0.2.10", 10, &trusted);
    CHECK_INT(shield_note_response(s, &a, 403, true, t0), 0);
    CHECK_INT(shield_note_response(s, &a, 403, true, t0 + 1), 0);
    CHECK_INT(shield_note_response(s, &a, 403, true, t0 + 2), 120);
    for (int i = 0; i < 10; i++)
        CHECK_INT(shield_note_response(s, &trusted, 403, true, t0), 0);
    struct shield_verdict v;
    struct shield_request r = req("198.51.100.9", "GET", "/", "*/*", t0 + 1000);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_DENY);
    CHECK_STR(v.reason, "banned");
    CHECK_INT(v.retry_after, 119);
    char buf[2048];
    struct shield_response out;
    CHECK_INT(shield_render(s, &r, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 403);
    CHECK(strstr(out.headers, "Retry-After: 119\r\n") != NULL);
    CHECK(strstr(buf, "\"reason\":\"banned\"") != NULL);
    shield_free(s);
}

static bool between(const char *s, const char *a, const char *b, char *out, size_t cap)
{
    const char *p = strstr(s, a);
    if (!p)
        return false;
    p += strlen(a);
    const char *e = strstr(p, b);
    if (!e || (size_t)(e - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return true;
}

/* The full round trip a browser makes, with a C client doing the work. */
TEST(shield_challenge_round_trip)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.challenge = true;
    c.challenge_difficulty = 12;
    c.challenge_key = tkey;
    char err[128], buf[16384];
    struct shield *s = shield_new(&c, err, sizeof err);
    uint64_t t0 = 1700000000000ULL;
    struct shield_verdict v;
    struct shield_response out;
    struct shield_request r = req("198.51.100.20", "GET", "/shop/cart?x=1",
                                  "text/html,application/xhtml+xml", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE);
    CHECK_INT(shield_render(s, &r, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 403);
    char nonce[128], ret[256];
    CHECK(between(buf, "var N=\"", "\"", nonce, sizeof nonce));
    CHECK(between(buf, "R=\"", "\"", ret, sizeof ret));
    CHECK_STR(ret, "/shop/cart?x=1");
    CHECK(strstr(buf, "D=12,") != NULL);
    /* An API client gets a status, not the page. */
    struct shield_request api = req("198.51.100.20", "GET", "/api/items", "application/json", t0);
    shield_check(s, &api, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE_FAIL);
    CHECK_INT(v.status, 403);
    /* Solve. */
    char cnt[24], url[512];
    unsigned long i = 0;
    for (;; i++) {
        int n = snprintf(cnt, sizeof cnt, "%lu", i);
        if (shield_pow_zero_bits(nonce, strlen(nonce), cnt, (size_t)n) >= 12)
            break;
    }
    snprintf(url, sizeof url, "%s?n=%s&c=%s&r=%%2Fshop%%2Fcart", SHIELD_CHALLENGE_PATH, nonce, cnt);
    struct shield_request sol = req("198.51.100.20", "GET", url, "text/html", t0 + 2000);
    shield_check(s, &sol, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE_SOLVED);
    CHECK_INT(shield_render(s, &sol, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 303);
    CHECK(strstr(out.headers, "Location: /shop/cart\r\n") != NULL);
    char cookie[256];
    CHECK(between(out.headers, "Set-Cookie: ", ";", cookie, sizeof cookie));
    CHECK(strncmp(cookie, "mamori_pass=", 12) == 0);
    /* With the cookie both pages and APIs pass. */
    char hdr[300];
    snprintf(hdr, sizeof hdr, "theme=dark; %s; x=y", cookie);
    r.cookie = hdr, r.cookie_len = strlen(hdr);
    r.now_ms = t0 + 5000;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    api.cookie = hdr, api.cookie_len = strlen(hdr);
    api.now_ms = t0 + 5000;
    shield_check(s, &api, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    /* Replayed from another address: challenged again. */
    struct shield_request other = req("198.51.100.21", "GET", "/", "text/html", t0 + 5000);
    other.cookie = hdr, other.cookie_len = strlen(hdr);
    shield_check(s, &other, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE);
    /* The solution itself replayed from another address fails. */
    struct shield_request sol2 = req("198.51.100.21", "GET", url, "text/html", t0 + 2000);
    shield_check(s, &sol2, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE_FAIL);
    /* ... and a browser is sent back to its page for a fresh puzzle,
     * without a cookie; a script just gets 403. */
    CHECK_INT(v.status, 303);
    CHECK_INT(shield_render(s, &sol2, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 303);
    CHECK(strstr(out.headers, "Location: /shop/cart\r\n") != NULL);
    CHECK(strstr(out.headers, "Set-Cookie") == NULL);
    sol2 = req("198.51.100.21", "GET", url, "*/*", t0 + 2000);
    shield_check(s, &sol2, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE_FAIL);
    CHECK_INT(v.status, 403);
    CHECK_INT(shield_render(s, &sol2, &v, buf, sizeof buf, &out), 0);
    CHECK_INT(out.status, 403);
    /* An expired nonce, same address. */
    sol2 = req("198.51.100.20", "GET", url, "text/html", t0 + 400000);
    shield_check(s, &sol2, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE_FAIL);
    /* Expired. */
    r.now_ms = t0 + 2000 + 3600 * 1000ULL + 1000;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE);
    /* Forged. */
    hdr[strlen(hdr) - 6] ^= 1;
    r.now_ms = t0 + 5000;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE);
    shield_free(s);
}

TEST(shield_challenge_open_redirect_and_injection)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.challenge = true;
    c.challenge_difficulty = 1;
    c.challenge_key = tkey;
    char err[128], buf[16384], nonce[96], url[512];
    struct shield *s = shield_new(&c, err, sizeof err);
    uint64_t t0 = 1700000000000ULL;
    struct shield_verdict v;
    struct shield_response out;
    static const char *rets[][2] = {
        {"%2F%2Fevil.example%2F", "/"},
        {"https%3A%2F%2Fevil.example", "/"},
        {"%2F%5Cevil.example", "/"},
        {"%2Fa%0D%0ASet-Cookie%3A+x%3D1", "/a%0D%0ASet-Cookie:%20x=1"},
        {"%2Fq%3Fa%3D1%26b%3D%3Cx%3E", "/q?a=1&b=%3Cx%3E"},
        {"", "/"},
    };
    for (size_t k = 0; k < sizeof rets / sizeof rets[0]; k++) {
        struct shield_addr a;
        shield_addr_parse("192.0.2.77", 10, &a);
        /* difficulty 1: a few tries at most */
        struct shield_challenge *ch = shield_challenge_new(tkey, 1, 3600, 300);
        shield_challenge_nonce(ch, &a, t0, nonce, sizeof nonce);
        shield_challenge_free(ch);
        char cnt[24];
        for (unsigned long i = 0;; i++) {
            int n = snprintf(cnt, sizeof cnt, "%lu", i);
            if (shield_pow_zero_bits(nonce, strlen(nonce), cnt, (size_t)n) >= 1)
                break;
        }
        snprintf(url, sizeof url, "%s?n=%s&c=%s&r=%s", SHIELD_CHALLENGE_PATH, nonce, cnt,
                 rets[k][0]);
        struct shield_request r = req("192.0.2.77", "GET", url, "text/html", t0);
        shield_check(s, &r, &v);
        CHECK_INT(v.action, SHIELD_CHALLENGE_SOLVED);
        CHECK_INT(shield_render(s, &r, &v, buf, sizeof buf, &out), 0);
        char loc[256];
        CHECK(between(out.headers, "Location: ", "\r\n", loc, sizeof loc));
        CHECK_STR(loc, rets[k][1]);
    }
    /* The page never echoes markup from the path. */
    struct shield_request r = req("192.0.2.78", "GET", "/\"</script><script>alert(1)//", "text/html", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_CHALLENGE);
    CHECK_INT(shield_render(s, &r, &v, buf, sizeof buf, &out), 0);
    CHECK(strstr(buf, "alert(1)") == NULL || strstr(buf, "<script>alert") == NULL);
    CHECK(strstr(buf, "%22%3C/script%3E") != NULL);
    shield_free(s);
}

TEST(shield_wants_html_accept)
{
    CHECK(shield_wants_html("text/html,application/xhtml+xml;q=0.9", 37));
    CHECK(!shield_wants_html("*/*", 3));
    CHECK(!shield_wants_html("application/json", 16));
    CHECK(!shield_wants_html("", 0));
    CHECK(shield_wants_html("TEXT/HTML", 9));
}

TEST(shield_path_normalize_table)
{
    static const char *cases[][2] = {
        {"/admin", "/admin"},
        {"/Admin/", "/admin"},
        {"//admin//x", "/admin/x"},
        {"/%61dmin", "/admin"},
        {"/%2561dmin", "/%61dmin"}, /* decoded once, like the backend */
        {"/a/./b/../admin", "/a/admin"},
        {"/x/../../admin", "/admin"},
        {"/admin;jsessionid=1/users", "/admin/users"},
        {"\\admin\\x", "/admin/x"},
        {"/admin%2fx", "/admin/x"},
        {"/admin%2", "/admin%2"},
        {"", "/"},
        {"/", "/"},
        {"/..", "/"},
        {"/a/b/..", "/a"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssize_t n = shield_path_normalize(cases[i][0], strlen(cases[i][0]), out, sizeof out);
        CHECK(n > 0);
        CHECK_STR(out, cases[i][1]);
    }
    char big[200];
    memset(big, 'a', sizeof big);
    big[0] = '/';
    CHECK_INT(shield_path_normalize(big, sizeof big, out, sizeof out), -1);
}

/* The classic ways around a path rule all land on the rule. */
TEST(shield_path_allowlist_bypass_attempts)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    CHECK_INT(shield_set_path_allow(s, "/Admin/", 7, list("192.0.2.0/28\n")), 0);
    CHECK_INT(shield_set_path_allow(s, "/api/internal", 13, list("10.0.0.0/8\n")), 0);
    CHECK_INT(shield_set_path_allow(s, "admin", 5, list("10.0.0.0/8\n")), -1);
    uint64_t t0 = 1700000000000ULL;
    static const char *attempts[] = {
        "/admin", "/ADMIN/x", "//admin", "/%61dmin/", "/./admin", "/x/../admin/users",
        "/admin;x=1", "\\admin", "/admin%2Fsettings", "/api/internal/../internal/keys",
        "/API/Internal",
    };
    struct shield_verdict v;
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        struct shield_request r = req("198.51.100.1", "GET", attempts[i], "*/*", t0);
        shield_check(s, &r, &v);
        if (v.action != SHIELD_DENY)
            printf("  not denied: %s\n", attempts[i]);
        CHECK_INT(v.action, SHIELD_DENY);
    }
    static const char *fine[] = {"/administrator", "/adminx/", "/api/internals", "/", "/api"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        struct shield_request r = req("198.51.100.1", "GET", fine[i], "*/*", t0);
        shield_check(s, &r, &v);
        CHECK_INT(v.action, SHIELD_PASS);
    }
    struct shield_request r = req("192.0.2.1", "GET", "//ADMIN/%2e%2e/admin/x", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    /* A path too long to normalize is refused when path rules exist. */
    static char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    r = req("192.0.2.1", "GET", longp, "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_DENY);
    shield_free(s);
}

TEST(shield_rate_limit_by_path_normalized_method_header)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.rate[0].per_sec = 1.0 / 60, c.rate[0].burst = 1, c.rate[0].key = SHIELD_RATE_KEY_PATH;
    c.rate[0].path_prefix = "/Login";
    c.rate[1].per_sec = 1.0 / 60, c.rate[1].burst = 2, c.rate[1].key = SHIELD_RATE_KEY_METHOD;
    c.rate[2].per_sec = 1.0 / 60, c.rate[2].burst = 3, c.rate[2].key = SHIELD_RATE_KEY_HEADER;
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    CHECK(s != NULL);
    uint64_t t0 = 1700000000000ULL;
    struct shield_verdict v;
    struct shield_request r = req("198.51.100.1", "POST", "/login", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r = req("198.51.100.1", "POST", "//LOGIN/", "*/*", t0); /* same bucket */
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_RATE_LIMITED);
    /* Method: 2 GETs then limited, POST is its own bucket (used once above
     * by the request that passed). */
    r = req("198.51.100.2", "GET", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_RATE_LIMITED);
    r = req("198.51.100.2", "PUT", "/", "*/*", t0);
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    /* Header (e.g. an API key): separate buckets per value. */
    for (int k = 0; k < 2; k++) {
        r = req("198.51.100.3", k ? "PUT" : "GET", "/", "*/*", t0);
        r.key_header = "key-A", r.key_header_len = 5;
        shield_check(s, &r, &v);
        CHECK_INT(v.action, SHIELD_PASS);
    }
    r = req("198.51.100.3", "DELETE", "/", "*/*", t0);
    r.key_header = "key-A", r.key_header_len = 5;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    r = req("198.51.100.3", "PATCH", "/", "*/*", t0);
    r.key_header = "key-A", r.key_header_len = 5;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_RATE_LIMITED);
    r.key_header = "key-B", r.key_header_len = 5;
    shield_check(s, &r, &v);
    CHECK_INT(v.action, SHIELD_PASS);
    c.rate[0].path_prefix = "login";
    CHECK(shield_new(&c, err, sizeof err) == NULL);
    CHECK_STR(err, "rate rule 0: a path prefix starting with '/' is needed");
    shield_free(s);
}

/* Thread-safety smoke test: workers check and report responses while the
 * main thread swaps the deny list and adds path rules. Entries present in
 * every generation must always be denied, clean addresses never. Run it
 * under -fsanitize=thread too (docs/shield.md). */
struct smoke {
    struct shield *s;
    int id;
    long wrong, checks;
};

static void *smoke_worker(void *p)
{
    struct smoke *w = p;
    uint64_t x = 0x1234567u + (uint64_t)w->id * 7919u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char ip[32];
        bool bad = x % 3 == 0;
        snprintf(ip, sizeof ip, bad ? "203.0.113.%u" : "198.51.%u.%u", (unsigned)(x >> 8) % 250,
                 (unsigned)(x >> 20) % 250 + 1);
        struct shield_request r = req(ip, "GET", (x & 16) ? "/admin/x" : "/", "*/*", 0);
        struct shield_verdict v;
        shield_check(w->s, &r, &v);
        w->checks++;
        bool denied_list = v.action == SHIELD_DENY && !strcmp(v.reason, "deny-list");
        if (bad != denied_list && v.action != SHIELD_RATE_LIMITED &&
            strcmp(v.reason, "path-allowlist") != 0)
            w->wrong++;
        shield_note_response(w->s, &r.addr, 404, false, 0);
    }
    return NULL;
}

TEST(shield_thread_safety_smoke)
{
    struct shield_config c;
    memset(&c, 0, sizeof c);
    c.rate[0].per_sec = 1e6, c.rate[0].burst = 1000000;
    c.rate_max_entries = 1000;
    c.behaviour.max_entries = 1000;
    c.behaviour.threshold = 1000000;
    char err[128];
    struct shield *s = shield_new(&c, err, sizeof err);
    shield_set_list(s, SHIELD_LIST_DENY, list("203.0.113.0/24\n"));
    enum { W = 4 };
    pthread_t th[W];
    struct smoke w[W];
    for (int i = 0; i < W; i++) {
        w[i] = (struct smoke){s, i, 0, 0};
        pthread_create(&th[i], NULL, smoke_worker, &w[i]);
    }
    for (int k = 0; k < 300; k++) {
        char txt[64];
        snprintf(txt, sizeof txt, "203.0.113.0/24\n10.%d.0.0/16\n", k % 250);
        shield_set_list(s, SHIELD_LIST_DENY, list(txt));
        if (k % 10 == 0) {
            char pre[32];
            int n = snprintf(pre, sizeof pre, "/p%d", k);
            shield_set_path_allow(s, pre, (size_t)n, list("192.0.2.1\n"));
        }
        if (k == 150)
            shield_set_path_allow(s, "/admin", 6, list("192.0.2.1\n"));
    }
    long wrong = 0, checks = 0;
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
        wrong += w[i].wrong;
        checks += w[i].checks;
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(checks, W * 20000);
    shield_free(s);
}
