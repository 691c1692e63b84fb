/* watch.conf: one "key value" setting per line, '#' starts a comment.
 * Self-contained on purpose (the proxy's config lives in src/proxy/config.c);
 * every key is listed in docs/watch.md. Strings are copied into one owned
 * pool so the struct can be handed around by pointer. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/watch.h"

void watch_conf_defaults(struct watch_conf *c)
{
    memset(c, 0, sizeof *c);
    static const double th[WATCH_NSVC] = {5, 30, 5, 5, 10};
    static const int win[WATCH_NSVC] = {600, 120, 600, 600, 300};
    for (int i = 0; i < WATCH_NSVC; i++) {
        c->threshold[i] = th[i];
        c->window_s[i] = win[i];
    }
    c->ban_s = 600;
    c->ban_max_s = 7 * 86400;
    c->v6_prefix = 64;
    c->max_tracked = 100000;
    c->max_bans = 100000;
    c->max_known = 65536;
    c->nft_bin = "nft";
    c->journalctl_bin = "/usr/bin/journalctl";
    c->notify_per_min = 6;
    c->notify_dedup_s = 600;
    c->disk_warn_pct = 85;
    c->disk_crit_pct = 95;
    c->log_max_bytes = 64u << 20;
    c->store_max_age_s = 90 * 86400;
    c->store_max_bytes = 256ll << 20;
    /* loopback is always allowed */
    watch_addr_parse("127.0.0.0/8", 11, &c->allow[c->nallow++]);
    watch_addr_parse("::1", 3, &c->allow[c->nallow++]);
}

void watch_conf_free(struct watch_conf *c)
{
    free(c->strs);
    c->strs = NULL;
}

/* Strings are kept as offsets until the pool stops moving; simpler: the
 * pool is allocated once at its maximum. */
#define POOL_MAX (64 * 1024)

static const char *keep(struct watch_conf *c, const char *s)
{
    size_t n = strlen(s) + 1;
    if (!c->strs) {
        c->strs = malloc(POOL_MAX);
        if (!c->strs)
            return NULL;
        c->strs_cap = POOL_MAX;
    }
    if (n > c->strs_cap - c->strs_len)
        return NULL;
    char *p = c->strs + c->strs_len;
    memcpy(p, s, n);
    c->strs_len += n;
    return p;
}

static int num(const char *v, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || e == v || x < lo || x > hi)
        return -1;
    /* allow s/m/h/d suffixes for durations */
    if (*e == 's')
        e++;
    else if (*e == 'm' && x <= hi / 60)
        x *= 60, e++;
    else if (*e == 'h' && x <= hi / 3600)
        x *= 3600, e++;
    else if (*e == 'd' && x <= hi / 86400)
        x *= 86400, e++;
    else if (*e == 'M' && x <= hi / (1 << 20))
        x *= 1 << 20, e++;
    if (*e)
        return -1;
    *out = x;
    return 0;
}

#define ADD_STR(arr, cnt, max)                                                              \
    do {                                                                                    \
        if (c->cnt >= (max)) {                                                              \
            snprintf(err, errlen, "too many '%s' lines (max %d)", key, (int)(max));         \
            return -1;                                                                      \
        }                                                                                   \
        if (!(c->arr[c->cnt] = keep(c, val)))                                               \
            goto toolong;                                                                   \
        c->cnt++;                                                                           \
        return 0;                                                                           \
    } while (0)

int watch_conf_set(struct watch_conf *c, const char *key, const char *val, char *err,
                   size_t errlen)
{
    long x;
    const char **sp = NULL;
    if (!strcmp(key, "allow")) {
        if (c->nallow >= WATCH_MAX_ALLOW) {
            snprintf(err, errlen, "too many allow lines (max %d)", WATCH_MAX_ALLOW);
            return -1;
        }
        if (watch_addr_parse(val, strlen(val), &c->allow[c->nallow]) < 0) {
            snprintf(err, errlen, "allow: '%.64s' is not an address or CIDR", val);
            return -1;
        }
        c->nallow++;
        return 0;
    }
    if (!strcmp(key, "threshold") || !strcmp(key, "window")) {
        char svc[16];
        const char *sp2 = strchr(val, ' ');
        size_t sl = sp2 ? (size_t)(sp2 - val) : 0;
        if (!sp2 || sl >= sizeof svc) {
            snprintf(err, errlen, "%s: expected 'SERVICE VALUE'", key);
            return -1;
        }
        memcpy(svc, val, sl);
        svc[sl] = '\0';
        int s = watch_svc_from_name(svc);
        while (*sp2 == ' ')
            sp2++;
        if (s < 0) {
            snprintf(err, errlen, "%s: unknown service '%s' (ssh, http, ftp, mail, proxy)", key, svc);
            return -1;
        }
        if (!strcmp(key, "threshold")) {
            char *e;
            double d = strtod(sp2, &e);
            if (e == sp2 || *e || d <= 0 || d > 1e6) {
                snprintf(err, errlen, "threshold: '%.32s' is not a positive number", sp2);
                return -1;
            }
            c->threshold[s] = d;
        } else {
            if (num(sp2, 1, 30L * 86400, &x) < 0) {
                snprintf(err, errlen, "window: '%.32s' is not a duration", sp2);
                return -1;
            }
            c->window_s[s] = (int)x;
        }
        return 0;
    }
    struct {
        const char *k;
        long lo, hi;
        int what; /* 0 int, 1 size_t, 2 int64 */
        void *p;
    } nums[] = {
        {"ban_time", 1, 365L * 86400, 0, &c->ban_s},
        {"ban_time_max", 1, 10L * 365 * 86400, 0, &c->ban_max_s},
        {"ipv6_prefix", 16, 128, 0, &c->v6_prefix},
        {"max_tracked", 16, 50000000, 1, &c->max_tracked},
        {"max_bans", 16, 50000000, 1, &c->max_bans},
        {"max_known", 16, 50000000, 1, &c->max_known},
        {"notify_per_minute", 1, 10000, 0, &c->notify_per_min},
        {"notify_dedup", 0, 7L * 86400, 0, &c->notify_dedup_s},
        {"disk_warn", 1, 100, 0, &c->disk_warn_pct},
        {"disk_critical", 1, 100, 0, &c->disk_crit_pct},
        {"log_max_bytes", 4096, 1L << 40, 1, &c->log_max_bytes},
        {"store_max_age", 60, 10L * 365 * 86400, 2, &c->store_max_age_s},
        {"store_max_bytes", 65536, 1L << 40, 2, &c->store_max_bytes},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].k))
            continue;
        if (num(val, nums[i].lo, nums[i].hi, &x) < 0) {
            snprintf(err, errlen, "%s: '%.32s' is not a number in %ld..%ld", key, val, nums[i].lo,
                     nums[i].hi);
            return -1;
        }
        if (nums[i].what == 0)
            *(int *)nums[i].p = (int)x;
        else if (nums[i].what == 1)
            *(size_t *)nums[i].p = (size_t)x;
        else
            *(int64_t *)nums[i].p = x;
        return 0;
    }
    if (!strcmp(key, "nft")) {
        if (strcmp(val, "on") && strcmp(val, "off")) {
            snprintf(err, errlen, "nft: expected on or off");
            return -1;
        }
        c->nft = !strcmp(val, "on");
        return 0;
    }
    if (!strcmp(key, "smtp_insecure")) {
        c->smtp_insecure = !strcmp(val, "on");
        return 0;
    }
    if (!strcmp(key, "file"))
        ADD_STR(files, nfiles, WATCH_MAX_FILES);
    if (!strcmp(key, "mute"))
        ADD_STR(mutes, nmutes, WATCH_MAX_MUTES);
    if (!strcmp(key, "disk"))
        ADD_STR(disks, ndisks, WATCH_MAX_DISKS);
    if (!strcmp(key, "grow_dir"))
        ADD_STR(grow_dirs, ngrow_dirs, WATCH_MAX_DISKS);
    if (!strcmp(key, "store"))
        sp = &c->store_path;
    else if (!strcmp(key, "nft_bin"))
        sp = &c->nft_bin;
    else if (!strcmp(key, "journalctl_bin"))
        sp = &c->journalctl_bin;
    else if (!strcmp(key, "slack_url"))
        sp = &c->slack_url;
    else if (!strcmp(key, "webhook_url"))
        sp = &c->webhook_url;
    else if (!strcmp(key, "webhook_secret"))
        sp = &c->webhook_secret;
    else if (!strcmp(key, "smtp_url"))
        sp = &c->smtp_url;
    else if (!strcmp(key, "smtp_from"))
        sp = &c->smtp_from;
    else if (!strcmp(key, "smtp_to"))
        sp = &c->smtp_to;
    else if (!strcmp(key, "smtp_user"))
        sp = &c->smtp_user;
    else if (!strcmp(key, "smtp_pass"))
        sp = &c->smtp_pass;
    else if (!strcmp(key, "log"))
        sp = &c->log_path;
    else if (!strcmp(key, "user"))
        sp = &c->user;
    if (!sp) {
        snprintf(err, errlen, "unknown setting '%.64s'", key);
        return -1;
    }
    if (!(*sp = keep(c, val)))
        goto toolong;
    return 0;
toolong:
    snprintf(err, errlen, "%s: value too long (settings hold %d bytes in all)", key, POOL_MAX);
    return -1;
}

int watch_conf_load(struct watch_conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], e2[256];
    int ln = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line too long", path, ln);
            rc = -1;
            goto out;
        }
        while (n && isspace((unsigned char)line[n - 1]))
            line[--n] = '\0';
        char *k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k || *k == '#')
            continue;
        char *v = k;
        while (*v && !isspace((unsigned char)*v))
            v++;
        if (*v)
            *v++ = '\0';
        while (isspace((unsigned char)*v))
            v++;
        if (!*v) {
            snprintf(err, errlen, "%s:%d: '%.64s' needs a value", path, ln, k);
            rc = -1;
            goto out;
        }
        if (watch_conf_set(c, k, v, e2, sizeof e2) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, ln, e2);
            rc = -1;
            goto out;
        }
    }
out:
    fclose(f);
    return rc;
}

bool watch_conf_allowed(const struct watch_conf *c, const struct watch_addr *a)
{
    for (size_t i = 0; i < c->nallow; i++)
        if (watch_addr_in(&c->allow[i], a))
            return true;
    return false;
}
