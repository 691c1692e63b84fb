/* mamori bench: the in-process engine benchmark. Reads a JSON-lines request
 * corpus (plain or .zst; format in docs/bench.md), runs every request through
 * all five phases with a small 200 response, exactly as the ModSecurity peer
 * harness does, and reports load time, throughput, latency percentiles, peak
 * RSS and how many attacks and benign requests were blocked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#include <zstd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "http/http.h"
#include "waf/waf.h"

#define BENCH_MAX_CORPUS (1u << 30)
#define BENCH_MAX_REQUESTS 1000000u

struct breq {
    char *raw;
    size_t len;
    bool attack;
    bool api;
    char cls[24];
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mamori bench [OPTIONS] CORPUS\n"
            "Runs a JSON-lines request corpus (plain or .zst) through the engine.\n"
            "\n"
            "  --json             one JSON object: load_ms, requests_per_sec, p50_us, p99_us,\n"
            "                     peak_rss_kb, blocked_attack, blocked_benign (and more)\n"
            "  --passes N         timed passes over the corpus (default 1)\n"
            "  --warmup N         untimed requests first (default 1000)\n"
            "  --limit N          use only the first N requests\n"
            "%s",
            cli_rules_usage());
}

static char *load_corpus(const char *path, size_t *len)
{
    size_t n;
    char *data = cli_read_all(path, BENCH_MAX_CORPUS, &n);
    if (!data)
        return NULL;
    size_t pl = strlen(path);
    if (pl > 4 && !strcmp(path + pl - 4, ".zst")) {
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        struct buf out;
        buf_init(&out, BENCH_MAX_CORPUS);
        ZSTD_inBuffer in = {data, n, 0};
        char tmp[1 << 17];
        size_t rc = 1;
        while (in.pos < in.size || rc != 0) {
            ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
            rc = ZSTD_decompressStream(dc, &ob, &in);
            if (ZSTD_isError(rc)) {
                fprintf(stderr, "mamori bench: %s: %s\n", path, ZSTD_getErrorName(rc));
                goto zfail;
            }
            if (buf_append(&out, tmp, ob.pos) < 0) {
                fprintf(stderr, "mamori bench: %s: larger than 1 GiB unpacked\n", path);
                goto zfail;
            }
            if (ob.pos == 0 && in.pos >= in.size)
                break;
        }
        ZSTD_freeDCtx(dc);
        free(data);
        *len = out.len;
        return out.p;
    zfail:
        ZSTD_freeDCtx(dc);
        buf_free(&out);
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

static const char *jstr(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* One corpus line to raw HTTP/1.1 bytes. */
static int build_request(yajl_val o, struct breq *r)
{
    const char *method = jstr(o, "method"), *uri = jstr(o, "uri"), *version = jstr(o, "version");
    const char *body = jstr(o, "body"), *label = jstr(o, "label"), *cls = jstr(o, "class");
    const char *hp[] = {"headers", NULL};
    yajl_val hs = yajl_tree_get(o, hp, yajl_t_array);
    if (!method || !uri)
        return -1;
    struct buf b;
    buf_init(&b, 16u << 20);
    buf_printf(&b, "%s %s %s\r\n", method, uri, version ? version : "HTTP/1.1");
    if (hs) {
        for (size_t i = 0; i < YAJL_GET_ARRAY(hs)->len; i++) {
            yajl_val h = YAJL_GET_ARRAY(hs)->values[i];
            if (!YAJL_IS_ARRAY(h) || YAJL_GET_ARRAY(h)->len != 2)
                continue;
            const char *hn = YAJL_GET_STRING(YAJL_GET_ARRAY(h)->values[0]);
            const char *hv = YAJL_GET_STRING(YAJL_GET_ARRAY(h)->values[1]);
            if (hn && hv)
                buf_printf(&b, "%s: %s\r\n", hn, hv);
        }
    }
    buf_puts(&b, "\r\n");
    if (body)
        buf_puts(&b, body);
    if (!b.p) {
        buf_free(&b);
        return -1;
    }
    r->raw = b.p;
    r->len = b.len;
    r->attack = label && !strcmp(label, "attack");
    r->api = !strncmp(uri, "/api/", 5) || !strncmp(uri, "/graphql", 8);
    snprintf(r->cls, sizeof r->cls, "%s", cls ? cls : "");
    return 0;
}

static const char RESP_HTML[] =
    "<!doctype html><html><head><title>ok</title></head><body><p>ok</p></body></html>\n";
static const char RESP_JSON[] = "{\"status\":\"ok\",\"items\":[],\"total\":0,\"next\":null}\n";

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One request through all phases; returns true when it was blocked. */
static bool run_one(const struct waf_program *p, const struct breq *r)
{
    struct waf_tx_opts o = {.client_ip = "192.0.2.10", .client_port = 50000, .server_port = 80,
                            .unique_id = "bench"};
    struct waf_tx *tx = waf_tx_new(p, &o);
    if (!tx)
        return false;
    char err[128];
    struct waf_intervention iv;
    bool blocked = false;
    if (waf_tx_process_raw_request(tx, r->raw, r->len, err, sizeof err) == 0 &&
        !waf_tx_intervention(tx, &iv)) {
        const char *ct = r->api ? "application/json" : "text/html; charset=utf-8";
        const char *body = r->api ? RESP_JSON : RESP_HTML;
        size_t blen = r->api ? sizeof RESP_JSON - 1 : sizeof RESP_HTML - 1;
        char clen[24];
        snprintf(clen, sizeof clen, "%zu", blen);
        struct http_header hh[] = {
            {STR_LIT("Server"), STR_LIT("nginx")},
            {STR_LIT("Date"), STR_LIT("Tue, 14 May 2024 08:12:31 GMT")},
            {STR_LIT("Content-Type"), str_c(ct)},
            {STR_LIT("Content-Length"), str_c(clen)},
            {STR_LIT("Connection"), STR_LIT("keep-alive")},
            {STR_LIT("Cache-Control"), STR_LIT("no-cache")},
            {STR_LIT("X-Content-Type-Options"), STR_LIT("nosniff")},
        };
        struct http_response res = {
            .line = STR_LIT("HTTP/1.1 200 OK"), .version = STR_LIT("HTTP/1.1"), .status = 200,
            .reason = STR_LIT("OK"), .headers = hh, .nheaders = sizeof hh / sizeof hh[0],
            .content_length = (int64_t)blen,
        };
        waf_tx_response_head(tx, &res);
        if (!waf_tx_intervention(tx, &iv))
            waf_tx_response_body(tx, body, blen);
    }
    blocked = waf_tx_intervention(tx, &iv);
    waf_tx_logging(tx);
    waf_tx_free(tx);
    return blocked;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cli_bench(int argc, char **argv)
{
    struct rules_opts ro = {0};
    bool json = false;
    long passes = 1, warmup = 1000, limit = 0;
    const char *corpus = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_rules_opt(&ro, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = true;
        } else if ((!strcmp(a, "--passes") || !strcmp(a, "--warmup") || !strcmp(a, "--limit")) &&
                   i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || (!strcmp(a, "--passes") && v < 1)) {
                fprintf(stderr, "mamori bench: bad value for %s\n", a);
                return 2;
            }
            if (!strcmp(a, "--passes"))
                passes = v;
            else if (!strcmp(a, "--warmup"))
                warmup = v;
            else
                limit = v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "mamori bench: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            corpus = a;
        }
    }
    if (!corpus) {
        usage(stderr);
        return 2;
    }
    size_t clen;
    char *data = load_corpus(corpus, &clen);
    if (!data)
        return 2;
    struct breq *reqs = NULL;
    size_t nreq = 0, cap = 0, bad = 0;
    for (char *line = data; line < data + clen;) {
        char *nl = memchr(line, '\n', (size_t)(data + clen - line));
        if (nl)
            *nl = '\0';
        if (*line) {
            char ebuf[256];
            yajl_val o = yajl_tree_parse(line, ebuf, sizeof ebuf);
            struct breq r;
            if (o && build_request(o, &r) == 0) {
                if (nreq == cap) {
                    cap = cap ? cap * 2 : 1024;
                    reqs = realloc(reqs, cap * sizeof(*reqs));
                }
                reqs[nreq++] = r;
            } else {
                bad++;
            }
            yajl_tree_free(o);
        }
        if (!nl || nreq >= BENCH_MAX_REQUESTS || (limit && nreq >= (size_t)limit))
            break;
        line = nl + 1;
    }
    free(data);
    if (nreq == 0) {
        fprintf(stderr, "mamori bench: %s: no requests\n", corpus);
        return 2;
    }
    if (bad)
        fprintf(stderr, "mamori bench: %zu corpus lines skipped (not a request object)\n", bad);
    double load_ms = 0;
    struct waf_program *p = cli_load_rules(&ro, &load_ms);
    if (!p)
        return 2;
    for (long i = 0; i < warmup; i++)
        run_one(p, &reqs[(size_t)i % nreq]);
    double *lat = malloc(nreq * (size_t)passes * sizeof(double));
    size_t nlat = 0, blocked_attack = 0, blocked_benign = 0, attacks = 0;
    double t0 = now_us();
    for (long pass = 0; pass < passes; pass++) {
        for (size_t i = 0; i < nreq; i++) {
            double s = now_us();
            bool b = run_one(p, &reqs[i]);
            lat[nlat++] = now_us() - s;
            if (pass == 0) {
                attacks += reqs[i].attack;
                if (b && reqs[i].attack)
                    blocked_attack++;
                else if (b)
                    blocked_benign++;
            }
        }
    }
    double total_us = now_us() - t0;
    qsort(lat, nlat, sizeof *lat, cmp_double);
    double p50 = lat[nlat / 2], p99 = lat[(size_t)((double)nlat * 0.99)];
    double rps = (double)nlat / (total_us / 1e6);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (json) {
        printf("{\"load_ms\":%.1f,\"requests_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
               "\"peak_rss_kb\":%ld,\"blocked_attack\":%zu,\"blocked_benign\":%zu,"
               "\"requests\":%zu,\"attacks\":%zu,\"benign\":%zu,\"passes\":%ld,\"rules\":%zu,"
               "\"paranoia\":%d}\n",
               load_ms, rps, p50, p99, ru.ru_maxrss, blocked_attack, blocked_benign, nreq, attacks,
               nreq - attacks, passes, waf_program_rule_count(p), ro.paranoia);
    } else {
        printf("rules:            %zu loaded in %.1f ms\n", waf_program_rule_count(p), load_ms);
        printf("requests:         %zu x %ld pass(es) (%zu attacks, %zu benign)\n", nreq, passes,
               attacks, nreq - attacks);
        printf("throughput:       %.0f requests/s\n", rps);
        printf("latency:          p50 %.1f us, p99 %.1f us\n", p50, p99);
        printf("peak RSS:         %ld KiB\n", ru.ru_maxrss);
        printf("blocked:          %zu/%zu attacks, %zu/%zu benign\n", blocked_attack, attacks,
               blocked_benign, nreq - attacks);
    }
    free(lat);
    for (size_t i = 0; i < nreq; i++)
        free(reqs[i].raw);
    free(reqs);
    waf_program_free(p);
    waf_thread_cleanup();
    return 0;
}
