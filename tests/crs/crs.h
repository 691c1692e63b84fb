/* CRS v4 regression-test runner: shared types of its three parts.
 *
 *  - ftw_yaml.c loads go-ftw YAML test files into struct crs_suite (every
 *    string and array lives in the suite's arena; nothing is freed alone);
 *  - request_build.c turns one stage's input into the exact bytes go-ftw
 *    would put on the wire;
 *  - echo_emul.c answers a raw request the way CRS's test backend does, so
 *    response-phase rules see what they see in CRS's own CI.
 *
 * Absent optional fields are NULL (strings) or 0 (numbers), so the builder
 * can apply go-ftw's defaults exactly where go-ftw applies them. */
#ifndef MAMORI_TESTS_CRS_CRS_H
#define MAMORI_TESTS_CRS_CRS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"
#include "http/http.h"

struct arena;

struct crs_kv {
    const char *name;
    const char *value;
};

struct crs_stage {
    /* ---- input (NULL when the YAML does not set the field) ---- */
    const char *dest_addr;
    int port; /* 0: absent */
    const char *method;
    const char *uri;
    const char *version;
    /* In the order go-ftw writes a YAML map of headers: sorted by name,
     * bytewise (the YAML order is not kept by Go's map). */
    struct crs_kv *headers;
    size_t nheaders;
    bool has_headers;
    const char *data; /* after go-ftw's template expansion */
    size_t data_len;
    bool has_data;
    const char *encoded_request; /* base64 of the whole request */
    bool autocomplete;           /* autocomplete_headers (default true) */

    /* ---- expected output ---- */
    int status; /* 0: none */
    bool has_status;
    unsigned *expect_ids;
    size_t n_expect_ids;
    unsigned *no_expect_ids;
    size_t n_no_expect_ids;
    const char *match_regex;    /* log_contains folds into these, as go-ftw does */
    const char *no_match_regex;
    const char *response_contains;
    bool expect_error;
    bool isolated;
};

struct crs_test {
    unsigned rule_id;
    unsigned test_id;
    const char *desc;
    struct crs_stage *stages;
    size_t nstages;
    size_t file; /* index into crs_suite.files */
};

struct crs_file {
    const char *path; /* as opened */
    const char *name; /* relative to the tests folder, e.g. "REQUEST-942-.../942100.yaml" */
    unsigned rule_id;
    size_t first_test;
    size_t ntests;
};

struct crs_suite {
    struct arena *arena;
    struct crs_file *files;
    size_t nfiles;
    struct crs_test *tests;
    size_t ntests;
    size_t nstages;
};

/* Loads every *.yaml and *.yml under dir (recursively, sorted by path).
 * A file go-ftw could not load stops the load: returns -1 with
 * "file:line: reason" in err. */
int crs_suite_load(struct crs_suite *s, const char *dir, char *err, size_t errlen);
void crs_suite_free(struct crs_suite *s);

/* Expands the go-ftw template actions in data ({{ "x" | repeat N }} is the
 * only one the CRS suite uses). Returns 0, or -1 with err for an action this
 * runner does not know. Exposed for the loader. */
int crs_template_expand(const char *in, size_t n, struct buf *out, char *err, size_t errlen);

/* Appends the raw request bytes of st to out. Returns 0, or -1 with err
 * (bad base64, data and encoded_request both set, buffer limit). */
int crs_request_build(const struct crs_stage *st, struct buf *out, char *err, size_t errlen);

/* The backend's answer to one raw request. headers point into hdr_store or
 * into static strings; body is owned by the struct. */
#define CRS_ECHO_MAX_HEADERS 64
struct crs_echo_response {
    int status;
    const char *reason;
    char status_line[64];
    struct http_header headers[CRS_ECHO_MAX_HEADERS];
    size_t nheaders;
    struct buf hdr_store; /* backing bytes for reflected header names/values */
    struct buf body;
    bool head; /* HEAD request: no body is sent */
};

void crs_echo_init(struct crs_echo_response *r);
void crs_echo_free(struct crs_echo_response *r);
/* Fills r with what the test backend answers to raw (a complete request).
 * Returns 0; -1 only when memory runs out. */
int crs_echo_respond(const char *raw, size_t n, struct crs_echo_response *r);
/* Fills an http_response (slices into r) for the engine's phase 3. */
void crs_echo_to_http(const struct crs_echo_response *r, struct http_response *out);

/* Checks the loader and request builder against fixed go-ftw cases; prints
 * what differs to out. Returns 0 when all agree. */
int crs_selftest(FILE *out);

/* ---- wire.c: the same stage through a running proxy ------------------ */
struct crs_wire {
    const char *host;      /* the proxy's address (IPv4) */
    int port;
    const char *source_ip; /* bind the client here (e.g. 127.0.0.2), or NULL */
    const char *log_path;  /* the proxy's JSON event log */
    long log_off;          /* how much of it earlier requests consumed */
};
/* Sends raw, sets *status (0 when no response came), and calls on_rule for
 * every rule the proxy logged for this request. */
int crs_wire_send(struct crs_wire *w, const char *raw, size_t n, int *status,
                  void (*on_rule)(void *ud, int id, const char *line), void *ud, char *err,
                  size_t errlen);

#endif
