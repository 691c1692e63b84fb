/* JSON request bodies through yajl's callback parser (no tree is built), with
 * the argument names ModSecurity v3.0.9 gives:
 *
 *   {"a":{"b":1}}        json.a.b = 1
 *   {"a":[1,2]}          json.a.array_0 = 1, json.a.array_1 = 2
 *   [{"x":1}]            json.array_0.x = 1
 *   [[1]]                json.array_0.array_0 = 1
 *   "top"                json = top
 *   {"":1}               json.empty-key = 1
 *
 * Numbers keep their source text, booleans are "true"/"false", null is the
 * empty string, and empty arrays or objects produce nothing. yajl runs with
 * its defaults (UTF-8 validated, no comments, one value, no trailing
 * garbage), so its error texts are the ones v3 reports (after its
 * "JSON parsing error: " prefix, which the caller adds).
 *
 * Naming state: a stack of open containers, each remembering its name and
 * (for arrays) the index of the next element, and a path buffer holding
 * every open container's "name." or "name.array_N" piece. Only the top
 * container's piece changes while it is open, so the path is edited in
 * place at its end: O(1) per value apart from copying the key. */
#include "waf/body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/buf.h"

#define JSON_DEFAULT_DEPTH 10000 /* v3's default SecRequestBodyJsonDepthLimit */

struct jframe {
    size_t base;  /* path length before this container's piece */
    size_t nlen;  /* length of its name within the piece */
    size_t count; /* arrays: index of the next element */
    bool array;
};

struct jstate {
    const struct body_sink *sink;
    struct jframe *st;
    size_t depth, cap;
    unsigned limit;
    bool depth_exceeded;
    bool oom;
    int stop;          /* non-zero once the sink asked to stop */
    struct buf path;   /* pieces of every open container */
    struct buf key;    /* the last map key not yet used (v3's m_current_key) */
    bool key_set;
};

static bool top_is_array(const struct jstate *j) { return j->depth && j->st[j->depth - 1].array; }

/* v3's getCurrentKey(): the name the next value or container gets. Using
 * the pending key consumes it. */
static void current_key(struct jstate *j, const char **p, size_t *n)
{
    if (j->depth == 0) {
        *p = "json";
        *n = 4;
        return;
    }
    if (!j->key_set || j->key.len == 0) {
        if (top_is_array(j)) {
            *p = "";
            *n = 0;
        } else {
            *p = "empty-key";
            *n = 9;
        }
        return;
    }
    *p = j->key.p;
    *n = j->key.len;
    j->key_set = false; /* the bytes stay in key until the next map key */
}

/* Rewrites the top container's piece: name, then "." or ".array_N". */
static int set_piece(struct jstate *j)
{
    struct jframe *f = &j->st[j->depth - 1];
    j->path.len = f->base + f->nlen;
    j->path.p[j->path.len] = '\0';
    if (!f->array)
        return buf_putc(&j->path, '.');
    char num[32];
    int k = snprintf(num, sizeof num, ".array_%zu", f->count);
    return buf_append(&j->path, num, (size_t)k);
}

static int add_arg(struct jstate *j, const char *val, size_t vlen)
{
    const char *name;
    size_t nlen;
    size_t keep = j->path.len;

    if (top_is_array(j)) {
        name = "";
        nlen = 0;
    } else {
        current_key(j, &name, &nlen);
    }
    /* The name can point into key; append copies it before key changes. */
    if (buf_append(&j->path, name, nlen) < 0) {
        j->oom = true;
        return 0;
    }
    if (j->sink && j->sink->arg)
        j->stop = j->sink->arg(j->sink->ctx, j->path.p ? j->path.p : "", j->path.len, val, vlen);
    j->path.len = keep;
    if (j->path.p)
        j->path.p[keep] = '\0';
    if (j->stop)
        return 0;
    if (top_is_array(j)) {
        j->st[j->depth - 1].count++;
        if (set_piece(j) < 0) {
            j->oom = true;
            return 0;
        }
    }
    return 1;
}

static int on_null(void *ctx) { return add_arg(ctx, "", 0); }

static int on_boolean(void *ctx, int v)
{
    return v ? add_arg(ctx, "true", 4) : add_arg(ctx, "false", 5);
}

static int on_number(void *ctx, const char *s, size_t n) { return add_arg(ctx, s, n); }

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return add_arg(ctx, (const char *)s, n);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t n)
{
    struct jstate *j = ctx;
    buf_clear(&j->key);
    if (buf_append(&j->key, s, n) < 0) {
        j->oom = true;
        return 0;
    }
    j->key_set = true;
    return 1;
}

static int open_container(struct jstate *j, bool array)
{
    const char *name;
    size_t nlen;
    current_key(j, &name, &nlen);
    /* v3 counts the level before checking it, and refuses past the limit. */
    if (j->depth + 1 > j->limit) {
        j->depth_exceeded = true;
        return 0;
    }
    if (j->depth == j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 16;
        struct jframe *ns = realloc(j->st, nc * sizeof *ns);
        if (!ns) {
            j->oom = true;
            return 0;
        }
        j->st = ns;
        j->cap = nc;
    }
    struct jframe *f = &j->st[j->depth++];
    f->base = j->path.len;
    f->nlen = nlen;
    f->count = 0;
    f->array = array;
    if (buf_append(&j->path, name, nlen) < 0 || set_piece(j) < 0) {
        j->oom = true;
        return 0;
    }
    return 1;
}

static int close_container(struct jstate *j)
{
    if (j->depth == 0)
        return 1;
    j->path.len = j->st[j->depth - 1].base;
    if (j->path.p)
        j->path.p[j->path.len] = '\0';
    j->depth--;
    if (top_is_array(j)) {
        j->st[j->depth - 1].count++;
        if (set_piece(j) < 0) {
            j->oom = true;
            return 0;
        }
    }
    return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, false); }
static int on_start_array(void *ctx) { return open_container(ctx, true); }
static int on_end(void *ctx) { return close_container(ctx); }

static const yajl_callbacks json_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

int body_json_parse(const char *p, size_t n, unsigned depth_limit, const struct body_sink *sink,
                    char *err, size_t errlen)
{
    struct jstate j;
    yajl_handle h = NULL;
    int rc = 0;

    memset(&j, 0, sizeof j);
    j.sink = sink;
    j.limit = depth_limit ? depth_limit : JSON_DEFAULT_DEPTH;
    /* Names are made of body bytes plus short suffixes per level. */
    size_t max = n > ((size_t)-1 - 65536) / 2 ? (size_t)-1 / 2 : 2 * n + 65536;
    if (max - n < (size_t)j.limit * 32)
        max = n + (size_t)j.limit * 32;
    buf_init(&j.path, max);
    buf_init(&j.key, max);
    if (err && errlen)
        err[0] = '\0';

    /* v3 reports nothing for an empty body, whatever yajl thinks of it. */
    if (n == 0)
        goto out;
    if (buf_append(&j.path, "", 0) < 0) {
        j.oom = true;
        goto fail;
    }

    h = yajl_alloc(&json_callbacks, NULL, &j);
    if (!h) {
        j.oom = true;
        goto fail;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)p, n);
    /* v3 always completes, and reports the last error it saw. */
    yajl_status st2 = yajl_complete_parse(h);
    if (st == yajl_status_ok && st2 == yajl_status_ok && !j.oom)
        goto out;
    /* A sink that stops (argument limit) cancels the parse, which v3 reports
     * as yajl's "client cancelled parse" error: fall through. */
fail:
    rc = -1;
    if (err && errlen) {
        if (j.oom || !h) {
            snprintf(err, errlen, "out of memory");
        } else {
            unsigned char *e = yajl_get_error(h, 0, NULL, 0);
            snprintf(err, errlen, "%s%s", e ? (const char *)e : "",
                     j.depth_exceeded ? ". Parsing depth limit exceeded" : "");
            if (e)
                yajl_free_error(h, e);
        }
    }

out:
    if (h)
        yajl_free(h);
    free(j.st);
    buf_free(&j.path);
    buf_free(&j.key);
    return rc;
}
