/* mamori events: query the event store by address, rule, kind and time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "store/store.h"
#include "watch/watch.h"

static void usage(FILE *f)
{
    fputs("usage: mamori events [--config FILE] [--store DB] [--ip ADDR] [--rule R] [--kind K]\n"
          "                     [--since T] [--until T] [--limit N] [--json]\n"
          "T is Unix seconds, an ISO 8601 time, or a span ago (30m, 2h, 7d).\n",
          f);
}

/* Unix seconds, ISO 8601, or "NNs/m/h/d" ago. -1 on error. */
static int64_t parse_time(const char *s, int64_t now)
{
    size_t used;
    int64_t t = watch_parse_iso8601(s, strlen(s), &used);
    if (t >= 0 && used == strlen(s))
        return t;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (e == s || v < 0)
        return -1;
    if (!*e)
        return v;
    long mul = *e == 's' ? 1 : *e == 'm' ? 60 : *e == 'h' ? 3600 : *e == 'd' ? 86400 : 0;
    if (!mul || e[1])
        return -1;
    return now - v * mul;
}

struct ectx {
    bool json;
    long n;
    struct buf *b;
};

static void jfield(struct buf *b, const char *k, const char *v, bool first)
{
    buf_printf(b, "%s\"%s\":", first ? "" : ",", k);
    if (!v) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '"');
    buf_json_str(b, v, strlen(v));
    buf_putc(b, '"');
}

static int print_event(void *ud, const struct store_event *e)
{
    struct ectx *c = ud;
    char ts[32];
    cli_watch_iso(e->t, ts, sizeof ts);
    if (c->json) {
        buf_printf(c->b, "%s{\"id\":%lld,\"time\":\"%s\",", c->n ? ",\n" : "\n", (long long)e->id, ts);
        jfield(c->b, "kind", e->kind, true);
        jfield(c->b, "rule", e->rule, false);
        jfield(c->b, "ip", e->ip, false);
        jfield(c->b, "severity", e->severity, false);
        jfield(c->b, "message", e->message, false);
        buf_putc(c->b, '}');
    } else {
        printf("%s  %-6s %-28s %-40s %-6s ", ts, e->kind ? e->kind : "", e->rule ? e->rule : "",
               e->ip ? e->ip : "-", e->severity ? e->severity : "");
        for (const char *p = e->message ? e->message : ""; *p; p++)
            putchar((unsigned char)*p < 0x20 ? '?' : *p);
        putchar('\n');
    }
    c->n++;
    return 0;
}

int cli_events(int argc, char **argv)
{
    struct watch_conf c;
    struct store_filter f = {0};
    const char *conf_path = NULL, *store_path = NULL;
    bool json = false;
    int64_t now = (int64_t)time(NULL);
    int rc = 2;
    char ipbuf[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--config") && has)
            conf_path = argv[++i];
        else if (!strcmp(a, "--store") && has)
            store_path = argv[++i];
        else if (!strcmp(a, "--ip") && has) {
            struct watch_addr ad;
            const char *v = argv[++i];
            if (watch_addr_parse(v, strlen(v), &ad) < 0) {
                fprintf(stderr, "mamori events: --ip: '%s' is not an address\n", v);
                return 2;
            }
            f.ip = watch_addr_fmt(&ad, ipbuf, sizeof ipbuf);
        } else if (!strcmp(a, "--rule") && has)
            f.rule = argv[++i];
        else if (!strcmp(a, "--kind") && has)
            f.kind = argv[++i];
        else if ((!strcmp(a, "--since") || !strcmp(a, "--until")) && has) {
            int64_t t = parse_time(argv[++i], now);
            if (t < 0) {
                fprintf(stderr, "mamori events: %s: '%s' is not a time\n", a, argv[i]);
                return 2;
            }
            if (a[2] == 's')
                f.since = t;
            else
                f.until = t;
        } else if (!strcmp(a, "--limit") && has)
            f.limit = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mamori events: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (cli_watch_load_conf(&c, conf_path) < 0)
        return 2;
    if (store_path)
        c.store_path = store_path;
    if (!c.store_path) {
        fprintf(stderr, "mamori events: no event store ('store PATH' in the config, or --store)\n");
        goto out;
    }
    struct store *s = cli_watch_open_store(&c);
    if (!s)
        goto out;
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    struct ectx ec = {json, 0, &b};
    if (json)
        buf_puts(&b, "{\"events\":[");
    long n = store_events_query(s, &f, print_event, &ec);
    if (n < 0) {
        fprintf(stderr, "mamori events: cannot read the store\n");
        rc = 1;
    } else {
        if (json) {
            buf_printf(&b, "],\"count\":%ld}\n", ec.n);
            if (b.p)
                fwrite(b.p, 1, b.len, stdout);
        }
        rc = 0;
    }
    buf_free(&b);
    store_close(s);
out:
    watch_conf_free(&c);
    return rc;
}
