/* The byte and encoding validators: @validateByteRange,
 * @validateUrlEncoding and @validateUtf8Encoding. Each check is a pure
 * function over (ptr, len) with no state; the operator "matches" when the
 * input is bad. */
#include <stdio.h>
#include <string.h>

#include "waf/matchers.h"

static void byterange_set(struct byterange *r, unsigned lo, unsigned hi)
{
    for (unsigned b = lo; b <= hi; b++)
        r->bits[b >> 6] |= 1ull << (b & 63);
}

static bool vr_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses a decimal byte value 0-255 from s[0..n) (blanks trimmed). */
static int vr_number(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    while (n && vr_blank(*s)) {
        s++;
        n--;
    }
    while (n && vr_blank(s[n - 1]))
        n--;
    if (n == 0 || n > 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 255)
        return -1;
    *out = v;
    return 0;
}

/* ModSecurity ignores items it cannot parse (and indexes out of its table
 * on values above 255); here every item must be "N" or "N-M" with
 * 0 <= N <= M <= 255, so a typo stops the rule load instead of silently
 * widening or narrowing the allowed set. */
int byterange_parse(const char *arg, size_t len, struct byterange *out, char *err, size_t errlen)
{
    struct byterange r = {{0, 0, 0, 0}};
    size_t i = 0;

    if (!arg || !out || len == 0) {
        snprintf(err, errlen, "empty range");
        return -1;
    }
    while (i <= len) {
        const char *comma = i < len ? memchr(arg + i, ',', len - i) : NULL;
        size_t end = comma ? (size_t)(comma - arg) : len;
        const char *item = arg + i;
        size_t ilen = end - i;
        const char *dash = memchr(item, '-', ilen);
        unsigned lo, hi;
        int ishow = (int)(ilen > 40 ? 40 : ilen);

        if (dash) {
            size_t dl = (size_t)(dash - item);
            if (vr_number(item, dl, &lo) < 0 || vr_number(dash + 1, ilen - dl - 1, &hi) < 0) {
                snprintf(err, errlen, "bad range '%.*s' (want N-M, 0-255)",
                         ishow, item);
                return -1;
            }
            if (lo > hi) {
                snprintf(err, errlen, "range '%.*s' is backwards", ishow, item);
                return -1;
            }
        } else {
            if (vr_number(item, ilen, &lo) < 0) {
                snprintf(err, errlen, "bad value '%.*s' (want 0-255)", ishow,
                         item);
                return -1;
            }
            hi = lo;
        }
        byterange_set(&r, lo, hi);
        i = end + 1;
    }
    *out = r;
    return 0;
}

bool byterange_violated(const struct byterange *r, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!r || !s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(r->bits[u[i] >> 6] >> (u[i] & 63) & 1))
            return true;
    return false;
}

static bool vu_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Every '%' must start "%XX" with two hex digits; a '%' with fewer than two
 * bytes after it fails too. "%u" forms are not URL encoding and fail, as in
 * ModSecurity. */
bool validate_url_encoding_fails(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (!s)
        return false;
    while (i < n) {
        const unsigned char *pct = memchr(u + i, '%', n - i);
        if (!pct)
            return false;
        i = (size_t)(pct - u);
        if (n - i < 3 || !vu_hex(u[i + 1]) || !vu_hex(u[i + 2]))
            return true;
        i += 3;
    }
    return false;
}

/* RFC 3629 well-formedness. Same verdicts as ModSecurity (truncated
 * sequences, bad continuation bytes, invalid lead bytes 0x80-0xBF and
 * 0xF5-0xFF, overlong forms including C0/C1, UTF-16 surrogates) plus one
 * it misses: F4 90..BF, i.e. code points above U+10FFFF, also fail. */
bool validate_utf8_fails(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (!s)
        return false;
    while (i < n) {
        unsigned char c = u[i];
        size_t need;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            need = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0 && c < 0xF5) {
            need = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return true;
        }
        if (n - i < need)
            return true;
        for (size_t k = 1; k < need; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return true;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return true;
        i += need;
    }
    return false;
}
