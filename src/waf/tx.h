/* Transaction state shared by the engine's files (engine.c, tx_vars.c,
 * tx_body.c). Not part of the public API. */
#ifndef MAMORI_WAF_TX_H
#define MAMORI_WAF_TX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "waf/program.h"
#include "waf/waf.h"

struct vcache; /* per-value transformation cache, engine.c */
struct agg;
struct selmemo;
struct lagg;

struct kv {
    const char *name;
    uint32_t nlen;
    const char *val;
    uint32_t vlen;
    struct vcache *vc_val;  /* transformations of val */
    struct vcache *vc_name; /* transformations of name (for *_NAMES) */
};

struct coll {
    struct kv *v;
    uint32_t n, cap;
};

/* Mutable string map (TX, IP, SESSION...): insertion-ordered entries with a
 * hash index; names are stored lower-cased (collections are
 * case-insensitive); deleted entries keep their slot with name == NULL. */
struct map_ent {
    char *name;
    uint32_t nlen;
    uint32_t hash;
    char *val;
    uint32_t vlen;
};
struct map {
    struct map_ent *e;
    uint32_t n, cap;
    int32_t *idx; /* open addressing over entry indices, -1 empty */
    uint32_t mask;
};

/* One value a rule inspects: its collection, key and value. */
struct item {
    int var;
    const char *name;
    uint32_t nlen;
    const char *val;
    uint32_t vlen;
    struct vcache **vc; /* where this value's transformation cache lives, or NULL */
};

struct id_range {
    int lo, hi;
};

struct rm_target {
    int lo, hi;         /* by id */
    bool by_tag;
    int tag_id;         /* by tag: the program's tag id (-1: no rule has it) */
    const struct target *tgt;
};

struct rcache_ent {
    uint32_t gen; /* valid while it equals waf_tx.coll_gen */
    uint32_t n;
    struct item *items;
};

struct waf_tx {
    const struct waf_program *p;
    struct arena *a;
    size_t arena_cap;
    struct waf_tx_opts o;
    enum engine_mode engine;
    /* scalar variables; set[] says which exist */
    struct str sv[V__COUNT];
    bool sset[V__COUNT];
    struct vcache *svc[V__COUNT]; /* transformation caches of the scalars */
    struct coll c[V__COUNT];
    struct map maps[V__COUNT]; /* only TX, IP, SESSION, GLOBAL, USER, RESOURCE, ENV used */
    struct body_xml *xml;
    /* request */
    enum body_proc body_proc;
    bool body_proc_forced;
    bool reqbody_access;
    bool force_reqbody_var;
    size_t reqbody_limit;
    bool resbody_access;
    uint64_t args_combined;
    /* rule flow */
    struct id_range *rm;
    size_t nrm, caprm;
    int *rm_tags; /* tag ids */
    size_t nrm_tags, caprm_tags;
    struct rm_target *rmt;
    size_t nrmt, caprmt;
    bool disrupted;
    bool allow_all, allow_request;
    struct waf_intervention iv;
    int highest_severity;
    /* matches */
    struct waf_match *m;
    size_t nm, capm;
    /* scratch */
    struct item *items;
    size_t nitems, capitems;
    const struct rule *cur_rule;
    /* transformation cache epoch (engine.c): 0 = cache unavailable */
    uint64_t xc_epoch;
    /* resolved targets (tx_resolve_items): entries hold while coll_gen is
     * unchanged; it moves when a collection gains an item (tx_coll_add is
     * the only way a cacheable collection changes) */
    struct rcache_ent *rcache;
    uint32_t coll_gen;
    struct agg *agg; /* per-target literal summaries (engine.c) */
    struct selmemo *selmemo; /* key-regex answers (tx_vars.c) */
    struct lagg *lagg;       /* per target-list summaries (engine.c) */
};

/* tx_vars.c */
int tx_coll_add(struct waf_tx *tx, int var, const char *name, size_t nlen, const char *val,
                size_t vlen);
void tx_set_scalar(struct waf_tx *tx, int var, const char *val, size_t vlen);
void tx_set_scalar_c(struct waf_tx *tx, int var, const char *val);
void tx_set_scalar_num(struct waf_tx *tx, int var, long long v);
struct map *tx_map(struct waf_tx *tx, int var);
const struct map_ent *map_get(const struct map *m, const char *name, size_t nlen);
/* The same with the name's tx_name_hash() already known (compiled selectors). */
const struct map_ent *map_get_h(const struct map *m, const char *name, size_t nlen, uint32_t h);
uint32_t tx_name_hash(const char *s, size_t n);
int map_set(struct waf_tx *tx, struct map *m, const char *name, size_t nlen, const char *val,
            size_t vlen);
void map_del(struct map *m, const char *name, size_t nlen);
/* Collects the items a target selects (exclusions are applied by the caller). */
int tx_resolve(struct waf_tx *tx, const struct target *t);
bool tx_target_matches_item(struct waf_tx *tx, const struct target *t, const struct item *it);
/* Whether a target over var may be resolved once and reused until coll_gen
 * moves: its items come from a collection that changes only through
 * tx_coll_add or a scalar that changes only through tx_set_scalar (not TX
 * & co., MATCHED_VAR*, RULE, XML). */
bool tx_target_cacheable(int var);
/* The items of t. Returns 1 with *items a stable array (a cacheable target,
 * resolved at most once per phase and collection change), 0 when they were
 * pushed onto tx->items (*items NULL, *n of them from the old nitems), -1 on
 * error. The caller restores tx->nitems. */
int tx_resolve_items(struct waf_tx *tx, const struct target *t, const struct item **items,
                     size_t *n);
/* First value of var[:key] as a string (macro expansion). */
bool tx_lookup_first(struct waf_tx *tx, int var, const char *key, size_t klen, struct str *out);

/* engine.c: a number the way @eq/@lt and setvar read one (atoi-like) */
long long waf_num(const char *s, size_t n);
/* tx_vars.c: equality after ASCII case folding (names, scanned contents) */
bool waf_eq_fold(const char *a, const char *b, size_t n);
/* tx_vars.c: decimal text of v into b (room for 21 bytes); returns its length */
int waf_fmt_num(char *b, long long v);

/* tx_body.c */
int tx_process_body(struct waf_tx *tx, const char *body, size_t n);
int tx_add_args_urlencoded(struct waf_tx *tx, int var, const char *p, size_t n);

#endif
