/* Incremental decoder for the chunked transfer coding (RFC 9112 7.1).
 *
 * A byte-at-a-time state machine except for chunk data, which is copied in
 * bulk. All state lives in struct http_chunked, so input may be split
 * anywhere and output may be drained in pieces of any size. Framing is
 * exact: CRLF everywhere (a bare LF or CR is an error, since proxies that
 * disagree on line ends are how chunked smuggling works), whitespace after
 * the size only before a ';' extension, sizes checked for overflow. */
#include "http/http.h"

#include <stdint.h>
#include <string.h>

/* Longest chunk-size line (digits plus extensions) and the most trailer
 * bytes we read before giving up; both only guard against a peer that
 * keeps us busy with bytes we discard. */
#define CHUNK_LINE_MAX 4096
#define TRAILER_MAX 16384

enum {
    CH_SIZE0 = 0, /* before the first hex digit; 0 so a zeroed struct is ready */
    CH_SIZE,      /* in the hex digits */
    CH_BWS,       /* whitespace after the size; only ';' may follow */
    CH_EXT,       /* in chunk extensions */
    CH_SIZE_LF,   /* saw CR after the size line */
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,   /* at the start of a trailer line or the final CRLF */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
    CH_FAILED,
};

void http_chunked_init(struct http_chunked *c, size_t max_body)
{
    memset(c, 0, sizeof(*c));
    c->state = CH_SIZE0;
    c->max_body = max_body;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* A control byte other than HT is never valid inside a line. */
static bool is_ctl(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

int http_chunked_decode(struct http_chunked *c, const char *in, size_t in_len, size_t *consumed,
                        char *out, size_t out_cap, size_t *produced, struct http_error *err)
{
    struct http_error dummy;
    size_t i = 0, o = 0;
    int rc = HTTP_PARSE_AGAIN;
    int status = 400;
    const char *why = NULL;

    if (!err)
        err = &dummy;
    if (!in)
        in_len = 0;
    if (c->state == CH_FAILED) {
        why = "chunked decoder already failed";
        goto fail;
    }
    while (c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t n = in_len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            if (out && n > out_cap - o)
                n = out_cap - o;
            if (n == 0)
                break; /* no input or no room */
            if (out)
                memcpy(out + o, in + i, n);
            i += n;
            o += n;
            c->remaining -= n;
            c->total += n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        if (i >= in_len)
            break;
        unsigned char ch = (unsigned char)in[i];
        int h;
        switch (c->state) {
        case CH_SIZE0:
            h = hexval(ch);
            if (h < 0) {
                why = "invalid chunk size";
                goto fail;
            }
            c->remaining = (uint64_t)h;
            c->line_len = 0;
            c->state = CH_SIZE;
            break;
        case CH_SIZE:
            h = hexval(ch);
            if (h >= 0) {
                if (c->remaining > (UINT64_MAX >> 4)) {
                    why = "chunk size overflows";
                    goto fail;
                }
                c->remaining = c->remaining << 4 | (uint64_t)h;
            } else if (ch == ';') {
                c->state = CH_EXT;
            } else if (ch == ' ' || ch == '\t') {
                c->state = CH_BWS;
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else {
                why = "invalid chunk size";
                goto fail;
            }
            break;
        case CH_BWS:
            if (ch == ';') {
                c->state = CH_EXT;
            } else if (ch != ' ' && ch != '\t') {
                why = "whitespace after chunk size";
                goto fail;
            }
            break;
        case CH_EXT:
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (is_ctl(ch)) {
                why = ch == '\n' ? "bare LF in chunk size line" : "control character in chunk extension";
                goto fail;
            }
            break;
        case CH_SIZE_LF:
            if (ch != '\n') {
                why = "bare CR in chunk size line";
                goto fail;
            }
            if (c->remaining == 0) {
                c->line_len = 0;
                c->state = CH_TRAILER;
                break;
            }
            /* Refuse the whole chunk up front: no point reading bytes we
             * will not accept. Invariant: total <= max_body. */
            if (c->remaining > (uint64_t)c->max_body - c->total) {
                status = 413;
                why = "chunked body too large";
                goto fail;
            }
            c->state = CH_DATA;
            break;
        case CH_DATA_CR:
            if (ch != '\r') {
                why = "missing CRLF after chunk data";
                goto fail;
            }
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n') {
                why = "missing CRLF after chunk data";
                goto fail;
            }
            c->state = CH_SIZE0;
            break;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
            } else if (ch == ' ' || ch == '\t') {
                why = "obsolete line folding in trailer";
                goto fail;
            } else if (is_ctl(ch)) {
                why = ch == '\n' ? "bare LF in trailer" : "control character in trailer";
                goto fail;
            } else {
                c->state = CH_TRAILER_LINE;
            }
            break;
        case CH_TRAILER_LINE:
            if (ch == '\r') {
                c->state = CH_TRAILER_LF;
            } else if (is_ctl(ch)) {
                why = ch == '\n' ? "bare LF in trailer" : "control character in trailer";
                goto fail;
            }
            break;
        case CH_TRAILER_LF:
            if (ch != '\n') {
                why = "bare CR in trailer";
                goto fail;
            }
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n') {
                why = "bare CR after last chunk";
                goto fail;
            }
            c->state = CH_DONE;
            break;
        default:
            why = "chunked decoder in a bad state";
            goto fail;
        }
        i++;
        /* line_len counts size-line bytes, then (from 0 again) all trailer
         * bytes, so both are bounded. */
        if (c->state == CH_SIZE || c->state == CH_BWS || c->state == CH_EXT) {
            if (++c->line_len > CHUNK_LINE_MAX) {
                why = "chunk size line too long";
                goto fail;
            }
        } else if (c->state >= CH_TRAILER && c->state <= CH_END_LF) {
            if (++c->line_len > TRAILER_MAX) {
                status = 431;
                why = "chunked trailer too large";
                goto fail;
            }
        }
    }
    rc = c->state == CH_DONE ? HTTP_PARSE_OK : HTTP_PARSE_AGAIN;
    goto out;
fail:
    c->state = CH_FAILED;
    err->status = status;
    err->reason = why;
    err->offset = (size_t)(c->in_off + i);
    rc = HTTP_PARSE_ERROR;
out:
    c->in_off += i;
    if (consumed)
        *consumed = i;
    if (produced)
        *produced = o;
    return rc;
}
