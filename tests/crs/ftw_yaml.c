/* go-ftw YAML test files -> struct crs_suite.
 *
 * Reads each file with libyaml's document loader and walks the node tree.
 * Field semantics follow go-ftw's loader (Go yaml.v3 into the ftw-tests-schema
 * types): a scalar decoded into a Go string keeps its source text (so
 * `version: 1.1` is "1.1", `port: "80"` still a port), a plain null leaves
 * the field unset, duplicate mapping keys make the whole file fail, an absent
 * test_id becomes the test's position (1-based) and an absent rule_id the
 * first number in the file name. Unknown keys are ignored, as yaml.v3 does. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "core/arena.h"
#include "crs.h"

#define SUITE_ARENA_CAP ((size_t)1 << 30)
#define MAX_DATA_BYTES ((size_t)64 << 20)

struct loader {
    struct arena *a;
    yaml_document_t *doc;
    const char *fname;
    char *err;
    size_t errlen;
};

/* Growable array of pointers/items kept in malloc memory while loading. */
struct vec {
    void *p;
    size_t n, cap, size;
};

static int vec_push(struct vec *v, const void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / v->size)
            return -1;
        void *np = realloc(v->p, cap * v->size);
        if (!np)
            return -1;
        v->p = np;
        v->cap = cap;
    }
    memcpy((char *)v->p + v->n * v->size, item, v->size);
    v->n++;
    return 0;
}

static int fail(struct loader *L, const yaml_node_t *at, const char *what)
{
    snprintf(L->err, L->errlen, "%s:%lu: %s", L->fname,
             at ? (unsigned long)at->start_mark.line + 1 : 0ul, what);
    return -1;
}

static yaml_node_t *node(struct loader *L, int idx) { return yaml_document_get_node(L->doc, idx); }

static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static bool key_is(const yaml_node_t *k, const char *name)
{
    return k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(name) &&
           memcmp(k->data.scalar.value, name, k->data.scalar.length) == 0;
}

/* Source text of a scalar as a NUL-terminated arena string; NULL for null.
 * Sets *len when given. */
static int get_str(struct loader *L, const yaml_node_t *n, const char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (is_null(n))
        return 0;
    if (n->type != YAML_SCALAR_NODE)
        return fail(L, n, "expected a string");
    char *s = arena_memdup(L->a, n->data.scalar.value, n->data.scalar.length);
    if (!s)
        return fail(L, n, "out of memory");
    *out = s;
    if (len)
        *len = n->data.scalar.length;
    return 0;
}

static int get_uint(struct loader *L, const yaml_node_t *n, unsigned *out)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail(L, n, "expected a number");
    const char *s = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end || errno || v > UINT_MAX)
        return fail(L, n, "expected an unsigned number");
    *out = (unsigned)v;
    return 0;
}

static int get_int(struct loader *L, const yaml_node_t *n, int *out)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail(L, n, "expected a number");
    const char *s = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < INT_MIN || v > INT_MAX)
        return fail(L, n, "expected a number");
    *out = (int)v;
    return 0;
}

/* yaml.v3 accepts these spellings when the target is a bool. */
static int get_bool(struct loader *L, const yaml_node_t *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail(L, n, "expected true or false");
    const char *s = (const char *)n->data.scalar.value;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    return fail(L, n, "expected true or false");
}

/* A list of ids; a lone scalar counts as a one-element list. */
static int get_ids(struct loader *L, const yaml_node_t *n, unsigned **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (is_null(n))
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        unsigned *ids = arena_alloc(L->a, sizeof *ids);
        if (!ids)
            return fail(L, n, "out of memory");
        if (get_uint(L, n, &ids[0]) < 0)
            return -1;
        *out = ids;
        *count = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(L, n, "expected a list of rule ids");
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    unsigned *ids = arena_calloc(L->a, k ? k : 1, sizeof *ids);
    if (!ids)
        return fail(L, n, "out of memory");
    for (size_t i = 0; i < k; i++)
        if (get_uint(L, node(L, n->data.sequence.items.start[i]), &ids[i]) < 0)
            return -1;
    *out = ids;
    *count = k;
    return 0;
}

/* yaml.v3 refuses a mapping that defines a key twice; so does go-ftw. */
static int check_dup_keys(struct loader *L, const yaml_node_t *m)
{
    yaml_node_pair_t *b = m->data.mapping.pairs.start, *e = m->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = b; p < e; p++) {
        const yaml_node_t *k1 = node(L, p->key);
        if (!k1 || k1->type != YAML_SCALAR_NODE)
            continue;
        for (yaml_node_pair_t *q = p + 1; q < e; q++) {
            const yaml_node_t *k2 = node(L, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE &&
                k1->data.scalar.length == k2->data.scalar.length &&
                memcmp(k1->data.scalar.value, k2->data.scalar.value, k1->data.scalar.length) == 0)
                return fail(L, k2, "mapping key defined twice");
        }
    }
    return 0;
}

static int expect_map(struct loader *L, const yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_MAPPING_NODE) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a mapping", what);
        return fail(L, n, msg);
    }
    return check_dup_keys(L, n);
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct crs_kv *)a)->name, ((const struct crs_kv *)b)->name);
}

static int load_headers(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    st->has_headers = true;
    if (is_null(n))
        return 0;
    if (expect_map(L, n, "headers") < 0)
        return -1;
    size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    struct crs_kv *h = arena_calloc(L->a, k ? k : 1, sizeof *h);
    if (!h)
        return fail(L, n, "out of memory");
    for (size_t i = 0; i < k; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const char *v;
        if (get_str(L, node(L, p->key), &h[i].name, NULL) < 0 ||
            get_str(L, node(L, p->value), &v, NULL) < 0)
            return -1;
        if (!h[i].name)
            h[i].name = "";
        h[i].value = v ? v : "";
    }
    /* go-ftw builds its header list from a Go map and sorts the names so the
     * wire order is deterministic; the order written in YAML is lost. */
    qsort(h, k, sizeof *h, kv_cmp);
    st->headers = h;
    st->nheaders = k;
    return 0;
}

static int load_data(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    const char *s;
    size_t len;
    if (get_str(L, n, &s, &len) < 0)
        return -1;
    if (!s)
        return 0;
    st->has_data = true;
    if (!memmem(s, len, "{{", 2)) {
        st->data = s;
        st->data_len = len;
        return 0;
    }
    struct buf b;
    buf_init(&b, MAX_DATA_BYTES);
    char terr[256];
    int rc = -1;
    if (crs_template_expand(s, len, &b, terr, sizeof terr) < 0) {
        fail(L, n, terr);
        goto out;
    }
    char *d = arena_memdup(L->a, b.p ? b.p : "", b.len);
    if (!d) {
        fail(L, n, "out of memory");
        goto out;
    }
    st->data = d;
    st->data_len = b.len;
    rc = 0;
out:
    buf_free(&b);
    return rc;
}

static int load_input(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    if (is_null(n))
        return 0;
    if (expect_map(L, n, "input") < 0)
        return -1;
    bool have_auto = false, have_stop = false, stop_magic = false;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        int rc = 0;
        if (key_is(k, "dest_addr"))
            rc = get_str(L, v, &st->dest_addr, NULL);
        else if (key_is(k, "port"))
            rc = is_null(v) ? 0 : get_int(L, v, &st->port);
        else if (key_is(k, "method"))
            rc = get_str(L, v, &st->method, NULL);
        else if (key_is(k, "uri"))
            rc = get_str(L, v, &st->uri, NULL);
        else if (key_is(k, "version"))
            rc = get_str(L, v, &st->version, NULL);
        else if (key_is(k, "headers"))
            rc = load_headers(L, v, st);
        else if (key_is(k, "data"))
            rc = load_data(L, v, st);
        else if (key_is(k, "encoded_request") || key_is(k, "raw_request"))
            rc = get_str(L, v, &st->encoded_request, NULL);
        else if (key_is(k, "autocomplete_headers")) {
            if (!is_null(v)) {
                have_auto = true;
                rc = get_bool(L, v, &st->autocomplete);
            }
        } else if (key_is(k, "stop_magic")) {
            if (!is_null(v)) {
                have_stop = true;
                rc = get_bool(L, v, &stop_magic);
            }
        } else if (key_is(k, "encoded_data") || key_is(k, "uris") ||
                   key_is(k, "follow_redirect") || key_is(k, "save_cookie") ||
                   key_is(k, "response") || key_is(k, "protocol")) {
            /* Not used by the CRS suite; refusing beats sending a request
             * that differs from go-ftw's without saying so. */
            if (!is_null(v))
                rc = fail(L, k, "input field not supported by this runner");
        }
        if (rc < 0)
            return -1;
    }
    /* autocomplete_headers wins; the older stop_magic is its inverse. */
    if (!have_auto)
        st->autocomplete = have_stop ? !stop_magic : true;
    return 0;
}

static int load_log(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    if (is_null(n))
        return 0;
    if (expect_map(L, n, "log") < 0)
        return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        int rc = 0;
        if (key_is(k, "expect_ids"))
            rc = get_ids(L, v, &st->expect_ids, &st->n_expect_ids);
        else if (key_is(k, "no_expect_ids"))
            rc = get_ids(L, v, &st->no_expect_ids, &st->n_no_expect_ids);
        else if (key_is(k, "match_regex"))
            rc = get_str(L, v, &st->match_regex, NULL);
        else if (key_is(k, "no_match_regex"))
            rc = get_str(L, v, &st->no_match_regex, NULL);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int load_output(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    if (is_null(n))
        return 0;
    if (expect_map(L, n, "output") < 0)
        return -1;
    const char *log_contains = NULL, *no_log_contains = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        int rc = 0;
        if (key_is(k, "status")) {
            if (is_null(v))
                continue;
            /* Older files list several acceptable codes; the first is enough
             * to mark the stage as having a status expectation. */
            if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top > v->data.sequence.items.start)
                v = node(L, v->data.sequence.items.start[0]);
            st->has_status = true;
            rc = get_int(L, v, &st->status);
        } else if (key_is(k, "log"))
            rc = load_log(L, v, st);
        else if (key_is(k, "log_contains"))
            rc = get_str(L, v, &log_contains, NULL);
        else if (key_is(k, "no_log_contains"))
            rc = get_str(L, v, &no_log_contains, NULL);
        else if (key_is(k, "response_contains"))
            rc = get_str(L, v, &st->response_contains, NULL);
        else if (key_is(k, "expect_error"))
            rc = is_null(v) ? 0 : get_bool(L, v, &st->expect_error);
        else if (key_is(k, "isolated"))
            rc = is_null(v) ? 0 : get_bool(L, v, &st->isolated);
        if (rc < 0)
            return -1;
    }
    /* go-ftw: the old spellings fill the regexes only when the log section
     * does not already say something of the same kind. */
    if (log_contains && *log_contains && !st->expect_ids && !st->match_regex)
        st->match_regex = log_contains;
    if (no_log_contains && *no_log_contains && !st->no_expect_ids && !st->no_match_regex)
        st->no_match_regex = no_log_contains;
    return 0;
}

static int load_stage(struct loader *L, const yaml_node_t *n, struct crs_stage *st)
{
    memset(st, 0, sizeof *st);
    st->autocomplete = true;
    if (expect_map(L, n, "stage") < 0)
        return -1;
    const yaml_node_t *in = NULL, *outn = NULL, *legacy = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (key_is(k, "input"))
            in = v;
        else if (key_is(k, "output"))
            outn = v;
        else if (key_is(k, "stage"))
            legacy = v;
    }
    /* Schema v1 wrapped input/output in a "stage:" mapping. */
    if (legacy && !in && !outn && legacy->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = legacy->data.mapping.pairs.start; p < legacy->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            if (key_is(k, "input"))
                in = v;
            else if (key_is(k, "output"))
                outn = v;
        }
    }
    if (load_input(L, in, st) < 0 || load_output(L, outn, st) < 0)
        return -1;
    if (st->has_data && st->encoded_request && *st->encoded_request && st->data_len)
        return fail(L, n, "'data' and 'encoded_request' must not be set simultaneously");
    return 0;
}

static int load_test(struct loader *L, const yaml_node_t *n, unsigned rule_id, unsigned pos,
                     struct crs_test *t)
{
    memset(t, 0, sizeof *t);
    t->rule_id = rule_id;
    t->test_id = pos;
    if (expect_map(L, n, "test") < 0)
        return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (key_is(k, "test_id")) {
            unsigned id = 0;
            if (!is_null(v) && get_uint(L, v, &id) < 0)
                return -1;
            if (id)
                t->test_id = id;
        } else if (key_is(k, "desc") || key_is(k, "test_title")) {
            if (!t->desc && get_str(L, v, &t->desc, NULL) < 0)
                return -1;
        } else if (key_is(k, "stages")) {
            if (is_null(v))
                continue;
            if (v->type != YAML_SEQUENCE_NODE)
                return fail(L, v, "stages must be a list");
            size_t k2 = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            t->stages = arena_calloc(L->a, k2 ? k2 : 1, sizeof *t->stages);
            if (!t->stages)
                return fail(L, v, "out of memory");
            for (size_t i = 0; i < k2; i++)
                if (load_stage(L, node(L, v->data.sequence.items.start[i]), &t->stages[i]) < 0)
                    return -1;
            t->nstages = k2;
        }
    }
    return 0;
}

static unsigned rule_id_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    while (*base && (*base < '0' || *base > '9'))
        base++;
    unsigned long v = strtoul(base, NULL, 10);
    return v > UINT_MAX ? 0 : (unsigned)v;
}

static int load_file(struct crs_suite *s, struct vec *tests, const char *path, const char *name,
                     char *err, size_t errlen)
{
    struct loader L = {.a = s->arena, .fname = name, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false;
    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", path);
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu: %s", name, (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error");
        goto out;
    }
    doc_ok = true;
    L.doc = &doc;

    struct crs_file cf = {.first_test = tests->n};
    cf.path = arena_memdup(s->arena, path, strlen(path));
    cf.name = arena_memdup(s->arena, name, strlen(name));
    if (!cf.path || !cf.name) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto out;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const yaml_node_t *list = NULL;
    if (root) { /* a file of comments only is an empty document */
        if (expect_map(&L, root, "the document") < 0)
            goto out;
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = node(&L, p->key), *v = node(&L, p->value);
            if (key_is(k, "rule_id")) {
                if (!is_null(v) && get_uint(&L, v, &cf.rule_id) < 0)
                    goto out;
            } else if (key_is(k, "tests"))
                list = v;
        }
    }
    if (!cf.rule_id)
        cf.rule_id = rule_id_from_name(name);
    if (list && !is_null(list)) {
        if (list->type != YAML_SEQUENCE_NODE) {
            fail(&L, list, "tests must be a list");
            goto out;
        }
        size_t k = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        for (size_t i = 0; i < k; i++) {
            struct crs_test t;
            if (load_test(&L, node(&L, list->data.sequence.items.start[i]), cf.rule_id,
                          (unsigned)(i + 1), &t) < 0)
                goto out;
            t.file = s->nfiles;
            if (vec_push(tests, &t) < 0) {
                snprintf(err, errlen, "%s: out of memory", name);
                goto out;
            }
            s->nstages += t.nstages;
        }
    }
    cf.ntests = tests->n - cf.first_test;
    /* files is sized by the caller to the number of paths found. */
    s->files[s->nfiles++] = cf;
    rc = 0;
out:
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static bool has_yaml_ext(const char *n)
{
    size_t l = strlen(n);
    return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects relative paths of YAML files below root/rel into out (malloc'd). */
static int collect(const char *root, const char *rel, struct vec *out, int depth)
{
    char dir[PATH_MAX];
    int n = rel[0] ? snprintf(dir, sizeof dir, "%s/%s", root, rel) : snprintf(dir, sizeof dir, "%s", root);
    if (n < 0 || (size_t)n >= sizeof dir || depth > 8)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        n = rel[0] ? snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name) : snprintf(sub, sizeof sub, "%s", e->d_name);
        if (n < 0 || (size_t)n >= sizeof sub) {
            rc = -1;
            break;
        }
        char full[PATH_MAX];
        n = snprintf(full, sizeof full, "%s/%s", root, sub);
        if (n < 0 || (size_t)n >= sizeof full) {
            rc = -1;
            break;
        }
        struct stat sb; /* d_type may be DT_UNKNOWN on some file systems */
        if (stat(full, &sb) < 0) {
            rc = -1;
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (collect(root, sub, out, depth + 1) < 0) {
                rc = -1;
                break;
            }
        } else if (has_yaml_ext(e->d_name)) {
            char *copy = strdup(sub);
            if (!copy || vec_push(out, &copy) < 0) {
                free(copy);
                rc = -1;
                break;
            }
        }
    }
    closedir(d);
    return rc;
}

int crs_suite_load(struct crs_suite *s, const char *dir, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    struct vec paths = {.size = sizeof(char *)};
    struct vec tests = {.size = sizeof(struct crs_test)};
    int rc = -1;
    s->arena = arena_new(SUITE_ARENA_CAP);
    if (!s->arena) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (collect(dir, "", &paths, 0) < 0) {
        snprintf(err, errlen, "%s: cannot list test files: %s", dir, strerror(errno));
        goto out;
    }
    if (paths.n == 0) {
        snprintf(err, errlen, "%s: no *.yaml or *.yml test files", dir);
        goto out;
    }
    qsort(paths.p, paths.n, sizeof(char *), str_ptr_cmp);
    s->files = arena_calloc(s->arena, paths.n, sizeof *s->files);
    if (!s->files) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < paths.n; i++) {
        const char *rel = ((char **)paths.p)[i];
        char full[PATH_MAX];
        int n = snprintf(full, sizeof full, "%s/%s", dir, rel);
        if (n < 0 || (size_t)n >= sizeof full) {
            snprintf(err, errlen, "%s: path too long", rel);
            goto out;
        }
        if (load_file(s, &tests, full, rel, err, errlen) < 0)
            goto out;
    }
    if (tests.n) {
        s->tests = arena_calloc(s->arena, tests.n, sizeof *s->tests);
        if (!s->tests) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(s->tests, tests.p, tests.n * sizeof *s->tests);
    }
    s->ntests = tests.n;
    rc = 0;
out:
    for (size_t i = 0; i < paths.n; i++)
        free(((char **)paths.p)[i]);
    free(paths.p);
    free(tests.p);
    if (rc < 0)
        crs_suite_free(s);
    return rc;
}

void crs_suite_free(struct crs_suite *s)
{
    if (s->arena)
        arena_free(s->arena);
    memset(s, 0, sizeof *s);
}

/* ---- go-ftw's data templates ---------------------------------------------
 * go-ftw runs `data` through Go's text/template with the sprig functions.
 * The suite only uses `repeat`, in both call and pipeline form; anything else
 * is refused so a new construct shows up as a load error, not a wrong body. */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Parses a Go interpreted string literal ("...") at p. */
static const char *parse_go_string(const char *p, const char *e, struct buf *lit)
{
    if (p >= e || *p != '"')
        return NULL;
    p++;
    while (p < e && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            if (p >= e)
                return NULL;
            char x = *p++;
            switch (x) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            default: return NULL;
            }
        }
        if (buf_putc(lit, c) < 0)
            return NULL;
    }
    return p < e ? p + 1 : NULL;
}

static const char *parse_count(const char *p, const char *e, unsigned long *n)
{
    if (p >= e || *p < '0' || *p > '9')
        return NULL;
    unsigned long v = 0;
    while (p < e && *p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > MAX_DATA_BYTES)
            return NULL;
        p++;
    }
    *n = v;
    return p;
}

static int expand_action(const char *p, const char *e, struct buf *out)
{
    struct buf lit;
    buf_init(&lit, MAX_DATA_BYTES);
    unsigned long count = 0;
    int rc = -1;
    p = skip_ws(p, e);
    if (p < e && *p == '"') { /* "str" | repeat N */
        p = parse_go_string(p, e, &lit);
        if (!p)
            goto out;
        p = skip_ws(p, e);
        if (p >= e || *p != '|')
            goto out;
        p = skip_ws(p + 1, e);
        if ((size_t)(e - p) < 6 || memcmp(p, "repeat", 6) != 0)
            goto out;
        p = parse_count(skip_ws(p + 6, e), e, &count);
        if (!p)
            goto out;
    } else if ((size_t)(e - p) >= 6 && memcmp(p, "repeat", 6) == 0) { /* repeat N "str" */
        p = parse_count(skip_ws(p + 6, e), e, &count);
        if (!p)
            goto out;
        p = parse_go_string(skip_ws(p, e), e, &lit);
        if (!p)
            goto out;
    } else {
        goto out;
    }
    if (skip_ws(p, e) != e)
        goto out;
    for (unsigned long i = 0; i < count; i++)
        if (lit.len && buf_append(out, lit.p, lit.len) < 0)
            goto out;
    rc = 0;
out:
    buf_free(&lit);
    return rc;
}

int crs_template_expand(const char *in, size_t n, struct buf *out, char *err, size_t errlen)
{
    const char *p = in, *e = in + n;
    while (p < e) {
        const char *open = memmem(p, (size_t)(e - p), "{{", 2);
        if (!open)
            return buf_append(out, p, (size_t)(e - p)) < 0 ? (snprintf(err, errlen, "data too large"), -1) : 0;
        if (buf_append(out, p, (size_t)(open - p)) < 0) {
            snprintf(err, errlen, "data too large");
            return -1;
        }
        const char *close = memmem(open + 2, (size_t)(e - open - 2), "}}", 2);
        if (!close) {
            snprintf(err, errlen, "unclosed template action in data");
            return -1;
        }
        if (expand_action(open + 2, close, out) < 0) {
            snprintf(err, errlen, "template action not supported by this runner: %.*s",
                     (int)(close - open + 2 > 80 ? 80 : close - open + 2), open);
            return -1;
        }
        p = close + 2;
    }
    return 0;
}
