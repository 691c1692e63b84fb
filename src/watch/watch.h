/* watch: turn log lines into attack scores, bans and alerts.
 *
 * Contract. watch_parse_line() is a pure function of (parser state, line):
 * it never allocates, never reads past len, and returns slices into the
 * caller's line. watch_det_feed() scores one parsed event per source
 * address (IPv6 grouped by /64) in a bounded table that evicts the least
 * recently seen address; when a service's threshold is reached it records a
 * ban in the shared ban table (struct watch_bans) and reports it through the
 * sink. Allowlisted addresses are never banned. Time is the log's own time,
 * so replaying a file (watch --once) decides exactly what live following
 * would have decided.
 *
 * The ban table is thread-safe (a rwlock): the proxy asks watch_bans_check()
 * from its workers while the watcher adds bans. It is bounded too: when full,
 * the entry that was banned longest ago is dropped (and counted). */
#ifndef MAMORI_WATCH_WATCH_H
#define MAMORI_WATCH_WATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* ---- addresses ---------------------------------------------------------- */

struct watch_addr {
    uint8_t fam; /* 4 or 6; 0 = none */
    uint8_t plen; /* prefix length the address stands for (32, 64, 128...) */
    uint8_t a[16];
};

/* Parses "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4" (-> IPv4), "[v6]" and an
 * optional "/len". Returns 0 or -1. */
int watch_addr_parse(const char *s, size_t n, struct watch_addr *out);
/* Canonical text ("1.2.3.4", "2001:db8::/64"); returns dst. cap >= 64. */
char *watch_addr_fmt(const struct watch_addr *a, char *dst, size_t cap);
/* The grouping key: IPv6 narrowed to /v6_prefix, IPv4 kept as /32. */
void watch_addr_group(struct watch_addr *a, int v6_prefix);
bool watch_addr_in(const struct watch_addr *net, const struct watch_addr *a);
bool watch_addr_eq(const struct watch_addr *x, const struct watch_addr *y);

/* ---- parsed events ------------------------------------------------------ */

enum watch_svc { WATCH_SSH, WATCH_HTTP, WATCH_FTP, WATCH_MAIL, WATCH_PROXY, WATCH_NSVC };

enum watch_kind {
    WATCH_EV_NONE,
    WATCH_EV_AUTH_FAIL,    /* failed password / authentication failure */
    WATCH_EV_INVALID_USER, /* a user that does not exist */
    WATCH_EV_PREAUTH,      /* disconnected before authenticating */
    WATCH_EV_TOO_MANY,     /* too many authentication failures */
    WATCH_EV_PROBE,        /* no identification / negotiation failure / scanner */
    WATCH_EV_PROXY_BLOCK,  /* mamori proxy: blocked */
    WATCH_EV_PROXY_REJECT, /* mamori proxy: rejected (bad HTTP) */
    WATCH_EV_HTTP_4XX,     /* access log 4xx */
    WATCH_EV_AUTH_OK,      /* successful login */
    WATCH_EV_NKIND
};

struct watch_event {
    enum watch_kind kind;
    enum watch_svc svc;
    int64_t t; /* Unix seconds from the line; 0 = the line had none */
    int status; /* HTTP status where known */
    struct watch_addr addr;
    struct str user; /* slice into the line, may be empty */
};

const char *watch_kind_name(enum watch_kind k);
const char *watch_svc_name(enum watch_svc s);
int watch_svc_from_name(const char *s); /* -1 when unknown */

/* Per-file parser state: year inference for RFC 3164 stamps. */
struct watch_parser {
    int64_t ref;   /* "now" for year inference (Unix seconds) */
    int year;      /* year currently assumed for stamps without one; 0 = unset */
    int last_mon;  /* 1..12 of the previous RFC 3164 stamp */
    int64_t last_t;
};

void watch_parser_init(struct watch_parser *p, int64_t now);
/* 1: *ev filled; 0: a line with nothing to score; -1: unparseable. */
int watch_parse_line(struct watch_parser *p, const char *line, size_t len, struct watch_event *ev);
/* Timestamps (exported for tests): return Unix seconds or -1; *used gets the
 * bytes consumed. */
int64_t watch_parse_rfc3164(struct watch_parser *p, const char *s, size_t n, size_t *used);
int64_t watch_parse_iso8601(const char *s, size_t n, size_t *used);

/* ---- configuration ------------------------------------------------------ */

#define WATCH_MAX_ALLOW 256
#define WATCH_MAX_FILES 64
#define WATCH_MAX_MUTES 64
#define WATCH_MAX_DISKS 16

struct watch_conf {
    double threshold[WATCH_NSVC]; /* points that ban */
    int window_s[WATCH_NSVC];     /* the bucket drains threshold points per window */
    int ban_s;                    /* first ban */
    int ban_max_s;                /* repeat offenders: ban_s * 2^(n-1), capped here */
    int v6_prefix;                /* 64 */
    size_t max_tracked;           /* addresses scored at once */
    size_t max_bans;              /* ban table bound */
    size_t max_known;             /* addresses with a past successful login */
    struct watch_addr allow[WATCH_MAX_ALLOW];
    size_t nallow;
    const char *files[WATCH_MAX_FILES];
    size_t nfiles;
    char *strs; /* owned storage for the strings above and below */
    size_t strs_len, strs_cap;
    const char *store_path;
    bool nft;
    const char *nft_bin;
    const char *journalctl_bin; /* `file journal` reads the systemd journal with it */
    const char *user; /* live watcher drops to this user; nft via a helper */
    /* notifications (src/notify reads these) */
    const char *slack_url, *webhook_url, *webhook_secret;
    const char *smtp_url, *smtp_from, *smtp_to, *smtp_user, *smtp_pass;
    bool smtp_insecure; /* accept a self-signed STARTTLS certificate (tests) */
    const char *mutes[WATCH_MAX_MUTES];
    size_t nmutes;
    int notify_per_min;
    int notify_dedup_s;
    /* disk guard */
    const char *disks[WATCH_MAX_DISKS];
    int disk_warn_pct, disk_crit_pct;
    const char *grow_dirs[WATCH_MAX_DISKS];
    size_t ndisks, ngrow_dirs;
    /* mamori's own watch log */
    const char *log_path;
    size_t log_max_bytes;
    int64_t store_max_age_s;
    int64_t store_max_bytes;
};

void watch_conf_defaults(struct watch_conf *c);
void watch_conf_free(struct watch_conf *c);
/* Reads "key value" lines; errors are "file:line: reason" in err. */
int watch_conf_load(struct watch_conf *c, const char *path, char *err, size_t errlen);
/* One "key value" setting (also used for command-line overrides). */
int watch_conf_set(struct watch_conf *c, const char *key, const char *val, char *err,
                   size_t errlen);
bool watch_conf_allowed(const struct watch_conf *c, const struct watch_addr *a);

/* ---- ban table ---------------------------------------------------------- */

struct watch_ban {
    struct watch_addr addr; /* grouped */
    char reason[64];
    double score;
    int64_t first_seen, last_seen; /* of the offence */
    int64_t banned_at, until;
    uint32_t count; /* offences so far (repeat offenders) */
};

struct watch_bans;
struct watch_bans *watch_bans_new(size_t max);
void watch_bans_free(struct watch_bans *b);
/* Adds or replaces the ban for b->addr. Returns 0, or -1 on no memory. */
int watch_bans_put(struct watch_bans *b, const struct watch_ban *ban);
bool watch_bans_del(struct watch_bans *b, const struct watch_addr *a);
/* Is a (an exact address, grouped inside) banned at time now? out may be NULL. */
bool watch_bans_check(struct watch_bans *b, const struct watch_addr *a, int64_t now,
                      struct watch_ban *out);
/* Past record for a grouped address (expired bans are kept for the count). */
bool watch_bans_get(struct watch_bans *b, const struct watch_addr *a, struct watch_ban *out);
size_t watch_bans_count(struct watch_bans *b);
uint64_t watch_bans_evicted(struct watch_bans *b);
/* Calls fn for each entry (under the read lock; fn must not call back in). */
void watch_bans_each(struct watch_bans *b, void (*fn)(void *ud, const struct watch_ban *), void *ud);

/* ---- detection ---------------------------------------------------------- */

enum watch_sev { WATCH_SEV_LOW, WATCH_SEV_MEDIUM, WATCH_SEV_HIGH };
const char *watch_sev_name(enum watch_sev s);

struct watch_alert {
    const char *kind; /* "ssh_login_new_address", "ssh_login_after_failures" */
    enum watch_sev sev;
    struct watch_addr addr;
    int64_t t;
    struct str user;
    double score;
};

struct watch_sink {
    void (*ban)(void *ud, const struct watch_ban *ban);
    void (*alert)(void *ud, const struct watch_alert *al);
    void *ud;
};

struct watch_det_stats {
    uint64_t events, banned_events, allowed_skips, evicted, alerts, bans;
    size_t tracked, tracked_peak;
};

struct watch_det;
struct watch_det *watch_det_new(const struct watch_conf *c, struct watch_bans *bans);
void watch_det_free(struct watch_det *d);
/* Marks an address as having logged in before (restored from the store). */
void watch_det_known(struct watch_det *d, const struct watch_addr *a);
void watch_det_feed(struct watch_det *d, const struct watch_event *ev, int64_t now,
                    const struct watch_sink *sink);
void watch_det_stats(const struct watch_det *d, struct watch_det_stats *st);

/* ---- firewall (nftables through the nft binary, argv only) -------------- */

#define WATCH_NFT_MAXARGS 16
/* Builds the argv for one nft command; strings live in buf. Returns argc or
 * -1. op: "setup" steps 0..N (see watch_nft_setup), "add", "del". */
int watch_nft_argv_add(const char *nft, const struct watch_addr *a, int64_t timeout_s, char *buf,
                       size_t cap, char **argv);
int watch_nft_argv_del(const char *nft, const struct watch_addr *a, char *buf, size_t cap,
                       char **argv);
/* Step i of creating "table inet mamori" (i = 0..); returns argc, 0 when done. */
int watch_nft_argv_setup(const char *nft, int step, char *buf, size_t cap, char **argv);
/* Runs argv (execve, no shell), stdout/stderr to /dev/null unless verbose;
 * returns the exit status or -1. */
int watch_nft_run(char **argv, bool verbose);
int watch_nft_setup(const char *nft);
int watch_nft_ban(const char *nft, const struct watch_addr *a, int64_t timeout_s);
int watch_nft_unban(const char *nft, const struct watch_addr *a);
/* Adds n elements (new ones; an existing element keeps its old timeout) in
 * batches: one nft run per 256 addresses of a family. */
int watch_nft_ban_many(const char *nft, const struct watch_addr *a, const int64_t *timeouts,
                       size_t n);

/* ---- following files ---------------------------------------------------- */

#define WATCH_LINE_MAX 65536

struct watch_follow;
/* from_start: read existing content (replay) instead of starting at EOF. */
struct watch_follow *watch_follow_open(const char *path, bool from_start);
/* A command whose standard output is followed (the systemd journal via
 * journalctl): argv[0] is an absolute path, run without a shell, respawned
 * 10 s after it ends. name is what logs call it. */
struct watch_follow *watch_follow_open_cmd(const char *name, const char *const *argv);
void watch_follow_close(struct watch_follow *f);
/* Reads what is new (handling rotation, truncation and re-creation) and
 * calls fn per complete line (lines over WATCH_LINE_MAX are cut there and
 * the rest skipped). Returns lines delivered, or -1 if the file is gone. */
long watch_follow_poll(struct watch_follow *f, void (*fn)(void *ud, const char *l, size_t n),
                       void *ud);
const char *watch_follow_path(const struct watch_follow *f);

/* Reads a whole file once (plain, .gz through a bounded `gzip -dc` child,
 * .zst through libzstd) and calls fn per line. Returns 0 or -1. */
int watch_read_file(const char *path, void (*fn)(void *ud, const char *l, size_t n), void *ud);

/* ---- disk guard --------------------------------------------------------- */

struct watch_disk_report {
    char path[256];
    double used_pct;
    uint64_t avail_bytes;
    double grow_bps;     /* bytes per second, from the samples so far */
    double eta_full_s;   /* < 0: not growing */
    int level;           /* 0 ok, 1 warn, 2 critical */
};

struct watch_disk;
struct watch_disk *watch_disk_new(const struct watch_conf *c);
void watch_disk_free(struct watch_disk *d);
/* Samples every configured filesystem at time now; returns how many reports
 * were filled (at most max). */
size_t watch_disk_sample(struct watch_disk *d, int64_t now, struct watch_disk_report *out,
                         size_t max);
/* The files under the grow dirs that grew most since the last call:
 * names and bytes grown, fastest first. Returns the count (<= max). */
size_t watch_disk_top_growers(struct watch_disk *d, char (*names)[256], uint64_t *grown,
                              size_t max);

/* ---- mamori's own log: capped bytes, repeats merged --------------------- */

struct watch_log;
/* rotate_bytes: size of the live file; max_bytes: everything on disk. */
struct watch_log *watch_log_open(const char *path, size_t rotate_bytes, size_t max_bytes);
void watch_log_close(struct watch_log *l);
/* Writes one line (no newline needed); an identical line right after the
 * previous one is counted, and "last message repeated N times" written when a
 * different line comes (or on close/flush). Never fails the caller; a write
 * error (disk full) is counted. */
void watch_log_line(struct watch_log *l, int64_t now, const char *msg, size_t n);
void watch_log_flush(struct watch_log *l);
uint64_t watch_log_bytes_written(const struct watch_log *l);
uint64_t watch_log_write_errors(const struct watch_log *l);

#endif
