/* mamori eval: one raw HTTP request (optionally followed by the response)
 * through the rules, printing which rules matched and why. The JSON form
 * (--json) is a stable contract; see docs/eval.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "http/http.h"
#include "proxy/proxy.h"
#include "waf/waf.h"

#define EVAL_MAX_INPUT (64u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mamori eval [OPTIONS] [FILE]\n"
            "Reads one raw HTTP request from FILE (or stdin), optionally followed by the raw\n"
            "response, runs it through the rules and prints what matched.\n"
            "\n"
            "  --json             machine-readable output (docs/eval.md)\n"
            "  --config FILE      the rule set a mamori.conf names (as `mamori run` loads it)\n"
            "  --client-ip ADDR   REMOTE_ADDR for the request (default 127.0.0.1)\n"
            "%s"
            "\n"
            "exit status: 0 the request passes, 1 the rules block it, 2 error\n",
            cli_rules_usage());
}

/* Where the request ends and a response may begin. */
static size_t request_end(const char *raw, size_t n)
{
    struct http_header hdrs[256];
    struct http_request req;
    struct http_error err;
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_headers = 256;
    lim.max_head_bytes = n;
    lim.max_request_line = n;
    if (http_parse_request_head(raw, n, HTTP_LENIENT, &lim, hdrs, 256, &req, &err) != HTTP_PARSE_OK)
        return n;
    size_t end = req.head_len;
    if (req.chunked) {
        /* find the end of the chunked body by decoding it */
        struct http_chunked ch;
        http_chunked_init(&ch, n);
        char *tmp = malloc(n - end + 1);
        size_t consumed = 0, produced = 0;
        if (tmp && http_chunked_decode(&ch, raw + end, n - end, &consumed, tmp, n - end + 1,
                                       &produced, &err) == HTTP_PARSE_OK)
            end += consumed;
        else
            end = n;
        free(tmp);
    } else if (req.content_length > 0) {
        uint64_t cl = (uint64_t)req.content_length;
        end = cl > n - end ? n : end + (size_t)cl;
    }
    return end;
}

static long score(const struct waf_tx *tx, const char *v4, const char *v3)
{
    long s = waf_tx_get_tx_num(tx, v4);
    return s ? s : waf_tx_get_tx_num(tx, v3);
}

int cli_eval(int argc, char **argv)
{
    struct rules_opts ro = {0};
    bool json = false;
    const char *input = "-";
    const char *config = NULL;
    const char *client_ip = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        int r = cli_rules_opt(&ro, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--client-ip") && i + 1 < argc) {
            client_ip = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mamori eval: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            input = argv[i];
        }
    }
    size_t n;
    char *raw = cli_read_all(input, EVAL_MAX_INPUT, &n);
    if (!raw)
        return 2;
    double load_ms = 0;
    struct waf_program *p = NULL;
    if (config) {
        struct proxy_config cfg;
        char cerr[512];
        proxy_config_init(&cfg);
        if (proxy_config_load(&cfg, config) == 0) {
            if (ro.nrules || ro.crs_dir || ro.no_crs || ro.paranoia || ro.detection_only)
                fprintf(stderr, "mamori eval: rule-set options are ignored with --config\n");
            p = cli_rules_from_config(&cfg, cerr, sizeof cerr);
            if (!p)
                fprintf(stderr, "mamori eval: %s: %s\n", config, cerr);
        }
        proxy_config_free(&cfg);
    } else {
        p = cli_load_rules(&ro, &load_ms);
    }
    if (!p) {
        free(raw);
        return 2;
    }
    struct waf_tx_opts o = {.client_ip = client_ip, .client_port = 40000, .server_port = 80};
    struct waf_tx *tx = waf_tx_new(p, &o);
    if (!tx) {
        fprintf(stderr, "mamori eval: out of memory\n");
        waf_program_free(p);
        free(raw);
        return 2;
    }
    size_t req_end = request_end(raw, n);
    char err[256];
    int rc = 2;
    if (waf_tx_process_raw_request(tx, raw, req_end, err, sizeof err) < 0) {
        fprintf(stderr, "mamori eval: %s\n", err);
        goto out;
    }
    struct waf_intervention iv;
    if (req_end < n && !waf_tx_intervention(tx, &iv)) {
        const char *res = raw + req_end;
        size_t rn = n - req_end;
        struct http_header hdrs[256];
        struct http_response resp;
        struct http_error herr;
        struct http_limits lim;
        http_limits_default(&lim);
        lim.max_headers = 256;
        if (rn >= 5 && memcmp(res, "HTTP/", 5) == 0 &&
            http_parse_response_head(res, rn, HTTP_LENIENT, &lim, hdrs, 256, &resp, &herr) ==
                HTTP_PARSE_OK) {
            waf_tx_response_head(tx, &resp);
            size_t blen = rn - resp.head_len;
            if (resp.content_length >= 0 && (uint64_t)resp.content_length < blen)
                blen = (size_t)resp.content_length;
            waf_tx_response_body(tx, res + resp.head_len, blen);
        } else if (rn > 0 && !(rn <= 2 && (res[0] == '\r' || res[0] == '\n'))) {
            fprintf(stderr, "mamori eval: %zu bytes after the request are not an HTTP response; ignored\n", rn);
        }
    }
    waf_tx_logging(tx);
    bool blocked = waf_tx_intervention(tx, &iv);
    size_t nm;
    const struct waf_match *m = waf_tx_matches(tx, &nm);
    long in = score(tx, "blocking_inbound_anomaly_score", "anomaly_score");
    long out = score(tx, "blocking_outbound_anomaly_score", "outbound_anomaly_score");
    if (json) {
        struct buf b;
        buf_init(&b, 64u << 20);
        buf_puts(&b, "{\"matched\":[");
        for (size_t i = 0; i < nm; i++) {
            buf_printf(&b, "%s{\"id\":%d,\"msg\":\"", i ? "," : "", m[i].id);
            buf_json_str(&b, m[i].msg, strlen(m[i].msg));
            buf_puts(&b, "\",\"var\":\"");
            buf_json_str(&b, m[i].var, strlen(m[i].var));
            buf_puts(&b, "\",\"data\":\"");
            buf_json_str(&b, m[i].data, strlen(m[i].data));
            buf_printf(&b, "\",\"phase\":%d,\"severity\":%d}", m[i].phase, m[i].severity);
        }
        buf_puts(&b, "],\"disruptive\":");
        if (blocked)
            buf_printf(&b, "{\"action\":\"%s\",\"status\":%d,\"id\":%d}", iv.action, iv.status,
                       iv.rule_id);
        else
            buf_puts(&b, "null");
        buf_printf(&b, ",\"scores\":{\"inbound\":%ld,\"outbound\":%ld}}\n", in, out);
        fwrite(b.p, 1, b.len, stdout);
        buf_free(&b);
    } else {
        printf("rules: %zu loaded in %.0f ms\n", waf_program_rule_count(p), load_ms);
        printf("matched rules: %zu\n", nm);
        for (size_t i = 0; i < nm; i++) {
            printf("  %d  %s\n", m[i].id, m[i].msg[0] ? m[i].msg : "(no msg)");
            if (m[i].var[0])
                printf("        variable: %s\n", m[i].var);
            if (m[i].data[0])
                printf("        data:     %s\n", m[i].data);
        }
        printf("anomaly scores: inbound %ld, outbound %ld\n", in, out);
        if (blocked)
            printf("verdict: BLOCKED (%s, status %d, rule %d)\n", iv.action, iv.status, iv.rule_id);
        else
            printf("verdict: passed\n");
    }
    rc = blocked ? 1 : 0;
out:
    waf_tx_free(tx);
    waf_program_free(p);
    waf_thread_cleanup();
    free(raw);
    return rc;
}
