/* Certificates: every certificate nginx/Apache use plus Let's Encrypt's live
 * ones: expired or expiring, weak keys and signatures, self-signed, not
 * valid for the server name, and no automatic renewal. Parsed with OpenSSL
 * from the file's bytes; "now" is the audit's --now. */
#include "audit/audit.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static int le_cb(struct audit_ctx *c, const char *path, void *arg)
{
    audit_add_cert(c, path, NULL);
    *(bool *)arg = true;
    return 0;
}

static void check_one(struct audit_ctx *c, const char *path, const char *name)
{
    size_t n;
    char *pem = audit_read(c, path, 1u << 20, &n, NULL);
    if (!pem) {
        audit_add(c, "certs.unreadable", AUDIT_INFO, "A configured certificate could not be read",
                  "Check the path in the web server config (run the audit as root).", "%s", path);
        return;
    }
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(pem);
    if (!x) {
        audit_add(c, "certs.unparsable", AUDIT_LOW, "A configured certificate is not valid PEM",
                  "Replace the file with the PEM certificate (and chain) for the site.", "%s", path);
        return;
    }
    const ASN1_TIME *na = X509_get0_notAfter(x);
    ASN1_TIME *now = ASN1_TIME_set(NULL, c->now);
    int days = 0, secs = 0;
    if (now && na && ASN1_TIME_diff(&days, &secs, now, na)) {
        char when[64] = "";
        struct tm tm;
        if (ASN1_TIME_to_tm(na, &tm))
            strftime(when, sizeof when, "%Y-%m-%d", &tm);
        if (days < 0 || (days == 0 && secs < 0))
            audit_add(c, "certs.expired", AUDIT_HIGH, "Certificate has expired",
                      "Renew it (certbot renew) and reload the web server.", "%s: expired %s (%d days ago)",
                      path, when, -days);
        else if (days < 14)
            audit_add(c, "certs.expiring", AUDIT_HIGH, "Certificate expires within 14 days",
                      "Renew it now (certbot renew) and check why automatic renewal did not.",
                      "%s: expires %s (in %d days)", path, when, days);
        else if (days < 30)
            audit_add(c, "certs.expiring-soon", AUDIT_MEDIUM, "Certificate expires within 30 days",
                      "Make sure renewal runs (systemctl list-timers certbot.timer).",
                      "%s: expires %s (in %d days)", path, when, days);
    }
    ASN1_TIME_free(now);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    if (pk) {
        int bits = EVP_PKEY_get_bits(pk);
        int id = EVP_PKEY_get_base_id(pk);
        bool weak = (id == EVP_PKEY_RSA && bits < 2048) || (id == EVP_PKEY_DSA) ||
                    (id == EVP_PKEY_EC && bits < 256);
        if (weak)
            audit_add(c, "certs.weak-key", AUDIT_HIGH, "Certificate uses a weak key",
                      "Issue a new certificate with an RSA 2048+ or ECDSA P-256 key.", "%s: %s %d bits",
                      path, OBJ_nid2sn(id), bits);
    }
    int sig = X509_get_signature_nid(x);
    if (sig == NID_md5WithRSAEncryption || sig == NID_sha1WithRSAEncryption || sig == NID_ecdsa_with_SHA1)
        audit_add(c, "certs.weak-signature", AUDIT_MEDIUM, "Certificate is signed with MD5 or SHA-1",
                  "Issue a new certificate (any current CA signs with SHA-256).", "%s: %s", path,
                  OBJ_nid2sn(sig));
    bool self = X509_check_issued(x, x) == X509_V_OK;
    if (self)
        audit_add(c, "certs.self-signed", AUDIT_MEDIUM, "Certificate is self-signed",
                  "Browsers will warn; get a free certificate from Let's Encrypt (certbot).", "%s", path);
    if (name && strcmp(name, "_") && strcmp(name, "localhost") && !strchr(name, '*') &&
        X509_check_host(x, name, 0, 0, NULL) != 1)
        audit_add(c, "certs.wrong-name", AUDIT_MEDIUM, "Certificate is not valid for the site's name",
                  "Issue a certificate that includes this name (certbot -d NAME).", "%s: not valid for %s",
                  path, name);
    X509_free(x);
}

static bool renewal_configured(struct audit_ctx *c)
{
    static const char *const paths[] = {
        "/etc/systemd/system/timers.target.wants/certbot.timer",
        "/etc/systemd/system/timers.target.wants/snap.certbot.renew.timer",
        "/etc/cron.d/certbot",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (audit_exists(c, paths[i]))
            return true;
    /* acme.sh installs a user crontab line. */
    char **names;
    int n = audit_list_dir(c, "/var/spool/cron/crontabs", &names);
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
        char p[512];
        snprintf(p, sizeof p, "/var/spool/cron/crontabs/%s", names[i]);
        size_t len;
        char *d = audit_read(c, p, 1u << 20, &len, NULL);
        if (d && (memmem(d, len, "acme.sh", 7) || memmem(d, len, "certbot", 7)))
            found = true;
        free(d);
    }
    if (n > 0)
        audit_free_list(names, n);
    return found;
}

void audit_check_certs(struct audit_ctx *c)
{
    bool le = false;
    audit_glob(c, "/etc/letsencrypt/live/*/cert.pem", le_cb, &le);
    for (size_t i = 0; i < c->ncerts; i++) {
        if (strstr(c->certs[i], "/etc/letsencrypt/"))
            le = true;
        /* fullchain.pem and cert.pem of one lineage start with the same cert. */
        size_t l = strlen(c->certs[i]);
        if (l > 14 && !strcmp(c->certs[i] + l - 14, "/fullchain.pem")) {
            char alt[4200];
            snprintf(alt, sizeof alt, "%.*s/cert.pem", (int)(l - 14), c->certs[i]);
            bool dup = false;
            for (size_t j = 0; j < c->ncerts; j++)
                if (j != i && !strcmp(c->certs[j], alt)) {
                    dup = true;
                    if (!c->cert_names[j] && c->cert_names[i])
                        c->cert_names[j] = strdup(c->cert_names[i]);
                }
            if (dup)
                continue;
        }
        check_one(c, c->certs[i], c->cert_names[i]);
    }
    if (le && !renewal_configured(c))
        audit_add(c, "certs.no-renewal", AUDIT_MEDIUM, "Let's Encrypt certificates are not renewed automatically",
                  "Enable the timer: systemctl enable --now certbot.timer (Debian's certbot "
                  "package ships it).",
                  "%s", "no certbot.timer, cron.d/certbot or acme.sh crontab");
}
