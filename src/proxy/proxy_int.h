/* Internals shared by the proxy's files (server.c, conn.c, tls.c,
 * eventlog.c, pages.c). Not part of the public API. */
#ifndef MAMORI_PROXY_INT_H
#define MAMORI_PROXY_INT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy.h"

struct waf_tx;
struct ssl_st;
struct ssl_ctx_st;

/* ---- bounded log files (eventlog.c) -------------------------------------- */
struct proxy_log;
struct proxy_log *proxy_log_open(const char *path, size_t rotate_bytes, size_t max_bytes,
                                 char *err, size_t errlen);
int proxy_log_write(struct proxy_log *l, const char *line, size_t n);
void proxy_log_ref(struct proxy_log *l);
void proxy_log_unref(struct proxy_log *l);
bool proxy_log_same(const struct proxy_log *l, const char *path, size_t rotate_bytes,
                    size_t max_bytes);
const char *proxy_log_path(const struct proxy_log *l);
int proxy_log_fd(const struct proxy_log *l);

/* ---- TLS (tls.c) ---------------------------------------------------------- */
struct proxy_tls;
struct proxy_tls *proxy_tls_new(const struct proxy_config *c, char *err, size_t errlen);
void proxy_tls_free(struct proxy_tls *t);
/* A new server-side SSL for an accepted socket, NULL on failure. */
struct ssl_st *proxy_tls_accept(struct proxy_tls *t, int fd);

/* ---- a generation: one immutable config + program ------------------------ */
/* Invariant: a generation never changes after it is published. Every request
 * holds a reference for its whole life, so a reload never pulls the program
 * out from under an in-flight transaction. */
struct proxy_gen {
    atomic_int refs;
    unsigned long id;
    struct proxy_config cfg;
    struct waf_program *prog;
    struct proxy_log *events; /* NULL when the event log is off */
    struct proxy_log *access; /* NULL when there is no access log */
    struct proxy_tls *tls;    /* NULL without certificates */
    struct proxy_shield *shield; /* NULL when no shield directive is set */
};
void proxy_gen_ref(struct proxy_gen *g);
void proxy_gen_unref(struct proxy_gen *g);

/* Shared between the main thread and the workers. */
struct proxy_shared {
    atomic_ulong gen_seq;       /* bumped after each publish */
    atomic_bool stop;           /* drain and exit */
    struct proxy_gen *_Atomic cur;
    void *mu;                   /* pthread_mutex_t*, guards taking a ref on cur */
    atomic_ulong conns_total;
    int nworkers;
};
/* A counted reference to the current generation. */
struct proxy_gen *proxy_shared_acquire(struct proxy_shared *s);

/* ---- the bot shield (shield.c) --------------------------------------------- */
struct shield;
struct shield *proxy_shield_get(const struct proxy_shield *s);
void proxy_shield_ref(struct proxy_shield *s);

/* ---- workers (conn.c) ---------------------------------------------------- */
struct proxy_worker;
struct proxy_worker *proxy_worker_new(struct proxy_shared *sh, int id, const int *lfds,
                                      const bool *ltls, size_t nl);
void *proxy_worker_main(void *arg);
void proxy_worker_wake(struct proxy_worker *w);
void proxy_worker_free(struct proxy_worker *w);

/* ---- pages and glue (pages.c) --------------------------------------------- */
const char *proxy_status_reason(int status);
/* Writes a complete small response (head + plain-text body) into out.
 * event_id may be NULL. Returns the length, or 0 if it does not fit. */
size_t proxy_page(char *out, size_t cap, int status, const char *event_id, bool close,
                  const char *location);
/* Whether phase 4 will look at this response's body, and up to how much. */
bool proxy_tx_wants_response_body(const struct waf_tx *tx, size_t *limit);

#endif
