/* In-process stand-in for CRS's test backend (/work/shared/crs-test/
 * echo-backend.py), so phases 3 and 4 see the response CRS's CI sees.
 *
 * Behaviour kept from the backend's documented contract:
 *  - any request: 200, empty body;
 *  - POST /reflect (and /reflect/...): status, headers and body taken from
 *    the JSON request body ({"status","headers","body","encodedBody"});
 *    invalid JSON gives 400;
 *  - /capabilities: a JSON description;
 *  - what Go's net/http would refuse (malformed request line, invalid header
 *    names, control bytes in the target or header values, bad %-escapes in
 *    the path, HTTP/1.1 without exactly one Host) gets 400, an unclean path
 *    gets a 301 to the cleaned one;
 *  - Date, Content-Length, a sniffed Content-Type and "Connection: close"
 *    are added like the backend does.
 * A request whose head never ends would make the backend hang up; here it is
 * answered 400 so the response phases still run on something plausible. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "crs.h"

#define ECHO_MAX_BODY ((size_t)16 << 20)
#define ECHO_MAX_HDR_STORE ((size_t)1 << 20)

struct hdr_ref {
    size_t name_off, name_len, val_off, val_len;
};

struct builder {
    struct crs_echo_response *r;
    struct hdr_ref refs[CRS_ECHO_MAX_HEADERS];
    size_t n;
};

static const struct {
    int code;
    const char *text;
} reasons[] = {
    {100, "Continue"}, {101, "Switching Protocols"}, {102, "Processing"}, {103, "Early Hints"},
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {203, "Non-Authoritative Information"},
    {204, "No Content"}, {205, "Reset Content"}, {206, "Partial Content"}, {207, "Multi-Status"},
    {208, "Already Reported"}, {226, "IM Used"}, {300, "Multiple Choices"},
    {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"}, {304, "Not Modified"},
    {305, "Use Proxy"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
    {400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"},
    {404, "Not Found"}, {405, "Method Not Allowed"}, {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"}, {408, "Request Timeout"}, {409, "Conflict"},
    {410, "Gone"}, {411, "Length Required"}, {412, "Precondition Failed"},
    {413, "Request Entity Too Large"}, {414, "Request URI Too Long"},
    {415, "Unsupported Media Type"}, {416, "Requested Range Not Satisfiable"},
    {417, "Expectation Failed"}, {418, "I'm a teapot"}, {421, "Misdirected Request"},
    {422, "Unprocessable Entity"}, {423, "Locked"}, {424, "Failed Dependency"},
    {425, "Too Early"}, {426, "Upgrade Required"}, {428, "Precondition Required"},
    {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
    {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"}, {507, "Insufficient Storage"}, {508, "Loop Detected"},
    {510, "Not Extended"}, {511, "Network Authentication Required"},
};

static const char *reason_for(int code)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].code == code)
            return reasons[i].text;
    return "";
}

void crs_echo_init(struct crs_echo_response *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->hdr_store, ECHO_MAX_HDR_STORE);
    buf_init(&r->body, ECHO_MAX_BODY);
}

void crs_echo_free(struct crs_echo_response *r)
{
    buf_free(&r->hdr_store);
    buf_free(&r->body);
}

static int add_header(struct builder *b, const char *name, size_t nlen, const char *val, size_t vlen)
{
    if (b->n >= CRS_ECHO_MAX_HEADERS)
        return 0; /* the backend has no limit; more than 64 never happens in the suite */
    struct hdr_ref *h = &b->refs[b->n];
    h->name_off = b->r->hdr_store.len;
    h->name_len = nlen;
    if (buf_append(&b->r->hdr_store, name, nlen) < 0)
        return -1;
    h->val_off = b->r->hdr_store.len;
    h->val_len = vlen;
    if (buf_append(&b->r->hdr_store, val, vlen) < 0)
        return -1;
    b->n++;
    return 0;
}

static int add_header_c(struct builder *b, const char *name, const char *val)
{
    return add_header(b, name, strlen(name), val, strlen(val));
}

static bool has_header(const struct builder *b, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < b->n; i++)
        if (b->refs[i].name_len == n &&
            strncasecmp(b->r->hdr_store.p + b->refs[i].name_off, name, n) == 0)
            return true;
    return false;
}

static bool token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* ---- Content-Type sniffing (the subset of WHATWG's algorithm Go uses) ---- */
static const char *sniff(const char *body, size_t n)
{
    static const char *const html[] = {"<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME",
                                       "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE",
                                       "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"};
    const unsigned char *d = (const unsigned char *)body;
    if (n > 512)
        n = 512;
    size_t ws = 0;
    while (ws < n && (d[ws] == '\t' || d[ws] == '\n' || d[ws] == '\f' || d[ws] == '\r' || d[ws] == ' '))
        ws++;
    const unsigned char *w = d + ws;
    size_t wn = n - ws;
    for (size_t i = 0; i < sizeof html / sizeof html[0]; i++) {
        size_t l = strlen(html[i]);
        if (wn > l && strncasecmp((const char *)w, html[i], l) == 0 && (w[l] == ' ' || w[l] == '>'))
            return "text/html; charset=utf-8";
    }
#define STARTS(p, pn, lit) ((pn) >= sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)
    if (STARTS(w, wn, "<?xml"))
        return "text/xml; charset=utf-8";
    if (STARTS(d, n, "%PDF-"))
        return "application/pdf";
    if (STARTS(d, n, "%!PS-Adobe-"))
        return "application/postscript";
    if (STARTS(d, n, "\xfe\xff"))
        return "text/plain; charset=utf-16be";
    if (STARTS(d, n, "\xff\xfe"))
        return "text/plain; charset=utf-16le";
    if (STARTS(d, n, "\xef\xbb\xbf"))
        return "text/plain; charset=utf-8";
    if (STARTS(d, n, "GIF87a") || STARTS(d, n, "GIF89a"))
        return "image/gif";
    if (STARTS(d, n, "\x89PNG\r\n\x1a\n"))
        return "image/png";
    if (STARTS(d, n, "\xff\xd8\xff"))
        return "image/jpeg";
    if (STARTS(d, n, "PK\x03\x04"))
        return "application/zip";
    if (STARTS(d, n, "\x1f\x8b\x08"))
        return "application/x-gzip";
#undef STARTS
    for (size_t i = 0; i < n; i++) {
        unsigned char c = d[i];
        if (c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f))
            return "application/octet-stream";
    }
    return "text/plain; charset=utf-8";
}

/* ---- path handling ------------------------------------------------------- */
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

static int path_unescape(const char *p, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval((unsigned char)p[i + 1]), l = hexval((unsigned char)p[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            if (buf_putc(out, (char)(h * 16 + l)) < 0)
                return -1;
            i += 2;
        } else if (buf_putc(out, p[i]) < 0)
            return -1;
    }
    return 0;
}

/* The backend's clean_path: resolve "." and "..", squeeze slashes, keep a
 * trailing slash. path starts with '/'. */
static int clean_path(const char *p, size_t n, struct buf *out)
{
    size_t segs[1024][2];
    size_t ns = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && p[i] == '/')
            i++;
        size_t s = i;
        while (i < n && p[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && p[s] == '.'))
            continue;
        if (l == 2 && p[s] == '.' && p[s + 1] == '.') {
            if (ns)
                ns--;
            continue;
        }
        if (ns >= sizeof segs / sizeof segs[0])
            return -1;
        segs[ns][0] = s;
        segs[ns][1] = l;
        ns++;
    }
    if (ns == 0)
        return buf_putc(out, '/');
    for (size_t k = 0; k < ns; k++)
        if (buf_putc(out, '/') < 0 || buf_append(out, p + segs[k][0], segs[k][1]) < 0)
            return -1;
    if (n && p[n - 1] == '/' && buf_putc(out, '/') < 0)
        return -1;
    return 0;
}

static int quote_location(const char *p, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr("/:@!$&'()*+,;=-._~", c)))
            rc = buf_putc(out, (char)c);
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(out, e, 3);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int html_escape(const char *p, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        switch (p[i]) {
        case '&': rc = buf_puts(out, "&amp;"); break;
        case '<': rc = buf_puts(out, "&lt;"); break;
        case '>': rc = buf_puts(out, "&gt;"); break;
        case '"': rc = buf_puts(out, "&#34;"); break;
        case '\'': rc = buf_puts(out, "&#39;"); break;
        default: rc = buf_putc(out, p[i]);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- /reflect ------------------------------------------------------------- */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else
            return false;
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* The last value of key in a JSON object (Python's dict keeps the last). */
static yajl_val obj_get(yajl_val o, const char *key)
{
    yajl_val v = NULL;
    for (size_t i = 0; i < o->u.object.len; i++)
        if (strcmp(o->u.object.keys[i], key) == 0)
            v = o->u.object.values[i];
    return v;
}

/* Python truthiness of a JSON value. */
static bool truthy(yajl_val v)
{
    if (!v || YAJL_IS_NULL(v) || YAJL_IS_FALSE(v))
        return false;
    if (YAJL_IS_STRING(v))
        return v->u.string[0] != '\0';
    if (YAJL_IS_NUMBER(v))
        return YAJL_IS_INTEGER(v) ? v->u.number.i != 0 : v->u.number.d != 0.0;
    if (YAJL_IS_ARRAY(v))
        return v->u.array.len != 0;
    if (YAJL_IS_OBJECT(v))
        return v->u.object.len != 0;
    return true;
}

/* Python's str() of a JSON scalar; false for lists and objects, which the
 * suite never uses as header values. */
static bool py_str(yajl_val v, struct buf *out)
{
    if (YAJL_IS_STRING(v))
        return buf_puts(out, v->u.string) == 0;
    if (YAJL_IS_NUMBER(v))
        return buf_puts(out, v->u.number.r) == 0;
    if (YAJL_IS_TRUE(v))
        return buf_puts(out, "True") == 0;
    if (YAJL_IS_FALSE(v))
        return buf_puts(out, "False") == 0;
    if (YAJL_IS_NULL(v))
        return buf_puts(out, "None") == 0;
    return false;
}

/* Python writes the head as latin-1 with errors="replace". */
static int to_latin1(const char *s, size_t n, struct buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = u[i];
        size_t len = 1;
        if (cp >= 0xc0 && cp < 0xe0 && i + 1 < n) {
            cp = ((cp & 0x1f) << 6) | (u[i + 1] & 0x3f);
            len = 2;
        } else if (cp >= 0xe0 && cp < 0xf0) {
            cp = 0x100;
            len = 3;
        } else if (cp >= 0xf0) {
            cp = 0x100;
            len = 4;
        }
        if (buf_putc(out, cp < 0x100 ? (char)cp : '?') < 0)
            return -1;
        i += len;
    }
    return 0;
}

static int b64_strict(const char *s, struct buf *out)
{
    size_t n = strlen(s);
    if (n % 4)
        return -1;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int v;
        if (c == '=') {
            if (i < n - 2)
                return -1;
            for (size_t k = i; k < n; k++)
                if (s[k] != '=')
                    return -1;
            break;
        }
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
                return -1;
        }
    }
    return 0;
}

static int reflect(struct builder *b, const char *body, size_t n, int *status)
{
    struct crs_echo_response *r = b->r;
    int rc = 0;
    yajl_val root = NULL;
    char *text = NULL;
    struct buf val, lat;
    buf_init(&val, 65536);
    buf_init(&lat, 65536);

    if (!valid_utf8((const unsigned char *)body, n) || memchr(body, '\0', n))
        goto invalid;
    text = malloc(n + 1);
    if (!text) {
        rc = -1;
        goto out;
    }
    memcpy(text, body, n);
    text[n] = '\0';
    root = yajl_tree_parse(text, NULL, 0);
    if (!root || !YAJL_IS_OBJECT(root))
        goto invalid;
    yajl_val st = obj_get(root, "status");
    long code = 0;
    if (truthy(st)) {
        if (YAJL_IS_INTEGER(st))
            code = (long)st->u.number.i;
        else if (YAJL_IS_TRUE(st))
            code = 1;
        else
            goto invalid;
    }
    yajl_val hdrs = obj_get(root, "headers");
    if (truthy(hdrs) && !YAJL_IS_OBJECT(hdrs))
        goto invalid;
    if ((code > 0 && code < 100) || code >= 600) {
        *status = 400;
        buf_clear(&r->body);
        if (buf_printf(&r->body, "Invalid status code: %ld", code) < 0)
            rc = -1;
        b->n = 0;
        goto out;
    }
    *status = code == 0 ? 200 : (int)code;
    if (truthy(hdrs)) {
        for (size_t i = 0; i < hdrs->u.object.len; i++) {
            const char *k = hdrs->u.object.keys[i];
            buf_clear(&val);
            if (!py_str(hdrs->u.object.values[i], &val))
                continue;
            bool ok = k[0] != '\0';
            for (const char *p = k; *p && ok; p++)
                ok = token_char((unsigned char)*p);
            for (size_t j = 0; j < val.len && ok; j++)
                ok = !(ctl((unsigned char)val.p[j]) && val.p[j] != '\t');
            if (!ok)
                continue;
            buf_clear(&lat);
            if (to_latin1(val.p, val.len, &lat) < 0 ||
                add_header(b, k, strlen(k), lat.p ? lat.p : "", lat.len) < 0) {
                rc = -1;
                goto out;
            }
        }
    }
    yajl_val bd = obj_get(root, "body");
    yajl_val enc = obj_get(root, "encodedBody");
    buf_clear(&r->body);
    if (truthy(bd)) {
        buf_clear(&val);
        if (!py_str(bd, &val))
            goto invalid;
        if (buf_append(&r->body, val.p, val.len) < 0)
            rc = -1;
    } else if (truthy(enc)) {
        buf_clear(&val);
        if (!py_str(enc, &val))
            goto invalid;
        if (b64_strict(val.p, &r->body) < 0) {
            b->n = 0;
            *status = 400;
            buf_clear(&r->body);
            if (buf_puts(&r->body, "invalid base64 encoding of response body") < 0)
                rc = -1;
        }
    }
    goto out;
invalid:
    b->n = 0;
    *status = 400;
    buf_clear(&r->body);
    if (buf_puts(&r->body, "Invalid JSON in request body") < 0)
        rc = -1;
out:
    if (root)
        yajl_tree_free(root);
    free(text);
    buf_free(&val);
    buf_free(&lat);
    return rc;
}

/* ---- request parsing ------------------------------------------------------ */
struct req {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    const char *version;
    size_t version_len;
    struct str hdr_names[256], hdr_vals[256];
    size_t nh;
    const char *body;
    size_t body_len;
    struct buf dechunked;
};

static const struct str *req_header(const struct req *q, const char *name, size_t *count)
{
    const struct str *first = NULL;
    size_t c = 0;
    for (size_t i = 0; i < q->nh; i++)
        if (str_ieq_c(q->hdr_names[i], name)) {
            if (!first)
                first = &q->hdr_vals[i];
            c++;
        }
    if (count)
        *count = c;
    return first;
}

static void dechunk(struct req *q, const char *p, const char *e)
{
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            return;
        size_t size = 0;
        const char *s = p;
        while (s < nl && (*s == ' ' || *s == '\t'))
            s++;
        int any = 0;
        while (s < nl && hexval((unsigned char)*s) >= 0) {
            size = size * 16 + (size_t)hexval((unsigned char)*s);
            if (size > ECHO_MAX_BODY)
                return;
            s++;
            any = 1;
        }
        if (!any)
            return;
        p = nl + 1;
        if (size == 0)
            return;
        if ((size_t)(e - p) < size)
            size = (size_t)(e - p);
        if (buf_append(&q->dechunked, p, size) < 0)
            return;
        p += size;
        nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            return;
        p = nl + 1;
    }
}

/* Returns NULL when the backend accepts the request, else the detail of its
 * "400 Bad Request: ..." page ("" for none). */
static const char *parse_request(const char *raw, size_t n, struct req *q)
{
    const char *end = memmem(raw, n, "\r\n\r\n", 4);
    if (!end)
        return "";
    const char *line_end = memmem(raw, (size_t)(end - raw) + 2, "\r\n", 2);
    const char *sp1 = memchr(raw, ' ', (size_t)(line_end - raw));
    if (!sp1)
        return "malformed request line";
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
    if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(line_end - sp2 - 1)))
        return "malformed request line";
    q->method = raw;
    q->method_len = (size_t)(sp1 - raw);
    q->target = sp1 + 1;
    q->target_len = (size_t)(sp2 - sp1 - 1);
    q->version = sp2 + 1;
    q->version_len = (size_t)(line_end - sp2 - 1);
    if (!q->method_len)
        return "invalid method";
    for (size_t i = 0; i < q->method_len; i++)
        if (!token_char((unsigned char)q->method[i]))
            return "invalid method";
    const char *v = q->version;
    if (q->version_len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return "malformed HTTP version";
    const char *p = line_end + 2;
    while (p < end + 2) {
        const char *le = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (!le)
            break;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p)
            return "malformed MIME header line";
        for (const char *c = p; c < colon; c++)
            if (!token_char((unsigned char)*c))
                return "malformed MIME header line";
        const char *vs = colon + 1, *ve = le;
        while (vs < ve && (*vs == ' ' || *vs == '\t'))
            vs++;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = vs; c < ve; c++)
            if (ctl((unsigned char)*c) && *c != '\t')
                return "invalid header value";
        if (q->nh < sizeof q->hdr_names / sizeof q->hdr_names[0]) {
            q->hdr_names[q->nh] = str_make(p, (size_t)(colon - p));
            q->hdr_vals[q->nh] = str_make(vs, (size_t)(ve - vs));
            q->nh++;
        }
        p = le + 2;
    }
    size_t nhost;
    req_header(q, "Host", &nhost);
    if (q->version_len == 8 && memcmp(q->version, "HTTP/1.1", 8) == 0 && nhost == 0)
        return "missing required Host header";
    if (nhost > 1)
        return "too many Host headers";
    const char *body = end + 4, *bend = raw + n;
    bool chunked = false;
    for (size_t i = 0; i < q->nh; i++)
        if (str_ieq_c(q->hdr_names[i], "Transfer-Encoding")) {
            for (size_t k = 0; k + 7 <= q->hdr_vals[i].n; k++)
                if (strncasecmp(q->hdr_vals[i].p + k, "chunked", 7) == 0)
                    chunked = true;
        }
    if (chunked) {
        dechunk(q, body, bend);
        q->body = q->dechunked.p ? q->dechunked.p : "";
        q->body_len = q->dechunked.len;
    } else {
        const struct str *cl = req_header(q, "Content-Length", NULL);
        if (cl) {
            char tmp[32];
            if (cl->n == 0 || cl->n >= sizeof tmp)
                return "bad Content-Length";
            memcpy(tmp, cl->p, cl->n);
            tmp[cl->n] = '\0';
            char *e;
            long long len = strtoll(tmp, &e, 10);
            if (*e || len < 0)
                return "bad Content-Length";
            size_t avail = (size_t)(bend - body);
            q->body = body;
            q->body_len = (unsigned long long)len < avail ? (size_t)len : avail;
        }
    }
    return 0;
}

static int route(struct builder *b, struct req *q, int *status)
{
    struct crs_echo_response *r = b->r;
    for (size_t i = 0; i < q->target_len; i++)
        if (ctl((unsigned char)q->target[i])) {
            *status = 400;
            return 0;
        }
    *status = 200;
    if ((q->method_len == 7 && memcmp(q->method, "CONNECT", 7) == 0) ||
        (q->target_len == 1 && q->target[0] == '*'))
        return 0;
    const char *path = q->target;
    const char *qm = memchr(q->target, '?', q->target_len);
    size_t path_len = qm ? (size_t)(qm - q->target) : q->target_len;
    const char *query = qm ? qm + 1 : NULL;
    size_t query_len = qm ? q->target_len - path_len - 1 : 0;
    if ((path_len >= 7 && strncasecmp(path, "http://", 7) == 0) ||
        (path_len >= 8 && strncasecmp(path, "https://", 8) == 0)) {
        const char *rest = memmem(path, path_len, "://", 3) + 3;
        const char *slash = memchr(rest, '/', path_len - (size_t)(rest - path));
        if (slash) {
            path_len -= (size_t)(slash - path);
            path = slash;
        } else {
            path = "/";
            path_len = 1;
        }
    }
    if (path_len == 0 || path[0] != '/') {
        *status = 400;
        return 0;
    }
    struct buf dec, clean;
    buf_init(&dec, 1 << 20);
    buf_init(&clean, 1 << 20);
    int rc = 0;
    if (path_unescape(path, path_len, &dec) < 0) {
        *status = 400;
        goto out;
    }
    if (clean_path(dec.p ? dec.p : "", dec.len, &clean) < 0) {
        rc = -1;
        goto out;
    }
    if (clean.len != dec.len || memcmp(clean.p, dec.p, dec.len) != 0) {
        struct buf loc;
        buf_init(&loc, 1 << 20);
        if (quote_location(clean.p, clean.len, &loc) < 0 ||
            (query_len && (buf_putc(&loc, '?') < 0 || buf_append(&loc, query, query_len) < 0)) ||
            add_header(b, "Location", 8, loc.p, loc.len) < 0) {
            buf_free(&loc);
            rc = -1;
            goto out;
        }
        bool get = q->method_len == 3 && memcmp(q->method, "GET", 3) == 0;
        bool head = q->method_len == 4 && memcmp(q->method, "HEAD", 4) == 0;
        if ((get || head) && add_header_c(b, "Content-Type", "text/html; charset=utf-8") < 0)
            rc = -1;
        if (get && rc == 0 &&
            (buf_puts(&r->body, "<a href=\"") < 0 || html_escape(loc.p, loc.len, &r->body) < 0 ||
             buf_puts(&r->body, "\">Moved Permanently</a>.\n\n") < 0))
            rc = -1;
        buf_free(&loc);
        *status = 301;
        goto out;
    }
    bool post = q->method_len == 4 && memcmp(q->method, "POST", 4) == 0;
    if (post && ((dec.len == 8 && memcmp(dec.p, "/reflect", 8) == 0) ||
                 (dec.len > 8 && memcmp(dec.p, "/reflect/", 9) == 0))) {
        rc = reflect(b, q->body ? q->body : "", q->body_len, status);
        goto out;
    }
    if (dec.len >= 13 && memcmp(dec.p, "/capabilities", 13) == 0 && (dec.len == 13 || dec.p[13] == '/')) {
        if (add_header_c(b, "Content-Type", "application/json") < 0 ||
            buf_puts(&r->body,
                     "{\"endpoints\": [{\"path\": \"/*\", \"methods\": [\"any\"], \"contentType\": \"any\", "
                     "\"description\": \"Any other URL: status 200 without a body.\"}, "
                     "{\"path\": \"/capabilities\", \"methods\": [\"GET\"], \"contentType\": \"-\", "
                     "\"description\": \"This document.\"}, {\"path\": \"/reflect\", \"methods\": "
                     "[\"POST\"], \"contentType\": \"application/json\", \"description\": \"Responds "
                     "according to the JSON spec in the request body: status, headers, body, "
                     "encodedBody, logMessage.\"}]}") < 0)
            rc = -1;
    }
out:
    buf_free(&dec);
    buf_free(&clean);
    return rc;
}

int crs_echo_respond(const char *raw, size_t n, struct crs_echo_response *r)
{
    struct builder b = {.r = r};
    struct req *q = calloc(1, sizeof *q);
    int rc = -1, status = 200;
    if (!q)
        return -1;
    buf_init(&q->dechunked, ECHO_MAX_BODY);
    buf_clear(&r->hdr_store);
    buf_clear(&r->body);
    r->head = false;

    const char *bad = parse_request(raw, n, q);
    if (bad) {
        /* The backend's own 400 page, sent without Date or Content-Length. */
        status = 400;
        if (add_header_c(&b, "Content-Type", "text/plain; charset=utf-8") < 0 ||
            add_header_c(&b, "Connection", "close") < 0 || buf_puts(&r->body, "400 Bad Request") < 0 ||
            (*bad && buf_printf(&r->body, ": %s", bad) < 0))
            goto out;
        goto done;
    }
    r->head = q->method_len == 4 && memcmp(q->method, "HEAD", 4) == 0;
    if (route(&b, q, &status) < 0)
        goto out;
    if (status == 400 && b.n == 0 && r->body.len == 0) {
        if (add_header_c(&b, "Content-Type", "text/plain; charset=utf-8") < 0 ||
            add_header_c(&b, "Connection", "close") < 0 || buf_puts(&r->body, "400 Bad Request") < 0)
            goto out;
        goto done;
    }
    bool no_body = status < 200 || status == 204 || status == 304;
    if (!has_header(&b, "Date")) {
        char date[64];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (add_header_c(&b, "Date", date) < 0)
            goto out;
    }
    if (!no_body && !has_header(&b, "Content-Length") && !has_header(&b, "Transfer-Encoding")) {
        char len[32];
        snprintf(len, sizeof len, "%zu", r->body.len);
        if (add_header_c(&b, "Content-Length", len) < 0)
            goto out;
    }
    if (r->body.len && !no_body && !has_header(&b, "Content-Type") &&
        add_header_c(&b, "Content-Type", sniff(r->body.p, r->body.len)) < 0)
        goto out;
    if (add_header_c(&b, "Connection", "close") < 0)
        goto out;
    if (no_body)
        buf_clear(&r->body);
done:
    r->status = status;
    r->reason = reason_for(status);
    snprintf(r->status_line, sizeof r->status_line, "HTTP/1.1 %d %s", status, r->reason);
    /* hdr_store no longer moves: turn offsets into slices. */
    for (size_t i = 0; i < b.n; i++) {
        r->headers[i].name = str_make(r->hdr_store.p + b.refs[i].name_off, b.refs[i].name_len);
        r->headers[i].value = str_make(r->hdr_store.p + b.refs[i].val_off, b.refs[i].val_len);
    }
    r->nheaders = b.n;
    rc = 0;
out:
    buf_free(&q->dechunked);
    free(q);
    return rc;
}

void crs_echo_to_http(const struct crs_echo_response *r, struct http_response *out)
{
    memset(out, 0, sizeof *out);
    out->version = STR_LIT("HTTP/1.1");
    out->status = r->status;
    out->reason = str_c(r->reason);
    out->line = str_c(r->status_line);
    out->headers = (struct http_header *)r->headers;
    out->nheaders = r->nheaders;
    out->content_length = -1;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (str_ieq_c(r->headers[i].name, "Content-Length")) {
            long long v = 0;
            for (size_t k = 0; k < r->headers[i].value.n; k++) {
                char c = r->headers[i].value.p[k];
                if (c < '0' || c > '9' || v > (long long)1 << 40) {
                    v = -1;
                    break;
                }
                v = v * 10 + (c - '0');
            }
            out->content_length = v;
        }
        if (str_ieq_c(r->headers[i].name, "Transfer-Encoding"))
            out->chunked = true;
    }
    out->keep_alive = false;
}
