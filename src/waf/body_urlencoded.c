/* application/x-www-form-urlencoded (and query-string) argument splitting,
 * with ModSecurity v3.0.9's exact rules:
 *
 *  - pieces are split on sep the way std::getline splits a stream: every
 *    separator ends a piece, so "a&&b" has an empty middle piece (it becomes
 *    an argument with empty name and value), but a trailing separator does
 *    not start a new piece and an empty input has none;
 *  - name and value split on the first '=', no '=' means an empty value;
 *  - '+' becomes a space, %XX with two hex digits becomes the byte, any
 *    other '%' stays literally and counts as one invalid escape
 *    (URLENCODED_ERROR).
 *
 * When the sink asks to stop (argument limit), later pieces are still
 * scanned so invalid escapes in them are counted: v3 keeps decoding after
 * its argument limit and only drops the arguments. */
#include "waf/body.h"

#include <stdlib.h>
#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..n) into dst (which has room for n bytes: decoding never
 * grows), returns the decoded length and adds bad escapes to *bad. */
static size_t decode(const char *src, size_t n, char *dst, unsigned *bad)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            int h1 = i + 1 < n ? hexval((unsigned char)src[i + 1]) : -1;
            int h2 = i + 2 < n ? hexval((unsigned char)src[i + 2]) : -1;
            if (h1 >= 0 && h2 >= 0) {
                dst[o++] = (char)(h1 * 16 + h2);
                i += 3;
                continue;
            }
            (*bad)++;
            dst[o++] = '%';
            i++;
            continue;
        }
        dst[o++] = c == '+' ? ' ' : (char)c;
        i++;
    }
    return o;
}

int body_urlencoded_parse(const char *p, size_t n, char sep, const struct body_sink *sink,
                          unsigned *invalid_escapes)
{
    unsigned bad = 0;
    int rc = 0;
    /* One scratch buffer the size of the input holds any piece's decoded
     * name and value side by side (decoding only shrinks). */
    char *scratch = NULL;

    if (n == 0)
        goto out;
    scratch = malloc(n);
    if (!scratch) {
        rc = -1;
        goto out;
    }

    size_t pos = 0;
    while (pos < n) {
        const char *piece = p + pos;
        const char *end = memchr(piece, sep, n - pos);
        size_t plen = end ? (size_t)(end - piece) : n - pos;
        pos += plen + (end ? 1 : 0);

        const char *eq = memchr(piece, '=', plen);
        size_t klen = eq ? (size_t)(eq - piece) : plen;
        const char *val = eq ? eq + 1 : piece + plen;
        size_t vlen = eq ? plen - klen - 1 : 0;

        size_t kd = decode(piece, klen, scratch, &bad);
        size_t vd = decode(val, vlen, scratch + kd, &bad);
        if (rc == 0 && sink && sink->arg)
            rc = sink->arg(sink->ctx, scratch, kd, scratch + kd, vd);
    }

out:
    if (invalid_escapes)
        *invalid_escapes = bad;
    free(scratch);
    return rc;
}
