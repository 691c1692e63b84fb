/* Feeding a request and its response into a transaction: the variables
 * ModSecurity derives from the request line, headers, body processors and
 * response, then the phase that judges them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "waf/body.h"
#include "waf/tx.h"

void engine_run_phase(struct waf_tx *tx, int phase);

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* %XX decoding as ModSecurity applies to the URI: '+' stays, invalid
 * escapes stay as they are. */
static struct str uri_decode(struct waf_tx *tx, const char *s, size_t n)
{
    char *o = arena_alloc(tx->a, n + 1);
    if (!o)
        return str_make(s, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 0 + 1 && i + 2 <= n - 1 + 0 && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            o[k++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return str_make(o, k);
}

struct sink_ctx {
    struct waf_tx *tx;
    int var;
    unsigned count;
};

static int sink_arg(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
    struct sink_ctx *s = ctx;
    struct waf_tx *tx = s->tx;
    if (tx->c[V_ARGS_GET].n + tx->c[V_ARGS_POST].n + tx->c[V_ARGS_JSON].n >= tx->p->args_limit) {
        /* SecArgumentsLimit: ModSecurity stops adding and the 200007 rule
         * (&ARGS >= limit) reports it */
        return 0;
    }
    tx->args_combined += nlen + vlen;
    return tx_coll_add(tx, s->var, name, nlen, val, vlen) < 0 ? 0 : 0;
}

static int sink_file(void *ctx, const char *field, size_t flen, const char *filename,
                     size_t fnlen, const char *data, size_t dlen)
{
    struct sink_ctx *s = ctx;
    struct waf_tx *tx = s->tx;
    char num[24];
    int nl = snprintf(num, sizeof num, "%zu", dlen);
    tx_coll_add(tx, V_FILES, field, flen, filename, fnlen);
    tx_coll_add(tx, V_FILES_SIZES, field, flen, num, (size_t)nl);
    tx_coll_add(tx, V_FILES_TMP_CONTENT, field, flen, data, dlen);
    return 0;
}

static int sink_part_header(void *ctx, const char *field, size_t flen, const char *line,
                            size_t llen)
{
    struct sink_ctx *s = ctx;
    /* ModSecurity 3.0.9 keeps the line end on these values; later releases
     * and CRS's tests (922110) expect the header without it */
    while (llen && (line[llen - 1] == '\n' || line[llen - 1] == '\r'))
        llen--;
    tx_coll_add(s->tx, V_MULTIPART_PART_HEADERS, field, flen, line, llen);
    return 0;
}

int tx_add_args_urlencoded(struct waf_tx *tx, int var, const char *p, size_t n)
{
    struct sink_ctx sc = {tx, var, 0};
    struct body_sink sink = {&sc, sink_arg, sink_file, sink_part_header};
    unsigned bad = 0;
    int rc = body_urlencoded_parse(p, n, tx->p->arg_separator, &sink, &bad);
    if (bad)
        tx_set_scalar_c(tx, V_URLENCODED_ERROR, "1");
    return rc;
}

static const char *proc_name(enum body_proc bp)
{
    switch (bp) {
    case BP_URLENCODED: return "URLENCODED";
    case BP_MULTIPART: return "MULTIPART";
    case BP_JSON: return "JSON";
    case BP_XML: return "XML";
    default: return "";
    }
}

int waf_tx_request_head(struct waf_tx *tx, const struct http_request *req)
{
    struct str method = req->method;
    struct str target = req->target;
    tx_set_scalar(tx, V_REQUEST_METHOD, method.p, method.n);
    struct str ver = req->version.n ? req->version : STR_LIT("HTTP/0.9");
    tx_set_scalar(tx, V_REQUEST_PROTOCOL, ver.p, ver.n);
    {
        size_t l = method.n + 1 + target.n + 1 + ver.n;
        char *line = arena_alloc(tx->a, l + 1);
        if (line) {
            size_t k = 0;
            memcpy(line + k, method.p, method.n);
            k += method.n;
            line[k++] = ' ';
            memcpy(line + k, target.p, target.n);
            k += target.n;
            if (req->version.n) {
                line[k++] = ' ';
                memcpy(line + k, ver.p, ver.n);
                k += ver.n;
            }
            tx_set_scalar(tx, V_REQUEST_LINE, line, k);
        }
    }
    tx_set_scalar(tx, V_REQUEST_URI_RAW, target.p, target.n);
    struct str dec = uri_decode(tx, target.p, target.n);
    const char *q = memchr(dec.p, '?', dec.n);
    struct str path = str_make(dec.p, q ? (size_t)(q - dec.p) : dec.n);
    tx_set_scalar(tx, V_REQUEST_FILENAME, path.p, path.n);
    tx_set_scalar(tx, V_PATH_INFO, path.p, path.n);
    for (size_t i = path.n; i-- > 0;) {
        if (path.p[i] == '/' || path.p[i] == '\\') {
            if (i + 1 < path.n)
                tx_set_scalar(tx, V_REQUEST_BASENAME, path.p + i + 1, path.n - i - 1);
            break;
        }
    }
    /* REQUEST_URI drops "scheme://host" of an absolute-form target */
    struct str uri = dec;
    if (dec.n && dec.p[0] != '/') {
        const char *colon = memchr(dec.p, ':', dec.n);
        if (colon && (size_t)(colon - dec.p) + 3 <= dec.n && colon[1] == '/' && colon[2] == '/') {
            const char *hs = colon + 3;
            const char *slash = memchr(hs, '/', dec.n - (size_t)(hs - dec.p));
            if (slash)
                uri = str_make(slash, dec.n - (size_t)(slash - dec.p));
        }
    }
    tx_set_scalar(tx, V_REQUEST_URI, uri.p, uri.n);
    const char *rq = memchr(target.p, '?', target.n);
    if (rq) {
        const char *qs = rq + 1;
        size_t ql = target.n - (size_t)(qs - target.p);
        tx_set_scalar(tx, V_QUERY_STRING, qs, ql);
        if (ql)
            tx_add_args_urlencoded(tx, V_ARGS_GET, qs, ql);
    } else {
        tx_set_scalar(tx, V_QUERY_STRING, "", 0);
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        tx_coll_add(tx, V_REQUEST_HEADERS, h->name.p, h->name.n, h->value.p, h->value.n);
        if (str_ieq_c(h->name, "cookie")) {
            /* split on ';' like ModSecurity v3: empty pieces skipped, the key
             * left-trimmed, value after the first '=' */
            const char *s = h->value.p;
            size_t n = h->value.n;
            while (n && isspace((unsigned char)s[n - 1]))
                n--;
            size_t st = 0;
            while (st <= n) {
                size_t e = st;
                while (e < n && s[e] != ';')
                    e++;
                const char *piece = s + st;
                size_t pl = e - st;
                if (pl) {
                    const char *eq = memchr(piece, '=', pl);
                    const char *k = piece;
                    size_t kl = eq ? (size_t)(eq - piece) : pl;
                    while (kl && isspace((unsigned char)*k)) {
                        k++;
                        kl--;
                    }
                    if (kl) {
                        const char *v = eq ? eq + 1 : "";
                        size_t vl = eq ? pl - (size_t)(eq - piece) - 1 : 0;
                        tx_coll_add(tx, V_REQUEST_COOKIES, k, kl, v, vl);
                    }
                }
                st = e + 1;
            }
        } else if (str_ieq_c(h->name, "authorization")) {
            const char *sp = memchr(h->value.p, ' ', h->value.n);
            tx_set_scalar(tx, V_AUTH_TYPE, h->value.p, sp ? (size_t)(sp - h->value.p) : h->value.n);
        } else if (str_ieq_c(h->name, "host")) {
            const char *c = memchr(h->value.p, ':', h->value.n);
            if (!tx->o.server_name)
                tx_set_scalar(tx, V_SERVER_NAME, h->value.p,
                              c ? (size_t)(c - h->value.p) : h->value.n);
        } else if (str_ieq_c(h->name, "content-type")) {
            if (h->value.n >= 19 && strncasecmp(h->value.p, "multipart/form-data", 19) == 0)
                tx->body_proc = BP_MULTIPART;
            else if (h->value.n >= 33 &&
                     strncasecmp(h->value.p, "application/x-www-form-urlencoded", 33) == 0)
                tx->body_proc = BP_URLENCODED;
        }
    }
    if (tx->o.server_name)
        tx_set_scalar_c(tx, V_SERVER_NAME, tx->o.server_name);
    if (tx->body_proc != BP_NONE)
        tx_set_scalar_c(tx, V_REQBODY_PROCESSOR, proc_name(tx->body_proc));
    tx_set_scalar_num(tx, V_ARGS_COMBINED_SIZE, (long long)tx->args_combined);
    engine_run_phase(tx, 1);
    return 0;
}

static void set_flag(struct waf_tx *tx, int var, bool v) { tx_set_scalar_c(tx, var, v ? "1" : "0"); }

static void body_error(struct waf_tx *tx, const char *prefix, const char *msg)
{
    char full[600];
    snprintf(full, sizeof full, "%s%s", prefix, msg);
    set_flag(tx, V_REQBODY_ERROR, true);
    set_flag(tx, V_REQBODY_PROCESSOR_ERROR, true);
    tx_set_scalar_c(tx, V_REQBODY_ERROR_MSG, full);
    tx_set_scalar_c(tx, V_REQBODY_PROCESSOR_ERROR_MSG, full);
}

int tx_process_body(struct waf_tx *tx, const char *body, size_t n)
{
    char err[512] = "";
    set_flag(tx, V_REQBODY_ERROR, false);
    set_flag(tx, V_REQBODY_PROCESSOR_ERROR, false);
    if (tx->body_proc != BP_NONE)
        tx_set_scalar_c(tx, V_REQBODY_PROCESSOR, proc_name(tx->body_proc));
    struct sink_ctx sc = {tx, V_ARGS_POST, 0};
    struct body_sink sink = {&sc, sink_arg, sink_file, sink_part_header};
    switch (tx->body_proc) {
    case BP_URLENCODED:
        tx_add_args_urlencoded(tx, V_ARGS_POST, body, n);
        break;
    case BP_JSON: {
        /* JSON arguments are ARGS, not ARGS_POST, in ModSecurity v3 */
        struct sink_ctx jc = {tx, V_ARGS_JSON, 0};
        struct body_sink js = {&jc, sink_arg, sink_file, sink_part_header};
        if (n && body_json_parse(body, n, tx->p->json_depth_limit, &js, err, sizeof err) < 0)
            body_error(tx, "JSON parsing error: ", err);
        break;
    }
    case BP_XML:
        if (body_xml_parse(body, n, &tx->xml, err, sizeof err) < 0)
            body_error(tx, "XML parsing error: ", err);
        break;
    case BP_MULTIPART: {
        struct multipart_info mi;
        memset(&mi, 0, sizeof mi);
        const struct coll *h = &tx->c[V_REQUEST_HEADERS];
        const char *ct = NULL;
        size_t ctl = 0;
        for (uint32_t i = 0; i < h->n; i++)
            if (h->v[i].nlen == 12 && strncasecmp(h->v[i].name, "content-type", 12) == 0) {
                ct = h->v[i].val;
                ctl = h->v[i].vlen;
                break;
            }
        int rc = ct ? body_multipart_parse(ct, ctl, body, n, tx->p->upload_file_limit, &sink, &mi,
                                          err, sizeof err)
                     : -1;
        if (rc < 0)
            body_error(tx, "Multipart parsing error: ", ct ? err : "no Content-Type");
        set_flag(tx, V_MULTIPART_BOUNDARY_QUOTED, mi.boundary_quoted);
        set_flag(tx, V_MULTIPART_BOUNDARY_WHITESPACE, mi.boundary_whitespace);
        set_flag(tx, V_MULTIPART_DATA_BEFORE, mi.data_before);
        set_flag(tx, V_MULTIPART_DATA_AFTER, mi.data_after);
        set_flag(tx, V_MULTIPART_HEADER_FOLDING, mi.header_folding);
        set_flag(tx, V_MULTIPART_LF_LINE, mi.lf_line);
        set_flag(tx, V_MULTIPART_CRLF_LF_LINES, mi.crlf_lf_lines);
        set_flag(tx, V_MULTIPART_MISSING_SEMICOLON, mi.missing_semicolon);
        set_flag(tx, V_MULTIPART_INVALID_QUOTING, mi.invalid_quoting);
        set_flag(tx, V_MULTIPART_INVALID_PART, mi.invalid_part);
        set_flag(tx, V_MULTIPART_INVALID_HEADER_FOLDING, mi.invalid_header_folding);
        /* as v3.0.9: FILE_LIMIT_EXCEEDED is never set, UNMATCHED_BOUNDARY is
         * a level (1 = a possible unmatched boundary), STRICT_ERROR is the
         * parser's own verdict, FILES_COMBINED_SIZE only with files */
        tx_set_scalar_num(tx, V_MULTIPART_UNMATCHED_BOUNDARY, mi.unmatched_boundary_level);
        set_flag(tx, V_MULTIPART_STRICT_ERROR, mi.strict_error);
        if (mi.files)
            tx_set_scalar_num(tx, V_FILES_COMBINED_SIZE, (long long)mi.files_combined_size);
        break;
    }
    default:
        break;
    }
    return 0;
}

int waf_tx_request_body(struct waf_tx *tx, const char *body, size_t n)
{
    if (tx->disrupted) {
        engine_run_phase(tx, 2);
        return 0;
    }
    tx_set_scalar_c(tx, V_INBOUND_DATA_ERROR, "0");
    if (n > tx->reqbody_limit) {
        tx_set_scalar_c(tx, V_INBOUND_DATA_ERROR, "1");
        if (tx->p->reqbody_limit_reject && tx->engine == ENGINE_ON) {
            tx->iv.disrupt = true;
            tx->iv.status = 413;
            tx->iv.action = "deny";
            tx->iv.rule_id = 0;
            tx->disrupted = true;
            return 0;
        }
        n = tx->reqbody_limit;
    }
    if (tx->reqbody_access) {
        tx_process_body(tx, body, n);
        /* As ModSecurity v2 and Coraza do (and CRS's tests expect), a body
         * that the XML processor parsed is inspected through XML, not as
         * raw REQUEST_BODY, unless ctl:forceRequestBodyVariable asks. */
        bool raw_var = tx->body_proc != BP_XML || tx->force_reqbody_var;
        if (n && raw_var) {
            tx_set_scalar(tx, V_REQUEST_BODY, body, n);
            tx_set_scalar_num(tx, V_REQUEST_BODY_LENGTH, (long long)n);
        }
    } else if (tx->force_reqbody_var && n) {
        tx_set_scalar(tx, V_REQUEST_BODY, body, n);
        tx_set_scalar_num(tx, V_REQUEST_BODY_LENGTH, (long long)n);
    }
    tx_set_scalar_num(tx, V_ARGS_COMBINED_SIZE, (long long)tx->args_combined);
    tx_set_scalar_num(tx, V_FULL_REQUEST_LENGTH, (long long)n);
    engine_run_phase(tx, 2);
    return 0;
}

int waf_tx_response_head(struct waf_tx *tx, const struct http_response *res)
{
    tx_set_scalar_num(tx, V_RESPONSE_STATUS, res->status);
    tx_set_scalar(tx, V_RESPONSE_PROTOCOL, res->version.p, res->version.n);
    tx_set_scalar(tx, V_STATUS_LINE, res->line.p, res->line.n);
    for (size_t i = 0; i < res->nheaders; i++) {
        const struct http_header *h = &res->headers[i];
        tx_coll_add(tx, V_RESPONSE_HEADERS, h->name.p, h->name.n, h->value.p, h->value.n);
        if (str_ieq_c(h->name, "content-type")) {
            const char *semi = memchr(h->value.p, ';', h->value.n);
            tx_set_scalar(tx, V_RESPONSE_CONTENT_TYPE, h->value.p,
                          semi ? (size_t)(semi - h->value.p) : h->value.n);
        }
    }
    engine_run_phase(tx, 3);
    return 0;
}

static bool mime_inspected(const struct waf_tx *tx)
{
    const struct waf_program *p = tx->p;
    if (p->nresbody_mime == 0)
        return true;
    struct str ct = tx->sset[V_RESPONSE_CONTENT_TYPE] ? tx->sv[V_RESPONSE_CONTENT_TYPE]
                                                      : STR_LIT("");
    for (size_t i = 0; i < p->nresbody_mime; i++)
        if (strlen(p->resbody_mime[i]) == ct.n && strncasecmp(p->resbody_mime[i], ct.p, ct.n) == 0)
            return true;
    return false;
}

int waf_tx_response_body(struct waf_tx *tx, const char *body, size_t n)
{
    if (!tx->resbody_access || !mime_inspected(tx))
        return 0;
    tx_set_scalar_c(tx, V_OUTBOUND_DATA_ERROR, "0");
    if (n > tx->p->resbody_limit) {
        tx_set_scalar_c(tx, V_OUTBOUND_DATA_ERROR, "1");
        n = tx->p->resbody_limit;
    }
    tx_set_scalar(tx, V_RESPONSE_BODY, body, n);
    tx_set_scalar_num(tx, V_RESPONSE_CONTENT_LENGTH, (long long)n);
    engine_run_phase(tx, 4);
    return 0;
}

void waf_tx_logging(struct waf_tx *tx)
{
    bool was = tx->disrupted;
    tx->disrupted = false; /* phase 5 runs even after a block */
    engine_run_phase(tx, 5);
    tx->disrupted = was;
}

#define RAW_MAX_HEADERS 1024

int waf_tx_process_raw_request(struct waf_tx *tx, const char *raw, size_t n, char *err,
                               size_t errlen)
{
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_headers = RAW_MAX_HEADERS;
    lim.max_head_bytes = n > lim.max_head_bytes ? n : lim.max_head_bytes;
    lim.max_request_line = lim.max_head_bytes;
    struct http_header *hdrs = arena_alloc(tx->a, RAW_MAX_HEADERS * sizeof(*hdrs));
    if (!hdrs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct http_request req;
    struct http_error herr = {0};
    int rc = http_parse_request_head(raw, n, HTTP_LENIENT, &lim, hdrs, RAW_MAX_HEADERS, &req, &herr);
    if (rc == HTTP_PARSE_AGAIN) {
        /* no blank line after the headers: judge what is there */
        char *tmp = arena_alloc(tx->a, n + 4);
        if (!tmp) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(tmp, raw, n);
        memcpy(tmp + n, "\r\n\r\n", 4);
        rc = http_parse_request_head(tmp, n + 4, HTTP_LENIENT, &lim, hdrs, RAW_MAX_HEADERS, &req,
                                     &herr);
        if (rc == HTTP_PARSE_OK) {
            raw = tmp;
            n = req.head_len;
        }
    }
    if (rc != HTTP_PARSE_OK) {
        snprintf(err, errlen, "not an HTTP request: %s", herr.reason ? herr.reason : "incomplete");
        return -1;
    }
    const char *rest = raw + req.head_len;
    size_t restn = n - req.head_len;
    const char *body = rest;
    size_t blen = 0;
    if (req.chunked) {
        char *out = arena_alloc(tx->a, restn + 1);
        struct http_chunked ch;
        http_chunked_init(&ch, restn + 1);
        size_t consumed = 0, produced = 0;
        if (out) {
            http_chunked_decode(&ch, rest, restn, &consumed, out, restn + 1, &produced, &herr);
            body = out;
            blen = produced;
        }
    } else if (req.content_length > 0) {
        blen = (uint64_t)req.content_length < restn ? (size_t)req.content_length : restn;
    } else if (req.content_length < 0) {
        blen = 0;
    }
    waf_tx_request_head(tx, &req);
    waf_tx_request_body(tx, body, blen);
    return 0;
}
