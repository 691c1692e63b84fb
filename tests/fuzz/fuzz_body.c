/* libFuzzer target for the four request-body processors.
 *
 * Input layout: byte 0 picks the processor (low two bits) and whether the
 * sink stops early (bit 2, stop after as many callbacks as byte 1 says);
 * for multipart, bit 3 set means the Content-Type is the rest of the input
 * up to the first '\n' instead of a fixed one. The rest is the body.
 *
 * Besides the sanitizers, it checks the contract: errors come with a
 * message and successes without one, file data is a slice of the body,
 * names and values never exceed what the body could hold, and the derived
 * multipart flags agree with the raw ones. */
#include <stdint.h>
#include <string.h>

#include "waf/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    const char *body;
    size_t n;
    unsigned calls;
    unsigned stop_after; /* 0: never */
    size_t longest;
};

static int fz_next(struct fz *f)
{
    f->calls++;
    return f->stop_after && f->calls >= f->stop_after ? 1 : 0;
}

static int fz_arg(void *ctx, const char *name, size_t nl, const char *val, size_t vl)
{
    struct fz *f = ctx;
    /* Touch every byte so ASan sees an out-of-bounds slice. */
    volatile unsigned char x = 0;
    for (size_t i = 0; i < nl; i++)
        x ^= (unsigned char)name[i];
    for (size_t i = 0; i < vl; i++)
        x ^= (unsigned char)val[i];
    (void)x;
    if (nl > f->longest)
        f->longest = nl;
    return fz_next(f);
}

static int fz_file(void *ctx, const char *field, size_t fl, const char *fname, size_t fnl,
                   const char *d, size_t dl)
{
    struct fz *f = ctx;
    if (dl && (d < f->body || dl > f->n || d > f->body + (f->n - dl)))
        __builtin_trap();
    if (fl > f->n || fnl > f->n)
        __builtin_trap();
    return fz_next(f);
}

static int fz_hdr(void *ctx, const char *field, size_t fl, const char *line, size_t ll)
{
    struct fz *f = ctx;
    if (fl > f->n)
        __builtin_trap();
    volatile unsigned char x = 0;
    for (size_t i = 0; i < ll; i++)
        x ^= (unsigned char)line[i];
    (void)x;
    return fz_next(f);
}

static int fz_xml(void *ctx, const char *val, size_t vl)
{
    struct fz *f = ctx;
    return fz_next(f);
}

static void check_err(int rc, const char *err)
{
    if (rc == 0 && err[0])
        __builtin_trap();
    if (rc == -1 && !err[0])
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3;
    struct fz f = {.stop_after = (data[0] & 4) ? data[1] : 0};
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    struct body_sink sink = {&f, fz_arg, fz_file, fz_hdr};
    char err[256];

    switch (mode) {
    case 0: {
        unsigned bad = 0;
        f.body = p;
        f.n = n;
        int rc = body_urlencoded_parse(p, n, (data[1] & 1) ? ';' : '&', &sink, &bad);
        if (rc < 0 || bad > n || f.longest > n)
            __builtin_trap();
        break;
    }
    case 1: {
        const char *ct = "multipart/form-data; boundary=b";
        size_t ctlen = strlen(ct);
        if (data[0] & 8) {
            const char *nl = memchr(p, '\n', n);
            ct = p;
            ctlen = nl ? (size_t)(nl - p) : n;
            p += ctlen + (nl ? 1 : 0);
            n -= ctlen + (nl ? 1 : 0);
        }
        f.body = p;
        f.n = n;
        struct multipart_info mi;
        int rc = body_multipart_parse(ct, ctlen, p, n, data[1] & 3, &sink, &mi, err, sizeof err);
        if (!f.stop_after || rc <= 0)
            check_err(rc, err);
        if (mi.files_combined_size > n)
            __builtin_trap();
        if (mi.crlf_lf_lines != (mi.crlf_line && mi.lf_line))
            __builtin_trap();
        if (mi.unmatched_boundary != (mi.unmatched_boundary_level == 1))
            __builtin_trap();
        if ((mi.lf_line || mi.data_before || mi.invalid_part || mi.error) && !mi.strict_error)
            __builtin_trap();
        if (memchr(mi.boundary, '\0', sizeof mi.boundary) == NULL)
            __builtin_trap();
        break;
    }
    case 2: {
        f.body = p;
        f.n = n;
        int rc = body_json_parse(p, n, (data[1] & 1) ? 0 : 1 + data[1], &sink, err, sizeof err);
        check_err(rc, err);
        break;
    }
    case 3: {
        struct body_xml *doc = NULL;
        int rc = body_xml_parse(p, n, &doc, err, sizeof err);
        check_err(rc, err);
        if (rc == 0 && !doc)
            __builtin_trap();
        body_xml_xpath(doc, "/*", fz_xml, &f);
        body_xml_xpath(doc, "//@*", fz_xml, &f);
        body_xml_free(doc);
        break;
    }
    }
    return 0;
}
