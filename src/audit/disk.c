/* Disk and logs: filesystems near full (facts, or statvfs on the live host),
 * the biggest and fastest-growing logs by apparent size, logs no logrotate
 * rule covers, and journald without a size cap. Only stat(2) is used on log
 * files, so a 100 GB log costs nothing. */
#include "audit/audit.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <yajl/yajl_tree.h>

#define LOG_MAX_FILES 4096
#define LOG_MAX_RULES 512

static void fs_usage(struct audit_ctx *c, const char *mount, double size, double avail)
{
    if (size <= 0)
        return;
    double used = 100.0 * (size - avail) / size;
    if (used >= 95)
        audit_add(c, "disk.full", AUDIT_HIGH, "A filesystem is almost full",
                  "Free space now: journalctl --vacuum-size=200M, apt-get clean, remove old logs "
                  "and backups; then find the cause (du -xh / | sort -h | tail).",
                  "%s %.0f%% used (%.1f GiB free)", mount, used, avail / (1 << 30));
    else if (used >= 85)
        audit_add(c, "disk.nearly-full", AUDIT_MEDIUM, "A filesystem is filling up",
                  "Clean up before it fills: old logs, apt-get clean, old backups.",
                  "%s %.0f%% used (%.1f GiB free)", mount, used, avail / (1 << 30));
}

static void check_filesystems(struct audit_ctx *c)
{
    yajl_val fs = audit_fact(c, "filesystems");
    if (fs && YAJL_IS_ARRAY(fs)) {
        for (size_t i = 0; i < fs->u.array.len; i++) {
            yajl_val e = fs->u.array.values[i];
            const char *pm[] = {"mount", NULL}, *ps[] = {"size", NULL}, *pa[] = {"avail", NULL};
            yajl_val m = yajl_tree_get(e, pm, yajl_t_string);
            yajl_val s = yajl_tree_get(e, ps, yajl_t_number);
            yajl_val a = yajl_tree_get(e, pa, yajl_t_number);
            if (m && s && a)
                fs_usage(c, YAJL_GET_STRING(m), YAJL_GET_DOUBLE(s), YAJL_GET_DOUBLE(a));
        }
        return;
    }
    if (!c->live)
        return;
    /* Live host: the mounts that hold data. */
    size_t n;
    char *d = audit_read(c, "/proc/self/mounts", 1u << 20, &n, NULL);
    if (!d)
        return;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[1024], dev[256], mnt[512], type[64];
        if (len >= sizeof tmp)
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        if (sscanf(tmp, "%255s %511s %63s", dev, mnt, type) != 3)
            continue;
        if (strcmp(type, "ext4") && strcmp(type, "ext3") && strcmp(type, "xfs") && strcmp(type, "btrfs") &&
            strcmp(type, "zfs") && strcmp(type, "f2fs"))
            continue;
        struct statvfs sv;
        if (statvfs(mnt, &sv) == 0 && sv.f_blocks)
            fs_usage(c, mnt, (double)sv.f_blocks * sv.f_frsize, (double)sv.f_bavail * sv.f_frsize);
    }
    free(d);
}

struct logf {
    char path[600];
    long long size;
    double rate; /* bytes per day since the last rotation, 0 unknown */
};

struct rules {
    char *pat[LOG_MAX_RULES];
    size_t n;
};

static int lr_file(struct audit_ctx *c, const char *path, void *arg);

static void lr_parse(struct audit_ctx *c, struct rules *r, const char *path, int depth)
{
    size_t n;
    char *d = audit_read(c, path, 1u << 20, &n, NULL);
    if (!d)
        return;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    int inblock = 0;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[2048];
        if (len >= sizeof tmp)
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        char *s = tmp;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#' || !*s)
            continue;
        if (inblock) {
            if (strchr(s, '}'))
                inblock = 0;
            continue;
        }
        if (!strncmp(s, "include ", 8) && depth < 2) {
            char *p = s + 8;
            while (isspace((unsigned char)*p))
                p++;
            char *e = p + strlen(p);
            while (e > p && isspace((unsigned char)e[-1]))
                *--e = '\0';
            struct stat st;
            if (audit_stat(c, p, &st, true) == 0 && S_ISDIR(st.st_mode)) {
                char pat[1100];
                snprintf(pat, sizeof pat, "%s/*", p);
                audit_glob(c, pat, lr_file, r);
            } else {
                lr_parse(c, r, p, depth + 1);
            }
            continue;
        }
        if (*s == '/' || *s == '"') {
            char *brace = strchr(s, '{');
            bool opens = brace != NULL, closes = brace && strchr(brace, '}');
            for (char *t = strtok(s, " \t{"); t; t = strtok(NULL, " \t{")) {
                if (*t == '"')
                    t++;
                size_t tl = strlen(t);
                if (tl && t[tl - 1] == '"')
                    t[tl - 1] = '\0';
                if (*t == '/' && r->n < LOG_MAX_RULES)
                    r->pat[r->n++] = strdup(t);
            }
            if (opens)
                inblock = !closes;
        } else if (strchr(s, '{')) {
            inblock = 1;
        }
    }
    free(d);
}

static int lr_file(struct audit_ctx *c, const char *path, void *arg)
{
    lr_parse(c, arg, path, 1);
    return 0;
}

static bool covered(const struct rules *r, const char *path)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->pat[i] && fnmatch(r->pat[i], path, FNM_PATHNAME) == 0)
            return true;
    return false;
}

static bool rotated_name(const char *nm)
{
    size_t l = strlen(nm);
    if (l > 3 && (!strcmp(nm + l - 3, ".gz") || !strcmp(nm + l - 3, ".xz") || !strcmp(nm + l - 4, ".bz2") ||
                  !strcmp(nm + l - 4, ".zst")))
        return true;
    const char *dot = strrchr(nm, '.');
    if (dot && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1))
        return true;
    const char *dash = strrchr(nm, '-');
    if (dash && strlen(dash + 1) == 8 && strspn(dash + 1, "0123456789") == 8)
        return true;
    return false;
}

struct logscan {
    struct logf *v;
    size_t n;
};

static void scan_logs(struct audit_ctx *c, const char *dir, int depth, struct logscan *ls)
{
    if (depth > 3)
        return;
    char **names;
    int n = audit_list_dir(c, dir, &names);
    for (int i = 0; i < n; i++) {
        char p[600];
        if (audit_path_join(p, sizeof p, dir, names[i]) < 0)
            continue;
        struct stat st;
        if (audit_stat(c, p, &st, false) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(names[i], "journal"))
                scan_logs(c, p, depth + 1, ls);
            continue;
        }
        if (!S_ISREG(st.st_mode) || rotated_name(names[i]) || ls->n >= LOG_MAX_FILES)
            continue;
        if (!strcmp(names[i], "lastlog") || !strcmp(names[i], "faillog"))
            continue; /* sparse, indexed by uid: apparent size means nothing */
        struct logf *f = &ls->v[ls->n++];
        snprintf(f->path, sizeof f->path, "%s", p);
        f->size = (long long)st.st_size;
        f->rate = 0;
        char rp[640];
        struct stat rs;
        snprintf(rp, sizeof rp, "%s.1", p);
        if (audit_stat(c, rp, &rs, false) < 0) {
            snprintf(rp, sizeof rp, "%s.1.gz", p);
            if (audit_stat(c, rp, &rs, false) < 0)
                rs.st_mtime = 0;
        }
        if (rs.st_mtime && c->now > rs.st_mtime) {
            double days = (double)(c->now - rs.st_mtime) / 86400.0;
            if (days < 1.0 / 24)
                days = 1.0 / 24;
            f->rate = (double)f->size / days;
        }
    }
    if (n > 0)
        audit_free_list(names, n);
}

static int cmp_size(const void *a, const void *b)
{
    const struct logf *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : strcmp(x->path, y->path);
}

static int cmp_rate(const void *a, const void *b)
{
    const struct logf *x = a, *y = b;
    return x->rate < y->rate ? 1 : x->rate > y->rate ? -1 : strcmp(x->path, y->path);
}

static void human(double b, char *out, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, n, "%.1f %s", b, u[i]);
}

static void check_logs(struct audit_ctx *c)
{
    struct logscan ls = {calloc(LOG_MAX_FILES, sizeof(struct logf)), 0};
    if (!ls.v)
        return;
    scan_logs(c, "/var/log", 0, &ls);
    struct rules r;
    memset(&r, 0, sizeof r);
    lr_parse(c, &r, "/etc/logrotate.conf", 0);
    bool have_logrotate = audit_exists(c, "/etc/logrotate.conf");
    qsort(ls.v, ls.n, sizeof *ls.v, cmp_size);
    char ev[600];
    int o = 0;
    for (size_t i = 0; i < ls.n && i < 3 && ls.v[i].size >= (1 << 20); i++) {
        char h[32];
        human((double)ls.v[i].size, h, sizeof h);
        o += snprintf(ev + o, sizeof ev - (size_t)o, "%s%s %s", i ? ", " : "", ls.v[i].path, h);
    }
    if (o > 0)
        audit_add(c, "disk.biggest-logs", ls.v[0].size >= (1LL << 30) ? AUDIT_MEDIUM : AUDIT_INFO,
                  "Biggest log files",
                  "Rotate and compress big logs (logrotate), and lower noisy log levels.", "%s", ev);
    for (size_t i = 0; i < ls.n; i++) {
        if (ls.v[i].size < (1 << 20) || covered(&r, ls.v[i].path))
            continue;
        char h[32];
        human((double)ls.v[i].size, h, sizeof h);
        audit_add(c, "disk.log-not-rotated", ls.v[i].size >= (100LL << 20) ? AUDIT_MEDIUM : AUDIT_LOW,
                  "A log file is not rotated by logrotate",
                  have_logrotate ? "Add a rule in /etc/logrotate.d/ (daily, rotate 14, compress, "
                                   "missingok, notifempty)."
                                 : "apt-get install logrotate and add a rule in /etc/logrotate.d/.",
                  "%s (%s)", ls.v[i].path, h);
    }
    qsort(ls.v, ls.n, sizeof *ls.v, cmp_rate);
    o = 0;
    for (size_t i = 0; i < ls.n && i < 3 && ls.v[i].rate >= (10 << 20); i++) {
        char h[32];
        human(ls.v[i].rate, h, sizeof h);
        o += snprintf(ev + o, sizeof ev - (size_t)o, "%s%s %s/day", i ? ", " : "", ls.v[i].path, h);
    }
    if (o > 0)
        audit_add(c, "disk.fast-growing-logs", AUDIT_INFO, "Fastest-growing logs (since last rotation)",
                  "A log growing this fast can fill the disk; find the cause (attack, debug "
                  "logging, a failing job).",
                  "%s", ev);
    for (size_t i = 0; i < r.n; i++)
        free(r.pat[i]);
    free(ls.v);
}

static int journald_cb(struct audit_ctx *c, const char *path, void *arg)
{
    size_t n;
    char *d = audit_read(c, path, 1u << 20, &n, NULL);
    if (!d)
        return 0;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len))
        if (len > 14 && !strncmp(line, "SystemMaxUse=", 13))
            *(bool *)arg = true;
    free(d);
    return 0;
}

static void check_journald(struct audit_ctx *c)
{
    if (!audit_exists(c, "/var/log/journal"))
        return; /* volatile journal: bounded by RuntimeMaxUse in /run */
    bool set = false;
    audit_glob(c, "/etc/systemd/journald.conf", journald_cb, &set);
    audit_glob(c, "/etc/systemd/journald.conf.d/*.conf", journald_cb, &set);
    audit_glob(c, "/usr/lib/systemd/journald.conf.d/*.conf", journald_cb, &set);
    if (!set)
        audit_add(c, "disk.journald-unbounded", AUDIT_LOW, "The systemd journal has no explicit size cap",
                  "Set SystemMaxUse=500M in /etc/systemd/journald.conf.d/mamori.conf and restart "
                  "systemd-journald.",
                  "%s", "/etc/systemd/journald.conf: SystemMaxUse not set");
}

void audit_check_disk(struct audit_ctx *c)
{
    check_filesystems(c);
    check_logs(c);
    check_journald(c);
}
