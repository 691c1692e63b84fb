/* SecLang transformation functions (t:...).
 *
 * Contract: xform_apply is a pure function of its input (and the unicode map
 * for urlDecodeUni). It returns 0 when the output equals the input (then
 * out and outlen are the input), 1 when the output differs, -1 when the
 * arena is exhausted (or the output size would overflow). On 1 the output is
 * either new bytes in the arena (NUL-terminated, the NUL not counted) or a
 * sub-slice of the input (trim*, a truncating removeComments, ...); it is
 * never written through, and the input is never modified. Nothing is
 * allocated when the input is left unchanged. Semantics are byte-exact with
 * ModSecurity v3.0.9 so CRS behaves as its authors tested it. */
#ifndef MAMORI_WAF_TRANSFORMS_H
#define MAMORI_WAF_TRANSFORMS_H
#include <stddef.h>
#include <stdint.h>

struct arena;

enum xform_id {
    XF_NONE = 0,
    XF_LOWERCASE,
    XF_UPPERCASE,
    XF_URLDECODE,
    XF_URLDECODEUNI,
    XF_URLENCODE,
    XF_HTMLENTITYDECODE,
    XF_JSDECODE,
    XF_CSSDECODE,
    XF_ESCAPESEQDECODE,
    XF_UTF8TOUNICODE,
    XF_REMOVENULLS,
    XF_REPLACENULLS,
    XF_REMOVEWHITESPACE,
    XF_COMPRESSWHITESPACE,
    XF_REPLACECOMMENTS,
    XF_REMOVECOMMENTS,
    XF_REMOVECOMMENTSCHAR,
    XF_NORMALIZEPATH,
    XF_NORMALIZEPATHWIN,
    XF_CMDLINE,
    XF_LENGTH,
    XF_BASE64DECODE,
    XF_BASE64DECODEEXT,
    XF_BASE64ENCODE,
    XF_HEXDECODE,
    XF_HEXENCODE,
    XF_SHA1,
    XF_MD5,
    XF_TRIM,
    XF_TRIMLEFT,
    XF_TRIMRIGHT,
    XF_SQLHEXDECODE,
    XF_PARITYEVEN7BIT,
    XF_PARITYODD7BIT,
    XF_PARITYZERO7BIT,
    XF__COUNT
};

/* Unicode map for urlDecodeUni (SecUnicodeMapFile): map[cp] = byte + 1, or 0
 * when the code point is not in the chosen code page. */
struct xform_unicode_map {
    uint16_t map[65536];
};

struct xform_env {
    const struct xform_unicode_map *unicode; /* may be NULL */
};

/* Name as written after "t:" (case-insensitive); -1 if unknown. */
int xform_lookup(const char *name, size_t n);
const char *xform_name(enum xform_id id);

int xform_apply(enum xform_id id, const struct xform_env *env, struct arena *a, const char *in,
                size_t inlen, const char **out, size_t *outlen);

/* What can make t:id change a value, for callers that want to skip it:
 * when no byte of the input is in set, t:id returns the input itself, or
 * (XT_CASE) the input with its letters folded to lower case. The sets
 * never hold a letter of one case without the other, so they also hold
 * for the folded input, and a chain whose steps all miss a value leaves
 * it unchanged up to case. XT_ALWAYS: no set can say (t:length, t:md5,
 * ...). The sets are conservative: a byte in one may still leave a given
 * value alone. */
enum xform_trigger { XT_BYTES, XT_CASE, XT_ALWAYS };
enum xform_trigger xform_triggers(enum xform_id id, uint8_t set[256]);

/* Loads one code page of a unicode.mapping file. Returns 0, or -1 with err. */
int xform_unicode_map_load(const char *path, unsigned codepage, struct xform_unicode_map *m,
                           char *err, size_t errlen);

#endif
