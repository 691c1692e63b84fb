/* The multi-owner literal scanner against a naive search, on random
 * dictionaries and texts (case-insensitive). */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../t.h"
#include "waf/multilit.h"

static bool naive_has(const char *t, size_t n, const unsigned char *p, size_t pn)
{
    for (size_t i = 0; i + pn <= n; i++) {
        size_t k = 0;
        while (k < pn && tolower((unsigned char)t[i + k]) == tolower(p[k]))
            k++;
        if (k == pn)
            return true;
    }
    return false;
}

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
        char text[64];
        size_t tn = (size_t)(rand() % 60);
        for (size_t k = 0; k < tn; k++)
            text[k] = "abcABC<>'xyz"[rand() % 12];
        uint64_t bits[2] = {0, 0};
        mlit_scan(m, text, tn, bits);
        for (uint32_t o = 0; o < OWN; o++) {
            bool want = false;
            for (int i = 0; i < NP; i++)
                if (pats[i].owner == o && naive_has(text, tn, pats[i].s, pats[i].n))
                    want = true;
            bool got = (bits[o >> 6] >> (o & 63)) & 1;
            if (want != got) {
                t_fail(t, __FILE__, __LINE__, "round %d owner %u: got %d want %d", round, o, got, want);
                break;
            }
        }
        mlit_free(m);
    }
}

TEST(multilit_rejects_bad_input)
{
    struct mlit_pat bad_owner = {(const unsigned char *)"ab", 2, 5};
    CHECK(mlit_build(&bad_owner, 1, 5) == NULL);
    struct mlit_pat empty = {(const unsigned char *)"", 0, 0};
    CHECK(mlit_build(&empty, 1, 1) == NULL);
}
