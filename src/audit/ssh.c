/* SSH: the effective sshd configuration, authorized_keys known from botnet
 * campaigns and brute force in the auth log.
 *
 * sshd_config semantics kept here (sshd_config(5)): keywords are
 * case-insensitive, "Keyword value" or "Keyword=value"; for most keywords
 * the first value obtained wins; Include takes globs (relative to /etc/ssh),
 * read in lexical order at the point of the Include; a Match block lasts to
 * the next Match or the end of the file it is in and is not applied (we do
 * not know the connection) but noted. Unset keys take OpenSSH's compiled-in
 * defaults, which Debian keeps (Debian changes only the shipped file). */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

enum {
    K_ROOT,
    K_PASSWORD,
    K_KBD,
    K_EMPTY,
    K_TRIES,
    K_X11,
    K_ALLOW,
    K_USEPAM,
};

#define SSHD_MAX_DEPTH 8
#define SSHD_MAX_FILE (1u << 20)

struct sshd_parse {
    struct audit_ctx *c;
    struct audit_sshd *o;
    int depth;
    bool in_match;
    char match_where[300];
};

static int sshd_file(struct sshd_parse *ps, const char *path);

static int include_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct sshd_parse *ps = arg;
    struct stat st;
    if (audit_stat(c, path, &st, true) == 0 && S_ISREG(st.st_mode))
        sshd_file(ps, path);
    return 0;
}

static bool parse_yesno(const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false")) {
        *out = false;
        return true;
    }
    return false;
}

static void set_key(struct sshd_parse *ps, int k, const char *file, unsigned line)
{
    ps->o->set_mask |= 1u << k;
    if (k < 8)
        snprintf(ps->o->where[k], sizeof ps->o->where[k], "%s:%u", file, line);
}

static int sshd_file(struct sshd_parse *ps, const char *path)
{
    if (ps->depth >= SSHD_MAX_DEPTH)
        return -ELOOP;
    size_t n;
    char *data = audit_read(ps->c, path, SSHD_MAX_FILE, &n, NULL);
    if (!data)
        return -errno;
    ps->depth++;
    bool saved_match = ps->in_match;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[1024];
        if (len >= sizeof tmp)
            len = sizeof tmp - 1;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        /* Binary garbage: a NUL inside the line ends it, like C string APIs. */
        char *w[8];
        int nw = audit_split_words(tmp, w, 8, '=');
        if (nw == 0 || w[0][0] == '#')
            continue;
        const char *kw = w[0];
        const char *v = nw > 1 ? w[1] : "";
        unsigned ln = l.lineno;
        if (!strcasecmp(kw, "Match")) {
            ps->in_match = true;
            ps->o->has_match = true;
            snprintf(ps->match_where, sizeof ps->match_where, "%s:%u", path, ln);
            continue;
        }
        if (!strcasecmp(kw, "Include")) {
            for (int i = 1; i < nw; i++) {
                char pat[1024];
                if (w[i][0] == '/' || w[i][0] == '~')
                    snprintf(pat, sizeof pat, "%s", w[i]);
                else
                    snprintf(pat, sizeof pat, "/etc/ssh/%s", w[i]);
                audit_glob(ps->c, pat, include_cb, ps);
            }
            continue;
        }
        if (ps->in_match)
            continue;
        bool b;
        int k = -1;
        if (!strcasecmp(kw, "PermitRootLogin")) {
            k = K_ROOT;
            if (!(ps->o->set_mask & (1u << k)) && nw > 1) {
                const char *val = !strcasecmp(v, "without-password") ? "prohibit-password" : v;
                snprintf(ps->o->permit_root_login, sizeof ps->o->permit_root_login, "%s", val);
            } else {
                continue;
            }
        } else if (!strcasecmp(kw, "PasswordAuthentication")) {
            k = K_PASSWORD;
            if ((ps->o->set_mask & (1u << k)) || !parse_yesno(v, &b))
                continue;
            ps->o->password_auth = b;
        } else if (!strcasecmp(kw, "KbdInteractiveAuthentication") ||
                   !strcasecmp(kw, "ChallengeResponseAuthentication")) {
            k = K_KBD;
            if ((ps->o->set_mask & (1u << k)) || !parse_yesno(v, &b))
                continue;
            ps->o->kbd_interactive = b;
        } else if (!strcasecmp(kw, "PermitEmptyPasswords")) {
            k = K_EMPTY;
            if ((ps->o->set_mask & (1u << k)) || !parse_yesno(v, &b))
                continue;
            ps->o->permit_empty = b;
        } else if (!strcasecmp(kw, "MaxAuthTries")) {
            k = K_TRIES;
            char *end;
            long t = strtol(v, &end, 10);
            if ((ps->o->set_mask & (1u << k)) || end == v || *end || t < 0 || t > 100000)
                continue;
            ps->o->max_auth_tries = (int)t;
        } else if (!strcasecmp(kw, "X11Forwarding")) {
            k = K_X11;
            if ((ps->o->set_mask & (1u << k)) || !parse_yesno(v, &b))
                continue;
            ps->o->x11_forwarding = b;
        } else if (!strcasecmp(kw, "AllowUsers") || !strcasecmp(kw, "AllowGroups")) {
            k = K_ALLOW;
            if (nw < 2)
                continue;
            ps->o->has_allow = true;
        } else {
            continue;
        }
        if (!(ps->o->set_mask & (1u << k)))
            set_key(ps, k, path, ln);
    }
    ps->in_match = saved_match; /* a Match ends with the file it is in */
    ps->depth--;
    free(data);
    return 0;
}

int audit_sshd_load(struct audit_ctx *c, const char *path, struct audit_sshd *out)
{
    memset(out, 0, sizeof *out);
    struct sshd_parse ps = {c, out, 0, false, ""};
    int r = sshd_file(&ps, path);
    if (r < 0)
        return r;
    /* OpenSSH's compiled-in defaults for what was not set. */
    if (!(out->set_mask & (1u << K_ROOT)))
        snprintf(out->permit_root_login, sizeof out->permit_root_login, "prohibit-password");
    if (!(out->set_mask & (1u << K_PASSWORD)))
        out->password_auth = true;
    if (!(out->set_mask & (1u << K_KBD)))
        out->kbd_interactive = true;
    if (!(out->set_mask & (1u << K_TRIES)))
        out->max_auth_tries = 6;
    return 0;
}

static const char *where(const struct audit_sshd *s, int k)
{
    return (s->set_mask & (1u << k)) ? s->where[k] : "(OpenSSH default)";
}

static void check_sshd(struct audit_ctx *c, bool *password_on)
{
    const char *cfg = "/etc/ssh/sshd_config";
    struct audit_sshd s;
    if (!audit_exists(c, cfg))
        return;
    if (audit_sshd_load(c, cfg, &s) < 0) {
        audit_add(c, "ssh.config-unreadable", AUDIT_INFO, "sshd configuration could not be read",
                  "Run the audit as root so it can read the SSH server configuration.",
                  "%s: %s", cfg, strerror(errno));
        return;
    }
    *password_on = s.password_auth || s.kbd_interactive;
    if (!strcasecmp(s.permit_root_login, "yes"))
        audit_add(c, "ssh.root-login", AUDIT_HIGH, "SSH allows root to log in with a password",
                  "Set 'PermitRootLogin prohibit-password' (or 'no') in /etc/ssh/sshd_config, "
                  "log in as a normal user and use sudo; then 'systemctl reload ssh'.",
                  "%s: PermitRootLogin %s", where(&s, K_ROOT), s.permit_root_login);
    if (s.permit_empty)
        audit_add(c, "ssh.empty-passwords", AUDIT_CRITICAL, "SSH accepts accounts with empty passwords",
                  "Set 'PermitEmptyPasswords no' in /etc/ssh/sshd_config and reload ssh.",
                  "%s: PermitEmptyPasswords yes", where(&s, K_EMPTY));
    if (s.password_auth)
        audit_add(c, "ssh.password-auth", AUDIT_MEDIUM, "SSH accepts passwords",
                  "Install your public key (ssh-copy-id), then set 'PasswordAuthentication no' "
                  "in /etc/ssh/sshd_config.d/50-mamori.conf and reload ssh.",
                  "%s: PasswordAuthentication yes", where(&s, K_PASSWORD));
    if (s.kbd_interactive)
        audit_add(c, "ssh.kbd-interactive", AUDIT_MEDIUM,
                  "SSH keyboard-interactive login is on (passwords through PAM)",
                  "Set 'KbdInteractiveAuthentication no' unless you use one-time codes, and "
                  "reload ssh.",
                  "%s: KbdInteractiveAuthentication yes", where(&s, K_KBD));
    if (s.max_auth_tries > 4)
        audit_add(c, "ssh.max-auth-tries", AUDIT_LOW, "SSH allows many attempts per connection",
                  "Set 'MaxAuthTries 3' in /etc/ssh/sshd_config.", "%s: MaxAuthTries %d",
                  where(&s, K_TRIES), s.max_auth_tries);
    if (s.x11_forwarding)
        audit_add(c, "ssh.x11-forwarding", AUDIT_LOW, "SSH X11 forwarding is on",
                  "Set 'X11Forwarding no' in /etc/ssh/sshd_config; a server has no display.",
                  "%s: X11Forwarding yes", where(&s, K_X11));
    if (!s.has_allow)
        audit_add(c, "ssh.no-allow-list", AUDIT_LOW, "SSH does not limit which users may log in",
                  "Add 'AllowUsers youruser' (or 'AllowGroups sshusers') to "
                  "/etc/ssh/sshd_config.",
                  "%s: no AllowUsers or AllowGroups", cfg);
    if (s.has_match)
        audit_add(c, "ssh.match-blocks", AUDIT_INFO,
                  "sshd has Match blocks that can change these settings per connection",
                  "Review the Match blocks; the values above are those outside any Match.",
                  "%s", cfg);
}

/* --- authorized_keys --- */

/* Key comments seen in public reports of SSH botnet campaigns that plant
 * their own key (e.g. the "mdrfckr" key of the Outlaw/Dota miner). */
static const char *const bad_key_comments[] = {"mdrfckr"};
/* SHA256 fingerprints (base64, no padding) of campaign keys. Kept empty
 * rather than guessed; add entries from a trusted report. */
static const char *const bad_key_fprs[] = {NULL};

static void fingerprint(const char *b64, size_t n, char *out, size_t outsz)
{
    out[0] = '\0';
    unsigned char *raw = malloc(n);
    if (!raw)
        return;
    int rl = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (rl <= 0) {
        free(raw);
        return;
    }
    while (n && b64[n - 1] == '=') {
        n--;
        rl--;
    }
    unsigned char md[32];
    unsigned mdl = 0;
    EVP_Digest(raw, (size_t)rl, md, &mdl, EVP_sha256(), NULL);
    free(raw);
    unsigned char enc[64];
    int el = EVP_EncodeBlock(enc, md, (int)mdl);
    while (el > 0 && enc[el - 1] == '=')
        el--;
    snprintf(out, outsz, "SHA256:%.*s", el, enc);
}

static void check_keys_file(struct audit_ctx *c, const char *path)
{
    size_t n;
    char *data = audit_read(c, path, 1u << 20, &n, NULL);
    if (!data)
        return;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[16384];
        if (len >= sizeof tmp)
            len = sizeof tmp - 1;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        /* Find the key blob: the word after the key type. */
        char *blob = NULL, *comment = NULL;
        char *p = strstr(tmp, "ssh-");
        char *q = strstr(tmp, "ecdsa-");
        if (!p || (q && q < p))
            p = q;
        if (!p)
            continue;
        char *sp = strchr(p, ' ');
        if (!sp)
            continue;
        blob = sp + 1;
        char *bend = strchr(blob, ' ');
        if (bend) {
            *bend = '\0';
            comment = bend + 1;
        }
        bool bad = false;
        const char *why = "";
        /* A comment word must equal the campaign's comment exactly. */
        for (char *wd = comment ? strtok(comment, " \t") : NULL; wd && !bad; wd = strtok(NULL, " \t"))
            for (size_t i = 0; i < sizeof bad_key_comments / sizeof *bad_key_comments; i++)
                if (!strcmp(wd, bad_key_comments[i])) {
                    bad = true;
                    why = bad_key_comments[i];
                }
        char fpr[80];
        fingerprint(blob, strlen(blob), fpr, sizeof fpr);
        for (size_t i = 0; !bad && i < sizeof bad_key_fprs / sizeof *bad_key_fprs; i++)
            if (bad_key_fprs[i] && !strcmp(fpr + 7, bad_key_fprs[i])) {
                bad = true;
                why = fpr;
            }
        if (bad)
            audit_add(c, "ssh.botnet-key", AUDIT_CRITICAL,
                      "authorized_keys holds a key known from an SSH botnet campaign",
                      "This host is likely compromised: remove the key, rotate every password "
                      "and key, look for miners and cron jobs, and consider reinstalling.",
                      "%s:%u: key comment or fingerprint %s%s%s", path, l.lineno, why,
                      fpr[0] && strcmp(why, fpr) ? ", " : "", fpr[0] && strcmp(why, fpr) ? fpr : "");
    }
    free(data);
}

static void check_authorized_keys(struct audit_ctx *c)
{
    size_t n;
    char *pw = audit_read(c, "/etc/passwd", 4u << 20, &n, NULL);
    char path[4200];
    check_keys_file(c, "/root/.ssh/authorized_keys");
    check_keys_file(c, "/root/.ssh/authorized_keys2");
    if (!pw)
        return;
    struct audit_lines l;
    audit_lines_init(&l, pw, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        /* name:x:uid:gid:gecos:home:shell */
        const char *f[7];
        size_t fl[7];
        int nf = 0;
        const char *s = line, *e = line + len;
        while (nf < 7) {
            const char *colon = memchr(s, ':', (size_t)(e - s));
            f[nf] = s;
            fl[nf] = colon ? (size_t)(colon - s) : (size_t)(e - s);
            nf++;
            if (!colon)
                break;
            s = colon + 1;
        }
        if (nf < 6 || fl[5] == 0 || fl[5] > 1000 || (fl[5] == 5 && !memcmp(f[5], "/root", 5)))
            continue;
        if (fl[5] == 1 && f[5][0] == '/')
            continue;
        snprintf(path, sizeof path, "%.*s/.ssh/authorized_keys", (int)fl[5], f[5]);
        check_keys_file(c, path);
        snprintf(path, sizeof path, "%.*s/.ssh/authorized_keys2", (int)fl[5], f[5]);
        check_keys_file(c, path);
    }
    free(pw);
}

/* --- auth log --- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int num(const char *s, size_t n, size_t *i, int digits)
{
    int v = 0;
    for (int k = 0; k < digits; k++) {
        if (*i >= n || !isdigit((unsigned char)s[*i]))
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    return v;
}

time_t audit_syslog_time(const char *s, size_t n, time_t now, size_t *rest)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    size_t i = 0;
    if (n >= 19 && isdigit((unsigned char)s[0]) && s[4] == '-') {
        int y = num(s, n, &i, 4);
        i++;
        int mo = num(s, n, &i, 2);
        i++;
        int d = num(s, n, &i, 2);
        if (i >= n || (s[i] != 'T' && s[i] != ' '))
            return 0;
        i++;
        int h = num(s, n, &i, 2);
        i++;
        int mi = num(s, n, &i, 2);
        i++;
        int se = num(s, n, &i, 2);
        if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || mi < 0 || se < 0)
            return 0;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
        }
        long off = 0;
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '-' ? -1 : 1;
            i++;
            int oh = num(s, n, &i, 2);
            if (i < n && s[i] == ':')
                i++;
            int om = num(s, n, &i, 2);
            if (oh < 0 || om < 0)
                return 0;
            off = sign * (oh * 3600L + om * 60L);
        }
        if (rest)
            *rest = i;
        return timegm(&tm) - off;
    }
    if (n < 15)
        return 0;
    int mo = -1;
    for (int k = 0; k < 12; k++)
        if (!memcmp(s, months[k], 3))
            mo = k;
    if (mo < 0 || s[3] != ' ')
        return 0;
    i = 4;
    if (s[i] == ' ')
        i++;
    int d = 0;
    while (i < n && isdigit((unsigned char)s[i]) && d < 100)
        d = d * 10 + (s[i++] - '0');
    if (i >= n || s[i] != ' ')
        return 0;
    i++;
    int h = num(s, n, &i, 2);
    i++;
    int mi = num(s, n, &i, 2);
    i++;
    int se = num(s, n, &i, 2);
    if (d < 1 || h < 0 || mi < 0 || se < 0)
        return 0;
    struct tm nt;
    gmtime_r(&now, &nt);
    tm.tm_year = nt.tm_year;
    tm.tm_mon = mo;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t > now + 86400) { /* December's lines read in January */
        tm.tm_year--;
        t = timegm(&tm);
    }
    if (rest)
        *rest = i;
    return t;
}

#define IPTAB_SIZE 4096
#define BRUTE_RUN 5            /* failures before a success that count as a run */
#define BRUTE_WINDOW (7 * 86400)

struct ipent {
    char ip[46];
    unsigned fails_run;  /* failures since the last success */
    unsigned fails_week; /* failures within BRUTE_WINDOW of now */
    bool used;
};

struct authscan {
    struct audit_ctx *c;
    struct ipent *tab;
    size_t used;
    unsigned total_week;
    const char *file;
    unsigned lineno;
};

static struct ipent *ip_get(struct authscan *a, const char *ip, size_t n)
{
    if (n == 0 || n >= 46)
        return NULL;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)ip[i]) * 16777619u;
    for (size_t k = 0; k < IPTAB_SIZE; k++) {
        struct ipent *e = &a->tab[(h + k) % IPTAB_SIZE];
        if (!e->used) {
            if (a->used >= IPTAB_SIZE * 3 / 4)
                return NULL; /* table full: new addresses are not tracked */
            e->used = true;
            memcpy(e->ip, ip, n);
            e->ip[n] = '\0';
            a->used++;
            return e;
        }
        if (strlen(e->ip) == n && !memcmp(e->ip, ip, n))
            return e;
    }
    return NULL;
}

static const char *memfind(const char *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    if (nn > hn)
        return NULL;
    return memmem(h, hn, needle, nn);
}

static int auth_line(void *arg, const char *line, size_t len)
{
    struct authscan *a = arg;
    a->lineno++;
    if (!memfind(line, len, "sshd"))
        return 0;
    size_t rest = 0;
    time_t t = audit_syslog_time(line, len, a->c->now, &rest);
    bool fail = memfind(line, len, "Failed password for ") || memfind(line, len, "Invalid user ") ||
                memfind(line, len, "Failed keyboard-interactive");
    bool ok = !fail && memfind(line, len, "Accepted ");
    if (!fail && !ok)
        return 0;
    const char *from = memfind(line, len, " from ");
    if (!from)
        return 0;
    from += 6;
    const char *end = line + len;
    const char *e = from;
    while (e < end && *e != ' ')
        e++;
    struct ipent *ip = ip_get(a, from, (size_t)(e - from));
    if (!ip)
        return 0;
    if (fail) {
        ip->fails_run++;
        if (t && t <= a->c->now && a->c->now - t <= BRUTE_WINDOW) {
            ip->fails_week++;
            a->total_week++;
        }
    } else {
        if (ip->fails_run >= BRUTE_RUN) {
            const char *user = memfind(line, len, " for ");
            int ul = 0;
            if (user) {
                user += 5;
                while (user + ul < end && user[ul] != ' ' && ul < 64)
                    ul++;
            }
            audit_add(a->c, "ssh.login-after-bruteforce", AUDIT_CRITICAL,
                      "Successful SSH login from an address that was guessing passwords",
                      "Treat the account as compromised: lock it (passwd -l), kill its sessions, "
                      "check ~/.ssh/authorized_keys, crontabs and running processes, then "
                      "rotate its credentials and turn password login off.",
                      "%s:%u: %.*s from %s after %u failed attempts", a->file, a->lineno, ul,
                      user ? user : "?", ip->ip, ip->fails_run);
        }
        ip->fails_run = 0;
    }
    return 0;
}

struct logfile {
    char path[300];
    int order; /* larger = older */
};

static int cmp_logfile(const void *x, const void *y)
{
    const struct logfile *a = x, *b = y;
    return b->order - a->order;
}

static void scan_logs_named(struct audit_ctx *c, struct authscan *a, const char *base)
{
    /* base: e.g. "auth.log" under /var/log; rotated: base.1, base.2.gz ... */
    char **names;
    int n = audit_list_dir(c, "/var/log", &names);
    if (n <= 0)
        return;
    struct logfile *lf = calloc((size_t)n, sizeof *lf);
    int k = 0;
    size_t bl = strlen(base);
    for (int i = 0; lf && i < n; i++) {
        const char *nm = names[i];
        if (strncmp(nm, base, bl))
            continue;
        int order;
        if (!nm[bl]) {
            order = 0;
        } else if (nm[bl] == '.' && isdigit((unsigned char)nm[bl + 1])) {
            char *endp;
            long r = strtol(nm + bl + 1, &endp, 10);
            if (*endp && strcmp(endp, ".gz"))
                continue;
            order = (int)(r > 1000 ? 1000 : r);
        } else if (nm[bl] == '-' && isdigit((unsigned char)nm[bl + 1])) {
            /* dateext: secure-20261120(.gz); order by date, newest last */
            order = 100000000 - atoi(nm + bl + 1) % 100000000;
        } else {
            continue;
        }
        snprintf(lf[k].path, sizeof lf[k].path, "/var/log/%s", nm);
        lf[k].order = order;
        k++;
    }
    if (lf) {
        qsort(lf, (size_t)k, sizeof *lf, cmp_logfile);
        for (int i = 0; i < k; i++) {
            a->file = lf[i].path;
            a->lineno = 0;
            audit_stream_lines(c, lf[i].path, (size_t)32 << 20, auth_line, a);
        }
    }
    free(lf);
    audit_free_list(names, n);
}

static void check_auth_log(struct audit_ctx *c, bool password_on)
{
    struct authscan a = {c, calloc(IPTAB_SIZE, sizeof(struct ipent)), 0, 0, "", 0};
    if (!a.tab)
        return;
    scan_logs_named(c, &a, "auth.log");
    scan_logs_named(c, &a, "secure");
    if (a.total_week >= 20) {
        /* Top three addresses by failures this week. */
        struct ipent *top[3] = {NULL, NULL, NULL};
        for (size_t i = 0; i < IPTAB_SIZE; i++) {
            struct ipent *e = &a.tab[i];
            if (!e->used || !e->fails_week)
                continue;
            for (int k = 0; k < 3; k++) {
                if (!top[k] || e->fails_week > top[k]->fails_week) {
                    for (int m = 2; m > k; m--)
                        top[m] = top[m - 1];
                    top[k] = e;
                    break;
                }
            }
        }
        char ev[400];
        int o = snprintf(ev, sizeof ev, "%u failed SSH logins in 7 days; top:", a.total_week);
        for (int k = 0; k < 3 && top[k] && o > 0 && (size_t)o < sizeof ev; k++)
            o += snprintf(ev + o, sizeof ev - (size_t)o, " %s (%u)", top[k]->ip, top[k]->fails_week);
        audit_add(c, "ssh.bruteforce", password_on ? AUDIT_MEDIUM : AUDIT_LOW,
                  "SSH is under password-guessing attack",
                  "Turn password login off (keys only) and let mamori or fail2ban ban "
                  "addresses that keep failing.",
                  "%s", ev);
    }
    free(a.tab);
}

void audit_check_ssh(struct audit_ctx *c)
{
    bool password_on = false;
    check_sshd(c, &password_on);
    check_authorized_keys(c);
    check_auth_log(c, password_on);
}
