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

#endif
