/* The proxy's configuration: defaults, the config file and its checks.
 *
 * The file is line-based: "directive arg..." with '#' comments, arguments
 * separated by blanks, double quotes around an argument that holds blanks.
 * Every problem is reported as "file:line: problem" and all of them are
 * reported in one pass (docs/config.md lists the directives). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "shield/shield.h"

#define CFG_MAX_LINE 4096
#define CFG_MAX_ARGS 64

static const char *const default_strip[] = {
    "Server",        "X-Powered-By",   "X-AspNet-Version", "X-AspNetMvc-Version",
    "X-Generator",   "X-Drupal-Cache", "X-Drupal-Dynamic-Cache", "X-Runtime",
    "X-Version",     "X-Backend-Server", "X-Varnish-Backend", "X-Litespeed-Cache",
    "X-Turbo-Charged-By", "X-Pingback",
};

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static int set_str(char **dst, const char *v)
{
    char *p = xstrdup(v);
    if (!p)
        return -1;
    free(*dst);
    *dst = p;
    return 0;
}

void proxy_config_init(struct proxy_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_body = 13u << 20;
    c->max_request_line = 8192;
    c->max_head = 65536;
    c->max_headers = 100;
    c->max_response_head = 65536;
    c->header_timeout = 10000;
    c->body_timeout = 30000;
    c->idle_timeout = 60000;
    c->send_timeout = 30000;
    c->upstream_connect_timeout = 5000;
    c->upstream_timeout = 60000;
    c->drain_timeout = 30000;
    c->event_log_max_bytes = 100u << 20;
    c->max_connections = 10000;
    for (size_t i = 0; i < sizeof default_strip / sizeof default_strip[0]; i++)
        c->strip[c->nstrip++] = xstrdup(default_strip[i]);
    c->referrer_policy = xstrdup("strict-origin-when-cross-origin");
    c->hsts = xstrdup("max-age=31536000");
    c->nosniff = true;
    c->block_tor = true;
    c->block_proxy = true;
    c->managed_rules = true;
}

void proxy_config_free(struct proxy_config *c)
{
    if (!c)
        return;
    free(c->source);
    for (size_t i = 0; i < c->ncerts; i++) {
        free(c->certs[i].name);
        free(c->certs[i].cert);
        free(c->certs[i].key);
    }
    for (size_t i = 0; i < c->nrules; i++)
        free(c->rules[i]);
    for (size_t i = 0; i < c->nstrip; i++)
        free(c->strip[i]);
    free(c->crs_dir);
    free(c->state_dir);
    free(c->event_log);
    free(c->access_log);
    free(c->referrer_policy);
    free(c->hsts);
    free(c->user);
    for (size_t i = 0; i < c->nrate; i++)
        free(c->rate[i].arg);
    for (int k = 0; k < PROXY_LIST_KINDS; k++)
        for (size_t i = 0; i < c->nlists[k]; i++)
            free(c->lists[k][i]);
    for (size_t i = 0; i < c->npath_allow; i++) {
        free(c->path_allow[i].prefix);
        for (size_t j = 0; j < c->path_allow[i].nitems; j++)
            free(c->path_allow[i].items[j]);
    }
    free(c->challenge_key);
    for (size_t i = 0; i < c->nallowlists; i++)
        free(c->allowlists[i]);
    memset(c, 0, sizeof(*c));
}

int proxy_parse_addr(const char *s, struct proxy_addr *a)
{
    char host[64];
    const char *port;
    memset(a, 0, sizeof(*a));
    if (!s || strlen(s) >= sizeof a->text)
        return -1;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        port = rb + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host || strchr(s, ':') != colon)
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!*port || *end || errno || p < 1 || p > 65535)
        return -1;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (s[0] != '[' && inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        a->len = sizeof(*v4);
    } else if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        a->len = sizeof(*v6);
    } else {
        return -1;
    }
    snprintf(a->text, sizeof a->text, "%s", s);
    return 0;
}

int proxy_parse_cidr(const char *s, struct proxy_cidr *c)
{
    char host[64];
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(c, 0, sizeof(*c));
    int maxbits;
    if (inet_pton(AF_INET, host, c->addr) == 1) {
        c->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, host, c->addr) == 1) {
        c->family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }
    c->bits = maxbits;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > maxbits)
            return -1;
        c->bits = (int)b;
    }
    return 0;
}

int proxy_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k': mul = 1ull << 10; break;
        case 'm': mul = 1ull << 20; break;
        case 'g': mul = 1ull << 30; break;
        default: return -1;
        }
        end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return -1;
    }
    if (v > SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int proxy_parse_duration_ms(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    double mul = 1000;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s") || !*end)
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else
        return -1;
    double ms = v * mul;
    if (ms > 86400000.0)
        return -1;
    *out = (unsigned)ms;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcasecmp(s, "true")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(s, "off") || !strcasecmp(s, "no") || !strcasecmp(s, "false")) {
        *out = false;
        return 0;
    }
    return -1;
}

static bool valid_header_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static bool valid_header_value(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (nargs != (n)) {                                                                        \
            snprintf(err, errlen, "%s takes %d argument%s", key, (n), (n) == 1 ? "" : "s");       \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

struct dur_key {
    const char *key;
    size_t off;
};

static const struct dur_key dur_keys[] = {
    {"header-timeout", offsetof(struct proxy_config, header_timeout)},
    {"body-timeout", offsetof(struct proxy_config, body_timeout)},
    {"idle-timeout", offsetof(struct proxy_config, idle_timeout)},
    {"send-timeout", offsetof(struct proxy_config, send_timeout)},
    {"upstream-connect-timeout", offsetof(struct proxy_config, upstream_connect_timeout)},
    {"upstream-timeout", offsetof(struct proxy_config, upstream_timeout)},
    {"drain-timeout", offsetof(struct proxy_config, drain_timeout)},
};

struct size_key {
    const char *key;
    size_t off;
    size_t min;
};

static const struct size_key size_keys[] = {
    {"max-body", offsetof(struct proxy_config, max_body), 0},
    {"max-request-line", offsetof(struct proxy_config, max_request_line), 64},
    {"max-header-bytes", offsetof(struct proxy_config, max_head), 256},
    {"max-headers", offsetof(struct proxy_config, max_headers), 1},
    {"max-response-header-bytes", offsetof(struct proxy_config, max_response_head), 256},
    {"event-log-max-bytes", offsetof(struct proxy_config, event_log_max_bytes), 4096},
    {"event-log-rotate-bytes", offsetof(struct proxy_config, event_log_rotate_bytes), 1024},
    {"max-connections", offsetof(struct proxy_config, max_connections), 1},
};

static int add_files(const char *key, char **dst, size_t *n, const char *const *args,
                     size_t nargs, char *err, size_t errlen)
{
    if (nargs < 1) {
        snprintf(err, errlen, "%s takes FILE...", key);
        return -1;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (*n >= PROXY_MAX_LISTS) {
            snprintf(err, errlen, "%s: too many files (max %d)", key, PROXY_MAX_LISTS);
            return -1;
        }
        if (access(args[i], R_OK) != 0) {
            snprintf(err, errlen, "%s: %s: %s", key, args[i], strerror(errno));
            return -1;
        }
        if (!(dst[*n] = xstrdup(args[i]))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        (*n)++;
    }
    return 0;
}

/* rate-limit RATE [path PREFIX | method | header NAME], or the flag form
 * "RATE[,burst=N][,path=PREFIX|,method|,header=NAME]". */
static int set_rate(struct proxy_config *c, const char *const *args, size_t nargs, char *err,
                    size_t errlen)
{
    if (nargs < 1) {
        snprintf(err, errlen, "rate-limit takes RATE [path PREFIX | method | header NAME]");
        return -1;
    }
    if (c->nrate >= PROXY_MAX_RATE) {
        snprintf(err, errlen, "too many rate-limit rules (max %d)", PROXY_MAX_RATE);
        return -1;
    }
    struct proxy_rate r = {0};
    const char *s = args[0];
    /* the rate and its burst are the leading part; options follow */
    const char *opt = NULL;
    for (const char *p = strchr(s, ','); p; p = strchr(p + 1, ','))
        if (strncmp(p + 1, "burst=", 6)) {
            opt = p;
            break;
        }
    size_t rn = opt ? (size_t)(opt - s) : strlen(s);
    char why[160];
    if (shield_rate_parse(s, rn, &r.per_sec, &r.burst, why, sizeof why) < 0) {
        snprintf(err, errlen, "rate-limit: %s", why);
        return -1;
    }
    const char *kw = NULL, *val = NULL;
    char kbuf[16];
    if (opt) {
        if (nargs > 1)
            goto usage;
        const char *o = opt + 1, *eq = strchr(o, '=');
        size_t kn = eq ? (size_t)(eq - o) : strlen(o);
        if (kn >= sizeof kbuf || strchr(o, ','))
            goto usage;
        memcpy(kbuf, o, kn);
        kbuf[kn] = '\0';
        kw = kbuf;
        val = eq ? eq + 1 : NULL;
    } else if (nargs > 1) {
        kw = args[1];
        val = nargs > 2 ? args[2] : NULL;
        if (nargs > 3)
            goto usage;
    }
    if (!kw) {
        r.key = PROXY_RATE_ADDR;
    } else if (!strcmp(kw, "method") && !val) {
        r.key = PROXY_RATE_METHOD;
    } else if (!strcmp(kw, "path") && val) {
        if (val[0] != '/' || !valid_header_value(val) || strchr(val, ' ')) {
            snprintf(err, errlen, "rate-limit: path '%s' must start with '/'", val);
            return -1;
        }
        r.key = PROXY_RATE_PATH;
    } else if (!strcmp(kw, "header") && val) {
        if (!valid_header_name(val)) {
            snprintf(err, errlen, "rate-limit: '%s' is not a header name", val);
            return -1;
        }
        r.key = PROXY_RATE_HEADER;
    } else {
        goto usage;
    }
    if (val && !(r.arg = xstrdup(val))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->rate[c->nrate++] = r;
    return 0;
usage:
    snprintf(err, errlen, "rate-limit takes RATE [path PREFIX | method | header NAME] "
                          "(flag form: RATE[,burst=N][,path=PREFIX|,method|,header=NAME])");
    return -1;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The bot shield's directives; 1 = not one of them. */
static int set_shield(struct proxy_config *c, const char *key, const char *const *args,
                      size_t nargs, char *err, size_t errlen)
{
    static const char *const list_keys[PROXY_LIST_KINDS] = {"deny-list", "allow-list",
                                                            "tor-list", "proxy-list"};
    for (int k = 0; k < PROXY_LIST_KINDS; k++)
        if (!strcmp(key, list_keys[k]))
            return add_files(key, c->lists[k], &c->nlists[k], args, nargs, err, errlen);
    if (!strcmp(key, "allowlist"))
        return add_files(key, c->allowlists, &c->nallowlists, args, nargs, err, errlen);
    if (!strcmp(key, "rate-limit"))
        return set_rate(c, args, nargs, err, errlen);
    if (!strcmp(key, "block-tor") || !strcmp(key, "block-proxy") || !strcmp(key, "challenge") ||
        !strcmp(key, "managed-rules") || !strcmp(key, "bans")) {
        NEED(1);
        bool *dst = !strcmp(key, "block-tor")     ? &c->block_tor
                    : !strcmp(key, "block-proxy") ? &c->block_proxy
                    : !strcmp(key, "bans")        ? &c->bans
                    : !strcmp(key, "challenge")   ? &c->challenge
                                                  : &c->managed_rules;
        if (parse_bool(args[0], dst) < 0) {
            snprintf(err, errlen, "%s takes on or off", key);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "challenge-difficulty") || !strcmp(key, "ban-threshold")) {
        NEED(1);
        unsigned long v;
        bool diff = !strcmp(key, "challenge-difficulty");
        if (parse_uint(args[0], 1, diff ? 32 : 1000000, &v) < 0) {
            snprintf(err, errlen, "%s takes %s", key,
                     diff ? "1-32 (leading zero bits)" : "1-1000000");
            return -1;
        }
        *(diff ? &c->challenge_difficulty : &c->ban_threshold) = (unsigned)v;
        return 0;
    }
    if (!strcmp(key, "challenge-cookie-ttl") || !strcmp(key, "ban-window") ||
        !strcmp(key, "ban-time")) {
        NEED(1);
        unsigned ms;
        if (proxy_parse_duration_ms(args[0], &ms) < 0 || ms < 1000) {
            snprintf(err, errlen, "%s: '%s' is not a duration of at least 1s (e.g. 60s, 10m)", key,
                     args[0]);
            return -1;
        }
        unsigned *dst = !strcmp(key, "ban-window") ? &c->ban_window
                        : !strcmp(key, "ban-time") ? &c->ban_time
                                                   : &c->challenge_cookie_ttl;
        *dst = ms / 1000;
        return 0;
    }
    if (!strcmp(key, "rate-limit-table") || !strcmp(key, "ban-table")) {
        NEED(1);
        unsigned long v;
        if (parse_uint(args[0], 64, 100000000, &v) < 0) {
            snprintf(err, errlen, "%s takes 64-100000000 (entries)", key);
            return -1;
        }
        *(!strcmp(key, "ban-table") ? &c->ban_table : &c->rate_table) = (size_t)v;
        return 0;
    }
    if (!strcmp(key, "challenge-key")) {
        NEED(1);
        if (access(args[0], R_OK) != 0) {
            snprintf(err, errlen, "challenge-key: %s: %s", args[0], strerror(errno));
            return -1;
        }
        return set_str(&c->challenge_key, args[0]);
    }
    if (!strcmp(key, "path-allow")) {
        if (nargs < 2 || nargs - 1 > PROXY_MAX_PATH_ITEMS) {
            snprintf(err, errlen, "path-allow takes PREFIX FILE|CIDR... (at most %d)",
                     PROXY_MAX_PATH_ITEMS);
            return -1;
        }
        if (args[0][0] != '/') {
            snprintf(err, errlen, "path-allow: prefix '%s' must start with '/'", args[0]);
            return -1;
        }
        if (c->npath_allow >= PROXY_MAX_PATH_ALLOW) {
            snprintf(err, errlen, "too many path-allow rules (max %d)", PROXY_MAX_PATH_ALLOW);
            return -1;
        }
        struct proxy_path_allow *pa = &c->path_allow[c->npath_allow];
        memset(pa, 0, sizeof *pa);
        pa->prefix = xstrdup(args[0]);
        c->npath_allow++; /* owned from here on: freed with the config */
        for (size_t i = 1; i < nargs; i++) {
            struct proxy_cidr tmp;
            if (proxy_parse_cidr(args[i], &tmp) < 0 && access(args[i], R_OK) != 0) {
                snprintf(err, errlen, "path-allow: '%s' is neither an address/CIDR nor a "
                                      "readable file", args[i]);
                return -1;
            }
            pa->items[pa->nitems++] = xstrdup(args[i]);
        }
        return 0;
    }
    return 1;
}

int proxy_config_set(struct proxy_config *c, const char *key, const char *const *args,
                     size_t nargs, char *err, size_t errlen)
{
    int sr = set_shield(c, key, args, nargs, err, errlen);
    if (sr <= 0)
        return sr;
    for (size_t i = 0; i < sizeof dur_keys / sizeof dur_keys[0]; i++)
        if (!strcmp(key, dur_keys[i].key)) {
            NEED(1);
            unsigned *dst = (unsigned *)((char *)c + dur_keys[i].off);
            if (proxy_parse_duration_ms(args[0], dst) < 0 || *dst == 0) {
                snprintf(err, errlen, "%s: '%s' is not a duration (e.g. 10s, 500ms, 2m)", key,
                         args[0]);
                return -1;
            }
            return 0;
        }
    for (size_t i = 0; i < sizeof size_keys / sizeof size_keys[0]; i++)
        if (!strcmp(key, size_keys[i].key)) {
            NEED(1);
            size_t *dst = (size_t *)((char *)c + size_keys[i].off);
            if (proxy_parse_size(args[0], dst) < 0) {
                snprintf(err, errlen, "%s: '%s' is not a size (e.g. 4096, 64k, 13m)", key, args[0]);
                return -1;
            }
            if (*dst < size_keys[i].min) {
                snprintf(err, errlen, "%s: at least %zu", key, size_keys[i].min);
                return -1;
            }
            return 0;
        }
    if (!strcmp(key, "listen")) {
        if (nargs < 1 || nargs > 2 || (nargs == 2 && strcmp(args[1], "tls"))) {
            snprintf(err, errlen, "listen takes ADDR:PORT and an optional 'tls'");
            return -1;
        }
        if (c->nlisten >= PROXY_MAX_LISTEN) {
            snprintf(err, errlen, "too many listen lines (max %d)", PROXY_MAX_LISTEN);
            return -1;
        }
        struct proxy_listen *l = &c->listen[c->nlisten];
        if (proxy_parse_addr(args[0], &l->addr) < 0) {
            snprintf(err, errlen, "listen: '%s' is not ADDR:PORT (IPv6 as [::1]:8080)", args[0]);
            return -1;
        }
        l->tls = nargs == 2;
        c->nlisten++;
        return 0;
    }
    if (!strcmp(key, "upstream")) {
        NEED(1);
        if (proxy_parse_addr(args[0], &c->upstream) < 0) {
            snprintf(err, errlen, "upstream: '%s' is not ADDR:PORT", args[0]);
            return -1;
        }
        c->upstream_set = true;
        return 0;
    }
    if (!strcmp(key, "tls-cert")) {
        NEED(3);
        if (c->ncerts >= PROXY_MAX_CERTS) {
            snprintf(err, errlen, "too many tls-cert lines (max %d)", PROXY_MAX_CERTS);
            return -1;
        }
        for (size_t i = 1; i < 3; i++)
            if (access(args[i], R_OK) != 0) {
                snprintf(err, errlen, "tls-cert: %s: %s", args[i], strerror(errno));
                return -1;
            }
        struct proxy_cert *ce = &c->certs[c->ncerts];
        ce->name = xstrdup(args[0]);
        ce->cert = xstrdup(args[1]);
        ce->key = xstrdup(args[2]);
        c->ncerts++;
        return 0;
    }
    if (!strcmp(key, "rules")) {
        if (nargs < 1) {
            snprintf(err, errlen, "rules takes FILE...");
            return -1;
        }
        for (size_t i = 0; i < nargs; i++) {
            if (c->nrules >= PROXY_MAX_RULES) {
                snprintf(err, errlen, "too many rules files (max %d)", PROXY_MAX_RULES);
                return -1;
            }
            c->rules[c->nrules++] = xstrdup(args[i]);
        }
        return 0;
    }
    if (!strcmp(key, "crs")) {
        NEED(1);
        if (!strcmp(args[0], "off")) {
            c->no_crs = true;
            return 0;
        }
        if (access(args[0], R_OK) != 0) {
            snprintf(err, errlen, "crs: %s: %s", args[0], strerror(errno));
            return -1;
        }
        c->no_crs = false;
        return set_str(&c->crs_dir, args[0]);
    }
    if (!strcmp(key, "paranoia")) {
        NEED(1);
        if (strlen(args[0]) != 1 || args[0][0] < '1' || args[0][0] > '4') {
            snprintf(err, errlen, "paranoia takes 1, 2, 3 or 4");
            return -1;
        }
        c->paranoia = args[0][0] - '0';
        return 0;
    }
    if (!strcmp(key, "detection-only") || !strcmp(key, "nosniff") ||
        !strcmp(key, "allow-root")) {
        NEED(1);
        bool *dst = !strcmp(key, "nosniff")          ? &c->nosniff
                    : !strcmp(key, "detection-only") ? &c->detection_only
                                                     : &c->allow_root;
        if (parse_bool(args[0], dst) < 0) {
            snprintf(err, errlen, "%s takes on or off", key);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "trusted-proxy")) {
        if (nargs < 1) {
            snprintf(err, errlen, "trusted-proxy takes ADDR[/BITS]...");
            return -1;
        }
        for (size_t i = 0; i < nargs; i++) {
            if (c->ntrusted >= PROXY_MAX_TRUSTED) {
                snprintf(err, errlen, "too many trusted proxies (max %d)", PROXY_MAX_TRUSTED);
                return -1;
            }
            if (proxy_parse_cidr(args[i], &c->trusted[c->ntrusted]) < 0) {
                snprintf(err, errlen, "trusted-proxy: '%s' is not an address or CIDR", args[i]);
                return -1;
            }
            c->ntrusted++;
        }
        return 0;
    }
    if (!strcmp(key, "state-dir") || !strcmp(key, "event-log") || !strcmp(key, "access-log") ||
        !strcmp(key, "user")) {
        NEED(1);
        char **dst = !strcmp(key, "state-dir")   ? &c->state_dir
                     : !strcmp(key, "event-log") ? &c->event_log
                     : !strcmp(key, "user")      ? &c->user
                                                 : &c->access_log;
        if (!args[0][0]) {
            snprintf(err, errlen, "%s: empty value", key);
            return -1;
        }
        return set_str(dst, args[0]);
    }
    if (!strcmp(key, "strip-headers") || !strcmp(key, "strip-header")) {
        if (!strcmp(key, "strip-headers")) {
            for (size_t i = 0; i < c->nstrip; i++)
                free(c->strip[i]);
            c->nstrip = 0;
            if (nargs == 1 && !strcmp(args[0], "none"))
                return 0;
        }
        for (size_t i = 0; i < nargs; i++) {
            if (!valid_header_name(args[i])) {
                snprintf(err, errlen, "%s: '%s' is not a header name", key, args[i]);
                return -1;
            }
            if (c->nstrip >= PROXY_MAX_STRIP) {
                snprintf(err, errlen, "too many stripped headers (max %d)", PROXY_MAX_STRIP);
                return -1;
            }
            c->strip[c->nstrip++] = xstrdup(args[i]);
        }
        return 0;
    }
    if (!strcmp(key, "referrer-policy") || !strcmp(key, "hsts")) {
        NEED(1);
        char **dst = !strcmp(key, "hsts") ? &c->hsts : &c->referrer_policy;
        if (!strcmp(args[0], "off")) {
            free(*dst);
            *dst = NULL;
            return 0;
        }
        if (!valid_header_value(args[0])) {
            snprintf(err, errlen, "%s: control characters in the value", key);
            return -1;
        }
        return set_str(dst, args[0]);
    }
    if (!strcmp(key, "workers")) {
        NEED(1);
        if (!strcmp(args[0], "auto")) {
            c->workers = 0;
            return 0;
        }
        char *end;
        long n = strtol(args[0], &end, 10);
        if (!args[0][0] || *end || n < 1 || n > 256) {
            snprintf(err, errlen, "workers takes 1-256 or auto");
            return -1;
        }
        c->workers = (int)n;
        return 0;
    }
    snprintf(err, errlen, "unknown directive '%s'", key);
    return -1;
}

/* Splits a line into arguments; quotes group blanks, '#' outside quotes
 * starts a comment. Returns the count or -1 (unterminated quote). */
static int split_line(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            break;
        if (n >= max)
            return -2;
        if (*p == '"') {
            char *start = ++p;
            while (*p && *p != '"')
                p++;
            if (*p != '"')
                return -1;
            *p++ = '\0';
            argv[n++] = start;
            if (*p && *p != ' ' && *p != '\t')
                return -1;
        } else {
            argv[n++] = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (*p)
                *p++ = '\0';
        }
    }
    return n;
}

int proxy_config_load(struct proxy_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    set_str(&c->source, path);
    int problems = 0;
    char line[CFG_MAX_LINE];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        if (l == sizeof line - 1 && line[l - 1] != '\n') {
            fprintf(stderr, "%s:%u: line longer than %d bytes\n", path, lineno, CFG_MAX_LINE - 2);
            problems++;
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            continue;
        }
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        char *argv[CFG_MAX_ARGS];
        int n = split_line(line, argv, CFG_MAX_ARGS);
        if (n == -1) {
            fprintf(stderr, "%s:%u: unterminated or misplaced quote\n", path, lineno);
            problems++;
            continue;
        }
        if (n == -2) {
            fprintf(stderr, "%s:%u: more than %d arguments\n", path, lineno, CFG_MAX_ARGS - 1);
            problems++;
            continue;
        }
        if (n == 0)
            continue;
        char err[512];
        if (proxy_config_set(c, argv[0], (const char *const *)argv + 1, (size_t)n - 1, err,
                             sizeof err) < 0) {
            fprintf(stderr, "%s:%u: %s\n", path, lineno, err);
            problems++;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
        problems++;
    }
    fclose(f);
    return problems;
}

int proxy_config_finish(struct proxy_config *c, char *err, size_t errlen)
{
    if (!c->upstream_set) {
        snprintf(err, errlen, "no upstream: set 'upstream ADDR:PORT' or --upstream");
        return -1;
    }
    if (c->nlisten == 0) {
        proxy_parse_addr("127.0.0.1:8080", &c->listen[0].addr);
        c->nlisten = 1;
    }
    bool any_tls = false;
    for (size_t i = 0; i < c->nlisten; i++)
        any_tls |= c->listen[i].tls;
    if (any_tls && c->ncerts == 0) {
        snprintf(err, errlen, "a tls listener needs at least one 'tls-cert NAME CERT KEY'");
        return -1;
    }
    if (!c->state_dir)
        c->state_dir = xstrdup(geteuid() == 0 ? "/var/lib/mamori" : "./mamori-state");
    if (!c->event_log) {
        size_t n = strlen(c->state_dir) + sizeof "/events.json";
        c->event_log = malloc(n);
        if (!c->event_log) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(c->event_log, n, "%s/events.json", c->state_dir);
    }
    if (c->event_log_rotate_bytes == 0) {
        size_t r = c->event_log_max_bytes / 4;
        c->event_log_rotate_bytes = r > (10u << 20) ? (10u << 20) : r;
    }
    if (c->event_log_rotate_bytes * 2 > c->event_log_max_bytes) {
        snprintf(err, errlen, "event-log-rotate-bytes (%zu) must be at most half of "
                              "event-log-max-bytes (%zu)",
                 c->event_log_rotate_bytes, c->event_log_max_bytes);
        return -1;
    }
    if (c->max_request_line > c->max_head) {
        snprintf(err, errlen, "max-request-line is larger than max-header-bytes");
        return -1;
    }
    if (c->max_headers > 10000) {
        snprintf(err, errlen, "max-headers: at most 10000");
        return -1;
    }
    return 0;
}
