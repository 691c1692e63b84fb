/* Log line parsers: syslog (RFC 3164 and RFC 3339/5424 stamps) carrying
 * sshd, vsftpd, Postfix and Dovecot messages; vsftpd's own log; nginx and
 * Apache access and error logs; mamori's JSON-lines event and access logs.
 *
 * Hand-written matchers, no regex: every message shape is anchored on
 * fixed text mamori's authors know the daemon writes, and where a message
 * carries attacker-chosen text (user names, disconnect reasons) the address
 * is taken from the fixed tail or head around it, never from the middle,
 * so "user x from 6.6.6.6" cannot frame someone else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/watch.h"

static const char *const kind_names[WATCH_EV_NKIND] = {
    "none",        "auth_fail",    "invalid_user", "preauth_disconnect", "too_many_failures",
    "probe",       "proxy_block",  "proxy_reject", "http_4xx",           "auth_ok",
};
static const char *const svc_names[WATCH_NSVC] = {"ssh", "http", "ftp", "mail", "proxy"};

const char *watch_kind_name(enum watch_kind k)
{
    return (unsigned)k < WATCH_EV_NKIND ? kind_names[k] : "?";
}

const char *watch_svc_name(enum watch_svc s)
{
    return (unsigned)s < WATCH_NSVC ? svc_names[s] : "?";
}

int watch_svc_from_name(const char *s)
{
    for (int i = 0; i < WATCH_NSVC; i++)
        if (!strcmp(s, svc_names[i]))
            return i;
    return -1;
}

/* ---- small helpers ------------------------------------------------------ */

static const char *find(const char *s, size_t n, const char *lit)
{
    size_t ln = strlen(lit);
    return ln <= n ? memmem(s, n, lit, ln) : NULL;
}

/* Last occurrence of lit in s[0..n). */
static const char *rfind(const char *s, size_t n, const char *lit)
{
    size_t ln = strlen(lit);
    if (ln > n)
        return NULL;
    for (size_t i = n - ln + 1; i-- > 0;)
        if (s[i] == lit[0] && !memcmp(s + i, lit, ln))
            return s + i;
    return NULL;
}

static bool starts(const char *s, size_t n, const char *lit)
{
    size_t ln = strlen(lit);
    return n >= ln && !memcmp(s, lit, ln);
}

static bool ends(const char *s, size_t n, const char *lit)
{
    size_t ln = strlen(lit);
    return n >= ln && !memcmp(s + n - ln, lit, ln);
}

#define LEN(lit) (sizeof(lit) - 1)

static bool is_ipch(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == '.' || c == ':';
}

/* Address token starting at s. */
static int ip_at(const char *s, const char *end, struct watch_addr *a)
{
    size_t n = 0;
    while (s + n < end && n < 46 && is_ipch(s[n]))
        n++;
    return n ? watch_addr_parse(s, n, a) : -1;
}

/* Address token ending right before e (scanning back over address bytes). */
static int ip_before(const char *start, const char *e, struct watch_addr *a)
{
    const char *s = e;
    while (s > start && (size_t)(e - s) < 46 && is_ipch(s[-1]))
        s--;
    return s < e ? watch_addr_parse(s, (size_t)(e - s), a) : -1;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int year_of(int64_t t)
{
    int64_t z = t / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return (int)(y + (m <= 2));
}

static int month_of(const char *s)
{
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (!memcmp(s, mons + 3 * i, 3))
            return i + 1;
    return 0;
}

static int64_t mk(int y, int mo, int d, int h, int mi, int s)
{
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* ---- timestamps --------------------------------------------------------- */

void watch_parser_init(struct watch_parser *p, int64_t now)
{
    memset(p, 0, sizeof *p);
    p->ref = now;
}

/* "Nov 25 21:00:01" / "Nov  5 21:00:01" with the year inferred: the year of
 * the reference time, one less if that puts the stamp more than two days in
 * the future, and one more each time the months wrap (Dec -> Jan). */
int64_t watch_parse_rfc3164(struct watch_parser *p, const char *s, size_t n, size_t *used)
{
    if (n < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':')
        return -1;
    int mon = month_of(s);
    int day = s[4] == ' ' ? digits(s + 5, 1) : digits(s + 4, 2);
    int h = digits(s + 7, 2), mi = digits(s + 10, 2), sec = digits(s + 13, 2);
    if (!mon || day < 1 || day > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return -1;
    if (!p->year) {
        int y = year_of(p->ref);
        if (mk(y, mon, day, h, mi, sec) > p->ref + 2 * 86400)
            y--;
        p->year = y;
    } else if (mon + 6 < p->last_mon) {
        p->year++;
    }
    p->last_mon = mon;
    *used = 15;
    return mk(p->year, mon, day, h, mi, sec);
}

/* "2026-11-25T21:00:01[.123456][Z|+01:00]" (also with a space for T). */
int64_t watch_parse_iso8601(const char *s, size_t n, size_t *used)
{
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -1;
    size_t i = 19;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    int64_t off = 0;
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i + 6 <= n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || om < 0)
            return -1;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    }
    *used = i;
    return mk(y, mo, d, h, mi, sec) - off;
}

/* "25/Nov/2026:21:00:01 +0000" */
static int64_t parse_clf_time(const char *s, size_t n)
{
    if (n < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[20] != ' ')
        return -1;
    int d = digits(s, 2), mon = month_of(s + 3), y = digits(s + 7, 4);
    int h = digits(s + 12, 2), mi = digits(s + 15, 2), sec = digits(s + 18, 2);
    int oh = digits(s + 22, 2), om = digits(s + 24, 2);
    if (d < 1 || !mon || y < 1970 || h < 0 || mi < 0 || sec < 0 || oh < 0 || om < 0)
        return -1;
    int64_t off = (oh * 3600 + om * 60) * (s[21] == '-' ? -1 : 1);
    return mk(y, mon, d, h, mi, sec) - off;
}

/* "Wed Nov 25 21:00:01[.123456] 2026" (vsftpd, Apache error log) */
static int64_t parse_ctime(const char *s, size_t n, size_t *used)
{
    if (n < 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
        return -1;
    int mon = month_of(s + 4);
    int d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i + 5 > n || s[i] != ' ')
        return -1;
    int y = digits(s + i + 1, 4);
    if (!mon || d < 1 || h < 0 || mi < 0 || sec < 0 || y < 1970)
        return -1;
    *used = i + 5;
    return mk(y, mon, d, h, mi, sec);
}

/* ---- message parsers ---------------------------------------------------- */

static void set(struct watch_event *ev, enum watch_kind k, enum watch_svc s)
{
    ev->kind = k;
    ev->svc = s;
}

/* "USER from IP port N..." where USER may hold anything: take the last
 * " from " (the daemon's own text follows it). */
static int from_last(const char *m, size_t n, struct watch_event *ev, const char *user0)
{
    const char *f = rfind(m, n, " from ");
    if (!f || ip_at(f + 6, m + n, &ev->addr) < 0)
        return -1;
    if (user0 && user0 <= f)
        ev->user = str_make(user0, (size_t)(f - user0));
    return 0;
}

/* "... [authenticating user U |invalid user U ]IP port N<tail>" where tail is
 * fixed text: the address is the token before the last " port ". */
static int ip_before_port(const char *m, size_t n, struct watch_event *ev)
{
    const char *p = rfind(m, n, " port ");
    if (!p || ip_before(m, p, &ev->addr) < 0)
        return -1;
    return 0;
}

static int parse_sshd(const char *m, size_t n, struct watch_event *ev)
{
    if (starts(m, n, "Failed ")) {
        const char *f = find(m, n, " for ");
        if (!f)
            return 0;
        const char *u = f + 5;
        size_t rest = (size_t)(m + n - u);
        bool inv = starts(u, rest, "invalid user ");
        if (inv)
            u += 13;
        if (from_last(m, n, ev, u) < 0)
            return 0;
        set(ev, WATCH_EV_AUTH_FAIL, WATCH_SSH);
        return 1;
    }
    if (starts(m, n, "Invalid user ")) {
        if (from_last(m, n, ev, m + 13) < 0)
            return 0;
        set(ev, WATCH_EV_INVALID_USER, WATCH_SSH);
        return 1;
    }
    if (starts(m, n, "Accepted ")) {
        const char *f = find(m, n, " for ");
        if (!f || from_last(m, n, ev, f + 5) < 0)
            return 0;
        set(ev, WATCH_EV_AUTH_OK, WATCH_SSH);
        return 1;
    }
    if (ends(m, n, "[preauth]")) {
        if (find(m, n, "Too many authentication failures") ||
            starts(m, n, "error: maximum authentication attempts exceeded")) {
            int r = starts(m, n, "error: maximum") ? from_last(m, n, ev, NULL)
                                                   : ip_before_port(m, n, ev);
            if (r < 0)
                return 0;
            set(ev, WATCH_EV_TOO_MANY, WATCH_SSH);
            return 1;
        }
        if (starts(m, n, "Received disconnect from ")) {
            if (ip_at(m + LEN("Received disconnect from "), m + n, &ev->addr) < 0)
                return 0;
        } else if (starts(m, n, "Connection closed by ") || starts(m, n, "Disconnected from ") ||
                   starts(m, n, "Connection reset by ")) {
            /* the tail must be the fixed " port N [preauth]" */
            const char *p = rfind(m, n, " port ");
            if (!p)
                return 0;
            for (const char *q = p + 6; q < m + n - 10; q++)
                if (*q < '0' || *q > '9')
                    return 0;
            if (ip_before(m, p, &ev->addr) < 0)
                return 0;
        } else {
            return 0;
        }
        set(ev, WATCH_EV_PREAUTH, WATCH_SSH);
        return 1;
    }
    if (starts(m, n, "Did not receive identification string from ")) {
        if (ip_at(m + LEN("Did not receive identification string from "), m + n, &ev->addr) < 0)
            return 0;
        set(ev, WATCH_EV_PROBE, WATCH_SSH);
        return 1;
    }
    if (starts(m, n, "Unable to negotiate with ")) {
        if (ip_at(m + LEN("Unable to negotiate with "), m + n, &ev->addr) < 0)
            return 0;
        set(ev, WATCH_EV_PROBE, WATCH_SSH);
        return 1;
    }
    if (starts(m, n, "banner exchange: Connection from ")) {
        if (ip_at(m + LEN("banner exchange: Connection from "), m + n, &ev->addr) < 0)
            return 0;
        set(ev, WATCH_EV_PROBE, WATCH_SSH);
        return 1;
    }
    return 0;
}

/* pam_unix(SVC:auth): authentication failure; ... rhost=IP  user=U */
static int parse_pam(const char *m, size_t n, enum watch_svc svc, struct watch_event *ev)
{
    if (!find(m, n, "authentication failure;"))
        return 0;
    const char *r = find(m, n, " rhost=");
    if (!r || ip_at(r + 7, m + n, &ev->addr) < 0)
        return 0;
    const char *u = find(r, (size_t)(m + n - r), " user=");
    if (u)
        ev->user = str_make(u + 6, (size_t)(m + n - u - 6));
    set(ev, WATCH_EV_AUTH_FAIL, svc);
    return 1;
}

static int parse_postfix(const char *m, size_t n, struct watch_event *ev)
{
    const char *s = find(m, n, "]: SASL ");
    if (s && find(s, (size_t)(m + n - s), " authentication failed")) {
        const char *e = s;
        const char *o = e;
        while (o > m && o[-1] != '[')
            o--;
        if (o == m || watch_addr_parse(o, (size_t)(e - o), &ev->addr) < 0)
            return 0;
        set(ev, WATCH_EV_AUTH_FAIL, WATCH_MAIL);
        return 1;
    }
    return 0;
}

static int parse_dovecot(const char *m, size_t n, struct watch_event *ev)
{
    if (!find(m, n, "(auth failed,"))
        return 0;
    const char *r = find(m, n, ", rip=");
    if (!r || ip_at(r + 6, m + n, &ev->addr) < 0)
        return 0;
    const char *u = find(m, n, "user=<");
    if (u && u < r) {
        const char *e = memchr(u + 6, '>', (size_t)(r - u - 6));
        if (e)
            ev->user = str_make(u + 6, (size_t)(e - u - 6));
    }
    set(ev, WATCH_EV_AUTH_FAIL, WATCH_MAIL);
    return 1;
}

/* vsftpd's own log: '[pid N] [user] FAIL LOGIN: Client "IP"' */
static int parse_vsftpd(const char *m, size_t n, struct watch_event *ev)
{
    const char *f = find(m, n, "] FAIL LOGIN: Client \"");
    if (f) {
        if (ip_at(f + 22, m + n, &ev->addr) < 0)
            return 0;
        const char *u = rfind(m, (size_t)(f - m), "] [");
        if (u)
            ev->user = str_make(u + 3, (size_t)(f - u - 3));
        set(ev, WATCH_EV_AUTH_FAIL, WATCH_FTP);
        return 1;
    }
    if (starts(m, n, "pam_unix("))
        return parse_pam(m, n, WATCH_FTP, ev);
    return 0;
}

/* After the syslog stamp: " host prog[pid]: msg" */
static int parse_syslog_body(const char *s, size_t n, struct watch_event *ev)
{
    if (!n || s[0] != ' ')
        return -1;
    const char *host = s + 1, *end = s + n;
    const char *sp = memchr(host, ' ', (size_t)(end - host));
    if (!sp)
        return -1;
    const char *prog = sp + 1;
    const char *colon = memchr(prog, ':', (size_t)(end - prog));
    if (!colon || colon + 1 >= end)
        return -1;
    size_t plen = (size_t)(colon - prog);
    const char *br = memchr(prog, '[', plen);
    if (br)
        plen = (size_t)(br - prog);
    const char *m = colon + 1;
    if (m < end && *m == ' ')
        m++;
    size_t mn = (size_t)(end - m);
    if ((plen == 4 && !memcmp(prog, "sshd", 4)) || (plen == 12 && !memcmp(prog, "sshd-session", 12))) {
        return parse_sshd(m, mn, ev);
    }
    if (plen == 6 && !memcmp(prog, "vsftpd", 6))
        return parse_vsftpd(m, mn, ev);
    if (plen >= 7 && !memcmp(prog, "postfix", 7))
        return parse_postfix(m, mn, ev);
    if (plen >= 7 && !memcmp(prog, "dovecot", 7))
        return parse_dovecot(m, mn, ev);
    return 0;
}

/* RFC 5424 after the stamp: " host app procid msgid sd msg" */
static int parse_5424_body(const char *s, size_t n, struct watch_event *ev)
{
    const char *p = s, *end = s + n;
    const char *f[4];
    size_t fl[4];
    for (int i = 0; i < 4; i++) {
        while (p < end && *p == ' ')
            p++;
        f[i] = p;
        while (p < end && *p != ' ')
            p++;
        fl[i] = (size_t)(p - f[i]);
    }
    while (p < end && *p == ' ')
        p++;
    /* structured data: "-" or [..][..] */
    if (p < end && *p == '-') {
        p++;
    } else {
        while (p < end && *p == '[') {
            const char *q = p + 1;
            while (q < end && *q != ']') {
                if (*q == '\\' && q + 1 < end)
                    q++;
                q++;
            }
            p = q < end ? q + 1 : end;
        }
    }
    if (p < end && *p == ' ')
        p++;
    size_t mn = (size_t)(end - p);
    if (mn >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
        p += 3;
        mn -= 3;
    }
    const char *app = f[1];
    size_t al = fl[1];
    if ((al == 4 && !memcmp(app, "sshd", 4)) || (al == 12 && !memcmp(app, "sshd-session", 12)))
        return parse_sshd(p, mn, ev);
    if (al == 6 && !memcmp(app, "vsftpd", 6))
        return parse_vsftpd(p, mn, ev);
    if (al >= 7 && !memcmp(app, "postfix", 7))
        return parse_postfix(p, mn, ev);
    if (al >= 7 && !memcmp(app, "dovecot", 7))
        return parse_dovecot(p, mn, ev);
    return 0;
}

/* '"key":' followed by a string value: returns the slice, or n = 0. */
static struct str json_str(const char *s, size_t n, const char *key)
{
    const char *k = find(s, n, key);
    if (!k)
        return str_make(NULL, 0);
    const char *v = k + strlen(key);
    const char *end = s + n;
    while (v < end && *v == ' ')
        v++;
    if (v >= end || *v != '"')
        return str_make(NULL, 0);
    v++;
    const char *e = v;
    while (e < end && *e != '"' && *e != '\\')
        e++;
    if (e >= end || *e != '"')
        return str_make(NULL, 0);
    return str_make(v, (size_t)(e - v));
}

static int parse_json(const char *s, size_t n, struct watch_event *ev)
{
    struct str ip = json_str(s, n, "\"client.ip\":");
    if (!ip.n || watch_addr_parse(ip.p, ip.n, &ev->addr) < 0)
        return 0;
    struct str ts = json_str(s, n, "\"@timestamp\":");
    size_t used;
    if (ts.n) {
        int64_t t = watch_parse_iso8601(ts.p, ts.n, &used);
        if (t > 0)
            ev->t = t;
    }
    const char *st = find(s, n, "\"http.response.status_code\":");
    if (st) {
        const char *v = st + 28;
        int code = 0;
        for (int i = 0; i < 3 && v + i < s + n; i++) {
            if (v[i] < '0' || v[i] > '9') {
                code = 0;
                break;
            }
            code = code * 10 + (v[i] - '0');
        }
        ev->status = code;
    }
    struct str act = json_str(s, n, "\"event.action\":");
    if (act.n == 7 && !memcmp(act.p, "blocked", 7)) {
        set(ev, WATCH_EV_PROXY_BLOCK, WATCH_PROXY);
        return 1;
    }
    if (act.n == 8 && !memcmp(act.p, "rejected", 8)) {
        set(ev, WATCH_EV_PROXY_REJECT, WATCH_PROXY);
        return 1;
    }
    if (!act.n && ev->status >= 400 && ev->status < 500) {
        set(ev, WATCH_EV_HTTP_4XX, WATCH_HTTP);
        return 1;
    }
    return 0;
}

/* Combined/common access log: IP - user [time] "req" status ... */
static int parse_access(const char *s, size_t n, struct watch_event *ev)
{
    const char *end = s + n;
    const char *sp = memchr(s, ' ', n);
    if (!sp || watch_addr_parse(s, (size_t)(sp - s), &ev->addr) < 0)
        return -1;
    const char *lb = memchr(sp, '[', (size_t)(end - sp));
    if (!lb)
        return -1;
    int64_t t = parse_clf_time(lb + 1, (size_t)(end - lb - 1));
    if (t > 0)
        ev->t = t;
    const char *q = memchr(lb, '"', (size_t)(end - lb));
    if (!q)
        return -1;
    /* the status follows the request's closing quote: '" DDD ' */
    for (const char *p = q + 1; p + 5 <= end; p++) {
        p = memchr(p, '"', (size_t)(end - p));
        if (!p || p + 5 > end)
            break;
        if (p[-1] == '\\')
            continue;
        if (p[1] == ' ' && digits(p + 2, 3) >= 100 && (p + 5 == end || p[5] == ' ')) {
            ev->status = digits(p + 2, 3);
            break;
        }
    }
    if (ev->status >= 400 && ev->status < 500) {
        set(ev, WATCH_EV_HTTP_4XX, WATCH_HTTP);
        return 1;
    }
    return 0;
}

/* nginx error log: "2026/11/25 21:00:01 [error] N#N: *N msg, client: IP, ..." */
static int parse_nginx_error(const char *s, size_t n, struct watch_event *ev)
{
    if (n < 20 || s[4] != '/' || s[7] != '/' || s[10] != ' ')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || d < 1 || h < 0 || mi < 0 || sec < 0)
        return -1;
    ev->t = mk(y, mo, d, h, mi, sec);
    const char *c = rfind(s, n, ", client: ");
    if (!c || ip_at(c + 10, s + n, &ev->addr) < 0)
        return 0;
    if (find(s, n, "\" was not found in \"") || find(s, n, "password mismatch")) {
        set(ev, WATCH_EV_AUTH_FAIL, WATCH_HTTP);
        return 1;
    }
    if (find(s, n, "limiting requests") || find(s, n, "limiting connections")) {
        set(ev, WATCH_EV_PROBE, WATCH_HTTP);
        return 1;
    }
    return 0;
}

/* Apache error log: "[Wed Nov 25 21:00:01.1 2026] [mod:lvl] [pid N] [client IP:port] AHnnnnn: ..." */
static int parse_apache_error(const char *s, size_t n, struct watch_event *ev)
{
    size_t used;
    int64_t t = parse_ctime(s + 1, n - 1, &used);
    if (t < 0)
        return -1;
    ev->t = t;
    const char *c = find(s, n, "] [client ");
    if (!c)
        return 0;
    const char *ip = c + 10, *end = s + n;
    const char *rb = memchr(ip, ']', (size_t)(end - ip));
    if (!rb)
        return 0;
    /* strip ":port" */
    const char *col = rb;
    while (col > ip && col[-1] != ':')
        col--;
    const char *ipe = col > ip ? col - 1 : rb;
    if (watch_addr_parse(ip, (size_t)(ipe - ip), &ev->addr) < 0 &&
        watch_addr_parse(ip, (size_t)(rb - ip), &ev->addr) < 0)
        return 0;
    const char *msg = rb + 1;
    size_t mn = (size_t)(end - msg);
    if (find(msg, mn, " AH01618: ") || find(msg, mn, " AH01617: ") ||
        find(msg, mn, "authentication failure")) {
        set(ev, WATCH_EV_AUTH_FAIL, WATCH_HTTP);
        return 1;
    }
    return 0;
}

int watch_parse_line(struct watch_parser *p, const char *line, size_t n, struct watch_event *ev)
{
    memset(ev, 0, sizeof *ev);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n < 10)
        return -1;
    const char *s = line;
    size_t used = 0;
    int64_t t;
    int r;
    if (s[0] == '{')
        return parse_json(s, n, ev);
    if (s[0] == '<') {
        /* <PRI> then RFC 5424 "1 " or an RFC 3164 stamp */
        size_t i = 1;
        while (i < n && i < 5 && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i >= n || s[i] != '>')
            return -1;
        s += i + 1;
        n -= i + 1;
        if (n > 2 && s[0] == '1' && s[1] == ' ') {
            t = watch_parse_iso8601(s + 2, n - 2, &used);
            if (t < 0)
                return -1;
            ev->t = t;
            return parse_5424_body(s + 2 + used, n - 2 - used, ev);
        }
    }
    if (s[0] >= 'A' && s[0] <= 'Z') {
        if (n > 24 && s[3] == ' ' && s[7] == ' ' && (t = parse_ctime(s, n, &used)) >= 0) {
            ev->t = t; /* vsftpd's own log */
            return parse_vsftpd(s + used, n - used, ev);
        }
        t = watch_parse_rfc3164(p, s, n, &used);
        if (t < 0)
            return -1;
        ev->t = t;
        r = parse_syslog_body(s + used, n - used, ev);
        return r;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        if (n > 19 && s[4] == '-') {
            t = watch_parse_iso8601(s, n, &used);
            if (t < 0)
                return -1;
            ev->t = t;
            return parse_syslog_body(s + used, n - used, ev);
        }
        if (n > 19 && s[4] == '/')
            return parse_nginx_error(s, n, ev);
        return parse_access(s, n, ev);
    }
    if (s[0] == '[')
        return parse_apache_error(s, n, ev);
    if (is_ipch(s[0]))
        return parse_access(s, n, ev); /* IPv6 client first */
    return -1;
}
