/* One worker: an epoll loop (level-triggered) that owns its listeners,
 * client connections, upstream pool and timers; accepts, dispatches events,
 * expires timers, picks up new generations and drains on stop. */
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
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proxy/conn_int.h"
#include "waf/waf.h"

/* ---- small helpers ------------------------------------------------------- */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void proxy_tnode_unlink(struct tnode *t)
{
    if (t->list == TL_NONE)
        return;
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->list = TL_NONE;
}

void proxy_timer_set(struct proxy_worker *w, struct tnode *t, int list)
{
    proxy_tnode_unlink(t);
    if (list == TL_NONE)
        return;
    struct tnode *h = &w->heads[list];
    t->deadline = w->now + w->dur[list];
    t->list = list;
    t->prev = h->prev;
    t->next = h;
    h->prev->next = t;
    h->prev = t;
}

void proxy_set_events(struct proxy_worker *w, int fd, void *obj, uint32_t *cur, uint32_t want)
{
    if (*cur == want)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = obj};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, fd, &ev);
    *cur = want;
}

static void addr_text(const struct sockaddr_storage *ss, char *ip, size_t n, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, (socklen_t)n);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)n);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)n);
        *port = ntohs(a->sin_port);
    }
}

/* ---- timeouts ------------------------------------------------------------- */
static void on_timeout(struct proxy_worker *w, struct tnode *t)
{
    int list = t->list;
    proxy_tnode_unlink(t);
    if (t->kind == OBJ_UP) {
        struct upconn *u = (struct upconn *)((char *)t - offsetof(struct upconn, t));
        proxy_up_close(u);
        return;
    }
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, t));
    switch (list) {
    case TL_HEADER:
        if (c->st == S_HEAD && c->in_len) {
            proxy_new_uid(c);
            proxy_reject(c, 408, "request head not received in time (header-timeout)");
            proxy_flush_out(c);
        } else {
            proxy_conn_close(c);
        }
        break;
    case TL_BODY:
        proxy_reject(c, 408, "request body not received in time (body-timeout)");
        proxy_flush_out(c);
        break;
    case TL_UPCONNECT:
    case TL_UPSTREAM:
        proxy_upstream_error(c, 504, list == TL_UPCONNECT ? "upstream connect timeout"
                                                    : "upstream response timeout");
        if (!c->closed)
            proxy_flush_out(c);
        break;
    default:
        proxy_conn_close(c);
        break;
    }
}

static void run_timers(struct proxy_worker *w)
{
    for (int l = 0; l < TL__N; l++) {
        struct tnode *h = &w->heads[l];
        while (h->next != h && h->next->deadline <= w->now)
            on_timeout(w, h->next);
    }
}

static int next_timeout(struct proxy_worker *w)
{
    uint64_t best = w->now + 1000;
    for (int l = 0; l < TL__N; l++) {
        struct tnode *h = &w->heads[l];
        if (h->next != h && h->next->deadline < best)
            best = h->next->deadline;
    }
    return best <= w->now ? 0 : (int)(best - w->now);
}

/* ---- accept ---------------------------------------------------------------- */
static size_t worker_max_conns(const struct proxy_worker *w)
{
    size_t nw = w->sh->nworkers > 0 ? (size_t)w->sh->nworkers : 1;
    size_t m = (w->gen->cfg.max_connections + nw - 1) / nw;
    return m ? m : 1;
}

/* At the connection cap the listeners leave epoll: new clients wait in the
 * kernel's backlog (and past it are refused) instead of costing memory. */
static void pause_accept(struct proxy_worker *w, bool pause)
{
    if (w->accept_paused == pause || w->stopping)
        return;
    for (size_t i = 0; i < w->nls; i++) {
        if (pause) {
            epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ls[i].fd, NULL);
        } else {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->ls[i]};
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->ls[i].fd, &ev);
        }
    }
    w->accept_paused = pause;
    if (pause)
        fprintf(stderr, "mamori: worker %d: %zu connections (max-connections): not accepting "
                        "until some close\n", w->id, w->nconns);
}

static void on_accept(struct proxy_worker *w, struct listener *l)
{
    size_t max = worker_max_conns(w);
    for (int k = 0; k < 64; k++) {
        if (w->nconns >= max) {
            pause_accept(w, true);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = calloc(1, sizeof(*c));
        size_t mh = w->gen->cfg.max_headers;
        struct http_header *hdrs = calloc(mh, sizeof(*hdrs));
        if (!c || !hdrs) {
            free(c);
            free(hdrs);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->kind = OBJ_CONN;
        c->t.kind = OBJ_CONN;
        c->t.list = TL_NONE;
        c->w = w;
        c->fd = fd;
        c->hdrs = hdrs;
        c->max_hdrs = mh;
        buf_init(&c->out, 64u << 20);
        addr_text(&ss, c->peer_ip, sizeof c->peer_ip, &c->peer_port);
        struct sockaddr_storage ls;
        socklen_t ll = sizeof ls;
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
            addr_text(&ls, c->local_ip, sizeof c->local_ip, &c->local_port);
        c->st = S_HEAD;
        if (l->tls) {
            if (!w->gen->tls || !(c->ssl = proxy_tls_accept(w->gen->tls, fd))) {
                close(fd);
                free(hdrs);
                free(c);
                continue;
            }
            c->hs_gen = w->gen;
            proxy_gen_ref(c->hs_gen);
            c->st = S_TLS_HS;
        }
        c->ev = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            if (c->ssl)
                SSL_free(c->ssl);
            if (c->hs_gen)
                proxy_gen_unref(c->hs_gen);
            close(fd);
            free(hdrs);
            free(c);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        w->nconns++;
        atomic_fetch_add(&w->sh->conns_total, 1);
        proxy_timer_set(w, &c->t, TL_HEADER);
    }
}

/* ---- the loop ---------------------------------------------------------------- */
static void refresh_gen(struct proxy_worker *w)
{
    unsigned long seq = atomic_load(&w->sh->gen_seq);
    if (w->gen && seq == w->seq)
        return;
    struct proxy_gen *g = proxy_shared_acquire(w->sh);
    if (!g)
        return;
    if (w->gen)
        proxy_gen_unref(w->gen);
    w->gen = g;
    w->seq = seq;
    const struct proxy_config *cfg = &g->cfg;
    w->dur[TL_HEADER] = cfg->header_timeout;
    w->dur[TL_IDLE] = cfg->idle_timeout;
    w->dur[TL_BODY] = cfg->body_timeout;
    w->dur[TL_UPCONNECT] = cfg->upstream_connect_timeout;
    w->dur[TL_UPSTREAM] = cfg->upstream_timeout;
    w->dur[TL_SEND] = cfg->send_timeout;
    w->dur[TL_UPIDLE] = UP_IDLE_MS;
    /* pooled connections may point at an old upstream address */
    while (w->pool)
        proxy_up_close(w->pool);
}

static void start_drain(struct proxy_worker *w)
{
    w->stopping = true;
    w->drain_deadline = w->now + w->gen->cfg.drain_timeout;
    for (size_t i = 0; i < w->nls; i++) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ls[i].fd, NULL);
        close(w->ls[i].fd);
        w->ls[i].fd = -1;
    }
    while (w->pool)
        proxy_up_close(w->pool);
    struct conn *c = w->conns;
    while (c) {
        struct conn *n = c->next;
        if ((c->st == S_HEAD && c->in_len == 0) || c->st == S_TLS_HS)
            proxy_conn_close(c);
        c = n;
    }
}

static void reap(struct proxy_worker *w)
{
    while (w->reap_c) {
        struct conn *c = w->reap_c;
        w->reap_c = c->reap_next;
        proxy_conn_free(c);
    }
    while (w->reap_u) {
        struct upconn *u = w->reap_u;
        w->reap_u = u->reap_next;
        proxy_up_free(u);
    }
}

void *proxy_worker_main(void *arg)
{
    struct proxy_worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    w->now = now_ms();
    refresh_gen(w);
    for (;;) {
        if (!w->stopping && atomic_load(&w->sh->stop))
            start_drain(w);
        if (w->stopping && (w->nconns == 0 || w->now >= w->drain_deadline))
            break;
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, next_timeout(w));
        w->now = now_ms();
        refresh_gen(w);
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (kind == OBJ_LISTENER) {
                if (!w->stopping)
                    on_accept(w, evs[i].data.ptr);
            } else if (kind == OBJ_CONN) {
                struct conn *c = evs[i].data.ptr;
                if (!c->closed)
                    proxy_conn_event(c, e);
            } else if (kind == OBJ_UP) {
                struct upconn *u = evs[i].data.ptr;
                if (!u->closed)
                    proxy_up_event(u, e);
            } else if (kind == OBJ_WAKE) {
                uint64_t v;
                if (read(w->wakefd, &v, sizeof v) < 0) {
                    /* nothing to do: the counter was already read */
                }
            }
        }
        run_timers(w);
        if (w->accept_paused && w->nconns < worker_max_conns(w))
            pause_accept(w, false);
        proxy_flush_upstream(w); /* before reap: the list may name closed conns */
        reap(w);
    }
    while (w->conns)
        proxy_conn_close(w->conns);
    while (w->pool)
        proxy_up_close(w->pool);
    reap(w);
    return NULL;
}

struct proxy_worker *proxy_worker_new(struct proxy_shared *sh, int id, const int *lfds,
                                      const bool *ltls, size_t nl)
{
    struct proxy_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->id = id;
    w->sh = sh;
    w->wake_kind = OBJ_WAKE;
    for (int l = 0; l < TL__N; l++) {
        w->heads[l].next = w->heads[l].prev = &w->heads[l];
        w->heads[l].list = l;
    }
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ep < 0 || w->wakefd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake_kind};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
        goto fail;
    for (size_t i = 0; i < nl; i++) {
        w->ls[i].kind = OBJ_LISTENER;
        w->ls[i].fd = lfds[i];
        w->ls[i].tls = ltls[i];
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &w->ls[i]};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, lfds[i], &lev) < 0)
            goto fail;
        w->nls++;
    }
    return w;
fail:
    if (w->ep >= 0)
        close(w->ep);
    if (w->wakefd >= 0)
        close(w->wakefd);
    free(w);
    return NULL;
}

void proxy_worker_wake(struct proxy_worker *w)
{
    uint64_t one = 1;
    if (write(w->wakefd, &one, sizeof one) < 0) {
        /* the counter is saturated: the worker is awake anyway */
    }
}

void proxy_worker_free(struct proxy_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i].fd >= 0)
            close(w->ls[i].fd);
    if (w->gen)
        proxy_gen_unref(w->gen);
    close(w->ep);
    close(w->wakefd);
    free(w);
}

