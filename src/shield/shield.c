/* The ordered check the proxy runs before the WAF (see shield.h).
 *
 * Order: operator allow list (trusted: skips bans, deny lists, rate limits
 * and the challenge, but not per-path allowlists) -> ban table -> deny
 * lists (operator, Tor, proxies) -> per-path allowlists -> rate limits ->
 * challenge.
 *
 * IP lists can be swapped while workers run. Each worker thread keeps, in
 * thread-local storage, references to the lists of the generation it last
 * saw; the hot path reads one atomic generation number and, only when it
 * changed, takes the shield's mutex to pick up the new lists and drop the
 * old ones. A replaced list is freed when the last thread has moved on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shield/shield_int.h"

#define PATH_SLOTS 128 /* > 2 * SHIELD_MAX_PATH_RULES: open addressing */
#define PATH_NORM_MAX 4096 /* longer paths cannot be checked: refused */

struct path_rule {
    char *prefix;
    size_t n;
    struct shield_iplist *list;
};

struct rate_rule {
    struct shield_ratelimit *rl;
    enum shield_rate_key key;
    char *prefix;
    size_t prefix_n;
};

struct shield {
    pthread_mutex_t mu; /* guards lists[], paths[].list and gen changes */
    atomic_uint_fast64_t gen;
    struct shield_iplist *lists[SHIELD_LIST_KINDS];
    struct path_rule paths[SHIELD_MAX_PATH_RULES];
    size_t npaths;
    uint8_t path_slot[PATH_SLOTS]; /* index+1 into paths, 0 = empty */
    uint64_t path_seed;
    size_t path_max_n;  /* longest prefix in paths[] (read without the lock) */
    bool rate_by_path;  /* some rate rule is keyed by path prefix */
    struct rate_rule rate[SHIELD_MAX_RATE_RULES];
    size_t nrate;
    struct shield_challenge *challenge;
    struct shield_behaviour *behaviour;
    bool block_tor, block_proxy;
};

/* Per-thread view of one shield generation. */
struct view {
    uint64_t gen; /* global generation numbers are never reused */
    struct shield_iplist *lists[SHIELD_LIST_KINDS];
    struct shield_iplist *paths[SHIELD_MAX_PATH_RULES];
    size_t npaths;
};

static atomic_uint_fast64_t gen_counter = 1;
static pthread_key_t view_key;
static pthread_once_t view_once = PTHREAD_ONCE_INIT;
static _Thread_local struct view *tl_view;

static void view_release(struct view *v)
{
    for (int i = 0; i < SHIELD_LIST_KINDS; i++)
        shield_iplist_unref(v->lists[i]);
    for (size_t i = 0; i < v->npaths; i++)
        shield_iplist_unref(v->paths[i]);
    memset(v, 0, sizeof *v);
}

static void view_destructor(void *p)
{
    if (!p)
        return;
    view_release(p);
    free(p);
}

static void view_key_init(void) { pthread_key_create(&view_key, view_destructor); }

static void bump(struct shield *s)
{
    atomic_store(&s->gen, atomic_fetch_add(&gen_counter, 1) + 1);
}

/* The calling thread's view of s, refreshed if the lists changed. NULL only
 * when out of memory (then the checks run without lists: fail open). */
static struct view *get_view(struct shield *s)
{
    struct view *v = tl_view;
    if (!v) {
        v = calloc(1, sizeof *v);
        if (!v)
            return NULL;
        pthread_once(&view_once, view_key_init);
        pthread_setspecific(view_key, v);
        tl_view = v;
    }
    uint64_t g = atomic_load_explicit(&s->gen, memory_order_acquire);
    if (v->gen == g)
        return v;
    view_release(v);
    pthread_mutex_lock(&s->mu);
    v->gen = atomic_load(&s->gen);
    for (int i = 0; i < SHIELD_LIST_KINDS; i++)
        v->lists[i] = shield_iplist_ref(s->lists[i]);
    for (size_t i = 0; i < s->npaths; i++)
        v->paths[i] = shield_iplist_ref(s->paths[i].list);
    v->npaths = s->npaths;
    pthread_mutex_unlock(&s->mu);
    return v;
}

struct shield *shield_new(const struct shield_config *c, char *err, size_t errcap)
{
    struct shield *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    bump(s);
    s->path_seed = (uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ULL;
    s->block_tor = c ? c->block_tor : true;
    s->block_proxy = c ? c->block_proxy : true;
    s->behaviour = shield_behaviour_new(c ? &c->behaviour : NULL);
    if (!s->behaviour)
        goto nomem;
    for (int i = 0; c && i < SHIELD_MAX_RATE_RULES; i++) {
        if (!(c->rate[i].per_sec > 0))
            continue;
        struct rate_rule *rr = &s->rate[s->nrate];
        rr->key = c->rate[i].key;
        if (rr->key == SHIELD_RATE_KEY_PATH) {
            const char *p = c->rate[i].path_prefix;
            if (!p || p[0] != '/') {
                snprintf(err, errcap, "rate rule %d: a path prefix starting with '/' is needed",
                         i);
                goto fail;
            }
            char norm[PATH_NORM_MAX];
            ssize_t nn = shield_path_normalize(p, strlen(p), norm, sizeof norm);
            if (nn < 0) {
                snprintf(err, errcap, "rate rule %d: path prefix too long", i);
                goto fail;
            }
            rr->prefix = strndup(norm, (size_t)nn);
            if (!rr->prefix)
                goto nomem;
            rr->prefix_n = (size_t)nn;
            s->rate_by_path = true;
        }
        rr->rl = shield_ratelimit_new(c->rate[i].per_sec, c->rate[i].burst,
                                      c->rate_max_entries ? c->rate_max_entries : 100000);
        if (!rr->rl)
            goto nomem;
        s->nrate++;
    }
    if (c && c->challenge) {
        s->challenge = shield_challenge_new(c->challenge_key, c->challenge_difficulty,
                                            c->challenge_cookie_ttl_s, 0);
        if (!s->challenge)
            goto nomem;
    }
    return s;
nomem:
    snprintf(err, errcap, "out of memory");
fail:
    shield_free(s);
    return NULL;
}

void shield_free(struct shield *s)
{
    if (!s)
        return;
    /* This thread's view may point at our lists: let it go now. */
    if (tl_view)
        view_release(tl_view);
    for (int i = 0; i < SHIELD_LIST_KINDS; i++)
        shield_iplist_unref(s->lists[i]);
    for (size_t i = 0; i < s->npaths; i++) {
        free(s->paths[i].prefix);
        shield_iplist_unref(s->paths[i].list);
    }
    for (size_t i = 0; i < s->nrate; i++) {
        shield_ratelimit_free(s->rate[i].rl);
        free(s->rate[i].prefix);
    }
    shield_challenge_free(s->challenge);
    shield_behaviour_free(s->behaviour);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void shield_set_list(struct shield *s, enum shield_list_kind k, struct shield_iplist *l)
{
    if ((unsigned)k >= SHIELD_LIST_KINDS) {
        shield_iplist_unref(l);
        return;
    }
    pthread_mutex_lock(&s->mu);
    struct shield_iplist *old = s->lists[k];
    s->lists[k] = l;
    bump(s);
    pthread_mutex_unlock(&s->mu);
    shield_iplist_unref(old);
}

static int hexval(char c);

/* Percent-decodes once, turns '\\' into '/', lower-cases ASCII, drops
 * ";params" from segments, collapses "//" and resolves "." and "..".
 * Servers and frameworks disagree on each of these, so the shield takes
 * the reading that makes a protected prefix match most often. Returns the
 * length written (never 0: at least "/"), or -1 if it does not fit. */
ssize_t shield_path_normalize(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 2)
        return -1;
    size_t i = 0;
    while (i < n) {
        /* One segment: read up to the next separator, decoding. */
        size_t seg = o;
        bool params = false;
        if (o + 1 >= cap)
            return -1;
        out[o++] = '/';
        for (; i < n; i++) {
            char c = p[i];
            if (c == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
                c = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
                i += 2;
            }
            if (c == '/' || c == '\\') {
                i++;
                break;
            }
            if (c == ';')
                params = true;
            if (params)
                continue;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (o + 1 >= cap)
                return -1;
            out[o++] = c;
        }
        size_t sl = o - seg - 1;
        const char *sp = out + seg + 1;
        if (sl == 0 || (sl == 1 && sp[0] == '.')) {
            o = seg; /* empty or "." */
        } else if (sl == 2 && sp[0] == '.' && sp[1] == '.') {
            o = seg;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* drop the parent segment and its '/' */
        }
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    return (ssize_t)o;
}

static uint32_t path_slot_of(const struct shield *s, const char *p, size_t n)
{
    return (uint32_t)(shield_hash64(p, n, s->path_seed) & (PATH_SLOTS - 1));
}

/* Index of the rule for exactly this prefix, or -1. */
static int path_find(const struct shield *s, const char *p, size_t n)
{
    for (uint32_t i = path_slot_of(s, p, n), k = 0; k < PATH_SLOTS;
         i = (i + 1) & (PATH_SLOTS - 1), k++) {
        uint8_t v = s->path_slot[i];
        if (!v)
            return -1;
        const struct path_rule *r = &s->paths[v - 1];
        if (r->n == n && memcmp(r->prefix, p, n) == 0)
            return v - 1;
    }
    return -1;
}

int shield_set_path_allow(struct shield *s, const char *prefix_raw, size_t n_raw,
                          struct shield_iplist *l)
{
    /* Stored in the normalized form requests are compared in, so
     * "/Admin/", "/admin" and "//admin/." are the same rule. */
    char prefix[PATH_NORM_MAX];
    ssize_t nn = n_raw && prefix_raw[0] == '/'
                     ? shield_path_normalize(prefix_raw, n_raw, prefix, sizeof prefix)
                     : -1;
    if (nn <= 0) {
        shield_iplist_unref(l);
        return -1;
    }
    size_t n = (size_t)nn;
    pthread_mutex_lock(&s->mu);
    int i = path_find(s, prefix, n);
    if (i >= 0) {
        struct shield_iplist *old = s->paths[i].list;
        s->paths[i].list = l;
        bump(s);
        pthread_mutex_unlock(&s->mu);
        shield_iplist_unref(old);
        return 0;
    }
    if (s->npaths >= SHIELD_MAX_PATH_RULES)
        goto fail;
    char *c = strndup(prefix, n);
    if (!c)
        goto fail;
    /* Entries are only ever appended and their prefix never changes, so a
     * reader holding an older view never sees a half-written entry. */
    s->paths[s->npaths] = (struct path_rule){c, n, l};
    if (n > s->path_max_n)
        __atomic_store_n(&s->path_max_n, n, __ATOMIC_RELEASE);
    uint32_t slot = path_slot_of(s, c, n);
    while (s->path_slot[slot])
        slot = (slot + 1) & (PATH_SLOTS - 1);
    __atomic_store_n(&s->path_slot[slot], (uint8_t)(s->npaths + 1), __ATOMIC_RELEASE);
    s->npaths++;
    bump(s);
    pthread_mutex_unlock(&s->mu);
    return 0;
fail:
    pthread_mutex_unlock(&s->mu);
    shield_iplist_unref(l);
    return -1;
}

/* The most specific path rule covering the (normalized) path, at '/'
 * boundaries: for "/admin/users/1" try "/admin/users/1", "/admin/users",
 * "/admin". Only prefixes no longer than the longest rule are hashed, so
 * the cost is bounded by the rules, not by the request. */
static int path_rule_for(const struct shield *s, const struct view *v, const char *p, size_t n)
{
    if (!v->npaths || n == 0 || p[0] != '/')
        return -1;
    size_t maxn = __atomic_load_n(&s->path_max_n, __ATOMIC_ACQUIRE);
    for (size_t e = n < maxn ? n : maxn; e >= 1; e--) {
        if (e < n && p[e] != '/')
            continue;
        uint32_t i = path_slot_of(s, p, e);
        for (uint32_t k = 0; k < PATH_SLOTS; k++, i = (i + 1) & (PATH_SLOTS - 1)) {
            uint8_t x = __atomic_load_n(&s->path_slot[i], __ATOMIC_ACQUIRE);
            if (!x)
                break;
            if ((size_t)(x - 1) < v->npaths && s->paths[x - 1].n == e &&
                memcmp(s->paths[x - 1].prefix, p, e) == 0)
                return x - 1;
        }
    }
    return -1;
}

static bool under_prefix(const char *p, size_t n, const char *pre, size_t pn)
{
    if (n < pn || memcmp(p, pre, pn) != 0)
        return false;
    return n == pn || pre[pn - 1] == '/' || p[pn] == '/';
}

/* Finds cookie `name` in a Cookie header. */
static bool find_cookie(const char *h, size_t n, const char *name, const char **val, size_t *vn)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        while (i < n && (h[i] == ' ' || h[i] == ';'))
            i++;
        size_t st = i;
        while (i < n && h[i] != ';')
            i++;
        if (i - st > nl && memcmp(h + st, name, nl) == 0 && h[st + nl] == '=') {
            *val = h + st + nl + 1;
            *vn = i - st - nl - 1;
            return true;
        }
    }
    return false;
}

static bool query_param(const char *q, size_t n, const char *name, const char **val, size_t *vn)
{
    size_t nl = strlen(name), i = 0;
    while (i < n) {
        size_t st = i;
        while (i < n && q[i] != '&')
            i++;
        if (i - st > nl && memcmp(q + st, name, nl) == 0 && q[st + nl] == '=') {
            *val = q + st + nl + 1;
            *vn = i - st - nl - 1;
            return true;
        }
        i++;
    }
    return false;
}

static bool is_challenge_path(const struct shield_request *r)
{
    size_t cn = sizeof SHIELD_CHALLENGE_PATH - 1;
    return r->path_len == cn && memcmp(r->path, SHIELD_CHALLENGE_PATH, cn) == 0;
}

static void verdict(struct shield_verdict *v, enum shield_action a, int status, const char *reason)
{
    v->action = a;
    v->status = status;
    v->reason = reason;
}

void shield_check(struct shield *s, const struct shield_request *r, struct shield_verdict *v)
{
    uint64_t now = shield_now_ms(r->now_ms);
    struct view *vw = get_view(s);
    const char *tag = "";
    memset(v, 0, sizeof *v);
    v->tag = "";
    v->reason = "";
    bool trusted = vw && shield_iplist_contains(vw->lists[SHIELD_LIST_ALLOW], &r->addr, NULL);
    if (!trusted) {
        unsigned left = shield_behaviour_banned(s->behaviour, &r->addr, now);
        if (left) {
            verdict(v, SHIELD_DENY, 403, "banned");
            v->retry_after = left;
            return;
        }
        if (vw) {
            if (shield_iplist_contains(vw->lists[SHIELD_LIST_DENY], &r->addr, &tag)) {
                verdict(v, SHIELD_DENY, 403, "deny-list");
                v->tag = tag;
                return;
            }
            if (s->block_tor && shield_iplist_contains(vw->lists[SHIELD_LIST_TOR], &r->addr, &tag)) {
                verdict(v, SHIELD_DENY, 403, "tor");
                v->tag = tag;
                return;
            }
            if (s->block_proxy &&
                shield_iplist_contains(vw->lists[SHIELD_LIST_PROXY], &r->addr, &tag)) {
                verdict(v, SHIELD_DENY, 403, "proxy-list");
                v->tag = tag;
                return;
            }
        }
    }
    /* Path rules compare the normalized path, so "/%61dmin", "//admin",
     * "/x/../admin", "/ADMIN" and "/admin;x" cannot slip past "/admin". */
    char norm[PATH_NORM_MAX];
    ssize_t normn = -1;
    if ((vw && vw->npaths) || s->rate_by_path)
        normn = shield_path_normalize(r->path, r->path_len, norm, sizeof norm);
    if (vw && vw->npaths) {
        if (normn < 0) {
            verdict(v, SHIELD_DENY, 403, "path-allowlist");
            return;
        }
        int pr = path_rule_for(s, vw, norm, (size_t)normn);
        if (pr >= 0 && !shield_iplist_contains(vw->paths[pr], &r->addr, NULL)) {
            verdict(v, SHIELD_DENY, 403, "path-allowlist");
            return;
        }
    }
    if (trusted) {
        verdict(v, SHIELD_PASS_ALLOWLISTED, 0, "allow-list");
        return;
    }
    for (size_t i = 0; i < s->nrate; i++) {
        const struct rate_rule *rr = &s->rate[i];
        const void *extra = NULL;
        size_t en = 0;
        switch (rr->key) {
        case SHIELD_RATE_KEY_ADDR:
            break;
        case SHIELD_RATE_KEY_PATH:
            if (normn < 0 || !under_prefix(norm, (size_t)normn, rr->prefix, rr->prefix_n))
                continue;
            extra = rr->prefix;
            en = rr->prefix_n;
            break;
        case SHIELD_RATE_KEY_METHOD:
            extra = r->method;
            en = r->method_len;
            break;
        case SHIELD_RATE_KEY_HEADER:
            extra = r->key_header;
            en = r->key_header_len;
            break;
        }
        unsigned retry = shield_ratelimit_take(rr->rl, &r->addr, extra, en, now);
        if (retry) {
            verdict(v, SHIELD_RATE_LIMITED, 429, "rate-limit");
            v->retry_after = retry;
            return;
        }
    }
    if (!s->challenge)
        return;
    if (is_challenge_path(r)) {
        const char *n = NULL, *c = NULL;
        size_t nn = 0, cn = 0;
        if (query_param(r->query, r->query_len, "n", &n, &nn) &&
            query_param(r->query, r->query_len, "c", &c, &cn) &&
            shield_challenge_verify(s->challenge, &r->addr, n, nn, c, cn, now)) {
            verdict(v, SHIELD_CHALLENGE_SOLVED, 303, "challenge-solved");
            return;
        }
        /* A browser whose nonce expired (a tab left in the background) is
         * sent back to its page for a fresh challenge, not to a dead end. */
        verdict(v, SHIELD_CHALLENGE_FAIL, shield_wants_html(r->accept, r->accept_len) ? 303 : 403,
                "challenge-failed");
        return;
    }
    const char *cv;
    size_t cvn;
    if (find_cookie(r->cookie, r->cookie_len, SHIELD_COOKIE_NAME, &cv, &cvn) &&
        shield_challenge_cookie_valid(s->challenge, &r->addr, cv, cvn, now))
        return;
    bool page = shield_wants_html(r->accept, r->accept_len) &&
                ((r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) ||
                 (r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0));
    if (page)
        verdict(v, SHIELD_CHALLENGE, 403, "challenge");
    else
        verdict(v, SHIELD_CHALLENGE_FAIL, 403, "challenge-required");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the return path and re-encodes it to a header-safe alphabet;
 * anything that is not a local path becomes "/". */
static void return_path(const char *q, size_t n, char *out, size_t cap)
{
    char dec[600];
    size_t dn = 0;
    for (size_t i = 0; i < n && dn < sizeof dec; i++) {
        if (q[i] == '%' && i + 2 < n && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
            dec[dn++] = (char)(hexval(q[i + 1]) << 4 | hexval(q[i + 2]));
            i += 2;
        } else {
            dec[dn++] = q[i] == '+' ? ' ' : q[i];
        }
    }
    size_t on = 0;
    if (dn == 0 || dn == sizeof dec || dec[0] != '/' ||
        (dn > 1 && (dec[1] == '/' || dec[1] == '\\')))
        goto root;
    for (size_t i = 0; i < dn; i++) {
        unsigned char ch = (unsigned char)dec[i];
        bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || (ch && strchr("/._~-=&+,:@!$*()?%", ch));
        if (on + 4 >= cap)
            goto root;
        if (safe) {
            out[on++] = (char)ch;
        } else {
            out[on++] = '%';
            out[on++] = "0123456789ABCDEF"[ch >> 4];
            out[on++] = "0123456789ABCDEF"[ch & 15];
        }
    }
    out[on] = 0;
    return;
root:
    snprintf(out, cap, "/");
}

int shield_render(struct shield *s, const struct shield_request *r,
                  const struct shield_verdict *v, char *buf, size_t cap,
                  struct shield_response *out)
{
    bool html = shield_wants_html(r->accept, r->accept_len);
    uint64_t now = shield_now_ms(r->now_ms);
    memset(out, 0, sizeof *out);
    switch (v->action) {
    case SHIELD_PASS:
    case SHIELD_PASS_ALLOWLISTED:
        return -1;
    case SHIELD_RATE_LIMITED:
        return shield_page_429(html, v->retry_after, buf, cap, out);
    case SHIELD_CHALLENGE_FAIL:
        if (v->status == 303) {
            char loc[320];
            const char *rv = NULL;
            size_t rn = 0;
            query_param(r->query, r->query_len, "r", &rv, &rn);
            return_path(rv ? rv : "", rn, loc, sizeof loc);
            int n = snprintf(buf, cap, "Continue to %s\n", loc);
            if (n < 0 || (size_t)n >= cap)
                return -1;
            out->status = 303;
            out->content_type = "text/plain; charset=utf-8";
            out->body = buf;
            out->body_len = (size_t)n;
            n = snprintf(out->headers, sizeof out->headers,
                         "Location: %s\r\nCache-Control: no-store\r\n", loc);
            return n > 0 && (size_t)n < sizeof out->headers ? 0 : -1;
        }
        /* fall through */
    case SHIELD_DENY: {
        if (shield_page_403(html, v->reason, buf, cap, out))
            return -1;
        if (v->retry_after) { /* a ban: say when it ends */
            size_t hl = strlen(out->headers);
            int n = snprintf(out->headers + hl, sizeof out->headers - hl, "Retry-After: %u\r\n",
                             v->retry_after);
            if (n < 0 || (size_t)n >= sizeof out->headers - hl)
                return -1;
        }
        return 0;
    }
    case SHIELD_CHALLENGE: {
        char nonce[96];
        if (!s->challenge || shield_challenge_nonce(s->challenge, &r->addr, now, nonce, sizeof nonce))
            return -1;
        /* Back to the same URL once solved: path and query. */
        char target[1024];
        size_t tn = 0;
        if (r->path_len < sizeof target) {
            memcpy(target, r->path, r->path_len);
            tn = r->path_len;
            if (r->query_len && tn + 1 + r->query_len < sizeof target) {
                target[tn++] = '?';
                memcpy(target + tn, r->query, r->query_len);
                tn += r->query_len;
            }
        }
        return shield_page_challenge(nonce, shield_challenge_difficulty(s->challenge), target,
                                     tn, buf, cap, out);
    }
    case SHIELD_CHALLENGE_SOLVED: {
        char loc[320], cookie[128];
        const char *rv = NULL;
        size_t rn = 0;
        if (!s->challenge || shield_challenge_cookie(s->challenge, &r->addr, now, cookie,
                                                     sizeof cookie))
            return -1;
        query_param(r->query, r->query_len, "r", &rv, &rn);
        return_path(rv ? rv : "", rn, loc, sizeof loc);
        int n = snprintf(buf, cap, "Continue to %s\n", loc);
        if (n < 0 || (size_t)n >= cap)
            return -1;
        out->status = 303;
        out->content_type = "text/plain; charset=utf-8";
        out->body = buf;
        out->body_len = (size_t)n;
        n = snprintf(out->headers, sizeof out->headers,
                     "Location: %s\r\nSet-Cookie: %s=%s; Path=/; Max-Age=%u; HttpOnly; "
                     "SameSite=Lax\r\nCache-Control: no-store\r\n",
                     loc, SHIELD_COOKIE_NAME, cookie,
                     shield_challenge_cookie_ttl(s->challenge));
        return n > 0 && (size_t)n < sizeof out->headers ? 0 : -1;
    }
    }
    return -1;
}

unsigned shield_note_response(struct shield *s, const struct shield_addr *a, int status,
                              bool blocked, uint64_t now_ms)
{
    struct view *vw = get_view(s);
    if (vw && shield_iplist_contains(vw->lists[SHIELD_LIST_ALLOW], a, NULL))
        return 0;
    return shield_behaviour_note(s->behaviour, a, status, blocked, now_ms);
}

struct shield_behaviour *shield_get_behaviour(struct shield *s) { return s->behaviour; }
