/* SecLang transformation functions, byte-exact with libmodsecurity 3.0.9:
 * lookup, dispatch, the unicode map loader and the simple byte-level
 * transformations. The decoders live in transforms_decode.c.
 *
 * Every function writes through a lazy writer (struct xw): while the output
 * still equals a prefix of the input nothing is allocated, so the common
 * case (an argument the transformation leaves alone) costs one pass and no
 * memory. The first differing byte allocates the output with a bound that is
 * specific to the transformation and computed with checked arithmetic.
 *
 * The quirks below (bytes dropped on invalid UTF-8, the byte after a comment
 * terminator copied unchecked, saturating entity numbers, ...) are
 * deliberate: CRS's regression tests were recorded against ModSecurity, and
 * a "cleaner" decoder would match differently. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "waf/transforms_int.h"

/* ---- case ------------------------------------------------------------- */

static int xf_case(bool upper, struct arena *a, const char *in, size_t n, const char **out,
                   size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    unsigned char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';

    while (i < n && !(s[i] >= lo && s[i] <= hi))
        i++;
    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    for (; i < n; i++)
        b[i] = (s[i] >= lo && s[i] <= hi) ? (unsigned char)(s[i] ^ 0x20) : s[i];
    b[n] = '\0';
    *out = (const char *)b;
    *outlen = n;
    return 1;
}

/* ---- NULs and whitespace --------------------------------------------- */

static int xf_nulls(bool replace, struct arena *a, const char *in, size_t n, const char **out,
                    size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    const unsigned char *z = memchr(s, 0, n);
    struct xw w;

    if (!z) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    size_t i = (size_t)(z - s);
    xw_putn(&w, s, i);
    for (; i < n; i++) {
        if (s[i])
            xw_put(&w, s[i]);
        else if (replace)
            xw_put(&w, ' ');
    }
    return xw_finish(&w, out, outlen);
}

/* removeWhitespace also drops 0xa0 and 0xc2 (the two bytes of a UTF-8 NBSP,
 * taken one at a time). */
static inline bool rw_space(unsigned char c)
{
    return is_space(c) || c == 0xa0 || c == 0xc2;
}

static int xf_remove_whitespace(struct arena *a, const char *in, size_t n, const char **out,
                                size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;

    xw_init(&w, a, in, n, n);
    for (size_t i = 0; i < n; i++)
        if (!rw_space(s[i]))
            xw_put(&w, s[i]);
    return xw_finish(&w, out, outlen);
}

static int xf_compress_whitespace(struct arena *a, const char *in, size_t n, const char **out,
                                  size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    bool inws = false;

    xw_init(&w, a, in, n, n);
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i])) {
            if (!inws)
                xw_put(&w, ' ');
            inws = true;
        } else {
            inws = false;
            xw_put(&w, s[i]);
        }
    }
    return xw_finish(&w, out, outlen);
}

static int xf_trim(bool left, bool right, const char *in, size_t n, const char **out,
                   size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t b = 0, e = n;
    if (left)
        while (b < e && is_space(s[b]))
            b++;
    if (right)
        while (e > b && is_space(s[e - 1]))
            e--;
    *out = in + b;
    *outlen = e - b;
    return (b == 0 && e == n) ? 0 : 1;
}

/* ---- comments --------------------------------------------------------- */

static int xf_replace_comments(struct arena *a, const char *in, size_t n, const char **out,
                               size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    bool incomment = false;
    size_t i = 0;

    xw_init(&w, a, in, n, n);
    while (i < n) {
        if (!incomment) {
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                incomment = true;
                i += 2;
            } else {
                xw_put(&w, s[i++]);
            }
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
            incomment = false;
            i += 2;
            xw_put(&w, ' ');
        } else {
            i++;
        }
    }
    if (incomment)
        xw_put(&w, ' ');
    return xw_finish(&w, out, outlen);
}

static int xf_remove_comments(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    bool incomment = false;
    size_t i = 0;

    xw_init(&w, a, in, n, n);
    while (i < n) {
        if (!incomment) {
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                incomment = true;
                i += 2;
            } else if (s[i] == '<' && i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' &&
                       s[i + 3] == '-') {
                incomment = true;
                i += 4;
            } else if ((s[i] == '-' && i + 1 < n && s[i + 1] == '-') || s[i] == '#') {
                break; /* SQL / shell line comment: the rest is dropped */
            } else {
                xw_put(&w, s[i++]);
            }
        } else {
            size_t end = 0;
            if (s[i] == '*' && i + 1 < n && s[i + 1] == '/')
                end = 2;
            else if (s[i] == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>')
                end = 3;
            if (end) {
                incomment = false;
                i += end;
                /* ModSecurity copies the byte after the terminator without
                 * looking at it, or its C-string NUL at the very end. */
                xw_put(&w, i < n ? s[i] : 0);
                i++;
            } else {
                i++;
            }
        }
    }
    if (incomment)
        xw_put(&w, ' ');
    return xw_finish(&w, out, outlen);
}

static int xf_remove_comments_char(struct arena *a, const char *in, size_t n, const char **out,
                                   size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = 0;

    xw_init(&w, a, in, n, n);
    while (i < n) {
        unsigned char c = s[i];
        if (c == '/' && i + 1 < n && s[i + 1] == '*')
            i += 2;
        else if (c == '*' && i + 1 < n && s[i + 1] == '/')
            i += 2;
        else if (c == '<' && i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-')
            i += 4;
        else if (c == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>')
            i += 3;
        else if (c == '-' && i + 1 < n && s[i + 1] == '-')
            i += 2;
        else if (c == '#')
            i += 1;
        else
            xw_put(&w, s[i++]);
    }
    return xw_finish(&w, out, outlen);
}

/* ---- paths ------------------------------------------------------------ */

/* Works on a private copy because the algorithm rewrites bytes ahead of its
 * read cursor (backslashes) and moves its write cursor backwards. */
static int xf_normalize_path(bool win, struct arena *a, const char *in, size_t n, const char **out,
                             size_t *outlen)
{
    if (n == 0) {
        *out = in;
        *outlen = 0;
        return 0;
    }
    unsigned char *buf = arena_alloc(a, n + 1);
    if (!buf)
        return -1;
    memcpy(buf, in, n);
    buf[n] = '\0';

    unsigned char *src = buf, *dst = buf, *end = buf + n - 1;
    bool hitroot = false, done = false;
    bool relative = !(buf[0] == '/' || (win && buf[0] == '\\'));
    bool trailing = (*end == '/' || (win && *end == '\\'));

    while (!done && src <= end && dst <= end) {
        if (win) {
            if (*src == '\\')
                *src = '/';
            if (src < end && src[1] == '\\')
                src[1] = '/';
        }
        if (src == end)
            done = true;
        else if (src[1] != '/')
            goto copy;

        if (src != end && *src == '/') {
            goto copy;
        } else if (*src == '.') {
            if (dst > buf && dst[-1] == '.') {
                /* "..": drop the previous segment unless there is none. */
                if (relative && (hitroot || dst - 2 <= buf)) {
                    hitroot = true;
                    goto copy;
                }
                dst = dst - 3 < buf ? buf : dst - 3;
                while (dst > buf && *dst != '/')
                    dst--;
                if (dst <= buf) {
                    hitroot = true;
                    dst = buf;
                    if (!relative && src == end)
                        dst++;
                }
                if (done)
                    continue;
                src++;
            } else if (dst == buf) {
                if (done)
                    continue;
                src++;
            } else if (dst[-1] == '/') {
                if (done)
                    continue;
                dst--;
                src++;
            }
        } else if (dst > buf) {
            hitroot = false;
        }
    copy:
        if (*src == '/') {
            while (src < end && (src[1] == '/' || (win && src[1] == '\\')))
                src++;
            if (relative && dst == buf) {
                src++;
                continue;
            }
        }
        *dst++ = *src++;
    }
    if (!trailing && dst > buf && dst[-1] == '/')
        dst--;
    size_t len = (size_t)(dst - buf);
    *dst = '\0';
    if (len == n && memcmp(buf, in, n) == 0) {
        *out = in;
        *outlen = n;
        return 0;
    }
    *out = (const char *)buf;
    *outlen = len;
    return 1;
}

/* ---- cmdLine ---------------------------------------------------------- */

static int xf_cmdline(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    bool space = false;

    xw_init(&w, a, in, n, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        switch (c) {
        case '"':
        case '\'':
        case '\\':
        case '^': break;
        case ' ':
        case ',':
        case ';':
        case '\t':
        case '\r':
        case '\n':
            if (!space) {
                xw_put(&w, ' ');
                space = true;
            }
            break;
        case '/':
        case '(':
            /* No space before a path or a parenthesis. */
            if (space) {
                if (!w.buf) {
                    if (!xw_materialize(&w))
                        return -1;
                }
                w.len--;
            }
            space = false;
            xw_put(&w, c);
            break;
        default:
            xw_put(&w, (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c);
            space = false;
            break;
        }
    }
    return xw_finish(&w, out, outlen);
}

/* ---- parity ------------------------------------------------------------ */

static int xf_parity(enum xform_id id, struct arena *a, const char *in, size_t n, const char **out,
                     size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;

    xw_init(&w, a, in, n, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = s[i], p = (unsigned char)__builtin_parity(x);
        unsigned char r;
        if (id == XF_PARITYZERO7BIT)
            r = x & 0x7f;
        else if (id == XF_PARITYEVEN7BIT)
            r = p ? (unsigned char)(x | 0x80) : (unsigned char)(x & 0x7f);
        else
            r = p ? (unsigned char)(x & 0x7f) : (unsigned char)(x | 0x80);
        xw_put(&w, r);
    }
    return xw_finish(&w, out, outlen);
}

/* ---- table, lookup, dispatch ----------------------------------------- */

static const char *const xf_names[XF__COUNT] = {
    [XF_NONE] = "none",
    [XF_LOWERCASE] = "lowercase",
    [XF_UPPERCASE] = "uppercase",
    [XF_URLDECODE] = "urlDecode",
    [XF_URLDECODEUNI] = "urlDecodeUni",
    [XF_URLENCODE] = "urlEncode",
    [XF_HTMLENTITYDECODE] = "htmlEntityDecode",
    [XF_JSDECODE] = "jsDecode",
    [XF_CSSDECODE] = "cssDecode",
    [XF_ESCAPESEQDECODE] = "escapeSeqDecode",
    [XF_UTF8TOUNICODE] = "utf8toUnicode",
    [XF_REMOVENULLS] = "removeNulls",
    [XF_REPLACENULLS] = "replaceNulls",
    [XF_REMOVEWHITESPACE] = "removeWhitespace",
    [XF_COMPRESSWHITESPACE] = "compressWhitespace",
    [XF_REPLACECOMMENTS] = "replaceComments",
    [XF_REMOVECOMMENTS] = "removeComments",
    [XF_REMOVECOMMENTSCHAR] = "removeCommentsChar",
    [XF_NORMALIZEPATH] = "normalizePath",
    [XF_NORMALIZEPATHWIN] = "normalizePathWin",
    [XF_CMDLINE] = "cmdLine",
    [XF_LENGTH] = "length",
    [XF_BASE64DECODE] = "base64Decode",
    [XF_BASE64DECODEEXT] = "base64DecodeExt",
    [XF_BASE64ENCODE] = "base64Encode",
    [XF_HEXDECODE] = "hexDecode",
    [XF_HEXENCODE] = "hexEncode",
    [XF_SHA1] = "sha1",
    [XF_MD5] = "md5",
    [XF_TRIM] = "trim",
    [XF_TRIMLEFT] = "trimLeft",
    [XF_TRIMRIGHT] = "trimRight",
    [XF_SQLHEXDECODE] = "sqlHexDecode",
    [XF_PARITYEVEN7BIT] = "parityEven7bit",
    [XF_PARITYODD7BIT] = "parityOdd7bit",
    [XF_PARITYZERO7BIT] = "parityZero7bit",
};

int xform_lookup(const char *name, size_t n)
{
    if (!name)
        return -1;
    for (int i = 0; i < XF__COUNT; i++) {
        if (strlen(xf_names[i]) == n && strncasecmp(name, xf_names[i], n) == 0)
            return i;
    }
    /* ModSecurity accepts the British spelling too. */
    if (n == 13 && strncasecmp(name, "normalisePath", n) == 0)
        return XF_NORMALIZEPATH;
    if (n == 16 && strncasecmp(name, "normalisePathWin", n) == 0)
        return XF_NORMALIZEPATHWIN;
    return -1;
}

const char *xform_name(enum xform_id id)
{
    if ((int)id < 0 || id >= XF__COUNT)
        return NULL;
    return xf_names[id];
}

int xform_apply(enum xform_id id, const struct xform_env *env, struct arena *a, const char *in,
                size_t inlen, const char **out, size_t *outlen)
{
    if (!in) {
        in = "";
        inlen = 0;
    }
    switch (id) {
    case XF_NONE: break;
    case XF_LOWERCASE: return xf_case(false, a, in, inlen, out, outlen);
    case XF_UPPERCASE: return xf_case(true, a, in, inlen, out, outlen);
    case XF_URLDECODE: return xform_x_url_decode(env, false, a, in, inlen, out, outlen);
    case XF_URLDECODEUNI: return xform_x_url_decode(env, true, a, in, inlen, out, outlen);
    case XF_URLENCODE: return xform_x_url_encode(a, in, inlen, out, outlen);
    case XF_HTMLENTITYDECODE: return xform_x_html_entity_decode(a, in, inlen, out, outlen);
    case XF_JSDECODE: return xform_x_js_decode(a, in, inlen, out, outlen);
    case XF_CSSDECODE: return xform_x_css_decode(a, in, inlen, out, outlen);
    case XF_ESCAPESEQDECODE: return xform_x_escape_seq_decode(a, in, inlen, out, outlen);
    case XF_UTF8TOUNICODE: return xform_x_utf8_to_unicode(a, in, inlen, out, outlen);
    case XF_REMOVENULLS: return xf_nulls(false, a, in, inlen, out, outlen);
    case XF_REPLACENULLS: return xf_nulls(true, a, in, inlen, out, outlen);
    case XF_REMOVEWHITESPACE: return xf_remove_whitespace(a, in, inlen, out, outlen);
    case XF_COMPRESSWHITESPACE: return xf_compress_whitespace(a, in, inlen, out, outlen);
    case XF_REPLACECOMMENTS: return xf_replace_comments(a, in, inlen, out, outlen);
    case XF_REMOVECOMMENTS: return xf_remove_comments(a, in, inlen, out, outlen);
    case XF_REMOVECOMMENTSCHAR: return xf_remove_comments_char(a, in, inlen, out, outlen);
    case XF_NORMALIZEPATH: return xf_normalize_path(false, a, in, inlen, out, outlen);
    case XF_NORMALIZEPATHWIN: return xf_normalize_path(true, a, in, inlen, out, outlen);
    case XF_CMDLINE: return xf_cmdline(a, in, inlen, out, outlen);
    case XF_LENGTH: return xform_x_length(a, inlen, out, outlen);
    case XF_BASE64DECODE: return xform_x_base64_decode(a, in, inlen, out, outlen);
    case XF_BASE64DECODEEXT: return xform_x_base64_decode_ext(a, in, inlen, out, outlen);
    case XF_BASE64ENCODE: return xform_x_base64_encode(a, in, inlen, out, outlen);
    case XF_HEXDECODE: return xform_x_hex_decode(a, in, inlen, out, outlen);
    case XF_HEXENCODE: return xform_x_hex_encode(a, in, inlen, out, outlen);
    case XF_SHA1: return xform_x_digest(true, a, in, inlen, out, outlen);
    case XF_MD5: return xform_x_digest(false, a, in, inlen, out, outlen);
    case XF_TRIM: return xf_trim(true, true, in, inlen, out, outlen);
    case XF_TRIMLEFT: return xf_trim(true, false, in, inlen, out, outlen);
    case XF_TRIMRIGHT: return xf_trim(false, true, in, inlen, out, outlen);
    case XF_SQLHEXDECODE: return xform_x_sql_hex_decode(a, in, inlen, out, outlen);
    case XF_PARITYEVEN7BIT:
    case XF_PARITYODD7BIT:
    case XF_PARITYZERO7BIT: return xf_parity(id, a, in, inlen, out, outlen);
    default: return -1;
    }
    *out = in;
    *outlen = inlen;
    return 0;
}

/* ---- unicode.mapping -------------------------------------------------- */

/* sscanf("%x") on a token: optional sign, optional 0x, hex digits. Returns
 * false when no digit was read (the caller then keeps its old value, as
 * ModSecurity's loader does). */
static bool scan_hex(const char *p, const char *end, int *v)
{
    bool neg = false;
    unsigned long r = 0;
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (end - p >= 3 && p[0] == '0' && (p[1] | 0x20) == 'x' && is_hex((unsigned char)p[2]))
        p += 2;
    if (p >= end || !is_hex((unsigned char)*p))
        return false;
    for (; p < end && is_hex((unsigned char)*p); p++)
        r = (r << 4 | (unsigned long)(hex_digit_raw((unsigned char)*p) & 15)) & 0xffffffffUL;
    *v = neg ? -(int)(unsigned)r : (int)(unsigned)r;
    return true;
}

static void map_set(struct xform_unicode_map *m, int code, int byte)
{
    if (code >= 0 && code <= 0xffff)
        m->map[code] = (uint16_t)((unsigned)(byte & 0xff) + 1);
}

int xform_unicode_map_load(const char *path, unsigned codepage, struct xform_unicode_map *m,
                           char *err, size_t errlen)
{
    /* Bound the file: the real one is ~53 KB. */
    enum { MAX_MAP_FILE = 16 * 1024 * 1024 };
    FILE *f = NULL;
    char *buf = NULL;
    int rc = -1;
    size_t len = 0;

    memset(m, 0, sizeof(*m));
    /* Mappings ModSecurity installs before reading the file (RFC 3490 dots). */
    map_set(m, 0x3002, 0x2e);
    map_set(m, 0xff61, 0x2e);
    map_set(m, 0xff0e, 0x2e);
    map_set(m, 0x002e, 0x2e);

    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open unicode map: %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(MAX_MAP_FILE + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    len = fread(buf, 1, MAX_MAP_FILE + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (len > MAX_MAP_FILE) {
        snprintf(err, errlen, "%s: unicode map larger than %d bytes", path, MAX_MAP_FILE);
        goto out;
    }
    if (len == 0) {
        snprintf(err, errlen, "%s: unicode map is empty", path);
        goto out;
    }
    buf[len] = '\0';

    bool found = false, processing = false;
    int code = 0, byte = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
            i++;
        if (i >= len)
            break;
        size_t b = i;
        while (i < len && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r' &&
               buf[i] != '\0')
            i++;
        size_t e = i;
        if (i < len && buf[i] == '\0') /* strtok stops at a NUL for good */
            len = i;
        char save = buf[e];
        buf[e] = '\0';
        const char *colon = memchr(buf + b, ':', e - b);
        /* Any token whose leading number equals the code page starts it. */
        if ((unsigned long)atol(buf + b) == codepage)
            found = true;
        if (found && colon) {
            processing = true;
            scan_hex(buf + b, colon, &code);
            scan_hex(colon + 1, buf + e, &byte);
            map_set(m, code, byte);
        }
        buf[e] = save;
        if (processing && !colon)
            break;
    }
    if (!found) {
        snprintf(err, errlen, "%s: code page %u not found", path, codepage);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}
