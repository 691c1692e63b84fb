/* Web servers: nginx and Apache configuration (with include and the
 * *-enabled symlinks), the web roots they serve, and what sits in them.
 *
 * nginx: tokens are words, quoted strings, ';', '{' and '}'; '#' starts a
 * comment; include takes a glob relative to /etc/nginx. Apache: one
 * directive per line (backslash continuation), <Section> tags, Include and
 * IncludeOptional globs relative to /etc/apache2. Defaults that matter:
 * nginx server_tokens on; Apache ServerTokens Full, ServerSignature Off
 * upstream (Debian's security.conf turns it On), TraceEnable On. */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WEB_MAX_CONF (4u << 20)
#define WEB_MAX_DEPTH 12
#define WEB_WALK_MAX_ENTRIES 200000
#define WEB_WALK_MAX_DEPTH 16
#define WEB_MAX_PER_ID 25

void audit_add_webroot(struct audit_ctx *c, const char *dir)
{
    if (!dir[0] || strchr(dir, '$'))
        return;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    for (size_t i = 0; i < c->nwebroots; i++)
        if (strlen(c->webroots[i]) == n && !strncmp(c->webroots[i], dir, n))
            return;
    if (c->nwebroots >= AUDIT_MAX_WEBROOTS)
        return;
    c->webroots[c->nwebroots] = strndup(dir, n);
    if (c->webroots[c->nwebroots])
        c->nwebroots++;
}

void audit_add_cert(struct audit_ctx *c, const char *path, const char *name)
{
    if (strchr(path, '$'))
        return;
    for (size_t i = 0; i < c->ncerts; i++)
        if (!strcmp(c->certs[i], path)) {
            if (!c->cert_names[i] && name)
                c->cert_names[i] = strdup(name);
            return;
        }
    if (c->ncerts >= AUDIT_MAX_CERTS)
        return;
    c->certs[c->ncerts] = strdup(path);
    c->cert_names[c->ncerts] = name ? strdup(name) : NULL;
    if (c->certs[c->ncerts])
        c->ncerts++;
}

static bool has_old_tls(char **w, int nw, int from)
{
    for (int i = from; i < nw; i++)
        if (!strcmp(w[i], "TLSv1") || !strcmp(w[i], "TLSv1.1") || !strcmp(w[i], "SSLv3") ||
            !strcmp(w[i], "+TLSv1") || !strcmp(w[i], "+TLSv1.1") || !strcmp(w[i], "SSLv2"))
            return true;
    return false;
}

/* ------------------------------------------------------------------ nginx */

struct ngx_server {
    bool listen_plain, listen_ssl, any_listen, redirect, content;
    bool dotdeny, tokens_set, tokens_on;
    char auth_where[320], dav_where[320], name[256], where[320];
    char certs[4][512];
    int ncerts;
};

#define NGX_STACK 32

struct ngx_state {
    struct audit_ctx *c;
    int depth;
    char stack[NGX_STACK][64];
    bool loc_dot[NGX_STACK]; /* location block matches dotfiles */
    bool loc_deny[NGX_STACK];
    int sp;
    bool in_server;
    struct ngx_server srv;
    bool http_tokens_off;
    char tokens_where[320];
    bool any_server, any_dotdeny;
    char ssl_protocols_where[320];
    bool http_old_tls;
    int nservers_plain_noredirect;
};

static int ngx_file(struct ngx_state *st, const char *path);

static int ngx_include_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct stat sb;
    if (audit_stat(c, path, &sb, true) == 0 && S_ISREG(sb.st_mode))
        ngx_file(arg, path);
    return 0;
}

static void ngx_server_end(struct ngx_state *st)
{
    struct audit_ctx *c = st->c;
    struct ngx_server *s = &st->srv;
    if (!s->any_listen)
        s->listen_plain = true;
    if (s->listen_ssl)
        c->web_has_tls = true;
    if (s->listen_plain && s->content && !s->redirect) {
        c->web_has_plain = true;
        audit_add(c, "web.http-no-redirect", AUDIT_MEDIUM,
                  "Site is served over plain HTTP without a redirect to HTTPS",
                  "Get a certificate (certbot --nginx) and make the port-80 server only "
                  "'return 301 https://$host$request_uri;'.",
                  "%s: server %s", s->where, s->name[0] ? s->name : "_");
        if (s->auth_where[0])
            audit_add(c, "web.basic-auth-plain-http", AUDIT_HIGH,
                      "Passwords are sent over plain HTTP (Basic auth without TLS)",
                      "Serve this site only over HTTPS before asking for a password.", "%s",
                      s->auth_where);
    }
    if (s->listen_plain && s->redirect)
        c->web_https_redirect = true;
    if (s->dav_where[0])
        audit_add(c, "web.webdav", s->listen_plain && !s->redirect ? AUDIT_HIGH : AUDIT_MEDIUM,
                  "WebDAV write methods are enabled",
                  "Remove dav_methods unless you need uploads over WebDAV; if you do, require "
                  "authentication over HTTPS.",
                  "%s", s->dav_where);
    if (s->dotdeny)
        st->any_dotdeny = true;
    for (int i = 0; i < s->ncerts; i++)
        audit_add_cert(c, s->certs[i], s->name[0] ? s->name : NULL);
    if (s->tokens_set && s->tokens_on)
        audit_add(c, "web.server-tokens", AUDIT_LOW, "nginx shows its version",
                  "Add 'server_tokens off;' to the http block of /etc/nginx/nginx.conf.", "%s",
                  s->where);
    if (!s->tokens_set && !st->http_tokens_off && !st->tokens_where[0])
        snprintf(st->tokens_where, sizeof st->tokens_where, "%s", s->where);
}

static void ngx_directive(struct ngx_state *st, const char *file, unsigned line, char **w, int nw)
{
    struct audit_ctx *c = st->c;
    const char *d = w[0];
    const char *ctx = st->sp > 0 ? st->stack[st->sp - 1] : "main";
    char where[256];
    snprintf(where, sizeof where, "%.200s:%u", file, line);
    if (!strcmp(d, "include") && nw > 1) {
        char pat[1024];
        if (w[1][0] == '/')
            snprintf(pat, sizeof pat, "%s", w[1]);
        else
            snprintf(pat, sizeof pat, "/etc/nginx/%s", w[1]);
        audit_glob(c, pat, ngx_include_cb, st);
        return;
    }
    if (!strcmp(d, "server_tokens") && nw > 1) {
        bool on = strcmp(w[1], "off") != 0;
        if (st->in_server) {
            st->srv.tokens_set = true;
            st->srv.tokens_on = on;
            snprintf(st->srv.where, sizeof st->srv.where, "%s", where);
        } else if (!on) {
            st->http_tokens_off = true;
        } else {
            snprintf(st->tokens_where, sizeof st->tokens_where, "%s", where);
        }
        return;
    }
    if (!strcmp(d, "ssl_protocols")) {
        if (has_old_tls(w, nw, 1))
            audit_add(c, "web.old-tls", AUDIT_MEDIUM, "Old TLS versions are enabled",
                      "Set 'ssl_protocols TLSv1.2 TLSv1.3;' and reload nginx.", "%s: ssl_protocols", where);
        return;
    }
    if (!strcmp(d, "autoindex") && nw > 1 && !strcmp(w[1], "on")) {
        audit_add(c, "web.autoindex", AUDIT_MEDIUM, "Directory listing is on",
                  "Remove 'autoindex on;' (or set it off) so visitors cannot browse folders.",
                  "%s: autoindex on", where);
        return;
    }
    if (!st->in_server)
        return;
    struct ngx_server *s = &st->srv;
    if (!strcmp(d, "listen")) {
        s->any_listen = true;
        bool ssl = false;
        for (int i = 2; i < nw; i++)
            if (!strcmp(w[i], "ssl") || !strcmp(w[i], "quic"))
                ssl = true;
        if (ssl)
            s->listen_ssl = true;
        else
            s->listen_plain = true;
    } else if (!strcmp(d, "ssl") && nw > 1 && !strcmp(w[1], "on")) {
        s->listen_ssl = true;
        s->listen_plain = false;
    } else if (!strcmp(d, "server_name") && nw > 1) {
        if (!s->name[0])
            snprintf(s->name, sizeof s->name, "%s", w[1]);
    } else if (!strcmp(d, "root") && nw > 1) {
        s->content = true;
        audit_add_webroot(c, w[1]);
    } else if (!strcmp(d, "proxy_pass") || !strcmp(d, "fastcgi_pass") || !strcmp(d, "uwsgi_pass")) {
        s->content = true;
    } else if ((!strcmp(d, "return") && nw > 2 && strstr(w[2], "https://")) ||
               (!strcmp(d, "rewrite") && nw > 2 && !strncmp(w[2], "https://", 8))) {
        if (!strcmp(ctx, "server") || st->sp >= 2)
            s->redirect = true;
    } else if (!strcmp(d, "return") && nw > 1 && (!strcmp(w[1], "403") || !strcmp(w[1], "404"))) {
        st->loc_deny[st->sp - 1] = true;
    } else if (!strcmp(d, "deny") && nw > 1 && !strcmp(w[1], "all")) {
        st->loc_deny[st->sp - 1] = true;
    } else if (!strcmp(d, "auth_basic") && nw > 1 && strcmp(w[1], "off")) {
        snprintf(s->auth_where, sizeof s->auth_where, "%s: auth_basic", where);
    } else if (!strcmp(d, "auth_basic_user_file") && nw > 1) {
        audit_accounts_htpasswd(c, w[1]);
    } else if (!strcmp(d, "dav_methods") && nw > 1 && strcmp(w[1], "off")) {
        snprintf(s->dav_where, sizeof s->dav_where, "%s: dav_methods", where);
    } else if (!strcmp(d, "ssl_certificate") && nw > 1 && s->ncerts < 4) {
        snprintf(s->certs[s->ncerts++], sizeof s->certs[0], "%s", w[1]);
    }
}

/* Tokenizer: fills words of one directive; returns the terminator ';', '{',
 * '}' or 0 at the end. */
struct ngx_lex {
    const char *p, *end;
    unsigned line;
};

static int ngx_next(struct ngx_lex *lx, char *store, size_t storesz, char **w, int *nw, int maxw,
                    unsigned *line)
{
    size_t used = 0;
    *nw = 0;
    *line = 0;
    while (lx->p < lx->end) {
        char ch = *lx->p;
        if (ch == '\n') {
            lx->line++;
            lx->p++;
            continue;
        }
        if (isspace((unsigned char)ch) || ch == '\0') {
            lx->p++;
            continue;
        }
        if (ch == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
            continue;
        }
        if (ch == ';' || ch == '{' || ch == '}') {
            lx->p++;
            if (!*line)
                *line = lx->line;
            return ch;
        }
        if (!*line)
            *line = lx->line;
        /* a word */
        char q = 0;
        if (ch == '"' || ch == '\'') {
            q = ch;
            lx->p++;
        }
        size_t start = used;
        while (lx->p < lx->end) {
            char d = *lx->p;
            if (q) {
                if (d == q) {
                    lx->p++;
                    break;
                }
                if (d == '\\' && lx->p + 1 < lx->end)
                    d = *++lx->p;
            } else if (isspace((unsigned char)d) || d == ';' || d == '{' || d == '}' || d == '\0') {
                break;
            }
            if (d == '\n')
                lx->line++;
            if (used + 2 < storesz)
                store[used++] = d;
            lx->p++;
        }
        store[used++] = '\0';
        if (*nw < maxw && used < storesz)
            w[(*nw)++] = store + start;
    }
    return 0;
}

static int ngx_file(struct ngx_state *st, const char *path)
{
    if (st->depth >= WEB_MAX_DEPTH)
        return -ELOOP;
    size_t n;
    char *data = audit_read(st->c, path, WEB_MAX_CONF, &n, NULL);
    if (!data)
        return -errno;
    st->depth++;
    struct ngx_lex lx = {data, data + n, 1};
    char store[8192];
    char *w[32];
    int nw, t;
    unsigned line;
    while ((t = ngx_next(&lx, store, sizeof store, w, &nw, 32, &line)) != 0) {
        if (t == '{') {
            if (st->sp >= NGX_STACK)
                break;
            const char *name = nw ? w[0] : "";
            snprintf(st->stack[st->sp], sizeof st->stack[0], "%s", name);
            st->loc_dot[st->sp] = false;
            st->loc_deny[st->sp] = false;
            if (!strcmp(name, "location")) {
                for (int i = 1; i < nw; i++)
                    if (strstr(w[i], "/\\.") || !strcmp(w[i], "/."))
                        st->loc_dot[st->sp] = true;
            }
            st->sp++;
            if (!strcmp(name, "server") && st->sp >= 2 && !strcmp(st->stack[st->sp - 2], "http")) {
                memset(&st->srv, 0, sizeof st->srv);
                st->in_server = true;
                st->any_server = true;
                snprintf(st->srv.where, sizeof st->srv.where, "%s:%u", path, line);
            }
            continue;
        }
        if (t == '}') {
            if (st->sp == 0)
                continue;
            st->sp--;
            if (!strcmp(st->stack[st->sp], "location") && st->loc_dot[st->sp] &&
                st->loc_deny[st->sp] && st->in_server)
                st->srv.dotdeny = true;
            if (!strcmp(st->stack[st->sp], "server") && st->in_server) {
                ngx_server_end(st);
                st->in_server = false;
            }
            continue;
        }
        if (nw > 0)
            ngx_directive(st, path, line, w, nw);
    }
    st->depth--;
    free(data);
    return 0;
}

static void check_nginx(struct audit_ctx *c)
{
    if (!audit_exists(c, "/etc/nginx/nginx.conf"))
        return;
    c->roles |= AUDIT_ROLE_WEB;
    struct ngx_state *st = calloc(1, sizeof *st);
    if (!st)
        return;
    st->c = c;
    ngx_file(st, "/etc/nginx/nginx.conf");
    if (st->any_server && !st->http_tokens_off && st->tokens_where[0])
        audit_add(c, "web.server-tokens", AUDIT_LOW, "nginx shows its version in headers and error pages",
                  "Add 'server_tokens off;' to the http block of /etc/nginx/nginx.conf.",
                  "%s: server_tokens not off", st->tokens_where);
    if (st->any_server && !st->any_dotdeny)
        audit_add(c, "web.dotfiles-not-denied", AUDIT_LOW,
                  "Hidden files (.git, .env, .htpasswd) are not denied by the web server",
                  "Add 'location ~ /\\.(?!well-known) { deny all; }' to each server block.",
                  "%s", "/etc/nginx/nginx.conf");
    free(st);
}

/* ----------------------------------------------------------------- Apache */

struct apa_vhost {
    bool ssl, redirect, plain;
    char auth_where[320], dav_where[320], name[256], where[320];
    char certs[4][512];
    int ncerts;
};

struct apa_state {
    struct audit_ctx *c;
    int depth;
    bool in_vhost;
    struct apa_vhost vh;
    char tokens[32], tokens_where[320];
    bool signature_on;
    char signature_where[320];
    bool trace_off;
    bool dotdeny;
    char section[8][64]; /* section stack */
    char section_arg[8][256];
    int sp;
    bool any_vhost;
};

static int apa_file(struct apa_state *st, const char *path);

static int apa_include_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct stat sb;
    if (audit_stat(c, path, &sb, true) == 0 && S_ISREG(sb.st_mode))
        apa_file(arg, path);
    return 0;
}

static void apa_vhost_end(struct apa_state *st)
{
    struct audit_ctx *c = st->c;
    struct apa_vhost *v = &st->vh;
    if (v->ssl)
        c->web_has_tls = true;
    if (!v->ssl && !v->redirect) {
        c->web_has_plain = true;
        audit_add(c, "web.http-no-redirect", AUDIT_MEDIUM,
                  "Site is served over plain HTTP without a redirect to HTTPS",
                  "Get a certificate (certbot --apache) and add 'Redirect permanent / "
                  "https://NAME/' to the port-80 VirtualHost.",
                  "%s: VirtualHost %s", v->where, v->name[0] ? v->name : "_default_");
        if (v->auth_where[0])
            audit_add(c, "web.basic-auth-plain-http", AUDIT_HIGH,
                      "Passwords are sent over plain HTTP (Basic auth without TLS)",
                      "Serve this site only over HTTPS before asking for a password.", "%s",
                      v->auth_where);
    }
    if (!v->ssl && v->redirect)
        c->web_https_redirect = true;
    if (v->dav_where[0])
        audit_add(c, "web.webdav", !v->ssl && !v->redirect ? AUDIT_HIGH : AUDIT_MEDIUM,
                  "WebDAV write methods are enabled",
                  "Remove 'Dav On' unless you need it; if you do, require authentication over "
                  "HTTPS.",
                  "%s", v->dav_where);
    for (int i = 0; i < v->ncerts; i++)
        audit_add_cert(c, v->certs[i], v->name[0] ? v->name : NULL);
}

static void apa_directive(struct apa_state *st, const char *file, unsigned line, char **w, int nw)
{
    struct audit_ctx *c = st->c;
    const char *d = w[0];
    char where[256];
    snprintf(where, sizeof where, "%.200s:%u", file, line);
    if ((!strcasecmp(d, "Include") || !strcasecmp(d, "IncludeOptional")) && nw > 1) {
        char pat[1024];
        if (w[1][0] == '/')
            snprintf(pat, sizeof pat, "%s", w[1]);
        else
            snprintf(pat, sizeof pat, "/etc/apache2/%s", w[1]);
        audit_glob(c, pat, apa_include_cb, st);
        return;
    }
    if (d[0] == '<') {
        if (d[1] == '/') {
            if (st->sp > 0)
                st->sp--;
            if (!strncasecmp(d, "</VirtualHost", 13) && st->in_vhost) {
                apa_vhost_end(st);
                st->in_vhost = false;
            }
            return;
        }
        char name[64];
        snprintf(name, sizeof name, "%s", d + 1);
        char arg[256] = "";
        if (nw > 1)
            snprintf(arg, sizeof arg, "%s", w[1]);
        size_t al = strlen(arg);
        if (al && arg[al - 1] == '>')
            arg[al - 1] = '\0';
        size_t nl = strlen(name);
        if (nl && name[nl - 1] == '>')
            name[nl - 1] = '\0';
        if (st->sp < 8) {
            snprintf(st->section[st->sp], sizeof st->section[0], "%s", name);
            snprintf(st->section_arg[st->sp], sizeof st->section_arg[0], "%s", arg);
            st->sp++;
        }
        if (!strcasecmp(name, "VirtualHost")) {
            memset(&st->vh, 0, sizeof st->vh);
            st->in_vhost = true;
            st->any_vhost = true;
            snprintf(st->vh.where, sizeof st->vh.where, "%s", where);
            if (strstr(arg, ":443"))
                st->vh.ssl = true;
        }
        return;
    }
    const char *sec = st->sp ? st->section[st->sp - 1] : "";
    const char *secarg = st->sp ? st->section_arg[st->sp - 1] : "";
    if (!strcasecmp(d, "ServerTokens") && nw > 1) {
        snprintf(st->tokens, sizeof st->tokens, "%s", w[1]);
        snprintf(st->tokens_where, sizeof st->tokens_where, "%s", where);
    } else if (!strcasecmp(d, "ServerSignature") && nw > 1) {
        st->signature_on = strcasecmp(w[1], "Off") != 0;
        snprintf(st->signature_where, sizeof st->signature_where, "%s", where);
    } else if (!strcasecmp(d, "TraceEnable") && nw > 1) {
        st->trace_off = !strcasecmp(w[1], "Off");
    } else if (!strcasecmp(d, "Options")) {
        for (int i = 1; i < nw; i++)
            if (!strcasecmp(w[i], "Indexes") || !strcasecmp(w[i], "+Indexes") ||
                !strcasecmp(w[i], "All"))
                audit_add(c, "web.autoindex", AUDIT_MEDIUM, "Directory listing is on",
                          "Change 'Options Indexes' to 'Options -Indexes' so visitors cannot "
                          "browse folders.",
                          "%s: Options %s (in <%s %s>)", where, w[i], sec, secarg);
    } else if (!strcasecmp(d, "Require") && nw > 2 && !strcasecmp(w[1], "all") &&
               !strcasecmp(w[2], "denied")) {
        if ((!strcasecmp(sec, "FilesMatch") || !strcasecmp(sec, "DirectoryMatch")) &&
            (strstr(secarg, "^\\.") || strstr(secarg, "/\\.")) && !strstr(secarg, "^\\.ht"))
            st->dotdeny = true;
    } else if (!strcasecmp(d, "RedirectMatch") && nw > 2 && strstr(w[nw - 2], "/\\.")) {
        st->dotdeny = true;
    } else if (!strcasecmp(d, "SSLProtocol")) {
        bool bad = has_old_tls(w, nw, 1);
        bool all = false, minus1 = false, minus11 = false;
        for (int i = 1; i < nw; i++) {
            if (!strcasecmp(w[i], "all") || !strcasecmp(w[i], "+all"))
                all = true;
            if (!strcmp(w[i], "-TLSv1"))
                minus1 = true;
            if (!strcmp(w[i], "-TLSv1.1"))
                minus11 = true;
        }
        if (bad || (all && !(minus1 && minus11)))
            audit_add(c, "web.old-tls", AUDIT_MEDIUM, "Old TLS versions are enabled",
                      "Set 'SSLProtocol -all +TLSv1.2 +TLSv1.3' and reload Apache.",
                      "%s: SSLProtocol", where);
    } else if (!strcasecmp(d, "DocumentRoot") && nw > 1) {
        audit_add_webroot(c, w[1]);
    } else if (!strcasecmp(d, "AuthUserFile") && nw > 1) {
        audit_accounts_htpasswd(c, w[1]);
    }
    if (!st->in_vhost)
        return;
    struct apa_vhost *v = &st->vh;
    if (!strcasecmp(d, "SSLEngine") && nw > 1 && !strcasecmp(w[1], "on")) {
        v->ssl = true;
    } else if (!strcasecmp(d, "ServerName") && nw > 1) {
        snprintf(v->name, sizeof v->name, "%s", w[1]);
    } else if ((!strcasecmp(d, "Redirect") || !strcasecmp(d, "RedirectPermanent") ||
                !strcasecmp(d, "RewriteRule")) &&
               nw > 2 && strstr(w[nw - 1], "https://")) {
        v->redirect = true;
    } else if ((!strcasecmp(d, "Redirect") || !strcasecmp(d, "RewriteRule")) && nw > 2) {
        for (int i = 2; i < nw; i++)
            if (!strncmp(w[i], "https://", 8))
                v->redirect = true;
    } else if (!strcasecmp(d, "AuthType") && nw > 1 && !strcasecmp(w[1], "Basic")) {
        snprintf(v->auth_where, sizeof v->auth_where, "%s: AuthType Basic", where);
    } else if (!strcasecmp(d, "Dav") && nw > 1 && strcasecmp(w[1], "Off")) {
        snprintf(v->dav_where, sizeof v->dav_where, "%s: Dav %s", where, w[1]);
    } else if (!strcasecmp(d, "SSLCertificateFile") && nw > 1 && v->ncerts < 4) {
        snprintf(v->certs[v->ncerts++], sizeof v->certs[0], "%s", w[1]);
    }
}

static int apa_file(struct apa_state *st, const char *path)
{
    if (st->depth >= WEB_MAX_DEPTH)
        return -ELOOP;
    size_t n;
    char *data = audit_read(st->c, path, WEB_MAX_CONF, &n, NULL);
    if (!data)
        return -errno;
    st->depth++;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    char acc[4096];
    size_t al = 0;
    unsigned first = 0;
    while (audit_lines_next(&l, &line, &len)) {
        if (!al)
            first = l.lineno;
        bool cont = len && line[len - 1] == '\\';
        size_t take = cont ? len - 1 : len;
        if (al + take >= sizeof acc)
            take = sizeof acc - 1 - al;
        memcpy(acc + al, line, take);
        al += take;
        if (cont)
            continue;
        acc[al] = '\0';
        al = 0;
        char *s = acc;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        char *w[32];
        int nw = audit_split_words(s, w, 32, 0);
        if (nw)
            apa_directive(st, path, first, w, nw);
    }
    st->depth--;
    free(data);
    return 0;
}

static void check_apache(struct audit_ctx *c)
{
    const char *main = "/etc/apache2/apache2.conf";
    if (!audit_exists(c, main))
        return;
    c->roles |= AUDIT_ROLE_WEB;
    struct apa_state *st = calloc(1, sizeof *st);
    if (!st)
        return;
    st->c = c;
    apa_file(st, main);
    if (!st->tokens[0] || (strcasecmp(st->tokens, "Prod") && strcasecmp(st->tokens, "ProductOnly")))
        audit_add(c, "web.server-tokens", AUDIT_LOW, "Apache shows its version and OS in headers",
                  "Set 'ServerTokens Prod' in /etc/apache2/conf-enabled/security.conf.",
                  "%s: ServerTokens %s", st->tokens[0] ? st->tokens_where : main,
                  st->tokens[0] ? st->tokens : "(default Full)");
    if (st->signature_on)
        audit_add(c, "web.server-signature", AUDIT_LOW, "Apache signs error pages with its version",
                  "Set 'ServerSignature Off' in /etc/apache2/conf-enabled/security.conf.",
                  "%s: ServerSignature On", st->signature_where);
    if (!st->trace_off)
        audit_add(c, "web.trace", AUDIT_LOW, "HTTP TRACE is enabled",
                  "Set 'TraceEnable Off' in /etc/apache2/conf-enabled/security.conf.",
                  "%s: TraceEnable not Off (default On)", main);
    if (!st->dotdeny)
        audit_add(c, "web.dotfiles-not-denied", AUDIT_LOW,
                  "Hidden files (.git, .env) are not denied by the web server",
                  "Add '<DirectoryMatch \"/\\.\"> Require all denied </DirectoryMatch>' (allow "
                  ".well-known if you use it).",
                  "%s", main);
    free(st);
}

/* -------------------------------------------------------------------- PHP */

static int php_ini_cb(struct audit_ctx *c, const char *path, void *arg)
{
    size_t n;
    char *data = audit_read(c, path, 1u << 20, &n, NULL);
    if (!data)
        return 0;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    bool on = true; /* PHP's built-in default */
    unsigned at = 0;
    while (audit_lines_next(&l, &line, &len)) {
        while (len && (*line == ' ' || *line == '\t')) {
            line++;
            len--;
        }
        if (len < 10 || strncasecmp(line, "expose_php", 10))
            continue;
        const char *eq = memchr(line, '=', len);
        if (!eq)
            continue;
        eq++;
        while (*eq == ' ' || *eq == '\t')
            eq++;
        on = !strncasecmp(eq, "on", 2) || *eq == '1' || !strncasecmp(eq, "yes", 3) ||
             !strncasecmp(eq, "true", 4);
        at = l.lineno;
    }
    if (on)
        audit_add(c, "web.expose-php", AUDIT_LOW, "PHP announces its version (X-Powered-By)",
                  "Set 'expose_php = Off' in this php.ini and restart PHP-FPM/Apache.",
                  "%s:%u: expose_php On", path, at);
    free(data);
    return 0;
}

/* ------------------------------------------------------- web root walking */

struct walk {
    struct audit_ctx *c;
    size_t entries;
    unsigned per_id[16];
};

enum { W_GIT, W_SVN, W_ENV, W_SQL, W_BAK, W_ARCH, W_PHPINFO, W_ADMINER, W_KEY, W_HTPASSWD,
       W_DSSTORE, W_UPLOADPHP, W_WRITABLE, W_GITCRED };

static bool ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static bool limited(struct walk *wk, int k)
{
    return ++wk->per_id[k] > WEB_MAX_PER_ID;
}

static void check_git_config(struct walk *wk, const char *gitdir)
{
    char p[4200];
    if (audit_path_join(p, sizeof p, gitdir, "config") < 0)
        return;
    size_t n;
    char *data = audit_read(wk->c, p, 1u << 20, &n, NULL);
    if (!data)
        return;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        const char *u = memmem(line, len, "://", 3);
        if (!u)
            continue;
        const char *e = line + len;
        const char *at = memchr(u, '@', (size_t)(e - u));
        const char *colon = memchr(u + 3, ':', (size_t)(e - u - 3));
        if (at && colon && colon < at && !limited(wk, W_GITCRED))
            audit_add(wk->c, "web.git-credentials", AUDIT_CRITICAL,
                      "A password or token is stored in a public .git/config",
                      "Revoke the token/password at the Git host now, remove it from "
                      ".git/config, and remove .git from the web root.",
                      "%s:%u: remote URL with user:password", p, l.lineno);
    }
    free(data);
}

static bool small_file_has(struct audit_ctx *c, const char *path, const char *needle, size_t max)
{
    struct stat st;
    if (audit_stat(c, path, &st, false) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
        return false;
    size_t n;
    char *d = audit_read(c, path, max, &n, NULL);
    if (!d)
        return false;
    bool r = memmem(d, n, needle, strlen(needle)) != NULL;
    free(d);
    return r;
}

static bool upload_dir_name(const char *n)
{
    return !strcasecmp(n, "uploads") || !strcasecmp(n, "upload") || !strcasecmp(n, "files") ||
           !strcasecmp(n, "media") || !strcasecmp(n, "images") || !strcasecmp(n, "attachments");
}

static void walk_dir(struct walk *wk, const char *dir, int depth, bool in_upload)
{
    struct audit_ctx *c = wk->c;
    if (depth > WEB_WALK_MAX_DEPTH || wk->entries > WEB_WALK_MAX_ENTRIES)
        return;
    char **names;
    int n = audit_list_dir(c, dir, &names);
    if (n <= 0)
        return;
    char p[4200];
    for (int i = 0; i < n; i++) {
        const char *nm = names[i];
        if (++wk->entries > WEB_WALK_MAX_ENTRIES)
            break;
        if (audit_path_join(p, sizeof p, dir, nm) < 0)
            continue;
        struct stat st;
        if (audit_stat(c, p, &st, false) < 0)
            continue;
        if (S_ISLNK(st.st_mode))
            continue; /* never followed: loops and escapes are harmless */
        if (S_ISDIR(st.st_mode)) {
            if (!strcmp(nm, ".git")) {
                if (!limited(wk, W_GIT))
                    audit_add(c, "web.git-exposed", AUDIT_HIGH, "A .git folder is in the web root",
                              "Move the repository out of the web root (deploy with git archive "
                              "or rsync --exclude .git) or deny /.git in the server config.",
                              "%s", p);
                check_git_config(wk, p);
                continue;
            }
            if (!strcmp(nm, ".svn") || !strcmp(nm, ".hg") || !strcmp(nm, ".bzr")) {
                if (!limited(wk, W_SVN))
                    audit_add(c, "web.vcs-exposed", AUDIT_HIGH,
                              "A version-control folder is in the web root",
                              "Remove it from the web root or deny it in the server config.",
                              "%s", p);
                continue;
            }
            if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX) && !limited(wk, W_WRITABLE))
                audit_add(c, "web.world-writable", AUDIT_MEDIUM,
                          "A folder in the web root is writable by every user",
                          "chmod o-w the folder; give write access only to the web server's "
                          "user (chown www-data, chmod 750).",
                          "%s (mode %04o)", p, (unsigned)(st.st_mode & 07777));
            walk_dir(wk, p, depth + 1, in_upload || upload_dir_name(nm));
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (!strcmp(nm, ".env") || !strncmp(nm, ".env.", 5)) {
            if (!limited(wk, W_ENV))
                audit_add(c, "web.env-file", AUDIT_HIGH, "A .env file (secrets) is in the web root",
                          "Move .env above the web root, rotate the secrets in it, and deny "
                          "dotfiles in the server config.",
                          "%s", p);
        } else if (ends(nm, ".sql") || ends(nm, ".sql.gz") || ends(nm, ".sql.zst") ||
                   ends(nm, ".sql.bz2") || ends(nm, ".dump")) {
            if (!limited(wk, W_SQL))
                audit_add(c, "web.sql-dump", AUDIT_HIGH, "A database dump is in the web root",
                          "Move the dump out of the web root (and off the server if it is old).",
                          "%s (%lld bytes)", p, (long long)st.st_size);
        } else if (ends(nm, ".bak") || ends(nm, ".old") || ends(nm, ".orig") || ends(nm, "~") ||
                   ends(nm, ".swp") || ends(nm, ".swo") || ends(nm, ".save")) {
            if (!limited(wk, W_BAK))
                audit_add(c, "web.backup-file", AUDIT_MEDIUM,
                          "A backup or editor file is in the web root (source disclosure)",
                          "Delete it; such files are served as plain text, code and passwords "
                          "included.",
                          "%s", p);
        } else if (ends(nm, ".zip") || ends(nm, ".tar") || ends(nm, ".tar.gz") || ends(nm, ".tgz") ||
                   ends(nm, ".rar") || ends(nm, ".7z") || ends(nm, ".tar.bz2") || ends(nm, ".tar.xz")) {
            if (!limited(wk, W_ARCH))
                audit_add(c, "web.archive", AUDIT_MEDIUM, "An archive is in the web root",
                          "Move it out of the web root; site backups are a favourite download "
                          "for attackers.",
                          "%s", p);
        } else if (!strncasecmp(nm, "adminer", 7) && ends(nm, ".php")) {
            if (!limited(wk, W_ADMINER))
                audit_add(c, "web.adminer", AUDIT_HIGH, "Adminer (database admin tool) is in the web root",
                          "Remove it, or protect it with authentication and an IP allowlist.",
                          "%s", p);
        } else if (!strcasecmp(nm, "phpinfo.php") || !strcasecmp(nm, "info.php") ||
                   (ends(nm, ".php") && small_file_has(c, p, "phpinfo(", 4096))) {
            if (!limited(wk, W_PHPINFO))
                audit_add(c, "web.phpinfo", AUDIT_MEDIUM,
                          "A phpinfo() page is in the web root",
                          "Delete it; it shows versions, paths and environment variables.",
                          "%s", p);
        } else if (!strcmp(nm, ".htpasswd")) {
            if (!limited(wk, W_HTPASSWD))
                audit_add(c, "web.htpasswd-in-root", AUDIT_MEDIUM,
                          "A password file is inside the web root",
                          "Move it to /etc/nginx or /etc/apache2 and update the config.", "%s", p);
            audit_accounts_htpasswd(c, p);
        } else if (!strcmp(nm, ".DS_Store")) {
            if (!limited(wk, W_DSSTORE))
                audit_add(c, "web.ds-store", AUDIT_LOW, "A .DS_Store file lists folder contents",
                          "Delete it and exclude it from uploads.", "%s", p);
        } else if (ends(nm, ".key") || ends(nm, ".pem") || !strcmp(nm, "id_rsa") ||
                   !strcmp(nm, "id_ed25519") || !strcmp(nm, "id_ecdsa")) {
            if (small_file_has(c, p, "PRIVATE KEY", 1u << 20) && !limited(wk, W_KEY))
                audit_add(c, "web.private-key", AUDIT_CRITICAL, "A private key is in the web root",
                          "Remove it, and replace the key and anything it protects (certificate, "
                          "SSH access): assume it was downloaded.",
                          "%s", p);
        }
        if (in_upload && (ends(nm, ".php") || ends(nm, ".phtml") || ends(nm, ".phar") ||
                          ends(nm, ".php5") || ends(nm, ".php7")) &&
            !limited(wk, W_UPLOADPHP))
            audit_add(c, "web.php-in-uploads", AUDIT_HIGH, "PHP file in an upload folder",
                      "Check it (it is often a web shell), delete it if you did not put it "
                      "there, and stop PHP from running in upload folders.",
                      "%s", p);
    }
    audit_free_list(names, n);
}

void audit_check_web(struct audit_ctx *c)
{
    check_nginx(c);
    check_apache(c);
    audit_glob(c, "/etc/php/*/*/php.ini", php_ini_cb, NULL);
    if (c->nwebroots == 0 && (c->roles & AUDIT_ROLE_WEB) && audit_exists(c, "/var/www/html"))
        audit_add_webroot(c, "/var/www/html");
    struct walk wk;
    memset(&wk, 0, sizeof wk);
    wk.c = c;
    for (size_t i = 0; i < c->nwebroots; i++) {
        /* A root inside another root is walked once, as part of the outer. */
        bool nested = false;
        for (size_t j = 0; j < c->nwebroots && !nested; j++) {
            size_t l = strlen(c->webroots[j]);
            nested = j != i && !strncmp(c->webroots[i], c->webroots[j], l) &&
                     (c->webroots[i][l] == '/' || (l == 1 && c->webroots[j][0] == '/'));
        }
        if (!nested)
            walk_dir(&wk, c->webroots[i], 0, false);
    }
}
