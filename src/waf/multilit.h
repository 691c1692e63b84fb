/* Multi-owner literal scanner: one Aho-Corasick pass over a value tells,
 * for every owner (a rule), whether one of its literals occurs in it
 * (ASCII case-insensitive). The engine builds one for the whole rule set
 * (every @rx requirement and @pm list, compile.c), so each distinct content
 * of a value is scanned once and every rule reads its bit.
 *
 * Contract: built once at load, immutable, shareable by threads; scan is
 * O(len) plus the outputs it reports; bounded (build fails cleanly, returning
 * NULL, past MLIT_MAX_STATES trie states or MLIT_MAX_TABLE bytes of tables;
 * callers split the set). Memory is linear in the trie (a few MB for all of
 * CRS), see docs/internals/multilit.md. */
#ifndef MAMORI_WAF_MULTILIT_H
#define MAMORI_WAF_MULTILIT_H
#include <stddef.h>
#include <stdint.h>

#define MLIT_MAX_STATES (1u << 20)  /* trie states, the root included */
#define MLIT_MAX_TABLE (32u << 20)  /* bytes of the built scanner's tables */

struct mlit;

struct mlit_pat {
    const unsigned char *s;
    size_t n;       /* > 0 */
    uint32_t owner; /* < nowners */
};

struct mlit *mlit_build(const struct mlit_pat *pats, size_t n, uint32_t nowners);
void mlit_free(struct mlit *m);
uint32_t mlit_owners(const struct mlit *m);
/* ORs into bits (ceil(nowners/64) words, zeroed by the caller) the owners
 * whose literal occurs in s. */
void mlit_scan(const struct mlit *m, const char *s, size_t n, uint64_t *bits);

#endif
