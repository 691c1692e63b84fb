/* Packages and OS: release end of life, installed packages with known
 * vulnerabilities (dpkg status against the Debian Security Tracker JSON
 * export), pending updates from the apt lists, stale package lists,
 * unattended-upgrades, reboot-required and a kernel newer than the running
 * one. dpkg and apt of the audited system are never run: their files are read.
 *
 * Tracker JSON shape: {SOURCE: {CVE: {"releases": {CODENAME: {"status":
 * "resolved"|"open"|"undetermined", "fixed_version": V, "urgency": U}}}}}.
 * It is parsed with yajl's event parser so a 60+ MB feed costs no tree. */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

/* ---------------------------------------------- Debian version ordering */

static int order(int ch)
{
    if (isdigit(ch))
        return 0;
    if (isalpha(ch))
        return ch;
    if (ch == '~')
        return -1;
    if (ch)
        return ch + 256;
    return 0;
}

/* Compares two upstream or revision strings (Debian Policy 5.6.12). */
static int verrevcmp(const char *a, const char *ae, const char *b, const char *be)
{
    while (a < ae || b < be) {
        int first_diff = 0;
        while ((a < ae && !isdigit((unsigned char)*a)) || (b < be && !isdigit((unsigned char)*b))) {
            int ac = a < ae ? order((unsigned char)*a) : 0;
            int bc = b < be ? order((unsigned char)*b) : 0;
            if (ac != bc)
                return ac - bc;
            a++;
            b++;
        }
        while (a < ae && *a == '0')
            a++;
        while (b < be && *b == '0')
            b++;
        while (a < ae && isdigit((unsigned char)*a) && b < be && isdigit((unsigned char)*b)) {
            if (!first_diff)
                first_diff = *a - *b;
            a++;
            b++;
        }
        if (a < ae && isdigit((unsigned char)*a))
            return 1;
        if (b < be && isdigit((unsigned char)*b))
            return -1;
        if (first_diff)
            return first_diff;
    }
    return 0;
}

struct dver {
    unsigned long epoch;
    const char *up, *upe, *rev, *reve;
};

static void split_ver(const char *v, struct dver *d)
{
    while (isspace((unsigned char)*v))
        v++;
    const char *end = v + strlen(v);
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    d->epoch = 0;
    const char *colon = memchr(v, ':', (size_t)(end - v));
    if (colon) {
        d->epoch = strtoul(v, NULL, 10);
        v = colon + 1;
    }
    const char *hy = NULL;
    for (const char *p = v; p < end; p++)
        if (*p == '-')
            hy = p;
    d->up = v;
    if (hy) {
        d->upe = hy;
        d->rev = hy + 1;
        d->reve = end;
    } else {
        d->upe = end;
        d->rev = d->reve = end;
    }
}

int audit_dpkg_vercmp(const char *a, const char *b)
{
    struct dver x, y;
    split_ver(a, &x);
    split_ver(b, &y);
    if (x.epoch != y.epoch)
        return x.epoch > y.epoch ? 1 : -1;
    int r = verrevcmp(x.up, x.upe, y.up, y.upe);
    if (r)
        return r > 0 ? 1 : -1;
    r = verrevcmp(x.rev, x.reve, y.rev, y.reve);
    return r > 0 ? 1 : r < 0 ? -1 : 0;
}

/* --------------------------------------------------- end-of-life table */

struct eol {
    const char *id, *ver, *name, *date;
};

/* Debian: end of LTS (the last security support). Ubuntu: end of standard
 * support (ESM is a paid extension, noted in the fix). */
static const struct eol eols[] = {
    {"debian", "7", "wheezy", "2018-05-31"},   {"debian", "8", "jessie", "2020-06-30"},
    {"debian", "9", "stretch", "2022-06-30"},  {"debian", "10", "buster", "2024-06-30"},
    {"debian", "11", "bullseye", "2026-08-31"}, {"debian", "12", "bookworm", "2028-06-30"},
    {"debian", "13", "trixie", "2030-06-30"},  {"ubuntu", "14.04", "trusty", "2019-04-30"},
    {"ubuntu", "16.04", "xenial", "2021-04-30"}, {"ubuntu", "18.04", "bionic", "2023-05-31"},
    {"ubuntu", "20.04", "focal", "2025-05-31"}, {"ubuntu", "20.10", "groovy", "2021-07-22"},
    {"ubuntu", "21.04", "hirsute", "2022-01-20"}, {"ubuntu", "21.10", "impish", "2022-07-14"},
    {"ubuntu", "22.04", "jammy", "2027-06-01"}, {"ubuntu", "22.10", "kinetic", "2023-07-20"},
    {"ubuntu", "23.04", "lunar", "2024-01-25"}, {"ubuntu", "23.10", "mantic", "2024-07-11"},
    {"ubuntu", "24.04", "noble", "2029-05-31"}, {"ubuntu", "24.10", "oracular", "2025-07-10"},
    {"ubuntu", "25.04", "plucky", "2026-01-15"},
};

static time_t ymd(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    return timegm(&tm);
}

time_t audit_eol_date(const char *id, const char *version_id, const char **name)
{
    for (size_t i = 0; i < sizeof eols / sizeof *eols; i++) {
        if (strcmp(eols[i].id, id))
            continue;
        /* Debian VERSION_ID is the major number; Ubuntu's is "22.04". */
        if (!strcmp(eols[i].ver, version_id)) {
            if (name)
                *name = eols[i].name;
            return ymd(eols[i].date);
        }
    }
    return 0;
}

static const char *codename_for(const char *id, const char *ver)
{
    for (size_t i = 0; i < sizeof eols / sizeof *eols; i++)
        if (!strcmp(eols[i].id, id) && !strcmp(eols[i].ver, ver))
            return eols[i].name;
    return NULL;
}

/* ------------------------------------------------------------- dpkg */

struct pkg {
    char *name, *version, *source, *srcver;
    bool vuln_reported;
};

struct pkgdb {
    struct pkg *v;
    size_t n, cap;
    char os_id[32], os_ver[32], codename[32];
};

static void kv_value(const char *line, size_t len, size_t klen, char *out, size_t outsz)
{
    const char *v = line + klen;
    size_t n = len - klen;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static int cmp_pkg(const void *a, const void *b)
{
    return strcmp(((const struct pkg *)a)->name, ((const struct pkg *)b)->name);
}

static int add_pkg(struct pkgdb *db, const char *name, const char *ver, const char *src)
{
    if (db->n == db->cap) {
        size_t ncap = db->cap ? db->cap * 2 : 512;
        if (ncap > 1000000)
            return -1;
        struct pkg *nv = realloc(db->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        db->v = nv;
        db->cap = ncap;
    }
    struct pkg *p = &db->v[db->n];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->version = strdup(ver);
    /* "Source: name (version)" when the source version differs. */
    char sname[256], sver[256] = "";
    if (src[0]) {
        const char *paren = strchr(src, '(');
        size_t nl = paren ? (size_t)(paren - src) : strlen(src);
        while (nl && src[nl - 1] == ' ')
            nl--;
        snprintf(sname, sizeof sname, "%.*s", (int)nl, src);
        if (paren) {
            const char *e = strchr(paren, ')');
            snprintf(sver, sizeof sver, "%.*s", (int)(e ? e - paren - 1 : 0), paren + 1);
        }
    } else {
        snprintf(sname, sizeof sname, "%s", name);
    }
    p->source = strdup(sname);
    p->srcver = strdup(sver[0] ? sver : ver);
    if (!p->name || !p->version || !p->source || !p->srcver) {
        free(p->name);
        free(p->version);
        free(p->source);
        free(p->srcver);
        return -1;
    }
    db->n++;
    return 0;
}

static void load_dpkg(struct audit_ctx *c, struct pkgdb *db)
{
    size_t n;
    char *data = audit_read(c, "/var/lib/dpkg/status", 256u << 20, &n, NULL);
    if (!data)
        return;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    char name[256] = "", ver[256] = "", src[256] = "";
    bool installed = false;
    for (;;) {
        bool more = audit_lines_next(&l, &line, &len);
        if (!more || len == 0) {
            if (name[0] && ver[0] && installed)
                add_pkg(db, name, ver, src);
            name[0] = ver[0] = src[0] = '\0';
            installed = false;
            if (!more)
                break;
            continue;
        }
        if (len > 8 && !strncmp(line, "Package:", 8))
            kv_value(line, len, 8, name, sizeof name);
        else if (len > 8 && !strncmp(line, "Version:", 8))
            kv_value(line, len, 8, ver, sizeof ver);
        else if (len > 7 && !strncmp(line, "Source:", 7))
            kv_value(line, len, 7, src, sizeof src);
        else if (len > 7 && !strncmp(line, "Status:", 7))
            installed = memmem(line, len, " installed", 10) != NULL &&
                        memmem(line, len, "not-installed", 13) == NULL &&
                        memmem(line, len, "config-files", 12) == NULL;
    }
    free(data);
    if (db->n)
        qsort(db->v, db->n, sizeof *db->v, cmp_pkg);
    /* Keep the names for other checks. */
    c->pkg_names = calloc(db->n ? db->n : 1, sizeof *c->pkg_names);
    if (c->pkg_names) {
        for (size_t i = 0; i < db->n; i++) {
            c->pkg_names[i] = strdup(db->v[i].name);
            if (!c->pkg_names[i])
                break;
            c->npkgs++;
        }
    }
}

static int cmp_name_key(const void *k, const void *e)
{
    return strcmp(k, *(char *const *)e);
}

bool audit_pkg_installed(const struct audit_ctx *c, const char *name)
{
    return c->npkgs && bsearch(name, c->pkg_names, c->npkgs, sizeof *c->pkg_names, cmp_name_key);
}

static struct pkg *find_pkg(struct pkgdb *db, const char *name)
{
    struct pkg key = {(char *)name, NULL, NULL, NULL, false};
    return db->n ? bsearch(&key, db->v, db->n, sizeof *db->v, cmp_pkg) : NULL;
}

static void free_db(struct pkgdb *db)
{
    for (size_t i = 0; i < db->n; i++) {
        free(db->v[i].name);
        free(db->v[i].version);
        free(db->v[i].source);
        free(db->v[i].srcver);
    }
    free(db->v);
}

/* ------------------------------------------------------------- OS */

static void read_os_release(struct audit_ctx *c, struct pkgdb *db)
{
    size_t n;
    char *d = audit_read(c, "/etc/os-release", 65536, &n, NULL);
    if (!d)
        d = audit_read(c, "/usr/lib/os-release", 65536, &n, NULL);
    if (!d)
        return;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char *dst = NULL;
        size_t k = 0;
        if (len > 3 && !strncmp(line, "ID=", 3)) {
            dst = db->os_id;
            k = 3;
        } else if (len > 11 && !strncmp(line, "VERSION_ID=", 11)) {
            dst = db->os_ver;
            k = 11;
        } else if (len > 17 && !strncmp(line, "VERSION_CODENAME=", 17)) {
            dst = db->codename;
            k = 17;
        }
        if (!dst)
            continue;
        const char *v = line + k;
        size_t vl = len - k;
        if (vl && (*v == '"' || *v == '\'')) {
            v++;
            vl--;
            if (vl && (v[vl - 1] == '"' || v[vl - 1] == '\''))
                vl--;
        }
        if (vl >= 32)
            vl = 31;
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
    free(d);
    if (!db->codename[0]) {
        const char *cn = codename_for(db->os_id, db->os_ver);
        if (cn)
            snprintf(db->codename, sizeof db->codename, "%s", cn);
    }
}

static void check_eol(struct audit_ctx *c, struct pkgdb *db)
{
    if (!db->os_id[0])
        return;
    const char *name = NULL;
    time_t eol = audit_eol_date(db->os_id, db->os_ver, &name);
    if (!eol)
        return;
    char date[32];
    struct tm tm;
    gmtime_r(&eol, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    if (c->now >= eol)
        audit_add(c, "os.eol", AUDIT_HIGH, "The operating system release no longer gets security updates",
                  "Upgrade to a supported release (Debian: follow the release notes' upgrade "
                  "chapter; Ubuntu: do-release-upgrade, or pay for ESM).",
                  "%s %s (%s) support ended %s", db->os_id, db->os_ver, name, date);
    else if (eol - c->now < 180 * 86400)
        audit_add(c, "os.eol-soon", AUDIT_LOW, "Security support for this release ends soon",
                  "Plan the upgrade to the next release before support ends.",
                  "%s %s (%s) support ends %s", db->os_id, db->os_ver, name, date);
}

/* ---------------------------------------------------------- the feed */

enum { U_UNIMPORTANT, U_LOW, U_UNKNOWN, U_MEDIUM, U_HIGH };

struct vuln {
    struct pkg *p;
    int worst;
    unsigned count, open_count;
    char cves[200];
    char fixed[128];
};

struct feedp {
    struct pkgdb *db;
    int depth;
    char src[256], cve[64], rel[64], key[64];
    bool want_src, in_releases, want_rel;
    char status[32], fixed[128], urgency[64];
    struct vuln *vulns;
    size_t nv, capv;
};

static struct vuln *vuln_for(struct feedp *f, struct pkg *p)
{
    for (size_t i = 0; i < f->nv; i++)
        if (f->vulns[i].p == p)
            return &f->vulns[i];
    if (f->nv == f->capv) {
        size_t ncap = f->capv ? f->capv * 2 : 32;
        struct vuln *nv = realloc(f->vulns, ncap * sizeof *nv);
        if (!nv)
            return NULL;
        f->vulns = nv;
        f->capv = ncap;
    }
    struct vuln *v = &f->vulns[f->nv++];
    memset(v, 0, sizeof *v);
    v->p = p;
    v->worst = -1;
    return v;
}

/* Source package lookup: the db is sorted by binary name, so scan; feeds
 * have ~30k sources and hosts ~2k packages, so keep a small sorted index. */
static struct pkg *pkg_by_source(struct pkgdb *db, const char *src, size_t *idx)
{
    for (size_t i = *idx; i < db->n; i++)
        if (!strcmp(db->v[i].source, src)) {
            *idx = i + 1;
            return &db->v[i];
        }
    return NULL;
}

static bool source_installed(struct pkgdb *db, const char *src)
{
    size_t i = 0;
    return pkg_by_source(db, src, &i) != NULL;
}

static void rel_done(struct feedp *f)
{
    int u = U_UNKNOWN;
    if (!strcmp(f->urgency, "unimportant") || !strcmp(f->urgency, "end-of-life"))
        u = U_UNIMPORTANT;
    else if (!strncmp(f->urgency, "low", 3))
        u = U_LOW;
    else if (!strncmp(f->urgency, "medium", 6))
        u = U_MEDIUM;
    else if (!strncmp(f->urgency, "high", 4))
        u = U_HIGH;
    bool open = !strcmp(f->status, "open");
    bool resolved = !strcmp(f->status, "resolved") && f->fixed[0] && strcmp(f->fixed, "0");
    if (!open && !resolved)
        return;
    if (u == U_UNIMPORTANT)
        return;
    size_t idx = 0;
    struct pkg *p;
    struct pkg *first = NULL;
    while ((p = pkg_by_source(f->db, f->src, &idx)) != NULL) {
        if (!first)
            first = p;
        if (resolved && audit_dpkg_vercmp(p->srcver, f->fixed) >= 0)
            return; /* this installed version has the fix */
    }
    if (!first)
        return;
    struct vuln *v = vuln_for(f, first);
    if (!v)
        return;
    if (open) {
        v->open_count++;
        return;
    }
    v->count++;
    if (u > v->worst)
        v->worst = u;
    if (!v->fixed[0] || audit_dpkg_vercmp(f->fixed, v->fixed) > 0)
        snprintf(v->fixed, sizeof v->fixed, "%s", f->fixed);
    size_t cl = strlen(v->cves);
    if (cl + strlen(f->cve) + 3 < sizeof v->cves - 12)
        snprintf(v->cves + cl, sizeof v->cves - cl, "%s%s", cl ? ", " : "", f->cve);
}

static void set_str(char *dst, size_t dsz, const unsigned char *s, size_t n)
{
    if (n >= dsz)
        n = dsz - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int f_map_key(void *ctx, const unsigned char *k, size_t n)
{
    struct feedp *f = ctx;
    switch (f->depth) {
    case 1:
        set_str(f->src, sizeof f->src, k, n);
        f->want_src = source_installed(f->db, f->src);
        break;
    case 2:
        set_str(f->cve, sizeof f->cve, k, n);
        break;
    case 3:
        f->in_releases = n == 8 && !memcmp(k, "releases", 8);
        break;
    case 4:
        set_str(f->rel, sizeof f->rel, k, n);
        f->want_rel = f->want_src && f->in_releases && !strcmp(f->rel, f->db->codename);
        break;
    default:
        set_str(f->key, sizeof f->key, k, n);
    }
    return 1;
}

static int f_start_map(void *ctx)
{
    struct feedp *f = ctx;
    f->depth++;
    if (f->depth == 5 && f->want_rel)
        f->status[0] = f->fixed[0] = f->urgency[0] = '\0';
    return 1;
}

static int f_end_map(void *ctx)
{
    struct feedp *f = ctx;
    if (f->depth == 5 && f->want_rel)
        rel_done(f);
    if (f->depth == 4)
        f->in_releases = false;
    if (f->depth == 5)
        f->want_rel = false;
    f->depth--;
    return 1;
}

static int f_string(void *ctx, const unsigned char *s, size_t n)
{
    struct feedp *f = ctx;
    if (f->depth != 5 || !f->want_rel)
        return 1;
    if (!strcmp(f->key, "status"))
        set_str(f->status, sizeof f->status, s, n);
    else if (!strcmp(f->key, "fixed_version"))
        set_str(f->fixed, sizeof f->fixed, s, n);
    else if (!strcmp(f->key, "urgency"))
        set_str(f->urgency, sizeof f->urgency, s, n);
    return 1;
}

static int f_other(void *ctx) { return 1; }
static int f_bool(void *ctx, int b) { return 1; }
static int f_num(void *ctx, const char *s, size_t n) { return 1; }

static const yajl_callbacks feed_cb = {
    .yajl_null = f_other,
    .yajl_boolean = f_bool,
    .yajl_number = f_num,
    .yajl_string = f_string,
    .yajl_start_map = f_start_map,
    .yajl_map_key = f_map_key,
    .yajl_end_map = f_end_map,
    .yajl_start_array = f_other,
    .yajl_end_array = f_other,
};

static void check_feed(struct audit_ctx *c, struct pkgdb *db)
{
    if (!c->feed_path)
        return;
    if (!db->codename[0] || strcmp(db->os_id, "debian")) {
        audit_add(c, "pkg.feed-not-applicable", AUDIT_INFO,
                  "The advisory feed is Debian's; this system is not a known Debian release",
                  "Use the advisory source of your distribution.", "ID=%s VERSION_ID=%s",
                  db->os_id, db->os_ver);
        return;
    }
    int fd = open(c->feed_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mamori audit: --feed %s: %s\n", c->feed_path, strerror(errno));
        return;
    }
    struct feedp f;
    memset(&f, 0, sizeof f);
    f.db = db;
    yajl_handle h = yajl_alloc(&feed_cb, NULL, &f);
    char *buf = malloc(1 << 16);
    bool ok = h && buf;
    while (ok) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (yajl_parse(h, (unsigned char *)buf, (size_t)r) != yajl_status_ok)
            ok = false;
    }
    if (ok && yajl_complete_parse(h) != yajl_status_ok)
        ok = false;
    if (!ok && h) {
        unsigned char *e = yajl_get_error(h, 0, NULL, 0);
        fprintf(stderr, "mamori audit: --feed %s: %s\n", c->feed_path, e ? (char *)e : "read error");
        if (e)
            yajl_free_error(h, e);
    }
    close(fd);
    free(buf);
    if (h)
        yajl_free(h);
    for (size_t i = 0; i < f.nv; i++) {
        struct vuln *v = &f.vulns[i];
        if (v->count) {
            enum audit_sev sev = v->worst == U_HIGH     ? AUDIT_HIGH
                                 : v->worst == U_LOW    ? AUDIT_LOW
                                                        : AUDIT_MEDIUM;
            audit_add(c, "pkg.vulnerable", sev, "Installed package has known vulnerabilities with a fix",
                      "Install the fixed version: apt-get update && apt-get upgrade (then restart "
                      "the services using it).",
                      "%s %s < %s: %s%s", v->p->source, v->p->srcver, v->fixed, v->cves,
                      v->open_count ? " (and open issues without a fix)" : "");
        } else if (v->open_count) {
            audit_add(c, "pkg.vulnerable-nofix", AUDIT_INFO,
                      "Installed package has known vulnerabilities without a fix yet",
                      "Nothing to install yet; watch the advisory and limit exposure of this "
                      "software.",
                      "%s %s: %u open issue(s)", v->p->source, v->p->srcver, v->open_count);
        }
    }
    free(f.vulns);
}

/* --------------------------------------------------- pending updates */

struct lists_scan {
    struct pkgdb *db;
    char name[256], ver[256];
    bool security;
    unsigned pending, pending_sec;
    char names[256], sec_names[256];
    struct pkg **seen;
    size_t nseen;
};

static void lists_para_end(struct lists_scan *s)
{
    if (!s->name[0] || !s->ver[0])
        goto out;
    struct pkg *p = find_pkg(s->db, s->name);
    if (!p || audit_dpkg_vercmp(s->ver, p->version) <= 0 || p->vuln_reported)
        goto out;
    p->vuln_reported = true; /* count once even if several lists have it */
    char *dst = s->security ? s->sec_names : s->names;
    size_t dl = strlen(dst);
    if (dl + strlen(s->name) + 3 < 200)
        snprintf(dst + dl, 256 - dl, "%s%.190s", dl ? ", " : "", s->name);
    else if (dl < 250 && !strstr(dst, "..."))
        snprintf(dst + dl, 256 - dl, ", ...");
    if (s->security)
        s->pending_sec++;
    else
        s->pending++;
out:
    s->name[0] = s->ver[0] = '\0';
}

static int lists_line(void *arg, const char *line, size_t len)
{
    struct lists_scan *s = arg;
    if (len == 0) {
        lists_para_end(s);
        return 0;
    }
    if (len > 8 && !strncmp(line, "Package:", 8))
        kv_value(line, len, 8, s->name, sizeof s->name);
    else if (len > 8 && !strncmp(line, "Version:", 8))
        kv_value(line, len, 8, s->ver, sizeof s->ver);
    return 0;
}

static int lists_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct lists_scan *s = arg;
    s->security = strstr(path, "security") != NULL;
    s->name[0] = s->ver[0] = '\0';
    audit_stream_lines(c, path, 0, lists_line, s);
    lists_para_end(s);
    return 0;
}

static int cmp_sec_first(const void *a, const void *b)
{
    bool x = strstr(*(char *const *)a, "security") != NULL;
    bool y = strstr(*(char *const *)b, "security") != NULL;
    return (int)y - (int)x;
}

static int collect_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct lists_scan *s = arg;
    if (s->nseen >= 256)
        return 0;
    char **v = (char **)s->seen;
    v[s->nseen] = strdup(path);
    if (v[s->nseen])
        s->nseen++;
    return 0;
}

static void check_pending(struct audit_ctx *c, struct pkgdb *db)
{
    struct lists_scan s;
    memset(&s, 0, sizeof s);
    s.db = db;
    char **paths = calloc(256, sizeof *paths);
    if (!paths)
        return;
    s.seen = (struct pkg **)paths;
    audit_glob(c, "/var/lib/apt/lists/*_Packages", collect_cb, &s);
    /* Security lists first so a package pending from both counts as security. */
    qsort(paths, s.nseen, sizeof *paths, cmp_sec_first);
    for (size_t i = 0; i < s.nseen; i++) {
        lists_cb(c, paths[i], &s);
        free(paths[i]);
    }
    free(paths);
    for (size_t i = 0; i < db->n; i++)
        db->v[i].vuln_reported = false;
    if (s.pending_sec)
        audit_add(c, "pkg.pending-security", AUDIT_HIGH, "Security updates are waiting to be installed",
                  "Run: apt-get update && apt-get upgrade, and turn on unattended-upgrades.",
                  "%u package(s): %s", s.pending_sec, s.sec_names);
    if (s.pending)
        audit_add(c, "pkg.pending-updates", AUDIT_LOW, "Package updates are waiting to be installed",
                  "Run: apt-get update && apt-get upgrade.", "%u package(s): %s", s.pending, s.names);
}

static void check_stale(struct audit_ctx *c)
{
    struct stat st;
    time_t newest = 0;
    const char *paths[] = {"/var/lib/apt/periodic/update-success-stamp", "/var/lib/apt/lists/partial",
                           "/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin"};
    for (size_t i = 0; i < 4; i++)
        if (audit_stat(c, paths[i], &st, true) == 0 && st.st_mtime > newest)
            newest = st.st_mtime;
    if (!newest)
        return;
    long days = (long)((c->now - newest) / 86400);
    if (days >= 30)
        audit_add(c, "pkg.updates-stale", AUDIT_MEDIUM, "Package lists have not been updated for a long time",
                  "Run apt-get update && apt-get upgrade now, and enable unattended-upgrades so "
                  "it happens daily.",
                  "last apt-get update %ld days ago", days);
}

struct aptconf {
    int unattended; /* -1 unset */
    char where[320];
};

static int aptconf_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct aptconf *a = arg;
    size_t n;
    char *d = audit_read(c, path, 1u << 20, &n, NULL);
    if (!d)
        return 0;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        while (len && isspace((unsigned char)*line)) {
            line++;
            len--;
        }
        if (len >= 2 && line[0] == '/' && line[1] == '/')
            continue;
        const char *k = memmem(line, len, "Unattended-Upgrade", 18);
        if (!k || !memmem(line, len, "APT::Periodic", 13))
            continue;
        const char *q = memchr(k, '"', (size_t)(line + len - k));
        if (!q)
            continue;
        a->unattended = atoi(q + 1) > 0 || !strncasecmp(q + 1, "true", 4);
        snprintf(a->where, sizeof a->where, "%s:%u", path, l.lineno);
    }
    free(d);
    return 0;
}

static void check_unattended(struct audit_ctx *c)
{
    if (!audit_exists(c, "/etc/apt"))
        return;
    struct aptconf a = {-1, ""};
    audit_glob(c, "/etc/apt/apt.conf.d/*", aptconf_cb, &a);
    if (!audit_pkg_installed(c, "unattended-upgrades"))
        audit_add(c, "pkg.no-auto-updates", AUDIT_MEDIUM, "Security updates are not installed automatically",
                  "apt-get install unattended-upgrades && dpkg-reconfigure -plow "
                  "unattended-upgrades",
                  "%s", "unattended-upgrades is not installed");
    else if (a.unattended != 1)
        audit_add(c, "pkg.no-auto-updates", AUDIT_MEDIUM, "Security updates are not installed automatically",
                  "Run dpkg-reconfigure -plow unattended-upgrades (writes "
                  "APT::Periodic::Unattended-Upgrade \"1\" to /etc/apt/apt.conf.d/20auto-upgrades).",
                  "%s", a.where[0] ? a.where : "APT::Periodic::Unattended-Upgrade not set");
}

static void check_reboot(struct audit_ctx *c, struct pkgdb *db)
{
    if (audit_exists(c, "/run/reboot-required") || audit_exists(c, "/var/run/reboot-required")) {
        size_t n;
        char *pk = audit_read(c, "/run/reboot-required.pkgs", 4096, &n, NULL);
        if (pk)
            for (size_t i = 0; i < n; i++)
                if (pk[i] == '\n')
                    pk[i] = ' ';
        audit_add(c, "pkg.reboot-required", AUDIT_MEDIUM, "Updates wait for a reboot to take effect",
                  "Reboot at a quiet time (the updated libraries and kernel are not in use yet).",
                  "/run/reboot-required%s%s", pk ? ": " : "", pk ? pk : "");
        free(pk);
    }
    /* Running kernel vs the newest installed linux-image-<release>. */
    size_t n;
    char *rel = audit_read(c, "/proc/sys/kernel/osrelease", 256, &n, NULL);
    if (!rel)
        return;
    while (n && isspace((unsigned char)rel[n - 1]))
        rel[--n] = '\0';
    const char *newest = NULL;
    bool running_installed = false;
    for (size_t i = 0; i < db->n; i++) {
        const char *nm = db->v[i].name;
        if (strncmp(nm, "linux-image-", 12) || !isdigit((unsigned char)nm[12]))
            continue;
        const char *kr = nm + 12;
        if (!strcmp(kr, rel))
            running_installed = true;
        if (!newest || audit_dpkg_vercmp(kr, newest) > 0)
            newest = kr;
    }
    if (newest && running_installed && audit_dpkg_vercmp(newest, rel) > 0)
        audit_add(c, "pkg.kernel-outdated", AUDIT_MEDIUM, "A newer kernel is installed but not running",
                  "Reboot to run the patched kernel.", "running %s, installed %s", rel, newest);
    free(rel);
}

static void set_roles(struct audit_ctx *c)
{
    static const struct {
        const char *pkg;
        unsigned role;
    } map[] = {
        {"nginx", AUDIT_ROLE_WEB},          {"nginx-core", AUDIT_ROLE_WEB},
        {"apache2", AUDIT_ROLE_WEB},        {"lighttpd", AUDIT_ROLE_WEB},
        {"postfix", AUDIT_ROLE_MAIL},       {"exim4-daemon-light", AUDIT_ROLE_MAIL},
        {"exim4-daemon-heavy", AUDIT_ROLE_MAIL}, {"dovecot-core", AUDIT_ROLE_MAIL},
        {"vsftpd", AUDIT_ROLE_FTP},         {"proftpd-core", AUDIT_ROLE_FTP},
        {"proftpd-basic", AUDIT_ROLE_FTP},  {"pure-ftpd", AUDIT_ROLE_FTP},
        {"samba", AUDIT_ROLE_SHARE},        {"nfs-kernel-server", AUDIT_ROLE_SHARE},
        {"mariadb-server", AUDIT_ROLE_DB},  {"mysql-server", AUDIT_ROLE_DB},
        {"postgresql", AUDIT_ROLE_DB},      {"redis-server", AUDIT_ROLE_DB},
        {"mongodb-org-server", AUDIT_ROLE_DB},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (audit_pkg_installed(c, map[i].pkg))
            c->roles |= map[i].role;
}

void audit_check_pkg(struct audit_ctx *c)
{
    struct pkgdb db;
    memset(&db, 0, sizeof db);
    read_os_release(c, &db);
    load_dpkg(c, &db);
    set_roles(c);
    check_eol(c, &db);
    if (db.n) {
        check_feed(c, &db);
        check_pending(c, &db);
        check_stale(c);
        check_unattended(c);
    }
    check_reboot(c, &db);
    free_db(&db);
}
