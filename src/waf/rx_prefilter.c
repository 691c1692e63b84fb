/* Required-literal prefilter for @rx.
 *
 * For a PCRE pattern, computes a set of literals such that every string the
 * pattern can match contains at least one of them (compared without case).
 * When a value contains none, the regex cannot match and PCRE need not run.
 * This is a static analysis of the pattern text: anything it does not
 * understand makes the node "unknown", which only weakens the set; when the
 * root is unknown there is no prefilter. It never adds a requirement the
 * regex does not have, which is what makes skipping PCRE safe
 * (tests/unit/waf/rx_prefilter_test.c checks it differentially on the CRS
 * patterns and payloads).
 *
 * Each node yields:
 *   exact: the finite set of strings the node matches (when small), or none;
 *   pre:   a set of strings every match starts with (one of them), or none;
 *   suf:   a set of strings every match ends with, or none;
 *   req:   a set of literals one of which every match contains, or none.
 * Concatenation multiplies exact sets while they stay small, extends the
 * prefixes of an exact left part and the suffixes of an exact right part,
 * and finds literals across the junction of two parts (the left part's
 * suffixes times the right part's prefixes: "d" then (?:eclare|iv) needs
 * "declare" or "div", not just "iv"); the requirement is the best of all
 * of these. Alternation unions each set; optional or repeated-from-zero
 * parts lose their requirement and leave only the empty prefix/suffix.
 *
 * Loading CRS runs this for every @rx under each tier, so it avoids work
 * that cannot change a result: working nodes live in frames reused by depth
 * (no allocation per node), big sets get a hash index for duplicates, a
 * tier whose absent bytes the pattern never looks at is not analysed, and
 * a group's result is reused from an earlier tier when none of the bytes it
 * looks at became absent (struct memo). */
#include "waf/rx_prefilter.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIT_MAX_LEN RX_LIT_MAX_LEN
#define SET_MAX RX_LITS_MAX
#define DEPTH_MAX 200

struct lit {
    unsigned char s[LIT_MAX_LEN];
    unsigned char n;
};

struct lset {
    bool valid; /* false: unknown / no requirement */
    bool bos;   /* req only: "or the match starts at the subject's start" */
    size_t n;
    struct lit v[SET_MAX];
};

struct node {
    struct lset exact;
    struct lset pre, suf;
    struct lset req;
    bool never; /* matches nothing (only under an absent-byte assumption) */
};

/* A hash index of a set's literals, for adding many to a big set: slot[h]
 * is 1 + the index of a literal, 0 when empty (open addressing; at most
 * SET_MAX of IX_SLOTS used). Built (slots cleared) by the first set_add_ix
 * that finds the set at IX_MIN or more, so a user only sets on = false;
 * valid while only set_add_ix changes the set. */
#define IX_SLOTS 256
#define IX_MIN 8
_Static_assert(SET_MAX < IX_SLOTS && SET_MAX < 256, "an index slot holds 1 + a literal's index");

struct lset_ix {
    bool on;
    uint8_t slot[IX_SLOTS];
};

/* The working nodes of one nesting level: parse_alt's branch and its
 * indexes, parse_seq's atom and products. A group's contents use the next
 * level's frame (and the group's node is the atom of this level's). */
struct frame {
    struct node a, branch;
    struct lset t;
    struct lset_ix ix[4];
};

/* Frames by depth, allocated when a depth is first reached and reused by
 * every analysis that shares the scratch (the tiers of one pattern). */
struct scratch {
    struct node root;
    struct frame *f[DEPTH_MAX + 1];
};

struct parser {
    const unsigned char *p;
    size_t n, i;
    int depth;
    bool fail; /* syntax we do not model at all: give up on the pattern */
    bool extended; /* (?x): whitespace and # comments are not literals */
    bool multiline; /* (?m) seen: ^ is no longer the subject's start */
    const bool *absent; /* bytes assumed not to occur in the subject, or NULL */
    /* the bytes whose absence the analysis looks at (literal atoms, the
     * bytes of small classes) in the current group, nested ones included:
     * its result depends on absent[] only through these */
    uint64_t used[4];
    struct scratch *scr;
    struct memo *memo; /* or NULL */
};

static void use_byte(struct parser *ps, unsigned char c)
{
    ps->used[c >> 6] |= (uint64_t)1 << (c & 63);
}

/* Group results kept from one tier's analysis of a pattern for the next
 * tiers': the parse is the same whatever is absent, and a group whose used
 * bytes gain no absent byte between two tiers has the same result. */
#define MEMO_MAX_BYTES (4u << 20)

struct memo_ent {
    size_t end;               /* just after the group's ')' */
    bool extended, multiline; /* the parser's flags there */
    int tier;                 /* the node is the group's result under it */
    uint64_t used[4];         /* the group's used bytes */
    size_t off;               /* the node, in buf */
};

struct memo {
    uint32_t *at; /* by position of a group's body: 1 + its entry, 0 none */
    struct memo_ent *e;
    size_t ne, cap;
    unsigned char *buf; /* saved nodes (only their sets' used parts) */
    size_t nbuf, capbuf;
    int tier;                         /* of the analysis running */
    uint64_t absent[RX_TIERS + 1][4]; /* the bytes tier k assumes absent */
};

/* true when some used byte is absent under tier k but not under tier j < k */
static bool memo_gains(const struct memo *m, const uint64_t used[4], int j, int k)
{
    uint64_t x = 0;
    for (int w = 0; w < 4; w++)
        x |= used[w] & m->absent[k][w] & ~m->absent[j][w];
    return x != 0;
}

#define SET_HEAD offsetof(struct lset, v)

static size_t set_size(const struct lset *s) { return SET_HEAD + s->n * sizeof s->v[0]; }

static unsigned char *set_save(unsigned char *b, const struct lset *s)
{
    memcpy(b, s, set_size(s));
    return b + set_size(s);
}

static const unsigned char *set_load(struct lset *s, const unsigned char *b)
{
    memcpy(s, b, SET_HEAD);
    memcpy(s->v, b + SET_HEAD, s->n * sizeof s->v[0]);
    return b + set_size(s);
}

/* The group whose body starts at pos, when its saved result holds under
 * the running tier: its node in out, the parser past it. */
static bool memo_load(struct parser *ps, size_t pos, struct node *out)
{
    struct memo *m = ps->memo;
    if (!m || !m->at[pos])
        return false;
    const struct memo_ent *e = &m->e[m->at[pos] - 1];
    if (memo_gains(m, e->used, e->tier, m->tier))
        return false;
    const unsigned char *b = m->buf + e->off;
    b = set_load(&out->exact, b);
    b = set_load(&out->pre, b);
    b = set_load(&out->suf, b);
    b = set_load(&out->req, b);
    out->never = *b != 0;
    ps->i = e->end;
    ps->extended = e->extended;
    ps->multiline = e->multiline;
    for (int w = 0; w < 4; w++)
        ps->used[w] |= e->used[w];
    return true;
}

/* Saves the result of the group whose body starts at pos (the parser is
 * past it, ps->used is the group's) unless the next tier changes it: the
 * absent bytes only grow with the tier, so no later tier could use it
 * either. Best effort: without memory, nothing is saved. */
static void memo_save(struct parser *ps, size_t pos, const struct node *n)
{
    struct memo *m = ps->memo;
    if (!m || m->tier == RX_TIERS || memo_gains(m, ps->used, m->tier, m->tier + 1))
        return;
    size_t need = set_size(&n->exact) + set_size(&n->pre) + set_size(&n->suf) +
                  set_size(&n->req) + 1;
    if (m->nbuf + need > MEMO_MAX_BYTES)
        return;
    if (m->nbuf + need > m->capbuf) {
        size_t cap = m->capbuf ? m->capbuf : 16384;
        while (cap < m->nbuf + need)
            cap *= 2;
        unsigned char *nb = realloc(m->buf, cap);
        if (!nb)
            return;
        m->buf = nb;
        m->capbuf = cap;
    }
    struct memo_ent *e;
    if (m->at[pos]) {
        e = &m->e[m->at[pos] - 1];
    } else {
        if (m->ne == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 64;
            struct memo_ent *ne = realloc(m->e, cap * sizeof *ne);
            if (!ne)
                return;
            m->e = ne;
            m->cap = cap;
        }
        e = &m->e[m->ne++];
        m->at[pos] = (uint32_t)m->ne;
    }
    e->end = ps->i;
    e->extended = ps->extended;
    e->multiline = ps->multiline;
    e->tier = m->tier;
    memcpy(e->used, ps->used, sizeof e->used);
    e->off = m->nbuf;
    unsigned char *b = m->buf + m->nbuf;
    b = set_save(b, &n->exact);
    b = set_save(b, &n->pre);
    b = set_save(b, &n->suf);
    b = set_save(b, &n->req);
    *b = n->never;
    m->nbuf += need;
}

static struct frame *frame_get(struct parser *ps)
{
    struct frame **f = &ps->scr->f[ps->depth];
    if (!*f)
        *f = malloc(sizeof **f);
    return *f;
}

static struct scratch *scratch_new(void)
{
    struct scratch *scr = malloc(sizeof *scr); /* not calloc: the root needs no clearing */
    if (scr)
        for (size_t d = 0; d <= DEPTH_MAX; d++)
            scr->f[d] = NULL;
    return scr;
}

static void scratch_free(struct scratch *scr)
{
    for (size_t d = 0; d <= DEPTH_MAX; d++)
        free(scr->f[d]);
    free(scr);
}

/* Sets are big fixed arrays; copy only the used part. */
static void set_copy(struct lset *d, const struct lset *s)
{
    d->valid = s->valid;
    d->bos = s->bos;
    d->n = s->n;
    memcpy(d->v, s->v, s->n * sizeof s->v[0]);
}

static void node_copy(struct node *d, const struct node *s)
{
    set_copy(&d->exact, &s->exact);
    set_copy(&d->pre, &s->pre);
    set_copy(&d->suf, &s->suf);
    set_copy(&d->req, &s->req);
    d->never = s->never;
}

static void set_none(struct lset *s)
{
    s->bos = false;
    s->valid = false;
    s->n = 0;
}

static void set_one(struct lset *s, const unsigned char *b, size_t n)
{
    s->bos = false;
    s->valid = true;
    s->n = 1;
    if (n > LIT_MAX_LEN)
        n = LIT_MAX_LEN;
    memcpy(s->v[0].s, b, n);
    s->v[0].n = (unsigned char)n;
}

static bool set_add(struct lset *s, const struct lit *l)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n == l->n && memcmp(s->v[i].s, l->s, l->n) == 0)
            return true;
    if (s->n >= SET_MAX)
        return false;
    s->v[s->n++] = *l;
    return true;
}

/* from the length and the first, middle and last 8 bytes: cheap, and
 * collisions only cost a longer probe */
static size_t lit_hash(const unsigned char *b, size_t n)
{
    uint64_t x = 0, y = 0, z = 0;
    if (n >= 8) {
        memcpy(&x, b, 8);
        memcpy(&y, b + n - 8, 8);
        if (n > 16)
            memcpy(&z, b + n / 2 - 4, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            x = x << 8 | b[i];
    }
    uint64_t h = (x ^ n) * 0x9e3779b97f4a7c15u;
    h = (h ^ y ^ h >> 29) * 0xbf58476d1ce4e5b9u;
    h = (h ^ z ^ h >> 32) * 0x94d049bb133111ebu;
    return (size_t)(h >> 56) & (IX_SLOTS - 1);
}

static void ix_put(struct lset_ix *ix, const struct lset *s, size_t k)
{
    size_t h = lit_hash(s->v[k].s, s->v[k].n);
    while (ix->slot[h])
        h = (h + 1) & (IX_SLOTS - 1);
    ix->slot[h] = (uint8_t)(k + 1);
}

/* set_add, the same result in the same order */
static bool set_add_ix(struct lset *s, struct lset_ix *ix, const struct lit *l)
{
    if (!ix->on) {
        if (s->n < IX_MIN)
            return set_add(s, l);
        memset(ix->slot, 0, sizeof ix->slot);
        for (size_t k = 0; k < s->n; k++)
            ix_put(ix, s, k);
        ix->on = true;
    }
    size_t h = lit_hash(l->s, l->n);
    for (; ix->slot[h]; h = (h + 1) & (IX_SLOTS - 1)) {
        const struct lit *e = &s->v[ix->slot[h] - 1];
        if (e->n == l->n && memcmp(e->s, l->s, l->n) == 0)
            return true;
    }
    if (s->n >= SET_MAX)
        return false;
    s->v[s->n] = *l;
    ix->slot[h] = (uint8_t)(s->n + 1);
    s->n++;
    return true;
}

/* Score of a requirement: its shortest literal decides how often it passes
 * by chance; fewer literals are cheaper. Empty literal = no requirement. */
#define BOS_SCORE_LEN 3 /* a start-anchored check costs about a 3-byte literal */

static int req_score(const struct lset *s)
{
    if (!s->valid || (s->n == 0 && !s->bos))
        return -1;
    int min = s->bos ? BOS_SCORE_LEN : LIT_MAX_LEN + 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n < min)
            min = s->v[i].n;
    if (min == 0)
        return -1;
    return min * 1000 - (int)s->n;
}

/* *score is req_score(dst), kept by the caller */
static void pick_best(struct lset *dst, int *score, const struct lset *cand)
{
    int c = req_score(cand);
    if (c > *score) {
        set_copy(dst, cand);
        *score = c;
    }
}

/* out = a x b. JOIN_WHOLE (exact strings): false when a string grows past
 * LIT_MAX_LEN. JOIN_FRONT and JOIN_BACK (prefixes, suffixes, junctions): a
 * string longer than a literal keeps its first or last LIT_MAX_LEN bytes,
 * which is still a prefix (suffix, substring) of every match. False too
 * when the set grows past SET_MAX or a side is none (out is then garbage).
 * out is neither a nor b. */
enum join { JOIN_WHOLE, JOIN_FRONT, JOIN_BACK };

static bool cross_join(struct lset *out, const struct lset *a, const struct lset *b,
                       enum join how)
{
    if (!a->valid || !b->valid)
        return false;
    struct lset_ix ix;
    ix.on = false;
    out->valid = true;
    out->bos = false;
    out->n = 0;
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            const struct lit *x = &a->v[i], *y = &b->v[j];
            size_t n1 = x->n, n2 = y->n;
            struct lit l;
            if (n1 + n2 <= LIT_MAX_LEN) {
                memcpy(l.s, x->s, n1);
                memcpy(l.s + n1, y->s, n2);
                l.n = (unsigned char)(n1 + n2);
            } else if (how == JOIN_WHOLE) {
                return false;
            } else if (how == JOIN_FRONT) {
                memcpy(l.s, x->s, n1);
                memcpy(l.s + n1, y->s, LIT_MAX_LEN - n1);
                l.n = LIT_MAX_LEN;
            } else {
                size_t off = n1 + n2 - LIT_MAX_LEN; /* bytes dropped from the front */
                if (off < n1) {
                    memcpy(l.s, x->s + off, n1 - off);
                    memcpy(l.s + n1 - off, y->s, n2);
                } else {
                    memcpy(l.s, y->s + (off - n1), LIT_MAX_LEN);
                }
                l.n = LIT_MAX_LEN;
            }
            if (!set_add_ix(out, &ix, &l))
                return false;
        }
    }
    return true;
}

/* An upper bound of req_score(a x b) (cross_join): its shortest literal
 * is the two shortest joined, and it has at least one literal. */
static int cross_score_bound(const struct lset *a, const struct lset *b)
{
    if (!a->valid || !b->valid || a->n == 0 || b->n == 0)
        return -1;
    size_t m = 2 * LIT_MAX_LEN;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].n < m)
            m = a->v[i].n;
    size_t mb = LIT_MAX_LEN;
    for (size_t j = 0; j < b->n; j++)
        if (b->v[j].n < mb)
            mb = b->v[j].n;
    m += mb;
    if (m > LIT_MAX_LEN)
        m = LIT_MAX_LEN;
    return m == 0 ? -1 : (int)m * 1000 - 1;
}

/* s = s x {y} in place, when no string grows past LIT_MAX_LEN (then the
 * strings stay distinct: the same as cross_join); false, s
 * untouched, otherwise. */
static bool append_one(struct lset *s, const struct lit *y)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n + y->n > LIT_MAX_LEN)
            return false;
    for (size_t i = 0; i < s->n; i++) {
        memcpy(s->v[i].s + s->v[i].n, y->s, y->n);
        s->v[i].n = (unsigned char)(s->v[i].n + y->n);
    }
    s->bos = false;
    return true;
}

static void set_empty_str(struct lset *s)
{
    s->bos = false;
    s->valid = true;
    s->n = 1;
    s->v[0].n = 0;
}

/* dst = dst u src; none when either is none or the union is too big. ix
 * is dst's index, kept over the branches of an alternation. */
static void set_union(struct lset *dst, struct lset_ix *ix, const struct lset *src)
{
    if (!dst->valid || !src->valid) {
        set_none(dst);
        return;
    }
    for (size_t k = 0; k < src->n; k++)
        if (!set_add_ix(dst, ix, &src->v[k])) {
            set_none(dst);
            return;
        }
}

/* Keeps only the first len bytes of every literal, merging duplicates: a
 * prefix of a required literal is required too (a weaker requirement).
 * A set has no duplicates, so only literals cut to len can collide, and
 * only with one of length len. */
static void set_truncate(struct lset *s, size_t len)
{
    size_t i = 0;
    while (i < s->n && s->v[i].n <= len)
        i++;
    if (i == s->n)
        return; /* nothing to cut (a union of short literals hits this often) */
    struct lset_ix ix; /* the literals of length len kept so far */
    memset(ix.slot, 0, sizeof ix.slot);
    size_t n = 0;
    for (i = 0; i < s->n; i++) {
        struct lit *l = &s->v[i];
        size_t h = 0;
        bool dup = false;
        if (l->n >= len) {
            l->n = (unsigned char)len;
            for (h = lit_hash(l->s, len); ix.slot[h] && !dup; h = (h + 1) & (IX_SLOTS - 1))
                dup = memcmp(s->v[ix.slot[h] - 1].s, l->s, len) == 0;
        }
        if (dup)
            continue;
        if (n != i)
            s->v[n] = *l;
        if (s->v[n].n == len)
            ix.slot[h] = (uint8_t)(n + 1);
        n++;
    }
    s->n = n;
}

/* dst = dst u src for requirements. A union too big for a set is made to
 * fit by shortening the literals (CRS's long alternations of "process.x",
 * "process.y"... become "process"), down to three bytes; false if even
 * that does not fit. ix as for set_union. */
static bool req_union(struct lset *dst, struct lset_ix *ix, const struct lset *src)
{
    size_t k = 0;
    for (size_t len = LIT_MAX_LEN;; len = len > 8 ? len / 2 : len - 1) {
        for (; k < src->n; k++) {
            struct lit l = src->v[k];
            if (l.n > len)
                l.n = (unsigned char)len;
            if (!set_add_ix(dst, ix, &l))
                break;
        }
        if (k == src->n)
            return true;
        if (len <= 3)
            return false;
        set_truncate(dst, len > 8 ? len / 2 : len - 1);
        ix->on = false; /* the literals moved */
    }
}

static int peek(struct parser *ps) { return ps->i < ps->n ? ps->p[ps->i] : -1; }

static void parse_alt(struct parser *ps, struct node *out);

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Escape after '\\': a literal byte (>= 0), zero-width (-2) or a class (-1). */
static int parse_escape(struct parser *ps)
{
    int c = peek(ps);
    if (c < 0) {
        ps->fail = true;
        return -1;
    }
    ps->i++;
    switch (c) {
    case 'x': {
        if (peek(ps) == '{') {
            size_t j = ps->i + 1;
            int v = 0, digits = 0;
            while (j < ps->n && hexv(ps->p[j]) >= 0 && digits < 8) {
                v = v * 16 + hexv(ps->p[j]);
                j++;
                digits++;
            }
            if (j >= ps->n || ps->p[j] != '}' || digits == 0) {
                ps->fail = true;
                return -1;
            }
            ps->i = j + 1;
            return v <= 0xff ? v : -1;
        }
        int v = 0, digits = 0;
        while (digits < 2 && hexv(peek(ps)) >= 0) {
            v = v * 16 + hexv(peek(ps));
            ps->i++;
            digits++;
        }
        return v;
    }
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return 0x0b;
    case 'a': return 0x07;
    case 'e': return 0x1b;
    case '0': {
        int v = 0, digits = 0;
        while (digits < 2 && peek(ps) >= '0' && peek(ps) <= '7') {
            v = v * 8 + (peek(ps) - '0');
            ps->i++;
            digits++;
        }
        return v;
    }
    case 'A':
        return -3; /* the subject's start */
    case 'b': case 'B': case 'Z': case 'z': case 'G': case 'K':
        return -2;
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h': case 'H':
    case 'V': case 'N': case 'R': case 'X': case 'C':
        return -1;
    case 'p': case 'P':
        if (peek(ps) == '{') {
            while (ps->i < ps->n && ps->p[ps->i] != '}')
                ps->i++;
            if (ps->i < ps->n)
                ps->i++;
        } else if (ps->i < ps->n) {
            ps->i++;
        }
        return -1;
    case 'Q': {
        /* \Q...\E is literal: handled by the caller as a sequence; here,
         * unsupported (rare in rules) */
        ps->fail = true;
        return -1;
    }
    case 'c':
        if (ps->i < ps->n)
            ps->i++;
        return -1;
    default:
        if (c >= '1' && c <= '9') {
            ps->fail = true; /* back-reference: do not model */
            return -1;
        }
        if (c == 'g' || c == 'k') {
            ps->fail = true;
            return -1;
        }
        if (isalnum(c)) {
            ps->fail = true; /* an escape we do not know */
            return -1;
        }
        return c; /* escaped punctuation is itself */
    }
}

/* [...]: the set of bytes when it is small and not negated. */
static void parse_class(struct parser *ps, struct node *out)
{
    bool neg = false;
    bool set[256] = {false};
    int smin = 256, smax = -1; /* the bytes of set are in [smin, smax] */
    bool open = false; /* contains a class escape or a wide range */
    if (peek(ps) == '^') {
        neg = true;
        ps->i++;
    }
    bool first = true;
    for (;;) {
        int c = peek(ps);
        if (c < 0) {
            ps->fail = true;
            return;
        }
        if (c == ']' && !first) {
            ps->i++;
            break;
        }
        first = false;
        int lo;
        if (c == '[' && ps->i + 1 < ps->n && ps->p[ps->i + 1] == ':') {
            /* POSIX class [:alpha:] */
            const unsigned char *e = memchr(ps->p + ps->i + 2, ']', ps->n - ps->i - 2);
            if (!e) {
                ps->fail = true;
                return;
            }
            ps->i = (size_t)(e - ps->p) + 1;
            open = true;
            continue;
        }
        ps->i++;
        if (c == '\\') {
            lo = parse_escape(ps);
            if (lo < 0) {
                if (lo == -2 && ps->p[ps->i - 1] == 'b') /* \b inside a class is backspace */
                    lo = 0x08;
                else {
                    open = true;
                    continue;
                }
            }
        } else {
            lo = c;
        }
        int hi = lo;
        if (peek(ps) == '-' && ps->i + 1 < ps->n && ps->p[ps->i + 1] != ']') {
            ps->i++;
            int d = peek(ps);
            ps->i++;
            if (d == '\\') {
                hi = parse_escape(ps);
                if (hi < 0) {
                    open = true;
                    continue;
                }
            } else {
                hi = d;
            }
            if (hi < lo) {
                ps->fail = true;
                return;
            }
        }
        if (hi - lo > 8) {
            open = true;
        } else {
            for (int k = lo; k <= hi; k++)
                set[k] = true;
            smin = lo < smin ? lo : smin;
            smax = hi > smax ? hi : smax;
        }
    }
    set_none(&out->exact);
    set_none(&out->req);
    set_none(&out->pre);
    set_none(&out->suf);
    out->never = false;
    if (neg || open)
        return;
    /* the bytes not assumed absent, case folded together: count distinct
     * lower-case bytes (more than 6 is too many to be worth it) */
    struct lset s;
    s.valid = true;
    s.bos = false;
    s.n = 0;
    bool any = false;
    for (int k = smin; k <= smax; k++) {
        if (!set[k])
            continue;
        use_byte(ps, (unsigned char)k);
        if (ps->absent && ps->absent[k])
            continue;
        any = true;
        if (s.n <= 6) {
            struct lit l;
            l.s[0] = (unsigned char)tolower(k);
            l.n = 1;
            set_add(&s, &l);
        }
    }
    if (ps->absent && !any) {
        out->never = true; /* every byte of the class is absent */
        return;
    }
    if (s.n == 0 || s.n > 6)
        return;
    set_copy(&out->exact, &s);
    set_copy(&out->req, &s);
    set_copy(&out->pre, &s);
    set_copy(&out->suf, &s);
}

static void atom_literal(struct parser *ps, struct node *out, unsigned char c)
{
    use_byte(ps, c);
    out->never = ps->absent && ps->absent[c];
    unsigned char b = (unsigned char)tolower(c);
    set_one(&out->exact, &b, 1);
    set_one(&out->req, &b, 1);
    set_one(&out->pre, &b, 1);
    set_one(&out->suf, &b, 1);
}

static void atom_empty(struct node *out)
{
    out->never = false;
    set_empty_str(&out->exact);
    set_empty_str(&out->pre);
    set_empty_str(&out->suf);
    set_none(&out->req);
}

/* ^ without (?m), \\A: every match of the node is at the subject's start */
static void atom_bos(struct node *out)
{
    atom_empty(out);
    out->req.valid = true;
    out->req.bos = true;
    out->req.n = 0;
}

static void atom_unknown(struct node *out)
{
    out->never = false;
    set_none(&out->exact);
    set_none(&out->req);
    set_none(&out->pre);
    set_none(&out->suf);
}

/* An atom: literal, escape, class, group, dot, anchor. */
static bool parse_atom(struct parser *ps, struct node *out)
{
    int c = peek(ps);
    if (c < 0 || c == '|' || c == ')')
        return false;
    ps->i++;
    switch (c) {
    case '\\': {
        int v = parse_escape(ps);
        if (v >= 0)
            atom_literal(ps, out, (unsigned char)v);
        else if (v == -3)
            atom_bos(out);
        else if (v == -2)
            atom_empty(out);
        else
            atom_unknown(out);
        return true;
    }
    case '[':
        parse_class(ps, out);
        return true;
    case '.':
        atom_unknown(out);
        return true;
    case '^':
        if (ps->multiline)
            atom_empty(out);
        else
            atom_bos(out);
        return true;
    case '$':
        atom_empty(out);
        return true;
    case '(': {
        if (++ps->depth > DEPTH_MAX) {
            ps->fail = true;
            return false;
        }
        bool lookaround = false, flags_only = false;
        if (peek(ps) == '?') {
            ps->i++;
            int d = peek(ps);
            if (d == ':' || d == '>' || d == '|') {
                ps->i++;
            } else if (d == '=' || d == '!') {
                ps->i++;
                lookaround = true;
            } else if (d == '<' && ps->i + 1 < ps->n &&
                       (ps->p[ps->i + 1] == '=' || ps->p[ps->i + 1] == '!')) {
                ps->i += 2;
                lookaround = true;
            } else if (d == 'P' || d == '<' || d == '\'') {
                /* named group (?P<n>...), (?<n>...), (?'n'...) */
                int close = d == '\'' ? '\'' : '>';
                if (d == 'P')
                    ps->i++;
                if (peek(ps) == '=' || peek(ps) == '>') {
                    ps->fail = true; /* (?P=name) back-reference, (?P>name) call */
                    return false;
                }
                while (ps->i < ps->n && ps->p[ps->i] != close)
                    ps->i++;
                if (ps->i >= ps->n) {
                    ps->fail = true;
                    return false;
                }
                ps->i++;
            } else if (d == '#') {
                while (ps->i < ps->n && ps->p[ps->i] != ')')
                    ps->i++;
                if (ps->i < ps->n)
                    ps->i++;
                ps->depth--;
                atom_empty(out);
                return true;
            } else {
                /* inline flags (?i) (?x) (?i:...) (?-i) */
                bool neg = false;
                while (ps->i < ps->n && ps->p[ps->i] != ')' && ps->p[ps->i] != ':') {
                    int f = ps->p[ps->i];
                    if (f == '-')
                        neg = true;
                    else if (f == 'x')
                        ps->extended = !neg;
                    else if (f == 'm')
                        ps->multiline = true; /* sticky: scoping is not modelled */
                    else if (!strchr("imsnUJ^", f)) {
                        ps->fail = true;
                        return false;
                    }
                    ps->i++;
                }
                if (ps->i >= ps->n) {
                    ps->fail = true;
                    return false;
                }
                if (ps->p[ps->i] == ')') {
                    ps->i++;
                    flags_only = true;
                } else {
                    ps->i++;
                }
            }
        }
        if (flags_only) {
            ps->depth--;
            atom_empty(out);
            return true;
        }
        size_t body = ps->i;
        if (memo_load(ps, body, out)) {
            ps->depth--;
            if (lookaround)
                atom_empty(out);
            return true;
        }
        uint64_t outer[4]; /* the enclosing group's used bytes */
        memcpy(outer, ps->used, sizeof outer);
        memset(ps->used, 0, sizeof ps->used);
        parse_alt(ps, out);
        if (peek(ps) != ')') {
            ps->fail = true;
            return false;
        }
        ps->i++;
        if (!ps->fail)
            memo_save(ps, body, out);
        for (int w = 0; w < 4; w++)
            ps->used[w] |= outer[w];
        ps->depth--;
        if (lookaround)
            atom_empty(out); /* zero-width: requires nothing we can use */
        return true;
    }
    case '*': case '+': case '?': case '{':
        if (c == '{') {
            atom_literal(ps, out, '{'); /* a brace that is not a quantifier */
            return true;
        }
        ps->fail = true; /* quantifier with nothing before it */
        return false;
    default:
        if (ps->extended && (isspace(c) || c == '#')) {
            if (c == '#')
                while (ps->i < ps->n && ps->p[ps->i] != '\n')
                    ps->i++;
            atom_empty(out);
            return true;
        }
        atom_literal(ps, out, (unsigned char)c);
        return true;
    }
}

/* Parses "{m}", "{m,}", "{m,n}" at the current position; false if it is not
 * a quantifier (then the brace is a literal). */
static bool parse_braces(struct parser *ps, long *min, long *max)
{
    size_t j = ps->i + 1;
    long a = 0, b = -1;
    bool digits = false;
    while (j < ps->n && isdigit(ps->p[j]) && a < 100000) {
        a = a * 10 + (ps->p[j] - '0');
        j++;
        digits = true;
    }
    if (!digits)
        return false;
    if (j < ps->n && ps->p[j] == '}') {
        b = a;
    } else if (j < ps->n && ps->p[j] == ',') {
        j++;
        if (j < ps->n && isdigit(ps->p[j])) {
            b = 0;
            while (j < ps->n && isdigit(ps->p[j]) && b < 100000) {
                b = b * 10 + (ps->p[j] - '0');
                j++;
            }
        }
        if (j >= ps->n || ps->p[j] != '}')
            return false;
    } else {
        return false;
    }
    ps->i = j + 1;
    *min = a;
    *max = b;
    return true;
}

static void apply_quant(struct parser *ps, struct node *a)
{
    int c = peek(ps);
    long min, max;
    if (c == '*') {
        ps->i++;
        min = 0;
        max = -1;
    } else if (c == '+') {
        ps->i++;
        min = 1;
        max = -1;
    } else if (c == '?') {
        ps->i++;
        min = 0;
        max = 1;
    } else if (c == '{') {
        if (!parse_braces(ps, &min, &max))
            return;
    } else {
        return;
    }
    /* lazy or possessive suffix */
    if (peek(ps) == '?' || peek(ps) == '+')
        ps->i++;
    if (a->never) {
        if (min == 0)
            atom_empty(a); /* it can only repeat zero times */
        return;
    }
    if (min == 0) {
        if (max == 1 && a->exact.valid) {
            struct lit e = {.n = 0};
            if (!set_add(&a->exact, &e))
                set_none(&a->exact);
        } else {
            set_none(&a->exact);
        }
        set_none(&a->req);
        set_empty_str(&a->pre); /* it may be absent: nothing to start or end with */
        set_empty_str(&a->suf);
        return;
    }
    /* min >= 1: the requirement stays; exactness only for {1} */
    if (!(min == 1 && max == 1))
        set_none(&a->exact);
}

/* A sequence of quantified atoms, folded left to right into acc (see the
 * header comment); the sequence is exact only if every atom was. */
static void parse_seq(struct parser *ps, struct node *acc)
{
    struct frame *f = frame_get(ps);
    if (!f) {
        ps->fail = true;
        return;
    }
    struct node *a = &f->a;
    struct lset *t = &f->t; /* a product, used at once */
    set_empty_str(&acc->exact);
    set_empty_str(&acc->pre);
    set_empty_str(&acc->suf);
    set_none(&acc->req);
    int best = -1; /* req_score(&acc->req) */
    acc->never = false;
    /* an atom that failed to parse may be left unset: stop before using it */
    while (!ps->fail && parse_atom(ps, a) && !ps->fail) {
        apply_quant(ps, a);
        acc->never |= a->never;
        pick_best(&acc->req, &best, &a->req);
        /* across the junction, unless it cannot beat what we have */
        if (cross_score_bound(&acc->suf, &a->pre) > best &&
            cross_join(t, &acc->suf, &a->pre, JOIN_FRONT))
            pick_best(&acc->req, &best, t);
        /* prefixes grow while everything so far is exact */
        if (acc->exact.valid && !cross_join(&acc->pre, &acc->exact, &a->pre, JOIN_FRONT))
            set_copy(&acc->pre, &acc->exact);
        /* suffixes: the atom's, extended backwards when the atom is exact
         * (a single literal needs no new set) */
        if (!a->exact.valid) {
            set_copy(&acc->suf, &a->suf);
        } else if (!(acc->suf.valid && a->exact.n == 1 && append_one(&acc->suf, &a->exact.v[0]))) {
            if (cross_join(t, &acc->suf, &a->exact, JOIN_BACK))
                set_copy(&acc->suf, t);
            else
                set_copy(&acc->suf, &a->exact);
        }
        if (!acc->exact.valid || !a->exact.valid) {
            set_none(&acc->exact);
        } else if (a->exact.n == 1) {
            if (!append_one(&acc->exact, &a->exact.v[0]))
                set_none(&acc->exact);
        } else if (cross_join(t, &acc->exact, &a->exact, JOIN_WHOLE)) {
            set_copy(&acc->exact, t);
        } else {
            set_none(&acc->exact);
        }
        pick_best(&acc->req, &best, &acc->pre);
        pick_best(&acc->req, &best, &acc->suf);
        pick_best(&acc->req, &best, &acc->exact);
    }
}

static void parse_alt(struct parser *ps, struct node *out)
{
    parse_seq(ps, out);
    if (ps->fail)
        return;
    struct frame *f = ps->scr->f[ps->depth]; /* parse_seq made it */
    struct node *branch = &f->branch;
    struct lset_ix *ix = f->ix; /* of out's exact, pre, suf, req */
    for (int k = 0; k < 4; k++)
        ix[k].on = false;
    while (!ps->fail && peek(ps) == '|') {
        ps->i++;
        parse_seq(ps, branch);
        /* a branch that matches nothing adds nothing */
        if (branch->never)
            continue;
        if (out->never) {
            node_copy(out, branch);
            for (int k = 0; k < 4; k++)
                ix[k].on = false;
            continue;
        }
        /* requirement of an alternation: the union, if every branch has one */
        if (out->req.valid && branch->req.valid && req_score(&branch->req) > 0 &&
            req_score(&out->req) > 0) {
            out->req.bos |= branch->req.bos;
            if (!req_union(&out->req, &ix[3], &branch->req))
                set_none(&out->req);
        } else {
            set_none(&out->req);
        }
        set_union(&out->exact, &ix[0], &branch->exact);
        set_union(&out->pre, &ix[1], &branch->pre);
        set_union(&out->suf, &ix[2], &branch->suf);
    }
}

/* Bytes that make a one-byte requirement worth checking: rare in ordinary
 * text, common in attacks. */
static bool rare_byte(unsigned char c)
{
    return c != 0 && strchr("<>'\"`;(){}[]$|&\\%#!^~*@=", c) != NULL;
}

/* Nested sets of bytes rare in ordinary values and common in evasions:
 * tier k holds the bytes of set k (1 is the smallest set); 0xff for a byte
 * in none. */
static const char *const tier_bytes[RX_TIERS] = {
    "\\\"'`$|&;{}[]<>^~*",
    "()!#%=?@+",
    "\t\n\r",
};

void rx_tier_table(uint8_t tier[256])
{
    memset(tier, 0xff, 256);
    for (int c = 0; c < 0x20; c++)
        if (c != '\t' && c != '\n' && c != '\r')
            tier[c] = 1;
    tier[0x7f] = 1;
    for (int k = RX_TIERS; k >= 1; k--)
        for (const char *b = tier_bytes[k - 1]; *b; b++)
            tier[(unsigned char)*b] = (uint8_t)k;
}

/* min literal length first, then fewer literals; an empty set (nothing
 * can match) beats everything */
long rx_lits_score(const struct rx_lits *l)
{
    if (l->n == 0 && !l->bos)
        return 1L << 30;
    size_t min = l->bos ? BOS_SCORE_LEN : LIT_MAX_LEN + 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].n < min)
            min = l->v[i].n;
    return (long)min * 1000 - (long)l->n;
}

/* The requirement under absent (NULL: none), with the scratch's frames and
 * the memo of the pattern's other tiers (or NULL); sets used[] (see struct
 * parser) for the whole pattern when it is not NULL. */
static struct rx_lits *analyse(const char *pattern, size_t len, const bool absent[256],
                               struct scratch *scr, struct memo *memo, uint64_t used[4])
{
    struct parser ps = {.p = (const unsigned char *)pattern, .n = len, .absent = absent,
                        .scr = scr, .memo = memo};
    struct node *root = &scr->root;
    parse_alt(&ps, root);
    if (used)
        memcpy(used, ps.used, sizeof ps.used);
    if (ps.fail || ps.i != ps.n)
        return NULL;
    if (root->never) {
        /* nothing can match a subject without the absent bytes: the empty
         * set (no literal can be found, so such a subject is rejected) */
        return calloc(1, sizeof(struct rx_lits));
    }
    if (req_score(&root->req) <= 0)
        return NULL;
    for (size_t i = 0; i < root->req.n; i++)
        if (root->req.v[i].n == 1 && !rare_byte(root->req.v[i].s[0]))
            return NULL; /* a common single byte would pass almost every value */
    struct rx_lits *out = malloc(sizeof *out);
    if (!out)
        return NULL;
    out->n = root->req.n;
    out->bos = root->req.bos;
    for (size_t i = 0; i < root->req.n; i++) {
        memcpy(out->v[i].s, root->req.v[i].s, root->req.v[i].n);
        out->v[i].n = root->req.v[i].n;
    }
    return out;
}

size_t rx_prefilter_lits_tiers(const char *pattern, size_t len, struct rx_lits *out[RX_TIERS + 1])
{
    uint8_t t[256];
    rx_tier_table(t);
    for (int k = 0; k <= RX_TIERS; k++)
        out[k] = NULL;
    struct scratch *scr = scratch_new();
    struct memo m = {.at = calloc(len + 1, sizeof *m.at)}; /* none if NULL */
    if (!scr) {
        free(m.at);
        return 0;
    }
    for (int k = 0; k <= RX_TIERS; k++)
        for (int c = 0; c < 256; c++)
            if (t[c] <= k)
                m.absent[k][c >> 6] |= (uint64_t)1 << (c & 63);
    /* The result depends on the absent bytes only through the used ones:
     * a tier that adds none of them gets the result of the last tier
     * analysed, which can be no better than the best so far (NULL). */
    uint64_t used[4] = {0};
    int last = 0;
    size_t got = 0;
    long best = -1;
    for (int k = 0; k <= RX_TIERS; k++) {
        if (k > 0 && !memo_gains(&m, used, last, k))
            continue;
        bool absent[256];
        for (int c = 0; c < 256; c++)
            absent[c] = t[c] <= k;
        m.tier = k;
        out[k] = analyse(pattern, len, k ? absent : NULL, scr, m.at ? &m : NULL, k ? NULL : used);
        last = k;
        if (out[k] && rx_lits_score(out[k]) <= best) {
            free(out[k]); /* no better than a weaker assumption's: useless */
            out[k] = NULL;
        }
        if (out[k]) {
            best = rx_lits_score(out[k]);
            got++;
        }
    }
    scratch_free(scr);
    free(m.at);
    free(m.e);
    free(m.buf);
    return got;
}

struct rx_lits *rx_prefilter_lits(const char *pattern, size_t len)
{
    return rx_prefilter_lits_absent(pattern, len, NULL);
}

struct rx_lits *rx_prefilter_lits_absent(const char *pattern, size_t len, const bool absent[256])
{
    struct scratch *scr = scratch_new();
    if (!scr)
        return NULL;
    struct rx_lits *out = analyse(pattern, len, absent, scr, NULL, NULL);
    scratch_free(scr);
    return out;
}

struct pm *rx_prefilter_pm(const struct rx_lits *l)
{
    if (!l || l->bos || l->n == 0)
        return NULL; /* a phrase list cannot say "or at the start" */
    const char *pats[RX_LITS_MAX];
    size_t lens[RX_LITS_MAX];
    for (size_t i = 0; i < l->n; i++) {
        pats[i] = (const char *)l->v[i].s;
        lens[i] = l->v[i].n;
    }
    return pm_build(pats, lens, l->n);
}

struct pm *rx_prefilter_build(const char *pattern, size_t len)
{
    struct rx_lits *l = rx_prefilter_lits(pattern, len);
    struct pm *pm = rx_prefilter_pm(l);
    free(l);
    return pm;
}
