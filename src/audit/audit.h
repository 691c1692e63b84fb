/* Host posture audit: reads a live host or a directory that looks like one
 * and reports findings (id, title, severity, evidence, fix).
 *
 * Contract: every file is reached through audit_open()/audit_read() and the
 * helpers below, which resolve paths *inside* the audit root (absolute
 * symlinks are re-rooted, ".." stops at the root, symlink hops are bounded),
 * never block on FIFOs or devices and never read more than the caller's
 * bound. Nothing found under the root is ever executed: configuration files
 * are parsed by mamori itself. What cannot be a file (free disk space, the
 * loaded firewall ruleset) comes from the "facts" JSON (--facts FILE or
 * ROOT/.mamori-facts/facts.json); on the live host without facts, disk usage
 * is measured with statvfs(2). Checks append findings to the context; the
 * report functions render them. One context per run; not thread-safe. */
#ifndef MAMORI_AUDIT_AUDIT_H
#define MAMORI_AUDIT_AUDIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"

enum audit_sev { AUDIT_INFO = 0, AUDIT_LOW, AUDIT_MEDIUM, AUDIT_HIGH, AUDIT_CRITICAL };

struct audit_finding {
    char *id;       /* stable, e.g. "ssh.password-auth" */
    char *title;
    char *evidence; /* "file:line: text" or a value */
    char *fix;
    enum audit_sev sev;
};

/* What the host does, filled in by the checks and read by the role check. */
enum audit_role {
    AUDIT_ROLE_WEB = 1 << 0,
    AUDIT_ROLE_MAIL = 1 << 1,
    AUDIT_ROLE_FTP = 1 << 2,
    AUDIT_ROLE_SHARE = 1 << 3,
    AUDIT_ROLE_DB = 1 << 4,
};

#define AUDIT_MAX_FINDINGS 4096
#define AUDIT_MAX_WEBROOTS 64
#define AUDIT_MAX_CERTS 128

struct audit_ctx {
    int rootfd;             /* O_PATH directory fd of the root */
    char root[4096];        /* for messages only */
    bool live;              /* root is "/" */
    bool no_openat2;        /* force the portable resolver (tests) */
    time_t now;
    const char *feed_path;  /* Debian Security Tracker JSON, optional */
    const char *facts_path; /* optional */
    void *facts;            /* yajl_val, parsed lazily */
    bool facts_loaded;
    struct audit_finding *f;
    size_t nf, capf;
    unsigned roles;
    /* Shared between checks: web roots and certificates named in configs. */
    char *webroots[AUDIT_MAX_WEBROOTS];
    size_t nwebroots;
    char *certs[AUDIT_MAX_CERTS];
    char *cert_names[AUDIT_MAX_CERTS]; /* server_name / ServerName, may be NULL */
    size_t ncerts;
    bool web_https_redirect; /* some plain-HTTP server redirects to https */
    bool web_has_tls;
    bool web_has_plain;
    /* Installed packages from dpkg status (names, sorted), for other checks. */
    char **pkg_names;
    size_t npkgs;
    void *guesses; /* accounts.c: hashes queued for password guessing */
};

int audit_ctx_init(struct audit_ctx *c, const char *root);
void audit_ctx_free(struct audit_ctx *c);

/* Adds a finding; strings are copied. Evidence is printf-formatted. */
int audit_add(struct audit_ctx *c, const char *id, enum audit_sev sev, const char *title,
              const char *fix, const char *evfmt, ...) __attribute__((format(printf, 6, 7)));
const char *audit_sev_name(enum audit_sev s);
int audit_sev_parse(const char *s); /* -1 if unknown */
/* Sorts findings by severity (worst first), then id, then evidence. */
void audit_sort(struct audit_ctx *c);

/* --- root-safe file access (root.c) --- */
/* Opens path (absolute or relative, always taken inside the root). flags are
 * open(2) flags; O_NOFOLLOW applies to the last component. Returns an fd or
 * -errno. Regular files only unless O_DIRECTORY or O_PATH is given. */
int audit_open(struct audit_ctx *c, const char *path, int flags);
/* Whole file, NUL-terminated, at most max bytes (larger files: the first max
 * bytes and *truncated set). NULL with errno set when missing/unreadable. */
char *audit_read(struct audit_ctx *c, const char *path, size_t max, size_t *len, bool *truncated);
int audit_stat(struct audit_ctx *c, const char *path, struct stat *st, bool follow);
bool audit_exists(struct audit_ctx *c, const char *path);
/* Reads a symlink's target without following it; -errno on failure. */
int audit_readlink(struct audit_ctx *c, const char *path, char *out, size_t outsz);
/* Directory entries of path, sorted, "." and ".." left out; caller frees with
 * audit_free_list. Returns count or -errno. */
int audit_list_dir(struct audit_ctx *c, const char *path, char ***names);
void audit_free_list(char **names, int n);
/* Expands a glob pattern (wildcards in any component, fnmatch(3) rules,
 * sorted like glob(3)) inside the root; calls fn for each existing match.
 * A pattern without wildcards yields itself when it exists. */
int audit_glob(struct audit_ctx *c, const char *pattern,
               int (*fn)(struct audit_ctx *c, const char *path, void *arg), void *arg);
/* Joins dir and name into out (bounded); -1 when too long. */
int audit_path_join(char *out, size_t outsz, const char *dir, const char *name);

/* Line iteration over a buffer: returns false at the end. */
struct audit_lines {
    const char *p, *end;
    unsigned lineno;
};
void audit_lines_init(struct audit_lines *l, const char *p, size_t n);
bool audit_lines_next(struct audit_lines *l, const char **line, size_t *len);

/* Streams a (possibly gzip-compressed) file line by line with bounded
 * memory; lines longer than 8 KiB are cut. fn returns non-zero to stop.
 * tail_max > 0 reads only the newest tail_max bytes of a plain file. */
int audit_stream_lines(struct audit_ctx *c, const char *path, size_t tail_max,
                       int (*fn)(void *arg, const char *line, size_t len), void *arg);
/* RFC 1951/1952 gzip decoder (inflate.c): whole-buffer, bounded output. */
int audit_gunzip(const unsigned char *in, size_t inlen, struct buf *out);

/* Facts (facts.c): value of a dotted path, e.g. "firewall.loaded". */
int audit_fact_bool(struct audit_ctx *c, const char *path, bool *out); /* 0 if known */
void *audit_fact(struct audit_ctx *c, const char *path);              /* yajl_val or NULL */

/* --- checks --- */
void audit_check_pkg(struct audit_ctx *c);
void audit_check_net(struct audit_ctx *c);
void audit_check_ssh(struct audit_ctx *c);
void audit_check_accounts(struct audit_ctx *c);
void audit_check_web(struct audit_ctx *c);
void audit_check_certs(struct audit_ctx *c);
void audit_check_disk(struct audit_ctx *c);
void audit_check_resilience(struct audit_ctx *c);
/* Runs every check in a fixed order. */
void audit_run(struct audit_ctx *c);

/* --- pieces exported for unit tests --- */
/* dpkg version ordering (Debian Policy 5.6.12): <0, 0, >0. */
int audit_dpkg_vercmp(const char *a, const char *b);
/* Debian/Ubuntu release end of life; 0 when unknown. */
time_t audit_eol_date(const char *id, const char *version_id, const char **name);

struct audit_sshd {
    char permit_root_login[32];
    bool password_auth, kbd_interactive, permit_empty, x11_forwarding;
    int max_auth_tries;
    bool has_allow; /* AllowUsers or AllowGroups */
    bool has_match;
    unsigned set_mask; /* bit per key: set explicitly */
    char where[8][300]; /* file:line where each key was set */
};
/* Parses the effective sshd configuration starting at path (Include,
 * first-value-wins, Match blocks noted but not applied). */
int audit_sshd_load(struct audit_ctx *c, const char *path, struct audit_sshd *out);
/* Parses a syslog timestamp (RFC 3164 "Mon dd hh:mm:ss" with the year taken
 * from now, or ISO 8601). Returns the time and sets *rest after it; 0 if none. */
time_t audit_syslog_time(const char *line, size_t len, time_t now, size_t *rest);
/* Checks one password against a crypt(3) hash or an htpasswd entry:
 * 1 match, 0 no match, -1 scheme unsupported. */
int audit_pw_check(const char *hash, const char *pw);

/* Internal hand-offs between check families. */
void audit_accounts_htpasswd(struct audit_ctx *c, const char *path); /* accounts.c */
void audit_accounts_guess(struct audit_ctx *c); /* runs the queued password guesses */
void audit_add_webroot(struct audit_ctx *c, const char *dir);       /* web.c */
bool audit_pkg_installed(const struct audit_ctx *c, const char *name); /* pkg.c */
void audit_add_cert(struct audit_ctx *c, const char *path, const char *name); /* web.c */

/* --- outside-in probe (probe.c) --- */
struct audit_probe_opts {
    const char *url;     /* http://host[:port]/path or https://... */
    int http_port;       /* plain port checked for the HTTPS redirect (default 80) */
    const char *ca_file; /* extra trust anchors (tests, private CAs) */
    int timeout_ms;      /* per connect and per read */
    int delay_ms;        /* pause between requests */
};
/* Runs the probe and adds findings to c (c->now is used for expiry).
 * -EINVAL bad URL, -ECONNREFUSED site unreachable. */
int audit_probe(struct audit_ctx *c, const struct audit_probe_opts *o);

/* --- output (report.c) --- */
enum audit_format { AUDIT_FMT_TEXT, AUDIT_FMT_JSON, AUDIT_FMT_SARIF };
int audit_report(struct audit_ctx *c, enum audit_format fmt, bool color, struct buf *out);
/* The state file: findings as JSON; diff lists new and resolved ids. */
int audit_state_save(struct audit_ctx *c, const char *path);
int audit_state_diff(struct audit_ctx *c, const char *path, enum audit_format fmt, struct buf *out);
enum audit_sev audit_worst(const struct audit_ctx *c);

/* Splits a config line in place into at most max words; "quotes" group a
 * word. key_sep (e.g. '=' for sshd_config's "Key=value") also ends the
 * first word; 0 for none. Returns the count. */
int audit_split_words(char *s, char **w, int max, char key_sep);

#endif
