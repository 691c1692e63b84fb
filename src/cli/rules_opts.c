/* Rule-set selection shared by the subcommands. The default is mamori's
 * engine base (rules/mamori-engine.conf) plus Debian's OWASP CRS package;
 * --crs DIR takes a CRS v4 tree instead, --rules FILE adds files (and with
 * --no-crs, replaces CRS). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "waf/waf.h"

#define DEBIAN_CRS_SETUP "/etc/modsecurity/crs/crs-setup.conf"
#define DEBIAN_CRS_RULES "/usr/share/modsecurity-crs/rules/*.conf"

const char *cli_rules_usage(void)
{
    return "rule set:\n"
           "  --rules FILE       load FILE (a glob is fine); repeatable\n"
           "  --no-crs           do not load CRS, only the engine base and --rules files\n"
           "  --crs DIR          load CRS v4 from DIR (DIR/crs-setup.conf[.example], DIR/rules/*.conf)\n"
           "                     default: Debian's modsecurity-crs package\n"
           "  --paranoia N       CRS paranoia level 1-4\n"
           "  --detection-only   log matches, never block\n";
}

int cli_rules_opt(struct rules_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--rules") || !strcmp(a, "--crs") || !strcmp(a, "--paranoia")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "mamori: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (!strcmp(a, "--rules")) {
            if (o->nrules >= sizeof o->rules / sizeof o->rules[0]) {
                fprintf(stderr, "mamori: too many --rules\n");
                return -1;
            }
            o->rules[o->nrules++] = v;
        } else if (!strcmp(a, "--crs")) {
            o->crs_dir = v;
        } else {
            char *end;
            long p = strtol(v, &end, 10);
            if (*end || p < 1 || p > 4) {
                fprintf(stderr, "mamori: --paranoia takes 1, 2, 3 or 4\n");
                return -1;
            }
            o->paranoia = (int)p;
        }
        return 1;
    }
    if (!strcmp(a, "--no-crs")) {
        o->no_crs = true;
        return 1;
    }
    if (!strcmp(a, "--detection-only")) {
        o->detection_only = true;
        return 1;
    }
    return 0;
}

/* Where mamori's own rule files are: $MAMORI_RULES_DIR, next to the source
 * tree the binary was built in, or the installed share folder. */
static int find_rules_dir(char *out, size_t n)
{
    const char *env = getenv("MAMORI_RULES_DIR");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *rel[] = {"/../../rules", "/../share/mamori/rules", "/rules"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s%s/mamori-engine.conf", exe, rel[i]);
            if (access(cand, R_OK) == 0) {
                snprintf(out, n, "%s%s", exe, rel[i]);
                return 0;
            }
        }
    }
    if (access("/usr/share/mamori/rules/mamori-engine.conf", R_OK) == 0) {
        snprintf(out, n, "/usr/share/mamori/rules");
        return 0;
    }
    return -1;
}

struct waf_program *cli_load_rules(const struct rules_opts *o, double *load_ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[1024];
    char dir[PATH_MAX];
    struct waf_builder *b = waf_builder_new();
    if (!b) {
        fprintf(stderr, "mamori: out of memory\n");
        return NULL;
    }
    if (find_rules_dir(dir, sizeof dir) < 0) {
        fprintf(stderr, "mamori: cannot find mamori-engine.conf (set MAMORI_RULES_DIR)\n");
        waf_builder_free(b);
        return NULL;
    }
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/mamori-engine.conf", dir);
    if (waf_builder_add_file(b, path, err, sizeof err) < 0)
        goto fail;
    if (o->detection_only &&
        waf_builder_add_string(b, "SecRuleEngine DetectionOnly\n", "<--detection-only>", err,
                               sizeof err) < 0)
        goto fail;
    /* exclusions are phase-1 ctl: rules and must precede what they exclude */
    if (o->pre_text && waf_builder_add_string(b, o->pre_text,
                                              o->pre_name ? o->pre_name : "<allowlist>", err,
                                              sizeof err) < 0)
        goto fail;
    if (!o->no_crs) {
        if (o->crs_dir) {
            snprintf(path, sizeof path, "%s/crs-setup.conf", o->crs_dir);
            if (access(path, R_OK) != 0)
                snprintf(path, sizeof path, "%s/crs-setup.conf.example", o->crs_dir);
            if (waf_builder_add_file(b, path, err, sizeof err) < 0)
                goto fail;
        } else {
            if (access(DEBIAN_CRS_SETUP, R_OK) != 0) {
                fprintf(stderr, "mamori: %s not found: install Debian's modsecurity-crs "
                                "(apt-get install modsecurity-crs) or pass --crs DIR or --no-crs\n",
                        DEBIAN_CRS_SETUP);
                waf_builder_free(b);
                return NULL;
            }
            if (waf_builder_add_file(b, DEBIAN_CRS_SETUP, err, sizeof err) < 0)
                goto fail;
        }
        if (o->paranoia) {
            char txt[512];
            snprintf(txt, sizeof txt,
                     "SecAction \"id:9990010,phase:1,pass,nolog,t:none,"
                     "setvar:tx.paranoia_level=%d,setvar:tx.blocking_paranoia_level=%d,"
                     "setvar:tx.executing_paranoia_level=%d,"
                     "setvar:tx.detection_paranoia_level=%d\"\n",
                     o->paranoia, o->paranoia, o->paranoia, o->paranoia);
            if (waf_builder_add_string(b, txt, "<--paranoia>", err, sizeof err) < 0)
                goto fail;
        }
        if (o->crs_dir)
            snprintf(path, sizeof path, "%s/rules/*.conf", o->crs_dir);
        else
            snprintf(path, sizeof path, "%s", DEBIAN_CRS_RULES);
        if (waf_builder_add_file(b, path, err, sizeof err) < 0)
            goto fail;
    }
    if (o->managed) {
        snprintf(path, sizeof path, "%s/mamori-managed.conf", dir);
        if (waf_builder_add_file(b, path, err, sizeof err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < o->nrules; i++)
        if (waf_builder_add_file(b, o->rules[i], err, sizeof err) < 0)
            goto fail;
    struct waf_program *p = waf_builder_finish(b, err, sizeof err);
    if (!p) {
        fprintf(stderr, "mamori: %s\n", err);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (load_ms)
        *load_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    return p;
fail:
    fprintf(stderr, "mamori: %s\n", err);
    waf_builder_free(b);
    return NULL;
}

char *cli_read_all(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "mamori: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, max);
    char tmp[65536];
    size_t n;
    bool too_big = false;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (buf_append(&b, tmp, n) < 0) {
            too_big = true;
            break;
        }
    if (f != stdin)
        fclose(f);
    if (too_big) {
        fprintf(stderr, "mamori: %s: larger than %zu bytes\n", path, max);
        buf_free(&b);
        return NULL;
    }
    if (!b.p)
        buf_append(&b, "", 0);
    *len = b.len;
    return b.p;
}
