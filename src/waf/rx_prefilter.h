/* Required-literal prefilter for @rx (see rx_prefilter.c).
 *
 * Contract: when rx_prefilter_build returns a matcher P for pattern R, every
 * string that R matches (PCRE2, any flags) contains a phrase of P, compared
 * case-insensitively; so a value in which pm_match(P) finds nothing cannot
 * match R. NULL when no useful requirement can be proven. */
#ifndef MAMORI_WAF_RX_PREFILTER_H
#define MAMORI_WAF_RX_PREFILTER_H
#include <stddef.h>

#include "waf/matchers.h"

struct pm *rx_prefilter_build(const char *pattern, size_t len);

/* The same requirement as a list of literals (for a shared scanner):
 * malloc'd, free() it; NULL when there is none. */
#define RX_LIT_MAX_LEN 64
#define RX_LITS_MAX 128
struct rx_lits {
    size_t n;
    struct {
        unsigned char s[RX_LIT_MAX_LEN];
        unsigned char n;
    } v[RX_LITS_MAX];
};
struct rx_lits *rx_prefilter_lits(const char *pattern, size_t len);

#endif
