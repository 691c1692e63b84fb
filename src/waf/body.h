/* Request body processors: URL-encoded, multipart/form-data, JSON, XML.
 *
 * Contract: each parser reads a complete body (ptr, len) and reports what it
 * finds through a body_sink; it never keeps pointers into the body after it
 * returns unless the sink copies them (the WAF sink copies into the
 * transaction arena). Errors are reported as a message (for REQBODY_ERROR_MSG)
 * and a non-zero return; partial results already delivered stay valid, as
 * ModSecurity does. Names follow ModSecurity v3 so CRS rules and exclusions
 * written for it keep working (e.g. JSON keys "json.a.b"). */
#ifndef MAMORI_WAF_BODY_H
#define MAMORI_WAF_BODY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct body_sink {
    void *ctx;
    /* One argument (ARGS_POST / ARGS_GET). Return non-zero to stop (e.g. limit). */
    int (*arg)(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen);
    /* One multipart file part: field name, file name, its size and content. */
    int (*file)(void *ctx, const char *field, size_t flen, const char *filename, size_t fnlen,
                const char *data, size_t dlen);
    /* One header line of a multipart part, keyed by the part's field name
     * (MULTIPART_PART_HEADERS); value is the whole "Name: value" line. */
    int (*part_header)(void *ctx, const char *field, size_t flen, const char *line, size_t llen);
};

/* URL-encoded (also used for the query string): splits on sep, decodes
 * '+' and %XX in names and values (invalid %-escapes are left as they are
 * and counted in *invalid_escapes when non-NULL). A key without '=' gets an
 * empty value. Returns 0, or what the sink returned. */
int body_urlencoded_parse(const char *p, size_t n, char sep, const struct body_sink *sink,
                          unsigned *invalid_escapes);

/* What the multipart parser observed; every flag maps to the MULTIPART_*
 * variable of the same name. */
struct multipart_info {
    bool boundary_quoted;
    bool boundary_whitespace;
    bool data_before;
    bool data_after;
    bool header_folding;
    bool lf_line;
    bool crlf_line;
    bool missing_semicolon;
    bool invalid_quoting;
    bool invalid_part;
    bool invalid_header_folding;
    bool file_limit_exceeded;
    bool unmatched_boundary;          /* MULTIPART_UNMATCHED_BOUNDARY == 1 */
    unsigned char unmatched_boundary_level; /* the variable's value: 0, 1, or 2 (v3 sets 2 at
                                               every real boundary after the first) */
    bool crlf_lf_lines;               /* MULTIPART_CRLF_LF_LINES: crlf_line && lf_line */
    bool error;             /* REQBODY_PROCESSOR_ERROR / MULTIPART_STRICT_ERROR inputs */
    bool strict_error;      /* OR of the flags ModSecurity folds into MULTIPART_STRICT_ERROR */
    unsigned files;
    uint64_t files_combined_size;
    char boundary[1025]; /* C-Types over 1024 bytes are refused */
};

/* content_type: the full Content-Type header value. max_files bounds file
 * parts (file_limit_exceeded past it; 0 = no limit, v3's default). Returns 0
 * on success, -1 on a parse error with err filled (e.g. "Multipart: Invalid
 * boundary in C-T (malformed)."; v3 shows it after "Multipart parsing error: "),
 * or the sink's non-zero value if it stopped the parse. */
int body_multipart_parse(const char *content_type, size_t ctlen, const char *p, size_t n,
                         unsigned max_files, const struct body_sink *sink,
                         struct multipart_info *info, char *err, size_t errlen);

/* JSON: every scalar becomes an argument named by its path ("json.a.b",
 * arrays as ModSecurity v3 names them); depth_limit bounds nesting (0: v3's
 * default, 10000). Returns 0 or -1 with err (yajl's text, e.g. "parse error:
 * premature EOF\n"; v3 shows it after "JSON parsing error: "). A sink that
 * stops cancels the parse, which is an error as in v3. v3 puts JSON
 * arguments in ARGS but not ARGS_POST. */
int body_json_parse(const char *p, size_t n, unsigned depth_limit, const struct body_sink *sink,
                    char *err, size_t errlen);

/* XML via libxml2 (no network, no external entities, no DTD loading).
 * Returns 0, or -1 with err "XML: Failed parsing document." (v3 shows it
 * after "XML parsing error: "); even then *out may hold the partial tree,
 * which v3 still runs XPath on: free *out whenever it is non-NULL. */
struct body_xml;
int body_xml_parse(const char *p, size_t n, struct body_xml **out, char *err, size_t errlen);
/* Calls cb for every node an XPath expression selects, with the node's text
 * content (elements: all descendant text; attributes: the value). */
int body_xml_xpath(struct body_xml *doc, const char *expr,
                   int (*cb)(void *ctx, const char *val, size_t vlen), void *ctx);
void body_xml_free(struct body_xml *doc);

#endif
