/* The rule interpreter: runs a phase's rules against a transaction.
 *
 * Semantics follow ModSecurity v3 where CRS depends on them:
 *  - a rule inspects each value of each target after its transformations
 *    (with multiMatch: after every transformation that changed it);
 *  - setvar runs once for every matching value, whether or not the rest of
 *    the chain matches (CRS puts its score setvars on the last chain link);
 *  - ctl, msg, logdata, logging and the disruptive action run once, after
 *    the whole chain matched; MATCHED_VAR* describe the last match;
 *  - 'block' takes the phase's SecDefaultAction disruptive action; nothing
 *    disrupts unless SecRuleEngine is On. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <time.h>

#include "core/buf.h"
#include "waf/body.h"
#include "waf/detect/detect.h"
#include "waf/macro.h"
#include "waf/tx.h"
#include "waf/vars_table.h"

#define TX_ARENA_DEFAULT (64u << 20)
#define LOG_VALUE_MAX 100
#define LOG_PARAM_MAX 200
#define LOG_DATA_MAX 512



#define MATCHES_MAX 4096

/* ---- transformation cache -------------------------------------------------
 * Many rules apply the same transformation chain to the same value; the
 * cache maps (value pointer, length, chain) to the result. It lives in
 * thread-local storage across transactions and every entry carries the
 * epoch of the transaction that wrote it, so starting a transaction costs
 * nothing (no clearing) and an entry from another transaction never hits,
 * even when arenas reuse the same addresses. */
struct xcache_ent {
    uint64_t epoch;
    const char *in;
    uint32_t inlen;
    uint32_t chain_hash;
    uint8_t nx;
    uint8_t x[40];
    const char *out;
    uint32_t outlen;
};
#define XCACHE_SLOTS 4096u

struct xcache {
    uint64_t epoch;
    struct xcache_ent e[XCACHE_SLOTS];
};
static __thread struct xcache *tls_xc;
static __thread struct agg *tls_agg; /* per-target summaries, see agg_for */

static struct xcache_ent *xc_slot(const struct waf_tx *tx, const char *in, size_t inlen,
                                  uint32_t ch)
{
    if (!tls_xc || !tx->xc_epoch)
        return NULL;
    uintptr_t pv = (uintptr_t)in;
    uint32_t slot = (uint32_t)((pv >> 4) ^ (pv >> 17) ^ ch ^ inlen) & (XCACHE_SLOTS - 1);
    return &tls_xc->e[slot];
}

/* Per-value cache: the result of every chain prefix computed for one value
 * in this transaction, an array indexed by the program's prefix ids, in the
 * arena next to the value. It never thrashes whatever the number of values
 * (a 64 KB JSON body has hundreds). The input pointer and length are kept
 * so a slot whose value was replaced (TX variables) starts afresh. */
struct vscan;
struct vslot {
    const char *out; /* NULL: not computed yet */
    size_t len;
    struct vscan *sc; /* the literal scan of out, or NULL */
};
/* The shared scanners' result for one content: chains that leave a value
 * unchanged, or change it only in letter case (the scanners fold case),
 * share it, so a value is scanned once per distinct content rather than
 * once per chain. */
struct vscan {
    const char *p;
    size_t len;
    uint32_t done; /* scanners already run over it */
    uint8_t solo;  /* rules that tested it with their own small prefilter */
    int mintier;   /* smallest byte tier in the content, -1 until computed */
    uint64_t bits[];
};
#define VC_SCANS 6
/* A value meets a few dozen of the program's chain prefixes, not all of
 * them: idx maps a prefix id to a slot (0 = none yet), so starting a value
 * costs one byte per prefix, and the slots grow as chains reach it. */
#define VC_SLOTS_MAX 255
/* Chains reach the same (input, transformation) pair by different
 * prefixes: t:lowercase after an unchanged t:urlDecodeUni sees the value
 * itself, as does a chain that starts with t:lowercase. A few recent pairs
 * per value are remembered; the original value's "unchanged by x" answers
 * are a bit mask. */
#define VC_MEMO 8
struct xmemo {
    const char *in, *out;
    uint32_t inlen, outlen;
    uint8_t x;
};
struct vcache {
    const char *in;
    size_t inlen;
    uint64_t xmask; /* what can change the value (vc_mask), 0 until computed */
    struct vscan *raw;     /* the value's own scan record (vc_raw), or NULL */
    const uint64_t *raw_live; /* its bits, NULL when none is set */
    int raw_ct;            /* its tier */
    uint64_t same_known, same; /* bit x: t:x leaves the value itself unchanged */
    struct xmemo memo[VC_MEMO];
    unsigned nmemo, next_memo;
    struct vscan *scans[VC_SCANS];
    unsigned nscans, next_evict;
    struct vslot *slots;
    unsigned nslots, capslots;
    uint8_t idx[];
};

static struct vslot *vs_get(const struct vcache *vc, size_t pfx)
{
    uint8_t k = vc->idx[pfx];
    return k ? &vc->slots[k - 1] : NULL;
}

/* The slot of prefix pfx, made if needed; NULL when the value has used
 * VC_SLOTS_MAX prefixes (then results are simply not cached) or on OOM. */
static struct vslot *vs_put(struct waf_tx *tx, struct vcache *vc, size_t pfx)
{
    struct vslot *v = vs_get(vc, pfx);
    if (v || vc->nslots >= VC_SLOTS_MAX)
        return v;
    if (vc->nslots == vc->capslots) {
        unsigned nc = vc->capslots ? vc->capslots * 2 : 32;
        struct vslot *ns = arena_realloc(tx->a, vc->slots, vc->capslots * sizeof(*ns),
                                         nc * sizeof(*ns));
        if (!ns)
            return NULL;
        vc->slots = ns;
        vc->capslots = nc;
    }
    v = &vc->slots[vc->nslots++];
    *v = (struct vslot){NULL, 0, NULL};
    vc->idx[pfx] = (uint8_t)vc->nslots;
    return v;
}

static struct vcache *vc_get(struct waf_tx *tx, struct vcache **slot, const char *in,
                             size_t inlen)
{
    struct vcache *vc = *slot;
    if (vc && vc->in == in && vc->inlen == inlen)
        return vc;
    size_t np = tx->p->nprefix + 1; /* the last id: no transformation */
    vc = arena_alloc(tx->a, sizeof(*vc) + np);
    if (!vc)
        return NULL;
    vc->in = in;
    vc->inlen = inlen;
    vc->xmask = 0;
    vc->raw = NULL;
    vc->nscans = vc->next_evict = 0;
    vc->same_known = vc->same = 0;
    vc->nmemo = vc->next_memo = 0;
    vc->slots = NULL;
    vc->nslots = vc->capslots = 0;
    memset(vc->idx, 0, np);
    *slot = vc;
    return vc;
}

/* What can make a chain change vc's value: XB_ALWAYS and the OR of the
 * program's xbyte over its bytes (program.h), computed on first use. A
 * chain prefix k with !(vc_mask & pfx_trig[k]) gives the value back as it
 * is, and with only XB_CASE in common, folded to lower case. */
static uint64_t vc_mask(const struct waf_program *p, struct vcache *vc)
{
    if (!vc->xmask) {
        const unsigned char *u = (const unsigned char *)vc->in;
        uint64_t a0 = XB_ALWAYS, a1 = 0;
        size_t i = 0;
        for (; i + 2 <= vc->inlen; i += 2) {
            a0 |= p->xbyte[u[i]];
            a1 |= p->xbyte[u[i + 1]];
        }
        if (i < vc->inlen)
            a0 |= p->xbyte[u[i]];
        vc->xmask = a0 | a1;
    }
    return vc->xmask;
}

/* Applies a chain. With a per-value cache slot, starts from the longest
 * prefix already computed for this value and records every step: CRS
 * chains share prefixes (t:utf8toUnicode,t:urlDecodeUni starts many), so
 * each (value, prefix) is computed once per transaction. Without a slot
 * (XML nodes, RULE), the thread-local table below serves instead. */
/* t:x of (cur, len), a transformation of vc's value, through vc's memo */
static int vc_xform(struct waf_tx *tx, struct vcache *vc, uint8_t x, const char *cur, size_t len,
                    const char **out, size_t *outlen)
{
    bool orig = cur == vc->in && len == vc->inlen && x < 64;
    if (orig && ((vc->same_known >> x) & 1) && ((vc->same >> x) & 1)) {
        *out = cur;
        *outlen = len;
        return 0;
    }
    for (unsigned i = 0; i < vc->nmemo; i++) {
        const struct xmemo *m = &vc->memo[i];
        if (m->x == x && m->in == cur && m->inlen == len) {
            *out = m->out;
            *outlen = m->outlen;
            return 0;
        }
    }
    int rc = xform_apply(x, &tx->p->xenv, tx->a, cur, len, out, outlen);
    if (rc < 0)
        return rc;
    bool same = *out == cur && *outlen == len;
    if (orig) {
        vc->same_known |= 1ull << x;
        vc->same |= (uint64_t)same << x;
    }
    if (!same && len <= UINT32_MAX && *outlen <= UINT32_MAX) {
        struct xmemo *m = &vc->memo[vc->nmemo < VC_MEMO ? vc->nmemo++ : vc->next_memo];
        if (vc->nmemo == VC_MEMO && m == &vc->memo[vc->next_memo])
            vc->next_memo = (vc->next_memo + 1) % VC_MEMO;
        *m = (struct xmemo){cur, *out, (uint32_t)len, (uint32_t)*outlen, x};
    }
    return 0;
}

/* The first nx steps of r's chain (all of them: xform_chain). */
static int xform_chain_n(struct waf_tx *tx, const struct rule *r, size_t nx, const char *in,
                         size_t inlen, struct vcache *vc, const char **out, size_t *outlen)
{
    const uint8_t *x = r->eff_xforms;
    if (nx == 0) {
        *out = in;
        *outlen = inlen;
        return 0;
    }
    const char *cur = in;
    size_t curlen = inlen;
    if (vc && !(vc_mask(tx->p, vc) & tx->p->pfx_trig[r->eff_pfx[nx - 1]])) {
        *out = in; /* no step can change this value */
        *outlen = inlen;
        return 0;
    }
    if (vc) {
        size_t start = 0;
        for (size_t k = nx; k > 0; k--) {
            const struct vslot *v = vs_get(vc, r->eff_pfx[k - 1]);
            if (v && v->out) {
                cur = v->out;
                curlen = v->len;
                start = k;
                break;
            }
        }
        for (size_t i = start; i < nx; i++) {
            const char *o;
            size_t ol;
            if (vc_xform(tx, vc, x[i], cur, curlen, &o, &ol) < 0)
                return -1;
            cur = o;
            curlen = ol;
            struct vslot *v = vs_put(tx, vc, r->eff_pfx[i]);
            if (v)
                *v = (struct vslot){cur, curlen, NULL};
        }
        *out = cur;
        *outlen = curlen;
        return 0;
    }
    uint32_t h;
    h = 2166136261u;
    for (size_t i = 0; i < nx; i++) {
        h ^= x[i];
        h *= 16777619u;
        size_t plen = i + 1;
        struct xcache_ent *e = plen <= sizeof e->x ? xc_slot(tx, in, inlen, h) : NULL;
        if (e && e->epoch == tx->xc_epoch && e->in == in && e->inlen == inlen &&
            e->chain_hash == h && e->nx == plen && memcmp(e->x, x, plen) == 0) {
            cur = e->out;
            curlen = e->outlen;
            continue;
        }
        const char *o;
        size_t ol;
        if (xform_apply(x[i], &tx->p->xenv, tx->a, cur, curlen, &o, &ol) < 0)
            return -1;
        cur = o;
        curlen = ol;
        if (e && inlen <= UINT32_MAX && curlen <= UINT32_MAX) {
            e->epoch = tx->xc_epoch;
            e->in = in;
            e->inlen = (uint32_t)inlen;
            e->chain_hash = h;
            e->nx = (uint8_t)plen;
            memcpy(e->x, x, plen);
            e->out = cur;
            e->outlen = (uint32_t)curlen;
        }
    }
    *out = cur;
    *outlen = curlen;
    return 0;
}

static int xform_chain(struct waf_tx *tx, const struct rule *r, const char *in, size_t inlen,
                       struct vcache *vc, const char **out, size_t *outlen)
{
    return xform_chain_n(tx, r, r->eff_nxforms, in, inlen, vc, out, outlen);
}

static inline long long to_num(const char *s, size_t n) { return waf_num(s, n); }

/* ---- macro expansion -------------------------------------------------- */


/* The pieces (total bytes in all) copied one after another into the
 * arena, NUL-terminated; p NULL on OOM. */
static struct str join_pieces(struct waf_tx *tx, const struct str *piece, size_t np,
                              size_t total)
{
    char *s = arena_alloc(tx->a, total + 1);
    if (!s)
        return (struct str){NULL, 0};
    size_t at = 0;
    for (size_t i = 0; i < np; i++) {
        memcpy(s + at, piece[i].p, piece[i].n);
        at += piece[i].n;
    }
    s[at] = '\0';
    return str_make(s, at);
}

static struct str expand(struct waf_tx *tx, const struct macro *m)
{
    if (!m)
        return STR_LIT("");
    if (m->constant)
        return macro_const(m);
    if (m->nparts == 1 && m->parts[0].is_var && m->parts[0].var != V_RULE) {
        /* "%{tx.x}" alone: the value as stored (values are never written
         * in place, so it stays valid while the caller uses it) */
        struct str v;
        return tx_lookup_first(tx, m->parts[0].var, m->parts[0].text, m->parts[0].len, &v)
                   ? v
                   : STR_LIT("");
    }
    /* gather the pieces, then one arena copy (no heap buffer per setvar) */
    enum { MAXP = 32, MAXLEN = 1u << 20 };
    struct str piece[MAXP];
    char nums[MAXP][24];
    size_t np = 0, total = 0;
    for (size_t i = 0; i < m->nparts; i++) {
        const struct macro_part *p = &m->parts[i];
        struct str v = STR_LIT("");
        if (np == MAXP) {
            /* a very long template: fold what we have into one piece */
            piece[0] = join_pieces(tx, piece, np, total);
            if (!piece[0].p)
                return STR_LIT("");
            np = 1;
        }
        if (!p->is_var) {
            v = str_make(p->text, p->len);
        } else if (p->var == V_RULE) {
            const struct rule *r = tx->cur_rule;
            if (!r)
                continue;
            if (!strcasecmp(p->text, "id")) {
                v = str_make(nums[np], (size_t)waf_fmt_num(nums[np], r->a.id));
            } else if (!strcasecmp(p->text, "msg")) {
                tx->cur_rule = NULL; /* msg of a msg must not recurse */
                v = r->a.msg ? expand(tx, r->a.msg) : STR_LIT("");
                tx->cur_rule = r;
            } else if (!strcasecmp(p->text, "severity") && r->a.severity >= 0) {
                v = str_make(nums[np], (size_t)waf_fmt_num(nums[np], r->a.severity));
            } else if (!strcasecmp(p->text, "logdata")) {
                tx->cur_rule = NULL;
                v = r->a.logdata ? expand(tx, r->a.logdata) : STR_LIT("");
                tx->cur_rule = r;
            } else {
                continue;
            }
        } else if (!tx_lookup_first(tx, p->var, p->text, p->len, &v)) {
            continue;
        }
        if (v.n > MAXLEN - total)
            v.n = MAXLEN - total; /* a bounded result, like the old 1 MiB buffer */
        piece[np++] = v;
        total += v.n;
    }
    struct str out = join_pieces(tx, piece, np, total);
    return out.p ? out : STR_LIT("");
}

/* ---- operators ------------------------------------------------------------ */

long long waf_num(const char *s, size_t n)
{
    /* like atoi: optional blanks and sign, then digits; anything else stops */
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    long long v = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        if (v < 100000000000000000LL)
            v = v * 10 + (s[i] - '0');
        i++;
    }
    return neg ? -v : v;
}

/* TX:0 .. TX:9 */
static void set_capture(struct waf_tx *tx, int idx, const char *p, size_t n)
{
    char k = (char)('0' + idx);
    if (idx >= 0 && idx <= 9)
        map_set(tx, &tx->maps[V_TX], &k, 1, p, n);
}

static bool memmem_ci_word(const char *h, size_t hn, const char *w, size_t wn)
{
    if (wn == 0)
        return true;
    for (size_t i = 0; i + wn <= hn; i++) {
        if (memcmp(h + i, w, wn) != 0)
            continue;
        bool left = i == 0 || !isalnum((unsigned char)h[i - 1]);
        bool right = i + wn == hn || !isalnum((unsigned char)h[i + wn]);
        if (left && right)
            return true;
    }
    return false;
}

/* Runs the rule's operator; returns 1 match, 0 no match. *why is the
 * operator's own account for the log ("detected SQLi ..."), or NULL. */
/* lits: what the shared scanner found (lits_in): 1, one of the rule's
 * required literals is in v, so the per-rule literal prefilter would only
 * say yes; 2, none is, but a match at the start is possible, so only the
 * start-anchored pattern runs; else nothing is known. */
static int run_op(struct waf_tx *tx, const struct rule *r, const char *v, size_t n, bool capture,
                  int lits)
{
    bool lits_seen = lits == 1 || lits == 2;
    struct str param = {r->param, r->param_len};
    if (r->param_macro)
        param = expand(tx, r->param_macro);
    int m = 0;
    switch (r->op) {
    case OP_RX: {
        long caps[20];
        int nc = 0;
        struct rx *dyn = NULL;
        const struct rx *re = lits == 2 && r->rx_anch ? r->rx_anch : r->rx;
        if (r->param_macro) {
            char e[256];
            dyn = rx_compile(param.p, param.n, tx->p->pcre_match_limit, e, sizeof e);
            if (!dyn)
                break; /* an expanded pattern that does not compile matches nothing */
            re = dyn;
        }
        size_t po, pl;
        /* the prefilter proves most values cannot match: no PCRE call */
        int rc = (!dyn && !lits_seen && r->rx_pre && !pm_match(r->rx_pre, v, n, &po, &pl))
                     ? 0
                     : rx_match(re, v, n, capture ? caps : NULL, capture ? 10 : 0, &nc);
        rx_free(dyn);
        if (rc < 0) {
            tx_set_scalar_c(tx, V_MSC_PCRE_LIMITS_EXCEEDED, "1");
            map_set(tx, &tx->maps[V_TX], "msc_pcre_limits_exceeded", 24, "1", 1);
            rc = 0;
        }
        m = rc == 1;
        if (m && capture) {
            for (int i = 0; i < nc && i < 10; i++)
                if (caps[2 * i] >= 0)
                    set_capture(tx, i, v + caps[2 * i], (size_t)(caps[2 * i + 1] - caps[2 * i]));
        }
        break;
    }
    case OP_PM: case OP_PMFROMFILE: {
        size_t off, len;
        m = pm_match(r->pm, v, n, &off, &len);
        if (m && capture)
            set_capture(tx, 0, v + off, len);
        break;
    }
    case OP_STREQ:
        m = param.n == n && memcmp(param.p, v, n) == 0;
        break;
    case OP_CONTAINS:
        m = param.n == 0 || (n >= param.n && memmem(v, n, param.p, param.n) != NULL);
        if (m && capture)
            set_capture(tx, 0, param.p, param.n);
        break;
    case OP_CONTAINSWORD:
        m = memmem_ci_word(v, n, param.p, param.n);
        if (m && capture)
            set_capture(tx, 0, param.p, param.n);
        break;
    case OP_BEGINSWITH:
        m = n >= param.n && memcmp(v, param.p, param.n) == 0;
        if (m && capture)
            set_capture(tx, 0, param.p, param.n);
        break;
    case OP_ENDSWITH:
        m = n >= param.n && memcmp(v + n - param.n, param.p, param.n) == 0;
        if (m && capture)
            set_capture(tx, 0, param.p, param.n);
        break;
    case OP_WITHIN:
        m = n == 0 || (param.n >= n && memmem(param.p, param.n, v, n) != NULL);
        if (m && capture)
            set_capture(tx, 0, v, n);
        break;
    case OP_STRMATCH:
        m = param.n == 0 || (n >= param.n && memmem(v, n, param.p, param.n) != NULL);
        break;
    case OP_EQ: case OP_GE: case OP_GT: case OP_LE: case OP_LT: {
        /* a constant argument was read as a number at load */
        long long pnum = r->param_macro ? to_num(param.p, param.n) : r->param_num;
        switch (r->op) {
        case OP_EQ:
            m = to_num(v, n) == pnum;
            break;
        case OP_GE:
            m = to_num(v, n) >= pnum;
            break;
        case OP_GT:
            m = to_num(v, n) > pnum;
            break;
        case OP_LE:
            m = to_num(v, n) <= pnum;
            break;
        case OP_LT:
            m = to_num(v, n) < pnum;
            break;
        default:
            break;
        }
        break;
    }
    case OP_IPMATCH: case OP_IPMATCHFROMFILE:
        m = ipset_contains(r->ipset, v, n);
        break;
    case OP_VALIDATEBYTERANGE:
        m = byterange_violated(&r->br, v, n);
        break;
    case OP_VALIDATEURLENCODING:
        m = validate_url_encoding_fails(v, n);
        break;
    case OP_VALIDATEUTF8ENCODING:
        m = validate_utf8_fails(v, n);
        break;
    case OP_DETECTSQLI: {
        struct detect_result res;
        memset(&res, 0, sizeof res);
        m = detect_sqli(v, n, &res);
        if (m && capture)
            set_capture(tx, 0, res.fingerprint, strlen(res.fingerprint));
        break;
    }
    case OP_DETECTXSS: {
        struct detect_result res;
        memset(&res, 0, sizeof res);
        m = detect_xss(v, n, &res);
        break;
    }
    case OP_UNCONDITIONAL:
        m = 1;
        break;
    case OP_NOMATCH: case OP_GEOLOOKUP: case OP_RBL:
        m = 0;
        break;
    }
    return r->negate ? !m : m;
}

/* ---- actions ------------------------------------------------------------- */

static void do_setvar(struct waf_tx *tx, const struct setvar *sv)
{
    struct str name = expand(tx, sv->name);
    struct map *m = &tx->maps[sv->coll];
    if (sv->op == SV_DEL) {
        map_del(m, name.p, name.n);
        return;
    }
    struct str val = expand(tx, sv->value);
    if (sv->op == SV_SET) {
        map_set(tx, m, name.p, name.n, val.p, val.n);
        return;
    }
    const struct map_ent *e = map_get(m, name.p, name.n);
    long long cur = e ? to_num(e->val, e->vlen) : 0;
    long long d = to_num(val.p, val.n);
    long long res = sv->op == SV_ADD ? cur + d : cur - d;
    char b[32];
    int bl = waf_fmt_num(b, res);
    map_set(tx, m, name.p, name.n, b, (size_t)bl);
}

static bool rule_has_tag(const struct rule *r, int tag_id)
{
    if (!((r->tag_mask >> (tag_id & 63)) & 1))
        return false;
    for (size_t i = 0; i < r->a.ntags; i++)
        if (r->tag_ids[i] == tag_id)
            return true;
    return false;
}

static void *grow(struct waf_tx *tx, void *arr, size_t *cap, size_t n, size_t elsz)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    if (nc > 4096)
        return NULL; /* ctl lists are bounded: a rule set that needs more is broken */
    void *na = arena_realloc(tx->a, arr, *cap * elsz, nc * elsz);
    if (na)
        *cap = nc;
    return na;
}

static void do_ctl(struct waf_tx *tx, const struct ctl *c)
{
    switch (c->kind) {
    case CTL_RULE_ENGINE:
        tx->engine = (enum engine_mode)c->ival;
        break;
    case CTL_RULE_REMOVE_BY_ID: {
        struct id_range *rm = grow(tx, tx->rm, &tx->caprm, tx->nrm, sizeof(*rm));
        if (!rm)
            return;
        tx->rm = rm;
        tx->rm[tx->nrm++] = (struct id_range){c->lo, c->hi};
        break;
    }
    case CTL_RULE_REMOVE_BY_TAG: {
        if (c->tag_id < 0)
            return; /* no rule carries this tag */
        int *t = grow(tx, tx->rm_tags, &tx->caprm_tags, tx->nrm_tags, sizeof(int));
        if (!t)
            return;
        tx->rm_tags = t;
        tx->rm_tags[tx->nrm_tags++] = c->tag_id;
        break;
    }
    case CTL_RULE_REMOVE_TARGET_BY_ID: case CTL_RULE_REMOVE_TARGET_BY_TAG: {
        struct rm_target *t = grow(tx, tx->rmt, &tx->caprmt, tx->nrmt, sizeof(*t));
        if (!t)
            return;
        tx->rmt = t;
        tx->rmt[tx->nrmt++] = (struct rm_target){
            c->lo, c->hi, c->kind == CTL_RULE_REMOVE_TARGET_BY_TAG, c->tag_id, c->tgt};
        break;
    }
    case CTL_REQUEST_BODY_PROCESSOR:
        tx->body_proc = (enum body_proc)c->ival;
        tx->body_proc_forced = true;
        /* visible at once, as in ModSecurity: later phase-1 rules test it */
        tx_set_scalar_c(tx, V_REQBODY_PROCESSOR,
                        c->ival == BP_XML ? "XML" : c->ival == BP_JSON ? "JSON"
                        : c->ival == BP_MULTIPART ? "MULTIPART" : "URLENCODED");
        break;
    case CTL_REQUEST_BODY_ACCESS:
        tx->reqbody_access = c->ival != 0;
        break;
    case CTL_FORCE_REQUEST_BODY_VARIABLE:
        tx->force_reqbody_var = c->ival != 0;
        break;
    case CTL_RESPONSE_BODY_ACCESS:
        tx->resbody_access = c->ival != 0;
        break;
    case CTL_REQUEST_BODY_LIMIT:
        tx->reqbody_limit = (size_t)c->ival;
        break;
    default:
        /* audit/debug log settings: mamori has no audit log to steer */
        break;
    }
}

static bool rule_removed(const struct waf_tx *tx, const struct rule *r)
{
    for (size_t i = 0; i < tx->nrm; i++)
        if (r->a.id >= tx->rm[i].lo && r->a.id <= tx->rm[i].hi)
            return true;
    for (size_t i = 0; i < tx->nrm_tags; i++)
        if (rule_has_tag(r, tx->rm_tags[i]))
            return true;
    return false;
}

/* Runtime target exclusions (ctl:ruleRemoveTarget*) that apply to a rule,
 * worked out once per rule evaluation rather than once per value. */
struct excl_set {
    const struct target *t[64];
    size_t n;
};

static void excl_collect(const struct waf_tx *tx, const struct rule *top, struct excl_set *es)
{
    es->n = 0;
    for (size_t i = 0; i < tx->nrmt && es->n < 64; i++) {
        const struct rm_target *rt = &tx->rmt[i];
        bool applies = rt->by_tag ? rt->tag_id >= 0 && rule_has_tag(top, rt->tag_id)
                               : (top->a.id >= rt->lo && top->a.id <= rt->hi);
        if (applies)
            es->t[es->n++] = rt->tgt;
    }
}

static bool item_excluded(struct waf_tx *tx, const struct excl_set *es, const struct rule *r,
                          const struct item *it)
{
    for (size_t i = 0; i < r->nexcl; i++)
        if (tx_target_matches_item(tx, &r->excl[i], it))
            return true;
    for (size_t i = 0; i < es->n; i++)
        if (tx_target_matches_item(tx, es->t[i], it))
            return true;
    return false;
}

/* ---- logging ------------------------------------------------------------- */

static const char *op_display(const struct rule *r)
{
    static const char *names[] = {
        [OP_RX] = "Rx", [OP_PM] = "Pm", [OP_PMFROMFILE] = "PmFromFile", [OP_STREQ] = "StrEq",
        [OP_CONTAINS] = "Contains", [OP_CONTAINSWORD] = "ContainsWord",
        [OP_BEGINSWITH] = "BeginsWith", [OP_ENDSWITH] = "EndsWith", [OP_WITHIN] = "Within",
        [OP_EQ] = "Eq", [OP_GE] = "Ge", [OP_GT] = "Gt", [OP_LE] = "Le", [OP_LT] = "Lt",
        [OP_IPMATCH] = "IpMatch", [OP_IPMATCHFROMFILE] = "IpMatchFromFile",
        [OP_VALIDATEBYTERANGE] = "ValidateByteRange",
        [OP_VALIDATEURLENCODING] = "ValidateUrlEncoding",
        [OP_VALIDATEUTF8ENCODING] = "ValidateUtf8Encoding", [OP_DETECTSQLI] = "DetectSQLi",
        [OP_DETECTXSS] = "DetectXSS", [OP_UNCONDITIONAL] = "UnconditionalMatch",
        [OP_NOMATCH] = "NoMatch", [OP_STRMATCH] = "StrMatch",
        [OP_GEOLOOKUP] = "GeoLookup", [OP_RBL] = "Rbl",
    };
    return names[r->op];
}

/* Appends s for a log field: quotes and backslashes escaped, control and
 * non-ASCII bytes as \xHH, at most max bytes of input. */
static void log_escape(struct buf *b, const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c < 0x20 || c >= 0x7f) {
            buf_printf(b, "\\x%02x", c);
        } else {
            buf_putc(b, (char)c);
        }
    }
}

struct match_state {
    const char *var;   /* "ARGS:q" */
    const char *value; /* transformed value */
    size_t vlen;
    const struct rule *op_rule; /* rule whose operator matched last */
};

static void record_match(struct waf_tx *tx, const struct rule *r, const struct match_state *ms,
                         bool disruptive)
{
    if (tx->nm >= MATCHES_MAX)
        return;
    struct waf_match *nm = grow(tx, tx->m, &tx->capm, tx->nm, sizeof(*nm));
    if (!nm) {
        if (tx->capm < MATCHES_MAX && tx->nm == tx->capm)
            return;
    } else {
        tx->m = nm;
    }
    tx->cur_rule = r;
    struct str msg = expand(tx, r->a.msg);
    struct str data = expand(tx, r->a.logdata);
    struct buf b;
    buf_init(&b, 64 * 1024);
    if (disruptive)
        buf_printf(&b, "ModSecurity: Access denied with code %d (phase %d). ", tx->iv.status,
                   r->a.phase);
    else
        buf_puts(&b, "ModSecurity: Warning. ");
    const struct rule *opr = ms->op_rule ? ms->op_rule : r;
    buf_printf(&b, "Matched \"Operator `%s' with parameter `", op_display(opr));
    log_escape(&b, opr->param ? opr->param : "", opr->param_len, LOG_PARAM_MAX);
    buf_printf(&b, "' against variable `%s' (Value: `", ms->var ? ms->var : "");
    log_escape(&b, ms->value ? ms->value : "", ms->vlen, LOG_VALUE_MAX);
    buf_printf(&b, "' ) [file \"%s\"] [line \"%d\"] [id \"%d\"] [rev \"%s\"] [msg \"", r->file,
               r->line, r->a.id, r->a.rev ? r->a.rev : "");
    log_escape(&b, msg.p, msg.n, LOG_DATA_MAX);
    buf_puts(&b, "\"] [data \"");
    log_escape(&b, data.p, data.n, LOG_DATA_MAX);
    buf_puts(&b, "\"]");
    if (r->a.severity >= 0)
        buf_printf(&b, " [severity \"%d\"]", r->a.severity);
    buf_printf(&b, " [ver \"%s\"] [maturity \"%d\"] [accuracy \"%d\"]", r->a.ver ? r->a.ver : "",
               r->a.maturity > 0 ? r->a.maturity : 0, r->a.accuracy > 0 ? r->a.accuracy : 0);
    for (size_t i = 0; i < r->a.ntags; i++) {
        buf_puts(&b, " [tag \"");
        log_escape(&b, r->a.tags[i], strlen(r->a.tags[i]), LOG_DATA_MAX);
        buf_puts(&b, "\"]");
    }
    struct str host = tx->sset[V_SERVER_NAME] ? tx->sv[V_SERVER_NAME] : STR_LIT("");
    struct str uri = tx->sset[V_REQUEST_URI] ? tx->sv[V_REQUEST_URI] : STR_LIT("");
    buf_puts(&b, " [hostname \"");
    log_escape(&b, host.p, host.n, 256);
    buf_puts(&b, "\"] [uri \"");
    log_escape(&b, uri.p, uri.n, 1024);
    buf_printf(&b, "\"] [unique_id \"%s\"] [ref \"\"]", tx->sv[V_UNIQUE_ID].p);
    if (!nm) {
        buf_free(&b);
        return;
    }
    struct waf_match *m = &tx->m[tx->nm++];
    m->id = r->a.id;
    m->phase = r->a.phase;
    m->severity = r->a.severity;
    m->msg = msg.p;
    m->data = data.p;
    m->var = ms->var ? ms->var : "";
    m->value = ms->value ? arena_memdup(tx->a, ms->value, ms->vlen) : "";
    if (!m->value)
        m->value = "";
    m->line = arena_memdup(tx->a, b.p ? b.p : "", b.len);
    if (!m->line)
        m->line = "";
    m->disruptive = disruptive;
    buf_free(&b);
    if (r->a.severity >= 0 && (tx->highest_severity < 0 || r->a.severity < tx->highest_severity)) {
        tx->highest_severity = r->a.severity;
        tx_set_scalar_num(tx, V_HIGHEST_SEVERITY, r->a.severity);
    }
    if (tx->o.on_match)
        tx->o.on_match(tx->o.ud, m);
}

/* ---- rule evaluation ---------------------------------------------------- */

static const char *var_label(struct waf_tx *tx, const struct item *it)
{
    const char *vn = vars_info(it->var)->name;
    if (it->var == V_XML || vars_info(it->var)->kind == VT_COLLECTION) {
        if (it->var == V_XML) {
            size_t l = strlen(vn) + 1 + it->nlen + 1;
            char *s = arena_alloc(tx->a, l);
            if (s)
                snprintf(s, l, "%s:%.*s", vn, (int)it->nlen, it->name);
            return s ? s : vn;
        }
        size_t l = strlen(vn) + 1 + it->nlen + 1;
        char *s = arena_alloc(tx->a, l);
        if (!s)
            return vn;
        memcpy(s, vn, strlen(vn));
        s[strlen(vn)] = ':';
        memcpy(s + strlen(vn) + 1, it->name, it->nlen);
        s[l - 1] = '\0';
        return s;
    }
    return vn;
}

static void matched_vars_clear(struct waf_tx *tx)
{
    tx->c[V_MATCHED_VARS].n = 0;
    tx->sv[V_MATCHED_VAR] = STR_LIT("");
    tx->sv[V_MATCHED_VAR_NAME] = STR_LIT("");
}


/* The scan record for content (p, n) of value vc: one already made for the
 * same bytes (up to case), else a new one (the oldest is forgotten when
 * VC_SCANS are kept: it is only scanned again). */
static struct vscan *vscan_for(struct waf_tx *tx, struct vcache *vc, const char *p, size_t n)
{
    for (unsigned i = 0; i < vc->nscans; i++)
        if (vc->scans[i]->p == p && vc->scans[i]->len == n)
            return vc->scans[i];
    for (unsigned i = 0; i < vc->nscans; i++)
        if (vc->scans[i]->len == n && waf_eq_fold(vc->scans[i]->p, p, n))
            return vc->scans[i];
    struct vscan *sc = arena_calloc(tx->a, 1, sizeof(*sc) + tx->p->scan_words * sizeof(uint64_t));
    if (!sc)
        return NULL;
    sc->p = p;
    sc->len = n;
    sc->mintier = -1;
    if (vc->nscans < VC_SCANS) {
        vc->scans[vc->nscans++] = sc;
    } else {
        vc->scans[vc->next_evict] = sc;
        vc->next_evict = (vc->next_evict + 1) % VC_SCANS;
    }
    return sc;
}

/* The scan record of content tv of value vc, its scanner si run (all of
 * them when si == -1, none when si < -1) and its byte tier known. vs, when given, is the chain
 * slot tv came from (it remembers the record). NULL on OOM. */
static struct vscan *scan_content(struct waf_tx *tx, struct vcache *vc, struct vslot *vs,
                                  const char *tv, size_t tvl, int si, bool need_tier)
{
    const struct waf_program *p = tx->p;
    struct vscan *sc = vs ? vs->sc : NULL;
    if (!sc || vs->out != tv || vs->len != tvl) {
        sc = vscan_for(tx, vc, tv, tvl);
        if (!sc)
            return NULL;
        if (vs && (!vs->out || (vs->out == tv && vs->len == tvl))) {
            vs->out = tv;
            vs->len = tvl;
            vs->sc = sc;
        }
    }
    if (need_tier && sc->mintier < 0) {
        /* OR of one bit per tier, in four independent lanes (a running
         * minimum would be one long dependency chain) */
        const unsigned char *u = (const unsigned char *)tv;
        const uint8_t *tb = p->byte_tier_bit;
        unsigned a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        size_t i = 0;
        for (; i + 4 <= tvl; i += 4) {
            a0 |= tb[u[i]];
            a1 |= tb[u[i + 1]];
            a2 |= tb[u[i + 2]];
            a3 |= tb[u[i + 3]];
        }
        for (; i < tvl; i++)
            a0 |= tb[u[i]];
        unsigned bits = a0 | a1 | a2 | a3;
        sc->mintier = bits ? __builtin_ctz(bits) + 1 : 0xff;
    }
    if (si < -1)
        return sc;
    for (size_t k = si < 0 ? 0 : (size_t)si; k < (si < 0 ? p->nscan : (size_t)si + 1); k++)
        if (!(sc->done & (1u << k))) {
            mlit_scan(p->scan[k], tv, tvl, sc->bits + p->scan_off[k]);
            sc->done |= 1u << k;
        }
    return sc;
}

/* The highest tier <= allowed at which rule r has a scanner owner, or -1. */
static int rule_tier(const struct rule *r, int allowed)
{
    int k = r->scan_tiered ? allowed : 0;
    while (k >= 0 && r->scan[k] < 0)
        k--;
    return k;
}

/* The tier a content allows: every tier below its smallest byte tier. */
static int content_tier(const struct vscan *sc)
{
    return sc->mintier > RX_TIERS ? RX_TIERS : sc->mintier - 1;
}

static bool owner_bit(const struct waf_program *p, const struct rule *r, int k,
                      const uint64_t *bits)
{
    uint32_t own = r->scan_owner[k];
    return (bits[p->scan_off[r->scan[k]] + (own >> 6)] >> (own & 63)) & 1;
}

/* The shared literal scanners: 0 when the rule provably cannot match tv
 * (none of its required literals or @pm phrases occurs in it), 1 when one
 * does, 2 when none does but the requirement allows a match at the start
 * (only the anchored pattern can match), -1 when the rule has no scanner
 * or the value no cache. tv is a
 * transformation of vc's value; vs, when given, is the chain slot it came
 * from. The strongest assumption the value allows is used (rx_prefilter.h). */
#define SOLO_MIN_LEN 512
#define SOLO_MAX_LITS 8
#define SOLO_MAX 3

static int lits_in(struct waf_tx *tx, const struct rule *r, struct vcache *vc, struct vslot *vs,
                   const char *tv, size_t tvl)
{
    int k = vc ? rule_tier(r, RX_TIERS) : -1;
    if (k < 0)
        return -1;
    /* the bytes first: a value whose bytes rule out every tier the rule
     * has is not worth scanning */
    struct vscan *sc = scan_content(tx, vc, vs, tv, tvl, k > 0 ? -2 : r->scan[k], k > 0);
    if (!sc)
        return -1;
    if (k > 0) {
        k = rule_tier(r, content_tier(sc));
        if (k < 0)
            return -1;
    }
    /* a long content that few rules read (REQUEST_BODY, say): a rule with
     * a handful of plain literals tests them itself, which is cheaper than
     * the whole set's scan; after SOLO_MAX such tests the shared scan is */
    if (k == 0 && tvl >= SOLO_MIN_LEN && r->rx_pre && pm_count(r->rx_pre) <= SOLO_MAX_LITS &&
        !(sc->done & (1u << r->scan[0])) && sc->solo < SOLO_MAX) {
        sc->solo++;
        size_t po, pl;
        return pm_match(r->rx_pre, tv, tvl, &po, &pl) ? 1 : 0;
    }
    sc = scan_content(tx, vc, vs, tv, tvl, r->scan[k], false);
    if (!sc)
        return -1;
    if (owner_bit(tx->p, r, k, sc->bits))
        return 1;
    return r->scan_bos[k] ? 2 : 0;
}

/* ---- per-target literal summaries ------------------------------------------
 * Most rules find none of their literals in any value of a target. The
 * summary of (target, chain) ORs the scan bits of every value's
 * transformed content, per tier the content allows; a rule whose owner
 * bit is clear in all of them skips the target without visiting its values
 * (one check instead of one per value). Built once per phase and
 * collection change, on the first rule that asks. */
#define AGG_SLOTS 512u
struct agg {
    uint64_t key;
    uint64_t epoch; /* the transaction (xc_epoch) the entry belongs to */
    uint32_t gen;
    bool unknown;  /* some value could not be scanned: never skip */
    uint8_t tiers; /* bit t: some content allows exactly tier t */
    uint8_t live;  /* bit t: tb[t] holds bits (else tier t's bits are all zero) */
    uint64_t *tb[RX_TIERS + 1]; /* scan_words each, for the tiers with bits */
};

/* Adds a content of tier ct with scan bits src (NULL: none set) to g.
 * Most benign contents hold no literal at all: then only the tier is
 * recorded and no words are touched. */
static bool agg_or(struct waf_tx *tx, struct agg *g, int ct, const uint64_t *src)
{
    size_t words = tx->p->scan_words;
    g->tiers |= (uint8_t)(1u << ct);
    if (!src)
        return true;
    if (!(g->live & (1u << ct))) {
        if (!g->tb[ct] && !(g->tb[ct] = arena_alloc(tx->a, words * sizeof(uint64_t))))
            return false;
        memcpy(g->tb[ct], src, words * sizeof(uint64_t));
        g->live |= (uint8_t)(1u << ct);
        return true;
    }
    for (size_t w = 0; w < words; w++)
        g->tb[ct][w] |= src[w];
    return true;
}

/* sc's bits, or NULL when none is set */
static const uint64_t *live_bits(const struct waf_program *p, const struct vscan *sc)
{
    uint64_t any = 0;
    for (size_t w = 0; w < p->scan_words; w++)
        any |= sc->bits[w];
    return any ? sc->bits : NULL;
}

/* The scan record of vc's value itself, all scanners run and its tier
 * known, kept in vc with its tier and live bits; NULL on OOM. */
static struct vscan *vc_raw(struct waf_tx *tx, struct vcache *vc)
{
    if (!vc->raw) {
        struct vscan *sc = scan_content(tx, vc, vs_put(tx, vc, tx->p->nprefix), vc->in,
                                        vc->inlen, -1, true);
        if (!sc)
            return NULL;
        vc->raw_ct = content_tier(sc);
        vc->raw_live = live_bits(tx->p, sc);
        vc->raw = sc;
    }
    return vc->raw;
}

/* The summary of target t under r's chain; with mm (multiMatch), of the
 * value and of every step that changed it. */
static const struct agg *agg_for(struct waf_tx *tx, const struct rule *r, bool mm,
                                 const struct target *t, const struct item *items, size_t n)
{
    const struct waf_program *p = tx->p;
    size_t nx = r->eff_nxforms;
    size_t pfx = nx ? r->eff_pfx[nx - 1] : p->nprefix;
    uint64_t key = (uint64_t)t->cache_slot << 32 | (uint64_t)mm << 31 | pfx;
    if (!p->nscan || pfx >= 1u << 31)
        return NULL;
    if (!tx->agg) {
        /* one table per thread, entries tagged with the transaction's
         * epoch: nothing to clear when a transaction starts */
        if (tx->xc_epoch && !tls_agg)
            tls_agg = calloc(AGG_SLOTS, sizeof(struct agg));
        tx->agg = tx->xc_epoch && tls_agg ? tls_agg
                                          : arena_calloc(tx->a, AGG_SLOTS, sizeof(struct agg));
        if (!tx->agg)
            return NULL;
    }
    struct agg *g = NULL;
    for (uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 55), probes = 0; probes < 16;
         i = (i + 1) & (AGG_SLOTS - 1), probes++) {
        struct agg *e = &tx->agg[i];
        if (e->epoch != tx->xc_epoch || e->key == key || e->key == 0 || e->gen != tx->coll_gen) {
            g = e;
            break;
        }
    }
    if (!g)
        return NULL;
    if (g->epoch == tx->xc_epoch && g->key == key && g->gen == tx->coll_gen)
        return g;
    if (g->key != key || g->epoch != tx->xc_epoch)
        memset(g->tb, 0, sizeof g->tb); /* another target's words stay with it */
    g->key = key;
    g->epoch = tx->xc_epoch;
    g->gen = tx->coll_gen;
    g->unknown = false;
    g->tiers = g->live = 0;
    for (size_t k = 0; k < n && !g->unknown; k++) {
        const struct item *it = &items[k];
        struct vcache *vc = it->vc ? vc_get(tx, it->vc, it->val, it->vlen) : NULL;
        if (!vc) {
            g->unknown = true;
            break;
        }
        if (!(vc_mask(p, vc) & p->pfx_trig[pfx] & ~XB_CASE)) {
            /* every step leaves the value alone, up to case (and the
             * scanners fold case): its contents share the value's scan */
            if (!vc_raw(tx, vc) || !agg_or(tx, g, vc->raw_ct, vc->raw_live))
                g->unknown = true;
            continue;
        }
        if (mm) {
            /* the value, then each step that changed it, in one walk */
            const char *cur = it->val;
            size_t curlen = it->vlen;
            struct vscan *sc = scan_content(tx, vc, vs_put(tx, vc, p->nprefix), cur, curlen, -1,
                                            true);
            g->unknown = !sc || !agg_or(tx, g, content_tier(sc), live_bits(p, sc));
            for (size_t x = 0; x < nx && !g->unknown; x++) {
                struct vslot *v = vs_put(tx, vc, r->eff_pfx[x]);
                const char *o;
                size_t ol;
                if (v && v->out) {
                    o = v->out;
                    ol = v->len;
                } else {
                    if (vc_xform(tx, vc, r->eff_xforms[x], cur, curlen, &o, &ol) < 0) {
                        g->unknown = true;
                        break;
                    }
                    if (v)
                        *v = (struct vslot){o, ol, NULL};
                }
                if (o != cur || ol != curlen) {
                    sc = scan_content(tx, vc, v, o, ol, -1, true);
                    g->unknown = !sc || !agg_or(tx, g, content_tier(sc), live_bits(p, sc));
                }
                cur = o;
                curlen = ol;
            }
            continue;
        }
        const char *tv;
        size_t tvl;
        if (xform_chain_n(tx, r, nx, it->val, it->vlen, vc, &tv, &tvl) < 0) {
            g->unknown = true;
            break;
        }
        struct vscan *sc = scan_content(tx, vc, vs_put(tx, vc, pfx), tv, tvl, -1, true);
        if (!sc || !agg_or(tx, g, content_tier(sc), live_bits(p, sc))) {
            g->unknown = true;
            break;
        }
    }
    if (tx->coll_gen != g->gen)
        g->key = 0; /* resolving or transforming changed a collection */
    return g;
}

/* The summary of a rule's whole target list (list_slot): the union of
 * its targets' summaries. XML contributes nothing while there is no XML
 * body; any other target that cannot be summarised makes it unknown. */
struct lagg {
    uint32_t gen;
    struct agg a;
};

static const struct agg *lagg_for(struct waf_tx *tx, const struct rule *r)
{
    const struct waf_program *p = tx->p;
    if (!r->list_slot || r->list_slot > p->nlist_ids || !p->nscan)
        return NULL;
    if (!tx->lagg) {
        tx->lagg = arena_calloc(tx->a, p->nlist_ids, sizeof(struct lagg));
        if (!tx->lagg)
            return NULL;
    }
    struct lagg *l = &tx->lagg[r->list_slot - 1];
    if (l->gen == tx->coll_gen && l->a.key)
        return &l->a;
    l->a.key = 1; /* built at least once */
    l->a.unknown = false;
    l->a.tiers = l->a.live = 0;
    uint32_t gen = tx->coll_gen;
    for (size_t ti = 0; ti < r->ntargets && !l->a.unknown; ti++) {
        const struct target *t = &r->targets[ti];
        if (t->var == V_XML && !tx->xml)
            continue; /* resolves to nothing */
        size_t start = tx->nitems;
        const struct item *got;
        size_t nit;
        int rc = tx_resolve_items(tx, t, &got, &nit);
        tx->nitems = start;
        if (rc != 1) {
            l->a.unknown = true;
            break;
        }
        if (!nit)
            continue;
        const struct agg *g = agg_for(tx, r, r->a.multimatch, t, got, nit);
        if (!g || g->gen != gen || g->unknown) {
            l->a.unknown = true;
            break;
        }
        for (int ct = 0; ct <= RX_TIERS && !l->a.unknown; ct++)
            if ((g->tiers & (1u << ct)) &&
                !agg_or(tx, &l->a, ct, (g->live & (1u << ct)) ? g->tb[ct] : NULL))
                l->a.unknown = true;
    }
    if (tx->coll_gen != gen)
        return NULL; /* a collection changed while summarising */
    l->gen = gen;
    return &l->a;
}

/* False when no value of the summarised target can match r. */
static bool agg_may_match(const struct waf_tx *tx, const struct rule *r, const struct agg *g)
{
    if (g->unknown)
        return true;
    for (int ct = 0; ct <= RX_TIERS; ct++) {
        if (!(g->tiers & (1u << ct)))
            continue;
        int k = rule_tier(r, ct);
        if (k < 0 || r->scan_bos[k] ||
            ((g->live & (1u << ct)) && owner_bit(tx->p, r, k, g->tb[ct])))
            return true;
    }
    return false;
}

/* The rule's operator on tv (see lits_in for vc and vs): the scanner
 * answers when it can prove there is no match. */
static bool op_on(struct waf_tx *tx, const struct rule *r, struct vcache *vc, struct vslot *vs,
                  const char *tv, size_t tvl)
{
    int lits = lits_in(tx, r, vc, vs, tv, tvl);
    if (lits == 0)
        return r->negate; /* the operator cannot match this value */
    return run_op(tx, r, tv, tvl, r->a.capture, lits);
}

/* Evaluates one rule (one link of a chain). Returns true if it matched. */
static bool eval_link(struct waf_tx *tx, const struct rule *top, const struct rule *r,
                      struct match_state *ms)
{
    bool any = false;
    tx->cur_rule = top;
    if (r->unconditional) {
        for (size_t i = 0; i < r->a.nsetvars; i++)
            do_setvar(tx, &r->a.setvars[i]);
        return true;
    }
    /* the literals occur in no value of any target: nothing can match */
    if (r->list_slot && !r->negate && rule_tier(r, RX_TIERS) >= 0) {
        const struct agg *g = lagg_for(tx, r);
        if (g && !agg_may_match(tx, r, g))
            return false;
    }
    size_t base = tx->nitems;
    struct excl_set es;
    excl_collect(tx, top, &es);
    for (size_t ti = 0; ti < r->ntargets; ti++) {
        const struct target *t = &r->targets[ti];
        size_t start = tx->nitems;
        const struct item *got; /* a stable array, or NULL: tx->items[start..] */
        size_t nit;
        if (tx_resolve_items(tx, t, &got, &nit) < 0) {
            tx->nitems = start;
            continue;
        }
        /* a rule whose literals occur in no value of the target skips it */
        if (got && nit && !r->negate && rule_tier(r, RX_TIERS) >= 0 && !t->count) {
            const struct agg *g = agg_for(tx, r, r->a.multimatch, t, got, nit);
            if (g && g->gen == tx->coll_gen && !agg_may_match(tx, r, g)) {
                tx->nitems = start;
                continue;
            }
        }
        if (t->count) {
            size_t cnt = 0;
            for (size_t k = 0; k < nit; k++)
                if (!(r->nexcl || es.n) ||
                    !item_excluded(tx, &es, r, got ? &got[k] : &tx->items[start + k]))
                    cnt++;
            tx->nitems = start;
            char num[32];
            int nl = waf_fmt_num(num, (long long)cnt);
            char *nv = arena_memdup(tx->a, num, (size_t)nl);
            if (!nv)
                continue;
            struct item ci = {t->var, t->sel ? t->sel : "", t->sel ? (uint32_t)strlen(t->sel) : 0,
                              nv, (uint32_t)nl, NULL};
            if (run_op(tx, r, nv, (size_t)nl, r->a.capture, 0)) {
                any = true;
                const char *label = var_label(tx, &ci);
                ms->var = label;
                ms->value = nv;
                ms->vlen = (size_t)nl;
                ms->op_rule = r;
                tx_set_scalar(tx, V_MATCHED_VAR, nv, (size_t)nl);
                tx_set_scalar_c(tx, V_MATCHED_VAR_NAME, label);
                tx_coll_add(tx, V_MATCHED_VARS, label, strlen(label), nv, (size_t)nl);
                for (size_t i = 0; i < r->a.nsetvars; i++)
                    do_setvar(tx, &r->a.setvars[i]);
            }
            continue;
        }
        for (size_t k = 0; k < nit; k++) {
            /* a cached array is stable; tx->items is copied from, as running
             * the operator may push items and move it */
            struct item copy;
            const struct item *itp = got ? &got[k] : &copy;
            if (!got)
                copy = tx->items[start + k];
            if ((r->nexcl || es.n) && item_excluded(tx, &es, r, itp))
                continue;
            const char *tv;
            size_t tvl;
            bool matched = false;
            struct vcache *vc = itp->vc ? vc_get(tx, itp->vc, itp->val, itp->vlen) : NULL;
            if (r->a.multimatch) {
                /* the value, then every transformation step that changed it;
                 * steps come from (and fill) the value's chain cache */
                const char *cur = itp->val;
                size_t curlen = itp->vlen;
                matched = op_on(tx, r, vc, vc ? vs_put(tx, vc, tx->p->nprefix) : NULL, cur, curlen);
                tv = cur;
                tvl = curlen;
                /* no step can change the value: nothing more to inspect */
                size_t nx = r->eff_nxforms;
                if (vc && nx && !(vc_mask(tx->p, vc) & tx->p->pfx_trig[r->eff_pfx[nx - 1]]))
                    nx = 0;
                for (size_t x = 0; x < nx && !matched; x++) {
                    const char *o;
                    size_t ol;
                    struct vslot *v = vc ? vs_put(tx, vc, r->eff_pfx[x]) : NULL;
                    if (v && v->out) {
                        o = v->out;
                        ol = v->len;
                    } else {
                        if ((vc ? vc_xform(tx, vc, r->eff_xforms[x], cur, curlen, &o, &ol)
                                : xform_apply(r->eff_xforms[x], &tx->p->xenv, tx->a, cur, curlen,
                                              &o, &ol)) < 0)
                            break;
                        if (v)
                            *v = (struct vslot){o, ol, NULL};
                    }
                    bool changed = ol != curlen || (o != cur && memcmp(o, cur, ol) != 0);
                    cur = o;
                    curlen = ol;
                    if (changed) {
                        matched = op_on(tx, r, vc, v, cur, curlen);
                        tv = cur;
                        tvl = curlen;
                    }
                }
            } else {
                if (xform_chain(tx, r, itp->val, itp->vlen, vc, &tv, &tvl) < 0)
                    continue;
                struct vslot *vs =
                    vc ? vs_put(tx, vc, r->eff_nxforms ? r->eff_pfx[r->eff_nxforms - 1]
                                                       : tx->p->nprefix)
                       : NULL;
                matched = op_on(tx, r, vc, vs, tv, tvl);
            }
            if (!matched)
                continue;
            any = true;
            const char *label = var_label(tx, itp);
            ms->var = label;
            ms->value = tv;
            ms->vlen = tvl;
            ms->op_rule = r;
            tx_set_scalar(tx, V_MATCHED_VAR, tv, tvl);
            tx_set_scalar_c(tx, V_MATCHED_VAR_NAME, label);
            tx_coll_add(tx, V_MATCHED_VARS, label, strlen(label), tv, tvl);
            for (size_t i = 0; i < r->a.nsetvars; i++)
                do_setvar(tx, &r->a.setvars[i]);
        }
        tx->nitems = start;
    }
    tx->nitems = base;
    return any;
}

enum flow { FLOW_NEXT, FLOW_STOP_PHASE, FLOW_STOP_ALL };

static enum flow run_rule(struct waf_tx *tx, const struct rule *r, int *skip_to, int *skip_n)
{
    struct match_state ms = {0};
    matched_vars_clear(tx);
    for (const struct rule *c = r; c; c = c->chain_next) {
        if (!eval_link(tx, r, c, &ms)) {
            matched_vars_clear(tx);
            return FLOW_NEXT;
        }
    }
    /* the whole chain matched: post-match actions, innermost link first */
    const struct rule *links[64];
    size_t nl = 0;
    for (const struct rule *c = r; c && nl < 64; c = c->chain_next)
        links[nl++] = c;
    for (size_t i = nl; i-- > 0;)
        for (size_t k = 0; k < links[i]->a.nctls; k++)
            do_ctl(tx, &links[i]->a.ctls[k]);
    bool disrupt = false;
    enum flow fl = FLOW_NEXT;
    if (tx->engine == ENGINE_ON) {
        switch (r->eff_disrupt) {
        case D_DENY: case D_DROP: case D_REDIRECT: case D_PROXY:
            disrupt = true;
            tx->iv.disrupt = true;
            tx->iv.rule_id = r->a.id;
            tx->iv.status = r->eff_status ? r->eff_status
                                          : (r->eff_disrupt == D_REDIRECT ? 302 : 403);
            tx->iv.action = r->eff_disrupt == D_DENY ? "deny"
                            : r->eff_disrupt == D_DROP ? "drop"
                            : r->eff_disrupt == D_REDIRECT ? "redirect" : "proxy";
            tx->iv.url = r->a.redirect;
            tx->disrupted = true;
            fl = FLOW_STOP_ALL;
            break;
        case D_ALLOW:
            if (r->a.allow_phase_only) {
                fl = FLOW_STOP_PHASE;
            } else if (r->a.allow_request_only) {
                tx->allow_request = true;
                fl = FLOW_STOP_PHASE;
            } else {
                tx->allow_all = true;
                fl = FLOW_STOP_PHASE;
            }
            break;
        default:
            break;
        }
    }
    if (r->eff_log || disrupt)
        record_match(tx, r, &ms, disrupt);
    if (r->a.skip_after)
        *skip_to = r->skip_to;
    else if (r->a.skip)
        *skip_n = r->a.skip;
    return fl;
}

static void run_phase(struct waf_tx *tx, int phase)
{
    /* resolved targets and their summaries stay valid across phases: every
     * change to a cacheable collection goes through tx_coll_add, which
     * moves coll_gen (a GET's phase 2 reuses what phase 1 built) */
    /* 'allow' skips every later phase but logging */
    if (tx->engine == ENGINE_OFF || tx->disrupted || (tx->allow_all && phase != 5))
        return;
    if (tx->allow_request && phase <= 2)
        return;
    const struct waf_program *p = tx->p;
    size_t n = p->nphase[phase];
    struct rule *const *rules = p->phase_rules[phase];
    for (size_t i = 0; i < n; i++) {
        const struct rule *r = rules[i];
        if (r->marker || rule_removed(tx, r))
            continue;
        int skip_to = -1, skip_n = 0;
        enum flow fl = run_rule(tx, r, &skip_to, &skip_n);
        if (fl != FLOW_NEXT)
            return;
        if (skip_to >= 0) {
            i = (size_t)skip_to - 1;
        } else {
            /* skip:N counts rules (chains as one), not markers */
            while (skip_n > 0 && i + 1 < n) {
                i++;
                if (!rules[i]->marker)
                    skip_n--;
            }
        }
        if (tx->engine == ENGINE_OFF)
            return;
    }
}

/* ---- public API ----------------------------------------------------------- */

static void gen_unique_id(char *out, size_t n)
{
    static __thread unsigned long long ctr;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "%llx%09ld%06llx", (unsigned long long)ts.tv_sec, ts.tv_nsec,
             (++ctr) & 0xffffffULL);
}

static __thread struct arena *tls_spare;
static __thread size_t tls_spare_cap;

/* Per-thread caches (transformation cache, spare arena) are released when
 * their thread exits, through a pthread key destructor. */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_release(void *unused)
{
    (void)unused;
    free(tls_xc);
    tls_xc = NULL;
    free(tls_agg);
    tls_agg = NULL;
    arena_free(tls_spare);
    tls_spare = NULL;
}

static void tls_key_init(void) { pthread_key_create(&tls_key, tls_release); }

static void tls_register(void)
{
    pthread_once(&tls_once, tls_key_init);
    pthread_setspecific(tls_key, (void *)1);
}

void waf_thread_cleanup(void) { tls_release(NULL); }

struct waf_tx *waf_tx_new(const struct waf_program *p, const struct waf_tx_opts *o)
{
    struct waf_tx *tx = calloc(1, sizeof(*tx));
    if (!tx)
        return NULL;
    if (o)
        tx->o = *o;
    /* one spare arena per thread: most transactions reuse the previous one's
     * memory instead of going back to malloc (and the kernel) */
    size_t cap = tx->o.arena_cap ? tx->o.arena_cap : TX_ARENA_DEFAULT;
    if (tls_spare && tls_spare_cap == cap) {
        tx->a = tls_spare;
        tls_spare = NULL;
    } else {
        tx->a = arena_new(cap);
    }
    tx->arena_cap = cap;
    if (!tls_xc) {
        tls_xc = calloc(1, sizeof(*tls_xc));
        tls_register();
    }
    if (tls_xc)
        tx->xc_epoch = ++tls_xc->epoch;
    if (!tx->a) {
        free(tx);
        return NULL;
    }
    tx->p = p;
    tx->engine = p->engine;
    tx->reqbody_access = p->reqbody_access;
    tx->resbody_access = p->resbody_access;
    tx->reqbody_limit = p->reqbody_limit;
    tx->highest_severity = -1;
    /* ModSecurity v3 "anchored" variables always exist, empty until set:
     * a rule on REQUEST_BASENAME of "/" sees one empty value, not none. */
    static const int anchored[] = {
        V_ARGS_COMBINED_SIZE, V_AUTH_TYPE, V_FILES_COMBINED_SIZE, V_FULL_REQUEST,
        V_FULL_REQUEST_LENGTH, V_INBOUND_DATA_ERROR, V_MATCHED_VAR, V_MATCHED_VAR_NAME,
        V_MULTIPART_BOUNDARY_QUOTED, V_MULTIPART_BOUNDARY_WHITESPACE, V_MULTIPART_CRLF_LF_LINES,
        V_MULTIPART_DATA_AFTER, V_MULTIPART_DATA_BEFORE, V_MULTIPART_FILE_LIMIT_EXCEEDED,
        V_MULTIPART_HEADER_FOLDING, V_MULTIPART_INVALID_HEADER_FOLDING, V_MULTIPART_INVALID_PART,
        V_MULTIPART_INVALID_QUOTING, V_MULTIPART_LF_LINE, V_MULTIPART_MISSING_SEMICOLON,
        V_MULTIPART_STRICT_ERROR, V_MULTIPART_UNMATCHED_BOUNDARY, V_OUTBOUND_DATA_ERROR,
        V_PATH_INFO, V_QUERY_STRING, V_REMOTE_ADDR, V_REMOTE_HOST, V_REMOTE_PORT,
        V_REQBODY_ERROR, V_REQBODY_ERROR_MSG, V_REQBODY_PROCESSOR_ERROR,
        V_REQBODY_PROCESSOR_ERROR_MSG, V_REQBODY_PROCESSOR, V_REQUEST_BASENAME, V_REQUEST_BODY,
        V_REQUEST_BODY_LENGTH, V_REQUEST_FILENAME, V_REQUEST_LINE, V_REQUEST_METHOD,
        V_REQUEST_PROTOCOL, V_REQUEST_URI, V_REQUEST_URI_RAW, V_RESPONSE_BODY,
        V_RESPONSE_CONTENT_LENGTH, V_RESPONSE_CONTENT_TYPE, V_RESPONSE_PROTOCOL,
        V_RESPONSE_STATUS, V_SERVER_ADDR, V_SERVER_NAME, V_SERVER_PORT, V_SESSIONID,
        V_UNIQUE_ID, V_URLENCODED_ERROR, V_USERID,
    };
    for (size_t i = 0; i < sizeof anchored / sizeof anchored[0]; i++) {
        tx->sv[anchored[i]] = STR_LIT("");
        tx->sset[anchored[i]] = true;
    }
    char uid[64];
    if (tx->o.unique_id)
        snprintf(uid, sizeof uid, "%s", tx->o.unique_id);
    else
        gen_unique_id(uid, sizeof uid);
    tx_set_scalar_c(tx, V_UNIQUE_ID, uid);
    tx_set_scalar_c(tx, V_REMOTE_ADDR, tx->o.client_ip ? tx->o.client_ip : "127.0.0.1");
    tx_set_scalar_c(tx, V_REMOTE_HOST, tx->o.client_ip ? tx->o.client_ip : "127.0.0.1");
    tx_set_scalar_num(tx, V_REMOTE_PORT, tx->o.client_port);
    tx_set_scalar_c(tx, V_SERVER_ADDR, tx->o.server_ip ? tx->o.server_ip : "127.0.0.1");
    tx_set_scalar_num(tx, V_SERVER_PORT, tx->o.server_port ? tx->o.server_port : 80);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tx_set_scalar_num(tx, V_TIME_EPOCH, (long long)now);
    tx_set_scalar_num(tx, V_TIME_YEAR, tm.tm_year + 1900);
    tx_set_scalar_num(tx, V_TIME_MON, tm.tm_mon);
    tx_set_scalar_num(tx, V_TIME_DAY, tm.tm_mday);
    tx_set_scalar_num(tx, V_TIME_HOUR, tm.tm_hour);
    tx_set_scalar_num(tx, V_TIME_MIN, tm.tm_min);
    tx_set_scalar_num(tx, V_TIME_SEC, tm.tm_sec);
    tx_set_scalar_num(tx, V_TIME_WDAY, tm.tm_wday);
    char tb[32];
    snprintf(tb, sizeof tb, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    tx_set_scalar_c(tx, V_TIME, tb);
    tx_set_scalar_c(tx, V_DURATION, "0");
    return tx;
}

void waf_tx_free(struct waf_tx *tx)
{
    if (!tx)
        return;
    if (tx->xml)
        body_xml_free(tx->xml);
    if (!tls_spare) {
        arena_reset(tx->a);
        tls_spare = tx->a;
        tls_spare_cap = tx->arena_cap;
    } else {
        arena_free(tx->a);
    }
    free(tx);
}

void engine_run_phase(struct waf_tx *tx, int phase);
void engine_run_phase(struct waf_tx *tx, int phase) { run_phase(tx, phase); }

bool waf_tx_intervention(const struct waf_tx *tx, struct waf_intervention *out)
{
    *out = tx->iv;
    return tx->iv.disrupt;
}

const struct waf_match *waf_tx_matches(const struct waf_tx *tx, size_t *n)
{
    *n = tx->nm;
    return tx->m;
}

long waf_tx_get_tx_num(const struct waf_tx *tx, const char *name)
{
    const struct map_ent *e = map_get(&tx->maps[V_TX], name, strlen(name));
    return e ? (long)to_num(e->val, e->vlen) : 0;
}
