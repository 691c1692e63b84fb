/* The upstream side: a keep-alive pool per worker, non-blocking connects,
 * sending the request, reading the response head (phase 3) and its body
 * (phase 4 when inspected, else streamed with back-pressure). */
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

#include "proxy/conn_int.h"
#include "waf/waf.h"

static void process_upstream(struct conn *c);
static void up_write(struct conn *c);

void proxy_up_free(struct upconn *u)
{
    free(u->in);
    free(u);
}

void proxy_up_close(struct upconn *u)
{
    if (u->closed)
        return;
    struct proxy_worker *w = u->w;
    u->closed = true;
    proxy_tnode_unlink(&u->t);
    if (!u->owner) {
        if (u->pprev)
            u->pprev->pnext = u->pnext;
        else if (w->pool == u)
            w->pool = u->pnext;
        if (u->pnext)
            u->pnext->pprev = u->pprev;
        w->npool--;
    } else {
        u->owner->up = NULL;
        u->owner = NULL;
    }
    epoll_ctl(w->ep, EPOLL_CTL_DEL, u->fd, NULL);
    close(u->fd);
    u->fd = -1;
    u->reap_next = w->reap_u;
    w->reap_u = u;
}

/* Gives an upstream connection back to the pool, or closes it. */
static void up_release(struct conn *c, bool reusable)
{
    struct upconn *u = c->up;
    if (!u)
        return;
    struct proxy_worker *w = c->w;
    if (!reusable || u->in_len || w->npool >= UP_POOL_MAX || w->stopping) {
        proxy_up_close(u);
        return;
    }
    c->up = NULL;
    u->owner = NULL;
    u->reused = true;
    u->pprev = NULL;
    u->pnext = w->pool;
    if (w->pool)
        w->pool->pprev = u;
    w->pool = u;
    w->npool++;
    proxy_set_events(w, u->fd, u, &u->ev, EPOLLIN);
    proxy_timer_set(w, &u->t, TL_UPIDLE);
}

/* ---- upstream side --------------------------------------------------------- */
static struct upconn *up_connect(struct conn *c, int *err)
{
    const struct proxy_addr *a = &c->g->cfg.upstream;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bool connecting = false;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return NULL;
        }
        connecting = true;
    }
    struct upconn *u = calloc(1, sizeof(*u));
    if (!u) {
        *err = ENOMEM;
        close(fd);
        return NULL;
    }
    u->kind = OBJ_UP;
    u->t.kind = OBJ_UP;
    u->t.list = TL_NONE;
    u->w = c->w;
    u->fd = fd;
    u->connecting = connecting;
    u->ev = EPOLLOUT;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = u};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        *err = errno;
        close(fd);
        free(u);
        return NULL;
    }
    return u;
}

void proxy_start_upstream(struct conn *c)
{
    struct proxy_worker *w = c->w;
    c->st = S_UPSTREAM;
    proxy_conn_update_events(c);
    struct upconn *u = NULL;
    if (!c->retried && w->pool) {
        u = w->pool;
        w->pool = u->pnext;
        if (w->pool)
            w->pool->pprev = NULL;
        w->npool--;
        u->pnext = u->pprev = NULL;
        proxy_tnode_unlink(&u->t);
    } else {
        int err = 0;
        u = up_connect(c, &err);
        if (!u) {
            char why[128];
            snprintf(why, sizeof why, "upstream %s: %s", c->g->cfg.upstream.text, strerror(err));
            proxy_upstream_error(c, 502, why);
            return;
        }
    }
    u->owner = c;
    u->got_bytes = false;
    c->up = u;
    c->up_sent = 0;
    proxy_timer_set(w, &c->t, u->connecting ? TL_UPCONNECT : TL_UPSTREAM);
    if (u->connecting) {
        proxy_set_events(w, u->fd, u, &u->ev, EPOLLOUT);
    } else if (!c->up_deferred) {
        /* written once the current batch of events is handled: the app
         * then receives the batch's requests back to back and is woken
         * once for them, not once each (a wake-up on another CPU costs
         * more than a small request's whole send) */
        c->up_deferred = true;
        c->defer_next = NULL;
        if (!w->defer_head)
            w->defer_tail = &w->defer_head;
        *w->defer_tail = c;
        w->defer_tail = &c->defer_next;
        if (++w->ndefer >= DEFER_MAX)
            proxy_flush_upstream(w);
    }
}

void proxy_flush_upstream(struct proxy_worker *w)
{
    /* a write that fails may retry, and so queue its connection again */
    while (w->defer_head) {
        struct conn *c = w->defer_head;
        w->defer_head = c->defer_next;
        w->ndefer--;
        c->up_deferred = false;
        if (!c->closed && c->st == S_UPSTREAM && c->up && !c->up->connecting)
            up_write(c);
    }
}

/* RFC 9110 9.2.2: a request that may be sent twice. */
static bool idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(m, ok[i]))
            return true;
    return false;
}

/* A reused keep-alive connection may have been closed by the upstream just
 * before we used it: retry once on a fresh one while nothing came back. Only
 * idempotent requests: the app may have acted on a POST before failing. */
static bool maybe_retry(struct conn *c)
{
    struct upconn *u = c->up;
    if (!u || !u->reused || u->got_bytes || c->retried || !idempotent(c->method))
        return false;
    proxy_up_close(u);
    c->retried = true;
    proxy_start_upstream(c);
    return true;
}

static void up_write(struct conn *c)
{
    struct upconn *u = c->up;
    size_t hl = c->uphead.len, bl = c->body.len;
    while (c->up_sent < hl + bl) {
        struct iovec iov[2];
        int n = 0;
        if (c->up_sent < hl) {
            iov[n].iov_base = c->uphead.p + c->up_sent;
            iov[n].iov_len = hl - c->up_sent;
            n++;
            if (bl) {
                iov[n].iov_base = c->body.p;
                iov[n].iov_len = bl;
                n++;
            }
        } else {
            iov[n].iov_base = c->body.p + (c->up_sent - hl);
            iov[n].iov_len = hl + bl - c->up_sent;
            n++;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t wn = sendmsg(u->fd, &mh, MSG_NOSIGNAL);
        if (wn > 0) {
            c->up_sent += (size_t)wn;
            continue;
        }
        if (wn < 0 && (errno == EAGAIN || errno == EINTR)) {
            proxy_set_events(c->w, u->fd, u, &u->ev, EPOLLOUT);
            return;
        }
        int e = errno;
        if (maybe_retry(c))
            return;
        char why[160];
        snprintf(why, sizeof why, "upstream %s: write: %s", c->g->cfg.upstream.text, strerror(e));
        proxy_upstream_error(c, 502, why);
        return;
    }
    proxy_set_events(c->w, u->fd, u, &u->ev, EPOLLIN);
    proxy_timer_set(c->w, &c->t, TL_UPSTREAM);
}

static const char *const resp_drop[] = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "te",         "trailer",    "upgrade",
};

/* Queues the response head with its framing; for inspected bodies the
 * length is known by now. */
static void emit_head(struct conn *c, uint64_t length)
{
    int rc = 0;
    rc |= buf_append(&c->out, c->reshead.p, c->reshead.len);
    switch (c->of) {
    case OF_CL:
        rc |= buf_puts(&c->out, "Content-Length: ");
        rc |= proxy_buf_put_u64(&c->out, length);
        rc |= buf_puts(&c->out, "\r\n");
        break;
    case OF_CHUNKED: rc |= buf_puts(&c->out, "Transfer-Encoding: chunked\r\n"); break;
    case OF_CLOSE: c->close_after = true; break;
    case OF_NONE: break;
    }
    if (c->close_after || !c->req_keep_alive || c->w->stopping)
        rc |= buf_puts(&c->out, "Connection: close\r\n");
    rc |= buf_puts(&c->out, "\r\n");
    if (rc)
        c->close_after = true;
    c->flushed_head = true;
    proxy_buf_release(&c->reshead);
}

static void emit_data(struct conn *c, const char *p, size_t n)
{
    if (!n || c->is_head)
        return;
    if (c->of == OF_CHUNKED) {
        char sz[24];
        int w = 0;
        while (w < 15 && (n >> (4 * (w + 1))))
            w++;
        size_t k = proxy_put_hex(sz, n, w + 1);
        sz[k++] = '\r';
        sz[k++] = '\n';
        proxy_out_append(c, sz, k);
        proxy_out_append(c, p, n);
        proxy_out_append(c, "\r\n", 2);
    } else {
        proxy_out_append(c, p, n);
    }
}

/* Runs phase 4 on what was buffered; false when it blocked. */
static bool inspect_now(struct conn *c)
{
    waf_tx_response_body(c->tx, c->resbody.p ? c->resbody.p : "", c->resbody.len);
    if (proxy_blocked(c))
        return false;
    return true;
}

/* Decoded response bytes: buffered for phase 4, or framed for the client. */
static bool body_bytes(struct conn *c, const char *p, size_t n)
{
    if (c->inspect && !c->flushed_head) {
        size_t room = c->inspect_limit - c->resbody.len;
        size_t take = n < room ? n : room;
        buf_append(&c->resbody, p, take);
        if (take == n)
            return true;
        /* past the limit: judge the first part, then stream the rest */
        if (!inspect_now(c))
            return false;
        if (c->of == OF_CL && c->rb != RB_CL)
            c->of = c->req_minor == 1 ? OF_CHUNKED : OF_CLOSE;
        emit_head(c, c->resp_cl);
        emit_data(c, c->resbody.p, c->resbody.len);
        proxy_buf_release(&c->resbody);
        emit_data(c, p + take, n - take);
        return true;
    }
    emit_data(c, p, n);
    return true;
}

static void response_done(struct conn *c, bool up_reusable)
{
    if (c->inspect && !c->flushed_head) {
        if (!inspect_now(c))
            return;
        c->of = c->is_head ? OF_NONE : OF_CL;
        emit_head(c, c->resbody.len);
        emit_data(c, c->resbody.p, c->resbody.len);
        proxy_buf_release(&c->resbody);
    } else if (!c->flushed_head) {
        emit_head(c, 0);
    }
    if (c->of == OF_CHUNKED && !c->is_head)
        proxy_out_append(c, "0\r\n\r\n", 5);
    proxy_finish_tx(c);
    up_release(c, up_reusable && c->up_keep_alive);
    c->st = S_DONE;
    proxy_timer_set(c->w, &c->t, TL_SEND);
}

static const char *const sec_headers[] = {"x-content-type-options", "referrer-policy",
                                           "strict-transport-security"};

static int on_response_head(struct conn *c, const struct http_response *res)
{
    const struct proxy_config *cfg = &c->g->cfg;
    c->status = res->status;
    waf_tx_response_head(c->tx, res);
    if (proxy_blocked(c))
        return -1;
    c->up_keep_alive = res->keep_alive;
    bool no_body = c->is_head || res->status == 204 || res->status == 304 ||
                   (res->status >= 100 && res->status < 200);
    if (no_body)
        c->rb = RB_NONE;
    else if (res->chunked)
        c->rb = RB_CHUNKED;
    else if (res->content_length >= 0)
        c->rb = RB_CL;
    else
        c->rb = RB_CLOSE;
    if (c->rb == RB_CLOSE)
        c->up_keep_alive = false;
    c->rb_remaining = c->rb == RB_CL ? (uint64_t)res->content_length : 0;
    c->resp_cl = c->rb_remaining;
    if (c->rb == RB_CHUNKED)
        http_chunked_init(&c->rch, SIZE_MAX);
    if (c->rb == RB_NONE)
        c->of = OF_NONE;
    else if (c->rb == RB_CL)
        c->of = OF_CL;
    else
        c->of = c->req_minor == 1 ? OF_CHUNKED : OF_CLOSE;

    size_t limit = 0;
    c->inspect = !no_body && proxy_tx_wants_response_body(c->tx, &limit) && limit > 0;
    c->inspect_limit = limit;
    if (c->inspect)
        proxy_buf_restart(&c->resbody, limit);

    struct buf *h = &c->reshead;
    proxy_buf_restart(h, cfg->max_response_head + 4096);
    int rc = buf_puts(h, "HTTP/1.1 ");
    rc |= proxy_buf_put_u64(h, (uint64_t)res->status);
    rc |= buf_putc(h, ' ');
    rc |= buf_append(h, res->reason.p, res->reason.n);
    rc |= buf_puts(h, "\r\n");
    bool have[3] = {false, false, false};
    for (size_t i = 0; i < res->nheaders; i++) {
        const struct http_header *hd = &res->headers[i];
        if (proxy_str_ieq_any(hd->name, resp_drop, sizeof resp_drop / sizeof resp_drop[0]))
            continue;
        if (str_ieq_c(hd->name, "content-length") && c->rb != RB_NONE)
            continue;
        if (proxy_connection_lists(res->headers, res->nheaders, hd->name))
            continue;
        bool strip = false;
        for (size_t k = 0; k < cfg->nstrip && !strip; k++)
            strip = str_ieq_c(hd->name, cfg->strip[k]);
        if (strip)
            continue;
        for (size_t k = 0; k < 3; k++)
            if (str_ieq_c(hd->name, sec_headers[k]))
                have[k] = true;
        rc |= buf_append(h, hd->name.p, hd->name.n);
        rc |= buf_puts(h, ": ");
        rc |= buf_append(h, hd->value.p, hd->value.n);
        rc |= buf_puts(h, "\r\n");
    }
    if (cfg->nosniff && !have[0])
        rc |= buf_puts(h, "X-Content-Type-Options: nosniff\r\n");
    if (cfg->referrer_policy && *cfg->referrer_policy && !have[1])
    {
        rc |= buf_puts(h, "Referrer-Policy: ");
        rc |= buf_puts(h, cfg->referrer_policy);
        rc |= buf_puts(h, "\r\n");
    }
    if (c->ssl && cfg->hsts && *cfg->hsts && !have[2])
        rc |= buf_printf(h, "Strict-Transport-Security: %s\r\n", cfg->hsts);
    if (rc) {
        proxy_upstream_error(c, 502, "upstream response head too large");
        return -1;
    }
    if (!c->inspect)
        emit_head(c, c->rb_remaining);
    return 0;
}

/* Consumes what the upstream sent. */
static void process_upstream(struct conn *c)
{
    struct upconn *u = c->up;
    while (u && !c->closed && c->up == u) {
        if (!c->resp_head_done) {
            const struct proxy_config *cfg = &c->g->cfg;
            struct http_header *hdrs = c->hdrs;
            struct http_limits lim = {cfg->max_response_head, cfg->max_response_head,
                                      c->max_hdrs};
            struct http_response res;
            struct http_error err = {0};
            int rc = http_parse_response_head(u->in, u->in_len, HTTP_LENIENT, &lim, hdrs,
                                              c->max_hdrs, &res, &err);
            if (rc == HTTP_PARSE_AGAIN) {
                if (u->in_len >= cfg->max_response_head)
                    proxy_upstream_error(c, 502, "upstream response head too large");
                return;
            }
            if (rc == HTTP_PARSE_ERROR) {
                proxy_upstream_error(c, 502, err.reason ? err.reason : "bad upstream response");
                return;
            }
            size_t hl = res.head_len;
            if (res.status >= 100 && res.status < 200) {
                if (res.status == 101) {
                    proxy_upstream_error(c, 502, "upstream switched protocols");
                    return;
                }
                memmove(u->in, u->in + hl, u->in_len - hl);
                u->in_len -= hl;
                continue;
            }
            if (on_response_head(c, &res) < 0)
                return;
            memmove(u->in, u->in + hl, u->in_len - hl);
            u->in_len -= hl;
            c->resp_head_done = true;
            c->st = S_RESP;
            if (c->rb == RB_NONE) {
                response_done(c, true);
                return;
            }
            continue;
        }
        /* body */
        if (c->rb == RB_CL) {
            size_t n = u->in_len < c->rb_remaining ? u->in_len : (size_t)c->rb_remaining;
            c->rb_remaining -= n;
            if (!body_bytes(c, u->in, n))
                return;
            memmove(u->in, u->in + n, u->in_len - n);
            u->in_len -= n;
            if (c->rb_remaining == 0) {
                response_done(c, true);
                return;
            }
        } else if (c->rb == RB_CHUNKED) {
            size_t off = 0;
            int rc = HTTP_PARSE_AGAIN;
            while (off < u->in_len) {
                char tmp[16384];
                size_t consumed = 0, produced = 0;
                struct http_error err = {0};
                rc = http_chunked_decode(&c->rch, u->in + off, u->in_len - off, &consumed, tmp,
                                         sizeof tmp, &produced, &err);
                off += consumed;
                if (produced && !body_bytes(c, tmp, produced))
                    return;
                if (rc == HTTP_PARSE_ERROR) {
                    proxy_upstream_error(c, 502, "bad chunked response from upstream");
                    return;
                }
                if (rc == HTTP_PARSE_OK || (consumed == 0 && produced == 0))
                    break;
            }
            memmove(u->in, u->in + off, u->in_len - off);
            u->in_len -= off;
            if (rc == HTTP_PARSE_OK) {
                response_done(c, u->in_len == 0);
                return;
            }
        } else {
            if (!body_bytes(c, u->in, u->in_len))
                return;
            u->in_len = 0;
        }
        break;
    }
    if (!c->closed && c->up && c->out.len - c->out_off > OUT_HIGH) {
        c->up_paused = true;
        proxy_set_events(c->w, c->up->fd, c->up, &c->up->ev, 0);
        proxy_timer_set(c->w, &c->t, TL_SEND);
    }
}

static void up_readable(struct conn *c)
{
    struct upconn *u = c->up;
    const struct proxy_config *cfg = &c->g->cfg;
    size_t cap_max = cfg->max_response_head + IN_SLACK;
    if (u->in_len == u->in_cap) {
        if (u->in_cap >= cap_max) {
            proxy_upstream_error(c, 502, "upstream response head too large");
            return;
        }
        size_t nc = u->in_cap ? u->in_cap * 2 : 16384;
        if (nc > cap_max)
            nc = cap_max;
        char *p = realloc(u->in, nc);
        if (!p) {
            proxy_upstream_error(c, 502, "out of memory");
            return;
        }
        u->in = p;
        u->in_cap = nc;
    }
    ssize_t n;
    do
        n = read(u->fd, u->in + u->in_len, u->in_cap - u->in_len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        int e = n < 0 ? errno : 0;
        if (maybe_retry(c))
            return;
        if (c->resp_head_done && c->rb == RB_CLOSE && n == 0) {
            process_upstream(c);
            if (!c->closed && c->up)
                response_done(c, false);
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "upstream %s: %s", cfg->upstream.text,
                 e ? strerror(e) : "closed the connection before the response ended");
        proxy_upstream_error(c, 502, why);
        return;
    }
    u->got_bytes = true;
    u->in_len += (size_t)n;
    if (c->st == S_UPSTREAM || c->st == S_RESP)
        proxy_timer_set(c->w, &c->t, TL_UPSTREAM);
    process_upstream(c);
}

void proxy_up_event(struct upconn *u, uint32_t events)
{
    struct conn *c = u->owner;
    if (!c) {
        proxy_up_close(u); /* an idle pooled connection: closed or sent junk */
        return;
    }
    if (u->connecting) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLOUT))) {
            char why[160];
            snprintf(why, sizeof why, "upstream %s: %s", c->g->cfg.upstream.text,
                     strerror(err ? err : ECONNREFUSED));
            proxy_upstream_error(c, 502, why);
            proxy_flush_out(c);
            return;
        }
        u->connecting = false;
        proxy_timer_set(c->w, &c->t, TL_UPSTREAM);
    }
    if (c->st == S_UPSTREAM && c->up_sent < c->uphead.len + c->body.len)
        up_write(c);
    else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        up_readable(c);
    if (!c->closed)
        proxy_flush_out(c);
}

