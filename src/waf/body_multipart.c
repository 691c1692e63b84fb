/* multipart/form-data with ModSecurity v3.0.9's exact observable behaviour.
 *
 * CRS decides on what the reference engine reports, quirks included, so this
 * parser reproduces v3.0.9 rather than RFC 7578. The parts of that behaviour
 * that look like mistakes but are relied on (see docs/internals/body.md):
 *
 *  - The body is cut into "chunks": a line ending in '\n', or 4096 bytes
 *    (MP_CHUNK) of a longer line; a '\r' never ends a full chunk, it starts
 *    the next one. Boundaries are only recognised at the start of a chunk
 *    that follows a '\n'. A part header line that fills a chunk is a fatal
 *    error; long data lines are fine.
 *  - Errors found while reading part headers (missing Content-Disposition,
 *    bad header syntax, NUL bytes, ...) only record the message: parsing goes
 *    on, the last message recorded wins, and a part whose headers never
 *    completed keeps treating its lines as headers.
 *  - Each data chunk of a form field loses its trailing CRLF/LF, and the one
 *    held back from the previous chunk is dropped, so multi-line values come
 *    out with their line breaks removed ("a\r\nb" -> "ab"). File sizes do
 *    count the line breaks, so file content is a contiguous slice.
 *  - Arguments and files are only delivered when the body completed
 *    (closing boundary seen); part header lines are delivered at each
 *    boundary, even for parts that are later dropped.
 *
 * State lives in one struct mp per call; nothing is global. Memory is
 * O(body): per-part header tables, names and values are kept in buffers
 * bounded by a multiple of the body length. */
#include "waf/body.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

#define MP_CHUNK 4096  /* v3's MULTIPART_BUF_SIZE */
#define MP_CT_MAX 1024 /* longest Content-Type v3 accepts */

enum { MP_FORMDATA, MP_FILE };

struct mp_hdr {
    const char *name; /* slice of the body; never changes */
    size_t nlen;
    const char *val; /* slice of the body, or own.p once folded */
    size_t vlen;
    struct buf own; /* the value after the first folded line */
};

/* One MULTIPART_PART_HEADERS entry: a raw line (slice of the body, with its
 * line ending) or a folded header, rebuilt as "Name: value" from the first
 * snap bytes of the header's value when it is delivered. Values only grow by
 * appending, so a length is a faithful snapshot. */
struct mp_line {
    const char *raw;
    size_t rlen;
    size_t hdr;
    size_t snap;
    bool folded;
};

struct mp_part {
    size_t name_off, name_len; /* in store */
    size_t fn_off, fn_len;
    size_t val_off, val_len;
    const char *fdata;
    size_t fsize;
    int type;
};

struct mp {
    const struct body_sink *sink;
    struct multipart_info *info;
    char *err;
    size_t errlen;
    bool has_err;
    int stop; /* non-zero value a sink callback returned */

    const char *bnd;
    size_t blen;
    char needle[MP_CT_MAX + 3]; /* "--" + boundary */
    unsigned max_files;
    unsigned nfiles;
    unsigned char unmatched; /* 0, 1 or 2 as v3 reports it */
    unsigned boundary_count;
    bool complete;
    bool contains_line;    /* the chunk being looked at follows a '\n' */
    int crlf_end;          /* line ending of the previous chunk: 2 = bare LF */

    /* The part being built (v3's m_mpp). */
    bool cur;
    int state; /* 0: headers, 1: data */
    bool data_read;
    int type;
    size_t name_off, name_len, fn_off, fn_len, val_off, val_len;
    const char *fstart;
    size_t fsize;
    bool file_counted;
    unsigned reserve; /* bytes of line ending held back from the last chunk */
    struct mp_hdr *hdrs;
    size_t nhdrs, caphdrs;
    size_t *hidx; /* open-addressing index over hdrs, entries are index+1 */
    size_t hcap;
    bool has_last_hdr; /* v3's m_last_header_name is non-empty */
    size_t last_hdr;
    bool has_last_line; /* v3's m_last_header_line is non-empty */
    struct mp_line last_line;
    struct mp_line *lines;
    size_t nlines, caplines;

    struct mp_part *parts;
    size_t nparts, capparts;
    struct buf store; /* names, file names and field values */
    struct buf tmp;   /* scratch for Content-Disposition values and lines */
    size_t bufmax;
};

/* -------------------------------------------------------------- helpers */

static void set_err(struct mp *m, const char *msg, const char *extra, size_t elen)
{
    if (!m->err || m->errlen == 0) {
        m->has_err = true;
        return;
    }
    /* The raw text v3 appends is a C string: it stops at a NUL byte. */
    const char *nul = extra ? memchr(extra, '\0', elen) : NULL;
    if (nul)
        elen = (size_t)(nul - extra);
    snprintf(m->err, m->errlen, "%s%.*s", msg, extra ? (int)(elen > 65536 ? 65536 : elen) : 0,
             extra ? extra : "");
    m->has_err = true;
}

/* Set when a structural problem aborts parsing (v3's m_flag_error). */
static void fatal(struct mp *m, const char *msg, const char *extra, size_t elen)
{
    m->info->error = true;
    set_err(m, msg, extra, elen);
}

static int c_isspace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Byte i of a chunk seen as a NUL-terminated C string, as v3 reads it. */
static unsigned char at(const char *p, size_t n, size_t i)
{
    return i < n ? (unsigned char)p[i] : 0;
}

static size_t c_strlen(const char *p, size_t n)
{
    const char *z = memchr(p, '\0', n);
    return z ? (size_t)(z - p) : n;
}

/* strncmp(p + i, bnd, blen) == 0 over a chunk terminated at n. */
static bool bnd_at(const struct mp *m, const char *p, size_t n, size_t i)
{
    return i <= n && n - i >= m->blen && memcmp(p + i, m->bnd, m->blen) == 0;
}

/* std::string chomp as v3 has it: strips trailing CR/LF, unless the string
 * is made of nothing else. */
static size_t chomp(const char *p, size_t n)
{
    size_t k = n;
    while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == '\n'))
        k--;
    return k == 0 ? n : k;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > ((size_t)-1) / 2 / elem)
            return -1;
        nc *= 2;
    }
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static int oom(struct mp *m)
{
    fatal(m, "Multipart: out of memory.", NULL, 0);
    return -1;
}

/* ------------------------------------------------- header name index */

static size_t hname_hash(const char *p, size_t n)
{
    size_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)tolower((unsigned char)p[i])) * 16777619u;
    return h;
}

/* Header names compare case-insensitively, as v3's header map does. */
static bool hdr_find(const struct mp *m, const char *name, size_t nlen, size_t *idx)
{
    if (!m->hcap)
        return false;
    size_t mask = m->hcap - 1;
    for (size_t i = hname_hash(name, nlen) & mask;; i = (i + 1) & mask) {
        size_t e = m->hidx[i];
        if (!e)
            return false;
        const struct mp_hdr *h = &m->hdrs[e - 1];
        if (h->nlen == nlen && strncasecmp(h->name, name, nlen) == 0) {
            *idx = e - 1;
            return true;
        }
    }
}

static int hidx_put(struct mp *m, size_t idx)
{
    size_t mask = m->hcap - 1;
    const struct mp_hdr *h = &m->hdrs[idx];
    size_t i = hname_hash(h->name, h->nlen) & mask;
    while (m->hidx[i])
        i = (i + 1) & mask;
    m->hidx[i] = idx + 1;
    return 0;
}

static int hdr_add(struct mp *m, const char *name, size_t nlen, const char *val, size_t vlen)
{
    if (grow((void **)&m->hdrs, &m->caphdrs, m->nhdrs + 1, sizeof *m->hdrs) < 0)
        return -1;
    struct mp_hdr *h = &m->hdrs[m->nhdrs++];
    h->name = name;
    h->nlen = nlen;
    h->val = val;
    h->vlen = vlen;
    buf_init(&h->own, m->bufmax);
    /* Keep the index at most half full. */
    if (m->nhdrs * 2 > m->hcap) {
        size_t nc = m->hcap ? m->hcap * 2 : 16;
        size_t *ni = calloc(nc, sizeof *ni);
        if (!ni)
            return -1;
        free(m->hidx);
        m->hidx = ni;
        m->hcap = nc;
        for (size_t i = 0; i < m->nhdrs; i++)
            hidx_put(m, i);
    } else {
        hidx_put(m, m->nhdrs - 1);
    }
    return 0;
}

static void part_reset(struct mp *m)
{
    for (size_t i = 0; i < m->nhdrs; i++)
        buf_free(&m->hdrs[i].own);
    m->nhdrs = 0;
    if (m->hidx)
        memset(m->hidx, 0, m->hcap * sizeof *m->hidx);
    m->nlines = 0;
    m->has_last_hdr = false;
    m->has_last_line = false;
    m->state = 0;
    m->data_read = false;
    m->type = MP_FORMDATA;
    m->name_len = m->fn_len = m->val_len = 0;
    m->fstart = NULL;
    m->fsize = 0;
    m->file_counted = false;
    m->reserve = 0;
}

static int push_last_line(struct mp *m)
{
    if (!m->has_last_line)
        return 0;
    if (grow((void **)&m->lines, &m->caplines, m->nlines + 1, sizeof *m->lines) < 0)
        return -1;
    m->lines[m->nlines++] = m->last_line;
    m->has_last_line = false;
    return 0;
}

/* ------------------------------------------------ Content-Disposition */

static int is_token_char(unsigned char c)
{
    if (c <= 32 || c >= 127)
        return 0;
    return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A single quote inside a value counts as invalid quoting unless the value
 * was in double quotes. */
static void check_quotes(struct mp *m, const char *v, size_t n, char quote)
{
    if (quote != '"' && memchr(v, '\'', n))
        m->info->invalid_quoting = true;
}

/* Parses the Content-Disposition value s (NUL-terminated, no NUL inside)
 * into the current part's name and filename. Returns 1 or v3's negative
 * code, which ends up in the error message. */
static int parse_cd(struct mp *m, const char *s)
{
    static const char charset_special[] = "!#$%&+-^_`{}~";
    static const char attr_special[] = "!#$&+-.^_`~";
    const char *p = s;
    bool have_star = false;

    if (strncmp(p, "form-data", 9) != 0)
        return -1;
    p += 9;
    while (*p == '\t' || *p == ' ')
        p++;
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return -2;
    p++;

    while (*p != '\0') {
        while (*p == '\t' || *p == ' ')
            p++;
        if (*p == '\0')
            return -3;
        const char *nstart = p;
        while (*p != '\0' && *p != '=' && *p != '\t' && *p != ' ')
            p++;
        if (*p == '\0')
            return -4;
        size_t nlen = (size_t)(p - nstart);
        while (*p == '\t' || *p == ' ')
            p++;
        if (*p == '\0')
            return -5;
        if (*p != '=')
            return -13;
        p++;
        while (*p == '\t' || *p == ' ')
            p++;
        if (*p == '\0')
            return -6;

        bool is_star = nlen == 9 && memcmp(nstart, "filename*", 9) == 0;
        bool unterminated = false;
        char quote = '\0';
        buf_clear(&m->tmp);
        if (is_star) {
            /* filename*=charset'[language]'value (RFC 2231/5987): v3 checks
             * the shape and keeps the still-encoded value. */
            const char *cs = p;
            while (*p != '\0' && (isalnum((unsigned char)*p) || strchr(charset_special, *p)))
                p++;
            if (*p != '\'' || p == cs)
                return -16;
            p++;
            while (*p != '\0' && *p != '\'')
                p++;
            if (*p != '\'')
                return -17;
            p++;
            const char *vs = p;
            while (*p != '\0' && *p != ';') {
                if (*p == '%') {
                    if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                        return -18;
                    p += 3;
                } else if (isalnum((unsigned char)*p) || strchr(attr_special, *p)) {
                    p++;
                } else {
                    return -19;
                }
            }
            if (buf_append(&m->tmp, vs, (size_t)(p - vs)) < 0)
                return -99;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
            if (quote == '\'')
                m->info->invalid_quoting = true;
            p++;
            if (*p == '\0')
                return -7;
            while (*p != '\0') {
                if (*p == '\\') {
                    if (p[1] == '\0')
                        return -8;
                    /* Only the quote and the backslash can be escaped;
                     * anything else keeps its backslash (IE sends that). */
                    if (p[1] == quote || p[1] == '\\')
                        p++;
                } else if (*p == quote) {
                    break;
                }
                if (buf_append(&m->tmp, p, 1) < 0)
                    return -99;
                p++;
            }
            /* An unterminated value: v3 steps over the terminating NUL as if
             * it were the closing quote and goes on reading whatever follows
             * in memory, which in practice ends in error -12 once the value
             * has been stored. We store it and return -12 below. */
            if (*p == '\0')
                unterminated = true;
            else
                p++;
        } else {
            const char *vs = p;
            while (*p != '\0' && is_token_char((unsigned char)*p))
                p++;
            if (buf_append(&m->tmp, vs, (size_t)(p - vs)) < 0)
                return -99;
        }
        const char *v = m->tmp.p ? m->tmp.p : "";
        size_t vlen = m->tmp.len;

        if (nlen == 4 && memcmp(nstart, "name", 4) == 0) {
            check_quotes(m, v, vlen, quote);
            if (m->name_len)
                return -14;
            m->name_off = m->store.len;
            if (buf_append(&m->store, v, vlen) < 0)
                return -99;
            m->name_len = vlen;
        } else if (nlen == 8 && memcmp(nstart, "filename", 8) == 0) {
            check_quotes(m, v, vlen, quote);
            if (m->fn_len)
                return -15;
            m->fn_off = m->store.len;
            if (buf_append(&m->store, v, vlen) < 0)
                return -99;
            m->fn_len = vlen;
        } else if (is_star) {
            if (have_star)
                return -20;
            have_star = vlen > 0;
        } else {
            return -11;
        }
        if (unterminated)
            return -12;

        if (*p != '\0') {
            while (*p == '\t' || *p == ' ')
                p++;
            if (*p != '\0') {
                if (*p != ';') {
                    if (p[-1] == '\'' || p[-1] == '"')
                        m->info->invalid_quoting = true;
                    return -12;
                }
                p++;
            }
        }
    }
    if (have_star && !m->fn_len)
        return -21;
    return 1;
}

/* --------------------------------------------------------- part lines */

static void part_header(struct mp *m, const char *line, size_t len)
{
    if (memchr(line, '\0', len)) {
        set_err(m, "Multipart: Nul byte in part headers.", NULL, 0);
        return;
    }
    /* Header chunks always end in '\n' (a full chunk is fatal earlier). */
    size_t body = len - 1;
    if (len > 1 && line[len - 2] == '\r') {
        m->info->crlf_line = true;
        body--;
    } else {
        m->info->lf_line = true;
    }

    if (body == 0) { /* empty line: end of this part's headers */
        if (push_last_line(m) < 0) {
            oom(m);
            return;
        }
        size_t cd;
        if (!hdr_find(m, "Content-Disposition", 19, &cd)) {
            set_err(m, "Multipart: Part missing Content-Disposition header.", NULL, 0);
            return;
        }
        /* Copy the value out: parse_cd reuses tmp and may grow store. */
        struct buf v;
        buf_init(&v, m->bufmax);
        if (buf_append(&v, m->hdrs[cd].val, m->hdrs[cd].vlen) < 0) {
            oom(m);
            return;
        }
        int rc = parse_cd(m, v.p);
        if (rc < 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "Multipart: Invalid Content-Disposition header (%d): ", rc);
            set_err(m, msg, v.p, v.len);
            buf_free(&v);
            return;
        }
        if (!m->name_len) {
            set_err(m, "Multipart: Content-Disposition header missing name field.", NULL, 0);
            buf_free(&v);
            return;
        }
        if (m->fn_len) {
            /* A crude parser that found no "filename=" would not see a file
             * where we do. */
            if (!strstr(v.p, "filename=")) {
                set_err(m, "Multipart: Invalid Content-Disposition header (filename).", NULL, 0);
                buf_free(&v);
                return;
            }
            m->type = MP_FILE;
        } else {
            m->type = MP_FORMDATA;
        }
        buf_free(&v);
        m->state = 1;
        m->data_read = false;
        m->has_last_hdr = false;
        return;
    }

    if (c_isspace((unsigned char)line[0])) { /* folded continuation */
        m->info->header_folding = true;
        if (!m->has_last_hdr) {
            set_err(m, "Multipart: Invalid part header (folding error).", NULL, 0);
            return;
        }
        size_t i = 0;
        while (i < len && c_isspace((unsigned char)line[i])) {
            /* RFC 2557 folds with SP / HTAB only; PHP takes any space. */
            if (line[i] != '\t' && line[i] != ' ')
                m->info->invalid_header_folding = true;
            i++;
        }
        size_t add = chomp(line + i, len - i);
        struct mp_hdr *h = &m->hdrs[m->last_hdr];
        if (!h->own.p && buf_append(&h->own, h->val, h->vlen) < 0) {
            oom(m);
            return;
        }
        if (buf_putc(&h->own, ' ') < 0 || buf_append(&h->own, line + i, add) < 0) {
            oom(m);
            return;
        }
        h->val = h->own.p;
        h->vlen = h->own.len;
        if (h->vlen > MP_CHUNK) {
            set_err(m, "Multipart: Part header too long.", NULL, 0);
            return;
        }
        m->last_line = (struct mp_line){.hdr = m->last_hdr, .snap = h->vlen, .folded = true};
        m->has_last_line = true;
        return;
    }

    /* A new header line. */
    if (push_last_line(m) < 0) {
        oom(m);
        return;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon) {
        set_err(m, "Multipart: Invalid part header (colon missing): ", line, len);
        return;
    }
    if (colon == line) {
        set_err(m, "Multipart: Invalid part header (header name missing).", NULL, 0);
        return;
    }
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < line + len && (*v == '\t' || *v == ' '))
        v++;
    size_t vlen = chomp(v, (size_t)(line + len - v));
    size_t dup;
    if (hdr_find(m, line, nlen, &dup))
        return; /* v3 drops a repeated header without an error message */
    if (hdr_add(m, line, nlen, v, vlen) < 0) {
        oom(m);
        return;
    }
    m->has_last_hdr = true;
    m->last_hdr = m->nhdrs - 1;
    m->last_line = (struct mp_line){.raw = line, .rlen = len, .folded = false};
    m->has_last_line = true;
}

static void part_data(struct mp *m, const char *chunk, size_t len)
{
    unsigned held = 0;
    m->data_read = true;
    if (len >= 1 && chunk[len - 1] == '\n')
        held = (len >= 2 && chunk[len - 2] == '\r') ? 2 : 1;
    size_t dlen = len - held;

    if (m->type == MP_FILE) {
        /* v3 checks the limit on every chunk of a file, so the last file
         * allowed trips it too when it spans more than one line. */
        if (m->max_files && m->nfiles >= m->max_files) {
            if (!m->info->file_limit_exceeded) {
                char msg[128];
                snprintf(msg, sizeof msg,
                         "Multipart: Upload file limit exceeded %u. Use SecUploadFileLimit to "
                         "change the limit.",
                         m->max_files);
                set_err(m, msg, NULL, 0);
                m->info->file_limit_exceeded = true;
            }
        } else if (!m->file_counted) {
            m->nfiles++;
            m->file_counted = true;
        }
        if (!m->fstart)
            m->fstart = chunk;
        m->fsize += dlen + m->reserve;
    } else {
        /* v3 assigns the held-back line ending and then overwrites it with
         * the chunk, so it never reaches the value. */
        if (!m->val_len)
            m->val_off = m->store.len;
        if (buf_append(&m->store, chunk, dlen) < 0) {
            oom(m);
            return;
        }
        m->val_len += dlen;
    }
    m->reserve = held;
}

/* Delivers the current part's header lines and files the part away. */
static int finish_part(struct mp *m)
{
    const struct body_sink *s = m->sink;
    const char *name = m->store.p ? m->store.p + m->name_off : "";
    for (size_t i = 0; i < m->nlines && !m->stop; i++) {
        const struct mp_line *l = &m->lines[i];
        const char *lp = l->raw;
        size_t ll = l->rlen;
        if (l->folded) {
            const struct mp_hdr *h = &m->hdrs[l->hdr];
            buf_clear(&m->tmp);
            if (buf_append(&m->tmp, h->name, h->nlen) < 0 || buf_append(&m->tmp, ": ", 2) < 0 ||
                buf_append(&m->tmp, h->val, l->snap) < 0)
                return oom(m);
            lp = m->tmp.p;
            ll = m->tmp.len;
        }
        if (s && s->part_header)
            m->stop = s->part_header(s->ctx, name, m->name_len, lp, ll);
    }
    if (m->stop)
        return -1;
    if (m->name_len) {
        if (grow((void **)&m->parts, &m->capparts, m->nparts + 1, sizeof *m->parts) < 0)
            return oom(m);
        m->parts[m->nparts++] = (struct mp_part){
            .name_off = m->name_off,
            .name_len = m->name_len,
            .fn_off = m->fn_off,
            .fn_len = m->fn_len,
            .val_off = m->val_off,
            .val_len = m->val_len,
            .fdata = m->fstart,
            .fsize = m->fsize,
            .type = m->type,
        };
    } else {
        m->info->invalid_part = true;
    }
    return 0;
}

static int boundary(struct mp *m, bool last)
{
    if (m->cur && finish_part(m) < 0)
        return -1;
    m->cur = !last;
    if (!last)
        part_reset(m);
    return 0;
}

/* One chunk (see the file comment). full: it was cut at the chunk size
 * rather than at a '\n'. Returns -1 when parsing must stop. */
static int chunk(struct mp *m, const char *c, size_t len, bool full)
{
    bool is_boundary = false;
    size_t sl = c_strlen(c, len);

    if (m->contains_line && sl > 3 && c[0] == '-' && c[1] == '-') {
        if (sl >= m->blen + 2 && bnd_at(m, c, len, 2)) {
            if (m->crlf_end == 2)
                m->info->lf_line = true;
            if (!m->data_read && m->boundary_count > 0) {
                /* A boundary where part data should start: v3 treats the
                 * line as part content and flags the part. */
                m->info->invalid_part = true;
            } else {
                size_t e = 2 + m->blen;
                bool last = false;
                if (m->boundary_count > 0)
                    m->unmatched = 2;
                if (at(c, len, e) == '-' && at(c, len, e + 1) == '-') {
                    last = true;
                    e += 2;
                    if (m->complete) {
                        fatal(m, "Multipart: Invalid boundary (final duplicate).", NULL, 0);
                        return -1;
                    }
                }
                if (at(c, len, e) == '\r' && at(c, len, e + 1) == '\n' && at(c, len, e + 2) == 0)
                    m->info->crlf_line = true;
                else if (at(c, len, e) == '\n' && at(c, len, e + 1) == 0)
                    m->info->lf_line = true;
                else {
                    fatal(m, "Multipart: Invalid boundary: ", c, len);
                    return -1;
                }
                if (boundary(m, last) < 0)
                    return -1;
                if (last)
                    m->complete = true;
                is_boundary = true;
                m->boundary_count++;
            }
        } else {
            if (m->info->boundary_quoted && sl >= m->blen + 3 && c[2] == '"' &&
                bnd_at(m, c, len, 3)) {
                fatal(m, "Multipart: Invalid boundary (quotes).", NULL, 0);
                return -1;
            }
            size_t i = 2;
            while (c_isspace(at(c, len, i)))
                i++;
            if (i != 2 && bnd_at(m, c, len, i)) {
                fatal(m, "Multipart: Invalid boundary (whitespace).", NULL, 0);
                return -1;
            }
            m->unmatched = 1;
        }
    } else if (m->contains_line) {
        /* "--boundary" inside the line. memmem keeps this linear where a
         * compare at every offset (v3's loop) is quadratic in the line. */
        if (memmem(c, len, m->needle, m->blen + 2))
            m->unmatched = 1;
    }

    if (!is_boundary) {
        if (!m->cur) {
            m->info->data_before = true;
        } else if (m->state == 0) {
            if (full) {
                fatal(m, "Multipart: Part header line over 4096 bytes long", NULL, 0);
                return -1;
            }
            part_header(m, c, len);
        } else {
            part_data(m, c, len);
        }
        if (m->info->error)
            return -1; /* out of memory */
    }

    m->contains_line = c[len - 1] == '\n';
    if (m->contains_line)
        m->crlf_end = (len >= 2 && c[len - 2] == '\r') ? 3 : 2;
    else
        m->crlf_end = 0;
    return 0;
}

/* ------------------------------------------------------- Content-Type */

/* Occurrences of "boundary" (any case) that have a '=' somewhere after. */
static int count_boundary(const char *s, size_t n)
{
    int count = 0;
    const char *eq_last = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == '=') {
            eq_last = s + i - 1;
            break;
        }
    for (size_t i = 0; i + 8 <= n;) {
        if (strncasecmp(s + i, "boundary", 8) == 0) {
            i += 8;
            if (eq_last && eq_last >= s + i)
                count++;
        } else {
            i++;
        }
    }
    return count;
}

static bool boundary_chars_ok(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (isalnum(c) && c < 128)
            continue;
        if (c == ' ' && i + 1 < n)
            continue; /* space, but not last */
        if (strchr("'()+_,-./:=?", c) && c)
            continue;
        return false;
    }
    return true;
}

/* Returns 1 when parsing may go on, 0 when v3 silently gives up (no error
 * message), -1 on an error. */
static int parse_ct(struct mp *m, const char *ct, size_t ctlen)
{
    if (ctlen == 0) {
        fatal(m, "Multipart: Content-Type header not available.", NULL, 0);
        return -1;
    }
    if (ctlen > MP_CT_MAX) {
        fatal(m, "Multipart: Invalid boundary in C-T (length).", NULL, 0);
        return -1;
    }
    /* v3 reads the header as a C string past this point. */
    size_t n = c_strlen(ct, ctlen);
    if (n < 19 || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        fatal(m, "Multipart: Invalid MIME type.", NULL, 0);
        return -1;
    }
    if (count_boundary(ct, n) > 1) {
        fatal(m, "Multipart: Multiple boundary parameters in C-T.", NULL, 0);
        return -1;
    }
    const char *bp = memmem(ct, n, "boundary", 8);
    if (!bp) {
        if (count_boundary(ct, n) > 0) {
            fatal(m, "Multipart: Invalid boundary in C-T (case sensitivity).", NULL, 0);
            return -1;
        }
        fatal(m, "Multipart: Boundary not found in C-T.", NULL, 0);
        return -1;
    }
    const char *end = ct + n;
    bool semi = false;
    for (const char *q = ct + 19; q < bp; q++) {
        if (c_isspace((unsigned char)*q))
            continue;
        if (!semi && *q == ';') {
            semi = true;
            continue;
        }
        fatal(m, "Multipart: Invalid boundary in C-T (malformed).", NULL, 0);
        return -1;
    }
    if (!semi)
        m->info->missing_semicolon = true;
    const char *eq = memchr(bp + 8, '=', (size_t)(end - (bp + 8)));
    if (!eq) {
        fatal(m, "Multipart: Invalid boundary in C-T (malformed).", NULL, 0);
        return -1;
    }
    for (const char *q = bp + 8; q < eq; q++) {
        if (!c_isspace((unsigned char)*q)) {
            fatal(m, "Multipart: Invalid boundary in C-T (parameter name).", NULL, 0);
            return -1;
        }
        m->info->boundary_whitespace = true;
    }
    const char *b = eq + 1;
    size_t len = (size_t)(end - b);
    if (len > 0 && c_isspace((unsigned char)*b))
        m->info->boundary_whitespace = true;
    if (len >= 2 && b[0] == '"' && b[len - 1] == '"') {
        b++;
        len -= 2;
        if (len == 0)
            return 0;
        m->info->boundary_quoted = true;
    } else {
        if ((len > 0 && b[0] == '"') || (len >= 2 && b[len - 1] == '"')) {
            fatal(m, "Multipart: Invalid boundary in C-T (quote).", NULL, 0);
            return -1;
        }
        if (len == 0)
            return 0;
    }
    if (count_boundary(b, len) != 0) {
        fatal(m, "Multipart: Invalid boundary in C-T (content).", NULL, 0);
        return -1;
    }
    /* Some frameworks put "; charset=..." after the boundary; v3 tolerates
     * it by cutting at the first ';'. */
    if (!boundary_chars_ok(b, len)) {
        const char *sc = memchr(b, ';', len);
        if (sc)
            len = (size_t)(sc - b);
    }
    if (!boundary_chars_ok(b, len)) {
        fatal(m, "Multipart: Invalid boundary in C-T (characters).", NULL, 0);
        return -1;
    }
    if (len == 0) {
        fatal(m, "Multipart: Invalid boundary in C-T (empty).", NULL, 0);
        return -1;
    }
    m->bnd = b;
    m->blen = len;
    m->needle[0] = m->needle[1] = '-';
    memcpy(m->needle + 2, b, len); /* len < MP_CT_MAX: the whole C-T is shorter */
    size_t cp = len < sizeof m->info->boundary - 1 ? len : sizeof m->info->boundary - 1;
    memcpy(m->info->boundary, b, cp);
    m->info->boundary[cp] = '\0';
    return 1;
}

/* ----------------------------------------------------------- driver */

/* Walks the body chunk by chunk; returns how many trailing bytes were left
 * unprocessed (a last line without '\n'), or -1 when parsing stopped. */
static int run(struct mp *m, const char *p, size_t n, size_t *left_off)
{
    size_t pos = 0;
    while (pos < n) {
        size_t rest = n - pos;
        const char *c = p + pos;
        size_t look = rest < MP_CHUNK - 1 ? rest : MP_CHUNK - 1;
        const char *nl = memchr(c, '\n', look);
        size_t len;
        bool full = false;
        if (nl) {
            len = (size_t)(nl - c) + 1;
        } else if (rest >= MP_CHUNK) {
            /* Never end a full chunk on '\r': it may start a CRLF. */
            len = c[MP_CHUNK - 1] == '\r' ? MP_CHUNK - 1 : MP_CHUNK;
            full = true;
        } else {
            *left_off = pos;
            return 0;
        }
        if (chunk(m, c, len, full) < 0)
            return -1;
        pos += len;
        if (m->complete && pos < n) {
            m->info->data_after = true;
            break;
        }
    }
    *left_off = n;
    return 0;
}

static void mp_free(struct mp *m)
{
    for (size_t i = 0; i < m->nhdrs; i++)
        buf_free(&m->hdrs[i].own);
    free(m->hdrs);
    free(m->hidx);
    free(m->lines);
    free(m->parts);
    buf_free(&m->store);
    buf_free(&m->tmp);
}

int body_multipart_parse(const char *content_type, size_t ctlen, const char *p, size_t n,
                         unsigned max_files, const struct body_sink *sink,
                         struct multipart_info *info, char *err, size_t errlen)
{
    struct multipart_info dummy;
    struct mp m;
    int rc = 0;

    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    memset(&m, 0, sizeof m);
    if (err && errlen)
        err[0] = '\0';
    m.sink = sink;
    m.info = info;
    m.err = err;
    m.errlen = errlen;
    m.max_files = max_files;
    m.contains_line = true;
    /* Everything kept is a rearrangement of body bytes; folding can about
     * double a header. */
    m.bufmax = n > ((size_t)-1 - 65536) / 2 ? (size_t)-1 / 2 : 2 * n + 65536;
    buf_init(&m.store, m.bufmax);
    buf_init(&m.tmp, m.bufmax);

    int ct = parse_ct(&m, content_type ? content_type : "", content_type ? ctlen : 0);
    if (ct <= 0)
        goto out;
    if (n == 0)
        goto out;

    size_t left = n;
    if (run(&m, p, n, &left) < 0) {
        if (m.stop)
            goto out;
        /* Aborted mid-body: the final boundary can no longer be found. */
        if (!m.complete) {
            set_err(&m,
                    m.boundary_count ? "Multipart: Final boundary missing."
                                     : "Multipart: No boundaries found in payload.",
                    NULL, 0);
            goto out;
        }
    } else if (!m.complete) {
        if (m.boundary_count == 0) {
            set_err(&m, "Multipart: No boundaries found in payload.", NULL, 0);
            goto out;
        }
        /* The closing boundary may end the body without a line ending. */
        const char *t = p + left;
        size_t tl = n - left;
        if (m.contains_line && tl == m.blen + 4 && t[0] == '-' && t[1] == '-' &&
            memcmp(t + 2, m.bnd, m.blen) == 0 && t[m.blen + 2] == '-' && t[m.blen + 3] == '-') {
            if (m.crlf_end == 2)
                info->lf_line = true;
            if (!m.data_read)
                info->invalid_part = true;
            if (boundary(&m, true) < 0)
                goto out;
            m.complete = true;
        } else {
            set_err(&m, "Multipart: Final boundary missing.", NULL, 0);
            goto out;
        }
    }

    for (size_t i = 0; i < m.nparts && !m.stop; i++) {
        const struct mp_part *pt = &m.parts[i];
        const char *s = m.store.p ? m.store.p : "";
        if (pt->type == MP_FILE) {
            info->files++;
            info->files_combined_size += pt->fsize;
            if (sink && sink->file)
                m.stop = sink->file(sink->ctx, s + pt->name_off, pt->name_len, s + pt->fn_off,
                                    pt->fn_len, pt->fdata ? pt->fdata : "", pt->fsize);
        } else if (sink && sink->arg) {
            m.stop = sink->arg(sink->ctx, s + pt->name_off, pt->name_len, s + pt->val_off,
                               pt->val_len);
        }
    }

out:
    info->unmatched_boundary = m.unmatched == 1;
    info->unmatched_boundary_level = m.unmatched;
    info->crlf_lf_lines = info->crlf_line && info->lf_line;
    info->strict_error = info->error || info->boundary_quoted || info->boundary_whitespace ||
                         info->data_before || info->data_after || info->header_folding ||
                         info->lf_line || info->missing_semicolon || info->invalid_quoting ||
                         info->invalid_part || info->invalid_header_folding ||
                         info->file_limit_exceeded;
    if (m.stop)
        rc = m.stop;
    else if (m.has_err)
        rc = -1;
    mp_free(&m);
    return rc;
}
