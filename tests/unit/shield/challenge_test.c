#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shield/shield.h"
#include "../t.h"

static struct shield_addr A(const char *s)
{
    struct shield_addr a;
    shield_addr_parse(s, strlen(s), &a);
    return a;
}

static const uint8_t key[SHIELD_KEY_LEN] = "0123456789abcdef0123456789abcde";

/* The test client: what the page's JavaScript does. */
static unsigned long solve(const char *nonce, unsigned difficulty)
{
    char c[24];
    for (unsigned long i = 0;; i++) {
        int n = snprintf(c, sizeof c, "%lu", i);
        if (shield_pow_zero_bits(nonce, strlen(nonce), c, (size_t)n) >= difficulty)
            return i;
    }
}

TEST(challenge_nonce_solve_verify)
{
    struct shield_challenge *c = shield_challenge_new(key, 10, 3600, 300);
    struct shield_addr a = A("198.51.100.7"), other = A("198.51.100.8");
    uint64_t t0 = 1700000000000ULL;
    char nonce[96], cnt[24];
    CHECK_INT(shield_challenge_nonce(c, &a, t0, nonce, sizeof nonce), 0);
    CHECK_INT(strlen(nonce), 56);
    unsigned long sol = solve(nonce, 10);
    int n = snprintf(cnt, sizeof cnt, "%lu", sol);
    CHECK(shield_challenge_verify(c, &a, nonce, 56, cnt, (size_t)n, t0 + 1000));
    /* Another address cannot use this nonce. */
    CHECK(!shield_challenge_verify(c, &other, nonce, 56, cnt, (size_t)n, t0 + 1000));
    /* Expired nonce. */
    CHECK(!shield_challenge_verify(c, &a, nonce, 56, cnt, (size_t)n, t0 + 301000));
    /* A wrong counter (almost surely not a solution at 10 bits). */
    bool any_bad = false;
    for (unsigned long k = 1; k < 5 && !any_bad; k++) {
        n = snprintf(cnt, sizeof cnt, "%lu", sol + k);
        any_bad = !shield_challenge_verify(c, &a, nonce, 56, cnt, (size_t)n, t0 + 1000);
    }
    CHECK(any_bad);
    /* A nonce we did not sign. */
    char forged[96];
    memcpy(forged, nonce, sizeof forged);
    forged[10] = forged[10] == 'a' ? 'b' : 'a';
    sol = solve(forged, 10);
    n = snprintf(cnt, sizeof cnt, "%lu", sol);
    CHECK(!shield_challenge_verify(c, &a, forged, 56, cnt, (size_t)n, t0 + 1000));
    CHECK(!shield_challenge_verify(c, &a, "zz", 2, "1", 1, t0));
    shield_challenge_free(c);
}

TEST(challenge_cookie_forged_expired_other_ip)
{
    struct shield_challenge *c = shield_challenge_new(key, 8, 3600, 300);
    struct shield_addr a = A("2001:db8:5:6::10"), same64 = A("2001:db8:5:6::99"),
                       other = A("2001:db8:5:7::10"), v4 = A("192.0.2.1");
    uint64_t t0 = 1700000000000ULL;
    char ck[128];
    CHECK_INT(shield_challenge_cookie(c, &a, t0, ck, sizeof ck), 0);
    size_t n = strlen(ck);
    CHECK(shield_challenge_cookie_valid(c, &a, ck, n, t0 + 1000));
    CHECK(shield_challenge_cookie_valid(c, &same64, ck, n, t0 + 1000));
    CHECK(!shield_challenge_cookie_valid(c, &other, ck, n, t0 + 1000));
    CHECK(!shield_challenge_cookie_valid(c, &v4, ck, n, t0 + 1000));
    CHECK(!shield_challenge_cookie_valid(c, &a, ck, n, t0 + 3600000));
    /* Forged: flip a MAC digit; stretch the expiry. */
    char f[128];
    memcpy(f, ck, sizeof f);
    f[n - 1] = f[n - 1] == '0' ? '1' : '0';
    CHECK(!shield_challenge_cookie_valid(c, &a, f, n, t0 + 1000));
    memcpy(f, ck, sizeof f);
    f[0] = f[0] == '9' ? '8' : (char)(f[0] + 1);
    CHECK(!shield_challenge_cookie_valid(c, &a, f, n, t0 + 1000));
    CHECK(!shield_challenge_cookie_valid(c, &a, "", 0, t0));
    CHECK(!shield_challenge_cookie_valid(c, &a, "123.abc", 7, t0));
    /* Another server key. */
    uint8_t k2[SHIELD_KEY_LEN];
    memcpy(k2, key, sizeof k2);
    k2[0] ^= 1;
    struct shield_challenge *c2 = shield_challenge_new(k2, 8, 3600, 300);
    CHECK(!shield_challenge_cookie_valid(c2, &a, ck, n, t0 + 1000));
    shield_challenge_free(c2);
    shield_challenge_free(c);
}

TEST(challenge_key_file)
{
    char err[256];
    uint8_t k[SHIELD_KEY_LEN];
    const char *p = "/tmp/mamori-shield-test.key";
    FILE *f = fopen(p, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
    fclose(f);
    CHECK_INT(shield_challenge_read_key(p, k, err, sizeof err), 0);
    CHECK_INT(k[0], 0);
    CHECK_INT(k[31], 0x1f);
    f = fopen(p, "w");
    fputs("short\n", f);
    fclose(f);
    CHECK_INT(shield_challenge_read_key(p, k, err, sizeof err), -1);
    CHECK(strstr(err, "expected 32 raw bytes or 64 hex digits") != NULL);
    remove(p);
}

/* The page's own JavaScript solver, run by node when it is installed: its
 * answer must verify in C (catches a broken SHA-256 in the page). */
TEST(challenge_page_js_solver_with_node)
{
    if (access("/usr/bin/node", X_OK) != 0) {
        printf("  (challenge_page_js_solver_with_node skipped: no /usr/bin/node)\n");
        return;
    }
    struct shield_challenge *c = shield_challenge_new(key, 12, 3600, 300);
    struct shield_addr a = A("198.51.100.7");
    char nonce[96], page[16384];
    struct shield_response out;
    CHECK_INT(shield_challenge_nonce(c, &a, 0, nonce, sizeof nonce), 0);
    CHECK_INT(shield_page_challenge(nonce, 12, "/docs?a=1", 9, page, sizeof page, &out), 0);
    const char *s = strstr(page, "<script>"), *e = strstr(page, "</script>");
    CHECK(s && e);
    if (!s || !e) {
        shield_challenge_free(c);
        return;
    }
    s += 8;
    const char *js = "/tmp/mamori-shield-solver.js";
    FILE *f = fopen(js, "w");
    fputs("var location={replace:function(u){console.log(u);process.exit(0)}};"
          "var document={getElementById:function(){return {}}};"
          "var setTimeout=function(f){f()};\n", f);
    fwrite(s, 1, (size_t)(e - s), f);
    fclose(f);
    char cmd[128], url[512] = "";
    snprintf(cmd, sizeof cmd, "/usr/bin/node %s", js);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (p) {
        if (!fgets(url, sizeof url, p))
            url[0] = 0;
        pclose(p);
    }
    remove(js);
    /* /.mamori/challenge?n=NONCE&c=COUNTER&r=%2Fdocs%3Fa%3D1 */
    char want[200];
    snprintf(want, sizeof want, "%s?n=%s&c=", SHIELD_CHALLENGE_PATH, nonce);
    CHECK(strncmp(url, want, strlen(want)) == 0);
    const char *cs = url + strlen(want), *ce = strchr(cs, '&');
    CHECK(ce != NULL);
    if (ce) {
        CHECK(shield_challenge_verify(c, &a, nonce, 56, cs, (size_t)(ce - cs), 0));
        CHECK(strncmp(ce, "&r=%2Fdocs%3Fa%3D1", 18) == 0);
    }
    shield_challenge_free(c);
}
