/* Accounts: empty or missing passwords, extra UID 0, weak hash schemes and
 * passwords from a short list of the most common ones, tested against the
 * shadow file, FTP password files and every .htpasswd the web check found.
 *
 * crypt(3) comes from the auditing host's libcrypt (linked, -lcrypt);
 * builds without it define MAMORI_AUDIT_DLOPEN_CRYPT and load
 * libcrypt.so.1 at run time instead. MD5-crypt ($1$, Apache $apr1$) and
 * {SHA} are computed here with OpenSSL, so htpasswd files work either way. */
#include "audit/audit.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef MAMORI_AUDIT_DLOPEN_CRYPT
#include <crypt.h>
#endif

/* The most common passwords in public breach statistics, plus the defaults
 * people leave on servers. Small on purpose: each try of a modern hash costs
 * milliseconds. */
static const char *const common_pw[] = {
    "123456", "password", "12345678", "qwerty", "123456789", "12345", "1234", "111111",
    "1234567", "123123", "admin", "root", "toor", "letmein", "changeme", "welcome",
    "passw0rd", "Password1", "abc123", "test", "guest", "raspberry", "P@ssw0rd", "admin123",
    "iloveyou", "000000", "qwerty123", "secret", "ubuntu", "debian",
};
#define N_COMMON (sizeof common_pw / sizeof *common_pw)

typedef char *(*crypt_rn_fn)(const char *, const char *, void *, int);

static crypt_rn_fn get_crypt(void)
{
#ifndef MAMORI_AUDIT_DLOPEN_CRYPT
    return crypt_rn;
#else
    static int tried;
    static crypt_rn_fn fn;
    if (!tried) {
        tried = 1;
        void *h = dlopen("libcrypt.so.1", RTLD_NOW | RTLD_LOCAL);
        if (h)
            *(void **)&fn = dlsym(h, "crypt_rn");
    }
    return fn;
#endif
}

static const char b64t[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void to64(char **p, unsigned v, int n)
{
    while (n-- > 0) {
        *(*p)++ = b64t[v & 0x3f];
        v >>= 6;
    }
}

/* MD5-crypt as described by its author (FreeBSD, 1994), with magic "$1$"
 * or "$apr1$". Writes the full hash string into out. */
static int md5crypt(const char *pw, const char *setting, char *out, size_t outsz)
{
    const char *magic = !strncmp(setting, "$apr1$", 6) ? "$apr1$" : "$1$";
    size_t ml = strlen(magic);
    if (strncmp(setting, magic, ml))
        return -1;
    const char *salt = setting + ml;
    size_t sl = 0;
    while (salt[sl] && salt[sl] != '$' && sl < 8)
        sl++;
    size_t pl = strlen(pw);
    unsigned char fin[16];
    unsigned fl;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *alt = EVP_MD_CTX_new();
    int ret = -1;
    if (!ctx || !alt)
        goto out;
    EVP_DigestInit_ex(alt, EVP_md5(), NULL);
    EVP_DigestUpdate(alt, pw, pl);
    EVP_DigestUpdate(alt, salt, sl);
    EVP_DigestUpdate(alt, pw, pl);
    EVP_DigestFinal_ex(alt, fin, &fl);
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    EVP_DigestUpdate(ctx, pw, pl);
    EVP_DigestUpdate(ctx, magic, ml);
    EVP_DigestUpdate(ctx, salt, sl);
    for (size_t i = pl; i > 0; i -= (i > 16 ? 16 : i))
        EVP_DigestUpdate(ctx, fin, i > 16 ? 16 : i);
    for (size_t i = pl; i; i >>= 1)
        EVP_DigestUpdate(ctx, (i & 1) ? "\0" : pw, 1);
    EVP_DigestFinal_ex(ctx, fin, &fl);
    for (int i = 0; i < 1000; i++) {
        EVP_DigestInit_ex(alt, EVP_md5(), NULL);
        if (i & 1)
            EVP_DigestUpdate(alt, pw, pl);
        else
            EVP_DigestUpdate(alt, fin, 16);
        if (i % 3)
            EVP_DigestUpdate(alt, salt, sl);
        if (i % 7)
            EVP_DigestUpdate(alt, pw, pl);
        if (i & 1)
            EVP_DigestUpdate(alt, fin, 16);
        else
            EVP_DigestUpdate(alt, pw, pl);
        EVP_DigestFinal_ex(alt, fin, &fl);
    }
    if (ml + sl + 1 + 22 + 1 > outsz)
        goto out;
    char *p = out;
    memcpy(p, magic, ml);
    p += ml;
    memcpy(p, salt, sl);
    p += sl;
    *p++ = '$';
    to64(&p, (unsigned)fin[0] << 16 | (unsigned)fin[6] << 8 | fin[12], 4);
    to64(&p, (unsigned)fin[1] << 16 | (unsigned)fin[7] << 8 | fin[13], 4);
    to64(&p, (unsigned)fin[2] << 16 | (unsigned)fin[8] << 8 | fin[14], 4);
    to64(&p, (unsigned)fin[3] << 16 | (unsigned)fin[9] << 8 | fin[15], 4);
    to64(&p, (unsigned)fin[4] << 16 | (unsigned)fin[10] << 8 | fin[5], 4);
    to64(&p, fin[11], 2);
    *p = '\0';
    ret = 0;
out:
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(alt);
    return ret;
}

static _Thread_local char *pw_data; /* crypt_rn's work area */

static void pw_data_free(void)
{
    free(pw_data);
    pw_data = NULL;
}

int audit_pw_check(const char *hash, const char *pw)
{
    if (!strncmp(hash, "$1$", 3) || !strncmp(hash, "$apr1$", 6)) {
        char out[128];
        if (md5crypt(pw, hash, out, sizeof out) < 0)
            return -1;
        return strcmp(out, hash) == 0;
    }
    if (!strncmp(hash, "{SHA}", 5)) {
        unsigned char md[20], enc[40];
        unsigned ml;
        EVP_Digest(pw, strlen(pw), md, &ml, EVP_sha1(), NULL);
        EVP_EncodeBlock(enc, md, 20);
        return strcmp((const char *)enc, hash + 5) == 0;
    }
    crypt_rn_fn fn = get_crypt();
    if (!fn)
        return -1;
    if (!pw_data)
        pw_data = calloc(1, 65536); /* one per thread, freed by pw_data_free */
    if (!pw_data)
        return -1;
    const char *r = fn(pw, hash, pw_data, 65536);
    if (!r || r[0] == '*')
        return -1;
    return strcmp(r, hash) == 0;
}

static bool is_locked(const char *h)
{
    return h[0] == '!' || h[0] == '*' || h[0] == 'x' || h[0] == '\0';
}

static const char *scheme_of(const char *h, bool *weak)
{
    *weak = false;
    if (!strncmp(h, "$1$", 3)) {
        *weak = true;
        return "MD5-crypt";
    }
    if (!strncmp(h, "$y$", 3))
        return "yescrypt";
    if (!strncmp(h, "$6$", 3))
        return "SHA-512";
    if (!strncmp(h, "$5$", 3))
        return "SHA-256";
    if (!strncmp(h, "$2", 2))
        return "bcrypt";
    if (!strncmp(h, "$7$", 3) || !strncmp(h, "$gy$", 4))
        return "scrypt";
    if (h[0] != '$' && strlen(h) == 13) {
        *weak = true;
        return "DES";
    }
    if (h[0] == '_') {
        *weak = true;
        return "BSDi DES";
    }
    return "unknown";
}

/* Splits a colon-separated line into at most max fields (in place). */
static int split_colon(char *s, char **f, int max)
{
    int n = 0;
    f[n++] = s;
    while (*s && n < max) {
        if (*s == ':') {
            *s = '\0';
            f[n++] = s + 1;
        }
        s++;
    }
    return n;
}

struct user {
    char name[64];
    char shell[128];
    long uid;
};

static bool login_shell(const char *sh)
{
    return sh[0] && !strstr(sh, "nologin") && strcmp(sh, "/bin/false") && strcmp(sh, "/usr/bin/false") &&
           strcmp(sh, "/bin/sync");
}

/* Password guessing runs after every hash is known (shadow, FTP files and
 * the .htpasswd files the web check finds), spread over a few threads:
 * modern hashes cost 1-20 ms per try. Slow hashes get the short list. */
#define GUESS_MAX_ACCTS 256
#define GUESS_SLOW_LIST 10
#define GUESS_THREADS 8

struct guess {
    char file[512], user[64], hash[256], what[16];
    unsigned line;
    int limit;          /* candidates to try: 0 = user name, i = common_pw[i-1] */
    int match;          /* smallest matching candidate, -1 none */
};

struct guesses {
    struct guess v[GUESS_MAX_ACCTS];
    size_t n;
    size_t next_job; /* under lock */
    size_t njobs;
    pthread_mutex_t lock;
};

static void queue_guess(struct audit_ctx *c, const char *file, unsigned line, const char *user,
                        const char *hash, const char *what)
{
    if (!c->guesses) {
        c->guesses = calloc(1, sizeof(struct guesses));
        if (!c->guesses)
            return;
    }
    struct guesses *g = c->guesses;
    if (g->n >= GUESS_MAX_ACCTS || strlen(hash) >= sizeof g->v[0].hash)
        return;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->v[i].hash, hash) && !strcmp(g->v[i].file, file))
            return; /* same file reached twice (config and web root) */
    struct guess *e = &g->v[g->n++];
    snprintf(e->file, sizeof e->file, "%s", file);
    snprintf(e->user, sizeof e->user, "%s", user);
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    snprintf(e->what, sizeof e->what, "%s", what);
    e->line = line;
    e->match = -1;
    /* Cheap schemes get the whole list; yescrypt, bcrypt and scrypt the
     * head of it. */
    bool slow = !strncmp(hash, "$y$", 3) || !strncmp(hash, "$2", 2) || !strncmp(hash, "$7$", 3) ||
                !strncmp(hash, "$gy$", 4);
    e->limit = 1 + (slow ? GUESS_SLOW_LIST : (int)N_COMMON);
}

static void *guess_worker(void *arg)
{
    struct guesses *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        size_t j = g->next_job++;
        pthread_mutex_unlock(&g->lock);
        if (j >= g->njobs)
            break;
        /* Job j: account and candidate, enumerated account-major. */
        size_t acct = 0;
        int cand = (int)j;
        while (acct < g->n && cand >= g->v[acct].limit)
            cand -= g->v[acct++].limit;
        if (acct >= g->n)
            break;
        struct guess *e = &g->v[acct];
        pthread_mutex_lock(&g->lock);
        bool done = e->match >= 0 && e->match < cand;
        pthread_mutex_unlock(&g->lock);
        if (done)
            continue;
        const char *pw = cand == 0 ? e->user : common_pw[cand - 1];
        if (audit_pw_check(e->hash, pw) == 1) {
            pthread_mutex_lock(&g->lock);
            if (e->match < 0 || cand < e->match)
                e->match = cand;
            pthread_mutex_unlock(&g->lock);
        }
    }
    pw_data_free();
    return NULL;
}

void audit_accounts_guess(struct audit_ctx *c)
{
    struct guesses *g = c->guesses;
    if (!g || !g->n)
        return;
    for (size_t i = 0; i < g->n; i++)
        g->njobs += (size_t)g->v[i].limit;
    g->next_job = 0;
    get_crypt(); /* resolve libcrypt before the threads race to do it */
    pthread_mutex_init(&g->lock, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = ncpu < 1 ? 1 : ncpu > GUESS_THREADS ? GUESS_THREADS : (int)ncpu;
    if ((size_t)nt > g->njobs)
        nt = (int)g->njobs;
    pthread_t th[GUESS_THREADS];
    int started = 0;
    for (int i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, guess_worker, g) == 0)
            started++;
    guess_worker(g);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&g->lock);
    for (size_t i = 0; i < g->n; i++) {
        struct guess *e = &g->v[i];
        if (e->match < 0)
            continue;
        audit_add(c, "accounts.common-password", AUDIT_CRITICAL, "Account uses one of the most common passwords",
                  "Change the password now (passwd USER, or htpasswd -B FILE USER) to a long "
                  "random one; for SSH use keys.",
                  "%s:%u: %s %s has the password '%s'", e->file, e->line, e->what, e->user,
                  e->match == 0 ? "(the user name)" : common_pw[e->match - 1]);
    }
    free(g);
    c->guesses = NULL;
}

static void check_hash(struct audit_ctx *c, const char *file, unsigned line, const char *user,
                       const char *hash, const char *what)
{
    bool weak;
    const char *scheme = scheme_of(hash, &weak);
    if (weak)
        audit_add(c, "accounts.weak-hash", AUDIT_MEDIUM, "Password stored with a weak hash scheme",
                  "Set a new password for this account so it is stored with yescrypt or "
                  "SHA-512 (passwd USER; for .htpasswd: htpasswd -B FILE USER).",
                  "%s:%u: %s %s uses %s", file, line, what, user, scheme);
    queue_guess(c, file, line, user, hash, what);
}

static void check_system(struct audit_ctx *c)
{
    size_t n;
    char *pw = audit_read(c, "/etc/passwd", 4u << 20, &n, NULL);
    if (!pw)
        return;
    struct user *users = NULL;
    size_t nu = 0, cap = 0;
    struct audit_lines l;
    audit_lines_init(&l, pw, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[1024], *f[8];
        if (len >= sizeof tmp || len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        int nf = split_colon(tmp, f, 8);
        if (nf < 7)
            continue;
        char *end;
        long uid = strtol(f[2], &end, 10);
        if (end == f[2])
            continue;
        if (uid == 0 && strcmp(f[0], "root"))
            audit_add(c, "accounts.extra-uid0", AUDIT_CRITICAL,
                      "An account other than root has user id 0",
                      "Find out who added it; if it is not yours the host is compromised. "
                      "Remove the account or give it its own uid (usermod -u).",
                      "/etc/passwd:%u: %s has uid 0", l.lineno, f[0]);
        if (f[1][0] == '\0')
            audit_add(c, "accounts.empty-password", AUDIT_HIGH, "Account has no password at all",
                      "Lock the account (passwd -l USER) or set a password.",
                      "/etc/passwd:%u: %s has an empty password field", l.lineno, f[0]);
        else if (strcmp(f[1], "x") && !is_locked(f[1]))
            audit_add(c, "accounts.hash-in-passwd", AUDIT_MEDIUM,
                      "Password hash is in the world-readable /etc/passwd",
                      "Run pwconv to move hashes into /etc/shadow.",
                      "/etc/passwd:%u: %s", l.lineno, f[0]);
        if (nu == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            if (ncap > 100000)
                break;
            struct user *nv = realloc(users, ncap * sizeof *nv);
            if (!nv)
                break;
            users = nv;
            cap = ncap;
        }
        snprintf(users[nu].name, sizeof users[nu].name, "%s", f[0]);
        snprintf(users[nu].shell, sizeof users[nu].shell, "%s", f[6]);
        users[nu].uid = uid;
        nu++;
    }
    free(pw);
    char *sh = audit_read(c, "/etc/shadow", 4u << 20, &n, NULL);
    if (!sh) {
        if (errno == EACCES)
            audit_add(c, "accounts.shadow-unreadable", AUDIT_INFO, "/etc/shadow could not be read",
                      "Run the audit as root to check password hashes.", "/etc/shadow: %s",
                      strerror(EACCES));
        free(users);
        return;
    }
    audit_lines_init(&l, sh, n);
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[1024], *f[10];
        if (len >= sizeof tmp || len == 0)
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        int nf = split_colon(tmp, f, 10);
        if (nf < 2)
            continue;
        const char *hash = f[1];
        const struct user *u = NULL;
        for (size_t i = 0; i < nu; i++)
            if (!strcmp(users[i].name, f[0]))
                u = &users[i];
        bool can_login = u && login_shell(u->shell);
        if (hash[0] == '\0') {
            audit_add(c, "accounts.empty-password", can_login ? AUDIT_CRITICAL : AUDIT_HIGH,
                      "Account has no password at all",
                      "Lock the account (passwd -l USER) or set a password.",
                      "/etc/shadow:%u: %s has an empty password", l.lineno, f[0]);
            continue;
        }
        if (is_locked(hash))
            continue;
        check_hash(c, "/etc/shadow", l.lineno, f[0], hash, "user");
    }
    free(sh);
    free(users);
}

/* user:hash files: .htpasswd, pure-ftpd, proftpd. */
static int check_pwfile(struct audit_ctx *c, const char *path, void *arg)
{
    const char *what = arg;
    size_t n;
    char *data = audit_read(c, path, 1u << 20, &n, NULL);
    if (!data)
        return 0;
    struct audit_lines l;
    audit_lines_init(&l, data, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        char tmp[1024], *f[8];
        if (len >= sizeof tmp || len == 0 || line[0] == '#')
            continue;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        if (split_colon(tmp, f, 8) < 2 || !f[1][0] || is_locked(f[1]))
            continue;
        check_hash(c, path, l.lineno, f[0], f[1], what);
    }
    free(data);
    return 0;
}

/* Called by the web check for every .htpasswd it finds. */
void audit_accounts_htpasswd(struct audit_ctx *c, const char *path)
{
    check_pwfile(c, path, "web user");
}

void audit_check_accounts(struct audit_ctx *c)
{
    check_system(c);
    audit_glob(c, "/etc/pure-ftpd/pureftpd.passwd", check_pwfile, "FTP user");
    audit_glob(c, "/etc/proftpd/ftpd.passwd", check_pwfile, "FTP user");
}
