/* The audit context, the findings list and the facts interface. */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define FACTS_MAX (4u << 20)

int audit_ctx_init(struct audit_ctx *c, const char *root)
{
    memset(c, 0, sizeof *c);
    c->rootfd = -1;
    if (!root || !*root)
        root = "/";
    size_t n = strlen(root);
    if (n >= sizeof c->root)
        return -ENAMETOOLONG;
    memcpy(c->root, root, n + 1);
    c->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0)
        return -errno;
    struct stat a, b;
    c->live = stat("/", &a) == 0 && fstat(c->rootfd, &b) == 0 && a.st_dev == b.st_dev &&
              a.st_ino == b.st_ino;
    c->now = time(NULL);
    return 0;
}

void audit_ctx_free(struct audit_ctx *c)
{
    for (size_t i = 0; i < c->nf; i++) {
        free(c->f[i].id);
        free(c->f[i].title);
        free(c->f[i].evidence);
        free(c->f[i].fix);
    }
    free(c->f);
    for (size_t i = 0; i < c->nwebroots; i++)
        free(c->webroots[i]);
    for (size_t i = 0; i < c->ncerts; i++) {
        free(c->certs[i]);
        free(c->cert_names[i]);
    }
    for (size_t i = 0; i < c->npkgs; i++)
        free(c->pkg_names[i]);
    free(c->pkg_names);
    free(c->guesses);
    if (c->facts)
        yajl_tree_free((yajl_val)c->facts);
    if (c->rootfd >= 0)
        close(c->rootfd);
    memset(c, 0, sizeof *c);
    c->rootfd = -1;
}

static const char *sev_names[] = {"info", "low", "medium", "high", "critical"};

const char *audit_sev_name(enum audit_sev s)
{
    return (unsigned)s < 5 ? sev_names[s] : "info";
}

int audit_sev_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, sev_names[i]))
            return i;
    if (!strcasecmp(s, "none"))
        return 5;
    return -1;
}

/* Evidence comes from hostile files: keep it printable and short. */
static char *clean_evidence(const char *s)
{
    size_t n = strlen(s);
    if (n > 512)
        n = 512;
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        o[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    o[n] = '\0';
    return o;
}

int audit_add(struct audit_ctx *c, const char *id, enum audit_sev sev, const char *title,
              const char *fix, const char *evfmt, ...)
{
    if (c->nf >= AUDIT_MAX_FINDINGS)
        return -1;
    if (c->nf == c->capf) {
        size_t ncap = c->capf ? c->capf * 2 : 64;
        struct audit_finding *nf = realloc(c->f, ncap * sizeof *nf);
        if (!nf)
            return -1;
        c->f = nf;
        c->capf = ncap;
    }
    char ev[1024];
    va_list ap;
    va_start(ap, evfmt);
    vsnprintf(ev, sizeof ev, evfmt, ap);
    va_end(ap);
    struct audit_finding *f = &c->f[c->nf];
    f->id = strdup(id);
    f->title = strdup(title);
    f->fix = strdup(fix);
    f->evidence = clean_evidence(ev);
    f->sev = sev;
    if (!f->id || !f->title || !f->fix || !f->evidence) {
        free(f->id);
        free(f->title);
        free(f->fix);
        free(f->evidence);
        return -1;
    }
    c->nf++;
    return 0;
}

static int cmp_finding(const void *a, const void *b)
{
    const struct audit_finding *x = a, *y = b;
    if (x->sev != y->sev)
        return (int)y->sev - (int)x->sev;
    int r = strcmp(x->id, y->id);
    return r ? r : strcmp(x->evidence, y->evidence);
}

void audit_sort(struct audit_ctx *c)
{
    if (c->nf)
        qsort(c->f, c->nf, sizeof *c->f, cmp_finding);
}

enum audit_sev audit_worst(const struct audit_ctx *c)
{
    enum audit_sev w = AUDIT_INFO;
    for (size_t i = 0; i < c->nf; i++)
        if (c->f[i].sev > w)
            w = c->f[i].sev;
    return w;
}

static void load_facts(struct audit_ctx *c)
{
    if (c->facts_loaded)
        return;
    c->facts_loaded = true;
    char *data = NULL;
    size_t n;
    if (c->facts_path) {
        /* Given on the command line: a file of the auditing host. */
        int fd = open(c->facts_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            fprintf(stderr, "mamori audit: --facts %s: %s\n", c->facts_path, strerror(errno));
            return;
        }
        data = malloc(FACTS_MAX + 1);
        n = 0;
        if (data) {
            ssize_t r;
            while (n < FACTS_MAX && (r = read(fd, data + n, FACTS_MAX - n)) > 0)
                n += (size_t)r;
            data[n] = '\0';
        }
        close(fd);
    } else {
        data = audit_read(c, "/.mamori-facts/facts.json", FACTS_MAX, &n, NULL);
    }
    if (!data)
        return;
    char err[256];
    yajl_val v = yajl_tree_parse(data, err, sizeof err);
    if (!v)
        fprintf(stderr, "mamori audit: facts: %s\n", err);
    c->facts = v;
    free(data);
}

void *audit_fact(struct audit_ctx *c, const char *path)
{
    load_facts(c);
    if (!c->facts)
        return NULL;
    const char *parts[8];
    char tmp[256];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return NULL;
    memcpy(tmp, path, n + 1);
    size_t np = 0;
    for (char *s = strtok(tmp, "."); s && np < 7; s = strtok(NULL, "."))
        parts[np++] = s;
    parts[np] = NULL;
    return yajl_tree_get((yajl_val)c->facts, parts, yajl_t_any);
}

int audit_fact_bool(struct audit_ctx *c, const char *path, bool *out)
{
    yajl_val v = audit_fact(c, path);
    if (!v)
        return -1;
    if (YAJL_IS_TRUE(v))
        *out = true;
    else if (YAJL_IS_FALSE(v))
        *out = false;
    else if (YAJL_IS_NUMBER(v))
        *out = YAJL_GET_DOUBLE(v) != 0;
    else
        return -1;
    return 0;
}

void audit_run(struct audit_ctx *c)
{
    audit_check_pkg(c);
    audit_check_accounts(c);
    audit_check_ssh(c);
    audit_check_web(c);  /* fills web roots and certificate paths */
    audit_accounts_guess(c); /* after web: it queues .htpasswd files */
    audit_check_certs(c);
    audit_check_net(c);  /* after web/pkg: reads the roles they saw */
    audit_check_disk(c);
    audit_check_resilience(c);
    audit_sort(c);
}

int audit_split_words(char *s, char **w, int max, char key_sep)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t' || (key_sep && n == 1 && *s == key_sep))
            s++;
        if (!*s)
            break;
        if (*s == '"') {
            w[n++] = ++s;
            while (*s && *s != '"')
                s++;
        } else {
            w[n++] = s;
            while (*s && *s != ' ' && *s != '\t' && !(key_sep && n == 1 && *s == key_sep))
                s++;
        }
        if (*s)
            *s++ = '\0';
    }
    return n;
}
