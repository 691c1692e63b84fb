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

#endif
