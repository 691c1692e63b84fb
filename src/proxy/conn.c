/* The client side of a connection: reading and strictly parsing requests,
 * running phases 1 and 2, building the upstream request, answering with
 * pages (blocks, rejections, upstream errors) and writing responses out.
 * The state machine and its invariants are described in conn_int.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proxy/banstore.h"
#include "proxy/conn_int.h"
#include "waf/waf.h"

bool proxy_str_ieq_any(struct str s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (str_ieq_c(s, names[i]))
            return true;
    return false;
}

/* Whether name is listed as a token in any Connection header. */
bool proxy_connection_lists(const struct http_header *h, size_t nh, struct str name)
{
    for (size_t i = 0; i < nh; i++) {
        if (!str_ieq_c(h[i].name, "connection"))
            continue;
        const char *p = h[i].value.p, *e = p + h[i].value.n;
        while (p < e) {
            while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *s = p;
            while (p < e && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            if (p > s && str_ieq(str_make(s, (size_t)(p - s)), name))
                return true;
        }
    }
    return false;
}

static bool cidr_has(const struct proxy_cidr *c, const char *ip)
{
    uint8_t a[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (fam != c->family || inet_pton(fam, ip, a) != 1)
        return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(a, c->addr, (size_t)full))
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & m) != (c->addr[full] & m))
            return false;
    }
    return true;
}

static bool trusted(const struct proxy_config *cfg, const char *ip)
{
    for (size_t i = 0; i < cfg->ntrusted; i++)
        if (cidr_has(&cfg->trusted[i], ip))
            return true;
    return false;
}

/* The client address: the peer, or behind trusted proxies the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. */
static void client_ip_of(struct conn *c, const struct http_request *req)
{
    memcpy(c->client_ip, c->peer_ip, sizeof c->client_ip);
    const struct proxy_config *cfg = &c->g->cfg;
    if (!cfg->ntrusted || !trusted(cfg, c->peer_ip))
        return;
    const struct http_header *x = http_header_find(req->headers, req->nheaders, "x-forwarded-for");
    if (!x)
        return;
    const char *b = x->value.p, *e = b + x->value.n;
    while (e > b) {
        const char *s = e;
        while (s > b && s[-1] != ',')
            s--;
        const char *ts = s, *te = e;
        while (ts < te && (*ts == ' ' || *ts == '\t'))
            ts++;
        while (te > ts && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        char ip[64];
        size_t n = (size_t)(te - ts);
        if (n == 0 || n >= sizeof ip)
            return;
        memcpy(ip, ts, n);
        ip[n] = '\0';
        unsigned char tmp[16];
        if (inet_pton(AF_INET, ip, tmp) != 1 && inet_pton(AF_INET6, ip, tmp) != 1)
            return; /* garbage: keep the last good answer */
        snprintf(c->client_ip, sizeof c->client_ip, "%s", ip);
        if (!trusted(cfg, ip))
            return;
        e = s > b ? s - 1 : b;
    }
}

/* ---- I/O wrappers (plain or TLS) ------------------------------------------ */
/* ---- I/O wrappers (plain or TLS) ------------------------------------------ */
static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r;
        do
            r = read(c->fd, p, n);
        while (r < 0 && errno == EINTR);
        return r;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: errno = EAGAIN; return -1;
    case SSL_ERROR_WANT_WRITE: c->tls_want_write = true; errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: errno = ECONNRESET; return -1;
    }
}

static ssize_t conn_write(struct conn *c, const char *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r;
        do
            r = send(c->fd, p, n, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        return r;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
    default: errno = EPIPE; return -1;
    }
}

/* Buffers keep their memory from one request to the next on a connection
 * (up to KEEP_BUF bytes each), so a keep-alive request costs no mallocs. */
#define KEEP_BUF (16u * 1024)

void proxy_buf_restart(struct buf *b, size_t max)
{
    if (b->p && b->cap <= KEEP_BUF) {
        b->len = 0;
        b->p[0] = '\0';
        b->max = max;
    } else {
        buf_free(b);
        buf_init(b, max);
    }
}

void proxy_buf_release(struct buf *b)
{
    if (b->cap > KEEP_BUF)
        buf_free(b);
    else
        buf_clear(b);
}

/* Decimal without printf (this is on every request's path). */
int proxy_buf_put_u64(struct buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buf_append(b, tmp + i, sizeof tmp - i);
}

size_t proxy_put_hex(char *out, uint64_t v, int width)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = width - 1; i >= 0; i--) {
        out[i] = hx[v & 15];
        v >>= 4;
    }
    return (size_t)width;
}

/* ---- lifecycle ------------------------------------------------------------ */
static void process_input(struct conn *c);

/* The client stays registered for input in every state (level-triggered):
 * that notices a client that leaves while the upstream works and saves two
 * epoll_ctl calls per request. Bytes that arrive early (pipelining) wait in
 * the input buffer; once it is full, input interest is dropped until the
 * next request starts. */
void proxy_conn_update_events(struct conn *c)
{
    if (c->closed)
        return;
    uint32_t want = 0;
    bool pending = c->out.len > c->out_off;
    if (c->st == S_TLS_HS) {
        want = c->tls_want_write ? EPOLLOUT : EPOLLIN;
    } else {
        bool reading = c->st == S_HEAD || c->st == S_BODY;
        if (reading || !c->in_full)
            want |= EPOLLIN;
        if (pending || c->tls_want_write)
            want |= EPOLLOUT;
    }
    proxy_set_events(c->w, c->fd, c, &c->ev, want);
}

static void shield_note(struct conn *c);

static void request_reset(struct conn *c)
{
    if (c->tx) {
        waf_tx_free(c->tx);
        c->tx = NULL;
    }
    if (c->shield_on)
        shield_note(c);
    c->shield_on = c->shield_blocked = c->shield_skip_note = false;
    if (c->g) {
        proxy_gen_unref(c->g);
        c->g = NULL;
    }
    if (c->up)
        proxy_up_close(c->up);
    proxy_buf_release(&c->uphead);
    proxy_buf_release(&c->body);
    proxy_buf_release(&c->reshead);
    proxy_buf_release(&c->resbody);
    c->status = 0;
    c->event_logged = false;
    c->up_sent = 0;
    c->retried = false;
    c->resp_head_done = false;
    c->inspect = false;
    c->flushed_head = false;
    c->up_paused = false;
    c->uid[0] = '\0';
    c->method[0] = '\0';
    c->target[0] = '\0';
}

void proxy_conn_close(struct conn *c)
{
    if (c->closed)
        return;
    struct proxy_worker *w = c->w;
    request_reset(c);
    c->closed = true;
    proxy_tnode_unlink(&c->t);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->hs_gen) {
        proxy_gen_unref(c->hs_gen);
        c->hs_gen = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->reap_next = w->reap_c;
    w->reap_c = c;
}

void proxy_conn_free(struct conn *c)
{
    free(c->in);
    free(c->hdrs);
    buf_free(&c->out);
    buf_free(&c->uphead);
    buf_free(&c->body);
    buf_free(&c->reshead);
    buf_free(&c->resbody);
    free(c);
}

/* ---- output ---------------------------------------------------------------- */
/* ---- output ---------------------------------------------------------------- */
void proxy_out_append(struct conn *c, const void *p, size_t n)
{
    if (buf_append(&c->out, p, n) < 0)
        c->close_after = true; /* cannot happen within the documented bounds */
}

/* Queues one of the proxy's own pages and ends the exchange. */
static void send_page(struct conn *c, int status, const char *location)
{
    char page[2048];
    if (c->up)
        proxy_up_close(c->up);
    c->close_after = true;
    c->status = status;
    /* nothing queued for this request may precede the page (except a 100
     * Continue that is already out) */
    size_t n = proxy_page(page, sizeof page, status, c->uid[0] ? c->uid : NULL, true, location);
    if (n)
        proxy_out_append(c, page, n);
    c->st = S_DONE;
    proxy_timer_set(c->w, &c->t, TL_SEND);
}

void proxy_reject(struct conn *c, int status, const char *reason)
{
    struct proxy_gen *g = c->g ? c->g : c->w->gen;
    proxy_log_event(c, g, "rejected", status, reason);
    if (c->tx) {
        c->status = status;
        proxy_finish_tx(c);
    }
    send_page(c, status, NULL);
}

void proxy_upstream_error(struct conn *c, int status, const char *reason)
{
    if (c->flushed_head) {
        /* part of the response is out: all we can do is cut it */
        proxy_log_event(c, c->g, "upstream_error", c->status, reason);
        proxy_conn_close(c);
        return;
    }
    c->status = status;
    proxy_log_event(c, c->g, "upstream_error", status, reason);
    proxy_finish_tx(c);
    send_page(c, status, NULL);
}

/* The engine wants the request stopped: deny (page), redirect, or drop. */
static void block(struct conn *c)
{
    struct waf_intervention iv;
    if (!waf_tx_intervention(c->tx, &iv))
        return;
    int status = iv.status >= 100 && iv.status <= 599 ? iv.status : 403;
    bool redirect = iv.url && iv.action && !strcmp(iv.action, "redirect");
    if (redirect && (status < 300 || status > 399))
        status = 302;
    if (!redirect && status < 400)
        status = 403;
    c->status = status;
    c->shield_blocked = true;
    proxy_log_event(c, c->g, "blocked", status, NULL);
    proxy_finish_tx(c);
    if (iv.action && !strcmp(iv.action, "drop")) {
        proxy_conn_close(c);
        return;
    }
    char loc[1024];
    if (redirect) {
        size_t k = 0;
        for (const char *p = iv.url; *p && k + 1 < sizeof loc; p++)
            if ((unsigned char)*p >= 0x20 && *p != 0x7f)
                loc[k++] = *p;
        loc[k] = '\0';
    }
    send_page(c, status, redirect ? loc : NULL);
}

bool proxy_blocked(struct conn *c)
{
    struct waf_intervention iv;
    if (c->tx && waf_tx_intervention(c->tx, &iv)) {
        block(c);
        return true;
    }
    return false;
}

static void next_request(struct conn *c)
{
    request_reset(c);
    c->st = S_HEAD;
    c->head_scan = 0;
    c->in_full = false;
    c->nreq++;
    proxy_timer_set(c->w, &c->t, c->in_len ? TL_HEADER : TL_IDLE);
    proxy_conn_update_events(c);
    if (c->in_len)
        process_input(c);
}

void proxy_flush_out(struct conn *c)
{
    /* a loop, not recursion: pipelined requests can follow one another */
    for (int round = 0; round < 64 && !c->closed; round++) {
        c->tls_want_write = false;
        while (c->out_off < c->out.len) {
            ssize_t wn = conn_write(c, c->out.p + c->out_off, c->out.len - c->out_off);
            if (wn > 0) {
                c->out_off += (size_t)wn;
                continue;
            }
            if (wn < 0 && errno == EAGAIN) {
                if (c->st == S_RESP || c->st == S_DONE)
                    proxy_timer_set(c->w, &c->t, TL_SEND);
                proxy_conn_update_events(c);
                return;
            }
            proxy_conn_close(c);
            return;
        }
        buf_clear(&c->out);
        c->out_off = 0;
        if (c->out.cap > OUT_HIGH)
            buf_free(&c->out); /* a big inspected body went out: give the memory back */
        if (c->st == S_DONE) {
            if (c->close_after || !c->req_keep_alive || c->w->stopping) {
                if (c->ssl)
                    SSL_shutdown(c->ssl);
                shutdown(c->fd, SHUT_WR);
                proxy_conn_close(c);
                return;
            }
            next_request(c);
            if (!c->closed && c->out.len > c->out_off)
                continue;
            return;
        }
        if (c->st == S_RESP && c->up_paused && c->up) {
            c->up_paused = false;
            proxy_set_events(c->w, c->up->fd, c->up, &c->up->ev, EPOLLIN);
            proxy_timer_set(c->w, &c->t, TL_UPSTREAM);
        }
        proxy_conn_update_events(c);
        return;
    }
}

/* ---- request side ---------------------------------------------------------- */
/* ---- request side ---------------------------------------------------------- */
void proxy_new_uid(struct conn *c)
{
    struct proxy_worker *w = c->w;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long ms = (unsigned long long)ts.tv_sec * 1000ull +
                            (unsigned long long)ts.tv_nsec / 1000000ull;
    /* 20 hex digits: milliseconds, worker, per-worker counter */
    size_t k = proxy_put_hex(c->uid, ms, 11);
    k += proxy_put_hex(c->uid + k, (uint64_t)w->id, 2);
    k += proxy_put_hex(c->uid + k, ++w->counter, 7);
    c->uid[k] = '\0';
}

static void copy_cstr(char *dst, size_t cap, struct str s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static const char *const req_drop[] = {
    "connection", "keep-alive", "proxy-connection", "te",          "transfer-encoding",
    "upgrade",    "content-length", "expect",        "trailer",     "x-forwarded-for",
    "x-forwarded-proto", "x-real-ip", "forwarded",
};

/* The request head for the upstream, without Content-Length and the final
 * empty line (added once the body is known). */
static int build_uphead(struct conn *c, const struct http_request *req)
{
    struct buf *b = &c->uphead;
    const struct proxy_config *cfg = &c->g->cfg;
    proxy_buf_restart(b, cfg->max_head + 4096);
    struct str target = req->target;
    bool abs = req->form == HTTP_FORM_ABSOLUTE;
    if (abs) {
        const char *p = memchr(target.p, ':', target.n);
        const char *e = target.p + target.n;
        const char *slash = NULL;
        if (p && (size_t)(e - p) > 3)
            slash = memchr(p + 3, '/', (size_t)(e - p - 3));
        if (!slash) {
            const char *q = p ? memchr(p + 3 < e ? p + 3 : e, '?', (size_t)(e - (p + 3 < e ? p + 3 : e))) : NULL;
            target = q ? str_make(q, (size_t)(e - q)) : STR_LIT("/");
        } else {
            target = str_make(slash, (size_t)(e - slash));
        }
    }
    int rc = 0;
    rc |= buf_append(b, req->method.p, req->method.n);
    rc |= buf_putc(b, ' ');
    if (abs && target.n && target.p[0] == '?')
        rc |= buf_putc(b, '/');
    rc |= buf_append(b, target.p, target.n);
    rc |= buf_puts(b, " HTTP/1.1\r\n");
    const struct http_header *xff = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (str_ieq_c(h->name, "x-forwarded-for") && !xff)
            xff = h;
        if (proxy_str_ieq_any(h->name, req_drop, sizeof req_drop / sizeof req_drop[0]))
            continue;
        if (abs && str_ieq_c(h->name, "host"))
            continue;
        if (proxy_connection_lists(req->headers, req->nheaders, h->name))
            continue;
        rc |= buf_append(b, h->name.p, h->name.n);
        rc |= buf_puts(b, ": ");
        rc |= buf_append(b, h->value.p, h->value.n);
        rc |= buf_puts(b, "\r\n");
    }
    if (abs && req->authority.n) {
        rc |= buf_puts(b, "Host: ");
        rc |= buf_append(b, req->authority.p, req->authority.n);
        rc |= buf_puts(b, "\r\n");
    }
    bool peer_trusted = cfg->ntrusted && trusted(cfg, c->peer_ip);
    rc |= buf_puts(b, "X-Forwarded-For: ");
    if (xff && peer_trusted) {
        rc |= buf_append(b, xff->value.p, xff->value.n);
        rc |= buf_puts(b, ", ");
    }
    rc |= buf_puts(b, c->peer_ip);
    rc |= buf_puts(b, "\r\nX-Real-IP: ");
    rc |= buf_puts(b, c->client_ip);
    rc |= buf_puts(b, c->ssl ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n");
    return rc ? -1 : 0;
}

static void body_done(struct conn *c);

/* ---- the bot shield --------------------------------------------------------- */
/* True when this (address, action) already had an event in this second on
 * this worker; *left_out gets the count suppressed since the last event
 * (approximate: two keys sharing a slot reset each other's count). */
static bool shield_event_suppressed(struct conn *c, const char *action, unsigned *left_out)
{
    uint64_t k = 1469598103934665603ULL;
    const uint8_t *a = c->shield_addr.b;
    for (size_t i = 0; i < 16; i++)
        k = (k ^ a[i]) * 1099511628211ULL;
    for (const char *p = action; *p; p++)
        k = (k ^ (uint8_t)*p) * 1099511628211ULL;
    struct shield_seen *e = &c->w->seen[k % SHIELD_SEEN_SLOTS];
    uint64_t sec = c->w->now / 1000;
    *left_out = 0;
    if (e->key == k && e->second == sec) {
        e->suppressed++;
        return true;
    }
    if (e->key == k)
        *left_out = e->suppressed;
    e->key = k;
    e->second = sec;
    e->suppressed = 0;
    return false;
}

static void shield_event(struct conn *c, const char *action, int status, const char *reason)
{
    unsigned left_out;
    if (shield_event_suppressed(c, action, &left_out))
        return;
    char extra[96] = "";
    if (left_out)
        snprintf(extra, sizeof extra, ",\"mamori.suppressed\":%u", left_out);
    c->event_logged = true;
    proxy_log_event_ex(c, c->g, action, status, reason, extra[0] ? extra : NULL);
}

/* After a response: counts it for bad behaviour; a new ban is an event
 * of its own (with its own id). */
static void shield_note(struct conn *c)
{
    struct proxy_gen *g = c->g;
    if (!g || !g->shield || !g->cfg.bans || !c->status || c->shield_skip_note)
        return;
    unsigned ban = shield_note_response(proxy_shield_get(g->shield), &c->shield_addr, c->status,
                                        c->shield_blocked, 0);
    if (!ban)
        return;
    char reason[96], extra[64];
    snprintf(reason, sizeof reason, "bad behaviour: banned for %u s", ban);
    snprintf(extra, sizeof extra, ",\"mamori.ban_seconds\":%u", ban);
    proxy_new_uid(c);
    proxy_log_event_ex(c, g, "banned", c->status, reason, extra);
    char ip[64];
    fprintf(stderr, "mamori: banned %s for %u s (bad behaviour)\n",
            shield_addr_format(&c->shield_addr, ip, sizeof ip), ban);
}

/* The path of the target (origin-form: up to '?'; absolute-form: after
 * the authority). */
static struct str target_path(const struct http_request *req)
{
    if (req->form != HTTP_FORM_ABSOLUTE)
        return req->path;
    const char *p = req->path.p, *e = p + req->path.n;
    const char *sep = memchr(p, ':', req->path.n);
    if (!sep || e - sep < 3)
        return STR_LIT("/");
    const char *slash = memchr(sep + 3, '/', (size_t)(e - sep - 3));
    return slash ? str_make(slash, (size_t)(e - slash)) : STR_LIT("/");
}

static const char *shield_action_name(const struct shield_verdict *v)
{
    switch (v->action) {
    case SHIELD_DENY: return !strcmp(v->reason, "banned") ? "denied_banned" : "denied_list";
    case SHIELD_RATE_LIMITED: return "rate_limited";
    case SHIELD_CHALLENGE: return "challenged";
    case SHIELD_CHALLENGE_FAIL: return "challenge_failed";
    case SHIELD_CHALLENGE_SOLVED: return "challenge_solved";
    case SHIELD_PASS:
    case SHIELD_PASS_ALLOWLISTED: break;
    }
    return "shield";
}

/* Runs the shield on a parsed head. True when it answered the request. */
static bool shield_step(struct conn *c, const struct http_request *req)
{
    const struct proxy_config *cfg = &c->g->cfg;
    struct shield *s = proxy_shield_get(c->g->shield);
    struct shield_request r;
    memset(&r, 0, sizeof r);
    if (shield_addr_parse(c->client_ip, strlen(c->client_ip), &r.addr) < 0)
        return false; /* cannot happen: client_ip is a checked address */
    c->shield_on = true;
    c->shield_addr = r.addr;
    struct str path = target_path(req);
    r.method = req->method.p;
    r.method_len = req->method.n;
    r.path = path.p;
    r.path_len = path.n;
    r.query = req->query.p;
    r.query_len = req->query.n;
    const struct http_header *h = http_header_find(req->headers, req->nheaders, "accept");
    if (h) {
        r.accept = h->value.p;
        r.accept_len = h->value.n;
    }
    h = http_header_find(req->headers, req->nheaders, "cookie");
    if (h) {
        r.cookie = h->value.p;
        r.cookie_len = h->value.n;
    }
    for (size_t i = 0; i < cfg->nrate; i++)
        if (cfg->rate[i].key == PROXY_RATE_HEADER) {
            h = http_header_find(req->headers, req->nheaders, cfg->rate[i].arg);
            if (h) {
                r.key_header = h->value.p;
                r.key_header_len = h->value.n;
            }
            break; /* the shield takes one key header: the first rule's */
        }
    struct shield_verdict v;
    shield_check(s, &r, &v);
    if (v.action == SHIELD_PASS || v.action == SHIELD_PASS_ALLOWLISTED)
        return false;

    char body[16384];
    struct shield_response out;
    if (shield_render(s, &r, &v, body, sizeof body, &out) < 0) {
        /* cannot happen with 16 KB; refuse rather than let it through */
        c->shield_blocked = true;
        proxy_reject(c, v.status >= 400 ? v.status : 403, "shield page did not render");
        return true;
    }
    c->status = out.status;
    c->shield_blocked = v.action == SHIELD_DENY;
    /* Not counted for bans: a running ban (it would only extend itself)
     * and challenge answers (a browser whose cookie expired meets a burst
     * of 403s for its page's assets: that is not misbehaviour). */
    c->shield_skip_note = (v.action == SHIELD_DENY && !strcmp(v.reason, "banned")) ||
                          v.action == SHIELD_CHALLENGE || v.action == SHIELD_CHALLENGE_FAIL ||
                          v.action == SHIELD_CHALLENGE_SOLVED;
    char reason[160];
    if (v.tag && v.tag[0])
        snprintf(reason, sizeof reason, "%s (%s)", v.reason, v.tag);
    else if (v.retry_after)
        snprintf(reason, sizeof reason, "%s, retry after %u s", v.reason, v.retry_after);
    else
        snprintf(reason, sizeof reason, "%s", v.reason);
    shield_event(c, shield_action_name(&v), out.status, reason);
    proxy_log_access(c);

    /* A refusal of the client itself closes; the rest keeps the
     * connection when the request has no body to skip. */
    bool keep = c->req_keep_alive && !req->has_body && v.action != SHIELD_DENY &&
                !c->w->stopping;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s%s\r\n",
                     out.status, proxy_status_reason(out.status), out.content_type, out.body_len,
                     out.headers, keep ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof head) {
        proxy_reject(c, 403, "shield page head too large");
        return true;
    }
    proxy_out_append(c, head, (size_t)n);
    if (!c->is_head)
        proxy_out_append(c, out.body, out.body_len);
    c->close_after = !keep;
    if (keep) {
        size_t hl = req->head_len;
        memmove(c->in, c->in + hl, c->in_len - hl);
        c->in_len -= hl;
        c->head_scan = 0;
    }
    c->st = S_DONE;
    proxy_timer_set(c->w, &c->t, TL_SEND);
    return true;
}

static void start_request(struct conn *c, struct http_request *req)
{
    struct proxy_worker *w = c->w;
    c->g = w->gen;
    proxy_gen_ref(c->g);
    proxy_new_uid(c);
    copy_cstr(c->method, sizeof c->method, req->method);
    copy_cstr(c->target, sizeof c->target, req->target);
    c->is_head = str_eq(req->method, STR_LIT("HEAD"));
    c->req_keep_alive = req->keep_alive && req->version_minor == 1;
    c->req_minor = req->version_minor;
    client_ip_of(c, req);
    if (req->form == HTTP_FORM_AUTHORITY || str_eq(req->method, STR_LIT("CONNECT"))) {
        /* a reverse proxy is no tunnel */
        proxy_reject(c, 501, "CONNECT is not supported");
        return;
    }

    if (proxy_banstore_banned(c->client_ip)) {
        /* banned by the watchers (mamori watch / run --watch) */
        proxy_reject(c, 403, "address banned by mamori watch");
        return;
    }
    if (c->g->shield && shield_step(c, req))
        return;

    struct waf_tx_opts o = {
        .client_ip = c->client_ip,
        .client_port = c->peer_port,
        .server_ip = c->local_ip,
        .server_port = c->local_port,
        .unique_id = c->uid,
    };
    c->tx = waf_tx_new(c->g->prog, &o);
    if (!c->tx) {
        proxy_reject(c, 503, "out of memory for a transaction");
        return;
    }
    waf_tx_request_head(c->tx, req);
    if (proxy_blocked(c))
        return;
    const struct proxy_config *cfg = &c->g->cfg;
    c->req_chunked = req->chunked;
    c->req_had_cl = req->content_length >= 0;
    c->req_has_body = req->has_body;
    if (req->content_length > 0 && (uint64_t)req->content_length > cfg->max_body) {
        proxy_reject(c, 413, "request body larger than max-body");
        return;
    }
    if (build_uphead(c, req) < 0) {
        proxy_reject(c, 431, "request head too large to forward");
        return;
    }
    const struct http_header *exp = http_header_find(req->headers, req->nheaders, "expect");
    bool cont = exp && req->has_body && req->version_minor == 1 &&
                str_ieq_c(exp->value, "100-continue");
    /* the head is consumed; what follows belongs to the body or the next request */
    size_t hl = req->head_len;
    memmove(c->in, c->in + hl, c->in_len - hl);
    c->in_len -= hl;
    c->head_scan = 0;
    proxy_buf_restart(&c->body, cfg->max_body);
    if (!req->has_body) {
        body_done(c);
        return;
    }
    if (cont && c->in_len == 0)
        proxy_out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c->req_remaining = req->chunked ? 0 : (uint64_t)req->content_length;
    if (req->chunked)
        http_chunked_init(&c->ch, cfg->max_body);
    c->st = S_BODY;
    proxy_timer_set(w, &c->t, TL_BODY);
}

/* Moves body bytes from the input buffer into the body buffer. Returns 1
 * when the body is complete, 0 for more, -1 after a rejection. */
static int feed_body(struct conn *c)
{
    if (!c->req_chunked) {
        size_t n = c->in_len < c->req_remaining ? c->in_len : (size_t)c->req_remaining;
        if (n && buf_append(&c->body, c->in, n) < 0) {
            proxy_reject(c, 413, "request body larger than max-body");
            return -1;
        }
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
        c->req_remaining -= n;
        return c->req_remaining == 0;
    }
    size_t off = 0;
    for (;;) {
        char tmp[16384];
        size_t consumed = 0, produced = 0;
        struct http_error err = {0};
        int rc = http_chunked_decode(&c->ch, c->in + off, c->in_len - off, &consumed, tmp,
                                     sizeof tmp, &produced, &err);
        off += consumed;
        if (produced && buf_append(&c->body, tmp, produced) < 0) {
            proxy_reject(c, 413, "request body larger than max-body");
            return -1;
        }
        if (rc == HTTP_PARSE_ERROR) {
            proxy_reject(c, err.status ? err.status : 400, err.reason ? err.reason : "bad chunked body");
            return -1;
        }
        if (rc == HTTP_PARSE_OK) {
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
            return 1;
        }
        if (off >= c->in_len || (consumed == 0 && produced == 0))
            break;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return 0;
}

static void body_done(struct conn *c)
{
    waf_tx_request_body(c->tx, c->body.p ? c->body.p : "", c->body.len);
    if (proxy_blocked(c))
        return;
    int rc = 0;
    if (c->req_has_body || c->req_had_cl)
    {
        rc |= buf_puts(&c->uphead, "Content-Length: ");
        rc |= proxy_buf_put_u64(&c->uphead, c->body.len);
        rc |= buf_puts(&c->uphead, "\r\n");
    }
    rc |= buf_puts(&c->uphead, "\r\n");
    if (rc) {
        proxy_reject(c, 431, "request head too large to forward");
        return;
    }
    proxy_start_upstream(c);
}

static void process_input(struct conn *c)
{
    while (!c->closed) {
        if (c->st == S_HEAD) {
            if (c->in_len == 0)
                return;
            const struct proxy_config *cfg = &c->w->gen->cfg;
            if (!http_head_ready(c->in, c->in_len, cfg->max_head, &c->head_scan) &&
                c->in_len < cfg->max_head)
                return;
            struct http_limits lim = {cfg->max_request_line, cfg->max_head, cfg->max_headers};
            struct http_request req;
            struct http_error err = {0};
            int rc = http_parse_request_head(c->in, c->in_len, HTTP_STRICT, &lim, c->hdrs,
                                             c->max_hdrs, &req, &err);
            if (rc == HTTP_PARSE_AGAIN) {
                if (c->in_len >= cfg->max_head) {
                    proxy_reject(c, 431, "request head too large");
                }
                return;
            }
            if (rc == HTTP_PARSE_ERROR) {
                /* the target is useful in the event even when the head is bad */
                const char *sp = memchr(c->in, ' ', c->in_len < 64 ? c->in_len : 64);
                if (sp) {
                    copy_cstr(c->method, sizeof c->method,
                              str_make(c->in, (size_t)(sp - c->in)));
                    const char *e = sp + 1;
                    const char *end = c->in + c->in_len;
                    while (e < end && *e != ' ' && *e != '\r' && *e != '\n')
                        e++;
                    copy_cstr(c->target, sizeof c->target,
                              str_make(sp + 1, (size_t)(e - sp - 1)));
                }
                proxy_new_uid(c);
                proxy_reject(c, err.status ? err.status : 400, err.reason ? err.reason : "bad request");
                return;
            }
            start_request(c, &req);
            continue;
        }
        if (c->st == S_BODY) {
            int r = feed_body(c);
            if (r < 0)
                return;
            if (r == 0) {
                proxy_timer_set(c->w, &c->t, TL_BODY);
                return;
            }
            body_done(c);
            continue;
        }
        return;
    }
}

/* Grows the input buffer toward its cap; false when it is at the cap. */
static bool in_grow(struct conn *c, size_t cap_max)
{
    if (c->in_cap >= cap_max)
        return false;
    size_t nc = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
    if (nc > cap_max)
        nc = cap_max;
    char *p = realloc(c->in, nc);
    if (!p)
        return false;
    c->in = p;
    c->in_cap = nc;
    return true;
}

static void client_readable(struct conn *c)
{
    const struct proxy_config *cfg = &c->w->gen->cfg;
    size_t cap_max = cfg->max_head + IN_SLACK;
    for (int rounds = 0; rounds < 4 && !c->closed; rounds++) {
        bool reading = c->st == S_HEAD || c->st == S_BODY;
        if (c->in_len == c->in_cap && !in_grow(c, cap_max)) {
            if (c->st == S_HEAD) {
                proxy_reject(c, 431, "request head too large");
            } else if (!reading) {
                c->in_full = true; /* pipelined bytes wait for the next request */
                proxy_conn_update_events(c);
            } else if (c->in_cap == 0) {
                proxy_conn_close(c);
            }
            return; /* BODY: feed_body drains it */
        }
        bool was_empty = c->in_len == 0;
        ssize_t n = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == 0) {
            proxy_conn_close(c); /* the client went away (mid-request or idle) */
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->tls_want_write)
                    proxy_conn_update_events(c);
                return;
            }
            proxy_conn_close(c);
            return;
        }
        c->in_len += (size_t)n;
        if (!reading)
            continue; /* early bytes of the next request */
        if (c->st == S_HEAD && was_empty)
            proxy_timer_set(c->w, &c->t, TL_HEADER); /* from the first byte, never refreshed */
        process_input(c);
        if (!c->ssl || SSL_pending(c->ssl) == 0) {
            if ((size_t)n < 4096)
                break;
        }
    }
}

/* ---- client events ------------------------------------------------------------ */
/* ---- client events and timeouts -------------------------------------------- */
static void tls_handshake(struct conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->st = S_HEAD;
        c->tls_want_write = false;
        if (c->hs_gen) {
            proxy_gen_unref(c->hs_gen);
            c->hs_gen = NULL;
        }
        proxy_timer_set(c->w, &c->t, TL_HEADER);
        proxy_conn_update_events(c);
        client_readable(c); /* data may already sit in OpenSSL's buffer */
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        proxy_conn_update_events(c);
        return;
    }
    proxy_conn_close(c);
}

void proxy_conn_event(struct conn *c, uint32_t events)
{
    if (c->st == S_TLS_HS) {
        tls_handshake(c);
    } else {
        if (events & EPOLLOUT)
            proxy_flush_out(c);
        if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            client_readable(c);
    }
    if (!c->closed)
        proxy_flush_out(c);
}

