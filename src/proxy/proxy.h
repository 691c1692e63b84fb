/* The hardened reverse proxy behind `mamori run`.
 *
 * Contract:
 *  - A proxy_config is plain data: filled with defaults (proxy_config_init),
 *    then by a config file (proxy_config_load) and command-line flags, then
 *    checked (proxy_config_finish). It owns its strings; proxy_config_free
 *    releases them.
 *  - proxy_serve runs the proxy until SIGTERM/SIGINT: it binds the
 *    listeners, drops privileges when asked, starts one epoll loop per worker
 *    thread and reloads on SIGHUP as a transaction (re-read the config file,
 *    rebuild the rule program; any failure keeps the running generation).
 *    The caller supplies the rule loader so this module does not depend on
 *    the command-line code.
 *  - Everything a connection holds is bounded by the config's limits. */
#ifndef MAMORI_PROXY_PROXY_H
#define MAMORI_PROXY_PROXY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_MAX_LISTEN 16
#define PROXY_MAX_CERTS 32
#define PROXY_MAX_TRUSTED 64
#define PROXY_MAX_RULES 64
#define PROXY_MAX_STRIP 64
#define PROXY_NAME_MAX 256
#define PROXY_MAX_LISTS 16      /* files per list kind */
#define PROXY_MAX_RATE 16       /* = SHIELD_MAX_RATE_RULES */
#define PROXY_MAX_PATH_ALLOW 64 /* = SHIELD_MAX_PATH_RULES */
#define PROXY_MAX_PATH_ITEMS 32

struct waf_program;

struct proxy_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80]; /* as written, e.g. "[::1]:8080" */
};

struct proxy_listen {
    struct proxy_addr addr;
    bool tls;
};

/* A certificate for TLS listeners; name "*" or the first one is the default. */
struct proxy_cert {
    char *name;
    char *cert;
    char *key;
};

struct proxy_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

/* One rate-limit rule of the bot shield (docs/shield.md). */
enum proxy_rate_key { PROXY_RATE_ADDR, PROXY_RATE_PATH, PROXY_RATE_METHOD, PROXY_RATE_HEADER };
struct proxy_rate {
    double per_sec;
    unsigned burst;
    enum proxy_rate_key key;
    char *arg; /* path prefix (PATH) or header name (HEADER), else NULL */
};

/* "Only these addresses may reach PREFIX": each item a file or a CIDR. */
struct proxy_path_allow {
    char *prefix;
    char *items[PROXY_MAX_PATH_ITEMS];
    size_t nitems;
};

/* Which IP list a file feeds (index into proxy_config.lists). */
enum proxy_list_kind { PROXY_LIST_DENY, PROXY_LIST_ALLOW, PROXY_LIST_TOR, PROXY_LIST_PROXY,
                       PROXY_LIST_KINDS };

struct proxy_config {
    char *source; /* config file path or NULL */
    struct proxy_listen listen[PROXY_MAX_LISTEN];
    size_t nlisten;
    struct proxy_cert certs[PROXY_MAX_CERTS];
    size_t ncerts;
    struct proxy_addr upstream;
    bool upstream_set;

    /* rule set (mirrors the command line's --rules/--crs/--no-crs/...) */
    char *rules[PROXY_MAX_RULES];
    size_t nrules;
    char *crs_dir;
    bool no_crs;
    int paranoia;
    bool detection_only;

    /* limits */
    size_t max_body;         /* request body buffered for phase 2; 413 past it */
    size_t max_request_line; /* 414 */
    size_t max_head;         /* 431 */
    size_t max_headers;      /* 431 */
    size_t max_response_head;

    /* timeouts in milliseconds */
    unsigned header_timeout;
    unsigned body_timeout;
    unsigned idle_timeout;
    unsigned send_timeout;
    unsigned upstream_connect_timeout;
    unsigned upstream_timeout;
    unsigned drain_timeout;

    struct proxy_cidr trusted[PROXY_MAX_TRUSTED];
    size_t ntrusted;

    char *state_dir;
    char *event_log;      /* NULL: STATE_DIR/events.json; "off" disables */
    size_t event_log_max_bytes;
    size_t event_log_rotate_bytes;
    char *access_log;     /* NULL: none */

    char *strip[PROXY_MAX_STRIP]; /* response headers removed */
    size_t nstrip;
    char *referrer_policy;        /* NULL or "" = not added */
    char *hsts;                   /* value for TLS responses; NULL = not added */
    bool nosniff;

    /* bot shield (docs/shield.md); all off by default */
    struct proxy_rate rate[PROXY_MAX_RATE];
    size_t nrate;
    size_t rate_table;                  /* keys per rate rule; 0 = shield default */
    char *lists[PROXY_LIST_KINDS][PROXY_MAX_LISTS];
    size_t nlists[PROXY_LIST_KINDS];
    bool block_tor, block_proxy;        /* enforce tor-list / proxy-list (default on) */
    struct proxy_path_allow path_allow[PROXY_MAX_PATH_ALLOW];
    size_t npath_allow;
    bool challenge;
    unsigned challenge_difficulty;      /* 0 = shield default (16) */
    unsigned challenge_cookie_ttl;      /* seconds; 0 = shield default (1h) */
    char *challenge_key;                /* key file; NULL = random per process */
    bool bans;                          /* bad-behaviour bans (default off) */
    unsigned ban_threshold, ban_window, ban_time; /* 0 = shield defaults */
    size_t ban_table;
    bool managed_rules;                 /* rules/mamori-managed.conf after CRS (default on) */
    char *allowlists[PROXY_MAX_LISTS];  /* line-form exclusions, compiled before CRS */
    size_t nallowlists;

    size_t max_connections; /* client connections, all workers together */
    int workers;    /* 0: number of cores */
    char *user;     /* drop to this user after binding (when root) */
    bool allow_root;
};

/* Builds a program from the config's rule set; NULL with a message in err. */
typedef struct waf_program *(*proxy_rules_loader)(const struct proxy_config *c, char *err,
                                                   size_t errlen);

void proxy_config_init(struct proxy_config *c);
void proxy_config_free(struct proxy_config *c);
/* Reads FILE into c. Every problem is printed as "file:line: problem" to
 * stderr; returns the number of problems (0 = fine). */
int proxy_config_load(struct proxy_config *c, const char *path);
/* Sets one directive (the same names as the file); for flags and tests.
 * Returns 0, or -1 with the problem in err. */
int proxy_config_set(struct proxy_config *c, const char *key, const char *const *args,
                     size_t nargs, char *err, size_t errlen);
/* Fills derived defaults (listener, state dir, event log path, rotation
 * size) and checks consistency. Returns 0, or -1 with err. */
int proxy_config_finish(struct proxy_config *c, char *err, size_t errlen);
int proxy_parse_addr(const char *s, struct proxy_addr *a);
int proxy_parse_cidr(const char *s, struct proxy_cidr *c);
int proxy_parse_size(const char *s, size_t *out);
int proxy_parse_duration_ms(const char *s, unsigned *out);

/* The bot shield for a config: built aside (lists loaded, key read,
 * exclusions compiled) so a reload can refuse a bad list before anything
 * changes. Reference-counted; a generation holds one. */
struct proxy_shield;
/* Builds the shield for c. When prev was built from the same shield
 * settings (everything but the list files), the new one shares prev's
 * rate-limit and ban tables and only its lists are swapped in by
 * proxy_shield_activate(); otherwise a new shield is built and the bans
 * still running in prev are carried over. NULL with err on failure (then
 * nothing changed). With no shield directive at all the result is a
 * valid shield that passes everything. */
struct proxy_shield *proxy_shield_build(const struct proxy_config *c, struct proxy_shield *prev,
                                        char *err, size_t errlen);
/* Makes a built shield live (swaps the new lists into a shared shield).
 * Called once, right before its generation is published. */
void proxy_shield_activate(struct proxy_shield *s);
/* Whether c asks for the shield at all (else a generation has none and
 * requests skip it). */
bool proxy_shield_wanted(const struct proxy_config *c);
void proxy_shield_unref(struct proxy_shield *s);
/* One line for logs: "shield: 2 rate rules, deny 3 entries, ..." */
void proxy_shield_describe(const struct proxy_shield *s, char *out, size_t n);
/* The compiled allowlist exclusions of c (SecLang, NUL-terminated; ids
 * 1001000 on), or NULL with *len 0 when there are none. On error NULL and
 * err. The caller frees. */
char *proxy_compile_allowlists(const struct proxy_config *c, size_t *len, char *err,
                               size_t errlen);

/* Flags applied on top of the file at start and at every reload. */
typedef int (*proxy_config_overlay)(struct proxy_config *c, void *ud);

struct proxy_run_opts {
    proxy_rules_loader load_rules;
    proxy_config_overlay overlay; /* may be NULL */
    void *overlay_ud;
};

/* Runs until SIGTERM/SIGINT. cfg is consumed. Returns the exit status. */
int proxy_serve(struct proxy_config *cfg, const struct proxy_run_opts *o);

#endif
