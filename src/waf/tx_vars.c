/* Transaction variables: collections, scalars, the mutable maps behind
 * TX/IP/SESSION, and resolving a rule target into the items it inspects. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "waf/body.h"
#include "waf/tx.h"
#include "waf/vars_table.h"

#define COLL_MAX_ITEMS 100000u /* per collection; past it new items are dropped */
#define MAP_MAX_ENTRIES 10000u

int tx_coll_add(struct waf_tx *tx, int var, const char *name, size_t nlen, const char *val,
                size_t vlen)
{
    struct coll *c = &tx->c[var];
    if (nlen > UINT32_MAX || vlen > UINT32_MAX)
        return -1;
    if (c->n == c->cap) {
        if (c->cap >= COLL_MAX_ITEMS)
            return -1;
        uint32_t nc = c->cap ? c->cap * 2 : 16;
        struct kv *nv = arena_realloc(tx->a, c->v, c->cap * sizeof(*nv), nc * sizeof(*nv));
        if (!nv)
            return -1;
        c->v = nv;
        c->cap = nc;
    }
    char *nm = arena_memdup(tx->a, name, nlen);
    char *vl = arena_memdup(tx->a, val, vlen);
    if (!nm || !vl)
        return -1;
    c->v[c->n++] = (struct kv){nm, (uint32_t)nlen, vl, (uint32_t)vlen, NULL, NULL};
    if (var != V_MATCHED_VARS)
        tx->coll_gen++; /* resolved targets may have grown (and c->v moved) */
    return 0;
}

void tx_set_scalar(struct waf_tx *tx, int var, const char *val, size_t vlen)
{
    char *v = arena_memdup(tx->a, val, vlen);
    if (!v)
        return;
    tx->sv[var] = str_make(v, vlen);
    tx->sset[var] = true;
    if (tx_target_cacheable(var))
        tx->coll_gen++; /* a resolved REQUEST_FILENAME & co. is stale */
}

void tx_set_scalar_c(struct waf_tx *tx, int var, const char *val)
{
    tx_set_scalar(tx, var, val, strlen(val));
}

int waf_fmt_num(char *b, long long v)
{
    char t[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int k = 0;
    if (v < 0)
        b[k++] = '-';
    while (n)
        b[k++] = t[--n];
    return k;
}

void tx_set_scalar_num(struct waf_tx *tx, int var, long long v)
{
    /* ten of these start every transaction: no snprintf */
    char b[24];
    tx_set_scalar(tx, var, b, (size_t)waf_fmt_num(b, v));
}

struct map *tx_map(struct waf_tx *tx, int var) { return &tx->maps[var]; }

static uint32_t hash_lower(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        h ^= c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
        h *= 16777619u;
    }
    return h;
}

uint32_t tx_name_hash(const char *s, size_t n) { return hash_lower(s, n); }

bool waf_eq_fold(const char *a, const char *b, size_t n)
{
    if (memcmp(a, b, n) == 0)
        return true; /* names and values are mostly compared in one case */
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, hi = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x == y)
            continue;
        /* 0x20 in every byte that is 'A'..'Z' (no carries: bytes < 0x80) */
        uint64_t xu = (((x & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((x & lo7) + 0x2525252525252525ull) &
                       ~x & hi) >> 2;
        uint64_t yu = (((y & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((y & lo7) + 0x2525252525252525ull) &
                       ~y & hi) >> 2;
        if ((x | xu) != (y | yu))
            return false;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)a[i], d = (unsigned char)b[i];
        if (c != d && (c | 0x20) != (d | 0x20))
            return false;
        if (c != d && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            return false;
    }
    return true;
}

static int32_t map_find(const struct map *m, const char *name, size_t nlen, uint32_t h)
{
    if (!m->idx)
        return -1;
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t k = m->idx[i];
        if (k < 0)
            return -1;
        const struct map_ent *e = &m->e[k];
        if (e->hash == h && e->name && e->nlen == nlen && waf_eq_fold(e->name, name, nlen))
            return k;
    }
}

const struct map_ent *map_get(const struct map *m, const char *name, size_t nlen)
{
    int32_t k = map_find(m, name, nlen, hash_lower(name, nlen));
    return k < 0 ? NULL : &m->e[k];
}

const struct map_ent *map_get_h(const struct map *m, const char *name, size_t nlen, uint32_t h)
{
    int32_t k = map_find(m, name, nlen, h);
    return k < 0 ? NULL : &m->e[k];
}

static int map_rehash(struct waf_tx *tx, struct map *m, uint32_t slots)
{
    int32_t *idx = arena_alloc(tx->a, slots * sizeof(*idx));
    if (!idx)
        return -1;
    for (uint32_t i = 0; i < slots; i++)
        idx[i] = -1;
    for (uint32_t k = 0; k < m->n; k++) {
        if (!m->e[k].name)
            continue;
        uint32_t i = m->e[k].hash & (slots - 1);
        while (idx[i] >= 0)
            i = (i + 1) & (slots - 1);
        idx[i] = (int32_t)k;
    }
    m->idx = idx;
    m->mask = slots - 1;
    return 0;
}

int map_set(struct waf_tx *tx, struct map *m, const char *name, size_t nlen, const char *val,
            size_t vlen)
{
    uint32_t h = hash_lower(name, nlen);
    int32_t k = map_find(m, name, nlen, h);
    char *v = arena_memdup(tx->a, val, vlen);
    if (!v)
        return -1;
    if (k >= 0) {
        m->e[k].val = v;
        m->e[k].vlen = (uint32_t)vlen;
        return 0;
    }
    if (m->n >= MAP_MAX_ENTRIES)
        return -1;
    if (m->n == m->cap) {
        uint32_t nc = m->cap ? m->cap * 2 : 64;
        struct map_ent *ne = arena_realloc(tx->a, m->e, m->cap * sizeof(*ne), nc * sizeof(*ne));
        if (!ne)
            return -1;
        m->e = ne;
        m->cap = nc;
    }
    if (!m->idx || (m->n + 1) * 2 > m->mask + 1) {
        uint32_t slots = m->idx ? (m->mask + 1) * 2 : 128;
        if (map_rehash(tx, m, slots) < 0)
            return -1;
    }
    char *nm = arena_memdup(tx->a, name, nlen);
    if (!nm)
        return -1;
    for (size_t i = 0; i < nlen; i++)
        if (nm[i] >= 'A' && nm[i] <= 'Z')
            nm[i] = (char)(nm[i] + 32);
    k = (int32_t)m->n++;
    m->e[k] = (struct map_ent){nm, (uint32_t)nlen, h, v, (uint32_t)vlen};
    uint32_t i = h & m->mask;
    while (m->idx[i] >= 0)
        i = (i + 1) & m->mask;
    m->idx[i] = k;
    return 0;
}

void map_del(struct map *m, const char *name, size_t nlen)
{
    int32_t k = map_find(m, name, nlen, hash_lower(name, nlen));
    if (k >= 0)
        m->e[k].name = NULL; /* tombstone: the index still points here, lookups skip it */
}

static int push_item_vc(struct waf_tx *tx, int var, const char *name, size_t nlen,
                        const char *val, size_t vlen, struct vcache **vc);

static int push_item(struct waf_tx *tx, int var, const char *name, size_t nlen, const char *val,
                     size_t vlen)
{
    return push_item_vc(tx, var, name, nlen, val, vlen, NULL);
}

static int push_item_vc(struct waf_tx *tx, int var, const char *name, size_t nlen,
                        const char *val, size_t vlen, struct vcache **vc)
{
    if (tx->nitems == tx->capitems) {
        size_t nc = tx->capitems ? tx->capitems * 2 : 64;
        struct item *ni = arena_realloc(tx->a, tx->items, tx->capitems * sizeof(*ni),
                                        nc * sizeof(*ni));
        if (!ni)
            return -1;
        tx->items = ni;
        tx->capitems = nc;
    }
    tx->items[tx->nitems++] = (struct item){var, name, (uint32_t)nlen, val, (uint32_t)vlen, vc};
    return 0;
}

/* Key regexes (ARGS:/^id_/, !REQUEST_COOKIES:/__utm/, TX:/^header_name_/)
 * are asked about the same names by rule after rule: the answers are kept
 * per (regex, name) in a small direct-mapped table. Names live in the
 * transaction's arena and are never rewritten, so a pointer names its bytes
 * for the whole transaction. */
#define SELMEMO_SLOTS 128u
struct selmemo {
    const struct rx *rx;
    const char *name;
    uint32_t nlen;
    bool hit;
};

/* lit is lower case; ASCII letters in h compare without case */
static bool memmem_ci(const char *h, size_t hn, const char *lit, size_t ln)
{
    if (ln == 0)
        return true;
    for (size_t i = 0; i + ln <= hn; i++) {
        unsigned char c = (unsigned char)h[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) == (unsigned char)lit[0] &&
            waf_eq_fold(h + i, lit, ln))
            return true;
    }
    return false;
}

static bool sel_match(struct waf_tx *tx, const struct target *t, const char *name, size_t nlen)
{
    switch (t->sel_kind) {
    case SEL_NONE:
        return true;
    case SEL_NAME:
        return t->sel_len == nlen && waf_eq_fold(t->sel, name, nlen);
    case SEL_REGEX: {
        size_t po, pl;
        if (t->sel_prefix)
            return nlen >= t->sel_lit_len && waf_eq_fold(name, t->sel_lit, t->sel_lit_len);
        if (t->sel_lit && !memmem_ci(name, nlen, t->sel_lit, t->sel_lit_len))
            return false; /* not the literal the regex requires */
        if (t->sel_pre && !pm_match(t->sel_pre, name, nlen, &po, &pl))
            return false; /* none of the regex's required literals */
        if (!tx->selmemo)
            tx->selmemo = arena_calloc(tx->a, SELMEMO_SLOTS, sizeof(struct selmemo));
        uintptr_t h = ((uintptr_t)t->sel_rx >> 4) * 31 + ((uintptr_t)name >> 3);
        struct selmemo *m = tx->selmemo ? &tx->selmemo[(h ^ (h >> 9)) & (SELMEMO_SLOTS - 1)] : NULL;
        if (m && m->rx == t->sel_rx && m->name == name && m->nlen == nlen)
            return m->hit;
        int nc = 0;
        bool hit = rx_match(t->sel_rx, name, nlen, NULL, 0, &nc) == 1;
        if (m && nlen <= UINT32_MAX)
            *m = (struct selmemo){t->sel_rx, name, (uint32_t)nlen, hit};
        return hit;
    }
    }
    return false;
}

bool tx_target_matches_item(struct waf_tx *tx, const struct target *t, const struct item *it)
{
    if ((int)t->var != it->var) {
        /* an exclusion of ARGS also covers the ARGS_GET/ARGS_POST items
         * that make up ARGS, and likewise for the _NAMES forms */
        return false;
    }
    return sel_match(tx, t, it->name, it->nlen);
}

static int xml_cb(void *ctx, const char *val, size_t vlen)
{
    struct waf_tx *tx = ctx;
    /* libxml2 frees the node text after the callback: keep a copy */
    char *copy = arena_memdup(tx->a, val, vlen);
    return copy ? push_item(tx, V_XML, "", 0, copy, vlen) : -1;
}

static int resolve_coll(struct waf_tx *tx, const struct target *t, int src, int as_var,
                        bool names)
{
    const struct coll *c = &tx->c[src];
    for (uint32_t i = 0; i < c->n; i++) {
        const struct kv *kv = &c->v[i];
        if (!sel_match(tx, t, kv->name, kv->nlen))
            continue;
        struct kv *mkv = (struct kv *)kv; /* the cache slot is the only mutable part */
        if (push_item_vc(tx, as_var, kv->name, kv->nlen, names ? kv->name : kv->val,
                         names ? kv->nlen : kv->vlen, names ? &mkv->vc_name : &mkv->vc_val) < 0)
            return -1;
    }
    return 0;
}

static int resolve_map(struct waf_tx *tx, const struct target *t, int var)
{
    const struct map *m = &tx->maps[var];
    if (t->sel_kind == SEL_NAME) {
        /* TX:name is a hash lookup, not a scan of every variable */
        const struct map_ent *e = map_get_h(m, t->sel, t->sel_len, t->sel_hash);
        return e ? push_item(tx, var, e->name, e->nlen, e->val, e->vlen) : 0;
    }
    for (uint32_t k = 0; k < m->n; k++) {
        const struct map_ent *e = &m->e[k];
        if (!e->name || !sel_match(tx, t, e->name, e->nlen))
            continue;
        if (push_item(tx, var, e->name, e->nlen, e->val, e->vlen) < 0)
            return -1;
    }
    return 0;
}

/* RULE:id, RULE:msg... of the rule being run. */
static int resolve_rule(struct waf_tx *tx, const struct target *t);

int tx_resolve(struct waf_tx *tx, const struct target *t)
{
    size_t before = tx->nitems;
    int rc = 0;
    switch (t->var) {
    case V_ARGS:
        rc = resolve_coll(tx, t, V_ARGS_GET, V_ARGS, false);
        if (!rc)
            rc = resolve_coll(tx, t, V_ARGS_POST, V_ARGS, false);
        if (!rc)
            rc = resolve_coll(tx, t, V_ARGS_JSON, V_ARGS, false);
        break;
    case V_ARGS_NAMES:
        rc = resolve_coll(tx, t, V_ARGS_GET, V_ARGS_NAMES, true);
        if (!rc)
            rc = resolve_coll(tx, t, V_ARGS_POST, V_ARGS_NAMES, true);
        if (!rc)
            rc = resolve_coll(tx, t, V_ARGS_JSON, V_ARGS_NAMES, true);
        break;
    case V_ARGS_GET_NAMES:
        rc = resolve_coll(tx, t, V_ARGS_GET, V_ARGS_GET_NAMES, true);
        break;
    case V_ARGS_POST_NAMES:
        rc = resolve_coll(tx, t, V_ARGS_POST, V_ARGS_POST_NAMES, true);
        break;
    case V_REQUEST_HEADERS_NAMES:
        rc = resolve_coll(tx, t, V_REQUEST_HEADERS, V_REQUEST_HEADERS_NAMES, true);
        break;
    case V_REQUEST_COOKIES_NAMES:
        rc = resolve_coll(tx, t, V_REQUEST_COOKIES, V_REQUEST_COOKIES_NAMES, true);
        break;
    case V_RESPONSE_HEADERS_NAMES:
        rc = resolve_coll(tx, t, V_RESPONSE_HEADERS, V_RESPONSE_HEADERS_NAMES, true);
        break;
    case V_MATCHED_VARS_NAMES:
        rc = resolve_coll(tx, t, V_MATCHED_VARS, V_MATCHED_VARS_NAMES, true);
        break;
    case V_FILES_NAMES:
        rc = resolve_coll(tx, t, V_FILES, V_FILES_NAMES, true);
        break;
    case V_TX: case V_IP: case V_SESSION: case V_GLOBAL: case V_USER: case V_RESOURCE:
    case V_ENV:
        rc = resolve_map(tx, t, t->var);
        break;
    case V_RULE:
        rc = resolve_rule(tx, t);
        break;
    case V_XML:
        if (tx->xml && t->sel_kind == SEL_NAME) {
            tx->cur_rule = NULL;
            rc = body_xml_xpath(tx->xml, t->sel, xml_cb, tx);
            /* name the items by the XPath, as ModSecurity reports them (XML:/path) */
            for (size_t i = before; i < tx->nitems; i++) {
                tx->items[i].name = t->sel;
                tx->items[i].nlen = (uint32_t)strlen(t->sel);
            }
        }
        break;
    default:
        if (vars_info(t->var)->kind == VT_COLLECTION) {
            rc = resolve_coll(tx, t, t->var, t->var, false);
        } else if (tx->sset[t->var]) {
            rc = push_item_vc(tx, t->var, "", 0, tx->sv[t->var].p, tx->sv[t->var].n,
                              &tx->svc[t->var]);
        }
        break;
    }
    return rc < 0 ? -1 : 0;
}

bool tx_target_cacheable(int var)
{
    switch (var) {
    case V_ARGS: case V_ARGS_NAMES: case V_ARGS_GET_NAMES: case V_ARGS_POST_NAMES:
    case V_REQUEST_HEADERS_NAMES: case V_REQUEST_COOKIES_NAMES: case V_RESPONSE_HEADERS_NAMES:
    case V_FILES_NAMES:
        return true;
    case V_MATCHED_VARS: case V_MATCHED_VARS_NAMES: case V_XML: case V_RULE:
    case V_TX: case V_IP: case V_SESSION: case V_GLOBAL: case V_USER: case V_RESOURCE:
    case V_ENV:
        return false;
    /* scalars that change while rules run (per match) are read afresh */
    case V_MATCHED_VAR: case V_MATCHED_VAR_NAME: case V_HIGHEST_SEVERITY:
        return false;
    default:
        /* collections change only through tx_coll_add, scalars only
         * through tx_set_scalar: both move coll_gen */
        return true;
    }
}

int tx_resolve_items(struct waf_tx *tx, const struct target *t, const struct item **items,
                     size_t *n)
{
    size_t start = tx->nitems;
    if (t->cache_slot && t->cache_slot <= tx->p->ntarget_ids) {
        if (!tx->rcache)
            tx->rcache = arena_calloc(tx->a, tx->p->ntarget_ids, sizeof(*tx->rcache));
        struct rcache_ent *e = tx->rcache ? &tx->rcache[t->cache_slot - 1] : NULL;
        if (e && e->gen == tx->coll_gen) {
            *items = e->items;
            *n = e->n;
            return 1;
        }
        if (e) {
            if (tx_resolve(tx, t) < 0)
                return -1;
            size_t cnt = tx->nitems - start;
            struct item *copy = cnt ? arena_alloc(tx->a, cnt * sizeof(*copy)) : NULL;
            if (cnt && !copy)
                return -1;
            if (cnt)
                memcpy(copy, tx->items + start, cnt * sizeof(*copy));
            tx->nitems = start;
            *e = (struct rcache_ent){tx->coll_gen, (uint32_t)cnt, copy};
            *items = copy;
            *n = cnt;
            return 1;
        }
    }
    if (tx_resolve(tx, t) < 0)
        return -1;
    *items = NULL;
    *n = tx->nitems - start;
    return 0;
}

static int resolve_rule(struct waf_tx *tx, const struct target *t)
{
    const struct rule *r = tx->cur_rule;
    if (!r)
        return 0;
    char num[32];
    static const char *keys[] = {"id", "rev", "severity", "ver", "phase"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!sel_match(tx, t, keys[i], strlen(keys[i])))
            continue;
        const char *v = "";
        if (i == 0) {
            snprintf(num, sizeof num, "%d", r->a.id);
            v = num;
        } else if (i == 1) {
            v = r->a.rev ? r->a.rev : "";
        } else if (i == 2) {
            if (r->a.severity < 0)
                continue;
            snprintf(num, sizeof num, "%d", r->a.severity);
            v = num;
        } else if (i == 3) {
            v = r->a.ver ? r->a.ver : "";
        } else {
            snprintf(num, sizeof num, "%d", r->a.phase);
            v = num;
        }
        char *cv = arena_memdup(tx->a, v, strlen(v));
        if (!cv || push_item(tx, V_RULE, keys[i], strlen(keys[i]), cv, strlen(cv)) < 0)
            return -1;
    }
    return 0;
}

bool tx_lookup_first(struct waf_tx *tx, int var, const char *key, size_t klen, struct str *out)
{
    const struct var_info *vi = vars_info(var);
    if (vi->kind == VT_SCALAR) {
        if (!tx->sset[var])
            return false;
        *out = tx->sv[var];
        return true;
    }
    if (tx->maps[var].e || var == V_TX || var == V_IP || var == V_SESSION || var == V_GLOBAL ||
        var == V_USER || var == V_RESOURCE || var == V_ENV) {
        const struct map_ent *e = map_get(&tx->maps[var], key, klen);
        if (!e)
            return false;
        *out = str_make(e->val, e->vlen);
        return true;
    }
    struct target t = {.var = var, .sel_kind = klen ? SEL_NAME : SEL_NONE,
                       .sel_hash = tx_name_hash(key, klen)};
    char selbuf[256];
    if (klen >= sizeof selbuf)
        return false;
    memcpy(selbuf, key, klen);
    selbuf[klen] = '\0';
    t.sel = selbuf;
    t.sel_len = klen;
    size_t before = tx->nitems;
    if (tx_resolve(tx, &t) < 0 || tx->nitems == before) {
        tx->nitems = before;
        return false;
    }
    *out = str_make(tx->items[before].val, tx->items[before].vlen);
    tx->nitems = before;
    return true;
}
