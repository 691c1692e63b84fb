/* The @rx prefilter must never reject a value its regex matches. Checked
 * differentially: every @rx pattern of CRS v4 and Debian's CRS 3.3.4 against
 * every line of CRS's regression tests (raw and URL-decoded), plus targeted
 * cases. Skips the corpus part with a message when the files are absent. */
#include <ctype.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../t.h"
#include "waf/matchers.h"
#include "waf/rx_prefilter.h"

static bool pre_pass(const struct pm *p, const char *s, size_t n)
{
    size_t o, l;
    return pm_match(p, s, n, &o, &l);
}

TEST(rx_prefilter_basic_shapes)
{
    static const struct {
        const char *re;
        const char *yes; /* must pass the prefilter (the regex matches it) */
        const char *no;  /* must be rejected (the regex cannot match it), or NULL */
        bool built;
    } cases[] = {
        {"(?i)union\\s+select", "x UNION   SELECT y", "union all", true},
        {"(?:foo|bar)baz", "xxbarbazxx", "fooba", true},
        {"ab?c", "ac", "ab", true},
        {"a.*b", "a--b", NULL, false},            /* only single common bytes: none */
        {"(?i)<script[^>]*>", "<SCRIPT src=x>", "script", true},
        {"\\x3cimg", "<img", "img", true},
        {"^\\s*$", "  ", NULL, false},
        {"(?:a|b|c)+", "ccc", NULL, false},
        {"java\\.lang\\.(?:runtime|processbuilder)", "java.lang.Runtime", "java.lang", true},
        {"(?i)(?:s(?:elect|leep))\\(", "SLEEP(", "select", true},
        {"x{2,}y", "xxy", "yx", true},            /* "xy" across the junction */
        {"(ab)\\1", "abab", NULL, false},         /* back-reference: not modelled */
        {"[;|`]\\s*id", "; id", "xd", true},
        {"(?=abc)abc", "abc", "ab", true},
        {"(?#comment)evil", "evil", "evi", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pm *p = rx_prefilter_build(cases[i].re, strlen(cases[i].re));
        if ((p != NULL) != cases[i].built) {
            t_fail(t, __FILE__, __LINE__, "case %zu (%s): built=%d", i, cases[i].re, p != NULL);
            pm_free(p);
            continue;
        }
        if (!p)
            continue;
        if (!pre_pass(p, cases[i].yes, strlen(cases[i].yes)))
            t_fail(t, __FILE__, __LINE__, "case %zu (%s) rejected \"%s\"", i, cases[i].re,
                   cases[i].yes);
        if (cases[i].no && pre_pass(p, cases[i].no, strlen(cases[i].no)))
            t_fail(t, __FILE__, __LINE__, "case %zu (%s) passed \"%s\"", i, cases[i].re,
                   cases[i].no);
        pm_free(p);
    }
}

static void free_tiers(struct rx_lits *l[RX_TIERS + 1])
{
    for (int k = 0; k <= RX_TIERS; k++)
        free(l[k]);
}

TEST(rx_prefilter_absent_bytes)
{
    struct rx_lits *l[RX_TIERS + 1];
    /* evasion-tolerant: no literal in general, "cat" without quotes/backslashes */
    const char *re = "(?i)c[\\\\'\"]*a[\\\\'\"]*t\\b";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[0] == NULL);
    CHECK(l[1] != NULL && l[1]->n == 1 && l[1]->v[0].n == 3 && memcmp(l[1]->v[0].s, "cat", 3) == 0);
    CHECK(l[2] == NULL && l[3] == NULL); /* no better than tier 1 */
    free_tiers(l);
    /* an alternative made only of assumed-absent bytes drops out; when all
     * do, nothing can match (an empty set) */
    re = "(?:[;|&]|\\$\\()\\s*(?:id|whoami)";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[0] != NULL && l[0]->n == 2);
    CHECK(l[1] != NULL && l[1]->n == 0);
    free_tiers(l);
    re = "(?:[\\n\\r;`]|\\|\\|?)[\\s\\x0b]*x";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[0] == NULL && l[1] == NULL && l[2] == NULL && l[3] != NULL && l[3]->n == 0);
    free_tiers(l);
    /* a pattern that only needs ordinary bytes has no tier either */
    re = "[a-z]+[0-9]";
    CHECK(rx_prefilter_lits_tiers(re, strlen(re), l) == 0);
    free_tiers(l);
    /* literals across a junction: "d" then (?:eclare|iv) needs "declare" or "div" */
    re = "(?i)d(?:eclare[^a-z]+@|iv\\s*\\()";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[0] != NULL && l[0]->n == 2 && l[0]->v[0].n >= 3 && l[0]->v[1].n >= 3);
    free_tiers(l);
    /* "or at the start": without ; or |, only a match at position 0 remains */
    re = "(?:^|[;|])\\s*[a-z]+=";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[1] != NULL && l[1]->bos && l[1]->n == 0);
    CHECK(l[2] != NULL && !l[2]->bos && l[2]->n == 0); /* and without '=', nothing */
    free_tiers(l);
    re = "(?m)(?:^|;)ls";
    rx_prefilter_lits_tiers(re, strlen(re), l);
    CHECK(l[0] != NULL && !l[0]->bos); /* multiline ^ is not the start */
    free_tiers(l);
    uint8_t tt[256];
    rx_tier_table(tt);
    CHECK(tt['\''] == 1 && tt['('] == 2 && tt['\n'] == 3 && tt['a'] == 0xff && tt[' '] == 0xff &&
          tt[0] == 1);
    /* the engine shares one scan record, tier included, between contents
     * that differ only in letter case */
    for (int c = 'a'; c <= 'z'; c++)
        CHECK(tt[c] == tt[c - 32]);
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t url_decode(char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            s[k++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            s[k++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return k;
}

/* Extracts the @rx argument of each SecRule line in the rule files. */
static size_t load_patterns(char ***out)
{
    const char *globs[] = {"../shared/crs/rules/*.conf", "/usr/share/modsecurity-crs/rules/*.conf"};
    char **v = NULL;
    size_t n = 0;
    for (size_t g = 0; g < 2; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) != 0)
            continue;
        for (size_t f = 0; f < gl.gl_pathc; f++) {
            FILE *fp = fopen(gl.gl_pathv[f], "r");
            char line[65536];
            while (fp && fgets(line, sizeof line, fp)) {
                char *at = strstr(line, "\"@rx ");
                if (!at)
                    at = strstr(line, "\"!@rx ");
                if (!at)
                    continue;
                char *st = strstr(at, "@rx ") + 4;
                char *e = st;
                while (*e && !(*e == '"' && e[-1] != '\\'))
                    e++;
                if (!*e || strstr(st, "%{"))
                    continue;
                char **nv = realloc(v, (n + 1) * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
                /* unescape \" as the SecLang reader does */
                char *pat = malloc((size_t)(e - st) + 1);
                size_t k = 0;
                for (char *q = st; q < e; q++) {
                    if (*q == '\\' && q + 1 < e && q[1] == '"')
                        q++;
                    pat[k++] = *q;
                }
                pat[k] = '\0';
                v[n++] = pat;
            }
            if (fp)
                fclose(fp);
        }
        globfree(&gl);
    }
    *out = v;
    return n;
}

static bool lits_equal(const struct rx_lits *a, const struct rx_lits *b)
{
    if (!a || !b)
        return a == b;
    if (a->bos != b->bos || a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].n != b->v[i].n || memcmp(a->v[i].s, b->v[i].s, a->v[i].n) != 0)
            return false;
    return true;
}

/* rx_prefilter_lits_tiers skips tiers and reuses group results between
 * them: it must give what separate analyses under each tier's assumption
 * give, kept when better than every lower tier's */
static void check_tiers(struct t_ctx *t, const char *re)
{
    uint8_t tt[256];
    rx_tier_table(tt);
    struct rx_lits *l[RX_TIERS + 1];
    size_t got = rx_prefilter_lits_tiers(re, strlen(re), l), want_got = 0;
    long best = -1;
    for (int k = 0; k <= RX_TIERS; k++) {
        bool absent[256];
        for (int c = 0; c < 256; c++)
            absent[c] = tt[c] <= k;
        struct rx_lits *one = rx_prefilter_lits_absent(re, strlen(re), k ? absent : NULL);
        if (one && rx_lits_score(one) <= best) {
            free(one);
            one = NULL;
        }
        if (one) {
            best = rx_lits_score(one);
            want_got++;
        }
        if (!lits_equal(l[k], one))
            t_fail(t, __FILE__, __LINE__, "tier %d of /%.80s/ differs from a separate analysis", k, re);
        free(one);
    }
    CHECK_INT(got, want_got);
    free_tiers(l);
}

TEST(rx_prefilter_tiers_equal_separate_analyses)
{
    static const char *const res[] = {
        /* groups with and without assumed-absent bytes, nested */
        "(?:abc|d'e)(?:x;y|zz)(?:qq(?:r\\s|tt))",
        "((?:ab[;|]cd)ef(gh))\\(ij\\)(?:k\\tl|mn)",
        "(?i)(?:c[\\\\'\"]*a[\\\\'\"]*t|w[\\\\'\"]*get)\\b(?:\\s*;|=x)",
        /* flags set inside a group outlive it */
        "(?:(?x) a b # c\n )d e(?-x: f g)h",
        "(?:(?m)x)(?:^|;)ls",
        /* lookarounds, alternatives that match nothing without the bytes */
        "(?=a;)(?!b)c(?:[;|&]|\\$\\()\\s*(?:id|whoami)",
        "(?:[\\n\\r;`]|\\|\\|?)[\\s\\x0b]*x(?:<y>|z)",
    };
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++)
        check_tiers(t, res[i]);
    char **pats;
    size_t np = load_patterns(&pats);
    for (size_t i = 0; i < np; i++) {
        check_tiers(t, pats[i]);
        free(pats[i]);
    }
    free(pats);
}

TEST(rx_prefilter_never_rejects_a_crs_match)
{
    char **pats;
    size_t np = load_patterns(&pats);
    glob_t gl;
    if (np == 0 || glob("../shared/crs/tests/regression/tests/*/*.y*ml", 0, NULL, &gl) != 0) {
        printf("SKIP rx_prefilter_never_rejects_a_crs_match: CRS files not found\n");
        return;
    }
    /* subjects: every line of every test file, raw and URL-decoded */
    char **subj = NULL;
    size_t *slen = NULL, ns = 0;
    for (size_t f = 0; f < gl.gl_pathc; f++) {
        FILE *fp = fopen(gl.gl_pathv[f], "r");
        char line[65536];
        while (fp && fgets(line, sizeof line, fp)) {
            size_t l = strlen(line);
            /* a sample keeps this test quick under ASan: the payload lines
             * (data, uri, headers) plus every 5th other line */
            static unsigned every;
            bool payload = strstr(line, "data:") || strstr(line, "uri:") || strstr(line, "encoded_request");
            if (!payload && (every++ % 5) != 0)
                continue;
            for (int pass = 0; pass < 2; pass++) {
                char **ns_ = realloc(subj, (ns + 1) * sizeof *subj);
                size_t *nl = realloc(slen, (ns + 1) * sizeof *slen);
                if (!ns_ || !nl)
                    break;
                subj = ns_;
                slen = nl;
                subj[ns] = malloc(l + 1);
                memcpy(subj[ns], line, l + 1);
                slen[ns] = pass ? url_decode(subj[ns], l) : l;
                ns++;
            }
        }
        if (fp)
            fclose(fp);
    }
    globfree(&gl);
    size_t built = 0, checked = 0, matched = 0, tiered = 0, tmatched = 0;
    uint8_t tiers[256];
    rx_tier_table(tiers);
    char *stripped = malloc(65536);
    for (size_t i = 0; i < np && stripped; i++) {
        char err[256];
        struct rx *re = rx_compile(pats[i], strlen(pats[i]), 0, err, sizeof err);
        struct pm *pre = re ? rx_prefilter_build(pats[i], strlen(pats[i])) : NULL;
        if (pre) {
            built++;
            for (size_t k = 0; k < ns; k++) {
                int nc;
                if (rx_match(re, subj[k], slen[k], NULL, 0, &nc) == 1) {
                    matched++;
                    if (!pre_pass(pre, subj[k], slen[k])) {
                        t_fail(t, __FILE__, __LINE__, "prefilter rejects a match of /%.80s/ on \"%.80s\"",
                               pats[i], subj[k]);
                        break;
                    }
                }
                checked++;
            }
        }
        /* under an absent-byte assumption: every subject with the assumed
         * bytes deleted (payloads lose their evasion characters) that the
         * regex matches must contain one of that tier's literals */
        struct rx_lits *tl[RX_TIERS + 1] = {NULL};
        if (re)
            rx_prefilter_lits_tiers(pats[i], strlen(pats[i]), tl);
        for (int tier = 1; tier <= RX_TIERS; tier++) {
            if (!tl[tier])
                continue;
            tiered++;
            const char *lp[RX_LITS_MAX];
            size_t ll[RX_LITS_MAX];
            for (size_t k = 0; k < tl[tier]->n; k++) {
                lp[k] = (const char *)tl[tier]->v[k].s;
                ll[k] = tl[tier]->v[k].n;
            }
            struct pm *tp = tl[tier]->n ? pm_build(lp, ll, tl[tier]->n) : NULL;
            char aerr[256];
            struct rx *anch = tl[tier]->bos ? rx_compile_anchored(pats[i], strlen(pats[i]), 0,
                                                                  aerr, sizeof aerr)
                                            : NULL;
            for (size_t k = 0; k < ns; k++) {
                size_t m = 0;
                for (size_t j = 0; j < slen[k] && m < 65536; j++)
                    if (tiers[(unsigned char)subj[k][j]] > tier)
                        stripped[m++] = subj[k][j];
                int nc;
                if (rx_match(re, stripped, m, NULL, 0, &nc) == 1) {
                    tmatched++;
                    if ((!tp || !pre_pass(tp, stripped, m)) &&
                        !(anch && rx_match(anch, stripped, m, NULL, 0, &nc) == 1)) {
                        t_fail(t, __FILE__, __LINE__,
                               "tier-%d literals reject a match of /%.80s/ on \"%.80s\"", tier,
                               pats[i], stripped);
                        break;
                    }
                }
            }
            pm_free(tp);
            rx_free(anch);
        }
        for (int tier = 0; tier <= RX_TIERS; tier++)
            free(tl[tier]);
        pm_free(pre);
        rx_free(re);
        free(pats[i]);
    }
    free(stripped);
    free(pats);
    for (size_t k = 0; k < ns; k++)
        free(subj[k]);
    free(subj);
    free(slen);
    printf("  rx prefilter: %zu of %zu CRS patterns get one; %zu regex matches all passed it (%zu checks)\n",
           built, np, matched, checked);
    printf("  rx prefilter under absent bytes: %zu tier requirements; %zu matches of stripped subjects all passed\n",
           tiered, tmatched);
    CHECK(built > np / 3); /* the prefilter must cover a good share of CRS */
}
