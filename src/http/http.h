/* HTTP/1.1 message parsing: request and response heads, chunked bodies.
 *
 * Contract: parsers take (ptr, len), never copy, and fill slices that point
 * into the caller's buffer. They are incremental: HTTP_PARSE_AGAIN means "the
 * head is not complete yet, call again with more bytes"; nothing is consumed
 * until a full head is there. Two modes:
 *   - HTTP_STRICT (the proxy): any ambiguity is an error with the status the
 *     proxy must answer (400, 413, 414, 431, 501) and a short reason;
 *   - HTTP_LENIENT (`mamori eval`, the CRS runner, log replay): accept what a
 *     permissive server would and let the rules judge it (a request line
 *     without version, bare LF line ends, odd spacing...).
 * Header count and sizes are bounded by struct http_limits in both modes. */
#ifndef MAMORI_HTTP_HTTP_H
#define MAMORI_HTTP_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum http_parse_status {
    HTTP_PARSE_OK = 0,
    HTTP_PARSE_AGAIN = 1,
    HTTP_PARSE_ERROR = -1,
};

enum http_mode {
    HTTP_STRICT = 0,
    HTTP_LENIENT = 1,
};

struct http_limits {
    size_t max_request_line; /* 414 past it (default 8192) */
    size_t max_head_bytes;   /* 431 past it (default 65536) */
    size_t max_headers;      /* 431 past it (default 100) */
};

struct http_header {
    struct str name;
    struct str value; /* leading/trailing OWS removed */
};

struct http_error {
    int status;         /* HTTP status the server should answer with */
    const char *reason; /* static string, e.g. "invalid Content-Length" */
    size_t offset;      /* byte offset in the input where it went wrong */
};

/* Which of the four request-target forms (RFC 9112 3.2) was sent. OTHER is
 * only produced in lenient mode (e.g. "GET index.html"). */
enum http_target_form {
    HTTP_FORM_ORIGIN = 0,    /* "/path?query" */
    HTTP_FORM_ABSOLUTE = 1,  /* "http://host/path" (proxy-style) */
    HTTP_FORM_AUTHORITY = 2, /* "host:port" (CONNECT) */
    HTTP_FORM_ASTERISK = 3,  /* "*" (OPTIONS) */
    HTTP_FORM_OTHER = 4,
};

struct http_request {
    struct str line;    /* the request line without its line end */
    struct str method;
    struct str target;  /* request-target exactly as sent */
    struct str path;    /* target up to '?' (or '#') */
    struct str query;   /* after '?', without '#fragment'; n==0 if none */
    struct str version; /* "HTTP/1.1"; empty for HTTP/0.9-style lines (lenient) */
    int version_minor;  /* 0 or 1 for HTTP/1.x, -1 otherwise */
    struct http_header *headers; /* caller's array */
    size_t nheaders;
    size_t head_len;        /* bytes of the head including the blank line */
    int64_t content_length; /* -1 if none */
    bool chunked;           /* Transfer-Encoding: chunked (last coding) */
    bool keep_alive;
    bool has_body;          /* content_length > 0 or chunked */
    /* Added by the parser module (compatible extension): */
    enum http_target_form form;
    struct str authority; /* host[:port] of absolute-form and authority-form targets, else n==0 */
};

struct http_response {
    struct str line;
    struct str version;
    int status;
    struct str reason;
    struct http_header *headers;
    size_t nheaders;
    size_t head_len;
    int64_t content_length;
    bool chunked;
    bool keep_alive;
};

void http_limits_default(struct http_limits *l);

/* hdrs/max_hdrs: storage for header slices (max_hdrs caps the count). */
int http_parse_request_head(const char *buf, size_t len, enum http_mode mode,
                            const struct http_limits *lim, struct http_header *hdrs,
                            size_t max_hdrs, struct http_request *out, struct http_error *err);

int http_parse_response_head(const char *buf, size_t len, enum http_mode mode,
                             const struct http_limits *lim, struct http_header *hdrs,
                             size_t max_hdrs, struct http_response *out, struct http_error *err);

/* Incremental chunked-body decoder. Feed bytes; decoded data is written to
 * out (at most out_cap per call). Returns HTTP_PARSE_OK when the final chunk
 * and trailers are complete, HTTP_PARSE_AGAIN when more input is needed,
 * HTTP_PARSE_ERROR on a bad chunk size or framing (err set). *consumed and
 * *produced say how much input was used and output written. */
struct http_chunked {
    int state;
    uint64_t remaining;
    size_t line_len;
    size_t max_body; /* total decoded bytes allowed (413 past it); SIZE_MAX = no limit */
    uint64_t total;
    uint64_t in_off; /* input bytes consumed so far (for err->offset) */
};
void http_chunked_init(struct http_chunked *c, size_t max_body);
/* out may be NULL: data bytes are then skipped but still counted in
 * *produced (framing-only use). AGAIN with *consumed < in_len means out is
 * full: call again with the rest. After OK, bytes past *consumed belong to
 * the next message. */
int http_chunked_decode(struct http_chunked *c, const char *in, size_t in_len, size_t *consumed,
                        char *out, size_t out_cap, size_t *produced, struct http_error *err);

/* For read loops (the proxy): true once buf holds an empty line that can end
 * a head (LF LF or LF CR LF) or at least max_head bytes, i.e. once a parse
 * call is worth making. *scan carries the progress between calls (start at
 * 0; keep it while the buffer only grows), so a head arriving byte by byte
 * costs O(len) here instead of O(len^2) re-parses. A parse that still says
 * AGAIN (the empty lines were leading ones) just means: read on. */
bool http_head_ready(const char *buf, size_t len, size_t max_head, size_t *scan);

/* Case-insensitive lookup of the first header with this name, NULL if none. */
const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name);

#endif
