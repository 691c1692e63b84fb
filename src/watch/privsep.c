/* Privilege separation for bans: a small helper process keeps the
 * privilege to change nftables, the watcher that parses hostile log lines
 * drops to an ordinary user.
 *
 * The two talk over a SOCK_SEQPACKET socketpair with one fixed-size message
 * type each way. The helper checks every field (magic, operation, address
 * family and prefix, timeout range) and exits on anything else: an unknown
 * message is a bug, not something to skip. The helper builds the nft argv
 * from the binary address itself, so nothing the watcher sends is ever
 * text on a command line. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "watch/privsep.h"

#define MSG_MAGIC 0x6d6e6674u /* "mnft" */
#define MAX_TIMEOUT (10ll * 365 * 86400)

enum { OP_BAN = 1, OP_UNBAN = 2 };

struct req {
    uint32_t magic;
    uint32_t op;
    struct watch_addr addr;
    int64_t timeout_s;
};

struct rep {
    uint32_t magic;
    int32_t status;
};

struct watch_nft_helper {
    int fd;
    pid_t pid;
};

static bool req_valid(const struct req *r)
{
    if (r->magic != MSG_MAGIC || (r->op != OP_BAN && r->op != OP_UNBAN))
        return false;
    if (r->addr.fam == 4)
        return r->addr.plen >= 1 && r->addr.plen <= 32 && r->timeout_s >= 0 &&
               r->timeout_s <= MAX_TIMEOUT;
    if (r->addr.fam == 6)
        return r->addr.plen >= 1 && r->addr.plen <= 128 && r->timeout_s >= 0 &&
               r->timeout_s <= MAX_TIMEOUT;
    return false;
}

static void helper_main(int fd, const char *nft)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    for (;;) {
        struct req r;
        ssize_t n = recv(fd, &r, sizeof r, 0);
        if (n == 0)
            _exit(0); /* the watcher is gone */
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof r || !req_valid(&r)) {
            fprintf(stderr, "mamori nft helper: malformed request; exiting\n");
            _exit(3);
        }
        int st = r.op == OP_BAN ? watch_nft_ban(nft, &r.addr, r.timeout_s)
                                : watch_nft_unban(nft, &r.addr);
        struct rep p = {MSG_MAGIC, st};
        if (send(fd, &p, sizeof p, MSG_NOSIGNAL) != (ssize_t)sizeof p)
            _exit(0);
    }
}

struct watch_nft_helper *watch_nft_helper_start(const char *nft)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    struct watch_nft_helper *h = calloc(1, sizeof *h);
    if (!h) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        free(h);
        return NULL;
    }
    if (pid == 0) {
        close(sv[0]);
        helper_main(sv[1], nft);
        _exit(0);
    }
    close(sv[1]);
    h->fd = sv[0];
    h->pid = pid;
    return h;
}

static int call(struct watch_nft_helper *h, uint32_t op, const struct watch_addr *a, int64_t t)
{
    struct req r;
    memset(&r, 0, sizeof r);
    r.magic = MSG_MAGIC;
    r.op = op;
    r.addr = *a;
    r.timeout_s = t;
    if (!req_valid(&r))
        return -1;
    if (send(h->fd, &r, sizeof r, MSG_NOSIGNAL) != (ssize_t)sizeof r)
        return -1;
    struct rep p;
    ssize_t n;
    do
        n = recv(h->fd, &p, sizeof p, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof p || p.magic != MSG_MAGIC)
        return -1;
    return p.status;
}

int watch_nft_helper_ban(struct watch_nft_helper *h, const struct watch_addr *a, int64_t timeout_s)
{
    return call(h, OP_BAN, a, timeout_s);
}

int watch_nft_helper_unban(struct watch_nft_helper *h, const struct watch_addr *a)
{
    return call(h, OP_UNBAN, a, 0);
}

void watch_nft_helper_stop(struct watch_nft_helper *h)
{
    if (!h)
        return;
    close(h->fd);
    int st;
    while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
        ;
    free(h);
}

int watch_drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "no such user '%s'", user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "'%s' is root: nothing would be dropped", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    /* must not be able to get root back */
    if (setuid(0) == 0 || geteuid() == 0) {
        snprintf(err, errlen, "still able to regain root after dropping to %s", user);
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}
