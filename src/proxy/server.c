/* The proxy's main thread: binds the listeners, drops privileges, starts
 * the workers and handles signals. SIGHUP reloads as a transaction: the
 * whole new generation (config, rule program, logs, certificates) is built
 * aside and only published when every part of it loaded; SIGTERM/SIGINT
 * drain (stop accepting, finish in-flight requests, exit). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "proxy/proxy_int.h"
#include "waf/waf.h"

static atomic_ulong gen_ids;

void proxy_gen_ref(struct proxy_gen *g) { atomic_fetch_add(&g->refs, 1); }

static void gen_free(struct proxy_gen *g)
{
    if (g->prog)
        waf_program_free(g->prog);
    proxy_log_unref(g->events);
    proxy_log_unref(g->access);
    proxy_tls_free(g->tls);
    proxy_shield_unref(g->shield);
    proxy_config_free(&g->cfg);
    free(g);
}

void proxy_gen_unref(struct proxy_gen *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        gen_free(g);
}

struct proxy_gen *proxy_shared_acquire(struct proxy_shared *s)
{
    pthread_mutex_lock(s->mu);
    struct proxy_gen *g = atomic_load(&s->cur);
    if (g)
        proxy_gen_ref(g);
    pthread_mutex_unlock(s->mu);
    return g;
}

static void mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0750);
            *p = '/';
        }
    mkdir(tmp, 0750);
}

static void parent_dir(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else
        snprintf(out, n, "%.*s", (int)(slash > path ? slash - path : 1), path);
}

static struct proxy_log *open_log(const char *path, size_t rot, size_t max,
                                  struct proxy_log *reuse, char *err, size_t errlen)
{
    if (!path || !strcmp(path, "off"))
        return NULL;
    if (reuse && proxy_log_same(reuse, path, rot, max)) {
        proxy_log_ref(reuse);
        return reuse;
    }
    char dir[4096];
    parent_dir(path, dir, sizeof dir);
    mkdir_p(dir);
    return proxy_log_open(path, rot, max, err, errlen);
}

/* Builds a generation from cfg (consumed). prev lends its open logs. */
static struct proxy_gen *gen_build(struct proxy_config *cfg, const struct proxy_run_opts *o,
                                   const struct proxy_gen *prev, char *err, size_t errlen)
{
    struct proxy_gen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        proxy_config_free(cfg);
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    g->id = atomic_fetch_add(&gen_ids, 1) + 1;
    mkdir_p(g->cfg.state_dir);
    g->prog = o->load_rules(&g->cfg, err, errlen);
    if (!g->prog)
        goto fail;
    bool want_events = g->cfg.event_log && strcmp(g->cfg.event_log, "off");
    if (want_events) {
        g->events = open_log(g->cfg.event_log, g->cfg.event_log_rotate_bytes,
                             g->cfg.event_log_max_bytes, prev ? prev->events : NULL, err, errlen);
        if (!g->events)
            goto fail;
    }
    if (g->cfg.access_log && strcmp(g->cfg.access_log, "off")) {
        g->access = open_log(g->cfg.access_log, g->cfg.event_log_rotate_bytes,
                             g->cfg.event_log_max_bytes, prev ? prev->access : NULL, err, errlen);
        if (!g->access)
            goto fail;
    }
    if (g->cfg.ncerts) {
        g->tls = proxy_tls_new(&g->cfg, err, errlen);
        if (!g->tls)
            goto fail;
    }
    if (proxy_shield_wanted(&g->cfg)) {
        g->shield = proxy_shield_build(&g->cfg, prev ? prev->shield : NULL, err, errlen);
        if (!g->shield)
            goto fail;
        char d[512];
        proxy_shield_describe(g->shield, d, sizeof d);
        fprintf(stderr, "mamori: %s\n", d);
    }
    return g;
fail:
    gen_free(g);
    return NULL;
}

static int bind_one(const struct proxy_listen *l, char *err, size_t errlen)
{
    int fd = socket(l->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (l->addr.ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&l->addr.ss, l->addr.len) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "listen %s: %s", l->addr.text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int chown_path(const char *p, uid_t uid, gid_t gid)
{
    if (!p || !strcmp(p, "off"))
        return 0;
    if (chown(p, uid, gid) < 0 && errno != ENOENT) {
        fprintf(stderr, "mamori: chown %s: %s\n", p, strerror(errno));
        return -1;
    }
    return 0;
}

/* As root: give the state folder and logs to the user, then become it and
 * prove there is no way back. */
static int drop_privileges(const struct proxy_gen *g)
{
    const struct proxy_config *cfg = &g->cfg;
    if (geteuid() != 0)
        return 0;
    if (!cfg->user) {
        if (cfg->allow_root) {
            fprintf(stderr, "mamori: warning: serving as root (--allow-root); use --user NAME\n");
            return 0;
        }
        fprintf(stderr, "mamori: refusing to serve as root: pass --user NAME to drop to an "
                        "unprivileged user after binding (or --allow-root to insist)\n");
        return -1;
    }
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw) {
        fprintf(stderr, "mamori: --user %s: no such user\n", cfg->user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        fprintf(stderr, "mamori: --user %s is root; pick an unprivileged user\n", cfg->user);
        return -1;
    }
    char dir[4096];
    if (chown_path(cfg->state_dir, pw->pw_uid, pw->pw_gid) < 0)
        return -1;
    if (g->events) {
        parent_dir(proxy_log_path(g->events), dir, sizeof dir);
        if (chown_path(dir, pw->pw_uid, pw->pw_gid) < 0 ||
            chown_path(proxy_log_path(g->events), pw->pw_uid, pw->pw_gid) < 0)
            return -1;
    }
    if (g->access) {
        parent_dir(proxy_log_path(g->access), dir, sizeof dir);
        if (chown_path(dir, pw->pw_uid, pw->pw_gid) < 0 ||
            chown_path(proxy_log_path(g->access), pw->pw_uid, pw->pw_gid) < 0)
            return -1;
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "mamori: dropping privileges to %s failed: %s\n", cfg->user,
                strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0 || getuid() == 0) {
        fprintf(stderr, "mamori: still root after dropping privileges: refusing to serve\n");
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    fprintf(stderr, "mamori: serving as %s (uid %u, gid %u)\n", cfg->user, (unsigned)pw->pw_uid,
            (unsigned)pw->pw_gid);
    return 0;
}

static struct proxy_config *fresh_config(const char *source, const struct proxy_run_opts *o,
                                         char *err, size_t errlen)
{
    struct proxy_config *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    proxy_config_init(c);
    if (source) {
        int problems = proxy_config_load(c, source);
        if (problems) {
            snprintf(err, errlen, "%s: %d problem%s (see above)", source, problems,
                     problems == 1 ? "" : "s");
            goto fail;
        }
    }
    if (o->overlay && o->overlay(c, o->overlay_ud) < 0) {
        snprintf(err, errlen, "command-line options are invalid");
        goto fail;
    }
    if (proxy_config_finish(c, err, errlen) < 0)
        goto fail;
    return c;
fail:
    proxy_config_free(c);
    free(c);
    return NULL;
}

static void publish(struct proxy_shared *sh, struct proxy_gen *g)
{
    proxy_shield_activate(g->shield); /* shared tables: the new lists go live now */
    pthread_mutex_lock(sh->mu);
    struct proxy_gen *old = atomic_exchange(&sh->cur, g);
    pthread_mutex_unlock(sh->mu);
    atomic_fetch_add(&sh->gen_seq, 1);
    if (old)
        proxy_gen_unref(old);
}

static void reload(struct proxy_shared *sh, const struct proxy_run_opts *o,
                   struct proxy_worker **ws, int nw)
{
    char err[1024] = "";
    struct proxy_gen *cur = proxy_shared_acquire(sh);
    struct proxy_config *c = fresh_config(cur->cfg.source, o, err, sizeof err);
    struct proxy_gen *g = NULL;
    if (c) {
        /* listeners and the user are fixed for the process's life */
        if (c->nlisten != cur->cfg.nlisten ||
            memcmp(c->listen, cur->cfg.listen, sizeof(c->listen[0]) * c->nlisten))
            fprintf(stderr, "mamori: reload: listener changes need a restart; keeping %s\n",
                    cur->cfg.listen[0].addr.text);
        g = gen_build(c, o, cur, err, sizeof err);
        free(c);
    }
    if (!g) {
        fprintf(stderr, "mamori: reload failed, keeping generation %lu: %s\n", cur->id, err);
        proxy_gen_unref(cur);
        return;
    }
    fprintf(stderr, "mamori: reloaded: generation %lu active (%zu rules)\n", g->id,
            waf_program_rule_count(g->prog));
    proxy_gen_unref(cur);
    publish(sh, g);
    for (int i = 0; i < nw; i++)
        proxy_worker_wake(ws[i]);
}

int proxy_serve(struct proxy_config *cfg, const struct proxy_run_opts *o)
{
    char err[1024] = "";
    int rc = 1;
    int nw = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nw < 1)
        nw = 1;
    if (nw > 256)
        nw = 256;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct proxy_shared sh = {.mu = &mu, .nworkers = nw};
    atomic_init(&sh.gen_seq, 1);
    atomic_init(&sh.stop, false);
    atomic_init(&sh.cur, NULL);
    atomic_init(&sh.conns_total, 0);
    struct proxy_worker **ws = calloc((size_t)nw, sizeof(*ws));
    pthread_t *th = calloc((size_t)nw, sizeof(*th));
    int *fds = NULL;
    size_t nl = cfg->nlisten, nfds = 0;
    int started = 0;

    /* Every request builds and drops a transaction arena; without this glibc
     * hands that memory back to the kernel and asks for it again each time
     * (madvise + page faults per request). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct proxy_gen *g = gen_build(cfg, o, NULL, err, sizeof err);
    if (!g) {
        fprintf(stderr, "mamori: %s\n", err);
        goto out;
    }
    publish(&sh, g);
    fds = calloc((size_t)nw * nl, sizeof(*fds));
    if (!ws || !th || !fds)
        goto out;
    bool ltls[PROXY_MAX_LISTEN];
    for (size_t i = 0; i < nl; i++)
        ltls[i] = g->cfg.listen[i].tls;
    for (int w = 0; w < nw; w++)
        for (size_t i = 0; i < nl; i++) {
            int fd = bind_one(&g->cfg.listen[i], err, sizeof err);
            if (fd < 0) {
                fprintf(stderr, "mamori: %s\n", err);
                goto out;
            }
            fds[nfds++] = fd;
        }
    if (drop_privileges(g) < 0)
        goto out;
    for (int w = 0; w < nw; w++) {
        ws[w] = proxy_worker_new(&sh, w, fds + (size_t)w * nl, ltls, nl);
        if (!ws[w]) {
            fprintf(stderr, "mamori: cannot create worker %d: %s\n", w, strerror(errno));
            goto out;
        }
        for (size_t i = 0; i < nl; i++)
            fds[(size_t)w * nl + i] = -1; /* the worker owns them now */
    }
    for (int w = 0; w < nw; w++) {
        if (pthread_create(&th[w], NULL, proxy_worker_main, ws[w]) != 0) {
            fprintf(stderr, "mamori: cannot start worker %d\n", w);
            atomic_store(&sh.stop, true);
            break;
        }
        started++;
    }
    for (size_t i = 0; i < nl; i++)
        fprintf(stderr, "mamori: listening on %s%s -> upstream %s (%zu rules%s, %d worker%s)\n",
                g->cfg.listen[i].addr.text, g->cfg.listen[i].tls ? " (tls)" : "",
                g->cfg.upstream.text, waf_program_rule_count(g->prog),
                g->cfg.detection_only ? ", detection only" : "", nw, nw == 1 ? "" : "s");
    if (g->events)
        fprintf(stderr, "mamori: events to %s\n", proxy_log_path(g->events));
    while (!atomic_load(&sh.stop)) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(&sh, o, ws, started);
        } else {
            fprintf(stderr, "mamori: %s: draining connections\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
            atomic_store(&sh.stop, true);
        }
    }
    rc = 0;
out:
    atomic_store(&sh.stop, true);
    for (int w = 0; w < started; w++)
        proxy_worker_wake(ws[w]);
    for (int w = 0; w < started; w++)
        pthread_join(th[w], NULL);
    if (ws)
        for (int w = 0; w < nw; w++)
            proxy_worker_free(ws[w]);
    if (fds)
        for (size_t i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    free(fds);
    free(ws);
    free(th);
    struct proxy_gen *last = atomic_exchange(&sh.cur, NULL);
    if (last)
        proxy_gen_unref(last);
    if (rc == 0)
        fprintf(stderr, "mamori: stopped\n");
    return rc;
}
