/* One test stage -> the raw request bytes go-ftw sends.
 *
 * go-ftw's rules, restated (CRS's expectations were recorded with them, so
 * every byte matters):
 *  - encoded_request is base64 of the whole request and is sent as is;
 *  - otherwise "METHOD URI VERSION\r\n" with defaults GET, "/", "HTTP/1.1"
 *    (an explicit empty version leaves "GET / \r\n");
 *  - headers in go-ftw's order: the YAML map sorted by name, then whatever
 *    auto-completion appends;
 *  - with auto-completion and a non-empty body: Content-Type
 *    application/x-www-form-urlencoded when none is set, and a form body
 *    that shows no sign of being encoded already (no '%' and no '+') is
 *    encoded key by key the way Go's url.QueryEscape does;
 *  - a multipart/form-data body gets every LF replaced by CRLF (even an LF
 *    that already follows a CR), with or without auto-completion;
 *  - with auto-completion: "Connection: close" when no Connection header,
 *    and Content-Length when none is set and the body is non-empty or the
 *    method matches go-ftw's (unanchored-in-the-middle) `^POST|PUT|PATCH|DELETE$`. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crs.h"

#define MAX_EXTRA_HEADERS 3

static bool token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Go's textproto.CanonicalMIMEHeaderKey compared without allocating: names
 * with bytes outside the token set are left as they are. */
static bool canon_eq(const char *a, const char *b)
{
    bool a_tok = true, b_tok = true;
    for (const char *p = a; *p; p++)
        a_tok = a_tok && token_char((unsigned char)*p);
    for (const char *p = b; *p; p++)
        b_tok = b_tok && token_char((unsigned char)*p);
    if (!a_tok || !b_tok)
        return a_tok == b_tok ? strcmp(a, b) == 0 : false;
    /* Both canonicalise the same way; that equals ASCII case-insensitive
     * equality for token strings. */
    return strcasecmp(a, b) == 0;
}

struct hdr_view {
    const struct crs_stage *st;
    struct crs_kv extra[MAX_EXTRA_HEADERS];
    size_t nextra;
};

static bool has_any(const struct hdr_view *h, const char *name)
{
    for (size_t i = 0; i < h->st->nheaders; i++)
        if (canon_eq(h->st->headers[i].name, name))
            return true;
    for (size_t i = 0; i < h->nextra; i++)
        if (canon_eq(h->extra[i].name, name))
            return true;
    return false;
}

static bool value_matches(const char *v, const char *want, bool substring)
{
    if (!substring)
        return strcasecmp(v, want) == 0;
    return strcasestr(v, want) != NULL;
}

static bool has_value(const struct hdr_view *h, const char *name, const char *want, bool substring)
{
    for (size_t i = 0; i < h->st->nheaders; i++)
        if (canon_eq(h->st->headers[i].name, name) && value_matches(h->st->headers[i].value, want, substring))
            return true;
    for (size_t i = 0; i < h->nextra; i++)
        if (canon_eq(h->extra[i].name, name) && value_matches(h->extra[i].value, want, substring))
            return true;
    return false;
}

static int add_extra(struct hdr_view *h, const char *name, const char *value)
{
    if (h->nextra >= MAX_EXTRA_HEADERS)
        return -1;
    h->extra[h->nextra].name = name;
    h->extra[h->nextra].value = value;
    h->nextra++;
    return 0;
}

/* Go's url.QueryEscape: unreserved bytes stay, space becomes '+', the rest
 * becomes %XX with upper-case hex. */
static int query_escape(struct buf *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~')
            rc = buf_putc(out, (char)c);
        else if (c == ' ')
            rc = buf_putc(out, '+');
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(out, e, 3);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Splits on '&' and escapes each key and value; like go-ftw, an empty
 * last token (a trailing '&') is dropped. */
static int form_encode(struct buf *out, const char *d, size_t n)
{
    const char *p = d, *e = d + n;
    bool first = true;
    while (p < e) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        const char *tend = amp ? amp : e;
        if (!first && buf_putc(out, '&') < 0)
            return -1;
        first = false;
        const char *eq = memchr(p, '=', (size_t)(tend - p));
        if (!eq) {
            if (query_escape(out, p, (size_t)(tend - p)) < 0)
                return -1;
        } else if (query_escape(out, p, (size_t)(eq - p)) < 0 || buf_putc(out, '=') < 0 ||
                   query_escape(out, eq + 1, (size_t)(tend - eq - 1)) < 0)
            return -1;
        p = amp ? amp + 1 : e;
    }
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Go's base64.StdEncoding.DecodeString: padding required, CR and LF
 * ignored anywhere, anything else invalid. */
static int b64_decode(const char *s, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0, pad = 0;
    size_t nsym = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n')
            continue;
        nsym++;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
                return -1;
        }
    }
    if (nsym % 4 != 0 || pad > 2)
        return -1;
    return 0;
}

static bool method_wants_length(const char *m)
{
    size_t n = strlen(m);
    return strncmp(m, "POST", 4) == 0 || strstr(m, "PUT") || strstr(m, "PATCH") ||
           (n >= 6 && strcmp(m + n - 6, "DELETE") == 0);
}

static int put_header(struct buf *out, const char *name, const char *value)
{
    return buf_puts(out, name) < 0 || buf_append(out, ": ", 2) < 0 || buf_puts(out, value) < 0 ||
                   buf_append(out, "\r\n", 2) < 0
               ? -1
               : 0;
}

int crs_request_build(const struct crs_stage *st, struct buf *out, char *err, size_t errlen)
{
    struct buf body;
    buf_init(&body, out->max);
    char clen[32];
    int rc = -1;

    if (st->encoded_request && *st->encoded_request) {
        if (st->has_data && st->data_len) {
            snprintf(err, errlen, "'data' and 'encoded_request' must not be set simultaneously");
            goto out;
        }
        if (b64_decode(st->encoded_request, out) < 0) {
            snprintf(err, errlen, "encoded_request is not valid base64");
            goto out;
        }
        rc = 0;
        goto out;
    }

    const char *method = st->method ? st->method : "GET";
    if (buf_printf(out, "%s %s %s\r\n", method, st->uri ? st->uri : "/",
                   st->version ? st->version : "HTTP/1.1") < 0)
        goto too_big;

    struct hdr_view h = {.st = st};
    if (st->has_data && st->data_len && buf_append(&body, st->data, st->data_len) < 0)
        goto too_big;

    if (body.len && st->autocomplete) {
        if (!has_any(&h, "Content-Type"))
            add_extra(&h, "Content-Type", "application/x-www-form-urlencoded");
        if (has_value(&h, "Content-Type", "application/x-www-form-urlencoded", false) &&
            !memchr(body.p, '%', body.len) && !memchr(body.p, '+', body.len)) {
            struct buf enc;
            buf_init(&enc, out->max);
            int erc = form_encode(&enc, body.p, body.len);
            if (erc == 0) {
                buf_free(&body);
                body = enc;
            } else {
                buf_free(&enc);
                goto too_big;
            }
        }
    }

    if (body.len && has_value(&h, "Content-Type", "multipart/form-data;", true)) {
        struct buf crlf;
        buf_init(&crlf, out->max);
        for (size_t i = 0; i < body.len; i++) {
            int prc = body.p[i] == '\n' ? buf_append(&crlf, "\r\n", 2) : buf_putc(&crlf, body.p[i]);
            if (prc < 0) {
                buf_free(&crlf);
                goto too_big;
            }
        }
        buf_free(&body);
        body = crlf;
    }

    if (st->autocomplete) {
        if (!has_any(&h, "Connection"))
            add_extra(&h, "Connection", "close");
        if (!has_any(&h, "Content-Length") && (body.len || method_wants_length(method))) {
            snprintf(clen, sizeof clen, "%zu", body.len);
            add_extra(&h, "Content-Length", clen);
        }
    }

    for (size_t i = 0; i < st->nheaders; i++)
        if (put_header(out, st->headers[i].name, st->headers[i].value) < 0)
            goto too_big;
    for (size_t i = 0; i < h.nextra; i++)
        if (put_header(out, h.extra[i].name, h.extra[i].value) < 0)
            goto too_big;
    if (buf_append(out, "\r\n", 2) < 0 || (body.len && buf_append(out, body.p, body.len) < 0))
        goto too_big;
    rc = 0;
    goto out;
too_big:
    snprintf(err, errlen, "request larger than %zu bytes", out->max);
out:
    buf_free(&body);
    return rc;
}
