/* Subcommands of the mamori program and what they share. */
#ifndef MAMORI_CLI_CLI_H
#define MAMORI_CLI_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct waf_program;

int cli_eval(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_run(int argc, char **argv);    /* src/cli/run.c */
int cli_config(int argc, char **argv); /* src/cli/config.c */
int cli_audit(int argc, char **argv);  /* src/cli/audit.c */
int cli_probe(int argc, char **argv);  /* src/cli/probe.c */
int cli_exclude(int argc, char **argv); /* src/cli/exclude.c */
int cli_lists(int argc, char **argv);   /* src/cli/lists.c */

/* Rule-set options shared by eval, bench and run. */
struct rules_opts {
    const char *rules[64];
    size_t nrules;
    const char *crs_dir; /* a CRS v4 checkout (crs-setup.conf.example + rules/) */
    int paranoia;        /* 0 = leave CRS's default */
    bool detection_only;
    bool no_crs;         /* --rules given: only those files (plus the engine base) */
    bool managed;        /* rules/mamori-managed.conf after CRS (mamori run) */
    const char *pre_text; /* SecLang loaded before CRS (compiled allowlists), or NULL */
    const char *pre_name; /* its name in error messages */
};

/* Parses one rule-set option at argv[*i]; returns 1 if consumed, 0 if not a
 * rule-set option, -1 on a usage error (message printed). */
int cli_rules_opt(struct rules_opts *o, int argc, char **argv, int *i);
/* Builds the program; prints "file:line: reason" and returns NULL on error. */
struct waf_program *cli_load_rules(const struct rules_opts *o, double *load_ms);
const char *cli_rules_usage(void);
/* The rule set a mamori.conf names (rules, crs, paranoia, managed rules,
 * allowlists), as `mamori run` loads it; NULL with err on failure. */
struct proxy_config;
struct waf_program *cli_rules_from_config(const struct proxy_config *c, char *err, size_t errlen);

/* Reads a whole file ("-" = stdin), bounded by max bytes. */
char *cli_read_all(const char *path, size_t max, size_t *len);

/* watch, bans, events, notify (src/cli/watch.c, bans.c, events.c, notify.c) */
struct watch_conf;
struct notify_conf;
struct store;
int cli_watch(int argc, char **argv);
int cli_bans(int argc, char **argv);
int cli_events(int argc, char **argv);
int cli_notify(int argc, char **argv);
/* Shared by those four: defaults + FILE (NULL: /etc/mamori/watch.conf if it
 * exists); "-o KEY=VALUE" overrides; the store from the config (NULL when
 * none is configured or it cannot be opened, with a message). */
int cli_watch_load_conf(struct watch_conf *c, const char *path);
int cli_watch_set_opt(struct watch_conf *c, const char *kv);
void cli_watch_notify_conf(const struct watch_conf *c, struct notify_conf *n);
struct store *cli_watch_open_store(const struct watch_conf *c);
void cli_watch_iso(int64_t t, char *out, size_t cap);

#endif
