/* Tests for src/waf/{rx,pm,ipset,validate}.c: the SecLang matching
 * primitives. CRS rule and data files are read from /work/shared/crs and
 * /usr/share/modsecurity-crs at test time when present. */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../t.h"
#include "waf/matchers.h"

#define CRS_RULES "/work/shared/crs/rules"
#define DEB_CRS_RULES "/usr/share/modsecurity-crs/rules"

/* Deterministic PRNG so failures reproduce. */
static uint64_t mt_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *mt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long sz;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)sz + 1);
    if (!buf)
        goto out;
    *len = fread(buf, 1, (size_t)sz, f);
    buf[*len] = '\0';
out:
    fclose(f);
    return buf;
}

/* ======================================================================== */
/* @rx                                                                      */
/* ======================================================================== */

struct rx_case {
    const char *pat;
    const char *subj;
    size_t subjlen; /* 0: strlen */
    int want;       /* 1 match, 0 no match */
    long m0, m1;    /* group 0 span when want == 1 */
};

TEST(rx_flags_and_basic_matches)
{
    static const struct rx_case cases[] = {
        {"abc", "xxabcxx", 0, 1, 2, 5},
        {"abc", "ABC", 0, 0, 0, 0},
        {"(?i)abc", "xABC", 0, 1, 1, 4},
        /* DOTALL: '.' crosses newlines. */
        {"a.b", "a\nb", 0, 1, 0, 3},
        /* DOLLAR_ENDONLY: '$' does not match before a final newline. */
        {"abc$", "abc\n", 0, 0, 0, 0},
        {"abc$", "xabc", 0, 1, 1, 4},
        /* Not multiline: '^' and '$' anchor the whole value only. */
        {"^b", "a\nb", 0, 0, 0, 0},
        {"a$", "a\nb", 0, 0, 0, 0},
        {"^a", "a\nb", 0, 1, 0, 1},
        /* NUL bytes in the subject are ordinary bytes. */
        {"b\\x00c", "ab\0cd", 5, 1, 1, 4},
        {"^ab$", "ab\0", 3, 0, 0, 0},
        {"d", "ab\0cd", 5, 1, 4, 5},
        /* High bytes, no UTF mode: \xff is one byte, '.' is one byte. */
        {"\\xff.\\xfe", "\xff\xc3\xfe", 0, 1, 0, 3},
        {"^.$", "\xc3\xa9", 0, 0, 0, 0},
        /* Empty pattern behaves as ".*": the whole value is TX.0. */
        {"", "hello", 0, 1, 0, 5},
        {"", "", 0, 1, 0, 0},
        {"x*", "", 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rx_case *c = &cases[i];
        char err[256] = "";
        struct rx *r = rx_compile(c->pat, strlen(c->pat), 0, err, sizeof(err));
        if (!r) {
            t_fail(t, __FILE__, __LINE__, "case %zu: compile '%s': %s", i, c->pat, err);
            continue;
        }
        size_t n = c->subjlen ? c->subjlen : strlen(c->subj);
        long caps[20];
        int nc = -1;
        int rc = rx_match(r, c->subj, n, caps, 10, &nc);
        if (rc != c->want)
            t_fail(t, __FILE__, __LINE__, "case %zu (%s): rc %d, want %d", i, c->pat, rc, c->want);
        else if (rc == 1 && (nc < 1 || caps[0] != c->m0 || caps[1] != c->m1))
            t_fail(t, __FILE__, __LINE__, "case %zu (%s): span %ld-%ld (nc %d), want %ld-%ld", i,
                   c->pat, caps[0], caps[1], nc, c->m0, c->m1);
        rx_free(r);
    }
}

TEST(rx_captures)
{
    char err[256];
    long caps[40];
    int nc;
    struct rx *r = rx_compile("(a)(x)?(b)", 10, 0, err, sizeof(err));
    CHECK(r != NULL);
    CHECK_INT(rx_groups(r), 3);
    CHECK_INT(rx_match(r, "zab", 3, caps, 10, &nc), 1);
    CHECK_INT(nc, 4);
    CHECK_INT(caps[0], 1);
    CHECK_INT(caps[1], 3);
    CHECK_INT(caps[2], 1);
    CHECK_INT(caps[3], 2);
    CHECK_INT(caps[4], -1); /* (x)? did not take part */
    CHECK_INT(caps[5], -1);
    CHECK_INT(caps[6], 2);
    CHECK_INT(caps[7], 3);
    /* Fewer pairs wanted than groups. */
    CHECK_INT(rx_match(r, "zab", 3, caps, 2, &nc), 1);
    CHECK_INT(nc, 2);
    /* Verdict only. */
    CHECK_INT(rx_match(r, "zab", 3, NULL, 0, &nc), 1);
    CHECK_INT(rx_match(r, "zzz", 3, caps, 10, &nc), 0);
    CHECK_INT(nc, 0);
    CHECK_INT(rx_match(r, "zab", 3, caps, 10, NULL), 1);
    rx_free(r);

    /* Trailing groups that did not take part are not counted. */
    r = rx_compile("(a)|(b)", 7, 0, err, sizeof(err));
    CHECK(r != NULL);
    CHECK_INT(rx_match(r, "a", 1, caps, 10, &nc), 1);
    CHECK_INT(nc, 2);
    CHECK_INT(rx_match(r, "b", 1, caps, 10, &nc), 1);
    CHECK_INT(nc, 3);
    CHECK_INT(caps[2], -1);
    CHECK_INT(caps[4], 0);
    rx_free(r);

    /* More than ten groups: only 0..9 reported, the match still counts. */
    const char *many = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)";
    r = rx_compile(many, strlen(many), 0, err, sizeof(err));
    CHECK(r != NULL);
    CHECK_INT(rx_groups(r), 12);
    CHECK_INT(rx_match(r, "-abcdefghijkl-", 14, caps, 20, &nc), 1);
    CHECK_INT(nc, 10);
    CHECK_INT(caps[0], 1);
    CHECK_INT(caps[1], 13);
    CHECK_INT(caps[18], 9);
    CHECK_INT(caps[19], 10);
    rx_free(r);
}

TEST(rx_invalid_patterns_give_errors)
{
    static const char *bad[] = {"(", "a)", "[z-a]", "*a", "a{2,1}", "(?<n>a)(?<n>b)", "\\",
                                "(?P<x", "[[:foo:]]", "a(?#unterminated"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct rx *r = rx_compile(bad[i], strlen(bad[i]), 0, err, sizeof(err));
        if (r) {
            t_fail(t, __FILE__, __LINE__, "'%s' compiled", bad[i]);
            rx_free(r);
            continue;
        }
        if (!strstr(err, "offset") || strlen(err) < 12)
            t_fail(t, __FILE__, __LINE__, "'%s': unhelpful error '%s'", bad[i], err);
    }
    /* Tiny error buffer: truncated, still terminated. */
    char small[8];
    memset(small, 'x', sizeof(small));
    CHECK(rx_compile("(", 1, 0, small, sizeof(small)) == NULL);
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    /* NULL with a length is refused. */
    char err[64];
    CHECK(rx_compile(NULL, 3, 0, err, sizeof(err)) == NULL);
    /* A NUL inside the pattern is part of it (pattern is ptr + len). */
    struct rx *r = rx_compile("a\0b", 3, 0, err, sizeof(err));
    CHECK(r != NULL);
    CHECK_INT(rx_match(r, "xa\0b", 4, NULL, 0, NULL), 1);
    CHECK_INT(rx_match(r, "xa", 2, NULL, 0, NULL), 0);
    rx_free(r);
    /* Bad arguments to match. */
    CHECK_INT(rx_match(NULL, "a", 1, NULL, 0, NULL), -1);
}

TEST(rx_match_limit_reports_error)
{
    char err[256];
    /* Catastrophic backtracking: nested quantifiers on a non-matching tail. */
    const char *pat = "^(a+)+$";
    struct rx *r = rx_compile(pat, strlen(pat), 1000, err, sizeof(err));
    CHECK(r != NULL);
    char subj[64];
    memset(subj, 'a', 40);
    subj[40] = 'b';
    int nc = 7;
    CHECK_INT(rx_match(r, subj, 41, NULL, 0, &nc), -1);
    CHECK_INT(nc, 0);
    /* Same pattern, matching input: well inside the limit. */
    CHECK_INT(rx_match(r, subj, 40, NULL, 0, NULL), 1);
    rx_free(r);
    /* Without a limit (0 = PCRE2 default) a short input still completes. */
    r = rx_compile(pat, strlen(pat), 0, err, sizeof(err));
    CHECK(r != NULL);
    CHECK_INT(rx_match(r, subj, 16, NULL, 0, NULL), 1);
    rx_free(r);
}

TEST(rx_huge_input)
{
    char err[256];
    size_t n = 16u << 20;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 'x', n);
    memcpy(big + n - 6, "select", 6);
    struct rx *r = rx_compile("(?i)sel(ect)$", 13, 0, err, sizeof(err));
    CHECK(r != NULL);
    long caps[4];
    int nc;
    CHECK_INT(rx_match(r, big, n, caps, 2, &nc), 1);
    CHECK_INT(caps[0], (long)(n - 6));
    CHECK_INT(caps[3], (long)n);
    CHECK_INT(rx_match(r, big, n - 1, caps, 2, &nc), 0);
    rx_free(r);
    /* A backtracking-heavy pattern on a big input hits the limit, not the
     * stack: the JIT stack overflow falls back to the interpreter. */
    r = rx_compile("(x|xx)+y", 8, 100000, err, sizeof(err));
    CHECK(r != NULL);
    CHECK(rx_match(r, big, 1u << 20, NULL, 0, NULL) != 1);
    rx_free(r);
    free(big);
}

/* Capturing repeats over a long value overflow PCRE2's default 32 KiB JIT
 * stack already at 10 KB; the per-thread stack (and the interpreter behind
 * it) must still give the right answer. */
TEST(rx_jit_stack_is_big_enough)
{
    char err[256];
    size_t n = 100000;
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = "ab"[i & 1];
    b[n - 1] = 'c';
    struct rx *r = rx_compile("^(a|b)*c$", 9, 0, err, sizeof(err));
    CHECK(r != NULL);
    long caps[4];
    int nc;
    CHECK_INT(rx_match(r, b, n, caps, 2, &nc), 1);
    CHECK_INT(nc, 2);
    CHECK_INT(caps[1], (long)n);
    CHECK_INT(caps[2], (long)n - 2);
    b[n - 1] = 'd';
    CHECK_INT(rx_match(r, b, n, caps, 2, &nc), 0);
    rx_free(r);
    free(b);
}

struct rx_thread_arg {
    const struct rx *r;
    int bad;
};

static void *rx_thread(void *p)
{
    struct rx_thread_arg *a = p;
    char buf[64];
    for (int i = 0; i < 2000; i++) {
        long caps[20];
        int nc;
        int len = snprintf(buf, sizeof(buf), "id=%d union select %d", i, i * 7);
        if (rx_match(a->r, buf, (size_t)len, caps, 10, &nc) != 1 || nc != 3 ||
            atol(buf + caps[4]) != (long)i * 7)
            a->bad++;
        if (rx_match(a->r, "nothing here", 12, caps, 10, &nc) != 0)
            a->bad++;
    }
    return NULL;
}

/* One compiled pattern used from several threads at once: scratch state is
 * per thread, so captures never bleed between threads. */
TEST(rx_shared_across_threads)
{
    char err[256];
    const char *pat = "(?i)(union)\\s+select\\s+(\\d+)";
    struct rx *r = rx_compile(pat, strlen(pat), 0, err, sizeof(err));
    CHECK(r != NULL);
    pthread_t th[4];
    struct rx_thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct rx_thread_arg){r, 0};
        CHECK_INT(pthread_create(&th[i], NULL, rx_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(a[i].bad, 0);
    }
    rx_free(r);
}

/* Pulls the argument of every "@rx ..." operator out of a rule file:
 * the text after "@rx " up to the closing unescaped double quote. */
static int rx_each_crs_pattern(const char *path, int (*fn)(const char *pat, size_t len, void *ud),
                               void *ud)
{
    size_t len;
    char *txt = mt_slurp(path, &len);
    int count = 0;
    if (!txt)
        return -1;
    for (char *p = txt; (p = strstr(p, "\"@rx ")) != NULL;) {
        char *s = p + 5, *e = s;
        while (*e && *e != '"') {
            if (*e == '\\' && e[1])
                e++;
            e++;
        }
        /* Skip commented-out rules: '#' first on the line. */
        char *ls = p;
        while (ls > txt && ls[-1] != '\n')
            ls--;
        while (*ls == ' ' || *ls == '\t')
            ls++;
        if (*ls != '#') {
            /* SecLang's \" inside the quoted operator is a plain quote. */
            char *pat = malloc((size_t)(e - s) + 1);
            size_t o = 0;
            for (char *q = s; q < e; q++) {
                if (q[0] == '\\' && q[1] == '"')
                    q++;
                pat[o++] = *q;
            }
            if (fn(pat, o, ud) != 0)
                count = -1000000;
            free(pat);
            count++;
        }
        p = *e ? e + 1 : e;
    }
    free(txt);
    return count;
}

struct crs_ctx {
    struct t_ctx *t;
    const char *file;
    int compiled, failed, errors;
};

static int rx_crs_one(const char *pat, size_t len, void *ud)
{
    struct crs_ctx *c = ud;
    char err[256];
    struct rx *r = rx_compile(pat, len, 1000, err, sizeof(err));
    if (!r) {
        c->failed++;
        t_fail(c->t, __FILE__, __LINE__, "%s: %.*s: %s", c->file, (int)(len > 120 ? 120 : len), pat,
               err);
        return 0;
    }
    /* Exercise each one on a mixed payload; only the limit may fail it. */
    static const char payload[] =
        "1' OR '1'='1 union select * from users; <script>alert(1)</script> "
        "../../etc/passwd ${jndi:ldap://x} `cat /etc/shadow` php://filter";
    if (rx_match(r, payload, sizeof(payload) - 1, NULL, 0, NULL) < 0)
        c->errors++;
    c->compiled++;
    rx_free(r);
    return 0;
}

static int crs_scan_dir(struct t_ctx *t, const char *dir, int *total)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".conf") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct crs_ctx c = {t, de->d_name, 0, 0, 0};
        rx_each_crs_pattern(path, rx_crs_one, &c);
        CHECK_INT(c.failed, 0);
        CHECK_INT(c.errors, 0);
        *total += c.compiled;
        files++;
    }
    closedir(d);
    return files;
}

TEST(rx_all_crs_patterns_compile)
{
    int total = 0;
    int f1 = crs_scan_dir(t, CRS_RULES, &total);
    int t1 = total;
    int f2 = crs_scan_dir(t, DEB_CRS_RULES, &total);
    if (f1 < 0 && f2 < 0) {
        printf("note: no CRS rules found, rx_all_crs_patterns_compile skipped\n");
        return;
    }
    /* CRS v4 has ~300 @rx operators; a broken extractor finding few would
     * make this test pass vacuously. */
    if (f1 > 0)
        CHECK(t1 > 250);
    if (f2 > 0)
        CHECK(total - t1 > 200);
}

/* Some of the hardest CRS v4 patterns, checked for verdicts, not only for
 * compiling. */
TEST(rx_crs_hard_patterns)
{
    static const struct {
        const char *pat;
        const char *subj;
        int want;
    } cases[] = {
        /* 920100-like request line check (!@rx, so match = good line). */
        {"(?i)^(?:get /[^#\\?]*(?:\\?[^\\s\\x0b#]*)?(?:#[^\\s\\x0b]*)?|(?:connect (?:(?:[0-9]{1,3}"
         "\\.){3}[0-9]{1,3}\\.?(?::[0-9]+)?|[\\--9A-Z_a-z]+:[0-9]+)|options \\*|[a-z]{3,10}[\\s\\x0b]+"
         "(?:[0-9A-Z_a-z]{3,7}?://[\\--9A-Z_a-z]*(?::[0-9]+)?)?/[^#\\?]*(?:\\?[^\\s\\x0b#]*)?(?:#[^"
         "\\s\\x0b]*)?)[\\s\\x0b]+[\\.-9A-Z_a-z]+)$",
         "GET /index.php?a=1 HTTP/1.1", 1},
        {"(?i)^(?:get /[^#\\?]*(?:\\?[^\\s\\x0b#]*)?(?:#[^\\s\\x0b]*)?|(?:connect (?:(?:[0-9]{1,3}"
         "\\.){3}[0-9]{1,3}\\.?(?::[0-9]+)?|[\\--9A-Z_a-z]+:[0-9]+)|options \\*|[a-z]{3,10}[\\s\\x0b]+"
         "(?:[0-9A-Z_a-z]{3,7}?://[\\--9A-Z_a-z]*(?::[0-9]+)?)?/[^#\\?]*(?:\\?[^\\s\\x0b#]*)?(?:#[^"
         "\\s\\x0b]*)?)[\\s\\x0b]+[\\.-9A-Z_a-z]+)$",
         "GET /index.php?a=1 HTTP/1.1\n", 0},
        /* 942-style SQLi fragment with lookahead and possessive bits. */
        {"(?i)\\b(?:union\\b[\\s\\x0b]*(?:all|distinct)?[\\s\\x0b]*select)\\b", "1 UNION ALL SELECT 2",
         1},
        {"(?i)\\b(?:union\\b[\\s\\x0b]*(?:all|distinct)?[\\s\\x0b]*select)\\b", "reunion selection",
         0},
        /* 930-style path traversal with encodings. */
        {"(?i)(?:[/\\x5c]|%(?:2(?:f|5(?:2f|5c|c(?:1%259c|0%25af))|%46)|5c|c(?:0%(?:[2aq]f|5c|9v)|"
         "1%(?:[19p]c|8s|af))|(?:bg%q|(?:e|f(?:8%8)?0%8)0%80%a)f|u(?:221[56]|EFC8|F025|002f)|%3(?:2(?:"
         "%(?:%6|4)6|F)|5%%63)|1u)|0x(?:2f|5c))(?:\\.(?:%0[01]|\\?)?|\\?\\.?|%(?:2(?:(?:5(?:2|c0%25a))?e"
         "|%45)|u(?:(?:002|ff0)e|2024)|%32(?:%(?:%6|4)5|E)|c0(?:%[256aef]e|\\.))|0x2e){2,3}(?:[/\\x5c]|"
         "%(?:2(?:f|5(?:2f|5c|c(?:1%259c|0%25af))|%46)|5c|c(?:0%(?:[2aq]f|5c|9v)|1%(?:[19p]c|8s|af))|"
         "(?:bg%q|(?:e|f(?:8%8)?0%8)0%80%a)f|u(?:221[56]|EFC8|F025|002f)|%3(?:2(?:%(?:%6|4)6|F)|5%%63)"
         "|1u)|0x(?:2f|5c))",
         "/a/..%2f..%2fetc/passwd", 1},
        /* 941-style XSS with a character class range over high bytes. */
        {"(?i)<[^\\x00-\\x1f\\x7f-\\xff]*?(?:on[a-z]+)[\\s\\x0b]*=", "<img src=x onerror =alert(1)>",
         1},
        {"(?i)<[^\\x00-\\x1f\\x7f-\\xff]*?(?:on[a-z]+)[\\s\\x0b]*=", "<img\x01 onerror=1>", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256];
        struct rx *r = rx_compile(cases[i].pat, strlen(cases[i].pat), 1000, err, sizeof(err));
        if (!r) {
            t_fail(t, __FILE__, __LINE__, "case %zu: %s", i, err);
            continue;
        }
        int rc = rx_match(r, cases[i].subj, strlen(cases[i].subj), NULL, 0, NULL);
        if (rc != cases[i].want)
            t_fail(t, __FILE__, __LINE__, "case %zu on '%s': %d, want %d", i, cases[i].subj, rc,
                   cases[i].want);
        rx_free(r);
    }
}

/* ======================================================================== */
/* @pm                                                                      */
/* ======================================================================== */

static struct pm *pm_of(const char *const *words, size_t n)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(words[i]);
    return pm_build(words, lens, n);
}

TEST(pm_first_match_semantics)
{
    static const char *const w[] = {"he", "she", "hers", "his", "x", "Select", "union all"};
    struct pm *p = pm_of(w, sizeof(w) / sizeof(w[0]));
    CHECK(p != NULL);
    CHECK_INT(pm_count(p), 7);
    static const struct {
        const char *s;
        bool hit;
        size_t off, len;
    } cases[] = {
        {"ushers", true, 1, 3},   /* "she" and "he" end at 3: longest wins */
        {"hers", true, 0, 2},     /* "he" ends before "hers" */
        {"ahis", true, 1, 3},
        {"x", true, 0, 1},        /* one-byte phrase at offset 0 */
        {"aaax", true, 3, 1},
        {"SELECT", true, 0, 6},   /* case-insensitive both ways */
        {"sElEcT", true, 0, 6},
        {"UNION ALL", true, 0, 9},
        {"union  all", false, 0, 0},
        {"abc", false, 0, 0},
        {"", false, 0, 0},
        {"h", false, 0, 0},
        {"sh", false, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t off = 99, len = 99;
        bool hit = pm_match(p, cases[i].s, strlen(cases[i].s), &off, &len);
        if (hit != cases[i].hit || (hit && (off != cases[i].off || len != cases[i].len)))
            t_fail(t, __FILE__, __LINE__, "'%s': hit %d off %zu len %zu", cases[i].s, hit, off,
                   len);
    }
    /* Out-parameters are optional. */
    CHECK(pm_match(p, "she", 3, NULL, NULL));
    CHECK(!pm_match(NULL, "she", 3, NULL, NULL));
    pm_free(p);
}

TEST(pm_binary_phrases_and_edge_sets)
{
    const char *w[] = {"a\0b", "\xff\xfe", "Z"};
    size_t lens[] = {3, 2, 1};
    struct pm *p = pm_build(w, lens, 3);
    size_t off, len;
    CHECK(p != NULL);
    CHECK(pm_match(p, "xxa\0b", 5, &off, &len));
    CHECK_INT(off, 2);
    CHECK_INT(len, 3);
    CHECK(!pm_match(p, "xxa\0c", 5, &off, &len));
    CHECK(pm_match(p, "\x01\xff\xfe", 3, &off, &len));
    CHECK_INT(off, 1);
    CHECK(pm_match(p, "z", 1, &off, &len));
    /* Folding is ASCII only: 0xC0 and 0xE0 are different bytes. */
    pm_free(p);
    const char *w2[] = {"\xe0"};
    size_t l2[] = {1};
    p = pm_build(w2, l2, 1);
    CHECK(!pm_match(p, "\xc0", 1, NULL, NULL));
    CHECK(pm_match(p, "\xe0", 1, NULL, NULL));
    pm_free(p);

    /* Empty set and empty phrases: valid, never match. */
    p = pm_build(NULL, NULL, 0);
    CHECK(p != NULL);
    CHECK(!pm_match(p, "anything", 8, NULL, NULL));
    CHECK_INT(pm_count(p), 0);
    pm_free(p);
    const char *w3[] = {"", "dup", "DUP", "dup"};
    size_t l3[] = {0, 3, 3, 3};
    p = pm_build(w3, l3, 4);
    CHECK_INT(pm_count(p), 1);
    CHECK(!pm_match(p, "", 0, NULL, NULL));
    CHECK(pm_match(p, "xdUp", 4, &off, &len));
    CHECK_INT(off, 1);
    pm_free(p);
}

TEST(pm_words_parsing)
{
    static const struct {
        const char *arg;
        const char *subj;
        bool hit;
        size_t len;
    } cases[] = {
        {"gzip compress deflate br zstd", "x-zstd", true, 4},
        {"  ( )", "f(x", true, 1},
        {"?>", "<?php ?>", true, 2},
        {"a\tb\nc", "c", true, 1},
        /* Whole argument quoted: quotes dropped. */
        {"\"foo bar\"", "bar", true, 3},
        {"\"foo bar\"", "\"foo", true, 3},
        /* Escapes. */
        {"a\\;b", "a;b", true, 3},
        {"a\\\"b", "a\"b", true, 3},
        /* Hex: a hex space belongs to the phrase. */
        {"|41 42|c", "ABC", true, 3},
        {"x|20|y", "x y", true, 3},
        {"x|20|y", "x", false, 0},
        /* Malformed content: raw words, like ModSecurity. */
        {"a\\qb", "a\\qb", true, 4},
        {"|4x|", "|4x|", true, 4},
        {"|414|", "|414|", true, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[128] = "";
        struct pm *p = pm_parse_words(cases[i].arg, strlen(cases[i].arg), err, sizeof(err));
        if (!p) {
            t_fail(t, __FILE__, __LINE__, "case %zu: %s", i, err);
            continue;
        }
        size_t off = 0, len = 0;
        bool hit = pm_match(p, cases[i].subj, strlen(cases[i].subj), &off, &len);
        if (hit != cases[i].hit || (hit && len != cases[i].len))
            t_fail(t, __FILE__, __LINE__, "case %zu ('%s' on '%s'): hit %d len %zu", i,
                   cases[i].arg, cases[i].subj, hit, len);
        pm_free(p);
    }
    static const char *const none[] = {"", "   ", "\t\n", "\"\""};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        char err[128] = "";
        struct pm *p = pm_parse_words(none[i], strlen(none[i]), err, sizeof(err));
        CHECK(p == NULL);
        CHECK(strstr(err, "no phrase") != NULL);
        pm_free(p);
    }
    CHECK(pm_build_from_words("", 0) == NULL);
    struct pm *p = pm_build_from_words("a b", 3);
    CHECK(p != NULL && pm_count(p) == 2);
    pm_free(p);
}

static int mt_memcasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return x - y;
    }
    return 0;
}

/* Naive reference: leftmost end, then longest phrase ending there. */
static bool pm_naive(char **w, size_t *wl, size_t nw, const char *s, size_t n, size_t *off,
                     size_t *len)
{
    for (size_t e = 1; e <= n; e++) {
        size_t best = 0;
        for (size_t k = 0; k < nw; k++) {
            if (wl[k] == 0 || wl[k] > e || wl[k] <= best)
                continue;
            if (mt_memcasecmp(s + e - wl[k], w[k], wl[k]) == 0)
                best = wl[k];
        }
        if (best) {
            *off = e - best;
            *len = best;
            return true;
        }
    }
    return false;
}

/* Differential test against the naive matcher on random dictionaries over
 * a small alphabet (so phrases overlap a lot), both small (all dense) and
 * large (most states sparse). */
TEST(pm_random_vs_naive)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    static const char alpha[] = "abcAB\0\xff";
    for (int round = 0; round < 26; round++) {
        size_t nw = round < 20 ? 1 + mt_rng(&seed) % 12 : 3000 + mt_rng(&seed) % 2000;
        size_t maxl = round < 20 ? 6 : 24;
        char **w = calloc(nw, sizeof(*w));
        size_t *wl = calloc(nw, sizeof(*wl));
        for (size_t k = 0; k < nw; k++) {
            /* Long phrases in the big sets keep hits rare, so scans run
             * deep into the sparse part of the automaton. */
            wl[k] = (round < 20 ? 1 : 8) + mt_rng(&seed) % maxl;
            w[k] = malloc(wl[k]);
            for (size_t j = 0; j < wl[k]; j++)
                w[k][j] = alpha[mt_rng(&seed) % 7];
        }
        struct pm *p = pm_build((const char *const *)w, wl, nw);
        CHECK(p != NULL);
        for (int q = 0; p && q < 120; q++) {
            char s[200];
            size_t n = mt_rng(&seed) % sizeof(s);
            for (size_t j = 0; j < n; j++)
                s[j] = alpha[mt_rng(&seed) % 7];
            /* Every other query splices in a long prefix of some phrase. */
            if (q & 1 && n > 40) {
                size_t k = mt_rng(&seed) % nw, at = mt_rng(&seed) % (n - 30);
                size_t cl = wl[k] - 1 < n - at ? wl[k] - 1 : n - at;
                memcpy(s + at, w[k], cl);
            }
            size_t o1 = 0, l1 = 0, o2 = 0, l2 = 0;
            bool h1 = pm_match(p, s, n, &o1, &l1);
            bool h2 = pm_naive(w, wl, nw, s, n, &o2, &l2);
            if (h1 != h2 || (h1 && (o1 != o2 || l1 != l2))) {
                t_fail(t, __FILE__, __LINE__, "round %d q %d: got %d %zu/%zu want %d %zu/%zu",
                       round, q, h1, o1, l1, h2, o2, l2);
                break;
            }
        }
        pm_free(p);
        for (size_t k = 0; k < nw; k++)
            free(w[k]);
        free(w);
        free(wl);
    }
}

/* Counts what pm_build_from_files should load: non-blank lines whose
 * first non-blank byte is not '#', deduplicated case-insensitively. */
static size_t pm_expected_count(const char *path)
{
    size_t len, n = 0;
    char *txt = mt_slurp(path, &len);
    char **seen = NULL;
    if (!txt)
        return 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        const char *k = line + strspn(line, " \t");
        if (!*k || *k == '#')
            continue;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcasecmp(seen[i], line) == 0;
        if (!dup) {
            seen = realloc(seen, (n + 1) * sizeof(*seen));
            seen[n++] = line;
        }
    }
    free(seen);
    free(txt);
    return n;
}

TEST(pm_crs_data_files)
{
    DIR *d = opendir(CRS_RULES);
    struct dirent *de;
    int files = 0;
    if (!d) {
        printf("note: %s missing, pm_crs_data_files skipped\n", CRS_RULES);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".data") != 0)
            continue;
        char err[256] = "", path[1024];
        snprintf(path, sizeof(path), "%s/%s", CRS_RULES, de->d_name);
        /* Relative name, resolved against the rules folder. */
        struct pm *p = pm_build_from_files(de->d_name, CRS_RULES, err, sizeof(err));
        if (!p) {
            t_fail(t, __FILE__, __LINE__, "%s: %s", de->d_name, err);
            continue;
        }
        CHECK_INT(pm_count(p), pm_expected_count(path));
        pm_free(p);
        files++;
    }
    closedir(d);
    CHECK(files >= 15);

    /* Known entries. */
    char err[256];
    struct pm *p = pm_build_from_files("lfi-os-files.data restricted-files.data", CRS_RULES "/", err,
                                       sizeof(err));
    CHECK(p != NULL);
    size_t off, len;
    const char *s = "GET /../../ETC/PASSWD HTTP/1.1";
    CHECK(pm_match(p, s, strlen(s), &off, &len));
    CHECK_MEM(s + off, len, "ETC/PASSWD", 10); /* the slice of s, not the phrase */
    pm_free(p);
    /* Absolute path ignores base_dir. */
    p = pm_build_from_files(CRS_RULES "/php-variables.data", "/nonexistent", err, sizeof(err));
    CHECK(p != NULL);
    CHECK(pm_match(p, "$_SERVER['x']", 13, NULL, NULL));
    pm_free(p);
}

TEST(pm_file_errors_and_format)
{
    char err[256] = "";
    char dir[] = "/tmp/mamori-pm-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/list.data", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("# comment\n   # indented comment\n\nfoo bar\r\n  \t \nbaz \nlast", f);
    fclose(f);

    struct pm *p = pm_build_from_files("list.data", dir, err, sizeof(err));
    CHECK(p != NULL);
    CHECK_INT(pm_count(p), 3); /* "foo bar", "baz ", "last" */
    CHECK(pm_match(p, "x FOO BAR", 9, NULL, NULL));
    CHECK(!pm_match(p, "foo", 3, NULL, NULL));
    CHECK(!pm_match(p, "baz", 3, NULL, NULL)); /* trailing blank is kept */
    CHECK(pm_match(p, "baz x", 5, NULL, NULL));
    CHECK(pm_match(p, "the last", 8, NULL, NULL));
    CHECK(!pm_match(p, "comment", 7, NULL, NULL));
    CHECK(!pm_match(p, "\r", 1, NULL, NULL));
    pm_free(p);

    /* Missing file: error names it. */
    p = pm_build_from_files("nope.data", dir, err, sizeof(err));
    CHECK(p == NULL);
    CHECK(strstr(err, "nope.data") != NULL);
    /* A directory is not a list. */
    p = pm_build_from_files(dir, NULL, err, sizeof(err));
    CHECK(p == NULL);
    CHECK(strstr(err, "not a regular file") != NULL);
    /* Nothing given. */
    CHECK(pm_build_from_files("   ", dir, err, sizeof(err)) == NULL);
    CHECK(pm_build_from_files(NULL, dir, err, sizeof(err)) == NULL);
    CHECK(pm_build_from_files("https://example.com/x.data", dir, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "not supported") != NULL);
    /* One bad file among good ones fails the whole operator. */
    CHECK(pm_build_from_files("list.data nope.data", dir, err, sizeof(err)) == NULL);

    /* A comment-only file is a valid, empty set. */
    f = fopen(path, "wb");
    fputs("# nothing\n", f);
    fclose(f);
    p = pm_build_from_files(path, NULL, err, sizeof(err));
    CHECK(p != NULL);
    CHECK(!pm_match(p, "# nothing", 9, NULL, NULL));
    pm_free(p);
    unlink(path);
    rmdir(dir);
}

static double mt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Throughput on a 64 KiB input with the largest CRS list. Printed, not
 * asserted (this binary runs under sanitizers). */
TEST(pm_throughput_report)
{
    char err[256];
    struct pm *p = pm_build_from_files("php-errors.data", CRS_RULES, err, sizeof(err));
    if (!p) {
        printf("note: pm_throughput_report skipped: %s\n", err);
        return;
    }
    size_t n = 64 * 1024;
    char *buf = malloc(n);
    uint64_t seed = 42;
    /* Text-like input: lowercase words and spaces, no phrase from the list
     * at all would be unrealistic, so it is English-ish filler. */
    static const char *words[] = {"the", "error", "of", "value", "request", "user", "id", "and",
                                  "php", "warning", "line", "in", "a", "to", "form"};
    size_t o = 0;
    while (o < n) {
        const char *wd = words[mt_rng(&seed) % 15];
        size_t l = strlen(wd);
        if (o + l + 1 > n)
            break;
        memcpy(buf + o, wd, l);
        o += l;
        buf[o++] = ' ';
    }
    memset(buf + o, ' ', n - o);
    /* Make sure it does not match early so the whole buffer is scanned. */
    bool first = pm_match(p, buf, n, NULL, NULL);
    int iters = 50;
    double t0 = mt_now();
    for (int i = 0; i < iters; i++)
        CHECK(pm_match(p, buf, n, NULL, NULL) == first);
    double dt = mt_now() - t0;
    printf("pm: php-errors.data (%zu phrases, %zu KiB) on 64 KiB: %.0f MB/s%s\n", pm_count(p),
           pm_memory(p) / 1024, (double)n * iters / dt / 1e6, first ? " (matched early)" : "");
    free(buf);
    pm_free(p);
}

/* ======================================================================== */
/* @ipMatch                                                                 */
/* ======================================================================== */

TEST(ipset_matches)
{
    static const char list[] = "192.168.1.100, 10.0.0.0/8,172.16.0.0/12 ,::1,2001:db8::/32,"
                               "fe80::1:2:3:4/64, 203.0.113.7/32,,0.0.0.0/32";
    char err[256] = "";
    struct ipset *s = ipset_parse(list, strlen(list), err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        printf("%s\n", err);
        return;
    }
    static const struct {
        const char *addr;
        bool in;
    } cases[] = {
        {"192.168.1.100", true},  {"192.168.1.101", false}, {"10.0.0.0", true},
        {"10.255.255.255", true}, {"11.0.0.0", false},       {"9.255.255.255", false},
        {"172.16.0.1", true},     {"172.31.255.255", true},  {"172.32.0.0", false},
        {"203.0.113.7", true},    {"203.0.113.8", false},    {"0.0.0.0", true},
        {"0.0.0.1", false},       {"::1", true},             {"::2", false},
        {"::", false},            {"2001:db8::", true},      {"2001:DB8:ffff:1::9", true},
        {"2001:db9::", false},    {"2001:db7:ffff::", false}, {"fe80::", true},
        {"fe80::ffff:ffff:ffff:ffff", true},                 {"fe80:0:0:1::", false},
        /* Families do not mix. */
        {"::ffff:10.0.0.1", false}, {"::ffff:192.168.1.100", false},
        /* Not addresses. */
        {"", false},              {"10.0.0", false},         {"10.0.0.1 ", false},
        {" 10.0.0.1", false},     {"10.0.0.1/8", false},     {"fe80::1%eth0", false},
        {"localhost", false},     {"10.0.0.256", false},     {":::", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ipset_contains(s, cases[i].addr, strlen(cases[i].addr)) != cases[i].in)
            t_fail(t, __FILE__, __LINE__, "'%s': want %d", cases[i].addr, cases[i].in);
    /* Address with an embedded NUL must not match a prefix of itself. */
    CHECK(!ipset_contains(s, "10.0.0.1\0x", 10));
    CHECK(!ipset_contains(NULL, "10.0.0.1", 8));
    ipset_free(s);
}

TEST(ipset_edges_and_merging)
{
    char err[256];
    /* Host bits are masked; /0 covers the family; overlapping and adjacent
     * blocks merge. */
    const char *l = "10.1.2.3/8,0::/0";
    struct ipset *s = ipset_parse(l, strlen(l), err, sizeof(err));
    CHECK(s != NULL);
    CHECK(ipset_contains(s, "10.200.0.1", 10));
    CHECK(ipset_contains(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 39));
    CHECK(ipset_contains(s, "::", 2));
    CHECK(!ipset_contains(s, "11.0.0.1", 8));
    ipset_free(s);

    l = "0.0.0.0/0";
    s = ipset_parse(l, strlen(l), err, sizeof(err));
    CHECK(ipset_contains(s, "255.255.255.255", 15));
    CHECK(ipset_contains(s, "0.0.0.0", 7));
    CHECK(!ipset_contains(s, "::", 2));
    ipset_free(s);

    l = "1.0.0.0/25,1.0.0.128/25,1.0.0.64/26,255.255.255.255,255.255.255.254,"
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128,8000::/1,::/1";
    s = ipset_parse(l, strlen(l), err, sizeof(err));
    CHECK(s != NULL);
    CHECK(ipset_contains(s, "1.0.0.0", 7));
    CHECK(ipset_contains(s, "1.0.0.127", 9));
    CHECK(ipset_contains(s, "1.0.0.128", 9));
    CHECK(ipset_contains(s, "1.0.0.255", 9));
    CHECK(!ipset_contains(s, "1.0.1.0", 7));
    CHECK(ipset_contains(s, "255.255.255.255", 15));
    CHECK(!ipset_contains(s, "255.255.255.253", 15));
    CHECK(ipset_contains(s, "7fff::", 6));
    CHECK(ipset_contains(s, "8000::", 6));
    ipset_free(s);

    /* Prefix boundaries inside the 64-bit halves. */
    l = "2001:db8:0:0:8000::/65,2001:db8::/63";
    s = ipset_parse(l, strlen(l), err, sizeof(err));
    CHECK(ipset_contains(s, "2001:db8:0:1:ffff::", 19));
    CHECK(!ipset_contains(s, "2001:db8:0:2::", 14));
    ipset_free(s);
}

TEST(ipset_bad_entries)
{
    static const struct {
        const char *list;
        const char *msg;
    } cases[] = {
        {"", "no address"},
        {" , ,", "no address"},
        {"1.2.3", "bad IP address '1.2.3'"},
        {"1.2.3.4.5", "bad IP address"},
        {"256.1.1.1", "bad IP address"},
        {"1.2.3.4/33", "prefix length 33 too long for IPv4"},
        {"::1/129", "prefix length 129 too long for IPv6"},
        {"1.2.3.4/", "bad prefix length"},
        {"1.2.3.4/-1", "bad prefix length"},
        {"1.2.3.4/1a", "bad prefix length"},
        {"1.2.3.4/0008", "bad prefix length"},
        {"1.2.3.4/8/8", "bad prefix length"},
        {"10.0.0.1,example.com", "bad IP address 'example.com'"},
        {"2001:db8:::1", "bad IP address"},
        {"fe80::1%eth0", "bad IP address"},
        {"1.2.3.4 5.6.7.8", "bad IP address"},
        {"/8", "bad IP address"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct ipset *s = ipset_parse(cases[i].list, strlen(cases[i].list), err, sizeof(err));
        if (s) {
            t_fail(t, __FILE__, __LINE__, "'%s' accepted", cases[i].list);
            ipset_free(s);
        } else if (!strstr(err, cases[i].msg)) {
            t_fail(t, __FILE__, __LINE__, "'%s': error '%s', want '%s'", cases[i].list, err,
                   cases[i].msg);
        }
    }
    /* An entry with a NUL byte. */
    char err[256];
    CHECK(ipset_parse("1.2.3.4\0", 8, err, sizeof(err)) == NULL);
    CHECK(ipset_parse(NULL, 0, err, sizeof(err)) == NULL);
}

TEST(ipset_file_loading)
{
    char err[256] = "";
    char dir[] = "/tmp/mamori-ip-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/ips.txt", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("# office\n192.0.2.0/24\r\n\n  2001:db8::1 \n198.51.100.1,198.51.100.2\n", f);
    fclose(f);
    struct ipset *s = ipset_from_file("ips.txt", dir, err, sizeof(err));
    CHECK(s != NULL);
    CHECK(ipset_contains(s, "192.0.2.77", 10));
    CHECK(ipset_contains(s, "2001:db8::1", 11));
    CHECK(ipset_contains(s, "198.51.100.2", 12));
    CHECK(!ipset_contains(s, "198.51.100.3", 12));
    ipset_free(s);

    /* A bad line: error has file:line. */
    f = fopen(path, "wb");
    fputs("10.0.0.1\n\n10.0.0.300\n", f);
    fclose(f);
    s = ipset_from_file(path, NULL, err, sizeof(err));
    CHECK(s == NULL);
    CHECK(strstr(err, "ips.txt:3: bad IP address '10.0.0.300'") != NULL);

    /* Empty list: valid, matches nothing. */
    f = fopen(path, "wb");
    fclose(f);
    s = ipset_from_file(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    CHECK(!ipset_contains(s, "10.0.0.1", 8));
    ipset_free(s);

    CHECK(ipset_from_file("missing.txt", dir, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "missing.txt") != NULL);
    CHECK(ipset_from_file("", dir, err, sizeof(err)) == NULL);
    CHECK(ipset_from_file(dir, NULL, err, sizeof(err)) == NULL);
    unlink(path);
    rmdir(dir);
}

/* A big set: lookups stay correct with many overlapping blocks. */
TEST(ipset_large_random)
{
    uint64_t seed = 7;
    size_t cap = 20000 * 20;
    char *list = malloc(cap);
    uint32_t *net = malloc(20000 * sizeof(*net));
    int *pl = malloc(20000 * sizeof(*pl));
    size_t o = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t a = (uint32_t)mt_rng(&seed);
        int p = 8 + (int)(mt_rng(&seed) % 25);
        net[i] = p ? a & ~(p == 32 ? 0u : (0xffffffffu >> p)) : 0;
        pl[i] = p;
        o += (size_t)snprintf(list + o, cap - o, "%u.%u.%u.%u/%d,", a >> 24, a >> 16 & 255,
                              a >> 8 & 255, a & 255, p);
    }
    char err[256];
    struct ipset *s = ipset_parse(list, o, err, sizeof(err));
    CHECK(s != NULL);
    for (int q = 0; s && q < 2000; q++) {
        uint32_t a = (uint32_t)mt_rng(&seed);
        bool want = false;
        for (int i = 0; i < 20000 && !want; i++) {
            uint32_t m = pl[i] == 32 ? 0xffffffffu : ~(0xffffffffu >> pl[i]);
            want = (a & m) == net[i];
        }
        char txt[32];
        int n = snprintf(txt, sizeof(txt), "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255,
                         a & 255);
        if (ipset_contains(s, txt, (size_t)n) != want) {
            t_fail(t, __FILE__, __LINE__, "%s: want %d", txt, want);
            break;
        }
    }
    ipset_free(s);
    free(list);
    free(net);
    free(pl);
}

/* ======================================================================== */
/* validators                                                               */
/* ======================================================================== */

TEST(byterange_parse_and_check)
{
    static const struct {
        const char *arg;
        const char *subj;
        size_t n;
        bool violated;
    } cases[] = {
        {"1-255", "hello\xff", 0, false},
        {"1-255", "a\0b", 3, true},
        {"1-255", "", 0, false},
        {"38,44-46,48-58,61,65-90,95,97-122", "abc_XYZ-09:=&.,", 0, false},
        {"38,44-46,48-58,61,65-90,95,97-122", "a b", 0, true},
        {"38,44-46,48-58,61,65-90,95,97-122", "a/b", 0, true},
        {"38,44-46,48-58,61,65-90,95,97-122", "\x80", 0, true},
        {"9,10,13,32-126,128-255", "tab\there\r\n", 0, false},
        {"9,10,13,32-126,128-255", "bell\x07", 0, true},
        {"9,10,13,32-126,128-255", "del\x7f", 0, true},
        {"0", "\0\0", 2, false},
        {"0", "\x01", 0, true},
        {"255", "\xff", 0, false},
        {" 32 - 126 , 10 ", "a\n", 0, false},
        {"65-65", "AAB", 0, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct byterange r;
        char err[128] = "";
        if (byterange_parse(cases[i].arg, strlen(cases[i].arg), &r, err, sizeof(err)) != 0) {
            t_fail(t, __FILE__, __LINE__, "'%s': %s", cases[i].arg, err);
            continue;
        }
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].subj);
        if (byterange_violated(&r, cases[i].subj, n) != cases[i].violated)
            t_fail(t, __FILE__, __LINE__, "'%s' on case %zu: want %d", cases[i].arg, i,
                   cases[i].violated);
    }
    /* Exact bit layout for the boundaries. */
    struct byterange r;
    char err[128];
    CHECK_INT(byterange_parse("63-64,127-128", 13, &r, err, sizeof(err)), 0);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        bool in = b == 63 || b == 64 || b == 127 || b == 128;
        if (byterange_violated(&r, &c, 1) == in)
            t_fail(t, __FILE__, __LINE__, "byte %d", b);
    }

    static const struct {
        const char *arg;
        const char *msg;
    } bad[] = {
        {"", "empty"},          {"256", "bad value '256'"}, {"1-256", "bad range"},
        {"-1", "bad range"},    {"10-5", "backwards"},      {"a", "bad value 'a'"},
        {"1,,2", "bad value"},  {"1,", "bad value"},        {"1-", "bad range"},
        {"1-2-3", "bad range"}, {"0x41", "bad value"},      {"1000", "bad value"},
        {"+5", "bad value"},    {"5 6", "bad value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char e[128] = "";
        struct byterange keep = {{1, 2, 3, 4}};
        int rc = byterange_parse(bad[i].arg, strlen(bad[i].arg), &keep, e, sizeof(e));
        if (rc == 0 || !strstr(e, bad[i].msg))
            t_fail(t, __FILE__, __LINE__, "'%s': rc %d err '%s'", bad[i].arg, rc, e);
        /* The output is untouched on error. */
        CHECK(keep.bits[0] == 1 && keep.bits[3] == 4);
    }
}

TEST(validate_url_encoding)
{
    static const struct {
        const char *s;
        size_t n;
        bool fails;
    } cases[] = {
        {"", 0, false},           {"plain", 0, false},    {"%41%42", 0, false},
        {"a%2fb%2F", 0, false},   {"%", 0, true},         {"%4", 0, true},
        {"a%", 0, true},          {"%4g", 0, true},       {"%g4", 0, true},
        {"%%41", 0, true},        {"%u0041", 0, true},    {"ok%20then%zz", 0, true},
        {"%41%4", 0, true},       {"100%", 0, true},      {"%41\0%", 5, true},
        {"\0\0", 2, false},       {"+%2B+", 0, false},    {"%aF%Fa", 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
        if (validate_url_encoding_fails(cases[i].s, n) != cases[i].fails)
            t_fail(t, __FILE__, __LINE__, "case %zu '%s': want %d", i, cases[i].s, cases[i].fails);
    }
    /* A '%' exactly at the end of a long clean input. */
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    CHECK(!validate_url_encoding_fails(big, n));
    big[n - 2] = '%';
    CHECK(validate_url_encoding_fails(big, n));
    free(big);
}

TEST(validate_utf8)
{
    static const struct {
        const char *s;
        size_t n;
        bool fails;
        const char *why;
    } cases[] = {
        {"", 0, false, "empty"},
        {"ascii", 0, false, "ascii"},
        {"\0", 1, false, "NUL is valid"},
        {"caf\xc3\xa9", 0, false, "2-byte"},
        {"\xe2\x82\xac", 0, false, "3-byte euro"},
        {"\xf0\x9f\x98\x80", 0, false, "4-byte emoji"},
        {"\xf4\x8f\xbf\xbf", 0, false, "U+10FFFF"},
        {"\xed\x9f\xbf", 0, false, "U+D7FF"},
        {"\xee\x80\x80", 0, false, "U+E000"},
        {"\xc2\x80", 0, false, "U+0080"},
        {"\xe0\xa0\x80", 0, false, "U+0800"},
        {"\xf0\x90\x80\x80", 0, false, "U+10000"},
        {"\xef\xbf\xbf", 0, false, "U+FFFF"},
        {"\xc0\xaf", 0, true, "overlong '/' (C0)"},
        {"\xc1\xbf", 0, true, "overlong (C1)"},
        {"\xe0\x80\xaf", 0, true, "overlong 3-byte"},
        {"\xe0\x9f\xbf", 0, true, "overlong 3-byte max"},
        {"\xf0\x80\x80\xaf", 0, true, "overlong 4-byte"},
        {"\xf0\x8f\xbf\xbf", 0, true, "overlong 4-byte max"},
        {"\xed\xa0\x80", 0, true, "high surrogate"},
        {"\xed\xbf\xbf", 0, true, "low surrogate"},
        {"\xf4\x90\x80\x80", 0, true, "above U+10FFFF"},
        {"\xf5\x80\x80\x80", 0, true, "lead F5"},
        {"\xf8\x88\x80\x80\x80", 0, true, "5-byte form"},
        {"\xfc\x84\x80\x80\x80\x80", 0, true, "6-byte form"},
        {"\xfe", 0, true, "FE"},
        {"\xff", 0, true, "FF"},
        {"\x80", 0, true, "lone continuation"},
        {"a\xbf", 0, true, "continuation after ascii"},
        {"\xc3", 0, true, "truncated 2"},
        {"\xe2\x82", 0, true, "truncated 3"},
        {"\xf0\x9f\x98", 0, true, "truncated 4"},
        {"\xc3\x28", 0, true, "bad continuation"},
        {"\xe2\x28\xa1", 0, true, "bad 2nd of 3"},
        {"\xe2\x82\x28", 0, true, "bad 3rd of 3"},
        {"\xf0\x9f\x98\x28", 0, true, "bad 4th of 4"},
        {"ok\xc3\xa9\0\xc3", 6, true, "truncated after NUL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
        if (validate_utf8_fails(cases[i].s, n) != cases[i].fails)
            t_fail(t, __FILE__, __LINE__, "%s: want %d", cases[i].why, cases[i].fails);
    }
    /* Truncation must be judged by length, not by a terminating NUL. */
    CHECK(validate_utf8_fails("\xc3\xa9", 1));
    CHECK(!validate_utf8_fails(NULL, 0));

    /* Exhaustive two-byte check against the definition. */
    for (int a = 0x80; a < 0x100; a++)
        for (int b = 0; b < 0x100; b++) {
            char s[2] = {(char)a, (char)b};
            bool valid = a >= 0xC2 && a <= 0xDF && (b & 0xC0) == 0x80;
            if (validate_utf8_fails(s, 2) == valid) {
                t_fail(t, __FILE__, __LINE__, "%02x %02x", a, b);
                return;
            }
        }
}

TEST(rx_match_all_patterns_skip_pcre_but_answer_the_same)
{
    static const char *const pats[] = {".*", "^.*$", "^.*", ".*$", ""};
    static const char *const subj[] = {"", "abc", "a\nb\n", "x\0y"};
    static const size_t slen[] = {0, 3, 4, 3};
    char err[256];
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        struct rx *r = rx_compile(pats[i], strlen(pats[i]), 0, err, sizeof err);
        /* the same pattern with a no-op group defeats the shortcut: PCRE answers */
        char ref_pat[32];
        snprintf(ref_pat, sizeof ref_pat, "(?:)%s", pats[i][0] ? pats[i] : ".*");
        struct rx *ref = rx_compile(ref_pat, strlen(ref_pat), 0, err, sizeof err);
        CHECK(r && ref);
        for (size_t k = 0; r && ref && k < sizeof subj / sizeof subj[0]; k++) {
            long c1[4] = {7, 7, 7, 7}, c2[4] = {7, 7, 7, 7};
            int n1 = -1, n2 = -1;
            CHECK(rx_match(r, subj[k], slen[k], c1, 2, &n1) == rx_match(ref, subj[k], slen[k], c2, 2, &n2));
            CHECK(n1 == n2 && c1[0] == c2[0] && c1[1] == c2[1]);
        }
        rx_free(r);
        rx_free(ref);
    }
}

TEST(rx_one_class_patterns_scan_bytes_like_pcre)
{
    static const char *const pats[] = {"[\\n\\r]", "[^a-z]", "[]x]", "[^]x]", "[\\x00-\\x08]",
                                       "[a-c\\d]", "[\\]\\\\]", "[a][b]", "[[:digit:]]"};
    char err[256];
    srand(7);
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        struct rx *r = rx_compile(pats[i], strlen(pats[i]), 0, err, sizeof err);
        char ref_pat[64];
        snprintf(ref_pat, sizeof ref_pat, "(?:)%s", pats[i]); /* defeats the shortcut */
        struct rx *ref = rx_compile(ref_pat, strlen(ref_pat), 0, err, sizeof err);
        CHECK(r && ref);
        for (int k = 0; r && ref && k < 2000; k++) {
            char s[24];
            size_t n = (size_t)(rand() % 24);
            for (size_t j = 0; j < n; j++)
                s[j] = (char)(k % 3 ? 'a' + rand() % 30 : rand() % 256);
            long c1[2] = {9, 9}, c2[2] = {9, 9};
            int n1 = -1, n2 = -1;
            int m1 = rx_match(r, s, n, c1, 1, &n1), m2 = rx_match(ref, s, n, c2, 1, &n2);
            CHECK(m1 == m2 && n1 == n2 && c1[0] == c2[0] && c1[1] == c2[1]);
            if (m1 != m2)
                break;
        }
        rx_free(r);
        rx_free(ref);
    }
}
