/* The bot shield as the proxy configures it: builds a `struct shield`
 * (src/shield) from a proxy_config, at start and at every reload.
 *
 * A reload is a transaction: every list file, path rule and the challenge
 * key are read before anything changes; one bad line refuses the whole new
 * generation. The rate-limit and ban tables live in the shield, so when the
 * new config has the same shield settings as the running one (its "shape":
 * everything but the list files) the new generation shares the running
 * shield and only its lists are swapped in, at publish time. When the shape
 * changed, a new shield is built (fresh rate-limit buckets) and the running
 * bans are copied into it.
 *
 * Invariant: a shield_box is shared by every proxy_shield built on it and
 * freed with the last one; the box's shield is only written through the
 * shield API (thread-safe), never replaced. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_int.h"
#include "shield/shield.h"

struct shield_box {
    atomic_int refs;
    struct shield *s;
};

struct proxy_shield {
    atomic_int refs;
    struct shield_box *box;
    bool shared; /* box is the previous generation's: lists wait for activate */
    bool activated;
    struct shield_iplist *lists[SHIELD_LIST_KINDS];
    size_t counts[SHIELD_LIST_KINDS];
    char *path_prefix[PROXY_MAX_PATH_ALLOW];
    struct shield_iplist *paths[PROXY_MAX_PATH_ALLOW];
    size_t npaths;
    char *shape;
    size_t nrate;
    bool challenge;
    size_t carried; /* bans copied from the previous shield */
};

static const enum shield_list_kind kind_map[PROXY_LIST_KINDS] = {
    [PROXY_LIST_DENY] = SHIELD_LIST_DENY,
    [PROXY_LIST_ALLOW] = SHIELD_LIST_ALLOW,
    [PROXY_LIST_TOR] = SHIELD_LIST_TOR,
    [PROXY_LIST_PROXY] = SHIELD_LIST_PROXY,
};

bool proxy_shield_wanted(const struct proxy_config *c)
{
    for (int k = 0; k < PROXY_LIST_KINDS; k++)
        if (c->nlists[k])
            return true;
    return c->nrate || c->npath_allow || c->challenge || c->bans;
}

struct shield *proxy_shield_get(const struct proxy_shield *s) { return s ? s->box->s : NULL; }

static void box_unref(struct shield_box *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        shield_free(b->s);
        free(b);
    }
}

void proxy_shield_unref(struct proxy_shield *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (int k = 0; k < SHIELD_LIST_KINDS; k++)
        shield_iplist_unref(s->lists[k]);
    for (size_t i = 0; i < s->npaths; i++) {
        free(s->path_prefix[i]);
        shield_iplist_unref(s->paths[i]);
    }
    box_unref(s->box);
    free(s->shape);
    free(s);
}

void proxy_shield_ref(struct proxy_shield *s) { atomic_fetch_add(&s->refs, 1); }

/* Everything that is fixed when a shield is created, as text. */
static char *shape_of(const struct proxy_config *c, const uint8_t *key)
{
    char buf[16384];
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + n, sizeof buf - n, __VA_ARGS__);                                   \
        if (w_ < 0 || (size_t)w_ >= sizeof buf - n)                                                \
            return NULL;                                                                           \
        n += (size_t)w_;                                                                           \
    } while (0)
    for (size_t i = 0; i < c->nrate; i++)
        ADD("rate %.9g %u %d %s\n", c->rate[i].per_sec, c->rate[i].burst, (int)c->rate[i].key,
            c->rate[i].arg ? c->rate[i].arg : "-");
    ADD("table %zu tor %d proxy %d\n", c->rate_table, c->block_tor, c->block_proxy);
    ADD("challenge %d %u %u ", c->challenge, c->challenge_difficulty, c->challenge_cookie_ttl);
    for (int i = 0; key && i < SHIELD_KEY_LEN; i++)
        ADD("%02x", key[i]);
    ADD("\nbans %u %u %u %zu\n", c->ban_threshold, c->ban_window, c->ban_time, c->ban_table);
    for (size_t i = 0; i < c->npath_allow; i++)
        ADD("path %s\n", c->path_allow[i].prefix);
#undef ADD
    return strdup(buf);
}

static struct shield_iplist *load_lists(char *const *files, size_t n, bool lenient, size_t *count,
                                        char *err, size_t errlen)
{
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char why[512] = "";
        long got = shield_iplist_builder_add_file(b, files[i], lenient ? SHIELD_IPLIST_LENIENT : 0,
                                                  why, sizeof why);
        if (got < 0) {
            snprintf(err, errlen, "%s", why);
            shield_iplist_builder_free(b);
            return NULL;
        }
        if (lenient && why[0])
            fprintf(stderr, "mamori: warning: %s (bad lines skipped in a third-party list)\n",
                    why);
    }
    struct shield_iplist *l = shield_iplist_build(b);
    if (!l)
        snprintf(err, errlen, "out of memory building an IP list");
    else
        *count = shield_iplist_count(l);
    return l;
}

static struct shield_iplist *load_path_items(const struct proxy_path_allow *pa, char *err,
                                             size_t errlen)
{
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < pa->nitems; i++) {
        const char *it = pa->items[i];
        struct proxy_cidr tmp;
        if (proxy_parse_cidr(it, &tmp) == 0) {
            if (shield_iplist_builder_add(b, it, strlen(it), NULL, 0) < 0) {
                snprintf(err, errlen, "path-allow %s: bad address '%s'", pa->prefix, it);
                goto fail;
            }
            continue;
        }
        char why[512] = "";
        if (shield_iplist_builder_add_file(b, it, 0, why, sizeof why) < 0) {
            snprintf(err, errlen, "path-allow %s: %s", pa->prefix, why);
            goto fail;
        }
    }
    struct shield_iplist *l = shield_iplist_build(b);
    if (!l)
        snprintf(err, errlen, "out of memory building an IP list");
    return l;
fail:
    shield_iplist_builder_free(b);
    return NULL;
}

static enum shield_rate_key rate_key(enum proxy_rate_key k)
{
    switch (k) {
    case PROXY_RATE_PATH: return SHIELD_RATE_KEY_PATH;
    case PROXY_RATE_METHOD: return SHIELD_RATE_KEY_METHOD;
    case PROXY_RATE_HEADER: return SHIELD_RATE_KEY_HEADER;
    case PROXY_RATE_ADDR: break;
    }
    return SHIELD_RATE_KEY_ADDR;
}

struct proxy_shield *proxy_shield_build(const struct proxy_config *c, struct proxy_shield *prev,
                                        char *err, size_t errlen)
{
    uint8_t key[SHIELD_KEY_LEN];
    bool have_key = false;
    struct proxy_shield *ps = calloc(1, sizeof *ps);
    if (!ps) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&ps->refs, 1);
    ps->nrate = c->nrate;
    ps->challenge = c->challenge;
    if (c->challenge && c->challenge_key) {
        char why[512];
        if (shield_challenge_read_key(c->challenge_key, key, why, sizeof why) < 0) {
            snprintf(err, errlen, "challenge-key: %s", why);
            goto fail;
        }
        have_key = true;
    }
    ps->shape = shape_of(c, have_key ? key : NULL);
    if (!ps->shape) {
        snprintf(err, errlen, "shield settings too long");
        goto fail;
    }
    /* every file first: a bad one refuses the generation */
    for (int k = 0; k < PROXY_LIST_KINDS; k++) {
        if (!c->nlists[k])
            continue;
        bool lenient = k == PROXY_LIST_TOR || k == PROXY_LIST_PROXY;
        struct shield_iplist *l = load_lists(c->lists[k], c->nlists[k], lenient,
                                             &ps->counts[kind_map[k]], err, errlen);
        if (!l)
            goto fail;
        ps->lists[kind_map[k]] = l;
    }
    for (size_t i = 0; i < c->npath_allow; i++) {
        ps->paths[i] = load_path_items(&c->path_allow[i], err, errlen);
        ps->path_prefix[i] = strdup(c->path_allow[i].prefix);
        ps->npaths = i + 1;
        if (!ps->paths[i] || !ps->path_prefix[i]) {
            if (!ps->path_prefix[i])
                snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (prev && !strcmp(prev->shape, ps->shape)) {
        /* same settings: keep the running tables, swap the lists later */
        ps->box = prev->box;
        atomic_fetch_add(&ps->box->refs, 1);
        ps->shared = true;
        return ps;
    }
    struct shield_config sc;
    memset(&sc, 0, sizeof sc);
    sc.block_tor = c->block_tor;
    sc.block_proxy = c->block_proxy;
    for (size_t i = 0; i < c->nrate && i < SHIELD_MAX_RATE_RULES; i++) {
        sc.rate[i].per_sec = c->rate[i].per_sec;
        sc.rate[i].burst = c->rate[i].burst;
        sc.rate[i].key = rate_key(c->rate[i].key);
        sc.rate[i].path_prefix = c->rate[i].key == PROXY_RATE_PATH ? c->rate[i].arg : NULL;
        sc.rate[i].header = c->rate[i].key == PROXY_RATE_HEADER ? c->rate[i].arg : NULL;
    }
    sc.rate_max_entries = c->rate_table;
    sc.challenge = c->challenge;
    sc.challenge_difficulty = c->challenge_difficulty ? c->challenge_difficulty : 16;
    sc.challenge_cookie_ttl_s = c->challenge_cookie_ttl ? c->challenge_cookie_ttl : 3600;
    sc.challenge_key = have_key ? key : NULL;
    sc.behaviour.threshold = c->ban_threshold;
    sc.behaviour.window_s = c->ban_window;
    sc.behaviour.ban_s = c->ban_time;
    sc.behaviour.max_entries = c->ban_table;
    ps->box = calloc(1, sizeof *ps->box);
    if (!ps->box) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    atomic_init(&ps->box->refs, 1);
    char why[512] = "";
    ps->box->s = shield_new(&sc, why, sizeof why);
    if (!ps->box->s) {
        snprintf(err, errlen, "shield: %s", why);
        goto fail;
    }
    /* a shield nobody uses yet: its lists can go in now */
    for (int k = 0; k < SHIELD_LIST_KINDS; k++) {
        shield_set_list(ps->box->s, (enum shield_list_kind)k, ps->lists[k]);
        ps->lists[k] = NULL;
    }
    for (size_t i = 0; i < ps->npaths; i++) {
        int rc = shield_set_path_allow(ps->box->s, ps->path_prefix[i], strlen(ps->path_prefix[i]),
                                       ps->paths[i]);
        ps->paths[i] = NULL;
        if (rc < 0) {
            snprintf(err, errlen, "path-allow %s: not a usable path prefix", ps->path_prefix[i]);
            goto fail;
        }
    }
    if (prev)
        ps->carried = shield_behaviour_copy_bans(shield_get_behaviour(ps->box->s),
                                                 shield_get_behaviour(prev->box->s), 0);
    return ps;
fail:
    memset(key, 0, sizeof key);
    proxy_shield_unref(ps);
    return NULL;
}

void proxy_shield_activate(struct proxy_shield *s)
{
    if (!s || !s->shared || s->activated)
        return;
    s->activated = true;
    for (int k = 0; k < SHIELD_LIST_KINDS; k++) {
        shield_set_list(s->box->s, (enum shield_list_kind)k, s->lists[k]);
        s->lists[k] = NULL;
    }
    for (size_t i = 0; i < s->npaths; i++) {
        shield_set_path_allow(s->box->s, s->path_prefix[i], strlen(s->path_prefix[i]),
                              s->paths[i]);
        s->paths[i] = NULL;
    }
}

void proxy_shield_describe(const struct proxy_shield *s, char *out, size_t n)
{
    snprintf(out, n,
             "shield: %zu rate rule%s, deny %zu / allow %zu / tor %zu / proxy %zu entries, "
             "%zu path rule%s, challenge %s; %s",
             s->nrate, s->nrate == 1 ? "" : "s", s->counts[SHIELD_LIST_DENY],
             s->counts[SHIELD_LIST_ALLOW], s->counts[SHIELD_LIST_TOR],
             s->counts[SHIELD_LIST_PROXY], s->npaths, s->npaths == 1 ? "" : "s",
             s->challenge ? "on" : "off",
             s->shared ? "rate-limit and ban tables kept"
                       : s->carried ? "new tables, running bans carried over" : "new tables");
}

char *proxy_compile_allowlists(const struct proxy_config *c, size_t *len, char *err,
                               size_t errlen)
{
    *len = 0;
    if (!c->nallowlists)
        return NULL;
    size_t cap = 1u << 20, used = 0;
    char *out = malloc(cap);
    unsigned id = 1001000;
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    out[0] = '\0';
    for (size_t i = 0; i < c->nallowlists; i++) {
        FILE *f = fopen(c->allowlists[i], "rb");
        if (!f) {
            snprintf(err, errlen, "allowlist %s: cannot open", c->allowlists[i]);
            goto fail;
        }
        static const size_t max_in = 256u * 1024;
        char *text = malloc(max_in + 1);
        size_t tn = text ? fread(text, 1, max_in + 1, f) : 0;
        fclose(f);
        if (!text || tn > max_in) {
            snprintf(err, errlen, "allowlist %s: %s", c->allowlists[i],
                     text ? "larger than 256 KB" : "out of memory");
            free(text);
            goto fail;
        }
        char why[512];
        long w = shield_allowrule_compile(text, tn, c->allowlists[i], id, out + used, cap - used,
                                          why, sizeof why);
        free(text);
        if (w < 0) {
            snprintf(err, errlen, "%s", why);
            goto fail;
        }
        for (long k = 0; k < w; k++)
            if (out[used + (size_t)k] == '\n')
                id++;
        used += (size_t)w;
        if (id > 1001999) {
            snprintf(err, errlen, "allowlist: more than 1000 exclusions");
            goto fail;
        }
    }
    *len = used;
    return out;
fail:
    free(out);
    return NULL;
}
