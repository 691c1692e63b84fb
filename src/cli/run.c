/* mamori run: the reverse proxy with the WAF in front of the app
 * (src/proxy/). Flags are applied on top of the config file, at start and
 * again at every SIGHUP reload, so the command line always wins. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "watch/watch.h"
#include "proxy/banstore.h"
#include "proxy/proxy.h"
#include "waf/waf.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mamori run [OPTIONS]\n"
            "Runs the reverse proxy: strict HTTP/1.1 at the edge, the WAF in the path,\n"
            "events as JSON lines. SIGHUP reloads, SIGTERM drains and stops.\n"
            "\n"
            "  --config FILE            read FILE (docs/config.md); flags override it\n"
            "  --watch WATCH.CONF       also run the watchers (docs/watch.md) as a child process:\n"
            "                           auth/web logs and this proxy's events -> bans, alerts\n"
            "  --ban-store DB           refuse (403) addresses the watchers banned, read from\n"
            "                           their store (watch.conf `store`), refreshed every 2 s\n"
            "  --listen ADDR:PORT       listen here (repeatable; IPv6 as [::1]:8080);\n"
            "                           default 127.0.0.1:8080\n"
            "  --upstream ADDR:PORT     the app (required here or in the config)\n"
            "  --event-log FILE|off     default STATE_DIR/events.json\n"
            "  --event-log-max-bytes N  cap on the event log's disk use (default 100m)\n"
            "  --access-log FILE        also log every request\n"
            "  --state-dir DIR          default ./mamori-state, /var/lib/mamori as root\n"
            "  --workers N              worker threads (default: number of cores)\n"
            "  --user NAME              as root: bind, then drop to NAME\n"
            "  --allow-root             serve as root without --user (not recommended)\n"
            "bot shield (docs/shield.md; all off unless given):\n"
            "  --rate-limit RATE        e.g. 10r/s,burst=20; per client address; repeatable;\n"
            "                           add ,path=/api | ,method | ,header=X-Api-Key to key it\n"
            "  --deny-list FILE         refuse these addresses/CIDRs (403); repeatable\n"
            "  --allow-list FILE        trusted clients: skip bans, lists, rate limits, challenge\n"
            "  --tor-list FILE          Tor exit list (loaded leniently), refused (403)\n"
            "  --proxy-list FILE        open-proxy / reputation feed, refused (403)\n"
            "  --challenge              proof-of-work page for browsers without a pass cookie\n"
            "  --challenge-difficulty N leading zero bits, 1-32 (default 16)\n"
            "  --bans                   ban clients that collect blocks, 429s and 4xx\n"
            "  --allowlist FILE         WAF exclusions in line form, loaded before CRS\n"
            "  --no-managed-rules       do not load rules/mamori-managed.conf (default: loaded)\n"
            "%s",
            cli_rules_usage());
}

struct run_flags {
    int argc;
    char **argv;
};

static const char *const value_flags[][2] = {
    {"--listen", "listen"},
    {"--upstream", "upstream"},
    {"--event-log", "event-log"},
    {"--event-log-max-bytes", "event-log-max-bytes"},
    {"--event-log-rotate-bytes", "event-log-rotate-bytes"},
    {"--access-log", "access-log"},
    {"--state-dir", "state-dir"},
    {"--workers", "workers"},
    {"--user", "user"},
    {"--rules", "rules"},
    {"--crs", "crs"},
    {"--paranoia", "paranoia"},
    {"--rate-limit", "rate-limit"},
    {"--deny-list", "deny-list"},
    {"--allow-list", "allow-list"},
    {"--tor-list", "tor-list"},
    {"--proxy-list", "proxy-list"},
    {"--challenge-difficulty", "challenge-difficulty"},
    {"--allowlist", "allowlist"},
};

/* Flags without a value: the directive and the value they set. */
static const char *const bool_flags[][3] = {
    {"--detection-only", "detection-only", "on"},
    {"--allow-root", "allow-root", "on"},
    {"--challenge", "challenge", "on"},
    {"--bans", "bans", "on"},
    {"--managed-rules", "managed-rules", "on"},
    {"--no-managed-rules", "managed-rules", "off"},
};

static int bool_flag(const char *a)
{
    for (size_t i = 0; i < sizeof bool_flags / sizeof bool_flags[0]; i++)
        if (!strcmp(a, bool_flags[i][0]))
            return (int)i;
    return -1;
}

static const char *flag_key(const char *a)
{
    for (size_t i = 0; i < sizeof value_flags / sizeof value_flags[0]; i++)
        if (!strcmp(a, value_flags[i][0]))
            return value_flags[i][1];
    return NULL;
}

/* Applies the command line to c (called for every new generation). */
static int overlay(struct proxy_config *c, void *ud)
{
    const struct run_flags *f = ud;
    bool reset_listen = false;
    for (int i = 1; i < f->argc; i++) {
        const char *a = f->argv[i];
        char err[512];
        if (!strcmp(a, "--config") || !strcmp(a, "--watch") || !strcmp(a, "--ban-store")) {
            i++;
            continue;
        }
        if (!strcmp(a, "--no-crs")) {
            c->no_crs = true;
            continue;
        }
        int bf = bool_flag(a);
        if (bf >= 0) {
            const char *v = bool_flags[bf][2];
            if (proxy_config_set(c, bool_flags[bf][1], &v, 1, err, sizeof err) < 0)
                return -1;
            continue;
        }
        const char *key = flag_key(a);
        if (!key || i + 1 >= f->argc)
            return -1;
        const char *v = f->argv[++i];
        if (!strcmp(key, "listen") && !reset_listen) {
            c->nlisten = 0; /* --listen replaces the file's listeners */
            reset_listen = true;
        }
        if (proxy_config_set(c, key, &v, 1, err, sizeof err) < 0) {
            fprintf(stderr, "mamori run: %s %s: %s\n", a, v, err);
            return -1;
        }
    }
    return 0;
}

struct waf_program *cli_rules_from_config(const struct proxy_config *c, char *err, size_t errlen)
{
    struct rules_opts ro = {0};
    for (size_t i = 0; i < c->nrules && i < sizeof ro.rules / sizeof ro.rules[0]; i++)
        ro.rules[ro.nrules++] = c->rules[i];
    ro.crs_dir = c->crs_dir;
    ro.no_crs = c->no_crs;
    ro.paranoia = c->paranoia;
    ro.detection_only = c->detection_only;
    ro.managed = c->managed_rules;
    size_t n;
    char *excl = proxy_compile_allowlists(c, &n, err, errlen);
    if (!excl && c->nallowlists)
        return NULL;
    ro.pre_text = excl;
    ro.pre_name = "<allowlist>";
    struct waf_program *p = cli_load_rules(&ro, NULL);
    free(excl);
    if (!p)
        snprintf(err, errlen, "the rule set did not load (see above)");
    return p;
}

/* `mamori run --watch FILE`: the watchers run as a child process (their own
 * privileges: the watch module keeps a helper for nftables and drops the
 * rest), started before the proxy binds and drops, stopped when it exits. */
static pid_t start_watch(const char *conf)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mamori run: cannot start the watchers: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char *args[] = {"mamori", "watch", "--config", (char *)conf, NULL};
        execv("/proc/self/exe", args);
        fprintf(stderr, "mamori run: cannot exec the watchers: %s\n", strerror(errno));
        _exit(127);
    }
    fprintf(stderr, "mamori: watchers running (pid %ld, %s)\n", (long)pid, conf);
    return pid;
}

static void stop_watch(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int cli_run(int argc, char **argv)
{
    const char *config = NULL, *watch_conf = NULL, *ban_store = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mamori run: --config needs a file\n");
                return 2;
            }
            config = argv[++i];
            continue;
        }
        if (!strcmp(a, "--ban-store")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mamori run: --ban-store needs the watch store file\n");
                return 2;
            }
            ban_store = argv[++i];
            continue;
        }
        if (!strcmp(a, "--watch")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mamori run: --watch needs a watch.conf file\n");
                return 2;
            }
            watch_conf = argv[++i];
            continue;
        }
        if (!strcmp(a, "--no-crs") || bool_flag(a) >= 0)
            continue;
        if (flag_key(a)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mamori run: %s needs a value\n", a);
                return 2;
            }
            i++;
            continue;
        }
        fprintf(stderr, "mamori run: unknown option '%s'\n", a);
        usage(stderr);
        return 2;
    }
    struct run_flags flags = {argc, argv};
    struct proxy_config cfg;
    proxy_config_init(&cfg);
    if (config && proxy_config_load(&cfg, config) != 0) {
        proxy_config_free(&cfg);
        return 2;
    }
    char err[512];
    if (overlay(&cfg, &flags) < 0) {
        proxy_config_free(&cfg);
        return 2;
    }
    if (proxy_config_finish(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "mamori run: %s\n", err);
        proxy_config_free(&cfg);
        return 2;
    }
    struct proxy_run_opts o = {.load_rules = cli_rules_from_config, .overlay = overlay,
                               .overlay_ud = &flags};
    pid_t watcher = -1;
    if (watch_conf) {
        /* refuse a bad watch.conf now rather than in a child nobody reads */
        struct watch_conf wc;
        watch_conf_defaults(&wc);
        int wrc = watch_conf_load(&wc, watch_conf, err, sizeof err);
        watch_conf_free(&wc);
        if (wrc < 0) {
            fprintf(stderr, "mamori run: %s\n", err);
            proxy_config_free(&cfg);
            return 2;
        }
        watcher = start_watch(watch_conf);
    }
    if (ban_store && proxy_banstore_start(ban_store, err, sizeof err) < 0) {
        fprintf(stderr, "mamori run: --ban-store: %s\n", err);
        stop_watch(watcher);
        proxy_config_free(&cfg);
        return 2;
    }
    int rc = proxy_serve(&cfg, &o);
    proxy_banstore_stop();
    stop_watch(watcher);
    return rc;
}
