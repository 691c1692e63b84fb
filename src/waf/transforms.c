/* SecLang transformation functions, byte-exact with libmodsecurity 3.0.9:
 * lookup, dispatch, the unicode map loader and the simple byte-level
 * transformations. The decoders live in transforms_decode.c.
 *
 * Most values are left alone by most transformations, and the engine
 * caches and dedups its scans by output pointer, so every function first
 * looks for the first byte it would change (8 bytes at a time, or with
 * memchr for a rare marker; see transforms_int.h) and hands the input back
 * untouched when there is none: no allocation, no copy. Past that point a
 * function either writes through the lazy writer (struct xw), which keeps
 * tracking the input while the output still equals a prefix of it, or,
 * where the first change is certain to make the output differ, straight
 * into an arena buffer. Either way an output that is a prefix of the input
 * comes back as a slice of it, and buffers are bounded per transformation
 * with checked arithmetic.
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

    /* Only the first block with a letter to flip matters here: everything
     * before it is copied as is. */
    while (i + 8 <= n && !xf_range(xf_load8(s + i), lo, hi))
        i += 8;
    if (i + 8 > n) {
        while (i < n && !(s[i] >= lo && s[i] <= hi))
            i++;
        if (i == n) {
            *out = in;
            *outlen = n;
            return 0;
        }
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    /* ASCII case is bit 5: the lane mask (0x80 per letter) shifted down by
     * two flips exactly the letters. */
    for (; i + 8 <= n; i += 8) {
        uint64_t x = xf_load8(s + i);
        xf_store8(b + i, x ^ (xf_range(x, lo, hi) >> 2));
    }
    for (; i < n; i++)
        b[i] = (s[i] >= lo && s[i] <= hi) ? (unsigned char)(s[i] ^ 0x20) : s[i];
    b[n] = '\0';
    *out = (const char *)b;
    *outlen = n;
    return 1;
}

/* ---- NULs and whitespace --------------------------------------------- */

/* When everything from the first changed byte on would be dropped, the
 * output is a prefix of the input and goes back as a slice of it (no
 * allocation), as the lazy writer used elsewhere does. This checks that
 * s[i..n) holds only bytes with drop[b] set; it usually stops at once. */
static bool only_bytes_from(const unsigned char *s, size_t i, size_t n,
                            const unsigned char drop[256])
{
    while (i < n && drop[s[i]])
        i++;
    return i == n;
}

static const unsigned char nul_tab[256] = {[0] = 1};

/* A NUL is always dropped or turned into a space, so the first one decides
 * that the output differs; the runs between NULs are copied whole. */
static int xf_nulls(bool replace, struct arena *a, const char *in, size_t n, const char **out,
                    size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = xf_next(s, 0, n, 0), o = i;

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    if (!replace && only_bytes_from(s, i, n, nul_tab)) {
        *out = in;
        *outlen = i;
        return 1;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    while (i < n) { /* s[i] is a NUL */
        if (replace)
            b[o++] = ' ';
        i++;
        size_t j = xf_find1(s, i, n, 0);
        memcpy(b + o, s + i, j - i);
        o += j - i;
        i = j;
    }
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
}

/* removeWhitespace also drops 0xa0 and 0xc2 (the two bytes of a UTF-8 NBSP,
 * taken one at a time). */
static const unsigned char rw_drop[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1, [0xa0] = 1, [0xc2] = 1,
};

static inline uint64_t rw_mask(uint64_t x)
{
    return xf_space(x) | xf_eq(x, 0xa0) | xf_eq(x, 0xc2);
}

static int xf_remove_whitespace(struct arena *a, const char *in, size_t n, const char **out,
                                size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o;

    while (i + 8 <= n && !rw_mask(xf_load8(s + i)))
        i += 8;
    while (i < n && !rw_drop[s[i]])
        i++;
    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    if (only_bytes_from(s, i, n, rw_drop)) { /* trailing whitespace */
        *out = in;
        *outlen = i;
        return 1;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    /* Copies the runs between dropped bytes. A word of ordinary text fits
     * one 8-byte move; what it copies past the run is overwritten by the
     * next run or lies beyond the end. o never passes run, so a move that
     * stays inside the input also stays inside the buffer. */
    size_t run = i, j = i;
    o = i;
    for (; j + 8 <= n; j += 8) {
        for (uint64_t m = rw_mask(xf_load8(s + j)); m; m &= m - 1) {
            size_t p = j + xf_lane(m), len = p - run;
            if (len <= 8 && run + 8 <= n)
                memcpy(b + o, s + run, 8);
            else
                memcpy(b + o, s + run, len);
            o += len;
            run = p + 1;
        }
    }
    for (; j < n; j++) {
        if (rw_drop[s[j]]) {
            memcpy(b + o, s + run, j - run);
            o += j - run;
            run = j + 1;
        }
    }
    memcpy(b + o, s + run, n - run);
    o += n - run;
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
}

/* isspace() as a table, for the loops that run once the output differs. */
static const unsigned char space_tab[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

/* The output equals the input as long as every whitespace byte is a single
 * ' '. The first control whitespace byte, or space after a space, is where
 * they part: it becomes ' ' or is dropped. */
static int xf_compress_whitespace(struct arena *a, const char *in, size_t n, const char **out,
                                  size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o;
    uint64_t prev = 0; /* lane 0 set: the byte before this block is ' ' */

    for (; i + 8 <= n; i += 8) {
        uint64_t x = xf_load8(s + i);
        uint64_t sp = xf_eq(x, ' ');
        uint64_t stop = xf_range(x, '\t', '\r') | (sp & ((sp << 8) | prev));
        if (stop) {
            i += xf_lane(stop);
            goto differs;
        }
        prev = sp >> 56;
    }
    for (; i < n; i++) {
        if (s[i] == ' ' ? (i > 0 && s[i - 1] == ' ') : space_tab[s[i]])
            goto differs;
    }
    *out = in;
    *outlen = n;
    return 0;

differs:;
    bool inws = i > 0 && s[i - 1] == ' ';
    /* A run of whitespace after a space that ends the value is dropped. */
    if (inws && only_bytes_from(s, i, n, space_tab)) {
        *out = in;
        *outlen = i;
        return 1;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    o = i;
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (space_tab[c]) {
            if (!inws)
                b[o++] = ' ';
            inws = true;
        } else {
            inws = false;
            b[o++] = c;
        }
    }
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
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

/* The first i' >= i where s[i'] == a and s[i' + 1] == b, or n. */
static size_t find_pair(const unsigned char *s, size_t i, size_t n, unsigned char a,
                        unsigned char b)
{
    if (n == 0)
        return 0;
    for (i = xf_next(s, i, n - 1, a); i < n - 1; i = xf_next(s, i + 1, n - 1, a))
        if (s[i + 1] == b)
            return i;
    return n;
}

/* A comment always shrinks: its two opening bytes and whatever follows
 * up to the terminator become one space. Everything before the first
 * opener is copied as is, and so is everything between comments. */
static int xf_replace_comments(struct arena *a, const char *in, size_t n, const char **out,
                               size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = find_pair(s, 0, n, '/', '*'), o;

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    o = i;
    while (i < n) { /* a comment opens at s[i] */
        size_t e = find_pair(s, i + 2, n, '*', '/');
        b[o++] = ' '; /* also for a comment left open at the end */
        if (e == n)
            break;
        i = e + 2;
        size_t j = find_pair(s, i, n, '/', '*');
        memcpy(b + o, s + i, j - i);
        o += j - i;
        i = j;
    }
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
}

/* Whether a comment for removeComments (star: removeCommentsChar, where
 * a "*" followed by "/" goes too) starts at s[i]. Each such comment drops
 * bytes, so the first one is where output and input part. */
static inline bool comment_at(const unsigned char *s, size_t i, size_t n, bool star)
{
    switch (s[i]) {
    case '#': return true;
    case '/': return i + 1 < n && s[i + 1] == '*';
    case '*': return star && i + 1 < n && s[i + 1] == '/';
    case '-': return i + 1 < n && s[i + 1] == '-'; /* "--", and "-->" too */
    case '<': return i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-';
    default: return false;
    }
}

/* The first comment, or n. Short values are scanned for all lead bytes
 * at once, eight bytes at a time. Long ones keep the next position of
 * every lead byte and only search again for the one just passed over, so
 * each lead byte costs one memchr over the value in all. */
static size_t first_comment(const unsigned char *s, size_t n, bool star)
{
    static const unsigned char lead[5] = {'/', '-', '#', '<', '*'};
    size_t nl = star ? 5 : 4, next[5];

    if (n <= XF_SHORT) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t x = xf_load8(s + i);
            uint64_t m = xf_eq(x, '/') | xf_eq(x, '-') | xf_eq(x, '#') | xf_eq(x, '<') |
                         (star ? xf_eq(x, '*') : 0);
            for (; m; m &= m - 1)
                if (comment_at(s, i + xf_lane(m), n, star))
                    return i + xf_lane(m);
        }
        for (; i < n; i++)
            if (comment_at(s, i, n, star))
                return i;
        return n;
    }

    for (size_t k = 0; k < nl; k++)
        next[k] = xf_next(s, 0, n, lead[k]);
    for (;;) {
        size_t m = 0;
        for (size_t k = 1; k < nl; k++)
            if (next[k] < next[m])
                m = k;
        if (next[m] == n || comment_at(s, next[m], n, star))
            return next[m];
        next[m] = xf_next(s, next[m] + 1, n, lead[m]);
    }
}

static int xf_remove_comments(struct arena *a, const char *in, size_t n, const char **out,
                              size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    bool incomment = false;
    size_t i = first_comment(s, n, false);

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
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
    size_t i = first_comment(s, n, true);

    if (i == n) {
        *out = in;
        *outlen = n;
        return 0;
    }
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
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

/* True when xf_normalize_path would give the input back. Walking the
 * algorithm below with its write cursor equal to its read cursor: a byte
 * is only rewritten, skipped or backed over at a separator that follows a
 * separator ("//"; for Win any '\\', which becomes '/'), or at a '.' that
 * ends the value or precedes a '/' and is a segment of its own or ends a
 * ".." (".", "..", "/./", and quirks like "x../"); a "word." ending a
 * sentence is copied. Without those the cursors never part, the
 * leading-separator rule for relative paths never fires (the first byte is
 * not a separator), and the trailing separator is kept or absent exactly
 * as in the input. */
static bool dot_is_segment(const unsigned char *s, size_t i)
{
    return i == 0 || s[i - 1] == '.' || s[i - 1] == '/';
}

static bool path_is_normal(bool win, const unsigned char *s, size_t n)
{
    if (s[n - 1] == '.' && dot_is_segment(s, n - 1))
        return false;
    if (win && xf_next(s, 0, n, '\\') < n)
        return false;
    for (size_t i = xf_next(s, 0, n, '/'); i < n; i = xf_next(s, i + 1, n, '/'))
        if ((i > 0 && s[i - 1] == '.' && dot_is_segment(s, i - 1)) ||
            (i + 1 < n && s[i + 1] == '/'))
            return false;
    return true;
}

/* normalizePath's algorithm (ModSecurity's, cursor for cursor) on buf[0..n),
 * n > 0, in place: it rewrites bytes ahead of its read cursor (backslashes)
 * and moves its write cursor backwards. Returns the new length. */
size_t xform_normalize_path_walk(bool win, unsigned char *buf, size_t n)
{
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
    return (size_t)(dst - buf);
}

/* Works on a private copy (xform_normalize_path_walk writes in place). */
static int xf_normalize_path(bool win, struct arena *a, const char *in, size_t n, const char **out,
                             size_t *outlen)
{
    if (n == 0 || path_is_normal(win, (const unsigned char *)in, n)) {
        *out = in;
        *outlen = n;
        return 0;
    }
    unsigned char *buf = arena_alloc(a, n + 1);
    if (!buf)
        return -1;
    memcpy(buf, in, n);
    size_t len = xform_normalize_path_walk(win, buf, n);
    buf[len] = '\0';
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

/* What cmdLine does to a byte when the output so far equals the input:
 * 1: it always changes it (dropped, lowercased, or a separator turned into
 * ' '); 2: it changes it only right after a ' ' (a second space is
 * dropped; '/' and '(' take back the space before them). */
static const unsigned char cl_class[256] = {
    ['"'] = 1,  ['\''] = 1, ['\\'] = 1, ['^'] = 1, [','] = 1, [';'] = 1, ['\t'] = 1,
    ['\r'] = 1, ['\n'] = 1, ['A'] = 1,  ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1,  ['G'] = 1,  ['H'] = 1,  ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1,  ['N'] = 1,  ['O'] = 1,  ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1,  ['U'] = 1,  ['V'] = 1,  ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    [' '] = 2,  ['/'] = 2,  ['('] = 2,
};

/* Bytes cmdLine drops without emitting anything: quotes and carets
 * always, separators too while the last thing emitted was a space. */
static const unsigned char cl_silent[256] = {['"'] = 1, ['\''] = 1, ['\\'] = 1, ['^'] = 1};
static const unsigned char cl_silent_after_space[256] = {
    ['"'] = 1, ['\''] = 1, ['\\'] = 1, ['^'] = 1, [' '] = 1,
    [','] = 1, [';'] = 1,   ['\t'] = 1,  ['\r'] = 1, ['\n'] = 1,
};

static int xf_cmdline(struct arena *a, const char *in, size_t n, const char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o;

    /* In the unchanged prefix the only separator is a single ' ', so "the
     * last byte emitted was a separator" is just s[i - 1] == ' '. Blocks of
     * lowercase words and digits with single spaces, most of ordinary text,
     * are passed eight bytes at a time; any other block goes through the
     * table. */
    uint64_t prev = 0; /* lane 0 set: the byte before this block is ' ' */
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t x = xf_load8(s + i);
            uint64_t sp = xf_eq(x, ' ');
            uint64_t ok = xf_range(x, 'a', 'z') | xf_range(x, '0', '9') | sp;
            if (ok == XF_H8 && !(sp & ((sp << 8) | prev))) {
                prev = sp >> 56;
                i += 8;
                continue;
            }
        }
        size_t e = i + 8 < n ? i + 8 : n;
        for (; i < e; i++) {
            unsigned char k = cl_class[s[i]];
            if (k == 1 || (k == 2 && i > 0 && s[i - 1] == ' '))
                goto differs;
        }
        prev = s[i - 1] == ' ' ? 0x80 : 0;
    }
    *out = in;
    *outlen = n;
    return 0;

differs:;
    bool space = i > 0 && s[i - 1] == ' ';
    /* Quotes and carets left at the end (and separators, after a space)
     * emit nothing: the output is a prefix of the input. */
    if (only_bytes_from(s, i, n, space ? cl_silent_after_space : cl_silent)) {
        *out = in;
        *outlen = i;
        return 1;
    }
    unsigned char *b = arena_alloc(a, n + 1);
    if (!b)
        return -1;
    memcpy(b, s, i);
    o = i;
    for (; i < n; i++) {
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
                b[o++] = ' ';
                space = true;
            }
            break;
        case '/':
        case '(':
            /* No space before a path or a parenthesis. */
            if (space)
                o--;
            space = false;
            b[o++] = c;
            break;
        default:
            b[o++] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
            space = false;
            break;
        }
    }
    b[o] = '\0';
    *out = (const char *)b;
    *outlen = o;
    return 1;
}

/* ---- parity ------------------------------------------------------------ */

static int xf_parity(enum xform_id id, struct arena *a, const char *in, size_t n, const char **out,
                     size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    struct xw w;
    size_t i = 0;

    /* Zeroing the parity bit leaves 7-bit text alone: skip to the first
     * high byte (the writer below tracks the prefix for the other two). */
    if (id == XF_PARITYZERO7BIT)
        while (i + 8 <= n && !(xf_load8(s + i) & XF_H8))
            i += 8;
    xw_init(&w, a, in, n, n);
    xw_putn(&w, s, i);
    for (; i < n; i++) {
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

/* ---- what can change a value ------------------------------------------
 * Each set below follows from the function's own "first byte it would
 * change" test above (or in transforms_decode.c), from its own table where
 * it has one; the unit test checks them against the functions on random
 * text made of the other bytes. */
static void set_bytes(uint8_t set[256], const char *bytes)
{
    for (; *bytes; bytes++)
        set[(unsigned char)*bytes] = 1;
}

static void set_range(uint8_t set[256], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        set[c] = 1;
}

enum xform_trigger xform_triggers(enum xform_id id, uint8_t set[256])
{
    memset(set, 0, 256);
    switch (id) {
    case XF_NONE:
        return XT_BYTES;
    case XF_LOWERCASE:
        return XT_CASE;
    case XF_URLDECODE: case XF_URLDECODEUNI:
        set_bytes(set, "%+");
        return XT_BYTES;
    case XF_HTMLENTITYDECODE:
        set_bytes(set, "&");
        return XT_BYTES;
    case XF_JSDECODE: case XF_ESCAPESEQDECODE:
        set_bytes(set, "\\");
        return XT_BYTES;
    case XF_CSSDECODE: /* also cut at a NUL */
        set_bytes(set, "\\");
        set[0] = 1;
        return XT_BYTES;
    case XF_UTF8TOUNICODE:
        set[0] = 1;
        set_range(set, 0x80, 0xff);
        return XT_BYTES;
    case XF_REMOVENULLS: case XF_REPLACENULLS:
        memcpy(set, nul_tab, 256);
        return XT_BYTES;
    case XF_REMOVEWHITESPACE:
        memcpy(set, rw_drop, 256);
        return XT_BYTES;
    case XF_COMPRESSWHITESPACE: case XF_TRIM: case XF_TRIMLEFT: case XF_TRIMRIGHT:
        memcpy(set, space_tab, 256); /* is_space() too */
        return XT_BYTES;
    case XF_REPLACECOMMENTS: /* "/" "*" opens the only comment */
        set_bytes(set, "*");
        return XT_BYTES;
    case XF_REMOVECOMMENTS: case XF_REMOVECOMMENTSCHAR: /* every comment has one of these */
        set_bytes(set, "*-#");
        return XT_BYTES;
    case XF_NORMALIZEPATH: /* "//", or a '.' ending the value or before a '/' */
        set_bytes(set, "/.");
        return XT_BYTES;
    case XF_NORMALIZEPATHWIN:
        set_bytes(set, "/.\\");
        return XT_BYTES;
    case XF_CMDLINE:
        /* cl_class but the letters (it lowercases) and the bytes that act
         * only after a space ('/' and '('): then the space is in the set */
        for (int c = 0; c < 256; c++)
            set[c] = (cl_class[c] == 1 && !(c >= 'A' && c <= 'Z')) || c == ' ';
        return XT_CASE;
    case XF_PARITYZERO7BIT:
        set_range(set, 0x80, 0xff);
        return XT_BYTES;
    default: /* sqlHexDecode too: like ModSecurity's, it drops the last byte */
        return XT_ALWAYS;
    }
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
