/* Tests for src/waf/transforms*.c.
 *
 * The expected outputs in the corpus table were recorded from
 * libmodsecurity 3.0.9 (Debian 12) by a throwaway differential harness;
 * they include its quirks on purpose (see docs/internals/transforms.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "waf/transforms.h"
#include "waf/transforms_int.h"
#include "../t.h"

#define UNICODE_MAPPING "/work/shared/crs-test/unicode.mapping"
#define S(x) x, sizeof(x) - 1

struct xcase {
    enum xform_id id;
    int map; /* 1: apply with the code page 20127 unicode map */
    const char *in;
    size_t inlen;
    const char *want;
    size_t wantlen;
};

static const struct xcase corpus[] = {
    {XF_NONE, 0, S("a%41\000b"), S("a%41\000b")},
    {XF_LOWERCASE, 0, S(""), S("")},
    {XF_LOWERCASE, 0, S("already lower 123"), S("already lower 123")},
    {XF_LOWERCASE, 0, S("MiXeD CaSe \303\211\377"), S("mixed case \303\211\377")},
    {XF_UPPERCASE, 0, S("MiXeD case z\351"), S("MIXED CASE Z\351")},
    {XF_UPPERCASE, 0, S("NOTHING TO DO"), S("NOTHING TO DO")},
    {XF_URLDECODE, 0, S("a%20b+c%2B%2b"), S("a b c++")},
    {XF_URLDECODE, 0, S("%"), S("%")},
    {XF_URLDECODE, 0, S("%4"), S("%4")},
    {XF_URLDECODE, 0, S("%41"), S("A")},
    {XF_URLDECODE, 0, S("%4g%g4%%41"), S("%4g%g4%A")},
    {XF_URLDECODE, 0, S("%00%ff%FF"), S("\000\377\377")},
    {XF_URLDECODE, 0, S("%u0041"), S("%u0041")},
    {XF_URLDECODE, 0, S("plain"), S("plain")},
    {XF_URLDECODE, 0, S("a\000b%41"), S("a\000bA")},
    {XF_URLDECODEUNI, 0, S("%u0041%U0042"), S("AB")},
    {XF_URLDECODEUNI, 0, S("%u12"), S("%u12")},
    {XF_URLDECODEUNI, 0, S("%u"), S("%u")},
    {XF_URLDECODEUNI, 0, S("%u12345"), S("45")},
    {XF_URLDECODEUNI, 0, S("%uzzzz%41"), S("%uzzzzA")},
    {XF_URLDECODEUNI, 0, S("%uff21%uFF5e%uff5f%uff00"), S("A~_\000")},
    {XF_URLDECODEUNI, 0, S("%u00e9%u3002%u1234"), S("\351\0024")},
    {XF_URLDECODEUNI, 1, S("%u00e9%u3002%u1234%uff0e%u00a0"), S("e.4. ")},
    {XF_URLDECODEUNI, 1, S("%uff21%u0041%u2215%u02bc"), S("AA\025'")},
    {XF_URLDECODEUNI, 1, S("+%2b%u"), S(" +%u")},
    {XF_URLENCODE, 0, S("a b*c~d-e_f.g/h\377\000"), S("a+b*c%7ed%2de%5ff%2eg%2fh%ff%00")},
    {XF_URLENCODE, 0, S("abcXYZ019*"), S("abcXYZ019*")},
    {XF_URLENCODE, 0, S(""), S("")},
    {XF_HTMLENTITYDECODE, 0, S("&lt;&gt;&amp;&quot;&nbsp;"), S("<>&\"\240")},
    {XF_HTMLENTITYDECODE, 0, S("&LT&Gt;&QUOT"), S("<>\"")},
    {XF_HTMLENTITYDECODE, 0, S("&#65;&#x41;&#X41&#0065"), S("AAAA")},
    {XF_HTMLENTITYDECODE, 0, S("&#;&#x;&#xg;&;&"), S("&#;&#x;&#xg;&;&")},
    {XF_HTMLENTITYDECODE, 0, S("&#65"), S("A")},
    {XF_HTMLENTITYDECODE, 0, S("&ltx;&apos;&copy;"), S("&ltx;&apos;&copy;")},
    {XF_HTMLENTITYDECODE, 0, S("&#321;&#x141;&#99999999999999999999;&#x7fffffffffffffffff;"), S("AA\377\377")},
    {XF_HTMLENTITYDECODE, 0, S("&#0;x"), S("\000x")},
    {XF_HTMLENTITYDECODE, 0, S("no entities"), S("no entities")},
    {XF_HTMLENTITYDECODE, 0, S("&&amp;amp;"), S("&&amp;")},
    {XF_JSDECODE, 0, S("\\x41\\u0042\\uff21\\u00e9"), S("ABA\351")},
    {XF_JSDECODE, 0, S("\\x4"), S("x4")},
    {XF_JSDECODE, 0, S("\\u00"), S("u00")},
    {XF_JSDECODE, 0, S("\\101\\0\\400\\1234\\8"), S("A\000 0S48")},
    {XF_JSDECODE, 0, S("\\n\\t\\r\\a\\b\\f\\v\\'\\\"\\\\\\/"), S("\012\011\015\007\010\014\013'\"\\/")},
    {XF_JSDECODE, 0, S("end\\"), S("end\\")},
    {XF_JSDECODE, 0, S("\\U0041\\X41"), S("U0041X41")},
    {XF_CSSDECODE, 0, S("\\41\\000041\\0041 B\\41\011C"), S("AAABAC")},
    {XF_CSSDECODE, 0, S("\\ff21\\00ff21\\0ff21\\fff21"), S("AAA!")},
    {XF_CSSDECODE, 0, S("a\\\012b\\\"c\\zd"), S("ab\"czd")},
    {XF_CSSDECODE, 0, S("end\\"), S("end")},
    {XF_CSSDECODE, 0, S("x\\0y"), S("x")},
    {XF_CSSDECODE, 0, S("a\000\\41"), S("a")},
    {XF_CSSDECODE, 0, S("\\a\\4a\\4A4\\1234567"), S("\012J\244V7")},
    {XF_ESCAPESEQDECODE, 0, S("\\a\\b\\f\\n\\r\\t\\v\\\\\\\077\\'\\\""), S("\007\010\014\012\015\011\013\\\077'\"")},
    {XF_ESCAPESEQDECODE, 0, S("\\x41\\X42\\x4\\xg1"), S("ABx4xg1")},
    {XF_ESCAPESEQDECODE, 0, S("\\101\\0\\777\\1234\\8\\z"), S("A\000\377S48z")},
    {XF_ESCAPESEQDECODE, 0, S("end\\"), S("end\\")},
    {XF_UTF8TOUNICODE, 0, S("caf\303\251 \342\202\254 \360\237\230\200"), S("caf%u00e9 %u20ac %u1f600")},
    {XF_UTF8TOUNICODE, 0, S("\300\257\340\200\257\355\240\200"), S("%u002f\300%u002f\340%ud800\355")},
    {XF_UTF8TOUNICODE, 0, S("\303\303\251\342\202\200\377\365\200\200\200"), S("%u00e9%u2080\377\365%u140000")},
    {XF_UTF8TOUNICODE, 0, S("a\000b"), S("ab")},
    {XF_UTF8TOUNICODE, 0, S("ascii only"), S("ascii only")},
    {XF_UTF8TOUNICODE, 0, S("\342\202"), S("\202")},
    {XF_REMOVENULLS, 0, S("a\000b\000\000c"), S("abc")},
    {XF_REMOVENULLS, 0, S("\000"), S("")},
    {XF_REPLACENULLS, 0, S("a\000b\000"), S("a b ")},
    {XF_REPLACENULLS, 0, S("none"), S("none")},
    {XF_REMOVEWHITESPACE, 0, S(" a\011b\012c\015d\013e\014f\240g\302h\302\240i "), S("abcdefghi")},
    {XF_REMOVEWHITESPACE, 0, S("nows"), S("nows")},
    {XF_COMPRESSWHITESPACE, 0, S("  a\011\011b\012\015\013\014c \240 d "), S(" a b c \240 d ")},
    {XF_COMPRESSWHITESPACE, 0, S("a b"), S("a b")},
    {XF_REPLACECOMMENTS, 0, S("a/*x*/b/**/c/*open"), S("a b c ")},
    {XF_REPLACECOMMENTS, 0, S("/*/a*/"), S(" ")},
    {XF_REPLACECOMMENTS, 0, S("a*/b"), S("a*/b")},
    {XF_REMOVECOMMENTS, 0, S("a/*x*/bc<!--y-->de"), S("abcde")},
    {XF_REMOVECOMMENTS, 0, S("sel/*x*/"), S("sel\000")},
    {XF_REMOVECOMMENTS, 0, S("a--b"), S("a")},
    {XF_REMOVECOMMENTS, 0, S("a#b"), S("a")},
    {XF_REMOVECOMMENTS, 0, S("a/*open"), S("a ")},
    {XF_REMOVECOMMENTS, 0, S("a/*x*//*y*/b"), S("a/*y*/b")},
    {XF_REMOVECOMMENTS, 0, S("1-2-3"), S("1-2-3")},
    {XF_REMOVECOMMENTSCHAR, 0, S("a/*b*/c<!--d-->e--f#g"), S("abcdefg")},
    {XF_REMOVECOMMENTSCHAR, 0, S("--->-"), S("->-")},
    {XF_REMOVECOMMENTSCHAR, 0, S("/*/"), S("/")},
    {XF_NORMALIZEPATH, 0, S("/a/b/../c/./d//e/"), S("/a/c/d/e/")},
    {XF_NORMALIZEPATH, 0, S("../../a/./b"), S("../../a/b")},
    {XF_NORMALIZEPATH, 0, S("/../../etc/passwd"), S("/etc/passwd")},
    {XF_NORMALIZEPATH, 0, S("a/.."), S("")},
    {XF_NORMALIZEPATH, 0, S("./"), S("")},
    {XF_NORMALIZEPATH, 0, S("/a/b/.."), S("/a")},
    {XF_NORMALIZEPATH, 0, S("a\\..\\b"), S("a\\..\\b")},
    {XF_NORMALIZEPATH, 0, S("//a///b"), S("/a/b")},
    {XF_NORMALIZEPATH, 0, S("."), S("")},
    {XF_NORMALIZEPATH, 0, S(".."), S("..")},
    {XF_NORMALIZEPATH, 0, S("/"), S("/")},
    {XF_NORMALIZEPATHWIN, 0, S("c:\\windows\\..\\system32\\.\\cmd.exe"), S("c:/system32/cmd.exe")},
    {XF_NORMALIZEPATHWIN, 0, S("\\\\a\\\\b\\"), S("/a/b/")},
    {XF_NORMALIZEPATHWIN, 0, S("a/b\\..\\..\\..\\c"), S("../c")},
    {XF_CMDLINE, 0, S("C:\\WIN\\\"sys\"tem32 ; dir  ,  /s ^c (x)"), S("c:winsystem32 dir/s c(x)")},
    {XF_CMDLINE, 0, S("ec'h'o  \011\012/etc/pass^wd"), S("echo/etc/passwd")},
    {XF_CMDLINE, 0, S("plain"), S("plain")},
    {XF_CMDLINE, 0, S(" ("), S("(")},
    {XF_LENGTH, 0, S(""), S("0")},
    {XF_LENGTH, 0, S("abc\000def"), S("7")},
    {XF_BASE64DECODE, 0, S("SGVsbG8="), S("Hello")},
    {XF_BASE64DECODE, 0, S("SGVsbG8"), S("Hel")},
    {XF_BASE64DECODE, 0, S("SGVs bG8="), S("")},
    {XF_BASE64DECODE, 0, S("SGVs\015\012bG8="), S("Hello")},
    {XF_BASE64DECODE, 0, S("SGVs\012bG8=  "), S("Hello")},
    {XF_BASE64DECODE, 0, S("SGV$bG8="), S("")},
    {XF_BASE64DECODE, 0, S("SG=V"), S("")},
    {XF_BASE64DECODE, 0, S("SG==="), S("")},
    {XF_BASE64DECODE, 0, S("SGVs\000bG8="), S("Hel")},
    {XF_BASE64DECODE, 0, S("Q"), S("")},
    {XF_BASE64DECODE, 0, S("QQ"), S("")},
    {XF_BASE64DECODEEXT, 0, S("SGVsbG8="), S("Hello")},
    {XF_BASE64DECODEEXT, 0, S("SG Vs$bG8"), S("Hello")},
    {XF_BASE64DECODEEXT, 0, S("S=GVs"), S("")},
    {XF_BASE64DECODEEXT, 0, S("S==GVs"), S("")},
    {XF_BASE64DECODEEXT, 0, S("SGVsb"), S("Hel")},
    {XF_BASE64DECODEEXT, 0, S("SGVs9"), S("")},
    {XF_BASE64DECODEEXT, 0, S("SGVs="), S("Hel")},
    {XF_BASE64DECODEEXT, 0, S("SGVsbG9"), S("Hello")},
    {XF_BASE64DECODEEXT, 0, S("a-b_c"), S("i\267")},
    {XF_BASE64ENCODE, 0, S(""), S("")},
    {XF_BASE64ENCODE, 0, S("a"), S("YQ==")},
    {XF_BASE64ENCODE, 0, S("ab"), S("YWI=")},
    {XF_BASE64ENCODE, 0, S("abc"), S("YWJj")},
    {XF_BASE64ENCODE, 0, S("\000\377\376\001"), S("AP/+AQ==")},
    {XF_HEXDECODE, 0, S("414243"), S("ABC")},
    {XF_HEXDECODE, 0, S("41424"), S("AB")},
    {XF_HEXDECODE, 0, S("4G zz"), S("P#")},
    {XF_HEXDECODE, 0, S(""), S("")},
    {XF_HEXENCODE, 0, S("AB\000\377"), S("414200ff")},
    {XF_SHA1, 0, S(""), S("\3329\243\356^kK\0152U\277\357\225`\030\220\257\330\007\011")},
    {XF_SHA1, 0, S("abc"), S("\251\231>6G\006\201j\272>%qxP\302l\234\320\330\235")},
    {XF_MD5, 0, S(""), S("\324\035\214\331\217\000\262\004\351\200\011\230\354\370B~")},
    {XF_MD5, 0, S("abc"), S("\220\001P\230<\322O\260\326\226\077}(\341\177r")},
    {XF_TRIM, 0, S(" \011\012\013\014\015a b\240 \015"), S("a b\240")},
    {XF_TRIM, 0, S("ab"), S("ab")},
    {XF_TRIMLEFT, 0, S("  a  "), S("a  ")},
    {XF_TRIMRIGHT, 0, S("  a  "), S("  a")},
    {XF_TRIM, 0, S("   "), S("")},
    {XF_SQLHEXDECODE, 0, S("0x414243"), S("ABC")},
    {XF_SQLHEXDECODE, 0, S("SELECT 0x616263 FROM t"), S("SELECT abc FROM ")},
    {XF_SQLHEXDECODE, 0, S("0x4"), S("0x")},
    {XF_SQLHEXDECODE, 0, S("0x41g"), S("Ag")},
    {XF_SQLHEXDECODE, 0, S("x0x41y"), S("xAy")},
    {XF_SQLHEXDECODE, 0, S("abc"), S("ab")},
    {XF_SQLHEXDECODE, 0, S("0x410042"), S("A")},
    {XF_SQLHEXDECODE, 0, S("a\000b"), S("a")},
    {XF_SQLHEXDECODE, 0, S("0X4a4B"), S("JK")},
    {XF_PARITYEVEN7BIT, 0, S("\000\001\003\177\200\201\377"), S("\000\201\003\377\200\001\177")},
    {XF_PARITYODD7BIT, 0, S("\000\001\003\177\200\201\377"), S("\200\001\203\177\000\201\377")},
    {XF_PARITYZERO7BIT, 0, S("\000\001\177\200\377"), S("\000\001\177\000\177")},
};

static struct xform_unicode_map *load_map(struct t_ctx *t)
{
    struct xform_unicode_map *m = malloc(sizeof(*m));
    char err[256] = "";
    CHECK(m != NULL);
    if (!m)
        return NULL;
    int rc = xform_unicode_map_load(UNICODE_MAPPING, 20127, m, err, sizeof(err));
    CHECK_INT(rc, 0);
    if (rc != 0) {
        t_fail(t, __FILE__, __LINE__, "unicode map: %s", err);
        free(m);
        return NULL;
    }
    return m;
}

TEST(xform_corpus_matches_modsecurity)
{
    struct xform_unicode_map *m = load_map(t);
    struct xform_env env_map = {m}, env_none = {NULL};
    struct arena *a = arena_new(1 << 20);
    CHECK(a != NULL);
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const struct xcase *c = &corpus[i];
        const char *out = NULL;
        size_t outlen = 0;
        int rc = xform_apply(c->id, c->map ? &env_map : &env_none, a, c->in, c->inlen, &out,
                             &outlen);
        if (rc < 0 || outlen != c->wantlen || memcmp(out, c->want, outlen) != 0) {
            t_fail(t, __FILE__, __LINE__, "case %zu t:%s \"%.*s\": rc %d, got \"%.*s\" (%zu)", i,
                   xform_name(c->id), (int)c->inlen, c->in, rc, (int)outlen,
                   out ? out : "", outlen);
            continue;
        }
        /* 0 exactly when nothing changed, and then the input comes back. */
        int same = c->inlen == c->wantlen && memcmp(c->in, c->want, c->inlen) == 0;
        CHECK_INT(rc, same ? 0 : 1);
        if (rc == 0)
            CHECK(out == c->in);
    }
    arena_free(a);
    free(m);
}

TEST(xform_unchanged_input_allocates_nothing)
{
    static const struct {
        enum xform_id id;
        const char *in;
    } cases[] = {
        {XF_LOWERCASE, "select * from t"},      {XF_UPPERCASE, "ABC 123"},
        {XF_URLDECODE, "no-escapes-here"},      {XF_URLDECODEUNI, "x%zz%u12"},
        {XF_HTMLENTITYDECODE, "a & b &copy"},   {XF_JSDECODE, "plain js"},
        {XF_CSSDECODE, "color:red"},            {XF_ESCAPESEQDECODE, "no escapes"},
        {XF_UTF8TOUNICODE, "ascii"},            {XF_REMOVENULLS, "abc"},
        {XF_REPLACENULLS, "abc"},               {XF_REMOVEWHITESPACE, "abc"},
        {XF_COMPRESSWHITESPACE, "a b c"},       {XF_REPLACECOMMENTS, "a*/b"},
        {XF_REMOVECOMMENTS, "1-2"},             {XF_REMOVECOMMENTSCHAR, "a-b"},
        {XF_CMDLINE, "echo"},                   {XF_URLENCODE, "abc123"},
        {XF_TRIM, "a b"},                       {XF_TRIMLEFT, "a "},
        {XF_TRIMRIGHT, " a"},                   {XF_PARITYZERO7BIT, "abc"},
        {XF_NONE, "anything"},                  {XF_BASE64DECODEEXT, ""},
    };
    struct arena *a = arena_new(1 << 16);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = NULL;
        size_t outlen = 0, n = strlen(cases[i].in);
        size_t before = arena_used(a);
        int rc = xform_apply(cases[i].id, NULL, a, cases[i].in, n, &out, &outlen);
        if (rc != 0 || out != cases[i].in || outlen != n || arena_used(a) != before)
            t_fail(t, __FILE__, __LINE__, "t:%s \"%s\": rc %d, used %zu -> %zu",
                   xform_name(cases[i].id), cases[i].in, rc, before, arena_used(a));
    }
    arena_free(a);
}

TEST(xform_trim_returns_slice_of_input)
{
    struct arena *a = arena_new(1 << 16);
    const char *in = "  padded  ", *out;
    size_t outlen;
    CHECK_INT(xform_apply(XF_TRIM, NULL, a, in, strlen(in), &out, &outlen), 1);
    CHECK_MEM(out, outlen, "padded", 6);
    CHECK(out == in + 2);
    CHECK_INT(arena_used(a), 0);
    arena_free(a);
}

TEST(xform_lookup_is_case_insensitive_and_exact)
{
    for (int i = 0; i < XF__COUNT; i++) {
        const char *name = xform_name((enum xform_id)i);
        CHECK(name != NULL);
        if (!name)
            continue;
        char up[64];
        size_t n = strlen(name);
        CHECK(n < sizeof(up));
        for (size_t k = 0; k < n && k < sizeof(up); k++)
            up[k] = (char)((name[k] >= 'a' && name[k] <= 'z') ? name[k] - 32 : name[k]);
        CHECK_INT(xform_lookup(name, n), i);
        CHECK_INT(xform_lookup(up, n), i);
    }
    static const struct {
        const char *name;
        int want;
    } cases[] = {
        {"base64decode", XF_BASE64DECODE},
        {"base64Decode", XF_BASE64DECODE},
        {"base64DecodeExt", XF_BASE64DECODEEXT},
        {"urlDecodeUni", XF_URLDECODEUNI},
        {"utf8toUnicode", XF_UTF8TOUNICODE},
        {"UTF8TOUNICODE", XF_UTF8TOUNICODE},
        {"normalisePath", XF_NORMALIZEPATH},
        {"normalizePathWin", XF_NORMALIZEPATHWIN},
        {"normalisePathWin", XF_NORMALIZEPATHWIN},
        {"cmdline", XF_CMDLINE},
        {"", -1},
        {"url", -1},
        {"urlDecodeX", -1},
        {"lowercase ", -1},
        {"t:lowercase", -1},
        {"base64", -1},
        {"sha256", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (xform_lookup(cases[i].name, strlen(cases[i].name)) != cases[i].want)
            t_fail(t, __FILE__, __LINE__, "lookup \"%s\" != %d", cases[i].name, cases[i].want);
    /* Length is honoured: a name is matched only as a whole. */
    CHECK_INT(xform_lookup("lowercaseXYZ", 9), XF_LOWERCASE);
    CHECK_INT(xform_lookup("lowercase", 8), -1);
    CHECK_INT(xform_lookup(NULL, 0), -1);
    CHECK(xform_name(XF__COUNT) == NULL);
    CHECK(xform_name((enum xform_id)-1) == NULL);
}

TEST(xform_digests_are_raw_bytes)
{
    struct arena *a = arena_new(1 << 16);
    const char *out;
    size_t outlen;
    CHECK_INT(xform_apply(XF_SHA1, NULL, a, "abc", 3, &out, &outlen), 1);
    CHECK_MEM(out, outlen,
              "\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9d",
              20);
    CHECK_INT(xform_apply(XF_MD5, NULL, a, "", 0, &out, &outlen), 1);
    CHECK_MEM(out, outlen, "\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\x09\x98\xec\xf8\x42\x7e", 16);
    arena_free(a);
}

/* Exhausting the arena must fail cleanly with -1, never write past a bound. */
TEST(xform_arena_exhaustion_returns_minus_one)
{
    size_t n = 64 * 1024;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big)
        return;
    for (size_t i = 0; i < n; i++)
        big[i] = "%41&lt;\\x41 /*c*/\0\xc3\xa9"[i % 19];
    struct arena *a = arena_new(4096);
    for (int id = 0; id < XF__COUNT; id++) {
        const char *out = NULL;
        size_t outlen = 0;
        int rc = xform_apply((enum xform_id)id, NULL, a, big, n, &out, &outlen);
        /* Either an answer that fits the cap, an untouched/sliced input, or -1. */
        CHECK(rc == -1 || rc == 0 || rc == 1);
        if (rc == 1 && !(out >= big && out < big + n))
            CHECK(outlen < 4096);
        arena_reset(a);
    }
    const char *out;
    size_t outlen;
    CHECK_INT(xform_apply(XF_URLENCODE, NULL, a, big, n, &out, &outlen), -1);
    CHECK_INT(xform_apply(XF_HEXENCODE, NULL, a, big, n, &out, &outlen), -1);
    CHECK_INT(xform_apply(XF_URLDECODE, NULL, a, big, n, &out, &outlen), -1);
    CHECK_INT(xform_apply(XF_UTF8TOUNICODE, NULL, a, big, n, &out, &outlen), -1);
    CHECK_INT(xform_apply(999, NULL, a, "x", 1, &out, &outlen), -1);
    arena_free(a);
    free(big);
}

TEST(xform_long_input_decodes_fully)
{
    size_t reps = 100000, n = reps * 3;
    char *in = malloc(n);
    CHECK(in != NULL);
    if (!in)
        return;
    for (size_t i = 0; i < reps; i++)
        memcpy(in + 3 * i, "%41", 3);
    struct arena *a = arena_new(1 << 22);
    const char *out;
    size_t outlen;
    CHECK_INT(xform_apply(XF_URLDECODEUNI, NULL, a, in, n, &out, &outlen), 1);
    CHECK_INT(outlen, reps);
    size_t bad = 0;
    for (size_t i = 0; i < outlen; i++)
        bad += out[i] != 'A';
    CHECK_INT(bad, 0);
    /* Entity numbers far beyond long saturate like strtol/atoi. */
    char ent[300] = "&#";
    memset(ent + 2, '9', 250);
    memcpy(ent + 252, ";z", 3);
    CHECK_INT(xform_apply(XF_HTMLENTITYDECODE, NULL, a, ent, strlen(ent), &out, &outlen), 1);
    CHECK_MEM(out, outlen, "\xffz", 2);
    memcpy(ent, "&#x", 3);
    memset(ent + 3, '0', 200);
    memcpy(ent + 203, "41;", 4);
    CHECK_INT(xform_apply(XF_HTMLENTITYDECODE, NULL, a, ent, strlen(ent), &out, &outlen), 1);
    CHECK_MEM(out, outlen, "A", 1);
    arena_free(a);
    free(in);
}

/* Every transformation over random bytes: no crash (ASan), sane rc, and
 * rc 0 exactly when the output equals the input. */
TEST(xform_random_bytes_are_safe)
{
    struct arena *a = arena_new(1 << 20);
    unsigned seed = 12345;
    char in[96];
    for (int it = 0; it < 3000; it++) {
        size_t n = (size_t)(it % 96);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = "%u&#x;\\/*-<!>0xX9=AZaz \t\0\xc3\xa9\xff"[(seed >> 16) % 29];
        }
        for (int id = 0; id < XF__COUNT; id++) {
            const char *out = NULL;
            size_t outlen = 0;
            int rc = xform_apply((enum xform_id)id, NULL, a, in, n, &out, &outlen);
            if (rc < 0) {
                t_fail(t, __FILE__, __LINE__, "t:%s failed", xform_name((enum xform_id)id));
                continue;
            }
            int same = outlen == n && memcmp(out, in, n) == 0;
            if ((rc == 0) != same)
                t_fail(t, __FILE__, __LINE__, "t:%s rc %d but same=%d",
                       xform_name((enum xform_id)id), rc, same);
        }
        arena_reset(a);
    }
    arena_free(a);
}

static int write_tmp(char *path, size_t pathlen, const char *text)
{
    snprintf(path, pathlen, "/tmp/mamori-xform-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
    close(fd);
    return rc;
}

TEST(xform_unicode_map_load_real_file)
{
    struct xform_unicode_map *m = load_map(t);
    if (!m)
        return;
    CHECK_INT(m->map[0x00e9], 'e' + 1);
    CHECK_INT(m->map[0x00a0], ' ' + 1);
    CHECK_INT(m->map[0xff0e], '.' + 1); /* built in, also in the file */
    CHECK_INT(m->map[0x3002], '.' + 1); /* built in */
    CHECK_INT(m->map[0x1234], 0);
    CHECK_INT(m->map[0x0041], 0);
    free(m);
}

TEST(xform_unicode_map_load_errors_and_parsing)
{
    struct xform_unicode_map *m = malloc(sizeof(*m));
    char err[256], path[64];
    CHECK(m != NULL);
    if (!m)
        return;
    err[0] = '\0';
    CHECK_INT(xform_unicode_map_load("/nonexistent/unicode.mapping", 20127, m, err, sizeof(err)),
              -1);
    CHECK(strstr(err, "/nonexistent/unicode.mapping") != NULL);
    CHECK_INT(xform_unicode_map_load(UNICODE_MAPPING, 4242, m, err, sizeof(err)), -1);
    CHECK(strstr(err, "4242") != NULL);

    /* Mappings start at the code page line and stop at the first token
     * without a colon after them; bad hex keeps going like sscanf does. */
    if (write_tmp(path, sizeof(path),
                  "100 (other)\n0041:7a\n\n437 (OEM)\n00e9:65 00c9:45\n0100:zz 12345:41\n"
                  "500 (next)\n00e8:65\n") == 0) {
        CHECK_INT(xform_unicode_map_load(path, 437, m, err, sizeof(err)), 0);
        CHECK_INT(m->map[0x00e9], 'e' + 1);
        CHECK_INT(m->map[0x00c9], 'E' + 1);
        CHECK_INT(m->map[0x0041], 0);     /* other code page */
        CHECK_INT(m->map[0x00e8], 0);     /* after the end marker */
        CHECK_INT(m->map[0x0100], 'E' + 1); /* "zz" left the previous byte */
        CHECK_INT(m->map[0x3002], '.' + 1);
        unlink(path);
    }
    if (write_tmp(path, sizeof(path), "") == 0) {
        CHECK_INT(xform_unicode_map_load(path, 437, m, err, sizeof(err)), -1);
        unlink(path);
    }
    free(m);
}

TEST(xform_urldecodeuni_without_map_uses_low_byte)
{
    struct arena *a = arena_new(1 << 16);
    struct xform_env env = {NULL};
    const char *out;
    size_t outlen;
    CHECK_INT(xform_apply(XF_URLDECODEUNI, &env, a, S("%u00e9%uff0e"), &out, &outlen), 1);
    CHECK_MEM(out, outlen, "\xe9.", 2);
    CHECK_INT(xform_apply(XF_URLDECODEUNI, NULL, a, S("%u0041"), &out, &outlen), 1);
    CHECK_MEM(out, outlen, "A", 1);
    arena_free(a);
}

/* ---- fast paths ---------------------------------------------------------
 *
 * Every transformation first looks for the first byte it would change
 * (word-at-a-time scans, memchr, tables) and hands the input back when
 * there is none. The tests below pin that contract on ordinary values and
 * check the fast paths against plain byte-at-a-time references. */

/* Ordinary values (the ones a benign request is made of) come back as the
 * input pointer, with rc 0 and nothing allocated: the engine caches and
 * dedups its scans by that pointer. */
TEST(xform_typical_values_come_back_as_the_input)
{
    static const char text[] = "the quick brown fox jumps over the lazy dog while our new "
                               "running shoes arrive soon: 42 times";
    static const struct {
        enum xform_id id;
        const char *in;
    } cases[] = {
        {XF_LOWERCASE, "jane.doe@example.com"},
        {XF_UPPERCASE, "ORDER QUESTION 2024"},
        {XF_URLDECODE, "jane.doe@example.com"},
        {XF_URLDECODEUNI, "100% sure, 50%off %zz %u12"},
        {XF_URLDECODEUNI, "/c/kids-shoes"},
        {XF_HTMLENTITYDECODE, "fish & chips, AT&T &copy; &#;"},
        {XF_JSDECODE, "function f(a, b) { return a + b; }"},
        {XF_CSSDECODE, "color: red; margin: 0 auto"},
        {XF_ESCAPESEQDECODE, "C:/Program Files/app"},
        {XF_UTF8TOUNICODE, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
        {XF_REMOVENULLS, "GA1.2.1234567890.1700000000"},
        {XF_REPLACENULLS, "sessionid=abcdef0123456789"},
        {XF_REMOVEWHITESPACE, "text/html,application/xhtml+xml;q=0.9"},
        {XF_COMPRESSWHITESPACE, "gzip, deflate, br"},
        {XF_REPLACECOMMENTS, "text/html;q=0.8 a/b*c */ x"},
        {XF_REMOVECOMMENTS, "de-DE,de;q=0.9,en-US;q=0.8 <!- x"},
        {XF_REMOVECOMMENTSCHAR, "de-DE,de;q=0.9 a/b*c <!-x ->"},
        {XF_NORMALIZEPATH, "/c/kids-shoes"},
        {XF_NORMALIZEPATH, "text/html,application/xhtml+xml,*/*;q=0.8"},
        {XF_NORMALIZEPATH, "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"},
        {XF_NORMALIZEPATH, "a\\..\\b"},
        {XF_NORMALIZEPATH, "v1.2/x.y/z"},
        {XF_NORMALIZEPATHWIN, "/static/app.min.js"},
        {XF_CMDLINE, "echo hello/world(1) x-y_z.txt"},
        {XF_CMDLINE, "jane.doe@example.com"},
        {XF_PARITYZERO7BIT, "plain ascii text, 7 bits only"},
        {XF_TRIM, "no padding"},
    };
    /* Long ordinary text takes the word-at-a-time paths too. */
    static const enum xform_id text_ids[] = {
        XF_LOWERCASE,       XF_URLDECODE,          XF_URLDECODEUNI,  XF_HTMLENTITYDECODE,
        XF_JSDECODE,        XF_CSSDECODE,          XF_ESCAPESEQDECODE, XF_UTF8TOUNICODE,
        XF_REMOVENULLS,     XF_REPLACENULLS,       XF_COMPRESSWHITESPACE, XF_REPLACECOMMENTS,
        XF_REMOVECOMMENTS,  XF_REMOVECOMMENTSCHAR, XF_NORMALIZEPATH, XF_NORMALIZEPATHWIN,
        XF_CMDLINE,         XF_PARITYZERO7BIT,     XF_TRIM,
    };
    struct arena *a = arena_new(1 << 16);
    char big[8 * sizeof(text)];
    size_t bn = 0;
    while (bn + sizeof(text) - 1 < sizeof(big)) {
        memcpy(big + bn, text, sizeof(text) - 1);
        bn += sizeof(text) - 1;
        big[bn++] = ' ';
    }
    bn--; /* no trailing space */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) + 2 * sizeof(text_ids) / sizeof(text_ids[0]); i++) {
        enum xform_id id;
        const char *in;
        size_t n;
        if (i < sizeof(cases) / sizeof(cases[0])) {
            id = cases[i].id;
            in = cases[i].in;
            n = strlen(in);
        } else {
            size_t k = i - sizeof(cases) / sizeof(cases[0]);
            id = text_ids[k / 2];
            in = k % 2 ? big : text;
            n = k % 2 ? bn : strlen(text);
        }
        const char *out = NULL;
        size_t outlen = 0, before = arena_used(a);
        int rc = xform_apply(id, NULL, a, in, n, &out, &outlen);
        if (rc != 0 || out != in || outlen != n || arena_used(a) != before)
            t_fail(t, __FILE__, __LINE__, "t:%s \"%.40s\" (%zu): rc %d, out %s, used %zu -> %zu",
                   xform_name(id), in, n, rc, out == in ? "= in" : "!= in", before,
                   arena_used(a));
    }
    arena_free(a);
}

/* Output that is a prefix of the input (only dropped bytes after the
 * first change) is a slice of the input, allocated nowhere. */
TEST(xform_truncated_output_is_a_slice_of_the_input)
{
    static const struct {
        enum xform_id id;
        const char *in;
        size_t keep;
    } cases[] = {
        {XF_REMOVEWHITESPACE, "value \t\r\n", 5},   {XF_COMPRESSWHITESPACE, "value  \t ", 6},
        {XF_REMOVENULLS, "value\0\0", 5},           {XF_CMDLINE, "value'\"^", 5},
        {XF_CMDLINE, "value ,;\t'", 6},             {XF_REMOVECOMMENTS, "value -- x", 6},
        {XF_REMOVECOMMENTS, "value#x", 5},          {XF_TRIMRIGHT, "value  ", 5},
    };
    struct arena *a = arena_new(1 << 16);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].in, *out = NULL;
        size_t n = strlen(in) + (cases[i].id == XF_REMOVENULLS ? 2 : 0), outlen = 0;
        int rc = xform_apply(cases[i].id, NULL, a, in, n, &out, &outlen);
        if (rc != 1 || out != in || outlen != cases[i].keep || arena_used(a) != 0)
            t_fail(t, __FILE__, __LINE__, "t:%s \"%s\": rc %d, len %zu, used %zu",
                   xform_name(cases[i].id), in, rc, outlen, arena_used(a));
    }
    arena_free(a);
}

/* References: the transformations as plain loops over the bytes, written
 * from their documented (ModSecurity 3.0.9) behaviour, quirks included. */
struct rbuf {
    unsigned char b[4096];
    size_t n;
};

static void rput(struct rbuf *r, unsigned char c)
{
    if (r->n < sizeof(r->b))
        r->b[r->n++] = c;
}

static bool r_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool r_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned r_hexval(unsigned char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static void ref_case(bool upper, const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        rput(r, c);
    }
}

static void ref_nulls(bool replace, const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i])
            rput(r, s[i]);
        else if (replace)
            rput(r, ' ');
    }
}

static void ref_remove_ws(const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n; i++)
        if (!r_space(s[i]) && s[i] != 0xa0 && s[i] != 0xc2)
            rput(r, s[i]);
}

static void ref_compress_ws(const unsigned char *s, size_t n, struct rbuf *r)
{
    bool prev = false;
    for (size_t i = 0; i < n; i++) {
        bool sp = r_space(s[i]);
        if (!sp)
            rput(r, s[i]);
        else if (!prev)
            rput(r, ' ');
        prev = sp;
    }
}

static void ref_cmdline(const unsigned char *s, size_t n, struct rbuf *r)
{
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\'' || c == '\\' || c == '^')
            continue;
        if (c == ' ' || c == ',' || c == ';' || c == '\t' || c == '\r' || c == '\n') {
            if (!space)
                rput(r, ' ');
            space = true;
            continue;
        }
        if ((c == '/' || c == '(') && space)
            r->n--; /* the space just emitted */
        rput(r, (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c);
        space = false;
    }
}

static bool r_at(const unsigned char *s, size_t n, size_t i, const char *pat)
{
    size_t k = strlen(pat);
    return i + k <= n && memcmp(s + i, pat, k) == 0;
}

static void ref_replace_comments(const unsigned char *s, size_t n, struct rbuf *r)
{
    bool in = false;
    for (size_t i = 0; i < n;) {
        if (!in && r_at(s, n, i, "/*")) {
            in = true;
            i += 2;
        } else if (in && r_at(s, n, i, "*/")) {
            in = false;
            rput(r, ' ');
            i += 2;
        } else {
            if (!in)
                rput(r, s[i]);
            i++;
        }
    }
    if (in)
        rput(r, ' ');
}

static void ref_remove_comments(const unsigned char *s, size_t n, struct rbuf *r)
{
    bool in = false;
    for (size_t i = 0; i < n;) {
        if (!in) {
            if (r_at(s, n, i, "/*") || r_at(s, n, i, "<!--")) {
                in = true;
                i += s[i] == '/' ? 2 : 4;
            } else if (r_at(s, n, i, "--") || s[i] == '#') {
                return; /* a line comment drops the rest (and the final space) */
            } else {
                rput(r, s[i++]);
            }
        } else if (r_at(s, n, i, "*/") || r_at(s, n, i, "-->")) {
            i += s[i] == '*' ? 2 : 3;
            in = false;
            /* the byte after the terminator is copied unseen (NUL at the end) */
            rput(r, i < n ? s[i] : 0);
            i++;
        } else {
            i++;
        }
    }
    if (in)
        rput(r, ' ');
}

static void ref_remove_comments_char(const unsigned char *s, size_t n, struct rbuf *r)
{
    static const char *const pats[] = {"/*", "*/", "<!--", "-->", "--", "#"};
    for (size_t i = 0; i < n;) {
        size_t skip = 0;
        for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]) && !skip; k++)
            if (r_at(s, n, i, pats[k]))
                skip = strlen(pats[k]);
        if (skip) {
            i += skip;
        } else {
            rput(r, s[i++]);
        }
    }
}

/* Without a unicode map: %uXXXX is its low byte, full-width ASCII folded. */
static void ref_url_decode(bool uni, const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n;) {
        if (s[i] == '+') {
            rput(r, ' ');
            i++;
        } else if (s[i] != '%') {
            rput(r, s[i++]);
        } else if (uni && i + 1 < n && (s[i + 1] | 0x20) == 'u') {
            if (i + 5 < n && r_hex(s[i + 2]) && r_hex(s[i + 3]) && r_hex(s[i + 4]) &&
                r_hex(s[i + 5])) {
                unsigned hi = r_hexval(s[i + 2]) << 4 | r_hexval(s[i + 3]);
                unsigned lo = r_hexval(s[i + 4]) << 4 | r_hexval(s[i + 5]);
                rput(r, (unsigned char)(hi == 0xff && lo > 0 && lo < 0x5f ? lo + 0x20 : lo));
                i += 6;
            } else {
                rput(r, s[i]);
                rput(r, s[i + 1]);
                i += 2;
            }
        } else if (i + 2 < n && r_hex(s[i + 1]) && r_hex(s[i + 2])) {
            rput(r, (unsigned char)(r_hexval(s[i + 1]) << 4 | r_hexval(s[i + 2])));
            i += 3;
        } else {
            rput(r, s[i++]);
        }
    }
}

static void ref_parity_zero(const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n; i++)
        rput(r, s[i] & 0x7f);
}

static void r_cp(struct rbuf *r, unsigned d)
{
    char tmp[16];
    int k = snprintf(tmp, sizeof(tmp), "%%u%04x", d);
    for (int j = 0; j < k; j++)
        rput(r, (unsigned char)tmp[j]);
}

static void ref_utf8(const unsigned char *s, size_t n, struct rbuf *r)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                               : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 1) {
            if (c)
                rput(r, c);
            i++;
            continue;
        }
        if (len == 0) { /* stray continuation byte or 0xf8.. */
            rput(r, c);
            i++;
            continue;
        }
        if (c >= 0xf5)
            rput(r, c);
        bool ok = i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (!ok) { /* the lead byte is dropped */
            i++;
            continue;
        }
        unsigned d = c & (0x7f >> len);
        for (size_t k = 1; k < len; k++)
            d = d << 6 | (s[i + k] & 0x3f);
        r_cp(r, d);
        static const unsigned minv[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (d >= 0xd800 && d <= 0xdfff)
            rput(r, c);
        if (d < minv[len])
            rput(r, c);
        i += len;
    }
}

static int r_b64(unsigned char c)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(al, c) : NULL;
    return p ? (int)(p - al) : c == '=' ? 64 : -1;
}

/* Returns false for "invalid: empty result". */
static bool ref_base64(const unsigned char *s, size_t n, struct rbuf *r)
{
    const unsigned char *z = memchr(s, 0, n);
    size_t len = z ? (size_t)(z - s) : n, cnt = 0, pads = 0;
    for (size_t i = 0; i < len; i++) {
        size_t sp = 0;
        for (; i < len && s[i] == ' '; i++)
            sp++;
        if (i == len)
            break;
        if (s[i] == '\n' || (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
            continue; /* spaces before a line end are fine */
        int v = r_b64(s[i]);
        if (sp || v < 0 || (v == 64 && ++pads > 2) || (v < 64 && pads))
            return false;
        cnt++;
    }
    if (cnt == 0)
        return false;
    unsigned acc = 0, q = 0, keep = 3;
    for (size_t i = 0; i < len; i++) {
        int v = r_b64(s[i]);
        if (v < 0)
            continue;
        if (v == 64) {
            keep--;
            v = 0;
        }
        acc = acc << 6 | (unsigned)v;
        if (++q == 4) {
            for (unsigned k = 0; k < keep; k++)
                rput(r, (unsigned char)(acc >> (16 - 8 * k)));
            q = 0;
        }
    }
    return true;
}

/* normalizePath's own walk, without the shortcut that skips it for values
 * it would not change. */
static void ref_normalize_path(bool win, const unsigned char *in, size_t n, struct rbuf *r)
{
    unsigned char buf[512];
    if (n == 0 || n >= sizeof(buf)) {
        memcpy(r->b, in, n);
        r->n = n;
        return;
    }
    memcpy(buf, in, n);
    r->n = xform_normalize_path_walk(win, buf, n);
    memcpy(r->b, buf, r->n);
}

static const enum xform_id ref_ids[] = {
    XF_LOWERCASE,          XF_UPPERCASE,       XF_REMOVENULLS,        XF_REPLACENULLS,
    XF_REMOVEWHITESPACE,   XF_COMPRESSWHITESPACE, XF_CMDLINE,         XF_REPLACECOMMENTS,
    XF_REMOVECOMMENTS,     XF_REMOVECOMMENTSCHAR, XF_URLDECODE,       XF_URLDECODEUNI,
    XF_PARITYZERO7BIT,     XF_UTF8TOUNICODE,   XF_BASE64DECODE,       XF_NORMALIZEPATH,
    XF_NORMALIZEPATHWIN,
};

static void ref_apply(enum xform_id id, const unsigned char *s, size_t n, struct rbuf *r)
{
    r->n = 0;
    switch (id) {
    case XF_LOWERCASE: ref_case(false, s, n, r); break;
    case XF_UPPERCASE: ref_case(true, s, n, r); break;
    case XF_REMOVENULLS: ref_nulls(false, s, n, r); break;
    case XF_REPLACENULLS: ref_nulls(true, s, n, r); break;
    case XF_REMOVEWHITESPACE: ref_remove_ws(s, n, r); break;
    case XF_COMPRESSWHITESPACE: ref_compress_ws(s, n, r); break;
    case XF_CMDLINE: ref_cmdline(s, n, r); break;
    case XF_REPLACECOMMENTS: ref_replace_comments(s, n, r); break;
    case XF_REMOVECOMMENTS: ref_remove_comments(s, n, r); break;
    case XF_REMOVECOMMENTSCHAR: ref_remove_comments_char(s, n, r); break;
    case XF_URLDECODE: ref_url_decode(false, s, n, r); break;
    case XF_URLDECODEUNI: ref_url_decode(true, s, n, r); break;
    case XF_PARITYZERO7BIT: ref_parity_zero(s, n, r); break;
    case XF_UTF8TOUNICODE: ref_utf8(s, n, r); break;
    case XF_BASE64DECODE:
        if (!ref_base64(s, n, r))
            r->n = 0;
        break;
    case XF_NORMALIZEPATH: ref_normalize_path(false, s, n, r); break;
    case XF_NORMALIZEPATHWIN: ref_normalize_path(true, s, n, r); break;
    default: break;
    }
}

/* One comparison: same bytes as the reference, rc 0 exactly when they
 * equal the input, and then the input pointer itself. Reports the first
 * few failures per transformation only. */
static void ref_check(struct t_ctx *t, struct arena *a, enum xform_id id, const unsigned char *in,
                      size_t n, int *fails)
{
    struct rbuf r;
    const char *out = NULL;
    size_t outlen = 0;
    ref_apply(id, in, n, &r);
    /* An exact-size heap copy, so that ASan sees any read past the end
     * (the word-at-a-time loops must stop short of it). */
    char *exact = malloc(n ? n : 1);
    if (!exact)
        return;
    memcpy(exact, in, n);
    int rc = xform_apply(id, NULL, a, exact, n, &out, &outlen);
    bool same = r.n == n && memcmp(r.b, in, n) == 0;
    bool ok = rc >= 0 && outlen == r.n && memcmp(out, r.b, r.n) == 0 && (rc == 0) == same &&
              (rc != 0 || out == exact);
    free(exact);
    if (!ok && (*fails)++ < 3) {
        char hex[3 * 80 + 1] = "";
        for (size_t k = 0; k < n && k < 80; k++)
            snprintf(hex + 3 * k, 4, "%02x ", in[k]);
        t_fail(t, __FILE__, __LINE__, "t:%s on [%s] (%zu): rc %d, got %zu bytes, want %zu",
               xform_name(id), hex, n, rc, outlen, r.n);
    }
}

/* Bytes that matter to some transformation, the neighbours of the byte
 * ranges the word-at-a-time masks test for, high bytes and NUL. */
static const unsigned char marker_bytes[] = "aZz0 \t\n\r\v\f\"'\\^,;/(*<!->#.%+uU&x=Ff4A"
                                            "@[`{9:\x08\x0e\x1f\x7f"
                                            "\0\x80\xa0\xc2\xc3\xa9\xe2\x82\xf0\x9f\xf5\xff";

/* Random values over the marker alphabet, every length up to 72 (the
 * word-at-a-time loops switch to their byte tails at 8-byte boundaries)
 * and some longer. */
TEST(xform_fast_paths_match_reference_on_random_bytes)
{
    struct arena *a = arena_new(1 << 22);
    unsigned seed = 20240601;
    unsigned char in[300];
    int fails[sizeof(ref_ids) / sizeof(ref_ids[0])] = {0};
    for (int it = 0; it < 12000; it++) {
        size_t n = it % 6000 < 5000 ? (size_t)(it % 73) : 73 + (size_t)(it % 227);
        /* First half: mostly letters, with markers from the whole set
         * standing apart. Second half: three markers per value, dense, so
         * the same marker comes back within a block (form bodies: a '+'
         * every few bytes). */
        unsigned char pick[3];
        for (size_t k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            pick[k] = marker_bytes[((seed >> 16) & 0x7fff) % (sizeof(marker_bytes) - 1)];
        }
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = (seed >> 16) & 0x7fff;
            if (it < 6000)
                in[i] = v % 3 ? (unsigned char)('a' + v % 26)
                              : marker_bytes[v % (sizeof(marker_bytes) - 1)];
            else
                in[i] = v % 5 < 3 ? (unsigned char)('a' + v % 26) : pick[v % 3];
        }
        for (size_t k = 0; k < sizeof(ref_ids) / sizeof(ref_ids[0]); k++)
            ref_check(t, a, ref_ids[k], in, n, &fails[k]);
        arena_reset(a);
    }
    arena_free(a);
}

/* Plain values with one marker, or one two-byte token, at every position
 * around the block boundaries and at the very end. */
TEST(xform_fast_paths_match_reference_at_block_edges)
{
    static const char *const tokens[] = {"  ", "/*", "*/", "--", "./", "//", "%4", "%u", "\r\n",
                                         " /", " (", "\\\\", "\xc3\xa9", "..", "==", "\t "};
    struct arena *a = arena_new(1 << 22);
    unsigned char in[80];
    int fails[sizeof(ref_ids) / sizeof(ref_ids[0])] = {0};
    for (size_t n = 0; n <= 72; n++) {
        for (size_t p = 0; p < n; p++) {
            if (!(p < 3 || p + 3 > n || p % 8 == 7 || p % 8 == 0 || p % 8 == 1))
                continue;
            for (size_t m = 0; m < sizeof(marker_bytes) - 1 + sizeof(tokens) / sizeof(tokens[0]);
                 m++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (unsigned char)("quickbrownfoxjumps"[i % 18]);
                if (m < sizeof(marker_bytes) - 1) {
                    in[p] = marker_bytes[m];
                } else {
                    const char *tk = tokens[m - (sizeof(marker_bytes) - 1)];
                    in[p] = (unsigned char)tk[0];
                    if (p + 1 < n)
                        in[p + 1] = (unsigned char)tk[1];
                }
                for (size_t k = 0; k < sizeof(ref_ids) / sizeof(ref_ids[0]); k++)
                    ref_check(t, a, ref_ids[k], in, n, &fails[k]);
            }
            arena_reset(a);
        }
    }
    arena_free(a);
}

/* The decoders skip from marker to marker ('&', '\\', '%' and '+', NUL
 * and high bytes). A plain prefix must therefore pass through untouched
 * whatever follows: f(P + X) == P + f(X). */
TEST(xform_decoders_pass_plain_runs_through)
{
    static const enum xform_id ids[] = {XF_HTMLENTITYDECODE, XF_JSDECODE, XF_CSSDECODE,
                                        XF_ESCAPESEQDECODE, XF_URLDECODEUNI, XF_UTF8TOUNICODE};
    static const char plain[] = "plain text, 0-9 (ok) / lorem ipsum dolor sit amet ";
    static const char alpha[] = "&#x;lt\\u00fF41 %+\n\0\303\251zq9";
    struct arena *a = arena_new(1 << 22);
    unsigned seed = 7;
    char x[64], px[64 + sizeof(plain)];
    for (int it = 0; it < 4000; it++) {
        size_t xn = (size_t)(it % 40), pn = (size_t)(it % (sizeof(plain) - 1));
        for (size_t i = 0; i < xn; i++) {
            seed = seed * 1103515245u + 12345u;
            x[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        memcpy(px, plain, pn);
        memcpy(px + pn, x, xn);
        for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
            const char *o1, *o2;
            size_t l1, l2;
            int r1 = xform_apply(ids[k], NULL, a, x, xn, &o1, &l1);
            int r2 = xform_apply(ids[k], NULL, a, px, pn + xn, &o2, &l2);
            if (r1 < 0 || r2 < 0 || l2 != pn + l1 || memcmp(o2, plain, pn) != 0 ||
                memcmp(o2 + pn, o1, l1) != 0 || r1 != r2)
                t_fail(t, __FILE__, __LINE__, "t:%s prefix %zu + \"%.*s\": %zu vs %zu",
                       xform_name(ids[k]), pn, (int)xn, x, l2, l1);
        }
        arena_reset(a);
    }
    arena_free(a);
}

/* xform_triggers: on text made only of bytes outside a transformation's
 * set, it gives the input back (or, XT_CASE, the input lower-cased); so
 * does any chain of such steps on text outside all their sets. The text
 * leans on punctuation and the decoders' neighbours, where a wrong set
 * would show. */
static size_t trig_text(unsigned *seed, const uint8_t *allowed, char *out, size_t max)
{
    static const char lean[] = "%+&\\#*-/.;,'\"^xX0()<>!=:@ \t\r\n\v\f\xa0\xc2\x80\xff";
    size_t n = 0;
    *seed = *seed * 1103515245u + 12345u;
    size_t len = (*seed >> 16) % max;
    while (n < len) {
        *seed = *seed * 1103515245u + 12345u;
        unsigned r = *seed >> 16;
        unsigned char c = (r & 1) ? (unsigned char)lean[(r >> 1) % (sizeof(lean) - 1)]
                                  : (unsigned char)(r >> 1);
        if ((r & 6) == 6)
            c = (unsigned char)("aZq9 /."[(r >> 3) % 7]);
        if (allowed[c])
            out[n++] = (char)c;
    }
    return n;
}

static bool is_lower_of(const char *o, size_t ol, const char *in, size_t n)
{
    if (ol != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((unsigned char)o[i] != (c >= 'A' && c <= 'Z' ? c + 32 : c))
            return false;
    }
    return true;
}

TEST(xform_triggers_hold)
{
    struct arena *a = arena_new(1 << 22);
    unsigned seed = 11;
    char in[300];
    for (int id = 0; id < XF__COUNT; id++) {
        uint8_t set[256], allowed[256];
        enum xform_trigger k = xform_triggers((enum xform_id)id, set);
        if (k == XT_ALWAYS)
            continue;
        for (int c = 'a'; c <= 'z'; c++)
            CHECK(set[c] == set[c - 32]);
        for (int c = 0; c < 256; c++)
            allowed[c] = !set[c];
        for (int it = 0; it < 20000; it++) {
            size_t n = trig_text(&seed, allowed, in, it % 10 ? 40 : sizeof in);
            const char *o;
            size_t ol;
            int rc = xform_apply((enum xform_id)id, NULL, a, in, n, &o, &ol);
            bool ok = k == XT_BYTES ? rc == 0 && o == in && ol == n
                                    : rc >= 0 && is_lower_of(o, ol, in, n);
            if (!ok) {
                t_fail(t, __FILE__, __LINE__, "t:%s changed \"%.*s\" outside its set",
                       xform_name((enum xform_id)id), (int)n, in);
                break;
            }
            arena_reset(a);
        }
    }
    /* chains: the union of the steps' sets */
    for (int it = 0; it < 20000; it++) {
        uint8_t set[256], allowed[256];
        enum xform_id chain[4];
        size_t nc = 1 + it % 4;
        bool lower = false;
        memset(allowed, 1, sizeof allowed);
        for (size_t i = 0; i < nc; i++) {
            do {
                seed = seed * 1103515245u + 12345u;
                chain[i] = (enum xform_id)((seed >> 16) % XF__COUNT);
            } while (xform_triggers(chain[i], set) == XT_ALWAYS);
            lower |= xform_triggers(chain[i], set) == XT_CASE;
            for (int c = 0; c < 256; c++)
                allowed[c] &= !set[c];
        }
        size_t n = trig_text(&seed, allowed, in, 60);
        const char *cur = in;
        size_t cl = n;
        for (size_t i = 0; i < nc; i++)
            CHECK(xform_apply(chain[i], NULL, a, cur, cl, &cur, &cl) >= 0);
        if (lower ? !is_lower_of(cur, cl, in, n) : (cur != in || cl != n))
            t_fail(t, __FILE__, __LINE__, "t:%s,%s,%s,%s changed \"%.*s\" to \"%.*s\"",
                   xform_name(chain[0]), nc > 1 ? xform_name(chain[1]) : "",
                   nc > 2 ? xform_name(chain[2]) : "", nc > 3 ? xform_name(chain[3]) : "",
                   (int)n, in, (int)cl, cur);
        arena_reset(a);
    }
    arena_free(a);
}
