/* Internals of the proxy's worker: connection, upstream and worker
 * structures shared by conn.c (client side), upstream.c, txlog.c and
 * loop.c. Not part of any public API.
 *
 * A client connection walks through these states:
 *   TLS_HS -> HEAD -> [BODY] -> UPSTREAM -> RESP -> DONE -> HEAD ...
 * HEAD reads and strictly parses a request head (phase 1 runs right after);
 * BODY buffers the request body up to max_body (phase 2 runs on it);
 * UPSTREAM sends the request and waits for the response head (phase 3);
 * RESP streams the response body, or buffers it up to the engine's limit
 * when phase 4 inspects that content type; DONE flushes what is queued and
 * then starts over (keep-alive) or closes.
 *
 * Invariants: a connection's input buffer never holds more than
 * max_head + IN_SLACK bytes; its output buffer holds at most OUT_HIGH bytes
 * of streamed data plus one read of upstream input (reading from the
 * upstream pauses above OUT_HIGH), or an inspected body up to the engine's
 * response body limit. Objects closed inside a callback are only freed when
 * the loop comes back (reap list). Timers are per-duration FIFO lists, so
 * each list is ordered by deadline and expiry looks only at list heads. */
#ifndef MAMORI_PROXY_CONN_INT_H
#define MAMORI_PROXY_CONN_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "core/buf.h"
#include "http/http.h"
#include "proxy/proxy_int.h"
#include "shield/shield.h"

#define IN_SLACK 16384
#define IN_INITIAL 4096
#define OUT_HIGH (256u * 1024)
#define UP_POOL_MAX 64
#define UP_IDLE_MS 30000
#define MAX_EVENTS 256
/* deferred upstream writes are flushed at the end of a batch of events,
 * or when this many wait (a request waits for a few others' rules at
 * most) */
#define DEFER_MAX 32
#define TARGET_MAX 4096
#define EVENT_MAX (64u * 1024)

enum obj_kind { OBJ_LISTENER = 1, OBJ_CONN, OBJ_UP, OBJ_WAKE };

enum tlist {
    TL_HEADER,
    TL_IDLE,
    TL_BODY,
    TL_UPCONNECT,
    TL_UPSTREAM,
    TL_SEND,
    TL_UPIDLE,
    TL__N,
    TL_NONE = -1
};

struct tnode {
    struct tnode *prev, *next;
    uint64_t deadline;
    int list;
    int kind; /* OBJ_CONN or OBJ_UP */
};

enum cstate { S_TLS_HS, S_HEAD, S_BODY, S_UPSTREAM, S_RESP, S_DONE };
enum rbody { RB_NONE, RB_CL, RB_CHUNKED, RB_CLOSE };
enum oframe { OF_NONE, OF_CL, OF_CHUNKED, OF_CLOSE };

struct listener {
    int kind;
    int fd;
    bool tls;
};

struct conn;

struct upconn {
    int kind;
    struct tnode t; /* must follow kind: see obj_of_tnode */
    struct proxy_worker *w;
    int fd;
    uint32_t ev;
    bool connecting;
    bool reused;
    bool closed;
    bool got_bytes;
    struct conn *owner; /* NULL while idle in the pool */
    struct upconn *pnext, *pprev;
    struct upconn *reap_next;
    char *in;
    size_t in_len, in_cap;
};

struct conn {
    int kind;
    struct tnode t;
    struct proxy_worker *w;
    int fd;
    uint32_t ev;
    bool closed;
    SSL *ssl;
    bool tls_want_write;
    bool in_full; /* input buffer at its cap outside HEAD/BODY: not reading */
    struct proxy_gen *hs_gen; /* held during the TLS handshake only */
    struct conn *next, *prev;
    struct conn *reap_next;
    struct conn *defer_next; /* on the worker's deferred upstream writes */
    bool up_deferred;
    enum cstate st;
    unsigned nreq;
    char peer_ip[64];
    int peer_port;
    char local_ip[64];
    int local_port;

    /* input */
    char *in;
    size_t in_len, in_cap, head_scan;
    struct http_header *hdrs;
    size_t max_hdrs;

    /* the current request */
    struct proxy_gen *g;
    struct waf_tx *tx;
    char uid[40];
    char client_ip[64];
    char method[24];
    char target[TARGET_MAX + 1];
    bool is_head;
    bool req_keep_alive;
    int req_minor;
    bool req_has_body, req_chunked, req_had_cl;
    uint64_t req_remaining;
    struct http_chunked ch;
    struct buf uphead;
    struct buf body;
    int status;
    bool event_logged;
    /* the bot shield's view of this request (shield_on: it was checked) */
    bool shield_on;
    bool shield_blocked; /* refused by the shield or blocked by the WAF */
    bool shield_skip_note; /* answered because of a ban: not counted again */
    struct shield_addr shield_addr;

    /* upstream side */
    struct upconn *up;
    size_t up_sent;
    bool retried;
    bool resp_head_done;
    enum rbody rb;
    uint64_t rb_remaining;
    uint64_t resp_cl;
    struct http_chunked rch;
    enum oframe of;
    bool inspect;
    bool flushed_head;
    size_t inspect_limit;
    struct buf reshead;
    struct buf resbody;
    bool up_keep_alive;
    bool up_paused;

    /* output */
    struct buf out;
    size_t out_off;
    bool close_after;
};

/* Shield events are rate-limited per worker: at most one per (address,
 * action) and second; the next one says how many were left out. A small
 * direct-mapped cache, so a flood cannot grow it. */
#define SHIELD_SEEN_SLOTS 256
struct shield_seen {
    uint64_t key;
    uint64_t second;
    unsigned suppressed;
};

struct proxy_worker {
    int id;
    struct shield_seen seen[SHIELD_SEEN_SLOTS];
    int ep;
    int wakefd;
    int wake_kind;
    pthread_t thread;
    struct proxy_shared *sh;
    struct proxy_gen *gen;
    unsigned long seq;
    struct listener ls[PROXY_MAX_LISTEN];
    size_t nls;
    struct tnode heads[TL__N];
    unsigned dur[TL__N];
    struct conn *conns;
    size_t nconns;
    struct upconn *pool;
    size_t npool;
    struct conn *reap_c;
    struct upconn *reap_u;
    /* requests ready for a pooled upstream connection, written after the
     * batch of events that readied them (proxy_flush_upstream) */
    struct conn *defer_head, **defer_tail;
    unsigned ndefer;
    uint64_t now;
    unsigned long counter;
    bool stopping;
    bool accept_paused; /* at max-connections: listeners out of epoll */
    uint64_t drain_deadline;
};

/* loop.c */
void proxy_tnode_unlink(struct tnode *t);
void proxy_timer_set(struct proxy_worker *w, struct tnode *t, int list);
void proxy_set_events(struct proxy_worker *w, int fd, void *obj, uint32_t *cur, uint32_t want);

/* conn.c: the client side */
bool proxy_str_ieq_any(struct str s, const char *const *names, size_t n);
bool proxy_connection_lists(const struct http_header *h, size_t nh, struct str name);
void proxy_buf_restart(struct buf *b, size_t max);
void proxy_buf_release(struct buf *b);
int proxy_buf_put_u64(struct buf *b, uint64_t v);
size_t proxy_put_hex(char *out, uint64_t v, int width);
void proxy_conn_update_events(struct conn *c);
void proxy_conn_close(struct conn *c);
void proxy_conn_free(struct conn *c);
void proxy_conn_event(struct conn *c, uint32_t events);
void proxy_out_append(struct conn *c, const void *p, size_t n);
void proxy_reject(struct conn *c, int status, const char *reason);
void proxy_upstream_error(struct conn *c, int status, const char *reason);
/* Runs the engine's decision: true when the request was stopped. */
bool proxy_blocked(struct conn *c);
void proxy_flush_out(struct conn *c);
void proxy_new_uid(struct conn *c);

/* upstream.c */
void proxy_up_free(struct upconn *u);
void proxy_up_close(struct upconn *u);
void proxy_start_upstream(struct conn *c);
void proxy_flush_upstream(struct proxy_worker *w);
void proxy_up_event(struct upconn *u, uint32_t events);

/* txlog.c: events and the access log */
/* action: blocked, detected, rejected or upstream_error; reason may be NULL */
void proxy_log_event(struct conn *c, struct proxy_gen *g, const char *action, int status,
                     const char *reason);
/* The same with extra JSON members (",\"k\":v..." or NULL); ignores
 * event_logged and does not set it (a second event for one request). */
void proxy_log_event_ex(struct conn *c, struct proxy_gen *g, const char *action, int status,
                        const char *reason, const char *extra);
/* The access-log line of a request answered without a transaction. */
void proxy_log_access(struct conn *c);
/* Phase 5 and the logs; the transaction stays until the request is reset. */
void proxy_finish_tx(struct conn *c);

#endif
