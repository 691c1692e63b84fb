/* Bans in the kernel through nftables: mamori's own "table inet mamori"
 * with two interval sets with timeouts (ban4, ban6) dropped in input and
 * forward hooks. Nothing else is touched.
 *
 * The nft binary is run with an argv array through execve: no shell, and
 * the only variable text is an address mamori formatted itself from binary
 * (inet_ntop) and a number, never bytes from a log line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "watch/watch.h"

#define TABLE "mamori"

/* Copies s into buf at *off and returns it (NULL when it does not fit). */
static char *put(char *buf, size_t cap, size_t *off, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > cap - *off)
        return NULL;
    char *p = buf + *off;
    memcpy(p, s, n);
    *off += n;
    return p;
}

static int build(const char *nft, const char *const *words, size_t nw, char *buf, size_t cap,
                 char **argv)
{
    size_t off = 0;
    if (nw + 2 > WATCH_NFT_MAXARGS)
        return -1;
    if (!(argv[0] = put(buf, cap, &off, nft ? nft : "nft")))
        return -1;
    for (size_t i = 0; i < nw; i++)
        if (!(argv[i + 1] = put(buf, cap, &off, words[i])))
            return -1;
    argv[nw + 1] = NULL;
    return (int)nw + 1;
}

int watch_nft_argv_setup(const char *nft, int step, char *buf, size_t cap, char **argv)
{
    static const char *const steps[][8] = {
        {"add", "table", "inet", TABLE, NULL},
        {"add", "set", "inet", TABLE, "ban4", "{ type ipv4_addr ; flags interval, timeout ; }", NULL},
        {"add", "set", "inet", TABLE, "ban6", "{ type ipv6_addr ; flags interval, timeout ; }", NULL},
        {"add", "chain", "inet", TABLE, "input",
         "{ type filter hook input priority -50 ; policy accept ; }", NULL},
        {"flush", "chain", "inet", TABLE, "input", NULL},
        {"add", "rule", "inet", TABLE, "input", "ip saddr @ban4 drop", NULL},
        {"add", "rule", "inet", TABLE, "input", "ip6 saddr @ban6 drop", NULL},
        {"add", "chain", "inet", TABLE, "forward",
         "{ type filter hook forward priority -50 ; policy accept ; }", NULL},
        {"flush", "chain", "inet", TABLE, "forward", NULL},
        {"add", "rule", "inet", TABLE, "forward", "ip saddr @ban4 drop", NULL},
        {"add", "rule", "inet", TABLE, "forward", "ip6 saddr @ban6 drop", NULL},
    };
    if (step < 0 || (size_t)step >= sizeof steps / sizeof steps[0])
        return 0;
    size_t nw = 0;
    while (nw < 8 && steps[step][nw])
        nw++;
    return build(nft, steps[step], nw, buf, cap, argv);
}

static int elem(const char *nft, const char *verb, const struct watch_addr *a, int64_t timeout_s,
                char *buf, size_t cap, char **argv)
{
    char ip[64], el[128];
    if (a->fam != 4 && a->fam != 6)
        return -1;
    watch_addr_fmt(a, ip, sizeof ip);
    if (!ip[0])
        return -1;
    if (timeout_s > 0)
        snprintf(el, sizeof el, "{ %s timeout %llds }", ip, (long long)timeout_s);
    else
        snprintf(el, sizeof el, "{ %s }", ip);
    const char *words[] = {verb, "element", "inet", TABLE, a->fam == 4 ? "ban4" : "ban6", el};
    return build(nft, words, 6, buf, cap, argv);
}

int watch_nft_argv_add(const char *nft, const struct watch_addr *a, int64_t timeout_s, char *buf,
                       size_t cap, char **argv)
{
    return elem(nft, "add", a, timeout_s > 0 ? timeout_s : 1, buf, cap, argv);
}

int watch_nft_argv_del(const char *nft, const struct watch_addr *a, char *buf, size_t cap,
                       char **argv)
{
    return elem(nft, "delete", a, 0, buf, cap, argv);
}

int watch_nft_run(char **argv, bool verbose)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (!verbose) {
            int dn = open("/dev/null", O_RDWR);
            if (dn >= 0) {
                dup2(dn, 1);
                dup2(dn, 2);
            }
        }
        char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
        if (strchr(argv[0], '/')) {
            execve(argv[0], argv, envp);
        } else {
            static const char *const dirs[] = {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"};
            for (size_t i = 0; i < 4; i++) {
                char p[256];
                snprintf(p, sizeof p, "%s%s", dirs[i], argv[0]);
                execve(p, argv, envp);
            }
        }
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int watch_nft_setup(const char *nft)
{
    char buf[1024];
    char *argv[WATCH_NFT_MAXARGS];
    for (int i = 0;; i++) {
        int n = watch_nft_argv_setup(nft, i, buf, sizeof buf, argv);
        if (n == 0)
            return 0;
        if (n < 0 || watch_nft_run(argv, true) != 0)
            return -1;
    }
}

int watch_nft_ban(const char *nft, const struct watch_addr *a, int64_t timeout_s)
{
    char buf[1024];
    char *argv[WATCH_NFT_MAXARGS];
    if (watch_nft_argv_add(nft, a, timeout_s, buf, sizeof buf, argv) < 0)
        return -1;
    /* replace an existing element so the new timeout counts */
    char b2[1024];
    char *a2[WATCH_NFT_MAXARGS];
    if (watch_nft_argv_del(nft, a, b2, sizeof b2, a2) > 0)
        watch_nft_run(a2, false);
    return watch_nft_run(argv, true) == 0 ? 0 : -1;
}

int watch_nft_unban(const char *nft, const struct watch_addr *a)
{
    char buf[1024];
    char *argv[WATCH_NFT_MAXARGS];
    if (watch_nft_argv_del(nft, a, buf, sizeof buf, argv) < 0)
        return -1;
    return watch_nft_run(argv, false) == 0 ? 0 : -1;
}

/* Many bans in few nft runs: one "add element" per family per BATCH. The
 * element text is built only from formatted addresses and numbers. */
#define BATCH 256

static int batch_fam(const char *nft, int fam, const struct watch_addr *a, const int64_t *tmo,
                     size_t n)
{
    size_t cap = BATCH * 96 + 16;
    char *el = malloc(cap);
    int rc = 0;
    if (!el)
        return -1;
    size_t i = 0;
    while (i < n) {
        size_t off = 0, k = 0;
        el[off++] = '{';
        for (; i < n && k < BATCH; i++) {
            if (a[i].fam != fam)
                continue;
            char ip[64];
            watch_addr_fmt(&a[i], ip, sizeof ip);
            int w = snprintf(el + off, cap - off, "%s %s timeout %llds", k ? "," : "", ip,
                             (long long)(tmo[i] > 0 ? tmo[i] : 1));
            if (w < 0 || (size_t)w >= cap - off)
                break;
            off += (size_t)w;
            k++;
        }
        if (!k)
            break;
        if (off + 3 > cap)
            break;
        el[off++] = ' ';
        el[off++] = '}';
        el[off] = '\0';
        const char *words[] = {"add", "element", "inet", TABLE, fam == 4 ? "ban4" : "ban6", el};
        char buf[BATCH * 96 + 256];
        char *argv[WATCH_NFT_MAXARGS];
        if (build(nft, words, 6, buf, sizeof buf, argv) < 0 || watch_nft_run(argv, true) != 0)
            rc = -1;
    }
    free(el);
    return rc;
}

int watch_nft_ban_many(const char *nft, const struct watch_addr *a, const int64_t *timeouts,
                       size_t n)
{
    int r4 = batch_fam(nft, 4, a, timeouts, n);
    int r6 = batch_fam(nft, 6, a, timeouts, n);
    return r4 < 0 || r6 < 0 ? -1 : 0;
}
