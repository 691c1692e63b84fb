/* Tests for src/http/http.c and src/http/chunked.c.
 *
 * Table-driven: every framing/smuggling/limit case runs in both modes with
 * the status each mode must give, and every case is also fed byte by byte to
 * check that a prefix gives AGAIN or the same answer as the whole message. */
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#include <zstd.h>

#include "../t.h"

#define OK 0    /* expected: HTTP_PARSE_OK */
#define AGAIN 1 /* expected: HTTP_PARSE_AGAIN; anything else is an error status */
#define S(lit) lit, sizeof(lit) - 1
#define MAXH 128

struct req_case {
    const char *name;
    const char *raw;
    size_t len;
    int strict; /* OK, AGAIN or the error status */
    int lenient;
};

#define H11 " HTTP/1.1\r\nHost: a.example\r\n"
static const struct req_case req_cases[] = {
    /* good requests */
    {"simple get", S("GET /" H11 "\r\n"), OK, OK},
    /* a fragment does not belong on the wire: strict refuses it (CRS 920610-2) */
    {"query and fragment", S("GET /p?q=1&r=2#frag" H11 "\r\n"), 400, OK},
    {"absolute-form", S("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n"), OK, OK},
    {"absolute-form no path", S("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n"), OK, OK},
    {"asterisk-form", S("OPTIONS *" H11 "\r\n"), OK, OK},
    {"authority-form", S("CONNECT a.example:443" H11 "\r\n"), OK, OK},
    {"authority-form ipv6", S("CONNECT [::1]:8443" H11 "\r\n"), OK, OK},
    {"http/1.0 without host", S("GET / HTTP/1.0\r\n\r\n"), OK, OK},
    {"leading empty lines", S("\r\n\r\nGET /" H11 "\r\n"), OK, OK},
    {"eight leading empty lines", S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /" H11 "\r\n"), OK, OK},
    {"nine leading empty lines", S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /" H11 "\r\n"), 400, 400},
    {"leading bare lf lines", S("\n\nGET /" H11 "\r\n"), 400, OK},
    {"post content-length", S("POST /f" H11 "Content-Length: 5\r\n\r\nhello"), OK, OK},
    {"content-length leading zeros", S("POST /f" H11 "Content-Length: 007\r\n\r\n"), OK, OK},
    {"content-length ows", S("POST /f" H11 "Content-Length: \t5 \r\n\r\n"), OK, OK},
    {"post chunked", S("POST /f" H11 "Transfer-Encoding: chunked\r\n\r\n"), OK, OK},
    {"chunked case-insensitive", S("POST /f" H11 "transfer-encoding: CHUNKED\r\n\r\n"), OK, OK},
    {"chunked empty list elements", S("POST /f" H11 "Transfer-Encoding: , chunked ,\r\n\r\n"), OK, OK},
    {"obs-text in value", S("GET /" H11 "X-Name: J\xc3\xbcrgen\r\n\r\n"), OK, OK},
    {"obs-text in target", S("GET /caf\xc3\xa9" H11 "\r\n"), OK, OK},
    {"tab in value", S("GET /" H11 "X-A:\ta\tb\t\r\n\r\n"), OK, OK},
    {"empty value", S("GET /" H11 "X-Empty:\r\n\r\n"), OK, OK},
    {"raw quote and parens in target", S("GET /q?a='1'+OR+(1)=(1)$" H11 "\r\n"), OK, OK},
    {"host with port", S("GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"), OK, OK},
    /* origin-form with an empty Host has no authority (RFC 9112 3.2, CRS 920290-1) */
    {"empty host", S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 400, OK},
    {"empty host, absolute-form", S("GET http://a.example/ HTTP/1.1\r\nHost:\r\n\r\n"), OK, OK},
    {"incomplete head", S("GET /" H11), AGAIN, AGAIN},
    {"incomplete line", S("GET / HTTP/1.1\r"), AGAIN, AGAIN},
    {"empty input", S(""), AGAIN, AGAIN},

    /* Content-Length / Transfer-Encoding smuggling */
    {"cl and te", S("POST /" H11 "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"), 400, OK},
    {"te and cl", S("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"), 400, OK},
    {"duplicate cl same", S("POST /" H11 "Content-Length: 4\r\nContent-Length: 4\r\n\r\n"), 400, OK},
    {"duplicate cl differing", S("POST /" H11 "Content-Length: 4\r\nContent-Length: 5\r\n\r\n"), 400, OK},
    {"cl list", S("POST /" H11 "Content-Length: 4, 4\r\n\r\n"), 400, OK},
    {"cl plus sign", S("POST /" H11 "Content-Length: +4\r\n\r\n"), 400, OK},
    {"cl negative", S("POST /" H11 "Content-Length: -1\r\n\r\n"), 400, OK},
    {"cl inner space", S("POST /" H11 "Content-Length: 4 4\r\n\r\n"), 400, OK},
    {"cl hex", S("POST /" H11 "Content-Length: 0x4\r\n\r\n"), 400, OK},
    {"cl empty", S("POST /" H11 "Content-Length:\r\n\r\n"), 400, OK},
    {"cl overflow", S("POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n"), 400, OK},
    {"cl int64 max", S("POST /" H11 "Content-Length: 9223372036854775807\r\n\r\n"), OK, OK},
    {"cl int64 max+1", S("POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n"), 400, OK},
    {"te gzip only", S("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"), 400, OK},
    {"te chunked then gzip", S("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), 400, OK},
    {"te gzip then chunked", S("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501, OK},
    {"te unknown", S("POST /" H11 "Transfer-Encoding: foo\r\n\r\n"), 400, OK},
    {"te chunked twice", S("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400, OK},
    {"te two fields", S("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"), 400, OK},
    {"te xchunked", S("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n"), 400, OK},
    {"te chunked params", S("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400, OK},
    {"te quoted", S("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n"), 400, OK},
    {"te empty", S("POST /" H11 "Transfer-Encoding:\r\n\r\n"), 400, OK},
    {"te in http/1.0", S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400, OK},
    {"te space before colon", S("POST /" H11 "Transfer-Encoding : chunked\r\n\r\n"), 400, OK},
    {"te tab before colon", S("POST /" H11 "Transfer-Encoding\t: chunked\r\n\r\n"), 400, OK},
    {"te vertical tab", S("POST /" H11 "Transfer-Encoding: chunked\x0b\r\n\r\n"), 400, OK},
    {"te obs-fold", S("POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n"), 400, OK},
    {"obs-fold", S("GET /" H11 "X-A: a\r\n b\r\n\r\n"), 400, OK},
    {"obs-fold tab", S("GET /" H11 "X-A: a\r\n\tb\r\n\r\n"), 400, OK},
    {"space before first field", S("GET / HTTP/1.1\r\n Host: a.example\r\n\r\n"), 400, OK},

    /* control characters */
    {"nul in value", S("GET /" H11 "X-A: a\0b\r\n\r\n"), 400, OK},
    {"nul in target", S("GET /a\0b" H11 "\r\n"), 400, OK},
    {"nul in name", S("GET /" H11 "X\0A: b\r\n\r\n"), 400, OK},
    {"bare cr in value", S("GET /" H11 "X-A: a\rb\r\n\r\n"), 400, OK},
    {"bare cr in request line", S("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"bare lf line ends", S("GET / HTTP/1.1\nHost: a.example\n\n"), 400, OK},
    {"bare lf end of head", S("GET /" H11 "\n"), 400, OK},
    {"bare lf after value", S("GET /" H11 "X-A: a\nX-B: b\r\n\r\n"), 400, OK},
    {"ctl in value", S("GET /" H11 "X-A: a\x01\r\n\r\n"), 400, OK},
    {"del in value", S("GET /" H11 "X-A: a\x7f\r\n\r\n"), 400, OK},
    {"esc in target", S("GET /\x1b[0m" H11 "\r\n"), 400, OK},
    {"del in target", S("GET /\x7f" H11 "\r\n"), 400, OK},

    /* field names */
    {"invalid name char", S("GET /" H11 "X(A): b\r\n\r\n"), 400, OK},
    {"name with at sign", S("GET /" H11 "X@A: b\r\n\r\n"), 400, OK},
    {"empty name", S("GET /" H11 ": b\r\n\r\n"), 400, OK},
    {"line without colon", S("GET /" H11 "JustAWord\r\n\r\n"), 400, OK},
    {"name with utf8", S("GET /" H11 "X-\xc3\xa4: b\r\n\r\n"), 400, OK},

    /* Host */
    {"no host 1.1", S("GET / HTTP/1.1\r\n\r\n"), 400, OK},
    {"two hosts", S("GET /" H11 "Host: b.example\r\n\r\n"), 400, OK},
    {"two hosts 1.0", S("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400, OK},
    {"host with space", S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400, OK},
    {"host with slash", S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400, OK},
    {"host with userinfo", S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400, OK},

    /* versions */
    {"http/1.2", S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505, OK},
    {"http/2.0", S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505, OK},
    {"http/0.9 token", S("GET / HTTP/0.9\r\n\r\n"), 505, OK},
    {"lowercase version", S("GET / http/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"version junk", S("GET / HTTP/1.1x\r\nHost: a\r\n\r\n"), 400, OK},
    {"version two digits", S("GET / HTTP/11.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"missing version", S("GET /\r\n\r\n"), 400, OK},
    {"missing version with headers", S("GET /index.html\r\nHost: a\r\n\r\n"), 400, OK},
    {"method only", S("GET\r\n\r\n"), 400, OK},

    /* request line shape */
    {"double space", S("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"trailing space", S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400, OK},
    {"space before version", S("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"tab separator", S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"leading space", S(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"space in target", S("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"invalid method", S("G(T /" H11 "\r\n"), 400, OK},
    {"method with utf8", S("G\xc3\x89T /" H11 "\r\n"), 400, OK},
    {"asterisk with get", S("GET *" H11 "\r\n"), 400, OK},
    {"connect origin-form", S("CONNECT /" H11 "\r\n"), 400, OK},
    {"connect no port", S("CONNECT a.example" H11 "\r\n"), 400, OK},
    {"connect bad port", S("CONNECT a.example:44x3" H11 "\r\n"), 400, OK},
    {"connect long port", S("CONNECT a.example:123456" H11 "\r\n"), 400, OK},
    {"absolute userinfo", S("GET http://u@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"), 400, OK},
    {"absolute empty authority", S("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
    {"relative target", S("GET index.html" H11 "\r\n"), 400, OK},
    {"whitespace-only line", S("   \r\n\r\n"), 400, 400},
    {"cr before request line", S("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, OK},
};

/* Limits: request line 32, head 128, 4 headers. */
static const struct http_limits small = {32, 128, 4};
static const struct req_case limit_cases[] = {
    /* "GET /" + 18 x + " HTTP/1.1" = 32 bytes */
    {"line at limit", S("GET /xxxxxxxxxxxxxxxxxx HTTP/1.1\r\nHost: a\r\n\r\n"), OK, OK},
    {"line over limit", S("GET /xxxxxxxxxxxxxxxxxxx HTTP/1.1\r\nHost: a\r\n\r\n"), 414, 414},
    {"line over limit unfinished", S("GET /xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), 414, 414},
    {"line over limit bad byte later", S("GET /xxxxxxxxxxxxxxxxxxxxxxxxxxxx\x01xxx HTTP/1.1\r\n"), 414, 414},
    {"bad byte before line limit", S("GET /xxx\x01xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), 400, 414},
    {"four headers", S("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), OK, OK},
    {"five headers", S("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), 431, 431},
    /* 32 bytes + 96 x = 128 bytes */
    {"head at limit", S("GET / HTTP/1.1\r\nHost: a\r\nX: "
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"),
     OK, OK},
    {"head over limit", S("GET / HTTP/1.1\r\nHost: a\r\nX: "
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"),
     431, 431},
    {"head over limit unfinished", S("GET / HTTP/1.1\r\nHost: a\r\nX: "
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     431, 431},
    {"empty lines fill the head", S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                                    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                                    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                                    "\r\n\r\n\r\n\r\n\r\n"),
     400, 400},
    {"empty lines fill the head 2", S("\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: "
                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     431, 431},
};

static int expect_of(int rc, const struct http_error *e)
{
    return rc == HTTP_PARSE_OK ? OK : rc == HTTP_PARSE_AGAIN ? AGAIN : e->status;
}

/* Every slice must lie inside the input. */
static int slices_inside(const char *buf, size_t len, const struct http_request *r)
{
    const struct str *s[] = {&r->line, &r->method, &r->target, &r->path, &r->query, &r->version, &r->authority};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (s[i]->n && (s[i]->p < buf || s[i]->p + s[i]->n > buf + len))
            return 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct http_header *h = &r->headers[i];
        if ((h->name.n && (h->name.p < buf || h->name.p + h->name.n > buf + len)) ||
            (h->value.n && (h->value.p < buf || h->value.p + h->value.n > buf + len)))
            return 0;
    }
    return 1;
}

/* Feeds every prefix of raw (as if it arrived one byte at a time, each
 * prefix in a fresh exact-size heap copy so ASan sees any overread) and
 * checks each answer is AGAIN or identical to the whole-message answer.
 * Returns the number of disagreements. */
static int prefix_mismatches(const char *raw, size_t len, enum http_mode mode,
                             const struct http_limits *lim, int full_rc, const struct http_error *full_err,
                             size_t full_head_len)
{
    struct http_header hdrs[MAXH];
    struct http_request r;
    struct http_error e;
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        char *p = malloc(n ? n : 1);
        if (!p)
            return 1;
        memcpy(p, raw, n);
        int rc = http_parse_request_head(p, n, mode, lim, hdrs, MAXH, &r, &e);
        if (rc == HTTP_PARSE_AGAIN) {
            /* fine */
        } else if (rc != full_rc) {
            bad++;
        } else if (rc == HTTP_PARSE_ERROR &&
                   (e.status != full_err->status || e.offset != full_err->offset ||
                    strcmp(e.reason, full_err->reason) != 0)) {
            bad++;
        } else if (rc == HTTP_PARSE_OK && r.head_len != full_head_len) {
            bad++;
        }
        if (rc == HTTP_PARSE_OK && !slices_inside(p, n, &r))
            bad++;
        free(p);
    }
    return bad;
}

static void run_req_table(struct t_ctx *t, const struct req_case *cases, size_t ncases,
                          const struct http_limits *lim)
{
    struct http_header hdrs[MAXH];
    for (size_t i = 0; i < ncases; i++) {
        const struct req_case *c = &cases[i];
        for (int m = 0; m < 2; m++) {
            enum http_mode mode = m ? HTTP_LENIENT : HTTP_STRICT;
            int want = m ? c->lenient : c->strict;
            struct http_request r;
            struct http_error e;
            char *p = malloc(c->len ? c->len : 1);
            if (!p)
                return;
            memcpy(p, c->raw, c->len);
            int rc = http_parse_request_head(p, c->len, mode, lim, hdrs, MAXH, &r, &e);
            int got = expect_of(rc, &e);
            if (got != want)
                t_fail(t, __FILE__, __LINE__, "%s [%s]: got %d (%s at %zu), expected %d", c->name,
                       m ? "lenient" : "strict", got, rc == HTTP_PARSE_ERROR ? e.reason : "-",
                       rc == HTTP_PARSE_ERROR ? e.offset : 0, want);
            if (rc == HTTP_PARSE_ERROR && (!e.reason || !e.reason[0] || e.offset > c->len))
                t_fail(t, __FILE__, __LINE__, "%s: error without reason or offset past input", c->name);
            if (rc == HTTP_PARSE_OK && (!slices_inside(p, c->len, &r) || r.head_len > c->len))
                t_fail(t, __FILE__, __LINE__, "%s: slice outside the input", c->name);
            int mm = prefix_mismatches(p, c->len, mode, lim, rc, &e, rc == HTTP_PARSE_OK ? r.head_len : 0);
            if (mm)
                t_fail(t, __FILE__, __LINE__, "%s [%s]: %d prefixes disagree with the whole message",
                       c->name, m ? "lenient" : "strict", mm);
            free(p);
        }
    }
}

TEST(http_request_table)
{
    run_req_table(t, req_cases, sizeof(req_cases) / sizeof(req_cases[0]), NULL);
}

TEST(http_request_limits_table)
{
    run_req_table(t, limit_cases, sizeof(limit_cases) / sizeof(limit_cases[0]), &small);
}

TEST(http_request_fewer_slots_than_max_headers)
{
    struct http_header hdrs[2];
    struct http_request r;
    struct http_error e;
    const char raw[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    CHECK_INT(http_parse_request_head(raw, sizeof(raw) - 1, HTTP_STRICT, NULL, hdrs, 2, &r, &e),
              HTTP_PARSE_ERROR);
    CHECK_INT(e.status, 431);
    CHECK_INT(http_parse_request_head(raw, sizeof(raw) - 1, HTTP_STRICT, NULL, NULL, 0, &r, &e),
              HTTP_PARSE_ERROR);
    CHECK_INT(e.status, 431);
}

/* A read loop gated by http_head_ready: bytes arrive one at a time, the
 * parser runs only when the helper says so. Same answer as parsing the whole
 * message at once, with few parse calls. */
TEST(http_head_ready_gates_parsing)
{
    static const char *const msgs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n",
        "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n",
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n",
    };
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e, we;
    for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
        for (int m = 0; m < 2; m++) {
            enum http_mode mode = m ? HTTP_LENIENT : HTTP_STRICT;
            size_t len = strlen(msgs[k]), scan = 0, calls = 0;
            int want = http_parse_request_head(msgs[k], len, mode, NULL, h, MAXH, &r, &we);
            int rc = HTTP_PARSE_AGAIN;
            for (size_t n = 1; n <= len && rc == HTTP_PARSE_AGAIN; n++) {
                if (!http_head_ready(msgs[k], n, 65536, &scan))
                    continue;
                calls++;
                rc = http_parse_request_head(msgs[k], n, mode, NULL, h, MAXH, &r, &e);
            }
            if (rc != want || (rc == HTTP_PARSE_ERROR && e.status != we.status))
                t_fail(t, __FILE__, __LINE__, "msg %zu [%d]: gated rc %d, whole %d", k, m, rc, want);
            if (calls > 10)
                t_fail(t, __FILE__, __LINE__, "msg %zu: %zu parse calls", k, calls);
        }
    }
    size_t scan = 0;
    CHECK(!http_head_ready("GET / HTTP/1.1\r\n", 16, 65536, &scan));
    CHECK_INT(scan, 16);
    CHECK(http_head_ready("GET / HTTP/1.1\r\n\r\n", 18, 65536, &scan));
    CHECK_INT(scan, 18);
    scan = 0;
    CHECK(http_head_ready("GET / HTTP/1.1\r\n", 16, 16, &scan)); /* at the limit: parse to get 431 */
}

static int parse(const char *raw, enum http_mode mode, struct http_header *hdrs, struct http_request *r,
                 struct http_error *e)
{
    return http_parse_request_head(raw, strlen(raw), mode, NULL, hdrs, MAXH, r, e);
}

TEST(http_request_fields)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    const char raw[] = "GET /a/b.php?x=1&y=2#top HTTP/1.1\r\n"
                       "Host: a.example\r\n"
                       "User-Agent:  curl/8.0  \r\n"
                       "Accept: */*\r\n"
                       "\r\n"
                       "NEXT";
    /* the fragment is refused in strict mode; the slicing is the same */
    CHECK_INT(parse(raw, HTTP_STRICT, h, &r, &e), HTTP_PARSE_ERROR);
    CHECK_INT(parse(raw, HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.line.p, r.line.n, "GET /a/b.php?x=1&y=2#top HTTP/1.1", 33);
    CHECK_MEM(r.method.p, r.method.n, "GET", 3);
    CHECK_MEM(r.target.p, r.target.n, "/a/b.php?x=1&y=2#top", 20);
    CHECK_MEM(r.path.p, r.path.n, "/a/b.php", 8);
    CHECK_MEM(r.query.p, r.query.n, "x=1&y=2", 7);
    CHECK_MEM(r.version.p, r.version.n, "HTTP/1.1", 8);
    CHECK_INT(r.version_minor, 1);
    CHECK_INT(r.form, HTTP_FORM_ORIGIN);
    CHECK_INT(r.authority.n, 0);
    CHECK_INT(r.nheaders, 3);
    CHECK(r.headers == h);
    CHECK_MEM(h[1].name.p, h[1].name.n, "User-Agent", 10);
    CHECK_MEM(h[1].value.p, h[1].value.n, "curl/8.0", 8);
    CHECK_INT(r.head_len, sizeof(raw) - 1 - 4);
    CHECK_INT(r.content_length, -1);
    CHECK(!r.chunked);
    CHECK(!r.has_body);
    CHECK(r.keep_alive);
    /* zero copy: slices point into the input */
    CHECK(r.method.p == raw);
    CHECK(h[0].value.p == raw + 41);

    const struct http_header *f = http_header_find(h, r.nheaders, "user-AGENT");
    CHECK(f == &h[1]);
    CHECK(http_header_find(h, r.nheaders, "User-Agen") == NULL);
    CHECK(http_header_find(h, r.nheaders, "Referer") == NULL);
    CHECK(http_header_find(NULL, 0, "Host") == NULL);
}

TEST(http_request_no_query_and_empty_query)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    CHECK_INT(parse("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_STRICT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.path.p, r.path.n, "/x", 2);
    CHECK_INT(r.query.n, 0);
    CHECK_INT(parse("GET /x? HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_STRICT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.query.n, 0);
    CHECK_INT(parse("GET /x#?a HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.path.p, r.path.n, "/x", 2);
    CHECK_INT(r.query.n, 0);
}

TEST(http_request_target_forms)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    CHECK_INT(parse("GET http://a.example:8080/p/q?z=1 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
                    HTTP_STRICT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK_INT(r.form, HTTP_FORM_ABSOLUTE);
    CHECK_MEM(r.authority.p, r.authority.n, "a.example:8080", 14);
    CHECK_MEM(r.path.p, r.path.n, "/p/q", 4);
    CHECK_MEM(r.query.p, r.query.n, "z=1", 3);

    CHECK_INT(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", HTTP_STRICT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK_INT(r.form, HTTP_FORM_AUTHORITY);
    CHECK_MEM(r.authority.p, r.authority.n, "a.example:443", 13);
    CHECK_INT(r.path.n, 0);

    CHECK_INT(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_STRICT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.form, HTTP_FORM_ASTERISK);
    CHECK_MEM(r.path.p, r.path.n, "*", 1);

    CHECK_INT(parse("GET index.php?a=b HTTP/1.1\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.form, HTTP_FORM_OTHER);
    CHECK_MEM(r.path.p, r.path.n, "index.php", 9);
    CHECK_MEM(r.query.p, r.query.n, "a=b", 3);
}

TEST(http_request_keep_alive)
{
    static const struct {
        const char *raw;
        bool ka;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: foo , keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
    };
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(parse(cases[i].raw, HTTP_STRICT, h, &r, &e), HTTP_PARSE_OK);
        if (r.keep_alive != cases[i].ka)
            t_fail(t, __FILE__, __LINE__, "case %zu: keep_alive %d", i, r.keep_alive);
    }
    /* lenient, unknown version: never reused */
    CHECK_INT(parse("GET / HTTP/1.2\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK(!r.keep_alive);
    CHECK_INT(r.version_minor, -1);
}

TEST(http_request_body_framing)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", HTTP_STRICT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK_INT(r.content_length, 12);
    CHECK(r.has_body && !r.chunked);
    CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HTTP_STRICT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK_INT(r.content_length, 0);
    CHECK(!r.has_body);
    CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_STRICT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK(r.chunked && r.has_body);
    CHECK_INT(r.content_length, -1);

    /* lenient: chunked wins over Content-Length */
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_LENIENT,
                    h, &r, &e),
              HTTP_PARSE_OK);
    CHECK(r.chunked && r.has_body);
    CHECK_INT(r.content_length, -1);
    /* lenient: TE not ending in chunked leaves Content-Length in charge */
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                    HTTP_LENIENT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK(!r.chunked);
    CHECK_INT(r.content_length, 3);
    /* lenient: first valid Content-Length wins, junk ones are ignored */
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: x\r\nContent-Length: 7\r\nContent-Length: 9\r\n\r\n",
                    HTTP_LENIENT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK_INT(r.content_length, 7);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.content_length, -1);
    CHECK(!r.has_body);
    /* lenient: chunked with parameters is still judged by its name */
    CHECK_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked ;x=1\r\n\r\n", HTTP_LENIENT, h, &r, &e),
              HTTP_PARSE_OK);
    CHECK(r.chunked);
}

TEST(http_request_pipelined_body_not_consumed)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    const char raw[] = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n";
    CHECK_INT(parse(raw, HTTP_STRICT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(raw + r.head_len, 3, "abc", 3);
}

TEST(http_request_error_details)
{
    static const struct {
        const char *raw;
        int status;
        const char *reason;
        size_t offset;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400,
         "duplicate Content-Length", 45},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
         "both Content-Length and Transfer-Encoding", 45},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, "obsolete line folding", 31},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace between header name and colon", 20},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare CR", 29},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, "NUL byte", 29},
        {"GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF line end", 14},
        {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, "HTTP version not supported", 6},
        {"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without Host", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host", 25},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501,
         "unsupported transfer coding", 26},
    };
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].raw);
        if (i == 5)
            n = 35; /* the one with a NUL */
        CHECK_INT(http_parse_request_head(cases[i].raw, n, HTTP_STRICT, NULL, h, MAXH, &r, &e), HTTP_PARSE_ERROR);
        CHECK_INT(e.status, cases[i].status);
        CHECK_STR(e.reason, cases[i].reason);
        CHECK_INT(e.offset, cases[i].offset);
    }
    /* err may be NULL */
    CHECK_INT(http_parse_request_head("GET\r\n\r\n", 7, HTTP_STRICT, NULL, h, MAXH, &r, NULL), HTTP_PARSE_ERROR);
}

TEST(http_request_lenient_views)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;

    /* bare LF, extra spaces, a line without colon, bad name chars */
    const char a[] = "GET   /a b?c=d   HTTP/1.1  \nHost: x\nJunkLine\nBad Name(1) : v \r\nX-Y:z\n\n";
    CHECK_INT(parse(a, HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.method.p, r.method.n, "GET", 3);
    CHECK_MEM(r.target.p, r.target.n, "/a b?c=d", 8);
    CHECK_MEM(r.path.p, r.path.n, "/a b", 4);
    CHECK_MEM(r.query.p, r.query.n, "c=d", 3);
    CHECK_MEM(r.version.p, r.version.n, "HTTP/1.1", 8);
    CHECK_INT(r.version_minor, 1);
    CHECK_INT(r.nheaders, 3);
    CHECK_MEM(h[1].name.p, h[1].name.n, "Bad Name(1)", 11);
    CHECK_MEM(h[1].value.p, h[1].value.n, "v", 1);
    CHECK_MEM(h[2].value.p, h[2].value.n, "z", 1);
    CHECK_INT(r.head_len, sizeof(a) - 1);

    /* HTTP/0.9 style: no version */
    CHECK_INT(parse("GET /index.html\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.target.p, r.target.n, "/index.html", 11);
    CHECK_INT(r.version.n, 0);
    CHECK_INT(r.version_minor, -1);
    CHECK(!r.keep_alive);

    /* NUL in a value is kept */
    const char n[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    CHECK_INT(http_parse_request_head(n, sizeof(n) - 1, HTTP_LENIENT, NULL, h, MAXH, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(h[0].value.p, h[0].value.n, "a\0b", 3);

    /* obs-fold: the value slice spans the fold, raw */
    const char f[] = "GET / HTTP/1.1\r\nX: a\r\n  b \r\nY: c\r\n\r\n";
    CHECK_INT(parse(f, HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.nheaders, 2);
    CHECK_MEM(h[0].value.p, h[0].value.n, "a\r\n  b", 6);
    CHECK_MEM(h[1].value.p, h[1].value.n, "c", 1);
    /* fold after an empty value starts the value */
    CHECK_INT(parse("GET / HTTP/1.1\r\nX:\r\n b\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(h[0].value.p, h[0].value.n, "b", 1);

    /* unknown version is kept as sent */
    CHECK_INT(parse("GET / HTTP/9.9\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.version.p, r.version.n, "HTTP/9.9", 8);
    CHECK_INT(r.version_minor, -1);

    /* method only */
    CHECK_INT(parse("PROPFIND\r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_OK);
    CHECK_MEM(r.method.p, r.method.n, "PROPFIND", 8);
    CHECK_INT(r.target.n, 0);

    /* truly nothing there */
    CHECK_INT(parse(" \t \r\n\r\n", HTTP_LENIENT, h, &r, &e), HTTP_PARSE_ERROR);
    CHECK_INT(e.status, 400);
}

/* ---- responses ---- */

TEST(http_response_cases)
{
    static const struct {
        const char *raw;
        int strict, lenient;
        int status;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", OK, OK, 200},
        {"HTTP/1.1 204\r\n\r\n", OK, OK, 204},
        {"HTTP/1.1 204 \r\n\r\n", OK, OK, 204},
        {"HTTP/1.0 404 Not Found\r\n\r\n", OK, OK, 404},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", OK, OK, 200},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", OK, OK, 200},
        {"HTTP/1.1 200 OK\r\n", AGAIN, AGAIN, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 502, OK, 200},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 502, OK, 200},
        {"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", 502, OK, 200},
        {"HTTP/2 200 OK\r\n\r\n", 502, OK, 200},
        {"HTTP/1.1 600 Odd\r\n\r\n", 502, OK, 600},
        {"HTTP/1.1 20 OK\r\n\r\n", 502, 502, 0},
        {"HTTP/1.1 2000 OK\r\n\r\n", 502, 502, 0},
        {"HTTP/1.1  200 OK\r\n\r\n", 502, OK, 200},
        {"HTTP/1.1 200 OK\nServer: x\n\n", 502, OK, 200},
        {"ICY 200 OK\r\n\r\n", 502, 502, 0},
        {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502, OK, 200},
        {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 502, OK, 200},
    };
    struct http_header h[MAXH];
    struct http_response r;
    struct http_error e;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int m = 0; m < 2; m++) {
            int want = m ? cases[i].lenient : cases[i].strict;
            int rc = http_parse_response_head(cases[i].raw, strlen(cases[i].raw), m ? HTTP_LENIENT : HTTP_STRICT,
                                              NULL, h, MAXH, &r, &e);
            int got = rc == HTTP_PARSE_OK ? OK : rc == HTTP_PARSE_AGAIN ? AGAIN : e.status;
            if (got != want)
                t_fail(t, __FILE__, __LINE__, "response case %zu [%s]: got %d (%s), expected %d", i,
                       m ? "lenient" : "strict", got, rc == HTTP_PARSE_ERROR ? e.reason : "-", want);
            if (rc == HTTP_PARSE_OK && r.status != cases[i].status)
                t_fail(t, __FILE__, __LINE__, "response case %zu: status %d", i, r.status);
        }
    }
    CHECK_INT(http_parse_response_head("HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nConnection: close\r\n"
                                       "Content-Length: 0\r\n\r\n",
                                       86, HTTP_STRICT, NULL, h, MAXH, &r, &e),
              HTTP_PARSE_OK);
    CHECK_MEM(r.reason.p, r.reason.n, "Moved Permanently", 17);
    CHECK_MEM(r.version.p, r.version.n, "HTTP/1.1", 8);
    CHECK_INT(r.nheaders, 3);
    CHECK_INT(r.content_length, 0);
    CHECK(!r.keep_alive);
    CHECK_INT(r.head_len, 86);
}

/* ---- chunked ---- */

struct chunk_case {
    const char *name;
    const char *in;
    size_t len;
    size_t max_body;
    int rc;
    int status; /* on error */
    const char *out; /* decoded (on OK / AGAIN) */
    size_t consumed; /* on OK/AGAIN: input used; ALL = all of it */
    size_t outlen;   /* decoded length when out holds NULs, else 0 */
};

#define NOLIM SIZE_MAX
#define ALL SIZE_MAX
static const struct chunk_case chunk_cases[] = {
    {"one chunk", S("5\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"two chunks", S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello world", ALL, 0},
    {"hex sizes", S("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0,
     "0123456789abcdefghij", ALL, 0},
    {"leading zeros", S("0005\r\nhello\r\n000\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"extensions", S("5;name=val;x=\"q;\"\r\nhello\r\n0;last\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"bws before extension", S("5 \t;a=b\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"trailers", S("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"empty body", S("0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "", ALL, 0},
    {"next message follows", S("1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), NOLIM, HTTP_PARSE_OK, 0, "a", 11, 0},
    {"binary data", S("3\r\n\0\r\n\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_OK, 0, "\0\r\n", ALL, 3},
    {"at max_body", S("5\r\nhello\r\n0\r\n\r\n"), 5, HTTP_PARSE_OK, 0, "hello", ALL, 0},
    {"incomplete data", S("5\r\nhel"), NOLIM, HTTP_PARSE_AGAIN, 0, "hel", ALL, 0},
    {"incomplete trailer", S("0\r\nX: 1\r\n"), NOLIM, HTTP_PARSE_AGAIN, 0, "", ALL, 0},
    {"incomplete end", S("0\r\n\r"), NOLIM, HTTP_PARSE_AGAIN, 0, "", ALL, 0},
    {"over max_body", S("5\r\nhello\r\n0\r\n\r\n"), 4, HTTP_PARSE_ERROR, 413, "", 0, 0},
    {"over max_body second chunk", S("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"), 5, HTTP_PARSE_ERROR, 413, "abc", 0, 0},
    {"huge size", S("ffffffffffffffff\r\n"), (size_t)1 << 40, HTTP_PARSE_ERROR, 413, "", 0, 0},
    {"huge size unlimited", S("ffffffffffffffff\r\nab"), NOLIM, HTTP_PARSE_AGAIN, 0, "ab", ALL, 0},
    {"size overflow", S("10000000000000000\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"empty size", S("\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"non-hex size", S("g\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"negative size", S("-1\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"0x prefix", S("0x5\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"leading space", S(" 5\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"trailing space no ext", S("5 \r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"bare LF after size", S("5\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"bare CR after size", S("5\rhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"bare LF in extension", S("5;a\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"nul in extension", S("5;a\0\r\nhello\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"data longer than size", S("5\r\nhello!\r\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "hello", 0, 0},
    {"data without CRLF", S("5\r\nhello0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "hello", 0, 0},
    {"data with bare LF", S("5\r\nhello\n0\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "hello", 0, 0},
    {"last chunk bare LF", S("0\r\n\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"last chunk bare CR", S("0\r\n\rx"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"trailer bare LF", S("0\r\nX: 1\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"trailer obs-fold", S("0\r\nX: 1\r\n 2\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
    {"trailer control", S("0\r\nX: \x01\r\n\r\n"), NOLIM, HTTP_PARSE_ERROR, 400, "", 0, 0},
};

struct chunk_result {
    int rc;
    int status;
    const char *reason;
    size_t offset;
    char out[256];
    size_t produced;
    size_t consumed;
};

/* Decodes in input pieces of `step` bytes with output room `ocap` per call. */
static void chunk_run(const char *in, size_t len, size_t max_body, size_t step, size_t ocap,
                      struct chunk_result *res)
{
    struct http_chunked c;
    struct http_error e = {0, NULL, 0};
    http_chunked_init(&c, max_body);
    memset(res, 0, sizeof(*res));
    size_t pos = 0;
    int rc = HTTP_PARSE_AGAIN;
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = len - pos < step ? len - pos : step;
        size_t room = sizeof(res->out) - res->produced;
        size_t used = 0, made = 0;
        rc = http_chunked_decode(&c, in + pos, n, &used, res->out + res->produced, room < ocap ? room : ocap,
                                 &made, &e);
        pos += used;
        res->produced += made;
        if (rc != HTTP_PARSE_AGAIN)
            break;
        if (pos == len && used == 0 && made == 0)
            break;
    }
    res->rc = rc;
    res->status = e.status;
    res->reason = e.reason;
    res->offset = e.offset;
    res->consumed = pos;
}

TEST(http_chunked_table)
{
    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const struct chunk_case *k = &chunk_cases[i];
        struct chunk_result whole, bytes;
        char *p = malloc(k->len);
        if (!p)
            return;
        memcpy(p, k->in, k->len);
        chunk_run(p, k->len, k->max_body, k->len ? k->len : 1, SIZE_MAX, &whole);
        if (whole.rc != k->rc)
            t_fail(t, __FILE__, __LINE__, "%s: rc %d (%s), expected %d", k->name, whole.rc,
                   whole.reason ? whole.reason : "-", k->rc);
        if (k->rc == HTTP_PARSE_ERROR && whole.status != k->status)
            t_fail(t, __FILE__, __LINE__, "%s: status %d, expected %d", k->name, whole.status, k->status);
        size_t olen = k->outlen ? k->outlen : strlen(k->out);
        if (whole.produced != olen || memcmp(whole.out, k->out, olen) != 0)
            t_fail(t, __FILE__, __LINE__, "%s: decoded \"%.*s\"", k->name, (int)whole.produced, whole.out);
        size_t want_used = k->consumed == ALL ? k->len : k->consumed;
        if (k->rc != HTTP_PARSE_ERROR && whole.consumed != want_used)
            t_fail(t, __FILE__, __LINE__, "%s: consumed %zu, expected %zu", k->name, whole.consumed, k->consumed);

        /* one byte in, one byte out per call: same answer */
        chunk_run(p, k->len, k->max_body, 1, 1, &bytes);
        if (bytes.rc != whole.rc || bytes.produced != whole.produced ||
            memcmp(bytes.out, whole.out, whole.produced) != 0 || bytes.status != whole.status ||
            bytes.offset != whole.offset || (whole.reason && strcmp(bytes.reason, whole.reason) != 0) ||
            (whole.rc == HTTP_PARSE_OK && bytes.consumed != whole.consumed))
            t_fail(t, __FILE__, __LINE__, "%s: byte-at-a-time differs (rc %d/%d, produced %zu/%zu)", k->name,
                   bytes.rc, whole.rc, bytes.produced, whole.produced);
        /* random-ish split sizes */
        for (size_t step = 2; step < 8; step++) {
            struct chunk_result sp;
            chunk_run(p, k->len, k->max_body, step, step + 1, &sp);
            if (sp.rc != whole.rc || sp.produced != whole.produced || sp.offset != whole.offset)
                t_fail(t, __FILE__, __LINE__, "%s: split %zu differs", k->name, step);
        }
        free(p);
    }
}

TEST(http_chunked_error_offset_and_sticky)
{
    struct http_chunked c;
    struct http_error e;
    size_t used, made;
    char out[16];
    http_chunked_init(&c, SIZE_MAX);
    CHECK_INT(http_chunked_decode(&c, "5\r\nhe", 5, &used, out, sizeof(out), &made, &e), HTTP_PARSE_AGAIN);
    CHECK_INT(http_chunked_decode(&c, "lloX", 4, &used, out, sizeof(out), &made, &e), HTTP_PARSE_ERROR);
    CHECK_INT(e.status, 400);
    CHECK_STR(e.reason, "missing CRLF after chunk data");
    CHECK_INT(e.offset, 8);
    CHECK_INT(used, 3);
    CHECK_INT(made, 3);
    /* stays failed */
    CHECK_INT(http_chunked_decode(&c, "\r\n", 2, &used, out, sizeof(out), &made, &e), HTTP_PARSE_ERROR);
    CHECK_INT(used, 0);
}

TEST(http_chunked_discard_mode_and_done)
{
    struct http_chunked c;
    struct http_error e;
    size_t used, made;
    const char in[] = "4\r\nabcd\r\n0\r\n\r\nrest";
    http_chunked_init(&c, 100);
    CHECK_INT(http_chunked_decode(&c, in, sizeof(in) - 1, &used, NULL, 0, &made, &e), HTTP_PARSE_OK);
    CHECK_INT(used, sizeof(in) - 1 - 4);
    CHECK_INT(made, 4);
    CHECK_INT(c.total, 4);
    /* after the end nothing more is consumed */
    CHECK_INT(http_chunked_decode(&c, "rest", 4, &used, NULL, 0, &made, &e), HTTP_PARSE_OK);
    CHECK_INT(used, 0);
    /* output full: AGAIN with input left over */
    char out[2];
    http_chunked_init(&c, 100);
    CHECK_INT(http_chunked_decode(&c, in, sizeof(in) - 1, &used, out, sizeof(out), &made, &e), HTTP_PARSE_AGAIN);
    CHECK_INT(used, 5);
    CHECK_INT(made, 2);
    CHECK_MEM(out, 2, "ab", 2);
}

TEST(http_chunked_long_lines)
{
    struct http_chunked c;
    struct http_error e;
    size_t used, made;
    char *buf = malloc(20000);
    if (!buf)
        return;
    /* a chunk extension that never ends */
    buf[0] = '1';
    buf[1] = ';';
    memset(buf + 2, 'x', 19998);
    http_chunked_init(&c, SIZE_MAX);
    CHECK_INT(http_chunked_decode(&c, buf, 20000, &used, NULL, 0, &made, &e), HTTP_PARSE_ERROR);
    CHECK_STR(e.reason, "chunk size line too long");
    /* many leading zeros are fine up to the line bound */
    memset(buf, '0', 4000);
    memcpy(buf + 4000, "1\r\nz\r\n0\r\n\r\n", 11);
    char out[4];
    http_chunked_init(&c, SIZE_MAX);
    CHECK_INT(http_chunked_decode(&c, buf, 4011, &used, out, sizeof(out), &made, &e), HTTP_PARSE_OK);
    CHECK_INT(made, 1);
    /* endless trailers */
    memcpy(buf, "0\r\n", 3);
    for (size_t i = 3; i + 6 <= 20000; i += 6)
        memcpy(buf + i, "X: y\r\n", 6);
    http_chunked_init(&c, SIZE_MAX);
    CHECK_INT(http_chunked_decode(&c, buf, 19995, &used, NULL, 0, &made, &e), HTTP_PARSE_ERROR);
    CHECK_INT(e.status, 431);
    free(buf);
}

/* ---- benchmark corpus: every request, rebuilt as raw HTTP, must parse strictly ---- */

#define CORPUS "/work/shared/bench/corpus.jsonl.zst"

struct rawbuf {
    char *p;
    size_t n, cap;
};

static int rb_put(struct rawbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->n)
        return -1;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}
static int rb_puts(struct rawbuf *b, const char *s) { return rb_put(b, s, strlen(s)); }

/* Checks one JSON line; returns 0 if it parsed as expected. */
static int corpus_check_line(struct t_ctx *t, const char *line, struct rawbuf *raw, uint64_t *ns)
{
    char ebuf[256];
    int ret = -1;
    yajl_val root = yajl_tree_parse(line, ebuf, sizeof(ebuf));
    static const char *p_method[] = {"method", NULL}, *p_uri[] = {"uri", NULL}, *p_ver[] = {"version", NULL},
                      *p_hdrs[] = {"headers", NULL}, *p_body[] = {"body", NULL}, *p_id[] = {"id", NULL};
    if (!root) {
        t_fail(t, __FILE__, __LINE__, "corpus: bad JSON: %s", ebuf);
        return -1;
    }
    const char *method = YAJL_GET_STRING(yajl_tree_get(root, p_method, yajl_t_string));
    const char *uri = YAJL_GET_STRING(yajl_tree_get(root, p_uri, yajl_t_string));
    const char *ver = YAJL_GET_STRING(yajl_tree_get(root, p_ver, yajl_t_string));
    const char *body = YAJL_GET_STRING(yajl_tree_get(root, p_body, yajl_t_string));
    yajl_val hv = yajl_tree_get(root, p_hdrs, yajl_t_array);
    yajl_val idv = yajl_tree_get(root, p_id, yajl_t_number);
    long long id = idv && YAJL_IS_INTEGER(idv) ? YAJL_GET_INTEGER(idv) : -1;
    if (!method || !uri || !ver || !hv) {
        t_fail(t, __FILE__, __LINE__, "corpus id %lld: missing keys", id);
        goto out;
    }
    raw->n = 0;
    if (rb_puts(raw, method) || rb_puts(raw, " ") || rb_puts(raw, uri) || rb_puts(raw, " ") ||
        rb_puts(raw, ver) || rb_puts(raw, "\r\n"))
        goto out;
    size_t nh = YAJL_GET_ARRAY(hv)->len;
    for (size_t i = 0; i < nh; i++) {
        yajl_val pair = YAJL_GET_ARRAY(hv)->values[i];
        if (!YAJL_IS_ARRAY(pair) || YAJL_GET_ARRAY(pair)->len != 2)
            goto out;
        const char *name = YAJL_GET_STRING(YAJL_GET_ARRAY(pair)->values[0]);
        const char *value = YAJL_GET_STRING(YAJL_GET_ARRAY(pair)->values[1]);
        if (!name || !value || rb_puts(raw, name) || rb_puts(raw, ": ") || rb_puts(raw, value) ||
            rb_puts(raw, "\r\n"))
            goto out;
    }
    size_t head_n = raw->n + 2;
    if (rb_puts(raw, "\r\n") || (body && rb_puts(raw, body)))
        goto out;

    struct http_header hdrs[MAXH];
    struct http_request r;
    struct http_error e;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = http_parse_request_head(raw->p, raw->n, HTTP_STRICT, NULL, hdrs, MAXH, &r, &e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ns += (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    if (rc != HTTP_PARSE_OK) {
        t_fail(t, __FILE__, __LINE__, "corpus id %lld: rc %d status %d %s at %zu", id, rc, e.status,
               rc == HTTP_PARSE_ERROR ? e.reason : "", e.offset);
        goto out;
    }
    size_t blen = body ? strlen(body) : 0;
    if (r.head_len != head_n || r.nheaders != nh || strlen(method) != r.method.n ||
        memcmp(method, r.method.p, r.method.n) != 0 || strlen(uri) != r.target.n ||
        memcmp(uri, r.target.p, r.target.n) != 0 ||
        (blen && r.content_length != (int64_t)blen) || (blen && !r.has_body) ||
        (r.version_minor == 1 && !http_header_find(hdrs, r.nheaders, "Connection") && !r.keep_alive)) {
        t_fail(t, __FILE__, __LINE__, "corpus id %lld: parsed fields disagree (head %zu/%zu, nh %zu/%zu, cl %lld/%zu)",
               id, r.head_len, head_n, r.nheaders, nh, (long long)r.content_length, blen);
        goto out;
    }
    /* lenient must agree on the same input */
    struct http_request l;
    if (http_parse_request_head(raw->p, raw->n, HTTP_LENIENT, NULL, hdrs, MAXH, &l, &e) != HTTP_PARSE_OK ||
        l.head_len != r.head_len || l.nheaders != r.nheaders) {
        t_fail(t, __FILE__, __LINE__, "corpus id %lld: lenient disagrees", id);
        goto out;
    }
    ret = 0;
out:
    yajl_tree_free(root);
    return ret;
}

TEST(http_bench_corpus_strict)
{
    FILE *f = fopen(CORPUS, "rb");
    if (!f) {
        printf("SKIP http_bench_corpus_strict: %s not found\n", CORPUS);
        return;
    }
    ZSTD_DCtx *dz = ZSTD_createDCtx();
    size_t inc = ZSTD_DStreamInSize(), outc = ZSTD_DStreamOutSize();
    char *ib = malloc(inc), *ob = malloc(outc);
    struct rawbuf line = {0}, raw = {0};
    size_t nreq = 0, nfail = 0;
    uint64_t ns = 0;
    if (!dz || !ib || !ob) {
        t_fail(t, __FILE__, __LINE__, "out of memory");
        goto out;
    }
    size_t got;
    while ((got = fread(ib, 1, inc, f)) > 0) {
        ZSTD_inBuffer zin = {ib, got, 0};
        while (zin.pos < zin.size) {
            ZSTD_outBuffer zout = {ob, outc, 0};
            size_t zr = ZSTD_decompressStream(dz, &zout, &zin);
            if (ZSTD_isError(zr)) {
                t_fail(t, __FILE__, __LINE__, "zstd: %s", ZSTD_getErrorName(zr));
                goto out;
            }
            const char *p = ob, *end = ob + zout.pos;
            while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (rb_put(&line, p, (size_t)((nl ? nl : end) - p)))
                    goto out;
                if (!nl)
                    break;
                if (rb_put(&line, "", 1))
                    goto out;
                if (line.n > 1) {
                    nreq++;
                    if (corpus_check_line(t, line.p, &raw, &ns) != 0 && ++nfail > 10)
                        goto out;
                }
                line.n = 0;
                p = nl + 1;
            }
        }
    }
    CHECK_INT(nreq, 10000);
    printf("http corpus: %zu requests parsed strict, %zu failed, mean %.0f ns per head\n", nreq, nfail,
           nreq ? (double)ns / (double)nreq : 0.0);
out:
    free(line.p);
    free(raw.p);
    free(ib);
    free(ob);
    ZSTD_freeDCtx(dz);
    fclose(f);
}

/* ---- speed: a 600-byte browser GET with 12 header fields ---- */

static const char bench_get[] =
    "GET /c/kids-shoes?page=8&color=burgundy&utm_source=news HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Referer: https://shop.example.com/c/kids\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: sessionid=e2da72d1a3c9b46878369003a91dc2af; currency=GBP\r\n"
    "\r\n";

TEST(http_bench_get_600)
{
    struct http_header h[MAXH];
    struct http_request r;
    struct http_error e;
    size_t n = sizeof(bench_get) - 1;
    CHECK_INT(http_parse_request_head(bench_get, n, HTTP_STRICT, NULL, h, MAXH, &r, &e), HTTP_PARSE_OK);
    CHECK_INT(r.nheaders, 12);
    CHECK_INT(r.head_len, n);
    for (int m = 0; m < 2; m++) {
        const int iters = 200000;
        struct timespec a, b;
        size_t sink = 0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (int i = 0; i < iters; i++) {
            http_parse_request_head(bench_get, n, m ? HTTP_LENIENT : HTTP_STRICT, NULL, h, MAXH, &r, &e);
            sink += r.nheaders;
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / iters;
        CHECK_INT(sink, (size_t)iters * 12);
        /* thread CPU time: other jobs on a shared box do not count */
        printf("http bench: %zu-byte GET, 12 headers, %s: %.0f CPU ns per parse (%.2f GB/s)\n", n,
               m ? "lenient" : "strict", ns, (double)n / ns);
    }
}
