/* Matching primitives behind SecLang operators: PCRE2 regexes (@rx), a
 * multi-pattern matcher (@pm, @pmFromFile), IP sets (@ipMatch,
 * @ipMatchFromFile) and the byte/encoding validators.
 *
 * Contract: every object is built once at rule-load time, is immutable
 * afterwards and may be used from many threads at once; match functions keep
 * their scratch state on the stack or in thread-local storage. */
#ifndef MAMORI_WAF_MATCHERS_H
#define MAMORI_WAF_MATCHERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- @rx: PCRE2 with JIT ------------------------------------------------ */
struct rx;
/* Compiled with PCRE2_DOTALL|PCRE2_DOLLAR_ENDONLY as ModSecurity does, plus
 * JIT when available; match_limit bounds backtracking (SecPcreMatchLimit). */
struct rx *rx_compile(const char *pattern, size_t len, uint32_t match_limit, char *err,
                      size_t errlen);
void rx_free(struct rx *r);
/* Returns 1 on match, 0 on no match, -1 on error (match limit hit: the
 * caller records it as MSC_PCRE_LIMITS_EXCEEDED). On a match, caps[0..ncap)
 * receive up to ncap (start, end) offset pairs of group 0..9 (unset groups
 * are (-1,-1)); *ncap_out receives how many were filled. */
int rx_match(const struct rx *r, const char *s, size_t n, long *caps, int ncap, int *ncap_out);
/* Number of capture groups in the pattern. */
int rx_groups(const struct rx *r);

/* ---- @pm: case-insensitive multi-pattern match (Aho-Corasick) ----------- */
struct pm;
struct pm *pm_build(const char *const *pats, const size_t *lens, size_t n);
/* Parses @pm's argument: space-separated phrases (ModSecurity also splits on
 * spaces; no quoting). */
struct pm *pm_build_from_words(const char *arg, size_t len);
/* Reads @pmFromFile files: one phrase per line, '#' comments and blank lines
 * skipped, CR stripped. paths is space-separated; relative names are
 * resolved against base_dir. Returns NULL with err on I/O errors. */
struct pm *pm_build_from_files(const char *paths, const char *base_dir, char *err, size_t errlen);
void pm_free(struct pm *p);
/* First match in s (leftmost end, then longest): returns true and sets
 * *off/*len of the matched phrase in s. */
bool pm_match(const struct pm *p, const char *s, size_t n, size_t *off, size_t *len);

/* ---- @ipMatch ------------------------------------------------------------ */
struct ipset;
/* Comma-separated addresses/CIDRs, IPv4 and IPv6. NULL + err on bad input. */
struct ipset *ipset_parse(const char *list, size_t len, char *err, size_t errlen);
struct ipset *ipset_from_file(const char *path, const char *base_dir, char *err, size_t errlen);
void ipset_free(struct ipset *s);
/* addr is a textual address (v4 or v6); false if it does not parse. */
bool ipset_contains(const struct ipset *s, const char *addr, size_t len);

/* ---- validators ------------------------------------------------------------ */
/* @validateByteRange "9,10,13,32-126": a 256-bit set. */
struct byterange {
    uint64_t bits[4];
};
int byterange_parse(const char *arg, size_t len, struct byterange *out, char *err, size_t errlen);
/* True when some byte of s is outside the range (the operator matches). */
bool byterange_violated(const struct byterange *r, const char *s, size_t n);
/* True when s has an invalid %-encoding (operator matches). */
bool validate_url_encoding_fails(const char *s, size_t n);
/* True when s is not valid UTF-8 (overlong, surrogates, truncated...). */
bool validate_utf8_fails(const char *s, size_t n);

#endif
