/* Private to the transforms_*.c files: the lazy output writer, byte
 * helpers shared by the decoders, and the entry points the dispatcher in
 * transforms.c calls. Not part of the waf API. */
#ifndef MAMORI_WAF_TRANSFORMS_INT_H
#define MAMORI_WAF_TRANSFORMS_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "waf/transforms.h"

/* Lazy output writer. Invariant: while buf == NULL the output produced so
 * far is exactly in[0..len). */
struct xw {
    struct arena *a;
    const unsigned char *in;
    size_t inlen;
    unsigned char *buf;
    size_t cap; /* bound for this transformation's output */
    size_t len;
    bool oom;
};

static inline void xw_init(struct xw *w, struct arena *a, const char *in, size_t inlen, size_t cap)
{
    w->a = a;
    w->in = (const unsigned char *)in;
    w->inlen = inlen;
    w->buf = NULL;
    w->cap = cap;
    w->len = 0;
    w->oom = false;
}

/* Switches from prefix tracking to a real buffer. */
static inline bool xw_materialize(struct xw *w)
{
    if (w->oom)
        return false;
    /* +1 so callers can treat the result as a C string if they want. */
    if (w->cap == SIZE_MAX) {
        w->oom = true;
        return false;
    }
    w->buf = arena_alloc(w->a, w->cap + 1);
    if (!w->buf) {
        w->oom = true;
        return false;
    }
    if (w->len)
        memcpy(w->buf, w->in, w->len);
    return true;
}

static inline void xw_put(struct xw *w, unsigned char c)
{
    if (!w->buf) {
        if (w->len < w->inlen && w->in[w->len] == c) {
            w->len++;
            return;
        }
        if (!xw_materialize(w))
            return;
    }
    if (w->len >= w->cap) { /* bound violated: a bug, never overrun */
        w->oom = true;
        return;
    }
    w->buf[w->len++] = c;
}

static inline void xw_putn(struct xw *w, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (!w->buf) {
        if (p == w->in + w->len) {
            w->len += n;
            return;
        }
        while (n && w->len < w->inlen && w->in[w->len] == *p) {
            w->len++;
            p++;
            n--;
        }
        if (n == 0)
            return;
        if (!xw_materialize(w))
            return;
    }
    if (n > w->cap - w->len) {
        w->oom = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static inline int xw_finish(struct xw *w, const char **out, size_t *outlen)
{
    if (w->oom)
        return -1;
    if (!w->buf) {
        *out = (const char *)w->in;
        *outlen = w->len;
        return w->len == w->inlen ? 0 : 1;
    }
    w->buf[w->len] = '\0';
    *out = (const char *)w->buf;
    *outlen = w->len;
    return 1;
}

static inline bool mul_ok(size_t a, size_t b, size_t *r)
{
    if (b && a > SIZE_MAX / b)
        return false;
    *r = a * b;
    return true;
}

/* ---- character helpers ------------------------------------------------ */

static inline bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_odigit(unsigned char c)
{
    return c >= '0' && c <= '7';
}

/* ModSecurity's hex digit arithmetic, applied even to non-hex bytes (hexDecode
 * does not validate), so it must be reproduced for garbage too. */
static inline int hex_digit_raw(unsigned char c)
{
    return c >= 'A' ? ((c & 0xdf) - 'A') + 10 : (int)c - '0';
}

static inline unsigned char x2c(const unsigned char *p)
{
    return (unsigned char)(hex_digit_raw(p[0]) * 16 + hex_digit_raw(p[1]));
}

/* isspace() in the C locale. */
static inline bool is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- fast scanning ---------------------------------------------------- */

/* Most values a transformation sees are left alone (plain text, no
 * escapes), so every transformation first looks for the first byte it
 * would change, 8 bytes per step. A mask has 0x80 in each byte lane that
 * matches and 0 elsewhere; every lane is computed on its own (nothing
 * carries or borrows across lanes), so a mask is exact for all eight bytes,
 * not just the first hit, and can drive per-byte work. Lane k is the byte
 * at p + k on every host (xf_load8 puts memory order into numeric order). */
#define XF_L1 0x0101010101010101ULL
#define XF_L7 0x7f7f7f7f7f7f7f7fULL
#define XF_H8 0x8080808080808080ULL

static inline uint64_t xf_load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void xf_store8(unsigned char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* Lanes equal to c: a lane is zero when neither its low seven bits (which
 * carry into bit 7 when added to 0x7f) nor its bit 7 are set. */
static inline uint64_t xf_eq(uint64_t x, unsigned char c)
{
    uint64_t v = x ^ (XF_L1 * c);
    return ~(((v & XF_L7) + XF_L7) | v) & XF_H8;
}

/* Lanes in [lo, hi], 1 <= lo <= hi <= 0x7f. The sums stay below 0x100 per
 * lane because bit 7 is masked off first and then required clear. */
static inline uint64_t xf_range(uint64_t x, unsigned char lo, unsigned char hi)
{
    uint64_t t = x & XF_L7;
    uint64_t ge = t + XF_L1 * (unsigned char)(0x80 - lo);
    uint64_t gt = t + XF_L1 * (unsigned char)(0x7f - hi);
    return ge & ~gt & ~x & XF_H8;
}

/* Lanes that are NUL or >= 0x80. */
static inline uint64_t xf_nul_or_high(uint64_t x)
{
    return (x | ~((x & XF_L7) + XF_L7)) & XF_H8;
}

/* Index of the lowest lane set in a nonzero mask. */
static inline size_t xf_lane(uint64_t m)
{
    return (size_t)__builtin_ctzll(m) >> 3;
}

/* Lanes holding an isspace() byte: ' ' or \t \n \v \f \r. */
static inline uint64_t xf_space(uint64_t x)
{
    return xf_eq(x, ' ') | xf_range(x, '\t', '\r');
}

/* The first position >= i holding a or b, or n; cheap to call again and
 * again on short runs. */
static inline size_t xf_find2(const unsigned char *s, size_t i, size_t n, unsigned char a,
                              unsigned char b)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t x = xf_load8(s + i);
        uint64_t m = xf_eq(x, a) | xf_eq(x, b);
        if (m)
            return i + xf_lane(m);
    }
    for (; i < n; i++)
        if (s[i] == a || s[i] == b)
            return i;
    return n;
}

/* As xf_find2, for one byte. */
static inline size_t xf_find1(const unsigned char *s, size_t i, size_t n, unsigned char a)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t m = xf_eq(xf_load8(s + i), a);
        if (m)
            return i + xf_lane(m);
    }
    for (; i < n; i++)
        if (s[i] == a)
            return i;
    return n;
}

/* Below this many bytes a few word-at-a-time steps beat a call to memchr;
 * above it memchr (vectorised in libc) wins by far. */
#define XF_SHORT 64

/* The first position >= i holding c, or n: for markers ('&', '\\') that are
 * usually far apart or absent. */
static inline size_t xf_next(const unsigned char *s, size_t i, size_t n, unsigned char c)
{
    if (i >= n)
        return n;
    if (n - i <= XF_SHORT)
        return xf_find1(s, i, n, c);
    const unsigned char *p = memchr(s + i, c, n - i);
    return p ? (size_t)(p - s) : n;
}

/* The first position >= i holding a or b, or n. For one-off scans of a
 * whole value: on long values two memchr calls (the second bounded by the
 * first hit) beat any byte loop. Not for use in a loop (a missing a would
 * be searched for again on every call). */
static inline size_t xf_memchr2(const unsigned char *s, size_t i, size_t n, unsigned char a,
                                unsigned char b)
{
    if (i >= n)
        return n;
    if (n - i <= XF_SHORT)
        return xf_find2(s, i, n, a, b);
    const unsigned char *p = memchr(s + i, a, n - i);
    size_t lim = p ? (size_t)(p - s) : n;
    const unsigned char *q = lim > i ? memchr(s + i, b, lim - i) : NULL;
    return q ? (size_t)(q - s) : lim;
}

/* Entry points in transforms_decode.c. Each has xform_apply's contract
 * for one transformation. */
int xform_x_url_decode(const struct xform_env *env, bool uni, struct arena *a, const char *in,
                       size_t n, const char **out, size_t *outlen);
int xform_x_url_encode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen);
int xform_x_html_entity_decode(struct arena *a, const char *in, size_t n, const char **out,
                               size_t *outlen);
int xform_x_js_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen);
int xform_x_css_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen);
int xform_x_escape_seq_decode(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen);
int xform_x_utf8_to_unicode(struct arena *a, const char *in, size_t n, const char **out,
                            size_t *outlen);
int xform_x_length(struct arena *a, size_t n, const char **out, size_t *outlen);
/* sha1 when true, md5 otherwise; raw binary digest. */
int xform_x_digest(bool sha1, struct arena *a, const char *in, size_t n, const char **out,
                   size_t *outlen);
int xform_x_hex_encode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen);
int xform_x_hex_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen);
int xform_x_sql_hex_decode(struct arena *a, const char *in, size_t n, const char **out,
                           size_t *outlen);
int xform_x_base64_encode(struct arena *a, const char *in, size_t n, const char **out,
                          size_t *outlen);
int xform_x_base64_decode(struct arena *a, const char *in, size_t n, const char **out,
                          size_t *outlen);
int xform_x_base64_decode_ext(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen);

/* normalizePath's walk without the shortcut for values it would not change
 * (transforms.c; the unit tests check the shortcut against it). */
size_t xform_normalize_path_walk(bool win, unsigned char *buf, size_t n);

#endif
