/* mamori config check FILE: the dry run of a reload. Parses the whole file
 * (every problem as "file:line: problem"), then compiles the rule set it
 * names and opens its certificates, exactly as `mamori run` would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proxy/proxy.h"
#include "waf/waf.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mamori config check FILE\n"
               "Checks a mamori config file (docs/config.md) and the rule set it names.\n"
               "exit status: 0 fine, 1 problems found, 2 usage error\n");
}

int cli_config(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "check")) {
        usage(stderr);
        return 2;
    }
    const char *file = argv[2];
    struct proxy_config c;
    proxy_config_init(&c);
    int problems = proxy_config_load(&c, file);
    char err[512];
    if (!problems && proxy_config_finish(&c, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", file, err);
        problems++;
    }
    if (problems) {
        proxy_config_free(&c);
        fprintf(stderr, "%s: %d problem%s\n", file, problems, problems == 1 ? "" : "s");
        return 1;
    }
    struct rules_opts ro = {0};
    for (size_t i = 0; i < c.nrules && i < sizeof ro.rules / sizeof ro.rules[0]; i++)
        ro.rules[ro.nrules++] = c.rules[i];
    ro.crs_dir = c.crs_dir;
    ro.no_crs = c.no_crs;
    ro.paranoia = c.paranoia;
    ro.detection_only = c.detection_only;
    ro.managed = c.managed_rules;
    size_t xn;
    char *excl = proxy_compile_allowlists(&c, &xn, err, sizeof err);
    if (!excl && c.nallowlists) {
        fprintf(stderr, "%s\n%s: the allowlist did not compile\n", err, file);
        proxy_config_free(&c);
        return 1;
    }
    ro.pre_text = excl;
    ro.pre_name = "<allowlist>";
    double ms = 0;
    struct waf_program *p = cli_load_rules(&ro, &ms);
    free(excl);
    if (!p) {
        fprintf(stderr, "%s: the rule set did not load\n", file);
        proxy_config_free(&c);
        return 1;
    }
    char shield[512] = "";
    if (proxy_shield_wanted(&c)) {
        /* the lists, path rules and challenge key, read as a reload would */
        struct proxy_shield *s = proxy_shield_build(&c, NULL, err, sizeof err);
        if (!s) {
            fprintf(stderr, "%s\n%s: the bot shield did not load\n", err, file);
            waf_program_free(p);
            proxy_config_free(&c);
            return 1;
        }
        proxy_shield_describe(s, shield, sizeof shield);
        proxy_shield_unref(s);
    }
    printf("%s: ok (%zu listener%s, upstream %s, %zu rules compiled in %.0f ms)\n", file,
           c.nlisten, c.nlisten == 1 ? "" : "s", c.upstream.text, waf_program_rule_count(p), ms);
    if (shield[0])
        printf("%s: %s\n", file, shield);
    waf_program_free(p);
    proxy_config_free(&c);
    return 0;
}
