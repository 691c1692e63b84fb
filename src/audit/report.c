/* Rendering findings: human text (grouped by severity, fix under each),
 * JSON (schema in docs/audit.md) and SARIF 2.1.0. The run history behind
 * --diff is in state.c. */
#include "audit/audit.h"

#include <stdlib.h>
#include <string.h>

static const char *const sev_color[] = {"\033[2m", "\033[36m", "\033[33m", "\033[31m", "\033[1;31m"};

static void jstr(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    buf_json_str(b, s, strlen(s));
    buf_putc(b, '"');
}

static void iso_time(time_t t, char *out, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void counts(const struct audit_ctx *c, size_t cnt[5])
{
    memset(cnt, 0, 5 * sizeof *cnt);
    for (size_t i = 0; i < c->nf; i++)
        cnt[c->f[i].sev]++;
}

static void report_text(struct audit_ctx *c, bool color, struct buf *b)
{
    size_t cnt[5];
    counts(c, cnt);
    const char *reset = color ? "\033[0m" : "";
    for (int s = AUDIT_CRITICAL; s >= AUDIT_INFO; s--) {
        if (!cnt[s])
            continue;
        char up[16];
        const char *nm = audit_sev_name((enum audit_sev)s);
        size_t k = 0;
        for (; nm[k] && k < sizeof up - 1; k++)
            up[k] = (char)(nm[k] - 32);
        up[k] = '\0';
        buf_printf(b, "%s%s (%zu)%s\n", color ? sev_color[s] : "", up, cnt[s], reset);
        for (size_t i = 0; i < c->nf; i++) {
            const struct audit_finding *f = &c->f[i];
            if ((int)f->sev != s)
                continue;
            buf_printf(b, "  %s[%s]%s %s\n      %s\n      fix: %s\n", color ? sev_color[s] : "", f->id, reset,
                       f->title, f->evidence, f->fix);
        }
        buf_putc(b, '\n');
    }
    buf_printf(b, "%zu findings: %zu critical, %zu high, %zu medium, %zu low, %zu info\n", c->nf,
               cnt[4], cnt[3], cnt[2], cnt[1], cnt[0]);
}

static void report_json(struct audit_ctx *c, struct buf *b)
{
    size_t cnt[5];
    counts(c, cnt);
    char now[32];
    iso_time(c->now, now, sizeof now);
    buf_puts(b, "{\"version\":1,\"root\":");
    jstr(b, c->root);
    buf_puts(b, ",\"now\":");
    jstr(b, now);
    buf_puts(b, ",\"findings\":[");
    for (size_t i = 0; i < c->nf; i++) {
        const struct audit_finding *f = &c->f[i];
        buf_puts(b, i ? ",\n" : "\n");
        buf_puts(b, "{\"id\":");
        jstr(b, f->id);
        buf_puts(b, ",\"title\":");
        jstr(b, f->title);
        buf_puts(b, ",\"severity\":");
        jstr(b, audit_sev_name(f->sev));
        buf_puts(b, ",\"evidence\":");
        jstr(b, f->evidence);
        buf_puts(b, ",\"fix\":");
        jstr(b, f->fix);
        buf_putc(b, '}');
    }
    buf_printf(b,
               "\n],\"summary\":{\"total\":%zu,\"critical\":%zu,\"high\":%zu,\"medium\":%zu,\"low\":%zu,"
               "\"info\":%zu,\"worst\":\"%s\"}}\n",
               c->nf, cnt[4], cnt[3], cnt[2], cnt[1], cnt[0], c->nf ? audit_sev_name(audit_worst(c)) : "none");
}

/* "path:line: ..." evidence becomes a SARIF location. */
static bool evidence_location(const char *ev, char *file, size_t fsz, unsigned long *line)
{
    if (ev[0] != '/')
        return false;
    const char *colon = strchr(ev, ':');
    const char *sp = strchr(ev, ' ');
    if (!colon || (sp && sp < colon))
        return false;
    size_t n = (size_t)(colon - ev);
    if (n >= fsz)
        return false;
    memcpy(file, ev, n);
    file[n] = '\0';
    char *end;
    *line = strtoul(colon + 1, &end, 10);
    if (end == colon + 1)
        *line = 0;
    return true;
}

static void report_sarif(struct audit_ctx *c, struct buf *b)
{
    static const char *const level[] = {"note", "note", "warning", "error", "error"};
    static const char *const score[] = {"0.0", "3.0", "5.5", "8.0", "9.5"};
    buf_puts(b, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
                "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"mamori-audit\",\"rules\":[");
    /* One rule per distinct id, in first-seen order. */
    size_t nrules = 0;
    for (size_t i = 0; i < c->nf; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(c->f[j].id, c->f[i].id);
        if (seen)
            continue;
        const struct audit_finding *f = &c->f[i];
        buf_puts(b, nrules++ ? ",\n" : "\n");
        buf_puts(b, "{\"id\":");
        jstr(b, f->id);
        buf_puts(b, ",\"shortDescription\":{\"text\":");
        jstr(b, f->title);
        buf_puts(b, "},\"help\":{\"text\":");
        jstr(b, f->fix);
        buf_printf(b, "},\"defaultConfiguration\":{\"level\":\"%s\"},\"properties\":{\"security-severity\":\"%s\"}}",
                   level[f->sev], score[f->sev]);
    }
    buf_puts(b, "]}},\"results\":[");
    for (size_t i = 0; i < c->nf; i++) {
        const struct audit_finding *f = &c->f[i];
        buf_puts(b, i ? ",\n" : "\n");
        buf_puts(b, "{\"ruleId\":");
        jstr(b, f->id);
        buf_printf(b, ",\"level\":\"%s\",\"message\":{\"text\":", level[f->sev]);
        struct buf m;
        buf_init(&m, 4096);
        buf_printf(&m, "%s: %s", f->title, f->evidence);
        jstr(b, m.p ? m.p : "");
        buf_free(&m);
        buf_puts(b, "}");
        char file[1024];
        unsigned long line;
        if (evidence_location(f->evidence, file, sizeof file, &line)) {
            buf_puts(b, ",\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
            jstr(b, file + 1); /* relative to the audit root */
            buf_puts(b, ",\"uriBaseId\":\"ROOT\"}");
            if (line)
                buf_printf(b, ",\"region\":{\"startLine\":%lu}", line);
            buf_puts(b, "}}]");
        }
        buf_printf(b, ",\"properties\":{\"severity\":\"%s\"}}", audit_sev_name(f->sev));
    }
    buf_puts(b, "\n]}]}\n");
}

int audit_report(struct audit_ctx *c, enum audit_format fmt, bool color, struct buf *out)
{
    if (fmt == AUDIT_FMT_JSON)
        report_json(c, out);
    else if (fmt == AUDIT_FMT_SARIF)
        report_sarif(c, out);
    else
        report_text(c, color, out);
    return 0;
}
