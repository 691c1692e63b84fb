/* Matching primitives behind SecLang operators: PCRE2 regexes (@rx), a
 * multi-pattern matcher (@pm, @pmFromFile), IP sets (@ipMatch,
 * @ipMatchFromFile) and the byte/encoding validators.
 *
 * Contract: every object is built once at rule-load time, is immutable
 * afterwards and may be used from many threads at once; match functions keep
 * their scratch state on the stack or in thread-local storage. Error texts
 * say what is wrong without naming the operator; the caller prefixes it.
 * See docs/internals/matchers.md. */
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
/* The same pattern matched only at the start of the subject (PCRE2_ANCHORED):
 * what the prefilter runs when a value lacks the literals of every branch
 * but the one starting with ^ (rx_prefilter.h). */
struct rx *rx_compile_anchored(const char *pattern, size_t len, uint32_t match_limit, char *err,
                               size_t errlen);
void rx_free(struct rx *r);
/* Returns 1 on match, 0 on no match, -1 on error (match limit hit: the
 * caller records it as MSC_PCRE_LIMITS_EXCEEDED). ncap counts pairs: caps
 * must hold 2*ncap longs. On a match, caps[2i], caps[2i+1] receive the
 * (start, end) byte offsets of group i for i < *ncap_out, where *ncap_out is
 * min(ncap, 10, 1 + highest group that took part in the match); groups
 * inside that range that did not take part are (-1,-1). caps may be NULL
 * when only the verdict is wanted. An empty pattern is compiled as ".*"
 * (ModSecurity does the same). */
int rx_match(const struct rx *r, const char *s, size_t n, long *caps, int ncap, int *ncap_out);
/* Number of capture groups in the pattern. */
int rx_groups(const struct rx *r);

/* ---- @pm: case-insensitive multi-pattern match (Aho-Corasick) ----------- */
struct pm;
/* Phrases may hold any byte (NUL too); empty ones are ignored. A set with
 * no phrase is valid and never matches. NULL only when out of memory or too
 * large (more than 2^30 trie states). */
struct pm *pm_build(const char *const *pats, const size_t *lens, size_t n);
/* Parses @pm's argument: whitespace-separated phrases. As in ModSecurity,
 * an argument wrapped in double quotes is unwrapped, \\ \" \: \; are
 * escapes and |41 42| is hex for bytes (hex bytes never split a phrase).
 * An argument with a bad escape or hex run is split as plain text, as
 * ModSecurity does. NULL when there is no phrase (or out of memory);
 * pm_parse_words says why. */
struct pm *pm_build_from_words(const char *arg, size_t len);
struct pm *pm_parse_words(const char *arg, size_t len, char *err, size_t errlen);
/* Reads @pmFromFile files: one phrase per line, '#' comments and blank lines
 * skipped, CR stripped. paths is space-separated; relative names are
 * resolved against base_dir. Returns NULL with err on I/O errors. */
struct pm *pm_build_from_files(const char *paths, const char *base_dir, char *err, size_t errlen);
void pm_free(struct pm *p);
/* Distinct phrases in the set, and bytes of heap it holds (for logs). */
size_t pm_count(const struct pm *p);
size_t pm_memory(const struct pm *p);
/* The non-empty phrases as given (duplicates kept), i < pm_list_count. */
size_t pm_list_count(const struct pm *p);
const char *pm_list_at(const struct pm *p, size_t i, size_t *len);
/* First match in s (leftmost end, then longest): returns true and sets
 * *off and *len to the matched phrase in s. */
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
