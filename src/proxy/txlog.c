/* Events and the access log: one JSON line per event (ECS-style names),
 * written by the worker before the response is finished. */
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

/* ---- events and the access log ------------------------------------------- */
static void log_access(struct conn *c, int status);
static void json_field_str(struct buf *b, const char *key, const char *v, size_t max)
{
    size_t n = strlen(v);
    buf_printf(b, ",\"%s\":\"", key);
    buf_json_str(b, v, n > max ? max : n);
    buf_putc(b, '"');
}

static void iso_time(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03ldZ", tmp, ts.tv_nsec / 1000000);
}

static long tx_score(const struct waf_tx *tx, const char *v4, const char *v3)
{
    long s = waf_tx_get_tx_num(tx, v4);
    return s ? s : waf_tx_get_tx_num(tx, v3);
}

/* One JSON line into the event log. action: blocked, detected, rejected or
 * upstream_error. reason may be NULL. */
void proxy_log_event(struct conn *c, struct proxy_gen *g, const char *action, int status,
                      const char *reason)
{
    if (!g || !g->events || c->event_logged)
        return;
    c->event_logged = true;
    proxy_log_event_ex(c, g, action, status, reason, NULL);
}

void proxy_log_event_ex(struct conn *c, struct proxy_gen *g, const char *action, int status,
                        const char *reason, const char *extra)
{
    if (!g || !g->events)
        return;
    struct buf b;
    buf_init(&b, EVENT_MAX);
    char ts[48];
    iso_time(ts, sizeof ts);
    buf_printf(&b, "{\"@timestamp\":\"%s\"", ts);
    json_field_str(&b, "event.id", c->uid, 64);
    buf_puts(&b, ",\"event.kind\":\"alert\",\"event.module\":\"mamori\"");
    json_field_str(&b, "event.action", action, 32);
    if (reason)
        json_field_str(&b, "event.reason", reason, 256);
    json_field_str(&b, "client.ip", c->client_ip[0] ? c->client_ip : c->peer_ip, 64);
    buf_printf(&b, ",\"client.port\":%d", c->peer_port);
    json_field_str(&b, "source.ip", c->peer_ip, 64);
    if (c->method[0])
        json_field_str(&b, "http.request.method", c->method, sizeof c->method);
    if (c->target[0])
        json_field_str(&b, "url.original", c->target, 2048);
    buf_printf(&b, ",\"http.response.status_code\":%d", status);
    if (c->tx) {
        size_t nm = 0;
        const struct waf_match *m = waf_tx_matches(c->tx, &nm);
        buf_puts(&b, ",\"rule.id\":[");
        for (size_t i = 0; i < nm && i < 64; i++)
            buf_printf(&b, "%s\"%d\"", i ? "," : "", m[i].id);
        buf_puts(&b, "],\"rule.message\":[");
        for (size_t i = 0; i < nm && i < 64; i++) {
            buf_puts(&b, i ? ",\"" : "\"");
            buf_json_str(&b, m[i].msg, strlen(m[i].msg) > 256 ? 256 : strlen(m[i].msg));
            buf_putc(&b, '"');
        }
        buf_puts(&b, "],\"mamori.matches\":[");
        for (size_t i = 0; i < nm && i < 64; i++) {
            buf_printf(&b, "%s{\"id\":%d,\"phase\":%d,\"severity\":%d", i ? "," : "", m[i].id,
                       m[i].phase, m[i].severity);
            json_field_str(&b, "msg", m[i].msg, 256);
            json_field_str(&b, "data", m[i].data, 512);
            json_field_str(&b, "var", m[i].var, 128);
            buf_printf(&b, ",\"disruptive\":%s}", m[i].disruptive ? "true" : "false");
        }
        buf_printf(&b, "],\"mamori.scores.inbound\":%ld,\"mamori.scores.outbound\":%ld",
                   tx_score(c->tx, "blocking_inbound_anomaly_score", "anomaly_score"),
                   tx_score(c->tx, "blocking_outbound_anomaly_score", "outbound_anomaly_score"));
    }
    if (extra)
        buf_puts(&b, extra);
    if (buf_puts(&b, "}\n") < 0) {
        /* too long: keep the line valid JSON with what fits */
        buf_free(&b);
        buf_init(&b, EVENT_MAX);
        buf_printf(&b, "{\"@timestamp\":\"%s\",\"event.id\":\"%s\",\"event.action\":\"%s\","
                       "\"http.response.status_code\":%d,\"event.reason\":\"event too large\"}\n",
                   ts, c->uid, action, status);
    }
    proxy_log_write(g->events, b.p, b.len);
    buf_free(&b);
}

void proxy_log_access(struct conn *c) { log_access(c, c->status); }

static void log_access(struct conn *c, int status)
{
    struct proxy_gen *g = c->g;
    if (!g || !g->access)
        return;
    struct buf b;
    buf_init(&b, 8192);
    char ts[48];
    iso_time(ts, sizeof ts);
    buf_printf(&b, "{\"@timestamp\":\"%s\"", ts);
    json_field_str(&b, "event.id", c->uid, 64);
    json_field_str(&b, "client.ip", c->client_ip, 64);
    json_field_str(&b, "http.request.method", c->method, sizeof c->method);
    json_field_str(&b, "url.original", c->target, 2048);
    buf_printf(&b, ",\"http.response.status_code\":%d}\n", status);
    if (b.p)
        proxy_log_write(g->access, b.p, b.len);
    buf_free(&b);
}

/* Phase 5 and the logs; the transaction stays until request_reset. */
void proxy_finish_tx(struct conn *c)
{
    if (!c->tx)
        return;
    waf_tx_logging(c->tx);
    size_t nm = 0;
    waf_tx_matches(c->tx, &nm);
    /* in blocking mode only blocks are events; below the threshold a
     * match is CRS bookkeeping, not news */
    if (nm && !c->event_logged && c->g->cfg.detection_only)
        proxy_log_event(c, c->g, "detected", c->status, NULL);
    log_access(c, c->status);
}

