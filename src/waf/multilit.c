/* Aho-Corasick with owner sets; see multilit.h. States form a trie over
 * case-folded bytes mapped to classes (only bytes that occur in some
 * literal get their own class; every other byte is class 0, which leads
 * back to the root's row); after the failure links are computed the
 * automaton is a full DFA table, so a scan does one load per byte. Each
 * state's owners (its own and those of its failure chain) are one slice of
 * a shared owner array. */
#include "waf/multilit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MLIT_HIT 0x80000000u

struct mlit {
    uint32_t nowners;
    uint32_t nstates;
    uint32_t ncls;
    uint8_t cls[256];
    uint32_t *next;      /* nstates * ncls */
    uint32_t *out_start; /* nstates + 1: owners of state s are out[out_start[s]..out_start[s+1]) */
    uint32_t *out;
};

struct bstate {
    uint32_t *own; /* owners ending here (before merging failure chains) */
    uint32_t nown, capown;
};

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int own_add(struct bstate *st, uint32_t o)
{
    for (uint32_t i = 0; i < st->nown; i++)
        if (st->own[i] == o)
            return 0;
    if (st->nown == st->capown) {
        uint32_t nc = st->capown ? st->capown * 2 : 4;
        uint32_t *nv = realloc(st->own, nc * sizeof(*nv));
        if (!nv)
            return -1;
        st->own = nv;
        st->capown = nc;
    }
    st->own[st->nown++] = o;
    return 0;
}

struct mlit *mlit_build(const struct mlit_pat *pats, size_t n, uint32_t nowners)
{
    struct mlit *m = calloc(1, sizeof(*m));
    struct bstate *bs = NULL;
    uint32_t *fail = NULL, *queue = NULL;
    if (!m)
        return NULL;
    m->nowners = nowners;
    /* classes: 0 = any byte not in a literal; then one per folded byte
     * (ASCII letters fold, as @pm does) */
    uint32_t ncls = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < pats[i].n; k++) {
            unsigned char c = fold(pats[i].s[k]);
            if (!m->cls[c]) {
                m->cls[c] = (uint8_t)ncls;
                if (c >= 'a' && c <= 'z')
                    m->cls[c - 32] = (uint8_t)ncls;
                if (++ncls > 255)
                    goto fail;
            }
        }
    m->ncls = ncls;
    /* trie; rows grow with the states, within MLIT_MAX_TABLE bytes */
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (pats[i].n == 0 || pats[i].owner >= nowners)
            goto fail;
        total += pats[i].n;
    }
    if (total > MLIT_MAX_STATES)
        goto fail;
    bs = calloc(total, sizeof(*bs));
    size_t caprows = total < 1024 ? total : 1024;
    m->next = calloc(caprows * ncls, sizeof(uint32_t));
    if (!m->next || !bs)
        goto fail;
    uint32_t nst = 1;
    /* 0 in next[] means "no edge yet" for the trie phase (the root is never
     * a child, so 0 is free to mean that) */
    for (size_t i = 0; i < n; i++) {
        uint32_t s = 0;
        for (size_t k = 0; k < pats[i].n; k++) {
            uint32_t c = m->cls[(unsigned char)pats[i].s[k]];
            size_t e = (size_t)s * ncls + c;
            if (!m->next[e]) {
                if (nst == caprows) {
                    size_t nc = caprows * 2 < total ? caprows * 2 : total;
                    if (nc * ncls * sizeof(uint32_t) > MLIT_MAX_TABLE)
                        goto fail;
                    uint32_t *nn = realloc(m->next, nc * ncls * sizeof(uint32_t));
                    if (!nn)
                        goto fail;
                    memset(nn + caprows * ncls, 0, (nc - caprows) * ncls * sizeof(uint32_t));
                    m->next = nn;
                    caprows = nc;
                }
                m->next[e] = nst++;
            }
            s = m->next[e];
        }
        if (own_add(&bs[s], pats[i].owner) < 0)
            goto fail;
    }
    m->nstates = nst;
    if (nst < caprows) {
        uint32_t *nn = realloc(m->next, (size_t)nst * ncls * sizeof(uint32_t));
        if (nn)
            m->next = nn;
    }
    /* failure links, breadth first; turn the trie into a DFA */
    fail = calloc(nst, sizeof(uint32_t));
    queue = malloc(nst * sizeof(uint32_t));
    if (!fail || !queue)
        goto fail;
    size_t qh = 0, qt = 0;
    for (uint32_t c = 0; c < ncls; c++) {
        uint32_t t = m->next[c];
        if (t) {
            fail[t] = 0;
            queue[qt++] = t;
        }
    }
    while (qh < qt) {
        uint32_t s = queue[qh++];
        /* owners of the failure state end here too */
        for (uint32_t i = 0; i < bs[fail[s]].nown; i++)
            if (own_add(&bs[s], bs[fail[s]].own[i]) < 0)
                goto fail;
        for (uint32_t c = 0; c < ncls; c++) {
            uint32_t *e = &m->next[(size_t)s * ncls + c];
            if (*e) {
                uint32_t t = *e;
                fail[t] = m->next[(size_t)fail[s] * ncls + c];
                queue[qt++] = t;
            } else {
                *e = m->next[(size_t)fail[s] * ncls + c];
            }
        }
    }
    /* owner slices */
    m->out_start = malloc(((size_t)nst + 1) * sizeof(uint32_t));
    size_t nout = 0;
    for (uint32_t s = 0; s < nst; s++)
        nout += bs[s].nown;
    m->out = malloc((nout ? nout : 1) * sizeof(uint32_t));
    if (!m->out_start || !m->out)
        goto fail;
    size_t k = 0;
    for (uint32_t s = 0; s < nst; s++) {
        m->out_start[s] = (uint32_t)k;
        for (uint32_t i = 0; i < bs[s].nown; i++)
            m->out[k++] = bs[s].own[i];
    }
    m->out_start[nst] = (uint32_t)k;
    /* final form of the table: entries hold the target's row offset
     * (state * ncls) with the top bit set when the target reports owners,
     * so a scan does one load per byte and no multiplication */
    if ((uint64_t)nst * ncls >= MLIT_HIT)
        goto fail;
    for (size_t e = 0; e < (size_t)nst * ncls; e++) {
        uint32_t t = m->next[e];
        m->next[e] = t * ncls | (m->out_start[t + 1] > m->out_start[t] ? MLIT_HIT : 0);
    }
    for (uint32_t s = 0; s < total; s++)
        free(bs[s].own);
    free(bs);
    free(fail);
    free(queue);
    return m;
fail:
    if (bs)
        for (size_t s = 0; s < total; s++)
            free(bs[s].own);
    free(bs);
    free(fail);
    free(queue);
    mlit_free(m);
    return NULL;
}

void mlit_free(struct mlit *m)
{
    if (!m)
        return;
    free(m->next);
    free(m->out_start);
    free(m->out);
    free(m);
}

uint32_t mlit_owners(const struct mlit *m) { return m->nowners; }

void mlit_scan(const struct mlit *m, const char *s, size_t n, uint64_t *bits)
{
    const unsigned char *u = (const unsigned char *)s;
    const uint32_t *next = m->next;
    const uint8_t *cls = m->cls;
    uint32_t row = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = next[row + cls[u[i]]];
        row = e & ~MLIT_HIT;
        if (e & MLIT_HIT) {
            uint32_t st = row / m->ncls;
            for (uint32_t k = m->out_start[st]; k < m->out_start[st + 1]; k++)
                bits[m->out[k] >> 6] |= 1ull << (m->out[k] & 63);
        }
    }
}
