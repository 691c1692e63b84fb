/* TLS termination with OpenSSL 3: TLS 1.2 and 1.3 only, forward-secret
 * AEAD ciphers, no renegotiation, no compression; one SSL_CTX per
 * certificate, chosen by SNI (exact name, then "*.domain" wildcard, then the
 * default: the entry named "*" or else the first one). ALPN offers only
 * http/1.1. Handshakes are driven non-blocking by the worker loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proxy/proxy_int.h"

#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_entry {
    char *name;
    SSL_CTX *ctx;
};

struct proxy_tls {
    struct tls_entry *e;
    size_t n;
    size_t def;
};

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, msg, sizeof msg);
    snprintf(err, errlen, "%s %s: %s", what, file, msg);
    ERR_clear_error();
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned int i = 0;
    while (i < inlen) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static bool name_matches(const char *pattern, const char *name)
{
    if (!strcasecmp(pattern, name))
        return true;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && !strcasecmp(pattern + 1, dot);
    }
    return false;
}

static int on_sni(SSL *ssl, int *alert, void *arg)
{
    struct proxy_tls *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->n; i++) {
            bool wild = t->e[i].name[0] == '*';
            if ((pass == 0 && !wild && !strcasecmp(t->e[i].name, name)) ||
                (pass == 1 && wild && strcmp(t->e[i].name, "*") &&
                 name_matches(t->e[i].name, name))) {
                if (i != t->def)
                    SSL_set_SSL_CTX(ssl, t->e[i].ctx);
                return SSL_TLSEXT_ERR_OK;
            }
        }
    return SSL_TLSEXT_ERR_OK; /* the default certificate answers */
}

static SSL_CTX *make_ctx(const struct proxy_cert *ce, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_err(err, errlen, "SSL_CTX_new", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        ssl_err(err, errlen, "cipher list", "");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, ce->cert) != 1) {
        ssl_err(err, errlen, "certificate", ce->cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, ce->key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "private key", ce->key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "key does not match certificate", ce->cert);
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

struct proxy_tls *proxy_tls_new(const struct proxy_config *c, char *err, size_t errlen)
{
    struct proxy_tls *t = calloc(1, sizeof(*t));
    if (!t || !(t->e = calloc(c->ncerts ? c->ncerts : 1, sizeof(*t->e)))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < c->ncerts; i++) {
        t->e[i].ctx = make_ctx(&c->certs[i], err, errlen);
        if (!t->e[i].ctx) {
            proxy_tls_free(t);
            return NULL;
        }
        size_t nl = strlen(c->certs[i].name);
        t->e[i].name = malloc(nl + 1);
        if (!t->e[i].name) {
            SSL_CTX_free(t->e[i].ctx);
            proxy_tls_free(t);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(t->e[i].name, c->certs[i].name, nl + 1);
        t->n++;
        if (!strcmp(c->certs[i].name, "*"))
            t->def = i;
    }
    if (t->n)
        SSL_CTX_set_tlsext_servername_callback(t->e[t->def].ctx, on_sni);
    if (t->n)
        SSL_CTX_set_tlsext_servername_arg(t->e[t->def].ctx, t);
    return t;
}

void proxy_tls_free(struct proxy_tls *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        SSL_CTX_free(t->e[i].ctx);
        free(t->e[i].name);
    }
    free(t->e);
    free(t);
}

struct ssl_st *proxy_tls_accept(struct proxy_tls *t, int fd)
{
    if (!t->n)
        return NULL;
    SSL *ssl = SSL_new(t->e[t->def].ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}
