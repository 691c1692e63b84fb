/* Proof-of-work challenge and the pass cookie.
 *
 * Stateless: nothing is stored per client. A nonce is
 *   EXPIRY(8 hex, unix s) RAND(16 hex) MAC(32 hex)
 * where MAC = HMAC-SHA256(key, "n|" addrkey | EXPIRY | RAND | difficulty)
 * truncated to 128 bits, so the server recognises its own nonces for that
 * address until they expire. The client finds a decimal COUNTER such that
 * SHA-256(NONCE || COUNTER) starts with `difficulty` zero bits. A solved
 * nonce earns the cookie
 *   mamori_pass=EXPIRY.HEX(HMAC-SHA256(key, "c|" addrkey | EXPIRY))
 * (addrkey: the IPv4 address, or the /64 of an IPv6 one, so privacy
 * addresses that rotate inside a /64 keep their pass). MACs are compared
 * in constant time (CRYPTO_memcmp). HMAC is computed from precomputed
 * inner/outer SHA-256 states, so a cookie check is two short digests. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shield/shield_int.h"

#define NONCE_LEN 56

struct shield_challenge {
    EVP_MD_CTX *inner, *outer; /* SHA-256 after key^ipad / key^opad */
    unsigned difficulty, cookie_ttl_s, nonce_ttl_s;
};

static const char hexd[] = "0123456789abcdef";

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[b[i] >> 4];
        out[2 * i + 1] = hexd[b[i] & 15];
    }
}

static int unhex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int unhex(const char *s, size_t n, uint8_t *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int h = unhex_digit(s[2 * i]), l = unhex_digit(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

struct shield_challenge *shield_challenge_new(const uint8_t *key, unsigned difficulty,
                                              unsigned cookie_ttl_s, unsigned nonce_ttl_s)
{
    uint8_t k[SHIELD_KEY_LEN], pad[64];
    struct shield_challenge *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (key)
        memcpy(k, key, sizeof k);
    else if (RAND_bytes(k, sizeof k) != 1)
        goto fail;
    c->difficulty = difficulty ? (difficulty > 32 ? 32 : difficulty) : 16;
    c->cookie_ttl_s = cookie_ttl_s ? cookie_ttl_s : 3600;
    c->nonce_ttl_s = nonce_ttl_s ? nonce_ttl_s : 300;
    c->inner = EVP_MD_CTX_new();
    c->outer = EVP_MD_CTX_new();
    if (!c->inner || !c->outer)
        goto fail;
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < sizeof k; i++)
        pad[i] ^= k[i];
    if (!EVP_DigestInit_ex(c->inner, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c->inner, pad, sizeof pad))
        goto fail;
    memset(pad, 0x5c, sizeof pad);
    for (size_t i = 0; i < sizeof k; i++)
        pad[i] ^= k[i];
    if (!EVP_DigestInit_ex(c->outer, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c->outer, pad, sizeof pad))
        goto fail;
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    return c;
fail:
    OPENSSL_cleanse(k, sizeof k);
    shield_challenge_free(c);
    return NULL;
}

void shield_challenge_free(struct shield_challenge *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->inner);
    EVP_MD_CTX_free(c->outer);
    free(c);
}

unsigned shield_challenge_difficulty(const struct shield_challenge *c) { return c->difficulty; }
unsigned shield_challenge_cookie_ttl(const struct shield_challenge *c) { return c->cookie_ttl_s; }

int shield_challenge_read_key(const char *path, uint8_t key[SHIELD_KEY_LEN], char *err,
                              size_t errcap)
{
    uint8_t buf[130];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == SHIELD_KEY_LEN) {
        memcpy(key, buf, SHIELD_KEY_LEN);
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 2 * SHIELD_KEY_LEN && unhex((const char *)buf, n, key) == 0)
        return 0;
    snprintf(err, errcap, "%s: expected %d raw bytes or %d hex digits", path, SHIELD_KEY_LEN,
             2 * SHIELD_KEY_LEN);
    return -1;
}

/* HMAC-SHA256 of the concatenation of up to three parts. */
static int mac(const struct shield_challenge *c, const void *p1, size_t n1, const void *p2,
               size_t n2, const void *p3, size_t n3, uint8_t out[32])
{
    uint8_t in[32];
    unsigned len = 0;
    int ok = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x)
        return -1;
    if (EVP_MD_CTX_copy_ex(x, c->inner) && EVP_DigestUpdate(x, p1, n1) &&
        (!n2 || EVP_DigestUpdate(x, p2, n2)) && (!n3 || EVP_DigestUpdate(x, p3, n3)) &&
        EVP_DigestFinal_ex(x, in, &len) && EVP_MD_CTX_copy_ex(x, c->outer) &&
        EVP_DigestUpdate(x, in, sizeof in) && EVP_DigestFinal_ex(x, out, &len))
        ok = 1;
    EVP_MD_CTX_free(x);
    return ok ? 0 : -1;
}

static int nonce_mac(const struct shield_challenge *c, const struct shield_addr *a,
                     const char *body24, uint8_t out[32])
{
    uint8_t k[2 + 16 + 1];
    k[0] = 'n';
    k[1] = '|';
    shield_addr_key(a, k + 2);
    k[18] = (uint8_t)c->difficulty;
    return mac(c, k, sizeof k, body24, 24, NULL, 0, out);
}

int shield_challenge_nonce(const struct shield_challenge *c, const struct shield_addr *a,
                           uint64_t now_ms, char *out, size_t cap)
{
    uint8_t r[8], m[32];
    if (cap < NONCE_LEN + 1 || RAND_bytes(r, sizeof r) != 1)
        return -1;
    uint32_t exp = (uint32_t)(shield_now_ms(now_ms) / 1000u) + c->nonce_ttl_s;
    uint8_t eb[4] = {(uint8_t)(exp >> 24), (uint8_t)(exp >> 16), (uint8_t)(exp >> 8), (uint8_t)exp};
    hex(eb, 4, out);
    hex(r, 8, out + 8);
    if (nonce_mac(c, a, out, m))
        return -1;
    hex(m, 16, out + 24);
    out[NONCE_LEN] = 0;
    return 0;
}

unsigned shield_pow_zero_bits(const char *nonce, size_t nonce_n, const char *counter,
                              size_t counter_n)
{
    uint8_t md[32];
    unsigned len = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x)
        return 0;
    int ok = EVP_DigestInit_ex(x, EVP_sha256(), NULL) && EVP_DigestUpdate(x, nonce, nonce_n) &&
             EVP_DigestUpdate(x, counter, counter_n) && EVP_DigestFinal_ex(x, md, &len);
    EVP_MD_CTX_free(x);
    if (!ok)
        return 0;
    unsigned z = 0;
    for (int i = 0; i < 32; i++) {
        if (md[i] == 0) {
            z += 8;
            continue;
        }
        z += (unsigned)__builtin_clz(md[i]) - 24;
        break;
    }
    return z;
}

bool shield_challenge_verify(const struct shield_challenge *c, const struct shield_addr *a,
                             const char *nonce, size_t nonce_n, const char *counter,
                             size_t counter_n, uint64_t now_ms)
{
    uint8_t eb[4], given[16], m[32];
    if (nonce_n != NONCE_LEN || counter_n == 0 || counter_n > 20)
        return false;
    for (size_t i = 0; i < counter_n; i++)
        if (counter[i] < '0' || counter[i] > '9')
            return false;
    if (unhex(nonce, 8, eb) || unhex(nonce + 24, 32, given))
        return false;
    for (size_t i = 8; i < 24; i++)
        if (unhex_digit(nonce[i]) < 0)
            return false;
    uint32_t exp = (uint32_t)eb[0] << 24 | (uint32_t)eb[1] << 16 | (uint32_t)eb[2] << 8 | eb[3];
    if (exp <= (uint32_t)(shield_now_ms(now_ms) / 1000u))
        return false;
    if (nonce_mac(c, a, nonce, m) || CRYPTO_memcmp(m, given, sizeof given) != 0)
        return false;
    return shield_pow_zero_bits(nonce, nonce_n, counter, counter_n) >= c->difficulty;
}

static int cookie_mac(const struct shield_challenge *c, const struct shield_addr *a,
                      const char *exp, size_t exp_n, uint8_t out[32])
{
    uint8_t k[2 + 16 + 1];
    k[0] = 'c';
    k[1] = '|';
    shield_addr_key(a, k + 2);
    k[18] = '|';
    return mac(c, k, sizeof k, exp, exp_n, NULL, 0, out);
}

int shield_challenge_cookie(const struct shield_challenge *c, const struct shield_addr *a,
                            uint64_t now_ms, char *out, size_t cap)
{
    uint8_t m[32];
    char exp[24];
    int n = snprintf(exp, sizeof exp, "%lu",
                     (unsigned long)(shield_now_ms(now_ms) / 1000u + c->cookie_ttl_s));
    if (n <= 0 || (size_t)n + 1 + 64 + 1 > cap || cookie_mac(c, a, exp, (size_t)n, m))
        return -1;
    memcpy(out, exp, (size_t)n);
    out[n] = '.';
    hex(m, 32, out + n + 1);
    out[n + 65] = 0;
    return 0;
}

bool shield_challenge_cookie_valid(const struct shield_challenge *c, const struct shield_addr *a,
                                   const char *val, size_t n, uint64_t now_ms)
{
    const char *dot = memchr(val, '.', n);
    uint8_t given[32], m[32];
    if (!dot || dot == val || dot - val > 12 || (size_t)(val + n - dot - 1) != 64)
        return false;
    uint64_t exp = 0;
    for (const char *p = val; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return false;
        exp = exp * 10 + (uint64_t)(*p - '0');
    }
    if (exp <= shield_now_ms(now_ms) / 1000u)
        return false;
    if (unhex(dot + 1, 64, given) || cookie_mac(c, a, val, (size_t)(dot - val), m))
        return false;
    return CRYPTO_memcmp(given, m, sizeof m) == 0;
}
