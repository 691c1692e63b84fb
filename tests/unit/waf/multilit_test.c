/* The multi-owner literal scanner against a naive search, on random
 * dictionaries and texts (case-insensitive), plus the shapes that reach its
 * sparse part: big tries, shared prefixes, outputs through failure chains
 * in deep states, wide deep states, bytes >= 0x80, and the build bounds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../t.h"
#include "waf/multilit.h"

/* ---- the reference ----------------------------------------------------------
 * Written from the contract only: a literal occurs if some window of the text
 * equals it after folding ASCII A-Z to a-z (and nothing else). */

static unsigned char ref_fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool naive_has(const char *t, size_t n, const unsigned char *p, size_t pn)
{
    for (size_t i = 0; i + pn <= n; i++) {
        size_t k = 0;
        while (k < pn && ref_fold((unsigned char)t[i + k]) == ref_fold(p[k]))
            k++;
        if (k == pn)
            return true;
    }
    return false;
}

static bool bit(const uint64_t *bits, uint32_t o)
{
    return (bits[o >> 6] >> (o & 63)) & 1;
}

/* Scans text with m and compares every owner with the reference; reports
 * the first difference. Returns false on a difference. */
static bool agrees(struct t_ctx *t, int line, const struct mlit *m, const struct mlit_pat *pats,
                   size_t np, uint32_t nowners, const char *text, size_t tn)
{
    size_t words = (nowners + 63) / 64;
    uint64_t *bits = calloc(words ? words : 1, sizeof(*bits));
    bool *want = calloc(nowners ? nowners : 1, sizeof(*want));
    bool ok = true;
    if (!bits || !want) {
        t_fail(t, __FILE__, line, "out of memory");
        free(bits);
        free(want);
        return false;
    }
    mlit_scan(m, text, tn, bits);
    for (size_t i = 0; i < np; i++)
        if (!want[pats[i].owner] && naive_has(text, tn, pats[i].s, pats[i].n))
            want[pats[i].owner] = true;
    for (uint32_t o = 0; o < nowners && ok; o++)
        if (want[o] != bit(bits, o)) {
            t_fail(t, __FILE__, line, "owner %u: got %d want %d (text of %zu bytes)", o,
                   bit(bits, o), want[o], tn);
            ok = false;
        }
    /* no stray bits past the owners */
    for (uint32_t o = nowners; o < words * 64 && ok; o++)
        if (bit(bits, o)) {
            t_fail(t, __FILE__, line, "bit %u set past %u owners", o, nowners);
            ok = false;
        }
    free(bits);
    free(want);
    return ok;
}

/* ---- small random dictionaries (all dense) ------------------------------- */

TEST(multilit_matches_naive_search)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        enum { NP = 40, OWN = 70 };
        unsigned char store[NP][8];
        struct mlit_pat pats[NP];
        for (int i = 0; i < NP; i++) {
            size_t n = 1 + (size_t)(rand() % 5);
            for (size_t k = 0; k < n; k++)
                store[i][k] = (unsigned char)"abcABC<>'x"[rand() % 10];
            pats[i] = (struct mlit_pat){store[i], n, (uint32_t)(rand() % OWN)};
        }
        struct mlit *m = mlit_build(pats, NP, OWN);
        CHECK(m != NULL);
        if (!m)
            return;
        CHECK_INT(mlit_owners(m), OWN);
        char text[64];
        size_t tn = (size_t)(rand() % 60);
        for (size_t k = 0; k < tn; k++)
            text[k] = "abcABC<>'xyz"[rand() % 12];
        bool ok = agrees(t, __LINE__, m, pats, NP, OWN, text, tn);
        mlit_free(m);
        if (!ok)
            break;
    }
}

/* ---- big random dictionaries (mostly sparse) ------------------------------
 * Hundreds of long literals over ~130 byte values (upper case, >= 0x80, NUL)
 * give tens of thousands of states, far more than fit dense rows of 130
 * classes in any sane budget; texts are spliced from pieces of literals so
 * that scans go deep, fall back through failure links and hit. */

static const unsigned char *alphabet(size_t *n)
{
    static unsigned char a[160];
    static size_t an;
    if (!an) {
        for (int c = 'a'; c <= 'z'; c++)
            a[an++] = (unsigned char)c;
        for (int c = 'A'; c <= 'Z'; c++)
            a[an++] = (unsigned char)c;
        for (int c = '0'; c <= '9'; c++)
            a[an++] = (unsigned char)c;
        for (const char *p = " <>'\"();=&%/\\-_.,:"; *p; p++)
            a[an++] = (unsigned char)*p;
        a[an++] = 0;
        for (int c = 0x80; c < 0x80 + 60; c++)
            a[an++] = (unsigned char)c;
    }
    *n = an;
    return a;
}

/* a text made of literal pieces (whole, prefixes, suffixes, case-flipped)
 * and random bytes, including some no literal has */
static size_t splice_text(char *text, size_t cap, const struct mlit_pat *pats, size_t np)
{
    size_t an, tn = 0;
    const unsigned char *a = alphabet(&an);
    while (tn < cap) {
        int kind = rand() % 6;
        if (kind == 0) {
            text[tn++] = rand() % 4 ? (char)a[rand() % an] : (char)(0xc0 + rand() % 64);
            continue;
        }
        const struct mlit_pat *p = &pats[(size_t)rand() % np];
        size_t from = 0, to = p->n;
        if (kind == 2)
            to = 1 + (size_t)rand() % p->n; /* a prefix: goes deep, then misses */
        else if (kind == 3)
            from = (size_t)rand() % p->n; /* a suffix */
        for (size_t k = from; k < to && tn < cap; k++) {
            unsigned char c = p->s[k];
            if (kind == 4 && c >= 'a' && c <= 'z')
                c = (unsigned char)(c - 32);
            else if (kind == 4 && c >= 'A' && c <= 'Z')
                c = (unsigned char)(c + 32);
            text[tn++] = (char)c;
        }
    }
    return tn;
}

TEST(multilit_sparse_matches_naive_search)
{
    srand(11);
    size_t an;
    const unsigned char *a = alphabet(&an);
    for (int round = 0; round < 6; round++) {
        enum { NP = 700, OWN = 300, MAXLEN = 40 };
        static unsigned char store[NP][MAXLEN];
        static struct mlit_pat pats[NP];
        static char text[1500];
        for (int i = 0; i < NP; i++) {
            size_t n;
            if (i > 0 && rand() % 4 == 0) {
                /* shares a prefix with an earlier literal, or is a piece of
                 * one (an output reached through failure links) */
                const struct mlit_pat *q = &pats[rand() % i];
                size_t from = rand() % 2 ? (size_t)rand() % q->n : 0;
                n = 0;
                for (size_t k = from; k < q->n && n < MAXLEN; k++)
                    store[i][n++] = q->s[k];
                size_t extra = (size_t)(rand() % 6);
                while (extra-- && n < MAXLEN)
                    store[i][n++] = a[rand() % an];
            } else {
                n = 8 + (size_t)(rand() % (MAXLEN - 8));
                for (size_t k = 0; k < n; k++)
                    store[i][k] = a[rand() % an];
            }
            /* a few short ones as well: hits in dense states */
            if (rand() % 40 == 0)
                n = 1 + (size_t)(rand() % 3);
            pats[i] = (struct mlit_pat){store[i], n, (uint32_t)(rand() % OWN)};
        }
        struct mlit *m = mlit_build(pats, NP, OWN);
        CHECK(m != NULL);
        if (!m)
            return;
        bool ok = true;
        for (int k = 0; k < 8 && ok; k++) {
            size_t tn = splice_text(text, 64 + (size_t)rand() % (sizeof text - 64), pats, NP);
            ok = agrees(t, __LINE__, m, pats, NP, OWN, text, tn);
            /* every prefix length, on a short text: the scan may end in
             * any kind of state */
            for (size_t cut = 0; cut <= 80 && cut <= tn && ok; cut++)
                ok = agrees(t, __LINE__, m, pats, NP, OWN, text, cut);
        }
        mlit_free(m);
        if (!ok)
            break;
    }
}

/* ---- hand-made shapes ------------------------------------------------------ */

/* Filler that pushes the interesting literals deep into the sparse part:
 * literals over ~190 byte values (no letters, digits, '-' or '.', so the
 * texts below never contain one) make rows of 200+ classes, so only a few
 * hundred states can be dense, while the filler alone has thousands. */
#define FILL 400
static unsigned char fill_store[FILL][12];

static size_t add_filler(struct mlit_pat *pats, uint32_t owner)
{
    unsigned char a[256];
    size_t an = 0;
    for (int c = 1; c < 256; c++)
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '-' && c != '.')
            a[an++] = (unsigned char)c;
    unsigned x = 12345;
    for (int i = 0; i < FILL; i++) {
        for (int k = 0; k < 12; k++) {
            x = x * 1103515245u + 12345u;
            fill_store[i][k] = a[(x >> 16) % an];
        }
        pats[i] = (struct mlit_pat){fill_store[i], 12, owner};
    }
    return FILL;
}

#define LIT(str) (const unsigned char *)(str), sizeof(str) - 1

static bool scan_has(const struct mlit *m, const char *text, size_t tn, uint32_t owner)
{
    uint64_t bits[2] = {0, 0};
    mlit_scan(m, text, tn, bits);
    return bit(bits, owner);
}

TEST(multilit_deep_failure_chain_outputs)
{
    static struct mlit_pat pats[FILL + 16];
    size_t np = 0;
    /* owners 1..: a long literal, and pieces of it that end at the same
     * place (reached only through failure links from deep, sparse states).
     * It comes first, so 'x' is class 1: the class a byte in no literal
     * (class 0) must never be taken for. */
    pats[np++] = (struct mlit_pat){LIT("xyzzy-long-literal-0123456789"), 1};
    pats[np++] = (struct mlit_pat){LIT("long-literal-0123"), 2};
    pats[np++] = (struct mlit_pat){LIT("literal-0123456789"), 3};
    pats[np++] = (struct mlit_pat){LIT("9"), 4};
    pats[np++] = (struct mlit_pat){LIT("456789"), 5};
    /* shares the prefix of owner 1's literal but diverges deep */
    pats[np++] = (struct mlit_pat){LIT("xyzzy-long-literal-01X"), 6};
    /* same owner twice, and one literal with two owners */
    pats[np++] = (struct mlit_pat){LIT("-0123456"), 7};
    pats[np++] = (struct mlit_pat){LIT("long-lit"), 7};
    pats[np++] = (struct mlit_pat){LIT("long-lit"), 70};
    pats[np++] = (struct mlit_pat){LIT("xyzzy-long-x"), 8};
    np += add_filler(pats + np, 0);
    struct mlit *m = mlit_build(pats, np, 71);
    CHECK(m != NULL);
    if (!m)
        return;
    const char *full = "..xyzzy-long-literal-0123456789..";
    for (uint32_t o = 1; o <= 5; o++)
        CHECK(scan_has(m, full, strlen(full), o));
    CHECK(!scan_has(m, full, strlen(full), 6));
    CHECK(scan_has(m, full, strlen(full), 7));
    CHECK(scan_has(m, full, strlen(full), 70));
    CHECK(!scan_has(m, full, strlen(full), 0));
    /* the diverging branch, then a miss that must fall back through the
     * chain: "long-literal-01" continues as "long-literal-0123" */
    const char *branch = "xyzzy-long-literal-01xyzzy-long-literal-0123";
    CHECK(scan_has(m, branch, strlen(branch), 6));
    CHECK(scan_has(m, branch, strlen(branch), 2));
    CHECK(!scan_has(m, branch, strlen(branch), 1));
    CHECK(!scan_has(m, branch, strlen(branch), 3));
    /* a byte no literal has, deep in the trie: back to the root */
    CHECK(scan_has(m, "xyzzy-long-x", 12, 8));
    CHECK(!scan_has(m, "xyzzy-long-.", 12, 8));
    CHECK(!scan_has(m, "xyzzy-long-\0", 12, 8));
    /* case folding on the deep path, text ends in a sparse state */
    const char *upper = "XYZZY-LONG-LITERAL-012";
    CHECK(scan_has(m, upper, strlen(upper), 7));
    CHECK(!scan_has(m, upper, strlen(upper), 2));
    /* the whole set against the reference on the texts above and on
     * every prefix of the long one */
    CHECK(agrees(t, __LINE__, m, pats, np, 71, branch, strlen(branch)));
    for (size_t cut = 0; cut <= strlen(full); cut++)
        CHECK(agrees(t, __LINE__, m, pats, np, 71, full, cut));
    mlit_free(m);
}

TEST(multilit_wide_deep_state)
{
    /* a deep state with many children: binary search among them, and
     * failure links that land on it */
    static struct mlit_pat pats[FILL + 80];
    static unsigned char lits[64][24];
    size_t np = add_filler(pats, 0);
    for (int i = 0; i < 64; i++) {
        memcpy(lits[i], "commonprefix", 12);
        lits[i][12] = (unsigned char)(i < 32 ? 0x21 + i : 0xa0 + i); /* < and >= 0x80 */
        memcpy(lits[i] + 13, "tail", 4);
        pats[np++] = (struct mlit_pat){lits[i], 17, (uint32_t)(1 + i)};
    }
    struct mlit *m = mlit_build(pats, np, 65);
    CHECK(m != NULL);
    if (!m)
        return;
    char text[64];
    for (int i = 0; i < 64; i++) {
        int n = snprintf(text, sizeof text, "zzCOMMONPREFIXcommonprefix%ctail",
                         (char)(i < 32 ? 0x21 + i : 0xa0 + i));
        CHECK(scan_has(m, text, (size_t)n, (uint32_t)(1 + i)));
        CHECK(agrees(t, __LINE__, m, pats, np, 65, text, (size_t)n));
    }
    /* a byte that is no child's: nobody */
    const char *none = "commonprefix\x7ftail";
    uint64_t bits[2] = {0, 0};
    mlit_scan(m, none, strlen(none), bits);
    CHECK(bits[0] == 0 && bits[1] == 0);
    mlit_free(m);
}

TEST(multilit_folding_and_high_bytes)
{
    struct mlit_pat pats[] = {
        {LIT("SeLeCt"), 0},
        {LIT("\xc4\xd6"), 1}, /* Latin-1 upper A/O umlaut: not folded */
        {LIT("\xe4"), 2},
        {LIT("a\x80Z"), 3},
        {LIT("@["), 4}, /* neighbours of A-Z: not letters, not folded */
    };
    struct mlit *m = mlit_build(pats, 5, 5);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(scan_has(m, "select", 6, 0));
    CHECK(scan_has(m, "xSELECTx", 8, 0));
    CHECK(!scan_has(m, "selec", 5, 0));
    CHECK(scan_has(m, "\xc4\xd6", 2, 1));
    CHECK(!scan_has(m, "\xe4\xf6", 2, 1)); /* lower case in Latin-1 */
    CHECK(!scan_has(m, "\xc4", 1, 2));
    CHECK(scan_has(m, "A\x80z", 3, 3));
    CHECK(!scan_has(m, "A\x81z", 3, 3));
    CHECK(scan_has(m, "x@[", 3, 4));
    CHECK(!scan_has(m, "`{", 2, 4));
    CHECK(!scan_has(m, "@{", 2, 4));
    mlit_free(m);
}

TEST(multilit_short_texts)
{
    struct mlit_pat pats[] = {
        {LIT("a"), 0},
        {LIT("ab"), 1},
        {LIT("\0"), 2},
    };
    struct mlit *m = mlit_build(pats, 3, 130); /* owners in three words */
    CHECK(m != NULL);
    if (!m)
        return;
    uint64_t bits[3] = {0, 0, 0};
    mlit_scan(m, "", 0, bits);
    CHECK(bits[0] == 0 && bits[1] == 0 && bits[2] == 0);
    mlit_scan(m, "A", 1, bits);
    CHECK(bits[0] == 1 && bits[1] == 0 && bits[2] == 0);
    bits[0] = 0;
    mlit_scan(m, "b", 1, bits);
    CHECK(bits[0] == 0);
    mlit_scan(m, "\0", 1, bits);
    CHECK(bits[0] == 4);
    /* bits already set by the caller stay set */
    bits[1] = 1ull << 63;
    mlit_scan(m, "aB", 2, bits);
    CHECK(bits[0] == 7 && bits[1] == 1ull << 63);
    mlit_free(m);

    /* no literals at all: a scanner that reports nothing */
    m = mlit_build(NULL, 0, 1);
    CHECK(m != NULL);
    if (m) {
        bits[0] = 0;
        mlit_scan(m, "anything", 8, bits);
        CHECK(bits[0] == 0);
        mlit_free(m);
    }
}

/* CHECKs that a build fails, without leaking if it does not */
#define CHECK_NO_BUILD(pats, n, nowners)                                         \
    do {                                                                       \
        struct mlit *t_m = mlit_build((pats), (n), (nowners));                 \
        CHECK(t_m == NULL);                                                    \
        mlit_free(t_m);                                                        \
    } while (0)

TEST(multilit_rejects_bad_input)
{
    struct mlit_pat bad_owner = {(const unsigned char *)"ab", 2, 5};
    CHECK_NO_BUILD(&bad_owner, 1, 5);
    struct mlit_pat empty = {(const unsigned char *)"", 0, 0};
    CHECK_NO_BUILD(&empty, 1, 1);
    CHECK_NO_BUILD(NULL, 3, 1);
}

TEST(multilit_bounds)
{
    /* states: one literal as long as the bound needs one state too many
     * (the root counts); one shorter fits and works */
    size_t len = MLIT_MAX_STATES;
    unsigned char *big = malloc(len);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 'q', len);
    struct mlit_pat p = {big, len, 0};
    CHECK_NO_BUILD(&p, 1, 1);
    p.n = len - 1;
    struct mlit *m = mlit_build(&p, 1, 1); /* exactly MLIT_MAX_STATES states */
    CHECK(m != NULL);
    if (m) {
        uint64_t bits[1] = {0};
        mlit_scan(m, (const char *)big, len - 2, bits);
        CHECK(bits[0] == 0);
        mlit_scan(m, (const char *)big, len, bits);
        CHECK(bits[0] == 1);
        mlit_free(m);
    }

    /* owner slices: "q" for owners in W different words, and a run of q's
     * whose every state reports all of them. Each (word, bits) pair takes
     * at least 8 bytes, so this asks for twice MLIT_MAX_TABLE. */
    enum { W = 32 };
    size_t run = MLIT_MAX_TABLE / (8u * W) * 2;
    struct mlit_pat pats[W + 1];
    for (uint32_t w = 0; w < W; w++)
        pats[w] = (struct mlit_pat){big, 1, w * 64};
    pats[W] = (struct mlit_pat){big, run, 0};
    CHECK_NO_BUILD(pats, W + 1, W * 64);
    /* the same with a short run builds */
    pats[W].n = 1000;
    m = mlit_build(pats, W + 1, W * 64);
    CHECK(m != NULL);
    if (m) {
        uint64_t bits[W] = {0};
        mlit_scan(m, "xqx", 3, bits);
        for (int w = 0; w < W; w++)
            CHECK(bits[w] == 1);
        mlit_free(m);
    }
    free(big);
}

/* Long texts (the size of form fields and bodies): literals planted in the
 * middle, at both ends and anywhere must all be found, with short and long
 * literals, dense and sparse states. */
TEST(multilit_long_texts)
{
    enum { NP = 300, OWN = 90 };
    static unsigned char store[NP][40];
    struct mlit_pat pats[NP];
    srand(99);
    for (size_t i = 0; i < NP; i++) {
        size_t n = 1 + (size_t)rand() % (i % 7 == 0 ? 39 : 6);
        for (size_t k = 0; k < n; k++)
            store[i][k] = (unsigned char)("abcdefgh;'<>/ \x80\xff"[rand() % 16]);
        pats[i] = (struct mlit_pat){store[i], n, (uint32_t)(rand() % OWN)};
    }
    struct mlit *m = mlit_build(pats, NP, OWN);
    CHECK(m != NULL);
    static char text[5000];
    for (int round = 0; m && round < 300; round++) {
        size_t tn = 256 + (size_t)rand() % 4700;
        for (size_t k = 0; k < tn; k++)
            text[k] = (char)("xyzXYZ 0123"[rand() % 11]); /* bytes no literal has */
        /* plant a few literals, one right where the halves meet */
        for (int p = 0; p < 4; p++) {
            const struct mlit_pat *lp = &pats[(size_t)rand() % NP];
            size_t mid = tn / 2;
            size_t at = p == 0 ? mid - (size_t)rand() % lp->n
                        : p == 1 ? tn - lp->n
                        : (size_t)rand() % (tn - lp->n);
            memcpy(text + at, lp->s, lp->n);
        }
        if (!agrees(t, __LINE__, m, pats, NP, OWN, text, tn))
            break;
    }
    mlit_free(m);
}
