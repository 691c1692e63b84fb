/* mamori probe: an outside-in look at one web site over HTTP/HTTPS.
 *
 * Polite by construction: one connection at a time, "Connection: close",
 * at most PROBE_MAX_REQUESTS requests with a pause between them, a timeout
 * on connect and on every read, and responses cut at PROBE_MAX_RESPONSE.
 * Findings use the audit's model, so text/JSON/SARIF output is shared. */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX_RESPONSE (256u << 10)
#define PROBE_MAX_REQUESTS 24

struct url {
    bool tls;
    char host[256];
    char port[8];
    char path[1024];
};

struct resp {
    int status;
    char *raw;  /* headers + body, NUL-terminated */
    size_t len;
    const char *body;
};

struct probe {
    struct audit_ctx *c;
    const struct audit_probe_opts *o;
    struct url u;
    int requests;
    SSL_CTX *ssl;
};

static int parse_url(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (!strncmp(s, "https://", 8)) {
        u->tls = true;
        s += 8;
    } else if (!strncmp(s, "http://", 7)) {
        s += 7;
    } else {
        return -1;
    }
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    char hp[300];
    if (hl == 0 || hl >= sizeof hp)
        return -1;
    memcpy(hp, s, hl);
    hp[hl] = '\0';
    char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
    if (colon && hp[0] == '[')
        colon++;
    if (colon) {
        *colon = '\0';
        snprintf(u->port, sizeof u->port, "%.7s", colon + 1);
    } else {
        snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
    }
    char *h = hp;
    if (h[0] == '[') {
        h++;
        char *e = strchr(h, ']');
        if (e)
            *e = '\0';
    }
    snprintf(u->host, sizeof u->host, "%.255s", h);
    snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/");
    return u->host[0] ? 0 : -1;
}

static int tcp_connect(const char *host, const char *port, int timeout_ms)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int err = 0;
            socklen_t el = sizeof err;
            if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && !err)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    return fd;
}

static void pause_politely(struct probe *p)
{
    if (p->o->delay_ms <= 0)
        return;
    struct timespec ts = {p->o->delay_ms / 1000, (long)(p->o->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One request on a fresh connection. tls uses p->ssl. Returns 0 and fills r. */
static int request(struct probe *p, bool tls, const char *port, const char *method, const char *path,
                   struct resp *r)
{
    memset(r, 0, sizeof *r);
    if (p->requests >= PROBE_MAX_REQUESTS)
        return -1;
    if (p->requests++)
        pause_politely(p);
    int fd = tcp_connect(p->u.host, port, p->o->timeout_ms);
    if (fd < 0)
        return -1;
    SSL *s = NULL;
    int ret = -1;
    if (tls) {
        s = SSL_new(p->ssl);
        if (!s)
            goto out;
        SSL_set_fd(s, fd);
        SSL_set_tlsext_host_name(s, p->u.host);
        if (SSL_connect(s) != 1)
            goto out;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mamori-probe/1 (security self-check)\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     method, path, p->u.host);
    if (n < 0 || (size_t)n >= sizeof req)
        goto out;
    if (tls ? SSL_write(s, req, n) != n : write(fd, req, (size_t)n) != n)
        goto out;
    r->raw = malloc(PROBE_MAX_RESPONSE + 1);
    if (!r->raw)
        goto out;
    for (;;) {
        if (r->len >= PROBE_MAX_RESPONSE)
            break;
        int k = tls ? SSL_read(s, r->raw + r->len, (int)(PROBE_MAX_RESPONSE - r->len))
                    : (int)read(fd, r->raw + r->len, PROBE_MAX_RESPONSE - r->len);
        if (k <= 0)
            break;
        r->len += (size_t)k;
    }
    r->raw[r->len] = '\0';
    if (r->len < 12 || strncmp(r->raw, "HTTP/1.", 7))
        goto out;
    r->status = atoi(r->raw + 9);
    char *b = strstr(r->raw, "\r\n\r\n");
    r->body = b ? b + 4 : r->raw + r->len;
    ret = 0;
out:
    if (s) {
        SSL_shutdown(s);
        SSL_free(s);
    }
    close(fd);
    if (ret < 0) {
        free(r->raw);
        r->raw = NULL;
    }
    return ret;
}

static void resp_free(struct resp *r)
{
    free(r->raw);
    r->raw = NULL;
}

/* Header value (first occurrence), copied into out; false if absent. */
static bool header(const struct resp *r, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    const char *p = strstr(r->raw, "\r\n");
    while (p && p < r->body) {
        p += 2;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            if (vl >= outsz)
                vl = outsz - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = strstr(p, "\r\n");
    }
    return false;
}

static bool has_version(const char *s)
{
    /* "nginx/1.22.1", "Apache/2.4.57 (Debian)", "PHP/8.2.7" */
    const char *sl = strchr(s, '/');
    return sl && isdigit((unsigned char)sl[1]);
}

static void check_headers(struct probe *p, const struct resp *r, const char *where)
{
    char v[512];
    if (header(r, "Server", v, sizeof v) && has_version(v))
        audit_add(p->c, "probe.version-disclosure", AUDIT_LOW, "The server announces its software version",
                  "nginx: server_tokens off; Apache: ServerTokens Prod and ServerSignature Off.",
                  "%s: Server: %s", where, v);
    if (header(r, "X-Powered-By", v, sizeof v))
        audit_add(p->c, "probe.version-disclosure", AUDIT_LOW, "The server announces its software version",
                  "PHP: expose_php = Off; frameworks: remove the X-Powered-By header.",
                  "%s: X-Powered-By: %s", where, v);
    static const char *const wanted[] = {"Content-Security-Policy", "X-Content-Type-Options",
                                         "X-Frame-Options", "Referrer-Policy"};
    char missing[256] = "";
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        if (header(r, wanted[i], v, sizeof v))
            continue;
        if (!strcmp(wanted[i], "X-Frame-Options") && header(r, "Content-Security-Policy", v, sizeof v) &&
            strstr(v, "frame-ancestors"))
            continue;
        size_t l = strlen(missing);
        snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", wanted[i]);
    }
    if (missing[0])
        audit_add(p->c, "probe.missing-security-headers", AUDIT_LOW, "Security headers are missing",
                  "Add them in the server block, e.g. add_header X-Content-Type-Options nosniff "
                  "always; add_header Referrer-Policy strict-origin-when-cross-origin always; and a "
                  "Content-Security-Policy that fits the site.",
                  "%s: missing %s", where, missing);
    if (p->u.tls && !header(r, "Strict-Transport-Security", v, sizeof v))
        audit_add(p->c, "probe.missing-hsts", AUDIT_MEDIUM, "HTTPS site without Strict-Transport-Security",
                  "add_header Strict-Transport-Security \"max-age=31536000\" always; once every "
                  "page works over HTTPS.",
                  "%s", where);
}

static bool looks_like_listing(const char *body)
{
    return strstr(body, "<title>Index of /") || strstr(body, "<h1>Index of /") ||
           strstr(body, "<title>Directory listing for");
}

struct exposed {
    const char *path, *id, *title, *fix;
    enum audit_sev sev;
    const char *must; /* body must contain this (NULL: any non-HTML 200) */
};

static const struct exposed exposed[] = {
    {"/.git/HEAD", "probe.git-exposed", "The site's .git folder can be downloaded",
     "Deny /.git (location ~ /\\.git { deny all; }) and deploy without it.", AUDIT_HIGH, "ref: "},
    {"/.env", "probe.env-exposed", "The site's .env file (secrets) can be downloaded",
     "Move .env out of the web root, deny dotfiles, and rotate every secret in it.", AUDIT_HIGH, "="},
    {"/server-status", "probe.server-status", "Apache's server-status page is public",
     "Restrict /server-status to 127.0.0.1 (Require local).", AUDIT_MEDIUM, "Server Status"},
    {"/phpinfo.php", "probe.phpinfo", "A phpinfo() page is public",
     "Delete it; it shows versions, paths and environment variables.", AUDIT_MEDIUM, "PHP Version"},
    {"/info.php", "probe.phpinfo", "A phpinfo() page is public",
     "Delete it; it shows versions, paths and environment variables.", AUDIT_MEDIUM, "PHP Version"},
    {"/backup.sql", "probe.backup-exposed", "A database dump or backup file can be downloaded",
     "Remove backups from the web root.", AUDIT_HIGH, NULL},
    {"/backup.zip", "probe.backup-exposed", "A database dump or backup file can be downloaded",
     "Remove backups from the web root.", AUDIT_HIGH, NULL},
    {"/index.php.bak", "probe.backup-exposed", "A database dump or backup file can be downloaded",
     "Remove backups from the web root.", AUDIT_HIGH, NULL},
    {"/wp-config.php.bak", "probe.backup-exposed", "A database dump or backup file can be downloaded",
     "Remove backups from the web root.", AUDIT_HIGH, NULL},
};

static void check_paths(struct probe *p, bool soft404)
{
    bool tls = p->u.tls;
    for (size_t i = 0; i < sizeof exposed / sizeof *exposed; i++) {
        const struct exposed *e = &exposed[i];
        struct resp r;
        if (request(p, tls, p->u.port, "GET", e->path, &r) < 0)
            continue;
        bool hit = false;
        char ct[128] = "";
        header(&r, "Content-Type", ct, sizeof ct);
        if (r.status == 200) {
            if (e->must)
                hit = strstr(r.body, e->must) != NULL && !(soft404 && !strcmp(e->must, "="));
            else
                hit = !soft404 && !strstr(ct, "text/html") && *r.body;
        }
        if (hit)
            audit_add(p->c, e->id, e->sev, e->title, e->fix, "%s%s -> %d", "GET ", e->path, r.status);
        resp_free(&r);
    }
}

/* Does the server accept exactly this TLS version? */
static bool accepts_version(struct probe *p, int version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return false;
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    bool ok = false;
    if (p->requests < PROBE_MAX_REQUESTS) {
        if (p->requests++)
            pause_politely(p);
        int fd = tcp_connect(p->u.host, p->u.port, p->o->timeout_ms);
        if (fd >= 0) {
            SSL *s = SSL_new(ctx);
            if (s) {
                SSL_set_fd(s, fd);
                SSL_set_tlsext_host_name(s, p->u.host);
                ok = SSL_connect(s) == 1 && SSL_version(s) == version;
                SSL_shutdown(s);
                SSL_free(s);
            }
            close(fd);
        }
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void check_tls(struct probe *p)
{
    if (p->requests >= PROBE_MAX_REQUESTS)
        return;
    p->requests++;
    pause_politely(p);
    int fd = tcp_connect(p->u.host, p->u.port, p->o->timeout_ms);
    if (fd < 0)
        return;
    SSL *s = SSL_new(p->ssl);
    if (!s) {
        close(fd);
        return;
    }
    SSL_set_fd(s, fd);
    SSL_set_tlsext_host_name(s, p->u.host);
    if (SSL_connect(s) != 1) {
        audit_add(p->c, "probe.tls-handshake-failed", AUDIT_HIGH, "TLS handshake failed",
                  "Check the certificate and protocol settings of the HTTPS server.", "%s:%s", p->u.host,
                  p->u.port);
        goto out;
    }
    X509 *x = SSL_get1_peer_certificate(s);
    if (x) {
        ASN1_TIME *now = ASN1_TIME_set(NULL, p->c->now);
        int days = 0, secs = 0;
        if (now && ASN1_TIME_diff(&days, &secs, now, X509_get0_notAfter(x))) {
            if (days < 0 || (days == 0 && secs < 0))
                audit_add(p->c, "probe.cert-expired", AUDIT_HIGH, "The site's certificate has expired",
                          "Renew it (certbot renew) and reload the server.", "%s: expired %d days ago",
                          p->u.host, -days);
            else if (days < 14)
                audit_add(p->c, "probe.cert-expiring", AUDIT_HIGH, "The site's certificate expires within 14 days",
                          "Renew it now and check automatic renewal.", "%s: %d days left", p->u.host, days);
            else if (days < 30)
                audit_add(p->c, "probe.cert-expiring-soon", AUDIT_MEDIUM,
                          "The site's certificate expires within 30 days",
                          "Make sure renewal runs (systemctl list-timers certbot.timer).", "%s: %d days left",
                          p->u.host, days);
        }
        ASN1_TIME_free(now);
        if (X509_check_host(x, p->u.host, 0, 0, NULL) != 1 && X509_check_ip_asc(x, p->u.host, 0) != 1)
            audit_add(p->c, "probe.cert-wrong-name", AUDIT_HIGH, "The certificate is not valid for this name",
                      "Issue a certificate that includes the name (certbot -d NAME).", "%s", p->u.host);
        long vr = SSL_get_verify_result(s);
        if (vr != X509_V_OK && vr != X509_V_ERR_CERT_HAS_EXPIRED)
            audit_add(p->c, "probe.cert-untrusted", AUDIT_HIGH, "The certificate chain is not trusted",
                      "Use a certificate from a public CA and serve the full chain (fullchain.pem).",
                      "%s: %s", p->u.host, X509_verify_cert_error_string(vr));
        X509_free(x);
    }
out:
    SSL_shutdown(s);
    SSL_free(s);
    close(fd);
    ERR_clear_error();
    if (accepts_version(p, TLS1_VERSION))
        audit_add(p->c, "probe.old-tls", AUDIT_MEDIUM, "The server accepts TLS 1.0",
                  "Allow only TLS 1.2 and 1.3 (ssl_protocols TLSv1.2 TLSv1.3;).", "%s:%s TLSv1.0", p->u.host,
                  p->u.port);
    if (accepts_version(p, TLS1_1_VERSION))
        audit_add(p->c, "probe.old-tls", AUDIT_MEDIUM, "The server accepts TLS 1.1",
                  "Allow only TLS 1.2 and 1.3 (ssl_protocols TLSv1.2 TLSv1.3;).", "%s:%s TLSv1.1", p->u.host,
                  p->u.port);
}

static void check_plain_redirect(struct probe *p, const char *port)
{
    struct resp r;
    if (request(p, false, port, "GET", "/", &r) < 0)
        return; /* nothing on plain HTTP: fine */
    char loc[512] = "";
    bool redirect = r.status >= 301 && r.status <= 308 && header(&r, "Location", loc, sizeof loc) &&
                    !strncasecmp(loc, "https://", 8);
    if (!redirect)
        audit_add(p->c, "probe.http-no-redirect", AUDIT_MEDIUM, "Plain HTTP does not redirect to HTTPS",
                  "Make the port-80 server answer only 'return 301 https://$host$request_uri;'.",
                  "http://%s:%s/ -> %d%s%s", p->u.host, port, r.status, loc[0] ? " " : "", loc);
    resp_free(&r);
}

int audit_probe(struct audit_ctx *c, const struct audit_probe_opts *o)
{
    struct probe p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.o = o;
    if (parse_url(o->url, &p.u) < 0)
        return -EINVAL;
    int ret = 0;
    p.ssl = SSL_CTX_new(TLS_client_method());
    if (!p.ssl)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(p.ssl, TLS1_2_VERSION);
    SSL_CTX_set_verify(p.ssl, SSL_VERIFY_NONE, NULL); /* judged after, not refused */
    if (o->ca_file)
        SSL_CTX_load_verify_locations(p.ssl, o->ca_file, NULL);
    else
        SSL_CTX_set_default_verify_paths(p.ssl);
    char where[1400];
    snprintf(where, sizeof where, "%s://%s:%s%s", p.u.tls ? "https" : "http", p.u.host, p.u.port, p.u.path);
    struct resp home;
    if (request(&p, p.u.tls, p.u.port, "GET", p.u.path, &home) < 0) {
        ret = -ECONNREFUSED;
        goto out;
    }
    if (!p.u.tls) {
        /* The URL itself is plain HTTP: is it only a redirect? */
        char loc[512];
        if (!(home.status >= 301 && home.status <= 308 && header(&home, "Location", loc, sizeof loc) &&
              !strncasecmp(loc, "https://", 8)))
            audit_add(c, "probe.http-no-redirect", AUDIT_MEDIUM, "Plain HTTP does not redirect to HTTPS",
                      "Serve the site over HTTPS and make plain HTTP only redirect to it.", "%s -> %d", where,
                      home.status);
    }
    check_headers(&p, &home, where);
    if (home.status == 200 && looks_like_listing(home.body))
        audit_add(c, "probe.directory-listing", AUDIT_MEDIUM, "Directory listing is on",
                  "Turn it off (nginx: autoindex off; Apache: Options -Indexes).", "%s", where);
    resp_free(&home);
    /* A page that does not exist: version in the error page, soft 404s. */
    char rnd[64];
    snprintf(rnd, sizeof rnd, "/mamori-probe-%lx-does-not-exist", (unsigned long)c->now);
    struct resp nf;
    bool soft404 = false;
    if (request(&p, p.u.tls, p.u.port, "GET", rnd, &nf) == 0) {
        soft404 = nf.status == 200;
        const char *b = nf.body;
        const char *hit = NULL;
        static const char *const servers[] = {"nginx/", "Apache/", "lighttpd/", "Microsoft-IIS/", "openresty/"};
        for (size_t i = 0; i < sizeof servers / sizeof *servers && !hit; i++) {
            const char *s = strstr(b, servers[i]);
            if (s && isdigit((unsigned char)s[strlen(servers[i])]))
                hit = s;
        }
        if (hit)
            audit_add(c, "probe.version-in-error-page", AUDIT_LOW, "Error pages show the server version",
                      "nginx: server_tokens off; Apache: ServerSignature Off and ServerTokens Prod.",
                      "GET %s -> %d: %.*s", rnd, nf.status, (int)strcspn(hit, " <\r\n\"'"), hit);
        resp_free(&nf);
    }
    check_paths(&p, soft404);
    /* A directory that commonly exists and lists. */
    struct resp dr;
    if (request(&p, p.u.tls, p.u.port, "GET", "/files/", &dr) == 0) {
        if (dr.status == 200 && looks_like_listing(dr.body))
            audit_add(c, "probe.directory-listing", AUDIT_MEDIUM, "Directory listing is on",
                      "Turn it off (nginx: autoindex off; Apache: Options -Indexes).", "GET /files/ -> 200");
        resp_free(&dr);
    }
    if (p.u.tls) {
        check_tls(&p);
        char hp[12];
        snprintf(hp, sizeof hp, "%d", o->http_port > 0 && o->http_port < 65536 ? o->http_port : 80);
        check_plain_redirect(&p, hp);
    }
out:
    SSL_CTX_free(p.ssl);
    audit_sort(c);
    return ret;
}
