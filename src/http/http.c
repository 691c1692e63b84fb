/* HTTP/1.1 request and response heads (RFC 9110, RFC 9112).
 *
 * The parser is stateless between calls: every call re-reads the head from
 * byte 0, which keeps it simple and makes "fed in pieces" and "fed whole"
 * give the same answer by construction. Heads are small (bounded by
 * max_head_bytes) and a caller only calls again when new bytes arrived, so
 * the re-scan costs little.
 *
 * Determinism rule: every decision depends only on bytes before the point
 * where it is taken, and limits are checked at fixed positions (the window
 * is cut at max_head_bytes, the request line at max_request_line + line
 * end). A prefix of a message therefore yields either AGAIN or the same
 * result as the whole message. The unit tests and the fuzz target check it. */
#include "http/http.h"

#include <limits.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Character classes, one bit each (generated once from the RFC 9110
 * grammar; see docs/internals/http.md). */
enum {
    C_TCHAR = 0x01,  /* token: ALPHA DIGIT !#$%&'*+-.^_`|~ */
    C_FVAL = 0x02,   /* field value: VCHAR, obs-text, SP, HT */
    C_TARGET = 0x04, /* request-target: VCHAR, obs-text */
    C_HEX = 0x08,
    C_HOST = 0x10,   /* Host / authority: unreserved, sub-delims, ":[]%" */
    C_SCHEME = 0x20, /* ALPHA DIGIT + - . */
    C_RLINE = 0x40,  /* request/status line: C_TARGET plus SP */
};

static const unsigned char cls[256] = {
    /* 00 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 10 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 20 */ 0x42, 0x57, 0x46, 0x47, 0x57, 0x57, 0x57, 0x57, 0x56, 0x56, 0x57, 0x77, 0x56, 0x77, 0x77, 0x46,
    /* 30 */ 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x56, 0x56, 0x46, 0x56, 0x46, 0x46,
    /* 40 */ 0x46, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77,
    /* 50 */ 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x56, 0x46, 0x56, 0x47, 0x57,
    /* 60 */ 0x47, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77,
    /* 70 */ 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x46, 0x47, 0x46, 0x57, 0x00,
    /* 80 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* 90 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* a0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* b0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* c0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* d0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* e0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    /* f0 */ 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
};

static inline unsigned char cl(const char *b, size_t i) { return cls[(unsigned char)b[i]]; }
static inline bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

void http_limits_default(struct http_limits *l)
{
    l->max_request_line = 8192;
    l->max_head_bytes = 65536;
    l->max_headers = 100;
}

/* ASCII-only case-insensitive compare of a slice with a lower-case literal;
 * independent of the C locale. */
static bool ieq_lit(const char *p, size_t n, const char *lit, size_t litn)
{
    if (n != litn)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch + 32);
        if (ch != (unsigned char)lit[i])
            return false;
    }
    return true;
}
#define IEQ(p, n, lit) ieq_lit((p), (n), lit, sizeof(lit) - 1)

const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name)
{
    if (!h || !name)
        return NULL;
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (h[i].name.n != nl)
            continue;
        size_t k = 0;
        for (; k < nl; k++) {
            unsigned char a = (unsigned char)h[i].name.p[k], b = (unsigned char)name[k];
            if (a >= 'A' && a <= 'Z')
                a = (unsigned char)(a + 32);
            if (b >= 'A' && b <= 'Z')
                b = (unsigned char)(b + 32);
            if (a != b)
                break;
        }
        if (k == nl)
            return &h[i];
    }
    return NULL;
}

/* One parse call. Invariant: the parser never reads at or past `win`. */
struct pstate {
    const char *buf;
    size_t len;  /* bytes the caller has */
    size_t win;  /* min(len, max_head_bytes) */
    size_t max_rl;
    size_t cap;  /* header slots: min(max_hdrs, max_headers) */
    size_t n;    /* headers stored */
    struct http_header *hdrs;
    struct http_error *err;
    enum http_mode mode;
    bool resp;   /* parsing a response: every error answers 502 */
};

static int fail(struct pstate *s, int status, const char *reason, size_t off)
{
    /* A bad response is the origin's fault: the proxy answers 502. */
    s->err->status = s->resp ? 502 : status;
    s->err->reason = reason;
    s->err->offset = off;
    return HTTP_PARSE_ERROR;
}

/* Ran out of bytes inside the window. If the window was cut by
 * max_head_bytes the head can never complete within the limit. */
static int need_more(struct pstate *s)
{
    if (s->len > s->win)
        return fail(s, 431, s->resp ? "response head too large" : "request head too large", s->win);
    return HTTP_PARSE_AGAIN;
}

#if defined(__SSE2__)
/* Index of the first control byte (0x00-0x1f) or DEL at or after i, looking
 * 16 bytes at a time; stops early (returning i' < lim) when fewer than 16
 * bytes are left. Everything it skips is valid in a start line and in a
 * field value, so the scalar loop only runs near line ends and on HT. */
static size_t skip_plain(const char *b, size_t i, size_t lim)
{
    const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    while (lim - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
        int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
        i += 16;
    }
    return i;
}
#endif

enum { LINE_OK, LINE_AGAIN, LINE_LONG, LINE_BAD };

/* Finds the end of the line starting at `start`, whose content may hold at
 * most `maxc` bytes. Strict: content bytes must be in class `allow` and the
 * line ends with CRLF. Lenient: everything up to LF is content, one CR
 * before the LF is dropped. On LINE_BAD the error is already set. */
static int scan_line(struct pstate *s, size_t start, size_t maxc, unsigned char allow,
                     size_t *cend, size_t *next)
{
    const char *b = s->buf;
    size_t lim = s->win;
    bool capped = false;
    /* Look at no more than maxc content bytes plus a 2-byte line end, so
     * the verdict does not depend on how many bytes follow. */
    if (maxc < SIZE_MAX - 2 && maxc + 2 <= s->win - start) {
        lim = start + maxc + 2;
        capped = true;
    }
    if (s->mode == HTTP_LENIENT) {
        const char *nl = memchr(b + start, '\n', lim - start);
        if (!nl)
            return capped ? LINE_LONG : LINE_AGAIN;
        size_t j = (size_t)(nl - b), ce = j;
        if (ce > start && b[ce - 1] == '\r')
            ce--;
        if (ce - start > maxc)
            return LINE_LONG;
        *cend = ce;
        *next = j + 1;
        return LINE_OK;
    }
    size_t i = start;
    for (;;) {
#if defined(__SSE2__)
        /* Only valid for classes that admit every non-control byte. */
        if (allow & (C_FVAL | C_RLINE))
            i = skip_plain(b, i, lim);
#endif
        if (i >= lim || !(cl(b, i) & allow))
            break;
        i++;
    }
    if (i - start > maxc)
        return LINE_LONG;
    if (i == lim)
        return LINE_AGAIN;
    if (b[i] == '\r') {
        if (i + 1 >= s->win)
            return LINE_AGAIN;
        if (b[i + 1] == '\n') {
            *cend = i;
            *next = i + 2;
            return LINE_OK;
        }
        fail(s, 400, "bare CR", i);
        return LINE_BAD;
    }
    if (b[i] == '\n')
        fail(s, 400, "bare LF line end", i);
    else if (b[i] == '\0')
        fail(s, 400, "NUL byte", i);
    else
        fail(s, 400, "control character", i);
    return LINE_BAD;
}

/* Skips empty lines before the start line (RFC 9112 2.2 lets a server
 * ignore them; some clients send a CRLF after a POST body). Bounded, so a
 * peer cannot make a read loop re-parse an ever longer run of them (see
 * http_head_ready). */
#define MAX_LEADING_EMPTY 8
static int skip_leading_empty(struct pstate *s, size_t *pos)
{
    size_t i = 0;
    for (int k = 0;; k++) {
        if (k > MAX_LEADING_EMPTY)
            return fail(s, 400, "too many empty lines before the start line", i);
        if (i >= s->win)
            return need_more(s);
        if (s->buf[i] == '\r') {
            if (i + 1 >= s->win)
                return need_more(s);
            if (s->buf[i + 1] != '\n')
                break; /* the start-line parser reports it */
            i += 2;
        } else if (s->buf[i] == '\n' && s->mode == HTTP_LENIENT) {
            i++;
        } else {
            break;
        }
    }
    *pos = i;
    return HTTP_PARSE_OK;
}

bool http_head_ready(const char *buf, size_t len, size_t max_head, size_t *scan)
{
    size_t i = *scan;
    if (len >= max_head)
        return true;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl)
            break;
        size_t j = (size_t)(nl - buf);
        i = j + 1;
        /* LF LF or LF CR LF: an empty line after some line. */
        if ((j >= 1 && buf[j - 1] == '\n') || (j >= 2 && buf[j - 1] == '\r' && buf[j - 2] == '\n')) {
            *scan = i;
            return true;
        }
    }
    /* Every LF before len has been judged (its look-back bytes were all
     * there), so the next call only needs to look at new bytes. */
    *scan = len;
    return false;
}

/* Reads the start line. On OK [*ls, *le) is its content and *next the byte
 * after its line end. */
static int read_start_line(struct pstate *s, size_t *ls, size_t *le, size_t *next)
{
    int rc = skip_leading_empty(s, ls);
    if (rc != HTTP_PARSE_OK)
        return rc;
    switch (scan_line(s, *ls, s->max_rl, C_RLINE, le, next)) {
    case LINE_OK:
        return HTTP_PARSE_OK;
    case LINE_AGAIN:
        return need_more(s);
    case LINE_LONG:
        return fail(s, 414, s->resp ? "status line too long" : "request line too long",
                    *ls + s->max_rl);
    default:
        return HTTP_PARSE_ERROR;
    }
}

static int add_header(struct pstate *s, size_t ns, size_t ne, size_t vs, size_t ve)
{
    if (s->n >= s->cap)
        return fail(s, 431, "too many header fields", ns);
    while (vs < ve && is_ows(s->buf[vs]))
        vs++;
    while (ve > vs && is_ows(s->buf[ve - 1]))
        ve--;
    s->hdrs[s->n].name = str_make(s->buf + ns, ne - ns);
    s->hdrs[s->n].value = str_make(s->buf + vs, ve - vs);
    s->n++;
    return HTTP_PARSE_OK;
}

/* Strict field lines: token ":" OWS value OWS CRLF, nothing else. */
static int parse_headers_strict(struct pstate *s, size_t pos, size_t *head_len)
{
    const char *b = s->buf;
    for (;;) {
        if (pos >= s->win)
            return need_more(s);
        char c0 = b[pos];
        if (c0 == '\r') {
            if (pos + 1 >= s->win)
                return need_more(s);
            if (b[pos + 1] != '\n')
                return fail(s, 400, "bare CR", pos);
            *head_len = pos + 2;
            return HTTP_PARSE_OK;
        }
        if (is_ows(c0))
            /* Before the first field this is the RFC 9112 2.2 "whitespace
             * after start line" case; after it, obs-fold. Both are classic
             * smuggling vectors and must be rejected by a proxy. */
            return fail(s, 400, s->n ? "obsolete line folding" : "whitespace before first header field",
                        pos);
        size_t i = pos;
        while (i < s->win && (cl(b, i) & C_TCHAR))
            i++;
        if (i >= s->win)
            return need_more(s);
        if (b[i] != ':') {
            if (is_ows(b[i]))
                return fail(s, 400, "whitespace between header name and colon", i);
            if (i == pos && (b[i] == '\n'))
                return fail(s, 400, "bare LF line end", i);
            if (i == pos)
                return fail(s, 400, "invalid header name", i);
            if (b[i] == '\r' || b[i] == '\n')
                return fail(s, 400, "header line without colon", i);
            return fail(s, 400, "invalid character in header name", i);
        }
        if (i == pos)
            return fail(s, 400, "empty header name", i);
        size_t vs = i + 1, ve, next;
        switch (scan_line(s, vs, SIZE_MAX, C_FVAL, &ve, &next)) {
        case LINE_OK:
            break;
        case LINE_AGAIN:
            return need_more(s);
        default:
            return HTTP_PARSE_ERROR; /* LINE_LONG cannot happen without a cap */
        }
        int rc = add_header(s, pos, i, vs, ve);
        if (rc != HTTP_PARSE_OK)
            return rc;
        pos = next;
    }
}

/* Lenient field lines, the way a permissive server reads them: LF or CRLF,
 * any bytes in names and values, lines without a colon skipped, obs-fold
 * appended to the previous value (raw: the slice then spans the fold). */
static int parse_headers_lenient(struct pstate *s, size_t pos, size_t *head_len)
{
    const char *b = s->buf;
    bool prev_is_field = false;
    for (;;) {
        size_t ce, next;
        if (scan_line(s, pos, SIZE_MAX, 0, &ce, &next) != LINE_OK)
            return need_more(s);
        if (ce == pos) {
            *head_len = next;
            return HTTP_PARSE_OK;
        }
        if (is_ows(b[pos])) {
            if (prev_is_field) {
                struct http_header *h = &s->hdrs[s->n - 1];
                size_t ve = ce;
                while (ve > pos && is_ows(b[ve - 1]))
                    ve--;
                if (ve > pos) {
                    if (h->value.n == 0) {
                        size_t vs = pos;
                        while (vs < ve && is_ows(b[vs]))
                            vs++;
                        h->value = str_make(b + vs, ve - vs);
                    } else {
                        h->value.n = (size_t)(b + ve - h->value.p);
                    }
                }
            }
            pos = next;
            continue;
        }
        const char *colon = memchr(b + pos, ':', ce - pos);
        if (!colon) {
            prev_is_field = false;
            pos = next;
            continue;
        }
        size_t ci = (size_t)(colon - b), ne = ci;
        while (ne > pos && is_ows(b[ne - 1]))
            ne--;
        int rc = add_header(s, pos, ne, ci + 1, ce);
        if (rc != HTTP_PARSE_OK)
            return rc;
        prev_is_field = true;
        pos = next;
    }
}

static int parse_headers(struct pstate *s, size_t pos, size_t *head_len)
{
    return s->mode == HTTP_STRICT ? parse_headers_strict(s, pos, head_len)
                                  : parse_headers_lenient(s, pos, head_len);
}

/* "HTTP/" DIGIT "." DIGIT -> minor 0/1; -1 a well-formed other version;
 * -2 not a version at all. */
static int version_minor(const char *p, size_t n)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
        p[7] < '0' || p[7] > '9')
        return -2;
    if (p[5] == '1' && (p[7] == '0' || p[7] == '1'))
        return p[7] - '0';
    return -1;
}

/* Splits [ps, pe) into path (up to '?' or '#') and query (after '?', up to '#'). */
static void split_path_query(struct http_request *r, const char *ps, const char *pe)
{
    const char *q = ps;
    while (q < pe && *q != '?' && *q != '#')
        q++;
    r->path = str_make(ps, (size_t)(q - ps));
    r->query = str_make(q, 0);
    if (q < pe && *q == '?') {
        const char *qs = q + 1, *qe = qs;
        while (qe < pe && *qe != '#')
            qe++;
        r->query = str_make(qs, (size_t)(qe - qs));
    }
}

/* host [":" port], every byte a C_HOST byte, no userinfo. */
static bool authority_ok(const char *p, size_t n, bool need_port)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(cls[(unsigned char)p[i]] & C_HOST))
            return false;
    if (!need_port)
        return true;
    size_t c = n;
    while (c > 0 && p[c - 1] != ':')
        c--;
    if (c < 2 || n - c == 0 || n - c > 5) /* need a host before ':' and 1-5 port digits */
        return false;
    for (size_t i = c; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Length of "scheme://" at p, 0 if there is none. */
static size_t scheme_prefix(const char *p, size_t n)
{
    if (n == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
        return 0;
    size_t i = 1;
    while (i < n && (cls[(unsigned char)p[i]] & C_SCHEME))
        i++;
    if (n - i < 3 || memcmp(p + i, "://", 3) != 0)
        return 0;
    return i + 3;
}

/* Classifies the request-target; in strict mode a target that fits no form
 * (or the wrong form for the method) is an error. */
static int classify_target(struct pstate *s, struct http_request *r)
{
    const char *t = r->target.p;
    size_t n = r->target.n;
    bool strict = s->mode == HTTP_STRICT;
    bool is_connect = r->method.n == 7 && memcmp(r->method.p, "CONNECT", 7) == 0;
    size_t off = (size_t)(t - s->buf);

    /* A fragment never belongs in a request-target (RFC 9112 3.2); a
     * server that drops it and one that keeps it would see different
     * paths, so the strict edge refuses it. */
    const char *frag = memchr(t, '#', n);
    if (strict && frag)
        return fail(s, 400, "fragment in request-target", (size_t)(frag - s->buf));

    if (n > 0 && t[0] == '/') {
        if (strict && is_connect)
            return fail(s, 400, "CONNECT needs an authority-form target", off);
        r->form = HTTP_FORM_ORIGIN;
        split_path_query(r, t, t + n);
        return HTTP_PARSE_OK;
    }
    if (n == 1 && t[0] == '*') {
        if (strict && !(r->method.n == 7 && memcmp(r->method.p, "OPTIONS", 7) == 0))
            return fail(s, 400, "asterisk-form target outside OPTIONS", off);
        r->form = HTTP_FORM_ASTERISK;
        r->path = r->target;
        r->query = str_make(t + n, 0);
        return HTTP_PARSE_OK;
    }
    if (is_connect) {
        if (strict && !authority_ok(t, n, true))
            return fail(s, 400, "invalid authority-form target", off);
        r->form = HTTP_FORM_AUTHORITY;
        r->authority = r->target;
        r->path = str_make(t + n, 0);
        r->query = str_make(t + n, 0);
        return HTTP_PARSE_OK;
    }
    size_t sp = scheme_prefix(t, n);
    if (sp) {
        size_t ae = sp;
        while (ae < n && t[ae] != '/' && t[ae] != '?' && t[ae] != '#')
            ae++;
        if (strict && !authority_ok(t + sp, ae - sp, false))
            return fail(s, 400, "invalid authority in absolute-form target", off + sp);
        r->form = HTTP_FORM_ABSOLUTE;
        r->authority = str_make(t + sp, ae - sp);
        split_path_query(r, t + ae, t + n);
        return HTTP_PARSE_OK;
    }
    if (strict)
        return fail(s, 400, "invalid request-target", off);
    r->form = HTTP_FORM_OTHER;
    split_path_query(r, t, t + n);
    return HTTP_PARSE_OK;
}

static int request_line_strict(struct pstate *s, size_t ls, size_t le, struct http_request *r)
{
    const char *b = s->buf;
    size_t i = ls;
    /* scan_line admitted only visible bytes, obs-text and SP here. */
    while (i < le && (cl(b, i) & C_TCHAR))
        i++;
    if (i == ls)
        return fail(s, 400, i < le && b[i] == ' ' ? "whitespace before method" : "invalid method", ls);
    if (i == le)
        return fail(s, 400, "missing request-target", i);
    if (b[i] != ' ')
        return fail(s, 400, "invalid character in method", i);
    r->method = str_make(b + ls, i - ls);
    size_t ts = ++i;
    while (i < le && b[i] != ' ')
        i++;
    if (i == ts)
        return fail(s, 400, ts == le ? "missing request-target" : "extra whitespace in request line", ts);
    r->target = str_make(b + ts, i - ts);
    if (i == le)
        return fail(s, 400, "missing HTTP version", i);
    size_t vs = i + 1;
    r->version = str_make(b + vs, le - vs);
    int minor = version_minor(b + vs, le - vs);
    if (minor == -2)
        return fail(s, 400, vs == le || b[vs] == ' ' ? "extra whitespace in request line"
                                                     : "invalid HTTP version",
                    vs);
    if (minor < 0)
        return fail(s, 505, "HTTP version not supported", vs);
    r->version_minor = minor;
    return classify_target(s, r);
}

/* Lenient: words split on runs of SP/HT; the last word is the version if it
 * starts with "HTTP/", everything between method and version is the target
 * (so "GET /a b HTTP/1.1" has target "/a b"). */
static int request_line_lenient(struct pstate *s, size_t ls, size_t le, struct http_request *r)
{
    const char *b = s->buf;
    size_t i = ls;
    while (i < le && is_ows(b[i]))
        i++;
    if (i == le)
        return fail(s, 400, "no request line", ls);
    size_t ms = i;
    while (i < le && !is_ows(b[i]))
        i++;
    r->method = str_make(b + ms, i - ms);
    while (i < le && is_ows(b[i]))
        i++;
    size_t re = le;
    while (re > i && is_ows(b[re - 1]))
        re--;
    size_t ts = i, te = re;
    size_t w = re;
    while (w > ts && !is_ows(b[w - 1]))
        w--;
    if (re - w >= 5 && IEQ(b + w, 5, "http/")) {
        r->version = str_make(b + w, re - w);
        te = w;
        while (te > ts && is_ows(b[te - 1]))
            te--;
    } else {
        r->version = str_make(b + re, 0);
    }
    r->target = str_make(b + ts, te - ts);
    int minor = version_minor(r->version.p, r->version.n);
    r->version_minor = minor >= 0 ? minor : -1;
    return classify_target(s, r);
}

/* Header fields that decide framing and connection reuse. */
struct framing {
    int64_t cl;
    bool cl_seen, te_seen, te_bad, te_last_chunked;
    size_t te_chunked, te_other;
    size_t cl_off, te_off;
    size_t nhost, host2_off;
    bool host_empty;
    bool conn_close, conn_keep;
};

/* 1*DIGIT into *v; false on anything else or overflow. */
static bool parse_cl(const char *p, size_t n, int64_t *v)
{
    if (n == 0)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        int d = p[i] - '0';
        if (x > (INT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* Comma-list iterator (RFC 9110 5.6.1): stores the next non-empty,
 * OWS-trimmed element of [*p, end) in *e and advances *p past it. */
static bool list_next(const char **p, const char *end, struct str *e)
{
    while (*p < end) {
        const char *c = memchr(*p, ',', (size_t)(end - *p));
        const char *s = *p, *t = c ? c : end;
        *p = c ? c + 1 : end;
        while (s < t && is_ows(*s))
            s++;
        while (t > s && is_ows(t[-1]))
            t--;
        if (t > s) {
            *e = str_make(s, (size_t)(t - s));
            return true;
        }
    }
    return false;
}

static int scan_framing(struct pstate *s, struct framing *f)
{
    bool strict = s->mode == HTTP_STRICT;
    for (size_t k = 0; k < s->n; k++) {
        const struct http_header *h = &s->hdrs[k];
        size_t off = (size_t)(h->name.p - s->buf);
        switch (h->name.n) {
        case 4:
            if (IEQ(h->name.p, 4, "host")) {
                if (++f->nhost == 2)
                    f->host2_off = off;
                f->host_empty = h->value.n == 0;
                if (strict && h->value.n && !authority_ok(h->value.p, h->value.n, false))
                    return fail(s, 400, "invalid Host", off);
            }
            break;
        case 10:
            if (IEQ(h->name.p, 10, "connection")) {
                const char *lp = h->value.p, *lend = h->value.p + h->value.n;
                struct str e;
                while (list_next(&lp, lend, &e)) {
                    if (IEQ(e.p, e.n, "close"))
                        f->conn_close = true;
                    else if (IEQ(e.p, e.n, "keep-alive"))
                        f->conn_keep = true;
                }
            }
            break;
        case 14:
            if (IEQ(h->name.p, 14, "content-length")) {
                int64_t v;
                bool ok = parse_cl(h->value.p, h->value.n, &v);
                if (strict) {
                    /* Even an identical duplicate is refused: some peer
                     * may fold it into "5, 5" and read it differently. */
                    if (f->cl_seen)
                        return fail(s, 400, "duplicate Content-Length", off);
                    if (!ok)
                        return fail(s, 400, "invalid Content-Length", off);
                }
                if (ok && !f->cl_seen) {
                    f->cl = v;
                    f->cl_seen = true;
                    f->cl_off = off;
                }
            }
            break;
        case 17:
            if (IEQ(h->name.p, 17, "transfer-encoding")) {
                if (!f->te_seen)
                    f->te_off = off;
                f->te_seen = true;
                const char *lp = h->value.p, *lend = h->value.p + h->value.n;
                struct str e;
                while (list_next(&lp, lend, &e)) {
                    size_t tn = 0;
                    while (tn < e.n && (cls[(unsigned char)e.p[tn]] & C_TCHAR))
                        tn++;
                    /* Parameters or junk: strict refuses it, lenient
                     * judges the coding by its name. */
                    if (tn != e.n)
                        f->te_bad = true;
                    if (IEQ(e.p, tn, "chunked")) {
                        f->te_chunked++;
                        f->te_last_chunked = true;
                    } else {
                        f->te_other++;
                        f->te_last_chunked = false;
                    }
                }
            }
            break;
        default:
            break;
        }
    }
    return HTTP_PARSE_OK;
}

/* Strict framing rules shared by requests and responses (RFC 9112 6). */
static int check_te_strict(struct pstate *s, const struct framing *f, int minor)
{
    if (!f->te_seen)
        return HTTP_PARSE_OK;
    if (f->te_bad || f->te_chunked + f->te_other == 0)
        return fail(s, 400, "invalid Transfer-Encoding", f->te_off);
    if (f->cl_seen)
        return fail(s, 400, "both Content-Length and Transfer-Encoding", f->te_off);
    if (minor == 0)
        return fail(s, 400, "Transfer-Encoding in an HTTP/1.0 message", f->te_off);
    if (s->resp)
        return HTTP_PARSE_OK; /* a response may end a non-chunked coding by close */
    if (!f->te_last_chunked)
        return fail(s, 400, "final transfer coding is not chunked", f->te_off);
    if (f->te_chunked > 1)
        return fail(s, 400, "chunked applied more than once", f->te_off);
    if (f->te_other)
        return fail(s, 501, "unsupported transfer coding", f->te_off);
    return HTTP_PARSE_OK;
}

static bool keep_alive_for(int minor, const struct framing *f)
{
    if (f->conn_close || minor < 0)
        return false;
    return minor == 1 || f->conn_keep;
}

static void pstate_init(struct pstate *s, const char *buf, size_t len, enum http_mode mode,
                        const struct http_limits *lim, struct http_header *hdrs, size_t max_hdrs,
                        struct http_error *err, bool resp)
{
    s->buf = buf;
    s->len = len;
    s->win = len < lim->max_head_bytes ? len : lim->max_head_bytes;
    s->max_rl = lim->max_request_line;
    s->cap = max_hdrs < lim->max_headers ? max_hdrs : lim->max_headers;
    s->n = 0;
    s->hdrs = hdrs;
    s->err = err;
    s->mode = mode;
    s->resp = resp;
}

/* The common start of both head parsers: defaults for NULL limits and
 * error, a cleared error, and the parser state over (buf, len). */
static void parse_begin(struct pstate *s, const char *buf, size_t len, enum http_mode mode,
                        const struct http_limits **lim, struct http_limits *dl,
                        struct http_error **err, struct http_error *dummy,
                        struct http_header *hdrs, size_t max_hdrs, bool response)
{
    if (!*lim) {
        http_limits_default(dl);
        *lim = dl;
    }
    if (!*err)
        *err = dummy;
    (*err)->status = 0;
    (*err)->reason = NULL;
    (*err)->offset = 0;
    if (!buf)
        len = 0;
    if (!hdrs)
        max_hdrs = 0;
    pstate_init(s, buf, len, mode, *lim, hdrs, max_hdrs, *err, response);
}

int http_parse_request_head(const char *buf, size_t len, enum http_mode mode,
                            const struct http_limits *lim, struct http_header *hdrs,
                            size_t max_hdrs, struct http_request *out, struct http_error *err)
{
    struct http_limits dl;
    struct http_error dummy;
    struct pstate s;
    struct framing f = {.cl = -1};
    size_t ls, le, pos, head_len = 0;
    int rc;

    parse_begin(&s, buf, len, mode, &lim, &dl, &err, &dummy, hdrs, max_hdrs, false);
    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    out->version_minor = -1;
    out->headers = hdrs;

    rc = read_start_line(&s, &ls, &le, &pos);
    if (rc != HTTP_PARSE_OK)
        goto out;
    out->line = str_make(buf + ls, le - ls);
    rc = mode == HTTP_STRICT ? request_line_strict(&s, ls, le, out)
                             : request_line_lenient(&s, ls, le, out);
    if (rc != HTTP_PARSE_OK)
        goto out;
    rc = parse_headers(&s, pos, &head_len);
    out->nheaders = s.n;
    if (rc != HTTP_PARSE_OK)
        goto out;
    rc = scan_framing(&s, &f);
    if (rc != HTTP_PARSE_OK)
        goto out;
    if (mode == HTTP_STRICT) {
        rc = check_te_strict(&s, &f, out->version_minor);
        if (rc != HTTP_PARSE_OK)
            goto out;
        if (f.nhost > 1) {
            rc = fail(&s, 400, "more than one Host", f.host2_off);
            goto out;
        }
        if (out->version_minor == 1 && f.nhost == 1 && f.host_empty && out->form != HTTP_FORM_ABSOLUTE) {
            /* with an origin-form target, an empty Host leaves the request
             * without an authority (RFC 9112 3.2) */
            rc = fail(&s, 400, "empty Host", ls);
            goto out;
        }
        if (out->version_minor == 1 && f.nhost == 0) {
            rc = fail(&s, 400, "HTTP/1.1 request without Host", ls);
            goto out;
        }
    }
    out->head_len = head_len;
    /* Lenient with both: chunked wins (RFC 9112 6.3 says TE overrides CL). */
    out->chunked = f.te_seen && f.te_last_chunked;
    out->content_length = out->chunked ? -1 : f.cl;
    out->has_body = out->chunked || out->content_length > 0;
    out->keep_alive = keep_alive_for(out->version_minor, &f);
    rc = HTTP_PARSE_OK;
out:
    return rc;
}

static int status_line(struct pstate *s, size_t ls, size_t le, struct http_response *r)
{
    const char *b = s->buf;
    bool strict = s->mode == HTTP_STRICT;
    size_t i = ls;
    while (i < le && b[i] != ' ' && !(!strict && b[i] == '\t'))
        i++;
    r->version = str_make(b + ls, i - ls);
    int minor = version_minor(b + ls, i - ls);
    if (strict && minor == -2)
        return fail(s, 502, "invalid HTTP version in status line", ls);
    if (strict && minor < 0)
        return fail(s, 502, "unsupported HTTP version in response", ls);
    if (!strict && (r->version.n < 5 || !IEQ(b + ls, 5, "http/")))
        return fail(s, 502, "not an HTTP status line", ls);
    if (i == le)
        return fail(s, 502, "missing status code", i);
    i++;
    if (!strict)
        while (i < le && is_ows(b[i]))
            i++;
    if (le - i < 3 || b[i] < '0' || b[i] > '9' || b[i + 1] < '0' || b[i + 1] > '9' ||
        b[i + 2] < '0' || b[i + 2] > '9')
        return fail(s, 502, "invalid status code", i);
    r->status = (b[i] - '0') * 100 + (b[i + 1] - '0') * 10 + (b[i + 2] - '0');
    if (strict && (r->status < 100 || r->status > 599))
        return fail(s, 502, "invalid status code", i);
    i += 3;
    /* The SP before an empty reason is often left out; accept that. */
    if (i < le) {
        if (b[i] != ' ' && !(!strict && b[i] == '\t'))
            return fail(s, 502, "invalid status code", i);
        i++;
    }
    r->reason = str_make(b + i, le - i);
    return HTTP_PARSE_OK;
}

int http_parse_response_head(const char *buf, size_t len, enum http_mode mode,
                             const struct http_limits *lim, struct http_header *hdrs,
                             size_t max_hdrs, struct http_response *out, struct http_error *err)
{
    struct http_limits dl;
    struct http_error dummy;
    struct pstate s;
    struct framing f = {.cl = -1};
    size_t ls, le, pos, head_len = 0;
    int rc, minor;

    parse_begin(&s, buf, len, mode, &lim, &dl, &err, &dummy, hdrs, max_hdrs, true);
    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    out->headers = hdrs;

    rc = read_start_line(&s, &ls, &le, &pos);
    if (rc != HTTP_PARSE_OK)
        goto out;
    out->line = str_make(buf + ls, le - ls);
    rc = status_line(&s, ls, le, out);
    if (rc != HTTP_PARSE_OK)
        goto out;
    rc = parse_headers(&s, pos, &head_len);
    out->nheaders = s.n;
    if (rc != HTTP_PARSE_OK)
        goto out;
    rc = scan_framing(&s, &f);
    if (rc != HTTP_PARSE_OK)
        goto out;
    minor = version_minor(out->version.p, out->version.n);
    if (mode == HTTP_STRICT) {
        rc = check_te_strict(&s, &f, minor);
        if (rc != HTTP_PARSE_OK)
            goto out;
    }
    out->head_len = head_len;
    out->chunked = f.te_seen && f.te_last_chunked;
    /* With any Transfer-Encoding the length is not Content-Length's. */
    out->content_length = f.te_seen ? -1 : f.cl;
    out->keep_alive = keep_alive_for(minor < 0 ? -1 : minor, &f);
    rc = HTTP_PARSE_OK;
out:
    return rc;
}
