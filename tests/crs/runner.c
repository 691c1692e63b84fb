/* crs_runner: CRS v4's go-ftw regression suite, run in-process.
 *
 * Loads the WAF program exactly as CRS's CI configures its engine
 * (crs-test/modsecurity.conf, crs-test/crs-setup.conf, then crs/rules/ in order),
 * builds each test stage's request bytes as go-ftw does, runs phases 1-5 on
 * them with the test backend's answer emulated, and checks the stage's log
 * expectations against the ModSecurity-style lines of the logged matches.
 *
 * What CRS's CI reads from the web server's error log between two marker
 * requests is, here, exactly the lines of the transaction's matches. Tests
 * that only expect an HTTP status from a real server are counted as
 * status-only and skipped; the proxy suite checks those.
 *
 * Exit status: 0 when every test passed or is a known failure, 1 when some
 * test failed, 2 when the rules or the tests cannot be loaded. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "crs.h"
#include "http/http.h"
#include "waf/waf.h"

#define MAX_REQUEST_BYTES ((size_t)32 << 20)
#define MAX_LOG_BYTES ((size_t)16 << 20)
#define MAX_ONLY 64
#define VERBOSE_RAW_MAX 8192

struct opts {
    const char *shared;
    const char *client_ip;
    const char *known_path;
    struct {
        unsigned rule, test; /* test 0: every test of the rule */
    } only[MAX_ONLY];
    size_t nonly;
    bool verbose, dump, list_failures;
    struct crs_wire wire; /* wire.host set: through a running proxy */
};

struct known {
    unsigned rule, test;
    const char *reason;
};

struct known_list {
    struct known *v;
    size_t n;
    char *text; /* backing storage of the reasons */
};

/* What one stage logged: every match line, and the ids the engine said it
 * logged (to spot lines that do not carry their own id). */
struct stage_log {
    struct buf lines; /* '\n'-separated */
    int *ids;
    size_t nids, cap;
    bool oom;
};

struct file_totals {
    size_t passed, failed, known, skipped;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: crs_runner [--shared DIR] [--known FILE] [--only RULE[-TEST]]...\n"
            "                  [--verbose] [--dump] [--list-failures] [--client-ip IP]\n"
            "  --shared DIR      folder holding crs/ and crs-test/ (default $MAMORI_SHARED or ../shared)\n"
            "  --known FILE      known failures, one \"RULE-TEST  reason\" a line\n"
            "                    (default tests/crs/known-failures.txt when it exists)\n"
            "  --only X          run rule X (942100) or one test (942100-3); may repeat\n"
            "  --verbose         print request, matches and log of failing tests\n"
            "  --dump            print the raw requests only; do not load the engine\n"
            "  --list-failures   print failing tests in known-failures.txt format\n"
            "  --client-ip IP    REMOTE_ADDR of the test client (default 172.17.0.1, as in CRS's CI)\n");
}

static int parse_id(const char *s, unsigned *rule, unsigned *test)
{
    char *end;
    errno = 0;
    unsigned long r = strtoul(s, &end, 10);
    if (end == s || errno || r > UINT_MAX)
        return -1;
    *rule = (unsigned)r;
    *test = 0;
    if (*end == '-') {
        const char *t = end + 1;
        unsigned long v = strtoul(t, &end, 10);
        if (end == t || errno || v > UINT_MAX || v == 0)
            return -1;
        *test = (unsigned)v;
    }
    return *end == '\0' ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    /* CRS's CI reaches its WAF container through a port mapping, so the
     * WAF sees a bridge address, never loopback. With 127.0.0.1, CRS's
     * 905100 exception (Apache's "GET /" dummy connections from localhost)
     * would switch every rule off for requests such as 920430-5's. */
    o->client_ip = "172.17.0.1";
    o->shared = getenv("MAMORI_SHARED");
    if (!o->shared || !*o->shared)
        o->shared = "../shared";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            o->verbose = true;
        else if (strcmp(a, "--dump") == 0)
            o->dump = true;
        else if (strcmp(a, "--list-failures") == 0)
            o->list_failures = true;
        else if ((strcmp(a, "--shared") == 0 || strcmp(a, "--known") == 0 || strcmp(a, "--only") == 0 ||
                  strcmp(a, "--client-ip") == 0 || strcmp(a, "--wire") == 0 ||
                  strcmp(a, "--wire-log") == 0 || strcmp(a, "--wire-source") == 0) &&
                 i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(a, "--wire") == 0) {
                static char host[64];
                const char *colon = strrchr(v, ':');
                if (!colon || (size_t)(colon - v) >= sizeof host || atoi(colon + 1) <= 0) {
                    fprintf(stderr, "crs_runner: --wire wants HOST:PORT\n");
                    return -1;
                }
                memcpy(host, v, (size_t)(colon - v));
                host[colon - v] = '\0';
                o->wire.host = host;
                o->wire.port = atoi(colon + 1);
            } else if (strcmp(a, "--wire-log") == 0)
                o->wire.log_path = v;
            else if (strcmp(a, "--wire-source") == 0)
                o->wire.source_ip = v;
            else if (strcmp(a, "--shared") == 0)
                o->shared = v;
            else if (strcmp(a, "--client-ip") == 0)
                o->client_ip = v;
            else if (strcmp(a, "--known") == 0)
                o->known_path = v;
            else {
                /* a comma-separated list is accepted too */
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", v);
                for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                    if (o->nonly >= MAX_ONLY || parse_id(tok, &o->only[o->nonly].rule, &o->only[o->nonly].test) < 0) {
                        fprintf(stderr, "crs_runner: --only wants RULE or RULE-TEST, got \"%s\"\n", tok);
                        return -1;
                    }
                    o->nonly++;
                }
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "crs_runner: unknown argument \"%s\"\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->wire.host && !o->wire.log_path) {
        fprintf(stderr, "crs_runner: --wire needs --wire-log FILE (the proxy's event log)\n");
        return -1;
    }
    return 0;
}

static bool selected(const struct opts *o, const struct crs_test *t)
{
    if (o->nonly == 0)
        return true;
    for (size_t i = 0; i < o->nonly; i++)
        if (o->only[i].rule == t->rule_id && (o->only[i].test == 0 || o->only[i].test == t->test_id))
            return true;
    return false;
}

/* ---- known failures ------------------------------------------------------ */

static int known_load(struct known_list *k, const char *path, bool required)
{
    memset(k, 0, sizeof *k);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!required && errno == ENOENT)
            return 0;
        fprintf(stderr, "crs_runner: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct buf b;
    buf_init(&b, (size_t)4 << 20);
    char chunk[4096];
    size_t n;
    int rc = -1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n) < 0) {
            fprintf(stderr, "crs_runner: %s: too large\n", path);
            goto out;
        }
    if (!b.p) {
        rc = 0;
        goto out;
    }
    size_t lines = 1;
    for (size_t i = 0; i < b.len; i++)
        lines += b.p[i] == '\n';
    k->v = calloc(lines, sizeof *k->v);
    if (!k->v)
        goto out;
    k->text = b.p;
    buf_init(&b, 0); /* ownership moved to k->text */
    unsigned lineno = 0;
    for (char *line = k->text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\0' || *line == '\r')
            continue;
        char *sp = line + strcspn(line, " \t\r");
        char saved = *sp;
        *sp = '\0';
        struct known *e = &k->v[k->n];
        if (parse_id(line, &e->rule, &e->test) < 0 || e->test == 0) {
            fprintf(stderr, "crs_runner: %s:%u: expected \"RULE-TEST  reason\"\n", path, lineno);
            goto out;
        }
        char *reason = saved ? sp + 1 : sp;
        while (*reason == ' ' || *reason == '\t')
            reason++;
        reason[strcspn(reason, "\r")] = '\0';
        e->reason = reason;
        k->n++;
    }
    rc = 0;
out:
    buf_free(&b);
    fclose(f);
    return rc;
}

static const struct known *known_find(const struct known_list *k, unsigned rule, unsigned test)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].rule == rule && k->v[i].test == test)
            return &k->v[i];
    return NULL;
}

static void known_free(struct known_list *k)
{
    free(k->v);
    free(k->text);
    memset(k, 0, sizeof *k);
}

/* ---- the engine ---------------------------------------------------------- */

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct waf_program *load_program(const char *shared)
{
    char err[1024] = "";
    char path[PATH_MAX];
    struct waf_program *prog = NULL;
    glob_t g = {0};
    bool globbed = false;
    struct waf_builder *b = waf_builder_new();
    if (!b) {
        fprintf(stderr, "crs_runner: out of memory\n");
        return NULL;
    }
    static const char *const first[] = {"crs-test/modsecurity.conf", "crs-test/crs-setup.conf"};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", shared, first[i]);
        if (waf_builder_add_file(b, path, err, sizeof err) < 0)
            goto fail;
    }
    snprintf(path, sizeof path, "%s/crs/rules/*.conf", shared);
    int grc = glob(path, 0, NULL, &g);
    if (grc != 0) {
        snprintf(err, sizeof err, "%.900s: no rule files", path);
        goto fail;
    }
    globbed = true;
    /* Sorted bytewise, whatever the locale says, like the CRS Include. */
    qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), path_cmp);
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (waf_builder_add_file(b, g.gl_pathv[i], err, sizeof err) < 0)
            goto fail;
    prog = waf_builder_finish(b, err, sizeof err);
    b = NULL;
    if (!prog)
        goto fail;
    globfree(&g);
    return prog;
fail:
    fprintf(stderr, "%s\n", err[0] ? err : "crs_runner: cannot load the rules");
    if (b)
        waf_builder_free(b);
    if (globbed)
        globfree(&g);
    return NULL;
}

static void on_match(void *ud, const struct waf_match *m)
{
    struct stage_log *l = ud;
    const char *line = m->line ? m->line : "";
    if (buf_puts(&l->lines, line) < 0 || buf_putc(&l->lines, '\n') < 0)
        l->oom = true;
    if (l->nids == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        int *n = realloc(l->ids, cap * sizeof *n);
        if (!n) {
            l->oom = true;
            return;
        }
        l->ids = n;
        l->cap = cap;
    }
    l->ids[l->nids++] = m->id;
}

static void on_wire_rule(void *ud, int id, const char *line)
{
    struct waf_match m = {.id = id, .line = line};
    on_match(ud, &m);
}

/* ---- checking ------------------------------------------------------------ */

/* Rule ids in the log, found the way go-ftw finds them:
 * `[id "N"]` (quotes maybe backslash-escaped) or `"id": N` / `"id":"N"`. */
struct idset {
    unsigned *v;
    size_t n, cap;
};

static void idset_add(struct idset *s, unsigned id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        unsigned *n = realloc(s->v, cap * sizeof *n);
        if (!n)
            return;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = id;
}

static bool idset_has(const struct idset *s, unsigned id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return true;
    return false;
}

static const char *digits(const char *p, unsigned *out)
{
    unsigned long v = 0;
    const char *s = p;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > UINT_MAX)
            return NULL;
        p++;
    }
    if (p == s)
        return NULL;
    *out = (unsigned)v;
    return p;
}

static void ids_from_log(const char *log, struct idset *s)
{
    for (const char *p = log; (p = strstr(p, "id")) != NULL; p += 2) {
        unsigned id;
        const char *q;
        if (p > log && p[-1] == '[' && p[2] == ' ') { /* [id "N"] or [id \"N\"] */
            q = p + 3;
            if (*q == '\\')
                q++;
            if (*q != '"')
                continue;
            q = digits(q + 1, &id);
            if (!q)
                continue;
            if (*q == '\\')
                q++;
            if (q[0] == '"' && q[1] == ']')
                idset_add(s, id);
        } else if (p > log && p[-1] == '"' && p[2] == '"' && p[3] == ':') { /* "id": N */
            q = p + 4;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f' || *q == '\v')
                q++;
            if (*q == '"')
                q++;
            if (digits(q, &id))
                idset_add(s, id);
        }
    }
}

/* Does re match any single line of the log (go-ftw matches line by line)? */
static int regex_any_line(const char *re, const char *log, char *why, size_t whylen)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                     &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        snprintf(why, whylen, "bad regex /%s/ at %zu: %s", re, (size_t)erroff, (char *)msg);
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int found = 0;
    const char *p = log;
    while (md && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (pcre2_match(code, (PCRE2_SPTR)p, len, 0, 0, md, NULL) >= 0) {
            found = 1;
            break;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!md)
        found = -1;
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return found;
}

static bool wire_mode;

static bool stage_checkable(const struct crs_stage *st)
{
    return st->n_expect_ids || st->n_no_expect_ids || st->match_regex || st->no_match_regex ||
           (wire_mode && st->has_status);
}

/* Returns true when the stage passes; otherwise why says what failed. */
static bool check_stage(const struct crs_stage *st, const char *log, char *why, size_t whylen)
{
    struct idset ids = {0};
    bool ok = true;
    size_t w = 0;
    why[0] = '\0';
#define WHY(...)                                                                          \
    do {                                                                                  \
        if (w < whylen) {                                                                 \
            int k_ = snprintf(why + w, whylen - w, __VA_ARGS__);                          \
            w += k_ > 0 ? (size_t)k_ : 0;                                                 \
        }                                                                                 \
    } while (0)
    ids_from_log(log, &ids);
    if (st->match_regex && *st->match_regex) {
        char e[512];
        int r = regex_any_line(st->match_regex, log, e, sizeof e);
        if (r <= 0) {
            ok = false;
            if (r < 0)
                WHY("%s; ", e);
            else
                WHY("match_regex not found; ");
        }
    }
    for (size_t i = 0; i < st->n_expect_ids; i++)
        if (!idset_has(&ids, st->expect_ids[i])) {
            ok = false;
            WHY("missing %u; ", st->expect_ids[i]);
        }
    if (st->no_match_regex && *st->no_match_regex) {
        char e[512];
        int r = regex_any_line(st->no_match_regex, log, e, sizeof e);
        if (r != 0) {
            ok = false;
            if (r < 0)
                WHY("%s; ", e);
            else
                WHY("no_match_regex found; ");
        }
    }
    for (size_t i = 0; i < st->n_no_expect_ids; i++)
        if (idset_has(&ids, st->no_expect_ids[i])) {
            ok = false;
            WHY("unexpected %u; ", st->no_expect_ids[i]);
        }
    if (st->isolated && ids.n != 1) {
        ok = false;
        WHY("isolated test logged %zu rules; ", ids.n);
    }
#undef WHY
    if (w >= 2 && w < whylen)
        why[w - 2] = '\0';
    free(ids.v);
    return ok;
}

/* Prints bytes readably: CRLF as a line end, other control bytes as \xNN. */
static void print_raw(const char *p, size_t n, size_t max)
{
    size_t lim = n > max ? max : n;
    for (size_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r' && i + 1 < lim && p[i + 1] == '\n') {
            fputs("\\r\n", stdout);
            i++;
        } else if (c == '\n')
            fputs("\\n\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    if (n > lim)
        printf("\n... (%zu more bytes)", n - lim);
    putchar('\n');
}

struct run_ctx {
    const struct opts *o;
    const struct waf_program *prog;
    struct buf raw;
    struct stage_log log;
    struct crs_echo_response resp;
};

/* Runs one stage through the engine; the stage's log ends up in c->log.
 * engine_err gets the engine's reason when the bytes were refused. */
static int run_stage(struct run_ctx *c, const struct crs_stage *st, char *engine_err, size_t errlen)
{
    buf_clear(&c->log.lines);
    c->log.nids = 0;
    c->log.oom = false;
    engine_err[0] = '\0';
    c->resp.status = 0;
    c->resp.reason = "(not asked: the engine refused the request)";
    buf_clear(&c->resp.body);

    const char *server_ip = "127.0.0.1";
    if (st->dest_addr && strspn(st->dest_addr, "0123456789.") == strlen(st->dest_addr) && *st->dest_addr)
        server_ip = st->dest_addr;
    struct waf_tx_opts to = {
        .client_ip = c->o->client_ip,
        .client_port = 40000,
        .server_ip = server_ip,
        .server_port = st->port ? st->port : 80,
        .on_match = on_match,
        .ud = &c->log,
    };
    if (c->o->wire.host) {
        struct crs_wire *w = (struct crs_wire *)&c->o->wire;
        int status = 0;
        int rc = crs_wire_send(w, c->raw.p, c->raw.len, &status, on_wire_rule, &c->log, engine_err,
                               errlen);
        c->resp.status = status;
        c->resp.reason = "(from the proxy)";
        return rc;
    }
    /* A stage that expects the server itself to refuse the request (a 4xx
     * in DetectionOnly can only come from the server) is judged the way
     * mamori's proxy would handle it: its strict parser answers first and
     * the rules never see the request. */
    if (st->has_status && st->status >= 400 && st->status < 500) {
        struct http_header hdrs[128];
        struct http_request req;
        struct http_error herr = {0};
        struct http_limits lim;
        http_limits_default(&lim);
        int pr = http_parse_request_head(c->raw.p, c->raw.len, HTTP_STRICT, &lim, hdrs, 128, &req,
                                         &herr);
        if (pr == HTTP_PARSE_ERROR && herr.status == st->status) {
            c->resp.status = herr.status;
            c->resp.reason = herr.reason ? herr.reason : "rejected by the strict parser";
            return 0;
        }
    }
    struct waf_tx *tx = waf_tx_new(c->prog, &to);
    if (!tx) {
        snprintf(engine_err, errlen, "waf_tx_new failed");
        return -1;
    }
    if (waf_tx_process_raw_request(tx, c->raw.p, c->raw.len, engine_err, errlen) == 0) {
        if (crs_echo_respond(c->raw.p, c->raw.len, &c->resp) < 0) {
            snprintf(engine_err, errlen, "backend emulation ran out of memory");
            waf_tx_free(tx);
            return -1;
        }
        struct http_response res;
        crs_echo_to_http(&c->resp, &res);
        waf_tx_response_head(tx, &res);
        waf_tx_response_body(tx, c->resp.head ? "" : (c->resp.body.p ? c->resp.body.p : ""),
                             c->resp.head ? 0 : c->resp.body.len);
    }
    waf_tx_logging(tx);
    waf_tx_free(tx);
    return 0;
}

static void print_failure_detail(struct run_ctx *c, const struct crs_stage *st, const char *engine_err)
{
    printf("---- request (%zu bytes)\n", c->raw.len);
    print_raw(c->raw.p, c->raw.len, VERBOSE_RAW_MAX);
    if (engine_err[0])
        printf("---- engine refused the request: %s\n", engine_err);
    printf("---- backend: %d %s, %zu body bytes\n", c->resp.status, c->resp.reason ? c->resp.reason : "",
           c->resp.body.len);
    printf("---- matches:");
    for (size_t i = 0; i < c->log.nids; i++)
        printf(" %d", c->log.ids[i]);
    printf("\n---- log\n%s", c->log.lines.p ? c->log.lines.p : "");
    /* A line that lacks its own [id] would make go-ftw miss the rule. */
    struct idset ids = {0};
    ids_from_log(c->log.lines.p ? c->log.lines.p : "", &ids);
    for (size_t i = 0; i < c->log.nids; i++)
        if (c->log.ids[i] > 0 && !idset_has(&ids, (unsigned)c->log.ids[i]))
            printf("---- note: match of rule %d has no [id \"%d\"] in its log line\n", c->log.ids[i],
                   c->log.ids[i]);
    free(ids.v);
    if (st->match_regex)
        printf("---- match_regex: %s\n", st->match_regex);
    if (st->no_match_regex)
        printf("---- no_match_regex: %s\n", st->no_match_regex);
    printf("----\n");
}

static int dump_all(const struct opts *o, const struct crs_suite *s)
{
    struct buf raw;
    buf_init(&raw, MAX_REQUEST_BYTES);
    size_t n = 0, errors = 0;
    for (size_t i = 0; i < s->ntests; i++) {
        const struct crs_test *t = &s->tests[i];
        if (!selected(o, t))
            continue;
        for (size_t k = 0; k < t->nstages; k++) {
            char err[256];
            buf_clear(&raw);
            printf("==== %u-%u stage %zu (%s)\n", t->rule_id, t->test_id, k + 1, s->files[t->file].name);
            if (crs_request_build(&t->stages[k], &raw, err, sizeof err) < 0) {
                printf("!!!! %s\n", err);
                errors++;
                continue;
            }
            print_raw(raw.p ? raw.p : "", raw.len, o->verbose ? MAX_REQUEST_BYTES : VERBOSE_RAW_MAX);
            n++;
        }
    }
    buf_free(&raw);
    printf("crs: dumped %zu requests, %zu could not be built\n", n, errors);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct crs_suite suite;
    struct known_list known = {0};
    struct waf_program *prog = NULL;
    struct file_totals *ft = NULL;
    struct run_ctx c = {0};
    struct buf failures;
    char err[1024];
    int rc = 2;

    buf_init(&failures, (size_t)16 << 20);
    if (parse_args(argc, argv, &o) < 0)
        return 2;

    if (crs_selftest(stderr) < 0) {
        fprintf(stderr, "crs_runner: the harness disagrees with go-ftw; fix tests/crs first\n");
        return 2;
    }
    char tests_dir[PATH_MAX];
    snprintf(tests_dir, sizeof tests_dir, "%s/crs/tests/regression/tests", o.shared);
    if (crs_suite_load(&suite, tests_dir, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (o.dump) {
        rc = dump_all(&o, &suite);
        crs_suite_free(&suite);
        return rc;
    }
    if (known_load(&known, o.known_path ? o.known_path : "tests/crs/known-failures.txt", o.known_path != NULL) < 0)
        goto out;
    wire_mode = o.wire.host != NULL;
    if (wire_mode) {
        printf("crs: through the proxy at %s:%d (events from %s); %zu tests (%zu stages) in %zu files\n",
               o.wire.host, o.wire.port, o.wire.log_path, suite.ntests, suite.nstages, suite.nfiles);
    } else {
        prog = load_program(o.shared);
        if (!prog)
            goto out;
        printf("crs: %zu rules loaded; %zu tests (%zu stages) in %zu files\n",
               waf_program_rule_count(prog), suite.ntests, suite.nstages, suite.nfiles);
    }

    ft = calloc(suite.nfiles ? suite.nfiles : 1, sizeof *ft);
    if (!ft)
        goto out;
    c.o = &o;
    c.prog = prog;
    buf_init(&c.raw, MAX_REQUEST_BYTES);
    buf_init(&c.log.lines, MAX_LOG_BYTES);
    crs_echo_init(&c.resp);

    size_t passed = 0, failed = 0, known_failed = 0, status_only = 0, known_passing = 0;
    for (size_t i = 0; i < suite.ntests; i++) {
        const struct crs_test *t = &suite.tests[i];
        if (!selected(&o, t))
            continue;
        struct file_totals *f = &ft[t->file];
        bool any_checkable = false;
        for (size_t k = 0; k < t->nstages; k++)
            any_checkable = any_checkable || stage_checkable(&t->stages[k]);
        if (!any_checkable) {
            status_only++;
            f->skipped++;
            continue;
        }
        bool ok = true;
        char why[1024] = "";
        for (size_t k = 0; k < t->nstages && ok; k++) {
            const struct crs_stage *st = &t->stages[k];
            char eerr[256];
            buf_clear(&c.raw);
            if (crs_request_build(st, &c.raw, why, sizeof why) < 0) {
                ok = false;
                break;
            }
            if (run_stage(&c, st, eerr, sizeof eerr) < 0) {
                snprintf(why, sizeof why, "%s", eerr);
                ok = false;
                break;
            }
            if (c.log.oom) {
                snprintf(why, sizeof why, "log larger than %zu bytes", (size_t)MAX_LOG_BYTES);
                ok = false;
                break;
            }
            if (!stage_checkable(st))
                continue;
            bool stage_ok = check_stage(st, c.log.lines.p ? c.log.lines.p : "", why, sizeof why);
            if (wire_mode && st->has_status && c.resp.status != st->status) {
                size_t wl = strlen(why);
                snprintf(why + wl, sizeof why - wl, "%sstatus %d, expected %d", wl ? "; " : "",
                         c.resp.status, st->status);
                stage_ok = false;
            }
            if (!stage_ok) {
                ok = false;
                if (eerr[0]) {
                    size_t wl = strlen(why);
                    snprintf(why + wl, sizeof why - wl, " (engine refused the request: %.200s)", eerr);
                }
                if (t->nstages > 1) {
                    char tmp[sizeof why];
                    snprintf(tmp, sizeof tmp, "stage %zu: %.900s", k + 1, why);
                    memcpy(why, tmp, sizeof why);
                }
                const struct known *kn = known_find(&known, t->rule_id, t->test_id);
                if (o.verbose && !kn) {
                    printf("FAIL %u-%u (%s): %s\n", t->rule_id, t->test_id, suite.files[t->file].name, why);
                    if (t->desc)
                        printf("     %s\n", t->desc);
                    print_failure_detail(&c, st, eerr);
                }
            }
        }
        const struct known *kn = known_find(&known, t->rule_id, t->test_id);
        if (ok) {
            passed++;
            f->passed++;
            if (kn) {
                known_passing++;
                printf("note: %u-%u is listed in known-failures but passes now\n", t->rule_id, t->test_id);
            }
        } else if (kn) {
            known_failed++;
            f->known++;
        } else {
            failed++;
            f->failed++;
            if (!o.verbose && !o.list_failures)
                printf("FAIL %u-%u: %s\n", t->rule_id, t->test_id, why);
        }
        if (!ok && o.list_failures)
            buf_printf(&failures, "%u-%u  %s\n", t->rule_id, t->test_id, why);
    }

    if (!o.list_failures) {
        printf("\n%-60s %6s %6s %6s %6s\n", "file", "pass", "fail", "known", "skip");
        for (size_t i = 0; i < suite.nfiles; i++) {
            const struct file_totals *f = &ft[i];
            if (f->passed + f->failed + f->known + f->skipped == 0)
                continue;
            printf("%-60s %6zu %6zu %6zu %6zu\n", suite.files[i].name, f->passed, f->failed, f->known,
                   f->skipped);
        }
    } else {
        printf("# RULE-TEST  reason  (failing tests, known ones included)\n%s", failures.p ? failures.p : "");
    }
    printf("crs: %zu status-only tests skipped (they need a real server), %zu known failures skipped",
           status_only, known_failed);
    if (known_passing)
        printf(", %zu known failures pass now", known_passing);
    printf("\ncrs: %zu passed, %zu failed, %zu skipped\n", passed, failed, status_only + known_failed);
    rc = failed ? 1 : 0;
out:
    free(ft);
    buf_free(&c.raw);
    buf_free(&c.log.lines);
    free(c.log.ids);
    crs_echo_free(&c.resp);
    buf_free(&failures);
    if (prog)
        waf_program_free(prog);
    known_free(&known);
    crs_suite_free(&suite);
    return rc;
}
