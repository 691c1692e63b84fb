/* Request-body processors: URL-encoded, multipart, JSON, XML.
 *
 * Expected values come from ModSecurity v3.0.9 (libmodsecurity3 3.0.9-1 on
 * Debian 12) fed the same bodies; see docs/internals/body.md for how that
 * comparison is run. Outputs are flattened into strings so each table row
 * states everything the parser reported: "name=value|" per argument, bytes
 * outside 0x20-0x7e and '|' written as \xHH. */
#include "../t.h"

#include <stdint.h>
#include <stdlib.h>

#include "waf/body.h"

struct col {
    char args[16384];
    char files[4096];
    char hdrs[8192];
    size_t alen, flen, hlen;
    int calls;
    int stop_at; /* return 7 on this call number (1-based), 0 = never */
};

static void put(char *dst, size_t cap, size_t *len, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (*len + 5 >= cap)
            return;
        if (c < 0x20 || c > 0x7e || c == '|') {
            dst[(*len)++] = '\\';
            dst[(*len)++] = 'x';
            dst[(*len)++] = hex[c >> 4];
            dst[(*len)++] = hex[c & 15];
        } else {
            dst[(*len)++] = (char)c;
        }
    }
    dst[*len] = '\0';
}

/* The '|' that ends an entry (put() would escape it). */
static void end(char *dst, size_t cap, size_t *len)
{
    if (*len + 2 >= cap)
        return;
    dst[(*len)++] = '|';
    dst[*len] = '\0';
}

static int col_next(struct col *c)
{
    c->calls++;
    return c->stop_at && c->calls == c->stop_at ? 7 : 0;
}

static int col_arg(void *ctx, const char *n, size_t nl, const char *v, size_t vl)
{
    struct col *c = ctx;
    put(c->args, sizeof c->args, &c->alen, n, nl);
    put(c->args, sizeof c->args, &c->alen, "=", 1);
    put(c->args, sizeof c->args, &c->alen, v, vl);
    end(c->args, sizeof c->args, &c->alen);
    return col_next(c);
}

static int col_file(void *ctx, const char *f, size_t fl, const char *fn, size_t fnl, const char *d,
                    size_t dl)
{
    struct col *c = ctx;
    char sz[32];
    int k = snprintf(sz, sizeof sz, "%zu", dl);
    put(c->files, sizeof c->files, &c->flen, f, fl);
    put(c->files, sizeof c->files, &c->flen, ":", 1);
    put(c->files, sizeof c->files, &c->flen, fn, fnl);
    put(c->files, sizeof c->files, &c->flen, ":", 1);
    put(c->files, sizeof c->files, &c->flen, sz, (size_t)k);
    put(c->files, sizeof c->files, &c->flen, ":", 1);
    put(c->files, sizeof c->files, &c->flen, d, dl);
    end(c->files, sizeof c->files, &c->flen);
    return col_next(c);
}

static int col_hdr(void *ctx, const char *f, size_t fl, const char *l, size_t ll)
{
    struct col *c = ctx;
    put(c->hdrs, sizeof c->hdrs, &c->hlen, f, fl);
    put(c->hdrs, sizeof c->hdrs, &c->hlen, ":", 1);
    put(c->hdrs, sizeof c->hdrs, &c->hlen, l, ll);
    end(c->hdrs, sizeof c->hdrs, &c->hlen);
    return col_next(c);
}

static struct body_sink sink_for(struct col *c)
{
    memset(c, 0, sizeof *c);
    return (struct body_sink){c, col_arg, col_file, col_hdr};
}

/* ------------------------------------------------------- URL-encoded */

static const struct {
    const char *in;
    char sep;
    const char *args;
    unsigned bad;
} url_cases[] = {
    {"a=1&b=2", '&', "a=1|b=2|", 0},
    {"a=1&&b=2", '&', "a=1|=|b=2|", 0}, /* empty piece: empty name and value */
    {"&", '&', "=|", 0},
    {"", '&', "", 0},
    {"a=1&", '&', "a=1|", 0}, /* trailing separator starts no piece */
    {"&a", '&', "=|a=|", 0},
    {"a", '&', "a=|", 0},
    {"=x", '&', "=x|", 0},
    {"a=1=2", '&', "a=1=2|", 0},
    {"a+b=c+d", '&', "a b=c d|", 0},
    {"a=%41%62%2B", '&', "a=Ab+|", 0},
    {"a=%zz", '&', "a=%zz|", 1},
    {"a=%4", '&', "a=%4|", 1},
    {"a=%", '&', "a=%|", 1},
    {"%4g=%%41", '&', "%4g=%A|", 2},
    {"a=%00b", '&', "a=\\x00b|", 0},
    {"a=1;b=2&c", ';', "a=1|b=2&c|", 0},
    {"k=%ff%FE", '&', "k=\\xff\\xfe|", 0},
};

TEST(body_urlencoded_table)
{
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        struct col c;
        struct body_sink s = sink_for(&c);
        unsigned bad = 99;
        int rc = body_urlencoded_parse(url_cases[i].in, strlen(url_cases[i].in), url_cases[i].sep,
                                       &s, &bad);
        CHECK_INT(rc, 0);
        CHECK_STR(c.args, url_cases[i].args);
        CHECK_INT(bad, url_cases[i].bad);
    }
}

TEST(body_urlencoded_nul_bytes_and_null_counter)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    static const char in[] = "a\0b=c\0d&e";
    CHECK_INT(body_urlencoded_parse(in, sizeof in - 1, '&', &s, NULL), 0);
    CHECK_STR(c.args, "a\\x00b=c\\x00d|e=|");
}

TEST(body_urlencoded_sink_stop_still_counts_escapes)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    c.stop_at = 1;
    unsigned bad = 0;
    const char *in = "a=1&b=%zz&c=%";
    CHECK_INT(body_urlencoded_parse(in, strlen(in), '&', &s, &bad), 7);
    CHECK_STR(c.args, "a=1|");
    CHECK_INT(bad, 2);
}

TEST(body_urlencoded_large_input)
{
    size_t n = 1 << 20;
    char *in = malloc(n);
    CHECK(in != NULL);
    if (!in)
        return;
    for (size_t i = 0; i < n; i++)
        in[i] = (i % 8 == 7) ? '&' : (i % 8 == 3 ? '=' : 'x');
    struct col c;
    struct body_sink s = sink_for(&c);
    CHECK_INT(body_urlencoded_parse(in, n, '&', &s, NULL), 0);
    CHECK_INT(c.calls, (int)(n / 8));
    free(in);
}

/* --------------------------------------------------------- multipart */

#define CT "multipart/form-data; boundary=b"
#define CD(n) "Content-Disposition: form-data; name=\"" n "\"\r\n"

/* Flag letters in the expectation string, in this order; '-' when unset:
 * Q boundary_quoted, W boundary_whitespace, B data_before, A data_after,
 * F header_folding, L lf_line, C crlf_line, S missing_semicolon,
 * I invalid_quoting, P invalid_part, H invalid_header_folding,
 * X file_limit_exceeded, U unmatched_boundary, E error, T strict_error. */
static void flags_of(const struct multipart_info *mi, char *out)
{
    const bool f[] = {mi->boundary_quoted,    mi->boundary_whitespace, mi->data_before,
                      mi->data_after,         mi->header_folding,      mi->lf_line,
                      mi->crlf_line,          mi->missing_semicolon,   mi->invalid_quoting,
                      mi->invalid_part,       mi->invalid_header_folding,
                      mi->file_limit_exceeded, mi->unmatched_boundary, mi->error,
                      mi->strict_error};
    const char *letters = "QWBAFLCSIPHXUET";
    for (int i = 0; i < 15; i++)
        out[i] = f[i] ? letters[i] : '-';
    out[15] = '\0';
}

static const struct mp_case {
    const char *name;
    const char *ct;
    const char *body;
    int rc;
    const char *err;
    const char *args;
    const char *files;
    const char *hdrs;
    const char *flags;
    int unmatched_level;
} mp_cases[] = {
    {"basic", CT,
     "--b\r\n" CD("a") "\r\nhello\r\n"
     "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n"
     "Content-Type: text/plain\r\n\r\nfiledata\r\n--b--\r\n",
     0, "", "a=hello|", "f:x.txt:8:filedata|",
     "a:Content-Disposition: form-data; name=\"a\"\\x0d\\x0a|"
     "f:Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\\x0d\\x0a|"
     "f:Content-Type: text/plain\\x0d\\x0a|",
     "------C--------", 2},
    /* v3 drops the line breaks inside form values, not inside files */
    {"multiline_value", CT,
     "--b\r\n" CD("a") "\r\nl1\r\nl2\nl3\r\n"
     "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"y\"\r\n\r\nl1\r\nl2\r\n--b--\r\n",
     0, "", "a=l1l2l3|", "f:y:6:l1\\x0d\\x0al2|", NULL, "------C--------", 2},
    {"empty_value_and_empty_file", CT,
     "--b\r\n" CD("a") "\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"e\"\r\n"
     "\r\n\r\n--b--\r\n",
     0, "", "a=|", "f:e:0:|", NULL, "------C--------", 2},
    {"lf_only", CT, "--b\n" "Content-Disposition: form-data; name=\"a\"\n\nv\n--b--\n", 0, "", "a=v|",
     "", NULL, "-----L--------T", 2},
    {"final_boundary_without_line_end", CT, "--b\r\n" CD("a") "\r\nv\r\n--b--",
     0, "", "a=v|", "", NULL, "------C--------", 0},
    {"data_after", CT, "--b\r\n" CD("a") "\r\nv\r\n--b--\r\ntrailing", 0, "", "a=v|", "", NULL,
     "---A--C-------T", 2},
    {"data_before", CT, "preamble\r\n--b\r\n" CD("a") "\r\nv\r\n--b--\r\n", 0, "", "a=v|", "", NULL,
     "--B---C-------T", 2},
    {"truncated", CT, "--b\r\n" CD("a") "\r\nv\r\n--b", -1, "Multipart: Final boundary missing.",
     "", "", "", "------C--------", 0},
    {"truncated_in_headers", CT, "--b\r\nContent-Dispo", -1, "Multipart: Final boundary missing.",
     "", "", "", "------C--------", 0},
    {"no_boundary_in_body", CT, "just text\r\n", -1, "Multipart: No boundaries found in payload.",
     "", "", "", "--B-----------T", 0},
    {"empty_body", CT, "", 0, "", "", "", "", "---------------", 0},
    {"no_boundary_in_ct", "multipart/form-data", "--b\r\n",
     -1, "Multipart: Boundary not found in C-T.", "", "", "", "-------------ET", 0},
    {"boundary_case", "multipart/form-data; Boundary=b", "--b\r\n", -1,
     "Multipart: Invalid boundary in C-T (case sensitivity).", "", "", "", "-------------ET", 0},
    {"two_boundaries", "multipart/form-data; boundary=b; boundary=c", "--b\r\n", -1,
     "Multipart: Multiple boundary parameters in C-T.", "", "", "", "-------------ET", 0},
    {"boundary_bad_chars", "multipart/form-data; boundary=a{b", "", -1,
     "Multipart: Invalid boundary in C-T (characters).", "", "", "", "-------------ET", 0},
    {"boundary_half_quoted", "multipart/form-data; boundary=\"b", "", -1,
     "Multipart: Invalid boundary in C-T (quote).", "", "", "", "-------------ET", 0},
    {"boundary_param_name", "multipart/form-data; boundaryx=b", "", -1,
     "Multipart: Invalid boundary in C-T (parameter name).", "", "", "", "-------------ET", 0},
    {"boundary_malformed", "multipart/form-data; x; boundary=b", "", -1,
     "Multipart: Invalid boundary in C-T (malformed).", "", "", "", "-------------ET", 0},
    {"boundary_empty_after_cut", "multipart/form-data; boundary=;x", "", -1,
     "Multipart: Invalid boundary in C-T (empty).", "", "", "", "-------------ET", 0},
    /* v3 gives up without a message on an empty boundary value */
    {"boundary_empty", "multipart/form-data; boundary=", "--b\r\n", 0, "", "", "", "",
     "---------------", 0},
    {"wrong_mime", "text/plain; boundary=b", "", -1, "Multipart: Invalid MIME type.", "", "", "",
     "-------------ET", 0},
    {"boundary_quoted", "multipart/form-data; boundary=\"b\"", "--b\r\n" CD("a") "\r\nv\r\n--b--\r\n",
     0, "", "a=v|", "", NULL, "Q-----C-------T", 2},
    {"boundary_whitespace", "multipart/form-data; boundary = b", "--b\r\n" CD("a") "\r\nv\r\n--b--\r\n",
     -1, "Multipart: No boundaries found in payload.", "", "", "", "-WB---------U-T", 1},
    {"boundary_charset_tolerated", "multipart/form-data; boundary=b; charset=utf-8",
     "--b\r\n" CD("a") "\r\nv\r\n--b--\r\n", 0, "", "a=v|", "", NULL, "------C--------", 2},
    {"missing_semicolon", "multipart/form-data boundary=b", "--b\r\n" CD("a") "\r\nv\r\n--b--\r\n", 0,
     "", "a=v|", "", NULL, "------CS------T", 2},
    {"header_folding", CT,
     "--b\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n--b--\r\n", 0, "", "a=v|", "",
     "a:Content-Disposition: form-data; name=\"a\"|", "----F-C-------T", 2},
    {"invalid_header_folding", CT,
     "--b\r\nContent-Disposition: form-data;\r\n\x0bname=\"a\"\r\n\r\nv\r\n--b--\r\n", 0, "", "a=v|",
     "", NULL, "----F-C---H---T", 2},
    {"folding_without_header", CT, "--b\r\n folded\r\n" CD("a") "\r\nv\r\n--b--\r\n", -1,
     "Multipart: Invalid part header (folding error).", "a=v|", "", NULL, "----F-C-------T", 2},
    {"single_quotes", CT, "--b\r\nContent-Disposition: form-data; name='a'\r\n\r\nv\r\n--b--\r\n", 0,
     "", "a=v|", "", NULL, "------C-I-----T", 2},
    {"escapes_in_quoted_name", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c\\d\"\r\n\r\nv\r\n--b--\r\n", 0, "",
     "a\"b\\c\\d=v|", "", NULL, "------C--------", 2},
    {"unquoted_name", CT, "--b\r\nContent-Disposition: form-data; name=abc\r\n\r\nv\r\n--b--\r\n", 0, "",
     "abc=v|", "", NULL, "------C--------", 2},
    {"missing_name", CT,
     "--b\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nv\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", "", "------C--P----T", 0},
    {"missing_content_disposition", CT, "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", "", "------C--P----T", 0},
    {"content_disposition_any_case", CT,
     "--b\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n", 0, "", "a=v|", "", NULL,
     "------C--------", 2},
    {"not_form_data", CT, "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"unknown_cd_param", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; size=3\r\n\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"duplicate_name", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"c\"\r\n\r\nv\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"unterminated_quote", CT,
     "--b\r\nContent-Disposition: form-data; name=\"abc\r\n\r\nv\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"filename_star_only", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''x%20y\r\n\r\nv\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"filename_star_with_filename", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"p\"; filename*=UTF-8''x%20y\r\n"
     "\r\nv\r\n--b--\r\n",
     0, "", "", "a:p:1:v|", NULL, "------C--------", 2},
    {"filename_star_bad_escape", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"p\"; filename*=UTF-8''x%2\r\n"
     "\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", NULL, "------C--P----T", 0},
    {"nul_in_header", CT, "--b\r\nX-A: 1\0\r\n" CD("a") "\r\nv\r\n--b--\r\n", -1,
     "Multipart: Nul byte in part headers.", "a=v|", "", NULL, "------C--------", 2},
    {"nul_in_value", CT, "--b\r\n" CD("a") "\r\nx\0y\r\n--b--\r\n", 0, "", "a=x\\x00y|", "", NULL,
     "------C--------", 2},
    {"header_without_name", CT, "--b\r\n: x\r\n" CD("a") "\r\nv\r\n--b--\r\n", -1,
     "Multipart: Invalid part header (header name missing).", "a=v|", "", NULL, "------C--------", 2},
    /* a repeated header is dropped silently; its line is not reported */
    {"duplicate_header", CT, "--b\r\n" CD("a") CD("z") "\r\nv\r\n--b--\r\n", 0, "", "a=v|", "",
     "a:Content-Disposition: form-data; name=\"a\"\\x0d\\x0a|", "------C--------", 2},
    {"invalid_char_in_header_name", CT, "--b\r\n\x0e" CD("f") CD("a") "\r\nv\r\n--b--\r\n", 0, "",
     "a=v|", "",
     "a:\\x0eContent-Disposition: form-data; name=\"f\"\\x0d\\x0a|"
     "a:Content-Disposition: form-data; name=\"a\"\\x0d\\x0a|",
     "------C--------", 2},
    {"unmatched_boundary_in_data", CT, "--b\r\n" CD("a") "\r\nx--b\r\n--b--\r\n", 0, "", "a=x--b|", "",
     NULL, "------C--------", 2},
    {"unmatched_boundary_stays", CT, "--b\r\n" CD("a") "\r\nv\r\n--b--\r\n", 0, "", "a=v|", "", NULL,
     "------C--------", 2},
    {"other_boundary_line", CT, "--b\r\n" CD("a") "\r\nv\r\n--c\r\n--b--",
     0, "", "a=v--c|", "", NULL, "------C-----U--", 1},
    {"boundary_with_junk", CT, "--b\r\n" CD("a") "\r\nv\r\n--bx\r\n--b--\r\n", -1,
     "Multipart: Final boundary missing.", "", "", "", "------C------ET", 2},
    {"boundary_whitespace_in_body", CT, "--b\r\n" CD("a") "\r\nv\r\n-- b\r\n--b--\r\n",
     -1, "Multipart: Final boundary missing.", "", "", "", "------C------ET", 0},
    /* a boundary straight after the headers is content, and flags the part */
    {"boundary_where_data_starts", CT, "--b\r\n" CD("a") "\r\n--b\r\n--b--\r\n", 0, "", "a=--b|", "",
     NULL, "------C--P----T", 2},
    {"final_boundary_where_data_starts", CT, "--b\r\n" CD("a") "\r\n--b--",
     0, "", "a=|", "", NULL, "------C--P----T", 0},
    /* Header errors leave the part reading headers, so a boundary line
     * after it is taken for one more header and the body never completes;
     * only a closing boundary without a line ending at the very end (checked
     * once the input is over) lets the header error be the one reported. */
    {"cd_error_reported_at_eof_boundary", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; size=3\r\n\r\n--b--",
     -1, "Multipart: Invalid Content-Disposition header (-11): form-data; name=\"a\"; size=3", "a=|", "", NULL, "------C--P----T", 0},
    {"missing_cd_reported_at_eof_boundary", CT, "--b\r\nX: y\r\n\r\n--b--",
     -1, "Multipart: Part missing Content-Disposition header.", "", "", NULL, "------C--P----T", 0},
    {"filename_star_only_at_eof", CT,
     "--b\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''x%20y\r\n\r\n--b--",
     -1, "Multipart: Invalid Content-Disposition header (-21): form-data; name=\"a\"; filename*=UTF-8''x%20y", "a=|", "", NULL, "------C--P----T", 0},
    {"mixed_line_endings", CT, "--b\r\n" CD("a") "\nv\r\n--b--\r\n", 0, "", "a=v|", "", NULL,
     "-----LC-------T", 2},
};

TEST(body_multipart_table)
{
    for (size_t i = 0; i < sizeof mp_cases / sizeof mp_cases[0]; i++) {
        const struct mp_case *tc = &mp_cases[i];
        struct col c;
        struct body_sink s = sink_for(&c);
        struct multipart_info mi;
        char err[512];
        size_t blen = strlen(tc->body);
        /* bodies with NUL bytes: measure up to the closing boundary text */
        if (strstr(tc->name, "nul_in"))
            blen = strlen(tc->body) + 1 + strlen(tc->body + strlen(tc->body) + 1);
        int rc = body_multipart_parse(tc->ct, strlen(tc->ct), tc->body, blen, 0, &s, &mi, err,
                                      sizeof err);
        char flags[16];
        flags_of(&mi, flags);
        if (rc != tc->rc || strcmp(err, tc->err) || strcmp(c.args, tc->args) ||
            strcmp(c.files, tc->files) || (tc->hdrs && strcmp(c.hdrs, tc->hdrs)) ||
            strcmp(flags, tc->flags) || mi.unmatched_boundary_level != tc->unmatched_level)
            t_fail(t, __FILE__, __LINE__,
                   "case %s: rc=%d err=\"%s\" args=\"%s\" files=\"%s\" hdrs=\"%s\" flags=%s "
                   "unmatched=%d",
                   tc->name, rc, err, c.args, c.files, c.hdrs, flags, mi.unmatched_boundary_level);
    }
}

TEST(body_multipart_info_counts_and_boundary)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[128];
    const char *body = "--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"1\"\r\n\r\nabc\r\n"
                       "--xyz\r\nContent-Disposition: form-data; name=\"g\"; filename=\"2\"\r\n\r\nde\r\n"
                       "--xyz--\r\n";
    const char *ct = "multipart/form-data; boundary=xyz";
    CHECK_INT(body_multipart_parse(ct, strlen(ct), body, strlen(body), 0, &s, &mi, err, sizeof err), 0);
    CHECK_INT(mi.files, 2);
    CHECK_INT(mi.files_combined_size, 5);
    CHECK_STR(mi.boundary, "xyz");
    CHECK(mi.crlf_line && !mi.crlf_lf_lines);
    CHECK_STR(c.files, "f:1:3:abc|g:2:2:de|");
}

TEST(body_multipart_file_data_is_a_slice_of_the_body)
{
    struct body_sink s;
    struct multipart_info mi;
    char err[64];
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nA\r\nB\r\n--b--\r\n";
    struct {
        const char *d;
        size_t n;
    } got = {NULL, 0};
    s.ctx = &got;
    s.arg = NULL;
    s.part_header = NULL;
    s.file = NULL;
    /* no callbacks at all must be fine too */
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, sizeof body - 1, 0, &s, &mi, err, sizeof err),
              0);
    CHECK_INT(mi.files, 1);
    CHECK_INT(mi.files_combined_size, 4);
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, sizeof body - 1, 0, NULL, NULL, NULL, 0), 0);
}

TEST(body_multipart_file_limit)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[256];
    const char *body = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"1\"\r\n\r\na\r\n"
                       "--b\r\nContent-Disposition: form-data; name=\"g\"; filename=\"2\"\r\n\r\nb\r\n"
                       "--b--\r\n";
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, strlen(body), 1, &s, &mi, err, sizeof err), -1);
    CHECK_STR(err, "Multipart: Upload file limit exceeded 1. Use SecUploadFileLimit to change the limit.");
    CHECK(mi.file_limit_exceeded && mi.strict_error);
    CHECK_STR(c.files, "f:1:1:a|g:2:1:b|"); /* still reported, as v3 does */
}

TEST(body_multipart_long_lines)
{
    /* a 10 KB data line is fine; a 5 KB header line is fatal */
    size_t big = 10000;
    char *body = malloc(big + 256);
    CHECK(body != NULL);
    if (!body)
        return;
    int k = snprintf(body, 256, "--b\r\n" CD("a") "\r\n");
    memset(body + k, 'x', big);
    size_t n = (size_t)k + big;
    memcpy(body + n, "\r\n--b--\r\n", 9);
    n += 9;
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[256];
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, n, 0, &s, &mi, err, sizeof err), 0);
    CHECK_INT(c.calls, 2); /* one header line, one argument */

    k = snprintf(body, 256, "--b\r\nX-Long: ");
    memset(body + k, 'h', 5000);
    n = (size_t)k + 5000;
    memcpy(body + n, "\r\n\r\n--b--\r\n", 11);
    n += 11;
    s = sink_for(&c);
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, n, 0, &s, &mi, err, sizeof err), -1);
    CHECK_STR(err, "Multipart: Final boundary missing.");
    CHECK(mi.error);
    free(body);
}

TEST(body_multipart_line_cut_at_4095_before_cr)
{
    /* A data line of 4095 bytes then CRLF: the chunk is cut before the '\r'
     * so the boundary that follows is still found at a line start. */
    char *body = malloc(8192);
    CHECK(body != NULL);
    if (!body)
        return;
    int k = snprintf(body, 256, "--b\r\n" CD("a") "\r\n");
    memset(body + k, 'y', 4095);
    size_t n = (size_t)k + 4095;
    memcpy(body + n, "\r\n--b--\r\n", 9);
    n += 9;
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[256];
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, n, 0, &s, &mi, err, sizeof err), 0);
    CHECK_INT(mi.unmatched_boundary_level, 2);
    free(body);
}

TEST(body_multipart_many_headers_and_folds)
{
    /* 20,000 distinct headers and a header folded 20,000 times: must stay
     * linear (hash index, amortised appends). */
    size_t cap = 2 * 1024 * 1024, n = 0;
    char *body = malloc(cap);
    CHECK(body != NULL);
    if (!body)
        return;
    n += (size_t)snprintf(body + n, cap - n, "--b\r\n");
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(body + n, cap - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(body + n, cap - n, "X-Fold: a\r\n");
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(body + n, cap - n, " f\r\n");
    n += (size_t)snprintf(body + n, cap - n, CD("a") "\r\nv\r\n--b--\r\n");
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[256];
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, n, 0, &s, &mi, err, sizeof err), -1);
    CHECK_STR(err, "Multipart: Part header too long.");
    CHECK_INT(c.calls, 20000 + 2 + 1); /* header lines, then the argument */
    CHECK(mi.header_folding);
    free(body);
}

TEST(body_multipart_sink_stop)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    struct multipart_info mi;
    char err[64];
    c.stop_at = 1;
    const char *body = "--b\r\n" CD("a") "\r\nv\r\n--b\r\n" CD("c") "\r\nw\r\n--b--\r\n";
    CHECK_INT(body_multipart_parse(CT, strlen(CT), body, strlen(body), 0, &s, &mi, err, sizeof err), 7);
    CHECK_INT(c.calls, 1);
    CHECK_STR(c.args, "");
}

TEST(body_multipart_content_type_too_long)
{
    char ct[1100];
    memset(ct, 'a', sizeof ct);
    memcpy(ct, CT, strlen(CT));
    struct multipart_info mi;
    char err[128];
    CHECK_INT(body_multipart_parse(ct, sizeof ct, "--a", 3, 0, NULL, &mi, err, sizeof err), -1);
    CHECK_STR(err, "Multipart: Invalid boundary in C-T (length).");
    CHECK_INT(body_multipart_parse(NULL, 0, "--a", 3, 0, NULL, &mi, err, sizeof err), -1);
    CHECK_STR(err, "Multipart: Content-Type header not available.");
    /* a tiny error buffer truncates safely */
    char small[8];
    CHECK_INT(body_multipart_parse(ct, sizeof ct, "--a", 3, 0, NULL, &mi, small, sizeof small), -1);
    CHECK_STR(small, "Multipa");
}

/* -------------------------------------------------------------- JSON */

static const struct {
    const char *in;
    unsigned depth;
    int rc;
    const char *args;
    const char *err;
} json_cases[] = {
    {"{\"a\":{\"b\":1}}", 512, 0, "json.a.b=1|", ""},
    {"{\"a\":[1,2]}", 512, 0, "json.a.array_0=1|json.a.array_1=2|", ""},
    {"[{\"x\":1},{\"x\":2}]", 512, 0, "json.array_0.x=1|json.array_1.x=2|", ""},
    {"[[1,2],[3]]", 512, 0, "json.array_0.array_0=1|json.array_0.array_1=2|json.array_1.array_0=3|",
     ""},
    {"\"top\"", 512, 0, "json=top|", ""},
    {"42", 512, 0, "json=42|", ""},
    {"{\"\":1}", 512, 0, "json.empty-key=1|", ""},
    {"{\"a\":null,\"b\":true,\"c\":false}", 512, 0, "json.a=|json.b=true|json.c=false|", ""},
    {"{\"n\":1.50e3,\"m\":-0,\"k\":12345678901234567890123}", 512, 0,
     "json.n=1.50e3|json.m=-0|json.k=12345678901234567890123|", ""},
    {"{\"a\":{},\"b\":[],\"c\":[{}],\"d\":1}", 512, 0, "json.d=1|", ""},
    {"{\"a\":[1,{\"b\":[2]},3]}", 512, 0, "json.a.array_0=1|json.a.array_1.b.array_0=2|json.a.array_2=3|",
     ""},
    {"{\"s\":\"\\u0041\\n\\\"\"}", 512, 0, "json.s=A\\x0a\"|", ""},
    {"{\"a.b\":{\"c\":\"x|y\"}}", 512, 0, "json.a.b.c=x\\x7cy|", ""},
    {"{\"a\":1", 512, -1, "json.a=1|", "parse error: premature EOF\n"},
    {"{\"a\":1}}", 512, -1, "json.a=1|", "parse error: trailing garbage\n"},
    {"1 2", 512, -1, "json=1|", "parse error: trailing garbage\n"},
    {"{'a':1}", 512, -1, "", "lexical error: invalid char in json text.\n"},
    {"{\"a\":\"\xff\"}", 512, -1, "", "lexical error: invalid bytes in UTF8 string.\n"},
    {"/* c */ {}", 512, -1, "", "lexical error: probable comment found in input text, comments are not enabled.\n"},
    {"[[[1]]]", 2, -1, "",
     "parse error: client cancelled parse via callback return value\n"
     ". Parsing depth limit exceeded"},
    {"[[1]]", 2, 0, "json.array_0.array_0=1|", ""},
};

TEST(body_json_table)
{
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        struct col c;
        struct body_sink s = sink_for(&c);
        char err[256];
        int rc = body_json_parse(json_cases[i].in, strlen(json_cases[i].in), json_cases[i].depth, &s,
                                 err, sizeof err);
        if (rc != json_cases[i].rc || strcmp(c.args, json_cases[i].args) ||
            strcmp(err, json_cases[i].err))
            t_fail(t, __FILE__, __LINE__, "case %zu (%s): rc=%d args=\"%s\" err=\"%s\"", i,
                   json_cases[i].in, rc, c.args, err);
    }
}

TEST(body_json_empty_nul_and_stop)
{
    struct col c;
    struct body_sink s = sink_for(&c);
    char err[256];
    CHECK_INT(body_json_parse("", 0, 512, &s, err, sizeof err), 0); /* v3: no error for no body */
    CHECK_STR(err, "");
    static const char nul[] = "{\"a\":\"x\0y\"}";
    CHECK_INT(body_json_parse(nul, sizeof nul - 1, 512, &s, err, sizeof err), -1);
    CHECK_STR(err, "lexical error: invalid character inside string.\n");
    /* a sink that stops (argument limit) cancels the parse, as in v3 */
    s = sink_for(&c);
    c.stop_at = 2;
    const char *in = "[1,2,3]";
    CHECK_INT(body_json_parse(in, strlen(in), 512, &s, err, sizeof err), -1);
    CHECK_STR(err, "parse error: client cancelled parse via callback return value\n");
    CHECK_INT(c.calls, 2);
}

static char *nested(size_t depth, const char *open, const char *mid, const char *close, size_t *n)
{
    size_t ol = strlen(open), ml = strlen(mid), cl = strlen(close);
    char *p = malloc(depth * (ol + cl) + ml + 1);
    if (!p)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < depth; i++, k += ol)
        memcpy(p + k, open, ol);
    memcpy(p + k, mid, ml);
    k += ml;
    for (size_t i = 0; i < depth; i++, k += cl)
        memcpy(p + k, close, cl);
    p[k] = '\0';
    *n = k;
    return p;
}

static int count_arg(void *ctx, const char *n, size_t nl, const char *v, size_t vl)
{
    size_t *longest = ctx;
    if (nl > *longest)
        *longest = nl;
    return 0;
}

TEST(body_json_depth_10000)
{
    size_t n, longest = 0;
    struct body_sink s = {&longest, count_arg, NULL, NULL};
    char err[256];
    char *p = nested(10000, "[", "1", "]", &n);
    CHECK(p != NULL);
    if (!p)
        return;
    /* over the configured limit */
    CHECK_INT(body_json_parse(p, n, 512, &s, err, sizeof err), -1);
    CHECK(strstr(err, ". Parsing depth limit exceeded") != NULL);
    /* 0 means v3's default of 10000: exactly at the limit is fine */
    CHECK_INT(body_json_parse(p, n, 0, &s, err, sizeof err), 0);
    CHECK_INT(longest, 4 + 10000 * strlen(".array_0"));
    free(p);
    p = nested(10001, "{\"k\":", "1", "}", &n);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_INT(body_json_parse(p, n, 0, &s, err, sizeof err), -1);
    CHECK(strstr(err, ". Parsing depth limit exceeded") != NULL);
    free(p);
}

TEST(body_json_huge_key)
{
    size_t kl = 200000;
    char *p = malloc(kl + 16);
    CHECK(p != NULL);
    if (!p)
        return;
    p[0] = '{';
    p[1] = '"';
    memset(p + 2, 'k', kl);
    memcpy(p + 2 + kl, "\":\"v\"}", 6);
    size_t longest = 0;
    struct body_sink s = {&longest, count_arg, NULL, NULL};
    char err[64];
    CHECK_INT(body_json_parse(p, kl + 8, 512, &s, err, sizeof err), 0);
    CHECK_INT(longest, 5 + kl);
    free(p);
}

/* --------------------------------------------------------------- XML */

struct xcol {
    char out[4096];
    size_t len;
    int calls, stop_at;
};

static int xml_cb(void *ctx, const char *v, size_t n)
{
    struct xcol *x = ctx;
    put(x->out, sizeof x->out, &x->len, v, n);
    put(x->out, sizeof x->out, &x->len, "/", 1);
    x->calls++;
    return x->stop_at && x->calls == x->stop_at ? 5 : 0;
}

static const struct {
    const char *in;
    int rc;
    const char *root;  /* what XPath "/ *" (no space) selects */
    const char *attrs; /* what "//@ *" selects */
} xml_cases[] = {
    {"<a x=\"1\"><b y=\"2\">t</b>u</a>", 0, "tu/", "1/2/"},
    {"<?xml version=\"1.0\"?><r><![CDATA[<x>]]>&lt;&#65;</r>", 0, "<x><A/", ""},
    {"<r a='&quot;x'/>", 0, "/", "\"x/"},
    {"<a><b></a>", -1, NULL, NULL},
    {"", -1, NULL, NULL},
    {"<a>\xff</a>", -1, NULL, NULL},
    {"<a/><b/>", -1, NULL, NULL},
    {"text", -1, NULL, NULL},
};

TEST(body_xml_table)
{
    for (size_t i = 0; i < sizeof xml_cases / sizeof xml_cases[0]; i++) {
        struct body_xml *doc = (struct body_xml *)&doc; /* must be reset */
        char err[128];
        int rc = body_xml_parse(xml_cases[i].in, strlen(xml_cases[i].in), &doc, err, sizeof err);
        CHECK_INT(rc, xml_cases[i].rc);
        if (rc == 0) {
            struct xcol r = {.len = 0}, a = {.len = 0};
            CHECK_INT(body_xml_xpath(doc, "/*", xml_cb, &r), 0);
            CHECK_INT(body_xml_xpath(doc, "//@*", xml_cb, &a), 0);
            CHECK_STR(r.out, xml_cases[i].root);
            CHECK_STR(a.out, xml_cases[i].attrs);
            CHECK_STR(err, "");
        } else {
            CHECK_STR(err, "XML: Failed parsing document.");
        }
        body_xml_free(doc);
    }
}

TEST(body_xml_partial_tree_on_error)
{
    struct body_xml *doc = NULL;
    char err[128];
    const char *in = "<a x=\"1\"><b>t</b><c>";
    CHECK_INT(body_xml_parse(in, strlen(in), &doc, err, sizeof err), -1);
    CHECK(doc != NULL); /* v3 keeps what was parsed */
    struct xcol r = {.len = 0};
    CHECK_INT(body_xml_xpath(doc, "//@*", xml_cb, &r), 0);
    CHECK_STR(r.out, "1/");
    body_xml_free(doc);
}

TEST(body_xml_no_external_entities)
{
    const char *in = "<?xml version=\"1.0\"?>\n"
                     "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">"
                     "<!ENTITY y SYSTEM \"http://127.0.0.1:1/x\">]>\n"
                     "<r>a&x;b&y;c</r>";
    struct body_xml *doc = NULL;
    char err[128];
    int rc = body_xml_parse(in, strlen(in), &doc, err, sizeof err);
    CHECK_INT(rc, 0);
    struct xcol r = {.len = 0};
    CHECK_INT(body_xml_xpath(doc, "/*", xml_cb, &r), 0);
    CHECK(strstr(r.out, "root:") == NULL);
    CHECK_STR(r.out, "abc/");
    body_xml_free(doc);
}

TEST(body_xml_billion_laughs)
{
    const char *in =
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
        "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">"
        "]><l>&i;</l>";
    struct body_xml *doc = NULL;
    char err[128];
    CHECK_INT(body_xml_parse(in, strlen(in), &doc, err, sizeof err), -1);
    CHECK_STR(err, "XML: Failed parsing document.");
    body_xml_free(doc);
}

TEST(body_xml_quadratic_blowup_refused)
{
    /* one 10 KB entity used 5,000 times: 25 KB of XML, 50 MB of text */
    size_t cap = 64 * 1024, n = 0;
    char *p = malloc(cap);
    CHECK(p != NULL);
    if (!p)
        return;
    n += (size_t)snprintf(p, cap, "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"");
    memset(p + n, 'x', 10000);
    n += 10000;
    n += (size_t)snprintf(p + n, cap - n, "\">]><r>");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(p + n, cap - n, "&e;");
    n += (size_t)snprintf(p + n, cap - n, "</r>");
    struct body_xml *doc = NULL;
    char err[128];
    CHECK_INT(body_xml_parse(p, n, &doc, err, sizeof err), -1);
    CHECK(doc == NULL);
    CHECK_STR(err, "XML: Failed parsing document.");
    /* a few uses of a small entity are fine */
    const char *ok = "<!DOCTYPE r [<!ENTITY e \"ab\">]><r a=\"&e;\">&e;&e;</r>";
    CHECK_INT(body_xml_parse(ok, strlen(ok), &doc, err, sizeof err), 0);
    struct xcol r = {.len = 0}, a = {.len = 0};
    CHECK_INT(body_xml_xpath(doc, "/*", xml_cb, &r), 0);
    CHECK_INT(body_xml_xpath(doc, "//@*", xml_cb, &a), 0);
    CHECK_STR(r.out, "abab/");
    CHECK_STR(a.out, "ab/");
    body_xml_free(doc);
    free(p);
}

TEST(body_xml_depth_10000)
{
    size_t n;
    char *p = nested(10000, "<a>", "x", "</a>", &n);
    CHECK(p != NULL);
    if (!p)
        return;
    struct body_xml *doc = NULL;
    char err[128];
    CHECK_INT(body_xml_parse(p, n, &doc, err, sizeof err), -1); /* libxml2's 256 levels */
    body_xml_free(doc);
    free(p);
}

TEST(body_xml_bad_xpath_and_stop)
{
    struct body_xml *doc = NULL;
    char err[128];
    const char *in = "<a x=\"1\" y=\"2\" z=\"3\"/>";
    CHECK_INT(body_xml_parse(in, strlen(in), &doc, err, sizeof err), 0);
    struct xcol r = {.len = 0, .stop_at = 2};
    CHECK_INT(body_xml_xpath(doc, "//@*", xml_cb, &r), 5);
    CHECK_INT(r.calls, 2);
    CHECK_INT(body_xml_xpath(doc, "//[", xml_cb, &r), -1);
    CHECK_INT(body_xml_xpath(NULL, "/*", xml_cb, &r), 0);
    body_xml_free(doc);
    body_xml_free(NULL);
}
