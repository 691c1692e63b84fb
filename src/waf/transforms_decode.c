/* Decoders and encoders of the SecLang transformations (URL, HTML, JS,
 * CSS, C escapes, UTF-8, hex, base64, hashes). See transforms.c for the
 * conventions; each function here matches libmodsecurity 3.0.9 byte for
 * byte, quirks included, and documents the quirks where they live. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>

#include "waf/transforms_int.h"

static const char hexdig[] = "0123456789abcdef";

/* ---- URL -------------------------------------------------------------- */

/* One '%' escape at s[i]; returns the position after it. */
static size_t url_escape(struct xw *w, const struct xform_unicode_map *map, bool uni,
                         const unsigned char *s, size_t n, size_t i)
{
    if (uni && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
        if (i + 5 < n && is_hex(s[i + 2]) && is_hex(s[i + 3]) && is_hex(s[i + 4]) &&
            is_hex(s[i + 5])) {
            unsigned cp = (unsigned)x2c(s + i + 2) << 8 | x2c(s + i + 4);
            unsigned char b;
            if (map && map->map[cp]) {
                b = (unsigned char)(map->map[cp] - 1);
            } else {
                b = x2c(s + i + 4);
                /* Full-width ASCII U+FF01..U+FF5E folds onto ASCII. */
                if (b > 0x00 && b < 0x5f && (s[i + 2] | 0x20) == 'f' && (s[i + 3] | 0x20) == 'f')
                    b = (unsigned char)(b + 0x20);
            }
            xw_put(w, b);
            return i + 6;
        }
        xw_put(w, s[i]);
        xw_put(w, s[i + 1]);
        return i + 2;
    }
    if (i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
        xw_put(w, x2c(s + i + 1));
        return i + 3;
    }
    xw_put(w, '%');
    return i + 1;
}

/* Copies s[i..) into the writer's buffer up to the next '%', turning '+'
 * into ' ', and returns the position of that '%' (or n). Form bodies have a
 * '+' every few bytes, so this goes eight bytes at a time: a '+' lane
 * (0x80 in the mask, 0x01 after the shift) times '+' ^ ' ' flips just
 * that byte. No bound checks: decoding never grows, so the output cursor
 * stays at or behind i and the buffer holds n bytes. */
static size_t url_copy_run(struct xw *w, const unsigned char *s, size_t n, size_t i)
{
    unsigned char *b = w->buf;
    size_t o = w->len;

    for (; i + 8 <= n; i += 8) {
        uint64_t x = xf_load8(s + i);
        if (xf_eq(x, '%'))
            break;
        xf_store8(b + o, x ^ ((xf_eq(x, '+') >> 7) * ('+' ^ ' ')));
        o += 8;
    }
    for (; i < n && s[i] != '%'; i++)
        b[o++] = s[i] == '+' ? ' ' : s[i];
    w->len = o;
    return i;
}

int xform_x_url_decode(const struct xform_env *env, bool uni, struct arena *a, const char *in,
                       size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    const struct xform_unicode_map *map = (uni && env) ? env->unicode : NULL;
    struct xw w;
    size_t i = xf_memchr2(s, 0, n, '%', '+');

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
    /* Each round handles the '%' or '+' at i, then the plain run after it:
     * while the output still equals the input the run costs nothing; once
     * they differ it is copied (with '+' as ' ') up to the next '%'. */
    while (i < n) {
        if (s[i] == '+') {
            xw_put(&w, ' ');
            i++;
        } else {
            i = url_escape(&w, map, uni, s, n, i);
        }
        if (w.buf) {
            i = url_copy_run(&w, s, n, i);
        } else {
            size_t j = xf_find2(s, i, n, '%', '+');
            xw_putn(&w, s + i, j - i);
            i = j;
        }
    }
    return xw_finish(&w, out, outlen);
}

static inline bool url_plain(unsigned char c)
{
    return c == '*' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int xform_x_url_encode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t esc = 0, spaces = 0, cap;

    for (size_t i = 0; i < n; i++) {
        esc += !url_plain(s[i]) && s[i] != ' ';
        spaces += s[i] == ' ';
    }
    if (esc == 0 && spaces == 0) {
        *out = in;
        *outlen = n;
        return 0;
    }
    /* Exact size: every escaped byte grows by two. */
    if (!mul_ok(esc, 2, &cap) || cap > SIZE_MAX - n)
        return -1;
    cap += n;
    xw_init(&w, a, in, n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == ' ') {
            xw_put(&w, '+');
        } else if (url_plain(c)) {
            xw_put(&w, c);
        } else {
            xw_put(&w, '%');
            xw_put(&w, (unsigned char)hexdig[c >> 4]);
            xw_put(&w, (unsigned char)hexdig[c & 15]);
        }
    }
    return xw_finish(&w, out, outlen);
}

/* ---- HTML entities ---------------------------------------------------- */

/* strtol() saturates on overflow and the result is then truncated to a
 * byte; ModSecurity does exactly this, so huge numbers decode to 0xff. */
static unsigned char entity_number(const unsigned char *p, size_t len, int base)
{
    char tmp[64];
    if (len >= sizeof(tmp)) {
        /* Any run this long overflows long (leading zeros aside). */
        size_t z = 0;
        while (z < len && p[z] == '0')
            z++;
        if (len - z >= sizeof(tmp) - 1)
            return base == 16 ? 0xff : (unsigned char)(int)LONG_MAX;
        p += z;
        len -= z;
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    long v = strtol(tmp, NULL, base);
    if (base == 10)
        return (unsigned char)(int)v; /* atoi() */
    return (unsigned char)v;
}

static int named_entity(const unsigned char *p, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
        unsigned char c;
    } ents[] = {
        {"quot", 4, '"'}, {"amp", 3, '&'}, {"lt", 2, '<'}, {"gt", 2, '>'}, {"nbsp", 4, 0xa0}};
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
        if (len == ents[i].len && strncasecmp((const char *)p, ents[i].name, len) == 0)
            return ents[i].c;
    return -1;
}

int xform_x_html_entity_decode(struct arena *a, const char *in, size_t n, const char **out,
                               size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = xf_next(s, 0, n, '&');

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
    /* Only an '&' can start anything: the runs between them go whole. */
    while (i < n) {
        if (s[i] != '&' || i + 1 >= n) {
            size_t j = xf_next(s, i + 1, n, '&');
            xw_putn(&w, s + i, j - i);
            i = j;
            continue;
        }
        size_t j, k;
        int c = -1;
        if (s[i + 1] == '#') {
            if (i + 2 < n && (s[i + 2] == 'x' || s[i + 2] == 'X')) {
                j = k = i + 3;
                while (j < n && is_hex(s[j]))
                    j++;
                if (j > k)
                    c = entity_number(s + k, j - k, 16);
            } else {
                j = k = i + 2;
                while (j < n && s[j] >= '0' && s[j] <= '9')
                    j++;
                if (j > k)
                    c = entity_number(s + k, j - k, 10);
            }
        } else {
            j = k = i + 1;
            while (j < n && isalnum(s[j]))
                j++;
            if (j > k)
                c = named_entity(s + k, j - k);
        }
        if (c < 0) {
            xw_put(&w, s[i++]);
            continue;
        }
        xw_put(&w, (unsigned char)c);
        i = (j < n && s[j] == ';') ? j + 1 : j;
    }
    return xw_finish(&w, out, outlen);
}

/* ---- JavaScript / CSS / C escapes ------------------------------------ */

int xform_x_js_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = xf_next(s, 0, n, '\\');

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
    while (i < n) {
        if (s[i] != '\\') {
            size_t j = xf_next(s, i + 1, n, '\\');
            xw_putn(&w, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 5 < n && s[i + 1] == 'u' && is_hex(s[i + 2]) && is_hex(s[i + 3]) &&
            is_hex(s[i + 4]) && is_hex(s[i + 5])) {
            unsigned char b = x2c(s + i + 4);
            if (b > 0x00 && b < 0x5f && (s[i + 2] | 0x20) == 'f' && (s[i + 3] | 0x20) == 'f')
                b = (unsigned char)(b + 0x20);
            xw_put(&w, b);
            i += 6;
        } else if (i + 3 < n && s[i + 1] == 'x' && is_hex(s[i + 2]) && is_hex(s[i + 3])) {
            xw_put(&w, x2c(s + i + 2));
            i += 4;
        } else if (i + 1 < n && is_odigit(s[i + 1])) {
            size_t j = 0;
            unsigned v = 0;
            while (i + 1 + j < n && j < 3) {
                j++;
                if (i + 1 + j >= n || !is_odigit(s[i + 1 + j]))
                    break;
            }
            /* Three digits only while the value still fits one byte. */
            if (j == 3 && s[i + 1] > '3')
                j = 2;
            for (size_t m = 0; m < j; m++)
                v = v * 8 + (unsigned)(s[i + 1 + m] - '0');
            xw_put(&w, (unsigned char)v);
            i += 1 + j;
        } else if (i + 1 < n) {
            unsigned char c = s[i + 1];
            switch (c) {
            case 'a': c = '\a'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'v': c = '\v'; break;
            default: break;
            }
            xw_put(&w, c);
            i += 2;
        } else {
            xw_put(&w, s[i++]);
        }
    }
    return xw_finish(&w, out, outlen);
}

int xform_x_css_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = xf_next(s, 0, n, '\\');

    /* ModSecurity decodes a C string here: everything from the first NUL on
     * is lost. */
    size_t z = xf_next(s, 0, n, 0);
    if (z == n && i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    n = z;
    if (i > n)
        i = n;
    xw_putn(&w, s, i);
    while (i < n) {
        if (s[i] != '\\') {
            size_t j = xf_next(s, i + 1, n, '\\');
            xw_putn(&w, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 1 >= n) { /* a trailing backslash is dropped */
            i++;
            continue;
        }
        i++;
        size_t j = 0;
        while (j < 6 && i + j < n && is_hex(s[i + j]))
            j++;
        if (j > 0) {
            unsigned char b;
            bool full = false;
            if (j == 1)
                b = (unsigned char)(hex_digit_raw(s[i]) & 0xff);
            else
                b = x2c(s + i + j - 2);
            if (j == 4 || (j == 5 && s[i] == '0') || (j == 6 && s[i] == '0' && s[i + 1] == '0'))
                full = true;
            if (full && b > 0x00 && b < 0x5f && (s[i + j - 3] | 0x20) == 'f' &&
                (s[i + j - 4] | 0x20) == 'f')
                b = (unsigned char)(b + 0x20);
            if (b == 0) /* the C string ends here */
                break;
            xw_put(&w, b);
            /* One whitespace after a hex escape belongs to the escape. */
            if (i + j < n && is_space(s[i + j]))
                j++;
            i += j;
        } else if (s[i] == '\n') {
            i++;
        } else {
            xw_put(&w, s[i++]);
        }
    }
    return xw_finish(&w, out, outlen);
}

int xform_x_escape_seq_decode(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = xf_next(s, 0, n, '\\');

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n) {
            size_t j = xf_next(s, i + 1, n, '\\');
            xw_putn(&w, s + i, j - i);
            i = j;
            continue;
        }
        int c = -1;
        switch (s[i + 1]) {
        case 'a': c = '\a'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'v': c = '\v'; break;
        case '\\': c = '\\'; break;
        case '?': c = '?'; break;
        case '\'': c = '\''; break;
        case '"': c = '"'; break;
        default: break;
        }
        if (c != -1) {
            i += 2;
        } else if (s[i + 1] == 'x' || s[i + 1] == 'X') {
            if (i + 3 < n && is_hex(s[i + 2]) && is_hex(s[i + 3])) {
                c = x2c(s + i + 2);
                i += 4;
            }
        } else if (is_odigit(s[i + 1])) {
            size_t j = 0;
            unsigned v = 0;
            while (i + 1 + j < n && j < 3) {
                v = v * 8 + (unsigned)(s[i + 1 + j] - '0');
                j++;
                if (i + 1 + j >= n || !is_odigit(s[i + 1 + j]))
                    break;
            }
            c = (int)(v & 0xff);
            i += 1 + j;
        }
        if (c == -1) {
            /* Unknown escape: the backslash goes, the byte stays. */
            xw_put(&w, s[i + 1]);
            i += 2;
        } else {
            xw_put(&w, (unsigned char)c);
        }
    }
    return xw_finish(&w, out, outlen);
}

/* ---- UTF-8 to %uXXXX -------------------------------------------------- */

/* One walk serves both passes: with w == NULL it only counts, so the output
 * can be allocated at its exact size (a loose 4x bound would waste most of
 * the arena on large bodies). */
static inline void u_put(struct xw *w, size_t *cnt, unsigned char c)
{
    if (w)
        xw_put(w, c);
    (*cnt)++;
}

/* "%u" and at least four lowercase hex digits, as printf("%x") pads here. */
static void u_put_cp(struct xw *w, size_t *cnt, unsigned d)
{
    unsigned char hex[8];
    size_t len = 0;
    do {
        hex[len++] = (unsigned char)hexdig[d & 15];
        d >>= 4;
    } while (d);
    while (len < 4)
        hex[len++] = '0';
    u_put(w, cnt, '%');
    u_put(w, cnt, 'u');
    while (len)
        u_put(w, cnt, hex[--len]);
}

static size_t utf8_walk(const unsigned char *s, size_t n, size_t i, struct xw *w)
{
    size_t cnt = i;
    while (i < n) {
        /* Plain ASCII (no NUL) is copied as is, a run at a time. */
        size_t j = i;
        while (j + 8 <= n && !xf_nul_or_high(xf_load8(s + j)))
            j += 8;
        while (j < n && s[j] != 0 && s[j] < 0x80)
            j++;
        if (j > i) {
            if (w)
                xw_putn(w, s + i, j - i);
            cnt += j - i;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = s[i];
        size_t left = n - i;
        int ulen = 0;
        unsigned d = 0;

        if (c == 0) {
            /* NULs are dropped (other ASCII was taken by the run above) */
        } else if ((c & 0xe0) == 0xc0) {
            /* Truncated or invalid sequences drop their lead byte. */
            if (left >= 2 && (s[i + 1] & 0xc0) == 0x80) {
                ulen = 2;
                d = (unsigned)(c & 0x1f) << 6 | (s[i + 1] & 0x3f);
                u_put_cp(w, &cnt, d);
            }
        } else if ((c & 0xf0) == 0xe0) {
            if (left >= 3 && (s[i + 1] & 0xc0) == 0x80 && (s[i + 2] & 0xc0) == 0x80) {
                ulen = 3;
                d = (unsigned)(c & 0x0f) << 12 | (unsigned)(s[i + 1] & 0x3f) << 6 |
                    (s[i + 2] & 0x3f);
                u_put_cp(w, &cnt, d);
            }
        } else if ((c & 0xf8) == 0xf0) {
            if (c >= 0xf5) /* beyond U+10FFFF: the lead byte is kept as well */
                u_put(w, &cnt, c);
            if (left >= 4 && (s[i + 1] & 0xc0) == 0x80 && (s[i + 2] & 0xc0) == 0x80 &&
                (s[i + 3] & 0xc0) == 0x80) {
                ulen = 4;
                d = (unsigned)(c & 0x07) << 18 | (unsigned)(s[i + 1] & 0x3f) << 12 |
                    (unsigned)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
                u_put_cp(w, &cnt, d);
            }
        } else {
            u_put(w, &cnt, c);
        }
        /* Surrogates and overlong forms are converted and then followed by
         * their raw lead byte. */
        if (d >= 0xd800 && d <= 0xdfff)
            u_put(w, &cnt, c);
        if ((ulen == 4 && d < 0x10000) || (ulen == 3 && d < 0x800) || (ulen == 2 && d < 0x80))
            u_put(w, &cnt, c);
        i += ulen > 0 ? (size_t)ulen : 1;
    }
    return cnt;
}

int xform_x_utf8_to_unicode(struct arena *a, const char *in, size_t n, const char **out,
                            size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = 0, cap;

    while (i + 8 <= n && !xf_nul_or_high(xf_load8(s + i)))
        i += 8;
    while (i < n && s[i] != 0 && s[i] < 0x80)
        i++;
    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    /* The count cannot pass 4n (7 output bytes per 2 input bytes at most);
     * checking that product keeps the counter from overflowing. */
    if (!mul_ok(n, 4, &cap))
        return -1;
    cap = utf8_walk(s, n, i, NULL);
    xw_init(&w, a, in, n, cap);
    xw_putn(&w, s, i);
    utf8_walk(s, n, i, &w);
    return xw_finish(&w, out, outlen);
}

/* ---- length, hashes, hex, base64 ------------------------------------- */

int xform_x_length(struct arena *a, size_t n, const char **out, size_t *outlen)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "%zu", n);
    char *b = arena_memdup(a, tmp, (size_t)len);
    if (!b)
        return -1;
    *out = b;
    *outlen = (size_t)len;
    return 1;
}

int xform_x_digest(bool sha1, struct arena *a, const char *in, size_t n, const char **out,
                   size_t *outlen)
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(in, n, dig, &dlen, sha1 ? EVP_sha1() : EVP_md5(), NULL))
        return -1;
    char *b = arena_memdup(a, dig, dlen);
    if (!b)
        return -1;
    *out = b;
    *outlen = dlen;
    return 1;
}

int xform_x_hex_encode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t cap;
    if (!mul_ok(n, 2, &cap) || cap == SIZE_MAX)
        return -1;
    if (n == 0) {
        *out = in;
        *outlen = 0;
        return 0;
    }
    char *b = arena_alloc(a, cap + 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++) {
        b[2 * i] = hexdig[s[i] >> 4];
        b[2 * i + 1] = hexdig[s[i] & 15];
    }
    b[cap] = '\0';
    *out = b;
    *outlen = cap;
    return 1;
}

int xform_x_hex_decode(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;

    xw_init(&w, a, in, n, n / 2);
    for (size_t j = 0; j + 1 < n; j += 2)
        xw_put(&w, x2c(s + j));
    return xw_finish(&w, out, outlen);
}

/* ModSecurity walks a C string here: it stops at the first NUL (input or
 * decoded), never looks at the last input byte, and after a run of hex
 * pairs copies the following byte without examining it. */
int xform_x_sql_hex_decode(struct arena *a, const char *in, size_t n, const char **out,
                           size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = 0;
#define AT(k) ((k) < n ? s[(k)] : 0)

    xw_init(&w, a, in, n, n);
    while (i + 1 < n && s[i] != 0) {
        if (s[i] == '0' && (s[i + 1] | 0x20) == 'x' && is_hex(AT(i + 2)) && is_hex(AT(i + 3))) {
            i += 2;
            while (is_hex(AT(i)) && is_hex(AT(i + 1))) {
                unsigned char b = x2c(s + i);
                if (b == 0)
                    goto done;
                xw_put(&w, b);
                i += 2;
            }
        }
        if (AT(i) == 0)
            break;
        xw_put(&w, s[i++]);
    }
done:
#undef AT
    return xw_finish(&w, out, outlen);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet bytes, 64 for '=', 127 otherwise; a table because
 * the decoders look up every byte. */
static const unsigned char b64tab[256] = {
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,  62, 127, 127, 127,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 127, 127, 127,  64, 127, 127,
    127,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 127, 127, 127, 127, 127,
    127,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
    127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127,
};

static inline unsigned char b64val(unsigned char c)
{
    return b64tab[c];
}

int xform_x_base64_encode(struct arena *a, const char *in, size_t n, const char **out,
                          size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t groups = n / 3 + (n % 3 != 0), cap;
    if (!mul_ok(groups, 4, &cap) || cap == SIZE_MAX)
        return -1;
    if (n == 0) {
        *out = in;
        *outlen = 0;
        return 0;
    }
    char *b = arena_alloc(a, cap + 1);
    if (!b)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        b[o++] = b64chars[v >> 18];
        b[o++] = b64chars[(v >> 12) & 63];
        b[o++] = b64chars[(v >> 6) & 63];
        b[o++] = b64chars[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        b[o++] = b64chars[v >> 18];
        b[o++] = b64chars[(v >> 12) & 63];
        b[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        b[o++] = '=';
    }
    b[o] = '\0';
    *out = b;
    *outlen = o;
    return 1;
}

/* Strict decoder (ModSecurity hands the input, up to its first NUL, to
 * mbedtls): any invalid byte makes the whole result empty; spaces are
 * allowed only next to line ends; '=' only at the end, at most two. */
int xform_x_base64_decode(struct arena *a, const char *in, size_t n, const char **out,
                          size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t slen = xf_next(s, 0, n, 0);
    size_t i, cnt = 0, pads = 0;

    for (i = 0; i < slen; i++) {
        /* The common case, alphabet bytes before any padding, counts as the
         * checks below would count them; eight at a time while it lasts
         * (the values are < 64 only if their OR is). */
        if (!pads) {
            while (slen - i >= 8 &&
                   (b64tab[s[i]] | b64tab[s[i + 1]] | b64tab[s[i + 2]] | b64tab[s[i + 3]] |
                    b64tab[s[i + 4]] | b64tab[s[i + 5]] | b64tab[s[i + 6]] |
                    b64tab[s[i + 7]]) < 64) {
                cnt += 8;
                i += 8;
            }
            if (i == slen)
                break;
            if (b64tab[s[i]] < 64) {
                cnt++;
                continue;
            }
        }
        size_t sp = 0;
        while (i < slen && s[i] == ' ') {
            i++;
            sp++;
        }
        if (i == slen)
            break;
        if (slen - i >= 2 && s[i] == '\r' && s[i + 1] == '\n')
            continue;
        if (s[i] == '\n')
            continue;
        if (sp)
            goto empty;
        unsigned char v = b64val(s[i]);
        if (v == 64 && ++pads > 2)
            goto empty;
        if (v == 127)
            goto empty;
        if (v < 64 && pads)
            goto empty;
        cnt++;
    }
    if (cnt == 0)
        goto empty;

    size_t cap = (cnt / 4) * 3 + 3, o = 0;
    unsigned char *b = arena_alloc(a, cap + 1);
    if (!b)
        return -1;
    unsigned x = 0, q = 0, keep = 3;
    for (i = 0; i < slen; i++) {
        /* A whole quantum of alphabet bytes, the usual case: no '=' can
         * have come before it (the checks above), so all three bytes go
         * out, and what it would leave in x is shifted out of the low 24
         * bits by the next quantum anyway. */
        if (q == 0 && slen - i >= 4) {
            unsigned v0 = b64tab[s[i]], v1 = b64tab[s[i + 1]], v2 = b64tab[s[i + 2]],
                     v3 = b64tab[s[i + 3]];
            if ((v0 | v1 | v2 | v3) < 64) {
                unsigned v = v0 << 18 | v1 << 12 | v2 << 6 | v3;
                b[o] = (unsigned char)(v >> 16);
                b[o + 1] = (unsigned char)(v >> 8);
                b[o + 2] = (unsigned char)v;
                o += 3;
                i += 3;
                continue;
            }
        }
        unsigned char v = b64tab[s[i]];
        if (v > 64) /* ' ', '\r' or '\n': the checks above allow nothing else */
            continue;
        if (v == 64)
            keep--;
        x = (x << 6) | (v & 0x3f);
        if (++q == 4) {
            q = 0;
            if (keep > 0)
                b[o++] = (unsigned char)(x >> 16);
            if (keep > 1)
                b[o++] = (unsigned char)(x >> 8);
            if (keep > 2)
                b[o++] = (unsigned char)x;
        }
    }
    /* Output that repeats the start of the input goes back as a slice of
     * it, as from the lazy writer the other transformations use. */
    if (o <= n && memcmp(b, s, o) == 0) {
        *out = in;
        *outlen = o;
        return o == n ? 0 : 1;
    }
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
empty:
    *out = in;
    *outlen = 0;
    return n == 0 ? 0 : 1;
}

/* Forgiving decoder: skips bytes outside the alphabet. A '=' in the second
 * position of a quantum that is not followed by another '=' aborts with an
 * empty result. ModSecurity then checks whether the last byte "was a pad"
 * by comparing its decoded value with '=' (61), so a final '9' (value 61)
 * counts as padding too; with a lone 6-bit group pending that also empties
 * the result. */
int xform_x_base64_decode_ext(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    unsigned q = 0;
    int last = 0;
    unsigned char cur = 0;

    xw_init(&w, a, in, n, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '=') {
            last = '=';
            if ((i + 1 >= n || s[i + 1] != '=') && q % 4 == 1)
                goto empty;
            continue;
        }
        unsigned char v = b64val(c);
        last = v >= 64 ? -1 : v;
        if (v >= 64)
            continue;
        switch (q % 4) {
        case 0: cur = (unsigned char)(v << 2); break;
        case 1:
            xw_put(&w, (unsigned char)(cur | v >> 4));
            cur = (unsigned char)((v & 0x0f) << 4);
            break;
        case 2:
            xw_put(&w, (unsigned char)(cur | v >> 2));
            cur = (unsigned char)((v & 0x03) << 6);
            break;
        default: xw_put(&w, (unsigned char)(cur | v)); break;
        }
        q++;
    }
    if (last == '=' && q % 4 == 1)
        goto empty;
    return xw_finish(&w, out, outlen);
empty:
    *out = in;
    *outlen = 0;
    return n == 0 ? 0 : 1;
}
