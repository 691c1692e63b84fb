/* mamori probe URL: outside-in check of a web site. See docs/audit.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: mamori probe [OPTIONS] URL\n"
          "\n"
          "  --format F        text (default), json or sarif\n"
          "  --fail-on SEV     exit 1 if a finding is at least SEV\n"
          "  --http-port N     plain-HTTP port checked for the redirect to HTTPS (default 80)\n"
          "  --ca FILE         also trust the CAs in FILE (private or test CA)\n"
          "  --timeout MS      per connect and per read (default 5000)\n"
          "  --delay MS        pause between requests (default 100)\n"
          "  --now @EPOCH      take this time as now for certificate expiry\n"
          "\n"
          "At most 24 requests, one connection at a time.\n",
          f);
}

int cli_probe(int argc, char **argv)
{
    struct audit_probe_opts o = {NULL, 80, NULL, 5000, 100};
    const char *fmt_s = "text", *fail_on = NULL, *now_s = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--format") && has) {
            fmt_s = argv[++i];
        } else if (!strcmp(a, "--fail-on") && has) {
            fail_on = argv[++i];
        } else if (!strcmp(a, "--http-port") && has) {
            o.http_port = atoi(argv[++i]);
        } else if (!strcmp(a, "--ca") && has) {
            o.ca_file = argv[++i];
        } else if (!strcmp(a, "--timeout") && has) {
            o.timeout_ms = atoi(argv[++i]);
        } else if (!strcmp(a, "--delay") && has) {
            o.delay_ms = atoi(argv[++i]);
        } else if (!strcmp(a, "--now") && has) {
            now_s = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "mamori probe: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        } else if (!o.url) {
            o.url = a;
        } else {
            fprintf(stderr, "mamori probe: one URL at a time\n");
            return 2;
        }
    }
    if (!o.url) {
        usage(stderr);
        return 2;
    }
    if (o.timeout_ms < 100 || o.timeout_ms > 60000 || o.delay_ms < 0 || o.delay_ms > 10000 ||
        o.http_port < 1 || o.http_port > 65535) {
        fprintf(stderr, "mamori probe: --timeout 100..60000, --delay 0..10000, --http-port 1..65535\n");
        return 2;
    }
    enum audit_format fmt = !strcmp(fmt_s, "json") ? AUDIT_FMT_JSON : !strcmp(fmt_s, "sarif") ? AUDIT_FMT_SARIF
                                                                                            : AUDIT_FMT_TEXT;
    if (fmt == AUDIT_FMT_TEXT && strcmp(fmt_s, "text")) {
        fprintf(stderr, "mamori probe: --format must be text, json or sarif\n");
        return 2;
    }
    int fail_sev = 99;
    if (fail_on && (fail_sev = audit_sev_parse(fail_on)) < 0) {
        fprintf(stderr, "mamori probe: bad --fail-on severity '%s'\n", fail_on);
        return 2;
    }
    struct audit_ctx c;
    if (audit_ctx_init(&c, "/") < 0) {
        fprintf(stderr, "mamori probe: cannot start: %s\n", strerror(errno));
        return 2;
    }
    if (now_s && now_s[0] == '@')
        c.now = (time_t)strtoll(now_s + 1, NULL, 10);
    snprintf(c.root, sizeof c.root, "%s", o.url);
    int r = audit_probe(&c, &o);
    if (r < 0) {
        fprintf(stderr, "mamori probe: %s: %s\n", o.url,
                r == -EINVAL ? "not an http:// or https:// URL" : "no HTTP answer (refused, timeout or TLS failure)");
        audit_ctx_free(&c);
        return 2;
    }
    struct buf out;
    buf_init(&out, 16u << 20);
    audit_report(&c, fmt, fmt == AUDIT_FMT_TEXT && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"), &out);
    if (out.len)
        fwrite(out.p, 1, out.len, stdout);
    buf_free(&out);
    int rc = c.nf && (int)audit_worst(&c) >= fail_sev ? 1 : 0;
    audit_ctx_free(&c);
    return rc;
}
