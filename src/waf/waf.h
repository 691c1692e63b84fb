/* The WAF engine: SecLang rules compiled into an immutable program, run by
 * per-request transactions.
 *
 * Contract:
 *  - A waf_program is built once (waf_builder_*), is read-only afterwards and
 *    is shared by any number of transactions on any number of threads.
 *  - A waf_tx belongs to one request; everything it allocates lives in its
 *    own bounded arena and goes away with waf_tx_free.
 *  - Phases run in order: request head (phase 1), request body (phase 2),
 *    response head (3), response body (4), logging (5). Each call runs the
 *    phase and returns the disruptive decision so far, if any.
 *  - Load errors are "file:line: what is wrong"; no directive, operator,
 *    variable, transformation or action is ever silently ignored. */
#ifndef MAMORI_WAF_WAF_H
#define MAMORI_WAF_WAF_H
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct waf_program;
struct waf_builder;
struct waf_tx;

/* ---- building a program -------------------------------------------------- */
struct waf_builder *waf_builder_new(void);
/* path may be a glob; relative Include paths resolve against the including
 * file's folder. Returns 0, or -1 with "file:line: reason" in err. */
int waf_builder_add_file(struct waf_builder *b, const char *path, char *err, size_t errlen);
/* Rules given as text (name is used in error messages and [file "..."]). */
int waf_builder_add_string(struct waf_builder *b, const char *text, const char *name, char *err,
                           size_t errlen);
/* Compiles; the builder is consumed either way. NULL with err on failure. */
struct waf_program *waf_builder_finish(struct waf_builder *b, char *err, size_t errlen);
void waf_builder_free(struct waf_builder *b);
void waf_program_free(struct waf_program *p);
size_t waf_program_rule_count(const struct waf_program *p);

/* ---- transactions -------------------------------------------------------- */
/* One matched rule that logs (or is disruptive), in match order. Strings are
 * owned by the transaction. */
struct waf_match {
    int id;
    int phase;
    int severity;    /* 0-7, -1 if none */
    const char *msg;      /* expanded msg, "" if none */
    const char *data;     /* expanded logdata, "" if none */
    const char *var;      /* matched variable name, e.g. "ARGS:q" */
    const char *value;    /* matched value (after transformations) */
    const char *line;     /* ModSecurity-compatible error-log line */
    bool disruptive;
};

struct waf_intervention {
    bool disrupt;
    int status;        /* 403 by default for deny */
    int rule_id;
    const char *action; /* "deny", "drop", "redirect", "allow" */
    const char *url;    /* redirect target, or NULL */
};

struct waf_tx_opts {
    const char *client_ip;
    int client_port;
    const char *server_ip;
    int server_port;
    const char *server_name; /* SERVER_NAME; defaults to Host */
    const char *unique_id;   /* generated when NULL */
    size_t arena_cap;        /* 0: default (64 MiB) */
    /* Called for each logged match as it happens (may be NULL). */
    void (*on_match)(void *ud, const struct waf_match *m);
    void *ud;
};

struct waf_tx *waf_tx_new(const struct waf_program *p, const struct waf_tx_opts *o);
void waf_tx_free(struct waf_tx *tx);

/* Phase 1. The request's slices are copied into the transaction. */
int waf_tx_request_head(struct waf_tx *tx, const struct http_request *req);
/* Phase 2 on the complete (de-chunked) body. */
int waf_tx_request_body(struct waf_tx *tx, const char *body, size_t n);
int waf_tx_response_head(struct waf_tx *tx, const struct http_response *res);
int waf_tx_response_body(struct waf_tx *tx, const char *body, size_t n);
void waf_tx_logging(struct waf_tx *tx);

/* Convenience for eval, bench and tests: parses a raw request leniently and
 * runs phases 1 and 2. Returns 0, or -1 when the bytes are not an HTTP
 * request at all (err says why). */
int waf_tx_process_raw_request(struct waf_tx *tx, const char *raw, size_t n, char *err,
                               size_t errlen);

/* Releases this thread's engine caches now (they are also released when the
 * thread exits). The main thread calls it before exit to stay leak-clean. */
void waf_thread_cleanup(void);

bool waf_tx_intervention(const struct waf_tx *tx, struct waf_intervention *out);
const struct waf_match *waf_tx_matches(const struct waf_tx *tx, size_t *n);
/* Numeric value of TX:name (0 if unset). */
long waf_tx_get_tx_num(const struct waf_tx *tx, const char *name);

#endif
