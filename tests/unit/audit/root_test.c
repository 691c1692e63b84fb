/* Unit tests for src/audit/root.c (root-safe resolution, both the openat2
 * path and the portable resolver) and src/audit/ssh.c's sshd_config model. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "../t.h"

static char tdir[256];

static void put(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tdir, rel);
    /* mkdir -p of the parent */
    for (char *s = p + strlen(tdir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static void link_(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tdir, rel);
    if (symlink(target, p) != 0)
        perror(p);
}

/* Layout: DIR/root is the audit root; DIR/secret is outside it. */
static int make_tree(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/mamori-root-test.XXXXXX");
    if (!mkdtemp(tdir))
        return -1;
    put("secret", "OUTSIDE\n");
    put("root/etc/b", "inside b\n");
    put("root/sub/file", "sub file\n");
    put("root/secret", "inside secret\n");
    link_("/etc/b", "root/etc/abs");                   /* absolute: re-rooted */
    link_("../../../../../secret", "root/etc/up");     /* climbs: clamped at root */
    link_("/sub", "root/dirlink");                     /* directory link */
    link_("loop2", "root/loop1");
    link_("loop1", "root/loop2");
    char prev[32] = "etc/b", name[32];
    for (int i = 0; i < 50; i++) { /* a chain longer than the hop limit */
        snprintf(name, sizeof name, "root/chain%d", i);
        char tgt[40];
        snprintf(tgt, sizeof tgt, "/%s", prev);
        link_(tgt, name);
        snprintf(prev, sizeof prev, "chain%d", i);
    }
    link_("/etc/b", "root/c3");
    put("root/d/z.conf", "z");
    put("root/d/a.conf", "a");
    put("root/d/m.txt", "m");
    put("root/d/.hidden.conf", "h");
    put("root/g/one/x.conf", "1");
    put("root/g/two/x.conf", "2");
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/root/fifo", tdir);
    mkfifo(fifo, 0644);
    put("root/big", "0123456789abcdef");
    return 0;
}

static void rm_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", tdir);
}

static int collect(struct audit_ctx *c, const char *path, void *arg)
{
    struct buf *b = arg;
    buf_printf(b, "%s;", path);
    return 0;
}

static void resolve_cases(struct t_ctx *t, bool portable)
{
    char root[300];
    snprintf(root, sizeof root, "%s/root", tdir);
    struct audit_ctx c;
    CHECK_INT(audit_ctx_init(&c, root), 0);
    c.no_openat2 = portable;
    size_t n;
    char *d = audit_read(&c, "/etc/abs", 1024, &n, NULL);
    CHECK_STR(d, "inside b\n");
    free(d);
    d = audit_read(&c, "/etc/up", 1024, &n, NULL);
    CHECK_STR(d, "inside secret\n"); /* never DIR/secret */
    free(d);
    d = audit_read(&c, "/../../secret", 1024, &n, NULL);
    CHECK_STR(d, "inside secret\n");
    free(d);
    d = audit_read(&c, "dirlink/file", 1024, &n, NULL);
    CHECK_STR(d, "sub file\n");
    free(d);
    d = audit_read(&c, "/sub/../etc/./b", 1024, &n, NULL);
    CHECK_STR(d, "inside b\n");
    free(d);
    errno = 0;
    CHECK(audit_read(&c, "/loop1", 1024, &n, NULL) == NULL);
    CHECK_INT(errno, ELOOP);
    CHECK(audit_read(&c, "/chain49", 1024, &n, NULL) == NULL);
    CHECK_INT(errno, ELOOP);
    d = audit_read(&c, "/chain30", 1024, &n, NULL); /* 31 hops: allowed */
    CHECK_STR(d, "inside b\n");
    free(d);
    CHECK(audit_read(&c, "/fifo", 1024, &n, NULL) == NULL); /* no blocking */
    CHECK(audit_read(&c, "/etc", 1024, &n, NULL) == NULL);
    CHECK_INT(errno, EISDIR);
    bool trunc = false;
    d = audit_read(&c, "/big", 4, &n, &trunc);
    CHECK_STR(d, "0123");
    CHECK(trunc);
    free(d);
    struct stat st;
    CHECK_INT(audit_stat(&c, "/etc/abs", &st, false), 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK_INT(audit_stat(&c, "/etc/abs", &st, true), 0);
    CHECK(S_ISREG(st.st_mode));
    char lt[64];
    CHECK_INT(audit_readlink(&c, "/etc/abs", lt, sizeof lt), 6);
    CHECK_STR(lt, "/etc/b");
    struct buf g;
    buf_init(&g, 4096);
    audit_glob(&c, "/d/*.conf", collect, &g);
    CHECK_STR(g.p, "/d/a.conf;/d/z.conf;");
    buf_clear(&g);
    audit_glob(&c, "/g/*/x.conf", collect, &g);
    CHECK_STR(g.p, "/g/one/x.conf;/g/two/x.conf;");
    buf_clear(&g);
    audit_glob(&c, "/d/m.txt", collect, &g);
    CHECK_STR(g.p, "/d/m.txt;");
    buf_clear(&g);
    audit_glob(&c, "/nope/*", collect, &g);
    CHECK(g.len == 0);
    buf_free(&g);
    audit_ctx_free(&c);
}

TEST(audit_root_resolution_openat2)
{
    if (make_tree() < 0) {
        CHECK(0);
        return;
    }
    resolve_cases(t, false);
    rm_tree();
}

TEST(audit_root_resolution_portable)
{
    if (make_tree() < 0) {
        CHECK(0);
        return;
    }
    resolve_cases(t, true);
    rm_tree();
}

TEST(audit_sshd_effective_config)
{
    if (make_tree() < 0) {
        CHECK(0);
        return;
    }
    put("root/etc/ssh/sshd_config",
        "# PermitRootLogin yes\n"
        "Include sshd_config.d/*.conf\n"   /* relative to /etc/ssh */
        "PasswordAuthentication yes\n"     /* too late: the include set it */
        "MaxAuthTries 9\n"
        "X11Forwarding=yes\n"
        "Include /etc/ssh/loop.conf\n"
        "Match Address 10.0.0.0/8\n"
        "  PermitRootLogin yes\n"
        "  AllowUsers nobody\n");
    put("root/etc/ssh/sshd_config.d/20-b.conf", "PermitRootLogin without-password\nMaxAuthTries 2\n");
    put("root/etc/ssh/sshd_config.d/10-a.conf", "passwordauthentication no\nPermitRootLogin yes\n");
    put("root/etc/ssh/sshd_config.d/30-match.conf", "Match User x\nKbdInteractiveAuthentication no\n");
    put("root/etc/ssh/sshd_config.d/README", "PermitEmptyPasswords yes\n");
    put("root/etc/ssh/loop.conf", "Include /etc/ssh/loop.conf\nChallengeResponseAuthentication no\n");
    char root[300];
    snprintf(root, sizeof root, "%s/root", tdir);
    struct audit_ctx c;
    CHECK_INT(audit_ctx_init(&c, root), 0);
    struct audit_sshd s;
    CHECK_INT(audit_sshd_load(&c, "/etc/ssh/sshd_config", &s), 0);
    CHECK_STR(s.permit_root_login, "yes");       /* 10-a.conf sorts first */
    CHECK(!s.password_auth);                     /* first value wins */
    CHECK_INT(s.max_auth_tries, 2);              /* from 20-b.conf */
    CHECK(s.x11_forwarding); /* "Keyword=value", after 30-match.conf: its Match ended with the file */
    CHECK(!s.kbd_interactive);                   /* ChallengeResponse alias in loop.conf */
    CHECK(!s.permit_empty);                      /* README is not *.conf */
    CHECK(!s.has_allow);                         /* AllowUsers only inside Match */
    CHECK(s.has_match);
    CHECK(strstr(s.where[0], "10-a.conf:2") != NULL);
    /* Defaults when nothing is set. */
    put("root/etc/ssh/empty_config", "\n");
    CHECK_INT(audit_sshd_load(&c, "/etc/ssh/empty_config", &s), 0);
    CHECK_STR(s.permit_root_login, "prohibit-password");
    CHECK(s.password_auth);
    CHECK(s.kbd_interactive);
    CHECK(!s.x11_forwarding);
    CHECK_INT(s.max_auth_tries, 6);
    CHECK(audit_sshd_load(&c, "/etc/ssh/missing", &s) < 0);
    audit_ctx_free(&c);
    rm_tree();
}
