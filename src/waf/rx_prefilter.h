/* Required-literal prefilter for @rx (see rx_prefilter.c).
 *
 * Contract: when rx_prefilter_build returns a matcher P for pattern R, every
 * string that R matches (PCRE2, any flags) contains a phrase of P, compared
 * case-insensitively; so a value in which pm_match(P) finds nothing cannot
 * match R. NULL when no useful requirement can be proven. */
#ifndef MAMORI_WAF_RX_PREFILTER_H
#define MAMORI_WAF_RX_PREFILTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "waf/matchers.h"

struct pm *rx_prefilter_build(const char *pattern, size_t len);

/* The same requirement as a list of literals (for a shared scanner):
 * malloc'd, free() it; NULL when there is none. */
#define RX_LIT_MAX_LEN 64
#define RX_LITS_MAX 128
struct rx_lits {
    /* bos: the requirement is "one of the literals, or a match that starts
     * at the subject's start" (a pattern of the form (?:^...|...)): without
     * a literal, only the start-anchored pattern needs to run */
    bool bos;
    size_t n;
    struct {
        unsigned char s[RX_LIT_MAX_LEN];
        unsigned char n;
    } v[RX_LITS_MAX];
};
struct rx_lits *rx_prefilter_lits(const char *pattern, size_t len);
/* The phrase matcher of a requirement (NULL when it has none it can test
 * alone: empty, or "or at the start"). */
struct pm *rx_prefilter_pm(const struct rx_lits *l);
/* The same under an assumption: the subject contains no byte b with
 * absent[b] (the caller checks that before trusting the answer). Regexes
 * built to tolerate evasions (CRS's `c[\\'"]*a[\\'"]*t`) have no literal
 * requirement in general, but have one on values without those bytes. */
struct rx_lits *rx_prefilter_lits_absent(const char *pattern, size_t len, const bool absent[256]);

/* Tiers of assumption: tier 0 is none; tier k (1..RX_TIERS) assumes the
 * subject has no byte whose table entry is <= k (rx_tier_table: nested
 * sets of punctuation and control bytes, 0xff for bytes in none). A
 * subject qualifies for tier k when the smallest entry over its bytes is
 * > k. rx_prefilter_lits_tiers fills out[k] with the requirement under
 * tier k's assumption when it is better than every lower tier's (shorter
 * literals are worse; an empty set means nothing can match), else NULL;
 * returns how many it filled (each is malloc'd, free() them). */
#define RX_TIERS 3
void rx_tier_table(uint8_t tier[256]);
/* The order "better" means above: higher is better (longer shortest
 * literal, then fewer literals; an empty set beats everything). */
long rx_lits_score(const struct rx_lits *l);
size_t rx_prefilter_lits_tiers(const char *pattern, size_t len, struct rx_lits *out[RX_TIERS + 1]);

#endif
