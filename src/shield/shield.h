/* shield: mamori's bot shield, the cheap checks the proxy runs on every
 * request before the WAF, in this order: ban list -> IP lists (operator
 * deny, Tor, proxies, reputation; operator allow short-circuits the rest) ->
 * per-path address allowlists -> rate limits -> proof-of-work challenge.
 *
 * Contract. A `struct shield` is built once from a `struct shield_config`
 * and shared by every worker thread; shield_check() and
 * shield_note_response() are thread-safe and do not grow anything (the
 * rate-limit and bad-behaviour tables are preallocated, sharded, each
 * shard behind its own mutex, bounded, evicting the least-recently-used
 * entry when full; the only allocations are one small per-thread view on a
 * thread's first call and OpenSSL's digest context in a cookie check).
 * IP lists are immutable once built; shield_set_list() swaps a list
 * atomically and the old one is freed when the last reader lets go. All
 * input is (pointer, length); nothing needs to be NUL-terminated. Errors
 * from loaders are `file:line: reason` in a caller buffer. Time comes from
 * the request (`now_ms`, wall clock in milliseconds) so tests can drive it;
 * 0 means "read the clock". IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
 * treated as IPv4; IPv6 clients are rate-limited, banned and bound to
 * challenge cookies by their /64. */
#ifndef MAMORI_SHIELD_H
#define MAMORI_SHIELD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- addresses ------------------------------------------------------- */

struct shield_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t b[16];  /* IPv4 in b[0..3] */
};

/* Parses "1.2.3.4" or "2001:db8::1" (no brackets, no port). 0 or -1. */
int shield_addr_parse(const char *s, size_t n, struct shield_addr *out);
/* From accept()'s address (AF_INET or AF_INET6; IPv4-mapped IPv6 folds to
 * IPv4). 0, or -1 for another family. */
struct sockaddr;
int shield_addr_from_sockaddr(const struct sockaddr *sa, struct shield_addr *out);
/* Writes the text form; returns out. cap >= 46 is always enough. */
const char *shield_addr_format(const struct shield_addr *a, char *out, size_t cap);

/* ---- IP lists (iplist.c) -------------------------------------------- */

/* An immutable set of IPv4/IPv6 addresses and CIDR blocks; one
 * path-compressed binary trie per family, lookup in O(prefix length). */
struct shield_iplist;
struct shield_iplist_builder;

enum {
    /* Skip bad lines (count them) instead of failing: for third-party
     * feeds. The first bad line is still reported in err. */
    SHIELD_IPLIST_LENIENT = 1u << 0,
};

struct shield_iplist_builder *shield_iplist_builder_new(void);
void shield_iplist_builder_free(struct shield_iplist_builder *b);
/* Adds one entry "addr" or "addr/len" with an optional tag (e.g. "SBL123",
 * copied). 0, or -1 if the text is not an address/CIDR. */
int shield_iplist_builder_add(struct shield_iplist_builder *b, const char *s, size_t n,
                              const char *tag, size_t tag_n);
int shield_iplist_builder_add_addr(struct shield_iplist_builder *b, const struct shield_addr *a,
                                   unsigned prefix_len);
/* Reads a list in any of the common formats: one address/CIDR per line
 * with '#' or ';' comments (Spamhaus DROP: "1.2.3.0/24 ; SBL123" -- the
 * text after ';' becomes the tag), FireHOL .netset/.ipset, Tor's bulk exit
 * list and Tor's exit-addresses ("ExitAddress 1.2.3.4 ..."). `name` is used
 * in error messages. Returns the number of entries added, or -1 with
 * `name:line: reason` in err. */
long shield_iplist_builder_add_buffer(struct shield_iplist_builder *b, const char *buf, size_t n,
                                      const char *name, unsigned flags, char *err, size_t errcap);
long shield_iplist_builder_add_file(struct shield_iplist_builder *b, const char *path,
                                    unsigned flags, char *err, size_t errcap);
/* Builds the list and frees the builder (even on failure: NULL = ENOMEM). */
struct shield_iplist *shield_iplist_build(struct shield_iplist_builder *b);

/* One-call forms: a list from downloaded bytes or from a file. */
struct shield_iplist *shield_iplist_load_buffer(const char *buf, size_t n, const char *name,
                                                unsigned flags, char *err, size_t errcap);
struct shield_iplist *shield_iplist_load_file(const char *path, unsigned flags, char *err,
                                              size_t errcap);

/* Longest-prefix match. Returns true if `a` is in the list; *tag (if not
 * NULL) gets the entry's tag or "" -- valid as long as the list. */
bool shield_iplist_contains(const struct shield_iplist *l, const struct shield_addr *a,
                            const char **tag);
size_t shield_iplist_count(const struct shield_iplist *l);  /* distinct entries */
size_t shield_iplist_memory(const struct shield_iplist *l); /* bytes held */
struct shield_iplist *shield_iplist_ref(struct shield_iplist *l);
void shield_iplist_unref(struct shield_iplist *l); /* frees at zero; NULL ok */

/* ---- rate limits (ratelimit.c) ------------------------------------- */

/* Parses "10r/s", "600r/m,burst=50", "1r/h,burst=5". Rate > 0; burst
 * (bucket size, the most requests accepted at once) defaults to the rate
 * per second rounded up, at least 1. -1 with a reason in err. */
int shield_rate_parse(const char *s, size_t n, double *per_sec, unsigned *burst, char *err,
                      size_t errcap);

enum shield_rate_key {
    SHIELD_RATE_KEY_ADDR,   /* client address (IPv6: its /64) */
    SHIELD_RATE_KEY_PATH,   /* address + path prefix of the rule */
    SHIELD_RATE_KEY_METHOD, /* address + method */
    SHIELD_RATE_KEY_HEADER, /* address + value of `header` (e.g. an API key) */
};

struct shield_ratelimit;
/* A token bucket per key in a bounded table of max_entries (rounded to the
 * shard count); the least recently used key is evicted when full. */
struct shield_ratelimit *shield_ratelimit_new(double per_sec, unsigned burst,
                                              size_t max_entries);
void shield_ratelimit_free(struct shield_ratelimit *r);
/* Takes one token for (addr, extra key bytes). Returns 0 if allowed, else
 * the number of seconds (>= 1) after which a retry would be allowed. */
unsigned shield_ratelimit_take(struct shield_ratelimit *r, const struct shield_addr *a,
                               const void *extra, size_t extra_n, uint64_t now_ms);
size_t shield_ratelimit_entries(const struct shield_ratelimit *r);
uint64_t shield_ratelimit_evictions(const struct shield_ratelimit *r);

/* ---- bad behaviour (behaviour.c) ----------------------------------- */

struct shield_behaviour_config {
    unsigned window_s;     /* sliding window (default 60) */
    unsigned threshold;    /* score in the window that earns a ban (default 50) */
    unsigned ban_s;        /* ban length (default 600) */
    unsigned w_blocked;    /* weight of a request the shield/WAF blocked (10) */
    unsigned w_429;        /* weight of a 429 answer (2) */
    unsigned w_4xx;        /* weight of any other 4xx answer (1) */
    size_t max_entries;    /* table bound (default 100000) */
};
struct shield_behaviour;
struct shield_behaviour *shield_behaviour_new(const struct shield_behaviour_config *c);
void shield_behaviour_free(struct shield_behaviour *b);
/* Counts one response; returns 0, or the ban length in seconds when this
 * response pushed the address over the threshold (returned once per ban). */
unsigned shield_behaviour_note(struct shield_behaviour *b, const struct shield_addr *a,
                               int status, bool blocked, uint64_t now_ms);
/* Seconds of ban left for the address (0: not banned). */
unsigned shield_behaviour_banned(struct shield_behaviour *b, const struct shield_addr *a,
                                 uint64_t now_ms);
/* Bans (seconds > 0) or unbans (0) an address, e.g. from `mamori bans`. */
void shield_behaviour_ban(struct shield_behaviour *b, const struct shield_addr *a,
                          unsigned seconds, uint64_t now_ms);
size_t shield_behaviour_entries(const struct shield_behaviour *b);
/* Copies the bans still running in src into dst (at most 256 per shard,
 * 16,384 in all); returns how many. For a reload that builds a new
 * shield. */
size_t shield_behaviour_copy_bans(struct shield_behaviour *dst, struct shield_behaviour *src,
                                  uint64_t now_ms);

/* ---- challenge (challenge.c) --------------------------------------- */

#define SHIELD_KEY_LEN 32
#define SHIELD_CHALLENGE_PATH "/.mamori/challenge"
#define SHIELD_COOKIE_NAME "mamori_pass"

struct shield_challenge;
/* key: SHIELD_KEY_LEN bytes, or NULL for a random one (RAND_bytes; cookies
 * then die with the process). difficulty: leading zero bits (1..32). */
struct shield_challenge *shield_challenge_new(const uint8_t *key, unsigned difficulty,
                                              unsigned cookie_ttl_s, unsigned nonce_ttl_s);
void shield_challenge_free(struct shield_challenge *c);
/* Reads a key file: 32 raw bytes or 64 hex digits (+ optional newline). */
int shield_challenge_read_key(const char *path, uint8_t key[SHIELD_KEY_LEN], char *err,
                              size_t errcap);
/* A fresh nonce (hex text, NUL-terminated) bound to addr and time. cap>=96. */
int shield_challenge_nonce(const struct shield_challenge *c, const struct shield_addr *a,
                           uint64_t now_ms, char *out, size_t cap);
/* Checks a solution: the nonce is ours, for this address, not expired, and
 * SHA-256(nonce || counter) has `difficulty` leading zero bits. */
bool shield_challenge_verify(const struct shield_challenge *c, const struct shield_addr *a,
                             const char *nonce, size_t nonce_n, const char *counter,
                             size_t counter_n, uint64_t now_ms);
/* The cookie value "EXPIRY.HEXMAC" for addr (cap >= 96). */
int shield_challenge_cookie(const struct shield_challenge *c, const struct shield_addr *a,
                            uint64_t now_ms, char *out, size_t cap);
bool shield_challenge_cookie_valid(const struct shield_challenge *c, const struct shield_addr *a,
                                   const char *val, size_t n, uint64_t now_ms);
unsigned shield_challenge_difficulty(const struct shield_challenge *c);
unsigned shield_challenge_cookie_ttl(const struct shield_challenge *c);
/* Counts leading zero bits of SHA-256(nonce || counter): for test clients. */
unsigned shield_pow_zero_bits(const char *nonce, size_t nonce_n, const char *counter,
                              size_t counter_n);

/* ---- pages (pages.c) ------------------------------------------------- */

/* A rendered answer; body points into the caller's buffer. */
struct shield_response {
    int status;
    const char *content_type;
    char headers[512]; /* extra header lines, each ending "\r\n" */
    const char *body;
    size_t body_len;
};
/* True if the Accept header prefers HTML (a browser navigation). */
bool shield_wants_html(const char *accept, size_t n);
int shield_page_429(bool html, unsigned retry_after, char *buf, size_t cap,
                    struct shield_response *out);
int shield_page_403(bool html, const char *reason, char *buf, size_t cap,
                    struct shield_response *out);
int shield_page_challenge(const char *nonce, unsigned difficulty, const char *return_to,
                          size_t return_n, char *buf, size_t cap, struct shield_response *out);

/* ---- allowlist rules / exclusions (allowrule.c) -------------------- */

enum shield_allow_match {
    SHIELD_ALLOW_ANY,         /* everywhere */
    SHIELD_ALLOW_PATH,        /* REQUEST_FILENAME begins with value */
    SHIELD_ALLOW_PATH_EXACT,  /* REQUEST_FILENAME equals value */
    SHIELD_ALLOW_ADDR,        /* REMOTE_ADDR in value (address or CIDR list) */
    SHIELD_ALLOW_HEADER,      /* REQUEST_HEADERS:header equals value */
};
struct shield_allowrule {
    enum shield_allow_match match;
    const char *value;  /* path, address list "a,b/24", or header value */
    const char *header; /* SHIELD_ALLOW_HEADER: header name */
    unsigned rule_id;   /* rule to turn off (or first of a range) ... */
    unsigned rule_last; /* ... last of the range, 0 = just rule_id */
    const char *tag;    /* ... or every rule with this tag (rule_id 0) */
    const char *target; /* NULL: the whole rule; else e.g. "ARGS:content" */
};
/* One SecLang rule (ending "\n") for the exclusion, with the given id.
 * Load the output BEFORE CRS (runtime ctl: exclusions, phase 1).
 * Returns the length written, or -1 with a reason in err (unsafe
 * characters, missing fields, output too small). */
int shield_allowrule_to_seclang(const struct shield_allowrule *r, unsigned id, char *out,
                                size_t cap, char *err, size_t errcap);
/* Parses the declarative line form (see docs/shield.md):
 *   [path PREFIX | exact PATH | addr LIST | header NAME=VALUE | any]
 *       (rule ID | rule FIRST-LAST | tag TAG) [target VAR]
 * e.g.
 *   path /api/upload rule 942100 target ARGS:content
 *   exact /search rule 941100-941199
 *   addr 10.0.0.0/8,192.168.1.5 rule 920350
 *   header X-Monitor=uptime tag attack-protocol
 * ('#' starts a comment; no match word = everywhere).
 * Strings in `r` point into `buf` (which is modified: NULs are written).
 * 1 = rule parsed, 0 = blank/comment line, -1 = error in err. */
int shield_allowrule_parse(char *line, struct shield_allowrule *r, char *err, size_t errcap);
/* Converts a whole file of line-form rules; ids from first_id on. Returns
 * bytes written or -1 with `name:line: reason`. */
long shield_allowrule_compile(const char *text, size_t n, const char *name, unsigned first_id,
                              char *out, size_t cap, char *err, size_t errcap);
/* Given `mamori eval --json` output for a blocked request and its path,
 * writes the narrowest exclusions in line form (one per matched detection
 * rule: rule id + target + exact path). Returns bytes, or -1 with err. */
long shield_propose_exclusion(const char *json, size_t json_n, const char *path, size_t path_n,
                              char *out, size_t cap, char *err, size_t errcap);

/* ---- the ordered check (shield.c) ---------------------------------- */

enum shield_list_kind {
    SHIELD_LIST_DENY,    /* operator deny list */
    SHIELD_LIST_TOR,     /* Tor exit nodes */
    SHIELD_LIST_PROXY,   /* open proxies / reputation feeds */
    SHIELD_LIST_ALLOW,   /* operator allow: skips rate limits and challenge */
    SHIELD_LIST_KINDS
};

#define SHIELD_MAX_PATH_RULES 64
#define SHIELD_MAX_RATE_RULES 16

struct shield_config {
    /* Enforce the Tor / proxy lists. A zeroed config leaves them off: the
     * proxy sets them when tor-list / proxy-list are configured. */
    bool block_tor, block_proxy;
    /* Rate limits: rule 0 is the per-address limit; more rules can key by
     * path prefix, method or header. per_sec 0 = rule unused. */
    struct {
        double per_sec;
        unsigned burst;
        enum shield_rate_key key;
        const char *path_prefix; /* SHIELD_RATE_KEY_PATH: limits only this prefix */
        const char *header;      /* SHIELD_RATE_KEY_HEADER: header name (informational) */
    } rate[SHIELD_MAX_RATE_RULES];
    size_t rate_max_entries;           /* per rule; default 100000 */
    /* Challenge: off unless enabled. */
    bool challenge;
    unsigned challenge_difficulty;     /* default 16 */
    unsigned challenge_cookie_ttl_s;   /* default 3600 */
    const uint8_t *challenge_key;      /* NULL: random */
    struct shield_behaviour_config behaviour;
};

struct shield;
struct shield *shield_new(const struct shield_config *c, char *err, size_t errcap);
void shield_free(struct shield *s);
/* Replaces a list (takes the caller's reference; NULL removes it). */
void shield_set_list(struct shield *s, enum shield_list_kind k, struct shield_iplist *l);
/* "Only these addresses may reach PREFIX" (segment boundary: /admin
 * covers /admin and /admin/x, not /administrator). Takes the reference. */
int shield_set_path_allow(struct shield *s, const char *prefix, size_t n, struct shield_iplist *l);

struct shield_request {
    struct shield_addr addr;
    const char *method; size_t method_len;
    const char *path; size_t path_len;    /* no query string */
    const char *query; size_t query_len;  /* without '?' */
    const char *accept; size_t accept_len;
    const char *cookie; size_t cookie_len;      /* the Cookie header */
    const char *key_header; size_t key_header_len; /* value for KEY_HEADER rules */
    uint64_t now_ms; /* wall clock ms; 0 = now */
};

enum shield_action {
    SHIELD_PASS,            /* continue to the WAF */
    SHIELD_PASS_ALLOWLISTED,/* operator allow list: shield skipped; WAF still runs */
    SHIELD_DENY,            /* 403: ban, deny list, Tor/proxy, path allowlist */
    SHIELD_RATE_LIMITED,    /* 429 with Retry-After */
    SHIELD_CHALLENGE,       /* serve the challenge page (HTML) */
    SHIELD_CHALLENGE_FAIL,  /* non-HTML request without a cookie, or a bad
                             * solution: 403 (303 back to the page for a
                             * browser whose solution failed) */
    SHIELD_CHALLENGE_SOLVED,/* 303 to the original page with Set-Cookie */
};
struct shield_verdict {
    enum shield_action action;
    int status;            /* HTTP status to answer (0 for PASS) */
    unsigned retry_after;  /* seconds, for 429 */
    const char *reason;    /* static text: "banned", "deny-list", "tor", ... */
    const char *tag;       /* list tag (e.g. SBL id) or "" */
};

void shield_check(struct shield *s, const struct shield_request *r, struct shield_verdict *v);
/* Renders the answer for a non-PASS verdict into buf. 0 or -1. */
int shield_render(struct shield *s, const struct shield_request *r,
                  const struct shield_verdict *v, char *buf, size_t cap,
                  struct shield_response *out);
/* After each response: counts it for bad behaviour; returns the ban length
 * in seconds when the address just earned a ban (the watch module may
 * then ban it in nftables), else 0. The shield itself refuses the address
 * from now on. */
unsigned shield_note_response(struct shield *s, const struct shield_addr *a, int status,
                              bool blocked, uint64_t now_ms);
struct shield_behaviour *shield_get_behaviour(struct shield *s);

#endif
