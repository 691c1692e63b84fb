/* Aho-Corasick with owner sets; see multilit.h and
 * docs/internals/multilit.md.
 *
 * Layout (immutable after mlit_build):
 *  - Bytes are ASCII-folded and mapped to classes: one per folded byte that
 *    occurs in some literal, class 0 for every other byte. Class 0 leads
 *    back to the root from every state, since no literal continues with it.
 *  - States are numbered breadth-first, children in class order. So a
 *    state's failure link points to a lower number, and the children of a
 *    state are consecutive numbers: node[s] needs only its first child and
 *    their count, and incls[v] is the class of the edge into v.
 *  - The first ndense states -- the shallow ones, where a scan over
 *    ordinary text spends most of its bytes -- have a full DFA row of ncls
 *    entries, as many rows as fit in MLIT_DENSE_BUDGET bytes. The deeper
 *    states keep only their trie edges; on a byte with no edge they follow
 *    failure links until a state has one, or a dense state's row answers.
 *    Failure links point lower, so that walk ends. Memory is linear in the
 *    trie: all of CRS (~85k states) takes ~2.4 MB, where full rows would
 *    take ~33 MB.
 *  - A dense row entry holds the target's row offset (state * ncls) when
 *    the target is dense and reports no owner: that common case costs one
 *    load per byte and no multiplication. Any other target is stored as
 *    MLIT_SLOW | state.
 *  - The owners a state reports (its own and those of its failure chain)
 *    are one slice of out[], from node[s].out to node[s+1].out, as words of
 *    the caller's bit set with the bits to OR into each: one pair per word,
 *    sorted by word. A hit then costs a store per word rather than per
 *    owner (on CRS a hit reports about three owners, often in one word).
 *    MLIT_HITS on node[s].out says the slice is not empty.
 */
#include "waf/multilit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MLIT_SLOW 0x80000000u /* dense entry: a state id, not a quiet row */
#define MLIT_HITS 0x80000000u /* node.out: the state reports owners */
/* Bytes of dense rows. Ordinary text spends its bytes in the first trie
 * levels; on CRS (~99 classes) 512 KiB covers depths 0-2 and over half of
 * depth 3. 256 KiB measured ~10% slower per byte on form data; 1 MiB was a
 * little faster in isolation but no faster in the WAF
 * (docs/internals/multilit.md). */
#define MLIT_DENSE_BUDGET (512u * 1024u)
/* Child classes kept in the node itself: on CRS 90% of the states have one
 * child and under 1% more than three. */
#define MLIT_INLINE 3

/* The arithmetic below relies on these: state ids and row offsets stay
 * clear of MLIT_SLOW, owner offsets clear of MLIT_HITS. */
_Static_assert(MLIT_MAX_STATES < MLIT_SLOW, "state ids must not reach MLIT_SLOW");
_Static_assert(MLIT_DENSE_BUDGET / sizeof(uint32_t) < MLIT_SLOW, "row offsets must not reach MLIT_SLOW");

/* OR mask into word of the caller's bits */
struct mlit_out {
    uint64_t mask;
    uint32_t word;
};

_Static_assert(MLIT_MAX_TABLE / sizeof(struct mlit_out) < MLIT_HITS,
               "owner offsets must not reach MLIT_HITS");

/* A sparse step usually reads one node and nothing else. */
struct mlit_node {
    uint32_t child;         /* first child */
    uint32_t fail;
    uint32_t out;           /* first pair in out[], | MLIT_HITS if any */
    uint8_t nchild;         /* < ncls */
    uint8_t c[MLIT_INLINE]; /* classes of the first children; 0 = unused */
};
_Static_assert(sizeof(struct mlit_node) == 16, "four nodes to a cache line");

struct mlit {
    uint32_t nowners;
    uint32_t nstates;
    uint32_t ndense;
    uint32_t ncls;
    uint8_t cls[256];
    uint32_t *dense;        /* ndense * ncls entries, encoded as above */
    struct mlit_node *node; /* nstates + 1: a sentinel ends the last slice */
    uint8_t *incls;         /* nstates: class of the edge into the state */
    struct mlit_out *out;
    size_t mem; /* bytes of all the above, <= MLIT_MAX_TABLE */
};

/* ---- building ------------------------------------------------------------ */

/* Build-time trie node, numbered in insertion order: children as a linked
 * sibling list (0 = none; the root is nobody's child or sibling). */
struct tnode {
    uint32_t child, sibling;
    uint8_t c;
};

struct trie {
    struct tnode *v;
    size_t n, cap;
};

/* Where a literal ends, and whose it is. */
struct lend {
    uint32_t st, owner;
};

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int trie_node(struct trie *t, uint8_t c, uint32_t *id)
{
    if (t->n >= MLIT_MAX_STATES)
        return -1;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        if (nc > MLIT_MAX_STATES)
            nc = MLIT_MAX_STATES;
        struct tnode *nv = realloc(t->v, nc * sizeof(*nv));
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n] = (struct tnode){0, 0, c};
    *id = (uint32_t)t->n++;
    return 0;
}

/* Inserts one literal; *end gets the (insertion-order) node it ends in. */
static int trie_add(struct trie *t, const uint8_t *cls, const unsigned char *s, size_t n,
                    uint32_t *end)
{
    uint32_t cur = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = cls[s[k]];
        uint32_t ch = t->v[cur].child, prev = 0;
        while (ch && t->v[ch].c != c) {
            prev = ch;
            ch = t->v[ch].sibling;
        }
        if (!ch) {
            if (trie_node(t, c, &ch) < 0)
                return -1;
            if (prev)
                t->v[prev].sibling = ch;
            else
                t->v[cur].child = ch;
        }
        cur = ch;
    }
    *end = cur;
    return 0;
}

static int lend_cmp(const void *a, const void *b)
{
    const struct lend *x = a, *y = b;
    if (x->st != y->st)
        return x->st < y->st ? -1 : 1;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* Breadth-first numbering of the build trie, children in class order:
 * fills the child ranges, inline classes and incls[], and order[] (BFS
 * number -> build node). */
static void number_states(struct mlit *m, const struct trie *t, uint32_t *order)
{
    uint32_t head = 0, tail = 1;
    order[0] = 0;
    m->incls[0] = 0;
    while (head < tail) {
        uint32_t s = head++;
        uint32_t first = tail;
        for (uint32_t ch = t->v[order[s]].child; ch; ch = t->v[ch].sibling) {
            /* insertion sort by class: a state has fewer than ncls children */
            uint32_t j = tail++;
            while (j > first && t->v[order[j - 1]].c > t->v[ch].c) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = ch;
        }
        struct mlit_node *nd = &m->node[s];
        *nd = (struct mlit_node){.child = first, .nchild = (uint8_t)(tail - first)};
        for (uint32_t v = first; v < tail; v++) {
            m->incls[v] = t->v[order[v]].c;
            if (v - first < MLIT_INLINE)
                nd->c[v - first] = m->incls[v];
        }
    }
    m->node[m->nstates] = (struct mlit_node){.child = m->nstates};
}

/* The child of state nd on class c (never class 0), or 0 if none: the root
 * is nobody's child. */
static inline uint32_t child_on(const struct mlit *m, const struct mlit_node *nd, uint32_t c)
{
    for (uint32_t j = 0; j < MLIT_INLINE; j++)
        if (nd->c[j] == c)
            return nd->child + j;
    if (nd->nchild <= MLIT_INLINE)
        return 0;
    /* a wide state: binary search of the rest, sorted by class */
    const uint8_t *ic = m->incls;
    uint32_t lo = nd->child + MLIT_INLINE, hi = nd->child + nd->nchild;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ic[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nd->child + nd->nchild && ic[lo] == c ? lo : 0;
}

/* Goto while building: failure links and dense rows are complete for every
 * state below the one being processed, and the rows still hold plain state
 * ids. c is the class of an edge, never 0. */
static uint32_t goto_plain(const struct mlit *m, uint32_t s, uint32_t c)
{
    while (s >= m->ndense) {
        uint32_t v = child_on(m, &m->node[s], c);
        if (v)
            return v;
        s = m->node[s].fail;
    }
    return m->dense[(size_t)s * m->ncls + c];
}

/* Grows m->out to at least need entries, within MLIT_MAX_TABLE bytes. */
static int out_reserve(struct mlit *m, size_t *cap, size_t need)
{
    const size_t max = MLIT_MAX_TABLE / sizeof(struct mlit_out);
    if (need <= *cap)
        return 0;
    if (need > max)
        return -1;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    if (nc > max)
        nc = max;
    struct mlit_out *nv = realloc(m->out, nc * sizeof(*nv));
    if (!nv)
        return -1;
    m->out = nv;
    *cap = nc;
    return 0;
}

/* Failure links, owner slices and dense rows (still plain ids), in BFS
 * order: everything a state needs -- its failure state's slice, row or
 * edges -- is numbered lower and therefore done. ends[] is sorted by
 * state. */
static int link_states(struct mlit *m, const struct lend *ends, size_t n)
{
    size_t nout = 0, cap = 0, ei = 0;
    size_t rowb = (size_t)m->ncls * sizeof(uint32_t);
    m->node[0].fail = 0;
    for (uint32_t s = 0; s < m->nstates; s++) {
        struct mlit_node *nd = &m->node[s];
        uint32_t f = nd->fail;
        /* owners: this state's literals (sorted by owner) merged with the
         * failure state's pairs (sorted by word), one pair per word. out is
         * set first: when f == s - 1 it is also the end of f's slice. */
        nd->out = (uint32_t)nout;
        size_t a = ei;
        while (ei < n && ends[ei].st == s)
            ei++;
        size_t fb = s ? m->node[f].out : 0, fe = s ? m->node[f + 1].out : 0;
        if (out_reserve(m, &cap, nout + (ei - a) + (fe - fb)) < 0)
            return -1;
        while (a < ei || fb < fe) {
            struct mlit_out o;
            if (fb == fe || (a < ei && ends[a].owner >> 6 <= m->out[fb].word)) {
                o.word = ends[a].owner >> 6;
                o.mask = 1ull << (ends[a].owner & 63);
                a++;
            } else {
                o = m->out[fb++];
            }
            if (nout > nd->out && m->out[nout - 1].word == o.word)
                m->out[nout - 1].mask |= o.mask;
            else
                m->out[nout++] = o;
        }
        /* a dense row: the failure state's row plus this state's edges */
        if (s < m->ndense) {
            uint32_t *row = m->dense + (size_t)s * m->ncls;
            if (s == 0)
                memset(row, 0, rowb);
            else
                memcpy(row, m->dense + (size_t)f * m->ncls, rowb);
            for (uint32_t v = nd->child; v < nd->child + nd->nchild; v++)
                row[m->incls[v]] = v;
        }
        for (uint32_t v = nd->child; v < nd->child + nd->nchild; v++)
            m->node[v].fail = s == 0 ? 0 : goto_plain(m, f, m->incls[v]);
    }
    m->node[m->nstates].out = (uint32_t)nout;
    if (nout < cap) {
        struct mlit_out *nv = realloc(m->out, (nout ? nout : 1) * sizeof(*nv));
        if (nv)
            m->out = nv;
    }
    /* flags and the rows' scan-time form (see the layout at the top) */
    for (uint32_t s = 0; s < m->nstates; s++)
        if (m->node[s + 1].out > m->node[s].out)
            m->node[s].out |= MLIT_HITS;
    for (size_t i = 0; i < (size_t)m->ndense * m->ncls; i++) {
        uint32_t v = m->dense[i];
        bool quiet = !(m->node[v].out & MLIT_HITS);
        m->dense[i] = v < m->ndense && quiet ? v * m->ncls : v | MLIT_SLOW;
    }
    /* every term is bounded (states by MLIT_MAX_STATES, rows by the budget,
     * nout by out_reserve()): the sum cannot overflow a size_t */
    m->mem = sizeof(*m) + (size_t)m->ndense * rowb +
             ((size_t)m->nstates + 1) * sizeof(*m->node) + m->nstates + nout * sizeof(*m->out);
    return m->mem <= MLIT_MAX_TABLE ? 0 : -1;
}

struct mlit *mlit_build(const struct mlit_pat *pats, size_t n, uint32_t nowners)
{
    struct mlit *m = calloc(1, sizeof(*m));
    struct trie t = {0};
    struct lend *ends = NULL;
    uint32_t *order = NULL, *bfs = NULL;
    uint32_t ncls = 1, root, ns;
    if (!m || (n && !pats) || n > SIZE_MAX / sizeof(*ends))
        goto fail;
    m->nowners = nowners;
    /* classes: 0 = any byte not in a literal; then one per folded byte
     * (ASCII letters fold, as @pm does). At most 1 + 256 - 26 classes. */
    for (size_t i = 0; i < n; i++) {
        if (pats[i].n == 0 || !pats[i].s || pats[i].owner >= nowners)
            goto fail;
        for (size_t k = 0; k < pats[i].n; k++) {
            unsigned char c = fold(pats[i].s[k]);
            if (!m->cls[c]) {
                m->cls[c] = (uint8_t)ncls;
                if (c >= 'a' && c <= 'z')
                    m->cls[c - 32] = (uint8_t)ncls;
                ncls++;
            }
        }
    }
    m->ncls = ncls;

    /* the trie, at most MLIT_MAX_STATES nodes */
    ends = malloc((n ? n : 1) * sizeof(*ends));
    if (!ends || trie_node(&t, 0, &root) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (trie_add(&t, m->cls, pats[i].s, pats[i].n, &ends[i].st) < 0)
            goto fail;
        ends[i].owner = pats[i].owner;
    }
    ns = (uint32_t)t.n;
    m->nstates = ns;

    /* breadth-first numbers (ns + 1 <= MLIT_MAX_STATES + 1: no overflow) */
    m->node = malloc(((size_t)ns + 1) * sizeof(*m->node));
    m->incls = malloc(ns);
    order = malloc((size_t)ns * sizeof(*order));
    bfs = malloc((size_t)ns * sizeof(*bfs));
    if (!m->node || !m->incls || !order || !bfs)
        goto fail;
    number_states(m, &t, order);
    for (uint32_t s = 0; s < ns; s++)
        bfs[order[s]] = s;
    for (size_t i = 0; i < n; i++)
        ends[i].st = bfs[ends[i].st];
    free(order);
    free(bfs);
    free(t.v);
    order = bfs = NULL;
    t.v = NULL;
    qsort(ends, n, sizeof(*ends), lend_cmp);

    /* the dense prefix: whole rows within the budget, at least the root's */
    size_t fit = MLIT_DENSE_BUDGET / ((size_t)ncls * sizeof(uint32_t));
    m->ndense = fit < 1 ? 1 : fit < ns ? (uint32_t)fit : ns;
    m->dense = malloc((size_t)m->ndense * ncls * sizeof(uint32_t));
    if (!m->dense || link_states(m, ends, n) < 0)
        goto fail;
    free(ends);
    return m;
fail:
    free(t.v);
    free(ends);
    free(order);
    free(bfs);
    mlit_free(m);
    return NULL;
}

void mlit_free(struct mlit *m)
{
    if (!m)
        return;
    free(m->dense);
    free(m->node);
    free(m->incls);
    free(m->out);
    free(m);
}

uint32_t mlit_owners(const struct mlit *m) { return m->nowners; }

/* ---- scanning ------------------------------------------------------------ */

static inline void report(const struct mlit *m, uint32_t st, uint64_t *bits)
{
    uint32_t k = m->node[st].out;
    if (!(k & MLIT_HITS))
        return;
    for (k &= ~MLIT_HITS; k < (m->node[st + 1].out & ~MLIT_HITS); k++)
        bits[m->out[k].word] |= m->out[k].mask;
}

/* One byte (class c) from sparse state s, as a dense-row entry would say
 * it: a child found on the way is MLIT_SLOW | child (it is sparse too, being
 * deeper); otherwise the first dense state down the failure chain answers
 * from its row. */
static inline uint32_t sparse_step(const struct mlit *m, uint32_t s, uint32_t c)
{
    if (c == 0)
        return 0; /* no literal has this byte: the root, which is quiet */
    do {
        const struct mlit_node *nd = &m->node[s];
        uint32_t v = child_on(m, nd, c);
        if (v)
            return v | MLIT_SLOW;
        s = nd->fail;
    } while (s >= m->ndense);
    return m->dense[(size_t)s * m->ncls + c];
}

/* Where a walk left the scan: the last byte it consumed and the dense row
 * to go on from. */
struct mlit_at {
    size_t i;
    uint32_t row;
};

/* The sparse part of a scan: entry e (MLIT_SLOW | a sparse state) was read
 * for u[i]. Takes the next bytes here, reporting on the way, until back in
 * a dense row or at the end of the text. Out of line, so that the
 * one-load loop of mlit_scan() keeps its few variables in registers. */
static __attribute__((noinline)) struct mlit_at walk(const struct mlit *m, uint32_t e,
                                                      const unsigned char *u, size_t i, size_t n,
                                                      uint64_t *bits)
{
    for (;;) {
        uint32_t st = e & ~MLIT_SLOW;
        report(m, st, bits);
        if (st < m->ndense)
            return (struct mlit_at){i, st * m->ncls};
        if (++i == n)
            return (struct mlit_at){i, 0};
        e = sparse_step(m, st, m->cls[u[i]]);
        if (!(e & MLIT_SLOW))
            return (struct mlit_at){i, e};
    }
}

void mlit_scan(const struct mlit *m, const char *s, size_t n, uint64_t *bits)
{
    const unsigned char *u = (const unsigned char *)s;
    const uint32_t *dense = m->dense;
    const uint8_t *cls = m->cls;
    uint32_t row = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = dense[row + cls[u[i]]];
        if (e & MLIT_SLOW) {
            uint32_t st = e & ~MLIT_SLOW;
            if (st < m->ndense) { /* a dense state that reports */
                report(m, st, bits);
                e = st * m->ncls;
            } else {
                struct mlit_at at = walk(m, e, u, i, n, bits);
                i = at.i; /* n if the text ended in a sparse state */
                e = at.row;
            }
        }
        row = e;
    }
}
