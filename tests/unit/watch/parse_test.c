/* Table-driven parser corpus: line -> kind, service, address (or nothing).
 * A row with known_gap = 1 documents a shape not handled yet. */
#include "../t.h"
#include "watch/watch.h"

struct row {
    const char *line;
    int ret; /* watch_parse_line's return */
    enum watch_kind kind;
    enum watch_svc svc;
    const char *ip;
    const char *user;
};

static const struct row rows[] = {
    /* sshd, RFC 3164 */
    {"Nov 25 21:00:01 web sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2", 1,
     WATCH_EV_AUTH_FAIL, WATCH_SSH, "203.0.113.5", "root"},
    {"Nov  5 21:00:01 web sshd[1]: Failed password for invalid user admin from 203.0.113.5 port 22 ssh2",
     1, WATCH_EV_AUTH_FAIL, WATCH_SSH, "203.0.113.5", "admin"},
    {"Nov 25 21:00:01 web sshd[1]: Failed publickey for git from 2001:db8::7 port 22 ssh2: ED25519 SHA256:x",
     1, WATCH_EV_AUTH_FAIL, WATCH_SSH, "2001:db8::7", "git"},
    {"Nov 25 21:00:01 web sshd[1]: Invalid user oracle from 198.51.100.2 port 4444", 1,
     WATCH_EV_INVALID_USER, WATCH_SSH, "198.51.100.2", "oracle"},
    {"Nov 25 21:00:01 web sshd[1]: Connection closed by authenticating user root 198.51.100.3 port 5 [preauth]",
     1, WATCH_EV_PREAUTH, WATCH_SSH, "198.51.100.3", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Connection closed by 198.51.100.4 port 5 [preauth]", 1,
     WATCH_EV_PREAUTH, WATCH_SSH, "198.51.100.4", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Disconnected from invalid user x 198.51.100.5 port 5 [preauth]", 1,
     WATCH_EV_PREAUTH, WATCH_SSH, "198.51.100.5", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Received disconnect from 198.51.100.6 port 5:11: Bye Bye [preauth]",
     1, WATCH_EV_PREAUTH, WATCH_SSH, "198.51.100.6", NULL},
    {"Nov 25 21:00:01 web sshd[1]: error: maximum authentication attempts exceeded for root from 198.51.100.7 port 5 ssh2 [preauth]",
     1, WATCH_EV_TOO_MANY, WATCH_SSH, "198.51.100.7", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Disconnecting authenticating user root 198.51.100.8 port 5: Too many authentication failures [preauth]",
     1, WATCH_EV_TOO_MANY, WATCH_SSH, "198.51.100.8", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Did not receive identification string from 198.51.100.9 port 5",
     1, WATCH_EV_PROBE, WATCH_SSH, "198.51.100.9", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Unable to negotiate with 198.51.100.10 port 5: no matching key exchange method found.",
     1, WATCH_EV_PROBE, WATCH_SSH, "198.51.100.10", NULL},
    {"Nov 25 21:00:01 web sshd[1]: Accepted publickey for deploy from 192.0.2.1 port 5 ssh2: ED25519 SHA256:x",
     1, WATCH_EV_AUTH_OK, WATCH_SSH, "192.0.2.1", "deploy"},
    {"Nov 25 21:00:01 web sshd-session[1]: Failed password for root from 192.0.2.2 port 5 ssh2", 1,
     WATCH_EV_AUTH_FAIL, WATCH_SSH, "192.0.2.2", "root"},
    /* the user name cannot frame another address */
    {"Nov 25 21:00:01 web sshd[1]: Failed password for invalid user x from 6.6.6.6 from 192.0.2.3 port 5 ssh2",
     1, WATCH_EV_AUTH_FAIL, WATCH_SSH, "192.0.2.3", "x from 6.6.6.6"},
    {"Nov 25 21:00:01 web sshd[1]: Connection closed by invalid user 6.6.6.6 port 9 192.0.2.4 port 5 [preauth]",
     1, WATCH_EV_PREAUTH, WATCH_SSH, "192.0.2.4", NULL},
    /* the daemon's own tail is last: here 6.6.6.6 really is the peer */
    {"Nov 25 21:00:01 web sshd[1]: Connection closed by invalid user 192.0.2.5 port 5 [preauth] x 6.6.6.6 port 7 [preauth]",
     1, WATCH_EV_PREAUTH, WATCH_SSH, "6.6.6.6", NULL},
    /* not scored */
    {"Nov 25 21:00:01 web sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.6",
     0, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"Nov 25 21:00:01 web sshd[1]: Received disconnect from 192.0.2.7 port 5:11: disconnected by user",
     0, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"Nov 25 21:00:01 web CRON[1]: pam_unix(cron:session): session opened for user root", 0,
     WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    /* ISO 8601 (rsyslog on Debian 12) and RFC 5424 */
    {"2026-11-25T21:00:01.123456+01:00 web sshd[1]: Failed password for root from 192.0.2.8 port 5 ssh2",
     1, WATCH_EV_AUTH_FAIL, WATCH_SSH, "192.0.2.8", "root"},
    {"<38>1 2026-11-25T21:00:01Z web sshd 1 - - Invalid user bob from 192.0.2.9 port 5", 1,
     WATCH_EV_INVALID_USER, WATCH_SSH, "192.0.2.9", "bob"},
    {"<38>1 2026-11-25T21:00:01Z web sshd 1 - [meta x=\"\\]\"] Invalid user bob from 192.0.2.10 port 5", 1,
     WATCH_EV_INVALID_USER, WATCH_SSH, "192.0.2.10", "bob"},
    /* vsftpd */
    {"Wed Nov 25 21:00:01 2026 [pid 42] [anna] FAIL LOGIN: Client \"192.0.2.11\"", 1,
     WATCH_EV_AUTH_FAIL, WATCH_FTP, "192.0.2.11", "anna"},
    {"Wed Nov 25 21:00:01 2026 [pid 42] [anna] FAIL LOGIN: Client \"::ffff:192.0.2.12\"", 1,
     WATCH_EV_AUTH_FAIL, WATCH_FTP, "192.0.2.12", "anna"},
    {"Nov 25 21:00:01 web vsftpd[1]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=192.0.2.13  user=x",
     1, WATCH_EV_AUTH_FAIL, WATCH_FTP, "192.0.2.13", NULL},
    /* Postfix, Dovecot */
    {"Nov 25 21:00:01 mx postfix/smtpd[1]: warning: unknown[192.0.2.14]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
     1, WATCH_EV_AUTH_FAIL, WATCH_MAIL, "192.0.2.14", NULL},
    {"Nov 25 21:00:01 mx postfix/submission/smtpd[1]: warning: host.example[2001:db8::14]: SASL PLAIN authentication failed: ",
     1, WATCH_EV_AUTH_FAIL, WATCH_MAIL, "2001:db8::14", NULL},
    {"Nov 25 21:00:01 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<eve>, method=PLAIN, rip=192.0.2.15, lip=10.0.0.1, TLS",
     1, WATCH_EV_AUTH_FAIL, WATCH_MAIL, "192.0.2.15", "eve"},
    /* web */
    {"192.0.2.16 - - [25/Nov/2026:21:00:01 +0000] \"GET /wp-login.php HTTP/1.1\" 404 153 \"-\" \"curl\"",
     1, WATCH_EV_HTTP_4XX, WATCH_HTTP, "192.0.2.16", NULL},
    {"2001:db8::16 - bob [25/Nov/2026:21:00:01 +0000] \"GET /admin HTTP/1.1\" 401 0 \"-\" \"x\"", 1,
     WATCH_EV_HTTP_4XX, WATCH_HTTP, "2001:db8::16", NULL},
    {"192.0.2.17 - - [25/Nov/2026:21:00:01 +0000] \"GET /x\\\" 404 HTTP/1.1\" 200 153 \"-\" \"curl\"",
     0, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"2026/11/25 21:00:01 [error] 7#7: *1 user \"admin\" was not found in \"/etc/nginx/.htpasswd\", client: 192.0.2.18, server: x, request: \"GET / HTTP/1.1\"",
     1, WATCH_EV_AUTH_FAIL, WATCH_HTTP, "192.0.2.18", NULL},
    {"[Wed Nov 25 21:00:01.123456 2026] [auth_basic:error] [pid 9] [client 192.0.2.19:5555] AH01618: user x not found: /",
     1, WATCH_EV_AUTH_FAIL, WATCH_HTTP, "192.0.2.19", NULL},
    /* mamori's own event log */
    {"{\"@timestamp\":\"2026-11-25T21:00:01Z\",\"event.action\":\"blocked\",\"client.ip\":\"192.0.2.20\",\"http.response.status_code\":403}",
     1, WATCH_EV_PROXY_BLOCK, WATCH_PROXY, "192.0.2.20", NULL},
    {"{\"@timestamp\":\"2026-11-25T21:00:01Z\",\"url.original\":\"/\\\"client.ip\\\":\\\"6.6.6.6\\\"\",\"event.action\":\"rejected\",\"client.ip\":\"192.0.2.21\",\"http.response.status_code\":400}",
     1, WATCH_EV_PROXY_REJECT, WATCH_PROXY, "192.0.2.21", NULL},
    {"{\"@timestamp\":\"2026-11-25T21:00:01Z\",\"client.ip\":\"192.0.2.22\",\"http.response.status_code\":404}",
     1, WATCH_EV_HTTP_4XX, WATCH_HTTP, "192.0.2.22", NULL},
    {"{\"@timestamp\":\"2026-11-25T21:00:01Z\",\"event.action\":\"detected\",\"client.ip\":\"192.0.2.23\"}",
     0, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    /* garbage */
    {"", -1, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"\xff\xfe\x00garbage garbage", -1, WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"Nov 25 21:00:01 web sshd[1]: Failed password for root from 999.1.1.1 port 5 ssh2", 0,
     WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
    {"Nov 25 21:00:01 web sshd[1]: Failed password for \xc3\x28 from 192.0.2.24 port 5 ssh2", 1,
     WATCH_EV_AUTH_FAIL, WATCH_SSH, "192.0.2.24", "\xc3\x28"},
    {"Nov 25 21:00:01 web sshd[1]: Failed password for root from", 0, WATCH_EV_NONE, WATCH_SSH, NULL,
     NULL},
    {"Nov 99 21:00:01 web sshd[1]: Failed password for root from 192.0.2.25 port 5 ssh2", -1,
     WATCH_EV_NONE, WATCH_SSH, NULL, NULL},
};

TEST(watch_parse_corpus)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct watch_parser p;
        struct watch_event ev;
        watch_parser_init(&p, 1795640400); /* 2026-11-25T... */
        size_t n = strlen(r->line);
        int got = watch_parse_line(&p, r->line, n, &ev);
        if (got != r->ret) {
            t_fail(t, __FILE__, __LINE__, "row %zu: ret %d, expected %d: %s", i, got, r->ret, r->line);
            continue;
        }
        if (got != 1)
            continue;
        char ip[64];
        watch_addr_fmt(&ev.addr, ip, sizeof ip);
        if ((int)ev.kind != (int)r->kind || (int)ev.svc != (int)r->svc || strcmp(ip, r->ip))
            t_fail(t, __FILE__, __LINE__, "row %zu: %s/%s/%s, expected %s/%s/%s", i,
                   watch_kind_name(ev.kind), watch_svc_name(ev.svc), ip, watch_kind_name(r->kind),
                   watch_svc_name(r->svc), r->ip);
        if (r->user && (ev.user.n != strlen(r->user) || memcmp(ev.user.p, r->user, ev.user.n)))
            t_fail(t, __FILE__, __LINE__, "row %zu: user '%.*s', expected '%s'", i, (int)ev.user.n,
                   ev.user.p, r->user);
    }
}

TEST(watch_parse_timestamps)
{
    struct watch_parser p;
    size_t used;
    /* 2026-11-25T21:00:01Z = 1795640401 */
    watch_parser_init(&p, 1795640400);
    CHECK_INT(watch_parse_rfc3164(&p, "Nov 25 21:00:01", 15, &used), 1795640401);
    CHECK_INT(watch_parse_iso8601("2026-11-25T21:00:01Z", 20, &used), 1795640401);
    CHECK_INT(used, 20);
    CHECK_INT(watch_parse_iso8601("2026-11-25T22:00:01.5+01:00", 27, &used), 1795640401);
    CHECK_INT(watch_parse_iso8601("2026-11-25 21:00:01", 19, &used), 1795640401);
    CHECK_INT(watch_parse_iso8601("2026-13-25T21:00:01Z", 20, &used), -1);
    /* year inference: a December stamp read in January is last year's */
    watch_parser_init(&p, 1798761600); /* 2027-01-01T00:00:00Z */
    int64_t dec = watch_parse_rfc3164(&p, "Dec 31 23:59:59", 15, &used);
    CHECK_INT(dec, 1798761599);
    /* and the file wrapping into January moves to the next year */
    CHECK_INT(watch_parse_rfc3164(&p, "Jan  1 00:00:01", 15, &used), 1798761601);
    /* a stamp two days "in the future" is from last year */
    watch_parser_init(&p, 1795640400);
    CHECK_INT(watch_parse_rfc3164(&p, "Dec 31 10:00:00", 15, &used) < 1795640400, 1);
}

TEST(watch_addr_group_and_match)
{
    struct watch_addr a, n;
    char s[64];
    CHECK_INT(watch_addr_parse("2001:db8:1:2:3:4:5:6", 20, &a), 0);
    watch_addr_group(&a, 64);
    CHECK_STR(watch_addr_fmt(&a, s, sizeof s), "2001:db8:1:2::/64");
    CHECK_INT(watch_addr_parse("::ffff:10.1.2.3", 15, &a), 0);
    CHECK_INT(a.fam, 4);
    CHECK_STR(watch_addr_fmt(&a, s, sizeof s), "10.1.2.3");
    CHECK_INT(watch_addr_parse("10.0.0.0/8", 10, &n), 0);
    CHECK(watch_addr_in(&n, &a));
    CHECK_INT(watch_addr_parse("10.1.2.3/33", 11, &a), -1);
    CHECK_INT(watch_addr_parse("10.1.2", 6, &a), -1);
    CHECK_INT(watch_addr_parse("[2001:db8::1]", 13, &a), 0);
    CHECK_INT(watch_addr_parse("192.168.1.77/24", 15, &a), 0);
    CHECK_STR(watch_addr_fmt(&a, s, sizeof s), "192.168.1.0/24");
}
