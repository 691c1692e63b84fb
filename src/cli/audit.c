/* mamori audit: host posture audit of the live host or of a directory that
 * looks like one (--root). See docs/audit.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: mamori audit [OPTIONS]\n"
          "\n"
          "  --root DIR         audit DIR as if it were / (a mounted image or a fixture);\n"
          "                     nothing inside it is ever executed\n"
          "  --now TIME         take TIME as now (2026-11-25, 2026-11-25T12:00:00Z or @EPOCH)\n"
          "  --feed FILE        Debian Security Tracker JSON export (offline advisories)\n"
          "  --facts FILE       JSON facts that are not files (disk usage, firewall state)\n"
          "  --format F         text (default), json or sarif\n"
          "  --fail-on SEV      exit 1 if a finding is at least SEV\n"
          "                     (critical, high, medium, low, info)\n"
          "  --state-dir DIR    remember this run in DIR/audit.db (SQLite)\n"
          "  --diff             list findings new or resolved since the previous run\n"
          "                     (needs --state-dir; default /var/lib/mamori on the live host)\n"
          "  --color, --no-color  force colour on or off (default: on a terminal)\n",
          f);
}

static int parse_time(const char *s, time_t *out)
{
    if (s[0] == '@') {
        char *end;
        long long v = strtoll(s + 1, &end, 10);
        if (*end || end == s + 1)
            return -1;
        *out = (time_t)v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest == 'T' || *rest == ' ') {
        rest = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!rest)
            return -1;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest)
        return -1;
    *out = timegm(&tm);
    return 0;
}

static int write_all(FILE *f, const struct buf *b)
{
    if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
        return -1;
    return fflush(f);
}

int cli_audit(int argc, char **argv)
{
    const char *root = "/", *now_s = NULL, *feed = NULL, *facts = NULL, *fmt_s = "text";
    const char *fail_on = NULL, *state_dir = NULL;
    bool diff = false;
    int color = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--root"))
            dst = &root;
        else if (!strcmp(a, "--now"))
            dst = &now_s;
        else if (!strcmp(a, "--feed"))
            dst = &feed;
        else if (!strcmp(a, "--facts"))
            dst = &facts;
        else if (!strcmp(a, "--format"))
            dst = &fmt_s;
        else if (!strcmp(a, "--fail-on"))
            dst = &fail_on;
        else if (!strcmp(a, "--state-dir"))
            dst = &state_dir;
        else if (!strcmp(a, "--diff")) {
            diff = true;
            continue;
        } else if (!strcmp(a, "--color")) {
            color = 1;
            continue;
        } else if (!strcmp(a, "--no-color")) {
            color = 0;
            continue;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mamori audit: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mamori audit: %s needs a value\n", a);
            return 2;
        }
        *dst = argv[++i];
    }
    enum audit_format fmt;
    if (!strcmp(fmt_s, "text"))
        fmt = AUDIT_FMT_TEXT;
    else if (!strcmp(fmt_s, "json"))
        fmt = AUDIT_FMT_JSON;
    else if (!strcmp(fmt_s, "sarif"))
        fmt = AUDIT_FMT_SARIF;
    else {
        fprintf(stderr, "mamori audit: --format must be text, json or sarif\n");
        return 2;
    }
    int fail_sev = 99;
    if (fail_on) {
        fail_sev = audit_sev_parse(fail_on);
        if (fail_sev < 0) {
            fprintf(stderr, "mamori audit: --fail-on must be critical, high, medium, low, info or none\n");
            return 2;
        }
    }
    struct audit_ctx c;
    int r = audit_ctx_init(&c, root);
    if (r < 0) {
        fprintf(stderr, "mamori audit: --root %s: %s\n", root, strerror(-r));
        audit_ctx_free(&c);
        return 2;
    }
    if (now_s && parse_time(now_s, &c.now) < 0) {
        fprintf(stderr, "mamori audit: --now %s: expected 2026-11-25, 2026-11-25T12:00:00Z or @EPOCH\n", now_s);
        audit_ctx_free(&c);
        return 2;
    }
    /* Test hook: exercise the portable resolver instead of openat2(2). */
    c.no_openat2 = getenv("MAMORI_AUDIT_NO_OPENAT2") != NULL;
    c.feed_path = feed;
    c.facts_path = facts;
    if (!state_dir && c.live && geteuid() == 0) {
        struct stat st;
        if (stat("/var/lib/mamori", &st) == 0 && S_ISDIR(st.st_mode))
            state_dir = "/var/lib/mamori";
    }
    if (diff && !state_dir) {
        fprintf(stderr, "mamori audit: --diff needs --state-dir DIR (where the previous run is kept)\n");
        audit_ctx_free(&c);
        return 2;
    }
    audit_run(&c);
    struct buf out;
    buf_init(&out, 64u << 20);
    char state_path[4200] = "";
    if (state_dir)
        snprintf(state_path, sizeof state_path, "%s/audit.db", state_dir);
    bool use_color = color == 1 || (color == -1 && fmt == AUDIT_FMT_TEXT && isatty(STDOUT_FILENO) &&
                                    !getenv("NO_COLOR"));
    if (diff)
        audit_state_diff(&c, state_path, fmt, &out);
    else
        audit_report(&c, fmt, use_color, &out);
    int rc = 0;
    if (write_all(stdout, &out) < 0) {
        fprintf(stderr, "mamori audit: writing the report: %s\n", strerror(errno));
        rc = 2;
    }
    buf_free(&out);
    if (state_path[0]) {
        int e = audit_state_save(&c, state_path);
        if (e < 0)
            fprintf(stderr, "mamori audit: saving %s: %s\n", state_path, strerror(-e));
    }
    if (!rc && c.nf && (int)audit_worst(&c) >= fail_sev)
        rc = 1;
    audit_ctx_free(&c);
    return rc;
}
