/* mamori exclude: proposes the narrowest exclusion for a blocked request —
 * from its event id in the proxy's event log, or from the raw request run
 * through the rules (as `mamori eval` does). Prints the line-form rules
 * (docs/shield.md) and the SecLang they compile to; nothing is changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "shield/shield.h"
#include "waf/waf.h"

#define EXCL_MAX_INPUT (64u << 20)
#define EXCL_OUT 65536

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mamori exclude --event ID [--event-log FILE]\n"
            "       mamori exclude [rule-set options] REQUEST_FILE\n"
            "Proposes the narrowest exclusion (rule + variable + exact path) for a request\n"
            "the rules blocked: by its event id (default log ./mamori-state/events.json),\n"
            "or by evaluating the raw request. Prints the exclusion in line form and as\n"
            "SecLang to load before CRS (allowlist FILE / --allowlist FILE).\n"
            "%s",
            cli_rules_usage());
}

/* {"matched":[{"id":N,"var":"..."}...]} from a list of (id, var). */
static void add_match(struct buf *b, long long id, const char *var, bool *first)
{
    buf_printf(b, "%s{\"id\":%lld,\"var\":\"", *first ? "" : ",", id);
    buf_json_str(b, var, strlen(var));
    buf_puts(b, "\"}");
    *first = false;
}

static int from_event(const char *id, const char *log, struct buf *json, char *path, size_t plen)
{
    FILE *f = fopen(log, "r");
    if (!f) {
        fprintf(stderr, "mamori exclude: %s: cannot read the event log\n", log);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int found = -1;
    while (found < 0 && getline(&line, &cap, f) > 0) {
        if (!strstr(line, id))
            continue;
        char e[128];
        yajl_val o = yajl_tree_parse(line, e, sizeof e);
        const char *ip[] = {"event.id", NULL}, *up[] = {"url.original", NULL},
                   *mp[] = {"mamori.matches", NULL};
        yajl_val eid = o ? yajl_tree_get(o, ip, yajl_t_string) : NULL;
        const char *es = eid ? YAJL_GET_STRING(eid) : NULL;
        if (es && !strcmp(es, id)) {
            yajl_val url = yajl_tree_get(o, up, yajl_t_string);
            yajl_val ms = yajl_tree_get(o, mp, yajl_t_array);
            const char *u = url ? YAJL_GET_STRING(url) : NULL;
            if (!u)
                u = "/";
            size_t ul = strcspn(u, "?");
            snprintf(path, plen, "%.*s", (int)ul, u);
            bool first = true;
            buf_puts(json, "{\"matched\":[");
            for (size_t i = 0; ms && i < YAJL_GET_ARRAY(ms)->len; i++) {
                yajl_val m = YAJL_GET_ARRAY(ms)->values[i];
                const char *idp[] = {"id", NULL}, *vp[] = {"var", NULL};
                yajl_val mid = yajl_tree_get(m, idp, yajl_t_number);
                yajl_val var = yajl_tree_get(m, vp, yajl_t_string);
                const char *vs = var ? YAJL_GET_STRING(var) : NULL;
                if (mid)
                    add_match(json, YAJL_GET_INTEGER(mid), vs ? vs : "", &first);
            }
            buf_puts(json, "]}");
            found = 0;
        }
        yajl_tree_free(o);
    }
    free(line);
    fclose(f);
    if (found < 0)
        fprintf(stderr, "mamori exclude: event %s is not in %s\n", id, log);
    return found;
}

static int from_request(const struct rules_opts *ro, const char *file, struct buf *json,
                        char *path, size_t plen)
{
    size_t n;
    char *raw = cli_read_all(file, EXCL_MAX_INPUT, &n);
    if (!raw)
        return -1;
    struct waf_program *p = cli_load_rules(ro, NULL);
    if (!p) {
        free(raw);
        return -1;
    }
    int rc = -1;
    struct waf_tx_opts o = {.client_ip = "127.0.0.1"};
    struct waf_tx *tx = waf_tx_new(p, &o);
    char err[256];
    if (!tx || waf_tx_process_raw_request(tx, raw, n, err, sizeof err) < 0) {
        fprintf(stderr, "mamori exclude: %s: %s\n", file, tx ? err : "out of memory");
        goto out;
    }
    /* the path as the request line has it */
    const char *sp = memchr(raw, ' ', n);
    const char *pe = sp ? sp + 1 : raw;
    size_t k = 0;
    while (pe + k < raw + n && pe[k] != ' ' && pe[k] != '?' && pe[k] != '\r' && pe[k] != '\n')
        k++;
    snprintf(path, plen, "%.*s", (int)k, pe);
    size_t nm;
    const struct waf_match *m = waf_tx_matches(tx, &nm);
    bool first = true;
    buf_puts(json, "{\"matched\":[");
    for (size_t i = 0; i < nm; i++)
        add_match(json, m[i].id, m[i].var, &first);
    buf_puts(json, "]}");
    rc = 0;
out:
    waf_tx_free(tx);
    waf_program_free(p);
    waf_thread_cleanup();
    free(raw);
    return rc;
}

int cli_exclude(int argc, char **argv)
{
    struct rules_opts ro = {0};
    const char *event = NULL, *log = "./mamori-state/events.json", *file = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_rules_opt(&ro, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (!strcmp(argv[i], "--event") && i + 1 < argc) {
            event = argv[++i];
        } else if (!strcmp(argv[i], "--event-log") && i + 1 < argc) {
            log = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mamori exclude: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!event == !file) {
        usage(stderr);
        return 2;
    }
    struct buf json;
    buf_init(&json, 16u << 20);
    char path[4096] = "/";
    int rc = event ? from_event(event, log, &json, path, sizeof path)
                   : from_request(&ro, file, &json, path, sizeof path);
    if (rc < 0) {
        buf_free(&json);
        return 2;
    }
    char *lines = malloc(EXCL_OUT), *rules = malloc(EXCL_OUT);
    char err[512];
    long nl = lines ? shield_propose_exclusion(json.p, json.len, path, strlen(path), lines,
                                               EXCL_OUT, err, sizeof err)
                    : -1;
    if (nl < 0) {
        fprintf(stderr, "mamori exclude: %s\n", lines ? err : "out of memory");
        rc = 2;
    } else if (nl == 0) {
        printf("# nothing to exclude: no detection rule matched this request\n");
        rc = 1;
    } else {
        printf("# exclusion (line form, for an allowlist file):\n%.*s", (int)nl, lines);
        long ns = rules ? shield_allowrule_compile(lines, (size_t)nl, "<proposal>", 1001000, rules,
                                                   EXCL_OUT, err, sizeof err)
                        : -1;
        if (ns > 0)
            printf("# the same as SecLang, to load before CRS:\n%.*s", (int)ns, rules);
        rc = 0;
    }
    free(lines);
    free(rules);
    buf_free(&json);
    return rc;
}
