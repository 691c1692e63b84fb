/* Exposure: listening sockets from ROOT/proc/net/{tcp,tcp6,udp,udp6} with
 * their owners from ROOT/proc/PID/fd, mapped to services by port; plaintext
 * protocols; databases and caches reachable from outside (and Redis without
 * a password); no host firewall, no brute-force protection; ASLR.
 *
 * /proc/net addresses are hex in kernel byte order: an IPv4 address is one
 * little-endian 32-bit word, an IPv6 address four of them. */
#include "audit/audit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define NET_MAX_SOCKS 4096

struct sock {
    bool udp, v6, loopback, any;
    unsigned port;
    unsigned long inode;
    char addr[48];
    char owner[64];
};

struct socks {
    struct sock *v;
    size_t n;
};

static unsigned hexval(char ch)
{
    return isdigit((unsigned char)ch) ? (unsigned)(ch - '0') : (unsigned)(tolower((unsigned char)ch) - 'a' + 10);
}

static uint32_t hex32(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 4 | hexval(s[i]);
    return v;
}

static void parse_addr(struct sock *k, const char *hex, size_t hl)
{
    unsigned char b[16];
    if (hl == 8) {
        uint32_t w = hex32(hex);
        b[0] = w & 0xff;
        b[1] = (w >> 8) & 0xff;
        b[2] = (w >> 16) & 0xff;
        b[3] = w >> 24;
        snprintf(k->addr, sizeof k->addr, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        k->loopback = b[0] == 127;
        k->any = !b[0] && !b[1] && !b[2] && !b[3];
        return;
    }
    for (int i = 0; i < 4; i++) {
        uint32_t w = hex32(hex + 8 * i);
        b[4 * i] = w & 0xff;
        b[4 * i + 1] = (w >> 8) & 0xff;
        b[4 * i + 2] = (w >> 16) & 0xff;
        b[4 * i + 3] = w >> 24;
    }
    static const unsigned char zero[16], lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    k->any = !memcmp(b, zero, 16);
    k->loopback = !memcmp(b, lo, 16) || (!memcmp(b, mapped, 12) && b[12] == 127);
    if (k->any) {
        snprintf(k->addr, sizeof k->addr, "::");
    } else if (!memcmp(b, mapped, 12)) {
        snprintf(k->addr, sizeof k->addr, "::ffff:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
    } else {
        int o = 0;
        for (int i = 0; i < 8 && o < (int)sizeof k->addr; i++)
            o += snprintf(k->addr + o, sizeof k->addr - (size_t)o, "%s%x", i ? ":" : "",
                          (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
    }
}

static void read_proc_net(struct audit_ctx *c, const char *path, bool udp, bool v6, struct socks *s)
{
    size_t n;
    char *d = audit_read(c, path, 64u << 20, &n, NULL);
    if (!d)
        return;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len) && s->n < NET_MAX_SOCKS) {
        if (l.lineno == 1)
            continue;
        char tmp[512];
        if (len >= sizeof tmp)
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        char *f[12];
        int nf = 0;
        for (char *t = strtok(tmp, " \t"); t && nf < 12; t = strtok(NULL, " \t"))
            f[nf++] = t;
        if (nf < 10)
            continue;
        char *colon = strchr(f[1], ':');
        if (!colon)
            continue;
        size_t hl = (size_t)(colon - f[1]);
        if (hl != (v6 ? 32u : 8u))
            continue;
        bool ok = true;
        for (size_t i = 0; i < hl; i++)
            ok = ok && isxdigit((unsigned char)f[1][i]);
        if (!ok)
            continue;
        unsigned state = (unsigned)strtoul(f[3], NULL, 16);
        if (!udp && state != 0x0A) /* TCP_LISTEN */
            continue;
        if (udp && state != 0x07) /* unconnected UDP */
            continue;
        struct sock *k = &s->v[s->n];
        memset(k, 0, sizeof *k);
        k->udp = udp;
        k->v6 = v6;
        k->port = (unsigned)strtoul(colon + 1, NULL, 16);
        k->inode = strtoul(f[9], NULL, 10);
        parse_addr(k, f[1], hl);
        s->n++;
    }
    free(d);
}

static void find_owners(struct audit_ctx *c, struct socks *s)
{
    char **pids;
    int np = audit_list_dir(c, "/proc", &pids);
    for (int i = 0; i < np; i++) {
        if (!isdigit((unsigned char)pids[i][0]))
            continue;
        char p[512];
        snprintf(p, sizeof p, "/proc/%s/fd", pids[i]);
        char **fds;
        int nfd = audit_list_dir(c, p, &fds);
        char comm[64] = "";
        for (int j = 0; j < nfd; j++) {
            char lp[600], tgt[128];
            snprintf(lp, sizeof lp, "/proc/%s/fd/%s", pids[i], fds[j]);
            if (audit_readlink(c, lp, tgt, sizeof tgt) < 0 || strncmp(tgt, "socket:[", 8))
                continue;
            unsigned long ino = strtoul(tgt + 8, NULL, 10);
            for (size_t k = 0; k < s->n; k++) {
                if (s->v[k].inode != ino || s->v[k].owner[0])
                    continue;
                if (!comm[0]) {
                    char cp[512];
                    snprintf(cp, sizeof cp, "/proc/%s/comm", pids[i]);
                    size_t cl;
                    char *cd = audit_read(c, cp, 64, &cl, NULL);
                    if (cd) {
                        while (cl && (cd[cl - 1] == '\n' || cd[cl - 1] == ' '))
                            cd[--cl] = '\0';
                        snprintf(comm, sizeof comm, "%s", cd);
                        free(cd);
                    }
                    if (!comm[0])
                        snprintf(comm, sizeof comm, "pid");
                }
                snprintf(s->v[k].owner, sizeof s->v[k].owner, "%.40s[%.16s]", comm, pids[i]);
            }
        }
        if (nfd > 0)
            audit_free_list(fds, nfd);
    }
    if (np > 0)
        audit_free_list(pids, np);
}

struct svc {
    unsigned port;
    bool udp;
    const char *name;
    int kind; /* 0 info, 1 plaintext, 2 database/cache */
    unsigned role;
};

static const struct svc svcs[] = {
    {21, false, "FTP", 1, AUDIT_ROLE_FTP},
    {23, false, "telnet", 1, 0},
    {110, false, "POP3", 1, AUDIT_ROLE_MAIL},
    {143, false, "IMAP", 1, AUDIT_ROLE_MAIL},
    {512, false, "rexec", 1, 0},
    {513, false, "rlogin", 1, 0},
    {514, false, "rsh", 1, 0},
    {69, true, "TFTP", 1, 0},
    {3306, false, "MySQL/MariaDB", 2, AUDIT_ROLE_DB},
    {5432, false, "PostgreSQL", 2, AUDIT_ROLE_DB},
    {6379, false, "Redis", 2, AUDIT_ROLE_DB},
    {27017, false, "MongoDB", 2, AUDIT_ROLE_DB},
    {11211, false, "memcached", 2, AUDIT_ROLE_DB},
    {11211, true, "memcached", 2, AUDIT_ROLE_DB},
    {9200, false, "Elasticsearch", 2, AUDIT_ROLE_DB},
    {9300, false, "Elasticsearch", 2, AUDIT_ROLE_DB},
    {25, false, "SMTP", 0, AUDIT_ROLE_MAIL},
    {587, false, "SMTP submission", 0, AUDIT_ROLE_MAIL},
    {993, false, "IMAPS", 0, AUDIT_ROLE_MAIL},
    {995, false, "POP3S", 0, AUDIT_ROLE_MAIL},
    {445, false, "SMB", 0, AUDIT_ROLE_SHARE},
    {139, false, "NetBIOS", 0, AUDIT_ROLE_SHARE},
    {2049, false, "NFS", 0, AUDIT_ROLE_SHARE},
    {80, false, "HTTP", 0, AUDIT_ROLE_WEB},
    {443, false, "HTTPS", 0, AUDIT_ROLE_WEB},
    {22, false, "SSH", 0, 0},
};

static const struct svc *svc_for(const struct sock *k)
{
    for (size_t i = 0; i < sizeof svcs / sizeof *svcs; i++)
        if (svcs[i].port == k->port && svcs[i].udp == k->udp)
            return &svcs[i];
    return NULL;
}

/* Redis: requirepass set and not commented out (or an ACL user file). */
static bool redis_has_password(struct audit_ctx *c)
{
    size_t n;
    char *d = audit_read(c, "/etc/redis/redis.conf", 4u << 20, &n, NULL);
    if (!d)
        return false;
    bool pw = false;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        while (len && isspace((unsigned char)*line)) {
            line++;
            len--;
        }
        if ((len > 12 && !strncmp(line, "requirepass ", 12)) || (len > 8 && !strncmp(line, "aclfile ", 8)))
            pw = true;
    }
    free(d);
    return pw;
}

/* Postfix: SASL auth offered on a port without TLS being required first. */
static void check_postfix(struct audit_ctx *c)
{
    size_t n;
    char *d = audit_read(c, "/etc/postfix/main.cf", 4u << 20, &n, NULL);
    if (!d)
        return;
    bool sasl = false, tls_only = false;
    unsigned at = 0;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[512];
        if (len >= sizeof tmp || !len || line[0] == '#')
            continue;
        size_t o = 0;
        for (size_t i = 0; i < len; i++)
            if (!isspace((unsigned char)line[i]))
                tmp[o++] = line[i];
        tmp[o] = '\0';
        if (!strcmp(tmp, "smtpd_sasl_auth_enable=yes")) {
            sasl = true;
            at = l.lineno;
        } else if (!strcmp(tmp, "smtpd_tls_auth_only=yes") || !strcmp(tmp, "smtpd_tls_security_level=encrypt")) {
            tls_only = true;
        }
    }
    free(d);
    if (sasl && !tls_only)
        audit_add(c, "net.smtp-auth-plaintext", AUDIT_HIGH,
                  "Mail server accepts SMTP passwords without TLS",
                  "Set 'smtpd_tls_auth_only = yes' in /etc/postfix/main.cf and reload postfix.",
                  "/etc/postfix/main.cf:%u: smtpd_sasl_auth_enable = yes without smtpd_tls_auth_only",
                  at);
}

static bool file_has(struct audit_ctx *c, const char *path, const char *needle)
{
    size_t n;
    char *d = audit_read(c, path, 4u << 20, &n, NULL);
    if (!d)
        return false;
    bool r = memmem(d, n, needle, strlen(needle)) != NULL;
    free(d);
    return r;
}

static int any_cb(struct audit_ctx *c, const char *path, void *arg)
{
    *(bool *)arg = true;
    return 1;
}

static bool glob_any(struct audit_ctx *c, const char *pat)
{
    bool found = false;
    audit_glob(c, pat, any_cb, &found);
    return found;
}

static void check_firewall(struct audit_ctx *c, bool exposed)
{
    bool loaded;
    const char *how = NULL;
    if (audit_fact_bool(c, "firewall.loaded", &loaded) == 0) {
        if (loaded)
            return;
        how = "facts: firewall.loaded = false";
    } else {
        if (glob_any(c, "/etc/systemd/system/*.wants/nftables.service") &&
            file_has(c, "/etc/nftables.conf", "hook input"))
            return;
        if (file_has(c, "/etc/ufw/ufw.conf", "ENABLED=yes"))
            return;
        if (glob_any(c, "/etc/systemd/system/*.wants/firewalld.service"))
            return;
        if (file_has(c, "/etc/iptables/rules.v4", "-A INPUT") ||
            file_has(c, "/etc/iptables/rules.v4", ":INPUT DROP"))
            return;
        how = "no enabled nftables/ufw/firewalld/iptables-persistent ruleset";
    }
    audit_add(c, "net.no-firewall", exposed ? AUDIT_HIGH : AUDIT_MEDIUM, "No host firewall is active",
              "Allow only the ports you serve (e.g. ufw allow 22,80,443/tcp && ufw enable, or an "
              "nftables input chain with policy drop).",
              "%s", how);
}

static void check_bruteforce_protection(struct audit_ctx *c)
{
    if (!audit_exists(c, "/etc/ssh/sshd_config"))
        return;
    if (audit_pkg_installed(c, "fail2ban") || audit_pkg_installed(c, "sshguard") ||
        audit_pkg_installed(c, "crowdsec") || audit_exists(c, "/etc/mamori/mamori.conf"))
        return;
    audit_add(c, "net.no-bruteforce-protection", AUDIT_MEDIUM,
              "Nothing bans addresses that keep guessing passwords",
              "Run mamori (its auth-log watcher bans brute force) or apt-get install fail2ban.",
              "%s", "no fail2ban, sshguard, crowdsec or mamori configuration found");
}

static void check_aslr(struct audit_ctx *c)
{
    size_t n;
    char *d = audit_read(c, "/proc/sys/kernel/randomize_va_space", 64, &n, NULL);
    if (!d)
        return;
    int v = atoi(d);
    free(d);
    if (v == 0)
        audit_add(c, "kernel.aslr-off", AUDIT_MEDIUM, "Address space layout randomisation is off",
                  "Set kernel.randomize_va_space = 2 in /etc/sysctl.d/99-mamori.conf and run "
                  "sysctl --system.",
                  "/proc/sys/kernel/randomize_va_space = %d", v);
    else if (v == 1)
        audit_add(c, "kernel.aslr-partial", AUDIT_LOW, "Address space layout randomisation is partial",
                  "Set kernel.randomize_va_space = 2 in /etc/sysctl.d/99-mamori.conf.",
                  "/proc/sys/kernel/randomize_va_space = %d", v);
}

void audit_check_net(struct audit_ctx *c)
{
    struct socks s = {calloc(NET_MAX_SOCKS, sizeof(struct sock)), 0};
    if (!s.v)
        return;
    read_proc_net(c, "/proc/net/tcp", false, false, &s);
    read_proc_net(c, "/proc/net/tcp6", false, true, &s);
    read_proc_net(c, "/proc/net/udp", true, false, &s);
    read_proc_net(c, "/proc/net/udp6", true, true, &s);
    if (s.n)
        find_owners(c, &s);
    bool exposed_any = false;
    bool redis_pw = redis_has_password(c);
    for (size_t i = 0; i < s.n; i++) {
        struct sock *k = &s.v[i];
        const struct svc *sv = svc_for(k);
        if (sv)
            c->roles |= sv->role;
        if (k->loopback)
            continue;
        /* Same port on v4 and v6 reported once: skip a v6 twin of a v4 socket. */
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            if (!s.v[j].loopback && s.v[j].port == k->port && s.v[j].udp == k->udp)
                dup = true;
        if (dup)
            continue;
        exposed_any = true;
        const char *owner = k->owner[0] ? k->owner : "unknown process";
        const char *name = sv ? sv->name : "unknown service";
        audit_add(c, "net.listening", AUDIT_INFO, "Service reachable from the network",
                  "Make sure this service should be public; bind it to 127.0.0.1 otherwise.",
                  "%s %s:%u %s (%s)", k->udp ? "udp" : "tcp", k->addr, k->port, name, owner);
        if (!sv)
            continue;
        if (sv->kind == 1)
            audit_add(c, "net.plaintext-protocol", AUDIT_HIGH,
                      "A service that sends passwords in clear text is reachable",
                      "Turn it off or replace it: SFTP instead of FTP, SSH instead of telnet/rsh, "
                      "IMAPS/POP3S (993/995) instead of IMAP/POP3.",
                      "%s on %s %s:%u (%s)", name, k->udp ? "udp" : "tcp", k->addr, k->port, owner);
        else if (sv->kind == 2) {
            bool redis_open = k->port == 6379 && !redis_pw;
            audit_add(c, redis_open ? "net.redis-no-auth" : "net.database-exposed",
                      redis_open ? AUDIT_CRITICAL : AUDIT_HIGH,
                      redis_open ? "Redis is reachable from the network without a password"
                                 : "A database or cache is reachable from the network",
                      "Bind it to 127.0.0.1 (bind-address / listen_addresses / bind / net.bindIp) "
                      "and firewall the port; use an SSH tunnel for remote admin.",
                      "%s on %s:%u (%s)", name, k->addr, k->port, owner);
        }
    }
    free(s.v);
    check_postfix(c);
    check_firewall(c, exposed_any);
    check_bruteforce_protection(c);
    check_aslr(c);
}
