/* libFuzzer target for src/http: request and response heads in both modes
 * and the chunked decoder. Beyond "no crash, no sanitizer report" it checks
 * the contracts callers rely on:
 *   - slices point inside the input, head_len <= len, nheaders <= slots;
 *   - errors carry a known status, a reason and an offset inside the input;
 *   - a prefix of the input answers AGAIN or exactly what the whole does;
 *   - the chunked decoder gives the same result however input and output
 *     are split;
 *   - no head parses OK before http_head_ready reports it may.
 * The first input byte picks limits and split sizes; the rest is the
 * message. Build and run with scripts/fuzz. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 64
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int in_buf(const char *buf, size_t len, struct str s)
{
    return s.n == 0 || (s.p >= buf && s.n <= len && s.p <= buf + len - s.n);
}

struct outcome {
    int rc, status;
    const char *reason;
    size_t offset, head_len, nheaders;
};

static struct outcome run_request(const char *buf, size_t len, enum http_mode mode,
                                  const struct http_limits *lim, size_t slots)
{
    struct http_header h[SLOTS];
    struct http_request r;
    struct http_error e;
    struct outcome o = {0};
    o.rc = http_parse_request_head(buf, len, mode, lim, h, slots, &r, &e);
    CHECK(o.rc == HTTP_PARSE_OK || o.rc == HTTP_PARSE_AGAIN || o.rc == HTTP_PARSE_ERROR);
    if (o.rc == HTTP_PARSE_OK) {
        CHECK(r.head_len > 0 && r.head_len <= len);
        CHECK(r.nheaders <= slots);
        CHECK(in_buf(buf, r.head_len, r.line) && in_buf(buf, r.head_len, r.method) &&
              in_buf(buf, r.head_len, r.target) && in_buf(buf, r.head_len, r.path) &&
              in_buf(buf, r.head_len, r.query) && in_buf(buf, r.head_len, r.version) &&
              in_buf(buf, r.head_len, r.authority));
        for (size_t i = 0; i < r.nheaders; i++)
            CHECK(in_buf(buf, r.head_len, h[i].name) && in_buf(buf, r.head_len, h[i].value));
        CHECK(r.version_minor >= -1 && r.version_minor <= 1);
        CHECK(!(r.chunked && r.content_length >= 0));
        CHECK(r.has_body == (r.chunked || r.content_length > 0));
        if (mode == HTTP_STRICT) {
            CHECK(r.version_minor == 0 || r.version_minor == 1);
            CHECK(r.method.n > 0 && r.target.n > 0);
            CHECK(r.line.n <= lim->max_request_line);
        }
        CHECK(r.head_len <= lim->max_head_bytes);
        o.head_len = r.head_len;
        o.nheaders = r.nheaders;
    } else if (o.rc == HTTP_PARSE_ERROR) {
        CHECK(e.reason && e.reason[0]);
        CHECK(e.offset <= len);
        CHECK(e.status == 400 || e.status == 414 || e.status == 431 || e.status == 501 ||
              e.status == 505);
        o.status = e.status;
        o.reason = e.reason;
        o.offset = e.offset;
    }
    return o;
}

static void check_prefixes(const char *buf, size_t len, enum http_mode mode, const struct http_limits *lim,
                           size_t slots, const struct outcome *whole, unsigned seed)
{
    /* All prefixes for short inputs, a spread of them for longer ones. */
    size_t step = len <= 300 ? 1 : len / 64 + (seed % 7);
    for (size_t n = 0; n < len; n += step) {
        char *p = malloc(n ? n : 1);
        if (!p)
            return;
        memcpy(p, buf, n);
        struct outcome o = run_request(p, n, mode, lim, slots);
        if (o.rc != HTTP_PARSE_AGAIN) {
            CHECK(o.rc == whole->rc);
            CHECK(o.status == whole->status && o.offset == whole->offset && o.head_len == whole->head_len);
            CHECK(o.reason == whole->reason || strcmp(o.reason, whole->reason) == 0);
        }
        free(p);
    }
}

static void run_response(const char *buf, size_t len, enum http_mode mode, const struct http_limits *lim)
{
    struct http_header h[SLOTS];
    struct http_response r;
    struct http_error e;
    int rc = http_parse_response_head(buf, len, mode, lim, h, SLOTS, &r, &e);
    if (rc == HTTP_PARSE_OK) {
        CHECK(r.head_len > 0 && r.head_len <= len);
        CHECK(r.status >= 0 && r.status <= 999);
        CHECK(in_buf(buf, r.head_len, r.line) && in_buf(buf, r.head_len, r.reason) &&
              in_buf(buf, r.head_len, r.version));
        for (size_t i = 0; i < r.nheaders; i++)
            CHECK(in_buf(buf, r.head_len, h[i].name) && in_buf(buf, r.head_len, h[i].value));
    } else if (rc == HTTP_PARSE_ERROR) {
        CHECK(e.status == 502 && e.reason && e.offset <= len);
    }
}

struct chunk_outcome {
    int rc, status;
    size_t used, made, offset;
    uint64_t sum; /* cheap digest of the decoded bytes */
};

static struct chunk_outcome run_chunked(const char *in, size_t len, size_t max_body, size_t istep,
                                        size_t ostep, int discard)
{
    struct http_chunked c;
    struct http_error e = {0, NULL, 0};
    struct chunk_outcome o = {0};
    char out[64];
    http_chunked_init(&c, max_body);
    o.rc = HTTP_PARSE_AGAIN;
    size_t pos = 0;
    for (;;) {
        size_t n = len - pos < istep ? len - pos : istep;
        size_t used = 0, made = 0;
        size_t cap = ostep < sizeof(out) ? ostep : sizeof(out);
        o.rc = http_chunked_decode(&c, in + pos, n, &used, discard ? NULL : out, cap, &made, &e);
        CHECK(used <= n);
        CHECK(discard || made <= cap);
        if (!discard)
            for (size_t i = 0; i < made; i++)
                o.sum = o.sum * 131 + (unsigned char)out[i] + 1;
        pos += used;
        o.made += made;
        if (o.rc != HTTP_PARSE_AGAIN)
            break;
        if (used == 0 && made == 0 && pos == len)
            break;
        CHECK(used > 0 || made > 0); /* progress or a reason to stop */
    }
    CHECK(c.total == o.made);
    CHECK(c.total <= max_body);
    o.used = pos;
    if (o.rc == HTTP_PARSE_ERROR) {
        CHECK(e.reason && (e.status == 400 || e.status == 413 || e.status == 431));
        CHECK(e.offset <= len);
        o.status = e.status;
        o.offset = e.offset;
    }
    return o;
}

static void check_chunked(const char *in, size_t len, unsigned flags)
{
    size_t max_body = (flags & 0x40) ? 64 : SIZE_MAX;
    struct chunk_outcome whole = run_chunked(in, len, max_body, len ? len : 1, 64, 0);
    struct chunk_outcome split = run_chunked(in, len, max_body, 1 + (flags & 7), 1 + ((flags >> 3) & 7), 0);
    CHECK(whole.rc == split.rc && whole.made == split.made && whole.sum == split.sum);
    CHECK(whole.status == split.status && whole.offset == split.offset);
    if (whole.rc == HTTP_PARSE_OK)
        CHECK(whole.used == split.used);
    struct chunk_outcome skip = run_chunked(in, len, max_body, len ? len : 1, 0, 1);
    CHECK(skip.rc == whole.rc && skip.made == whole.made && skip.status == whole.status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;

    struct http_limits def, small;
    http_limits_default(&def);
    small.max_request_line = 16 + (flags & 0x1f);
    small.max_head_bytes = 64 + (flags & 0x3f) * 4;
    small.max_headers = 1 + ((flags >> 5) & 7);
    const struct http_limits *lim = (flags & 0x80) ? &small : &def;
    size_t slots = (flags & 0x20) ? 4 : SLOTS;

    for (int m = 0; m < 2; m++) {
        enum http_mode mode = m ? HTTP_LENIENT : HTTP_STRICT;
        struct outcome o = run_request(buf, len, mode, lim, slots);
        /* A head can only be complete once http_head_ready says so. */
        size_t scan = 0;
        if (!http_head_ready(buf, len, lim->max_head_bytes, &scan))
            CHECK(o.rc != HTTP_PARSE_OK && scan == len);
        if (len <= 4096)
            check_prefixes(buf, len, mode, lim, slots, &o, flags);
        if (o.rc == HTTP_PARSE_OK)
            check_chunked(buf + o.head_len, len - o.head_len, flags);
        run_response(buf, len, mode, lim);
    }
    check_chunked(buf, len, flags);
    return 0;
}
