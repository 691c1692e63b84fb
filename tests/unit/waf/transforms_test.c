/* Tests for src/waf/transforms*.c.
 *
 * The expected outputs in the corpus table were recorded from
 * libmodsecurity 3.0.9 (Debian 12) by a throwaway differential harness;
 * they include its quirks on purpose (see docs/internals/transforms.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "waf/transforms.h"
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
