/* The rule interpreter and compiler, driven through the public API with
 * small rule sets and raw requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../t.h"
#include "waf/tx.h"
#include "waf/waf.h"

static struct waf_program *load(const char *rules, char *err, size_t errlen)
{
    struct waf_builder *b = waf_builder_new();
    if (waf_builder_add_string(b, rules, "test.conf", err, errlen) < 0) {
        waf_builder_free(b);
        return NULL;
    }
    return waf_builder_finish(b, err, errlen);
}

struct run {
    char ids[1024]; /* " 1 2 3" */
    char first_var[128];
    char first_data[256];
    char first_msg[256];
    struct waf_intervention iv;
    bool blocked;
    long txval;
};

static void on_match(void *ud, const struct waf_match *m)
{
    struct run *r = ud;
    size_t l = strlen(r->ids);
    snprintf(r->ids + l, sizeof r->ids - l, " %d", m->id);
    if (!r->first_var[0]) {
        snprintf(r->first_var, sizeof r->first_var, "%s", m->var);
        snprintf(r->first_data, sizeof r->first_data, "%s", m->data);
        snprintf(r->first_msg, sizeof r->first_msg, "%s", m->msg);
    }
}

static int run_req(const char *rules, const char *raw, const char *txvar, struct run *out)
{
    char err[512];
    memset(out, 0, sizeof *out);
    struct waf_program *p = load(rules, err, sizeof err);
    if (!p) {
        fprintf(stdout, "load failed: %s\n", err);
        return -1;
    }
    struct waf_tx_opts o = {.client_ip = "10.0.0.1", .on_match = on_match, .ud = out};
    struct waf_tx *tx = waf_tx_new(p, &o);
    int rc = waf_tx_process_raw_request(tx, raw, strlen(raw), err, sizeof err);
    waf_tx_logging(tx);
    out->blocked = waf_tx_intervention(tx, &out->iv);
    if (txvar)
        out->txval = waf_tx_get_tx_num(tx, txvar);
    waf_tx_free(tx);
    waf_program_free(p);
    return rc;
}

#define GETQ(q) "GET /p?" q " HTTP/1.1\r\nHost: h\r\nUser-Agent: UA\r\n\r\n"

TEST(engine_load_errors_name_file_and_line)
{
    static const struct {
        const char *rules;
        const char *want; /* substring of the error */
    } cases[] = {
        {"SecRuleEngine On\nSecBogus x\n", "test.conf:2: unsupported directive SecBogus"},
        {"SecRule ARGS \"@nope x\" \"id:1\"\n", "test.conf:1: unsupported operator @nope"},
        {"SecRule NOPE \"@rx x\" \"id:1\"\n", "test.conf:1: unknown variable 'NOPE'"},
        {"SecRule ARGS \"@rx x\" \"id:1,frob\"\n", "test.conf:1: unsupported action 'frob'"},
        {"SecRule ARGS \"@rx x\" \"phase:2\"\n", "test.conf:1: rule has no id"},
        {"SecRule ARGS x \"id:1\"\nSecRule ARGS y \"id:1\"\n", "test.conf:2: duplicate rule id 1"},
        {"SecRule ARGS x \"id:1,chain\"\n", "rule ends with 'chain'"},
        {"SecRule ARGS \"@rx (\" \"id:1\"\n", "test.conf:1: bad regex"},
        {"SecRule ARGS \"@rx x \"id:1\"\n", "test.conf:1:"},
        {"\n\nSecRule ARGS x \\\n  \"id:1,t:nosuch\"\n", "test.conf:3: unknown transformation t:nosuch"},
        {"SecRule ARGS x \"id:1,ctl:nosuch=1\"\n", "unsupported ctl:nosuch"},
        {"SecRule ARGS x \"id:1,setvar:foo.bar=1\"\n", "collection must be"},
        {"SecRule ARGS x \"id:1,msg:'%{NOSUCHVAR}'\"\n", "unknown variable in macro"},
        {"SecRuleEngine Maybe\n", "test.conf:1: SecRuleEngine takes On, Off or DetectionOnly"},
        {"Include /nonexistent/file.conf\n", "no such file"},
        {"SecRule REQUEST_METHOD:foo x \"id:1\"\n", "takes no selector"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        struct waf_program *p = load(cases[i].rules, err, sizeof err);
        if (p) {
            t_fail(t, __FILE__, __LINE__, "case %zu loaded but should fail", i);
            waf_program_free(p);
            continue;
        }
        if (!strstr(err, cases[i].want))
            t_fail(t, __FILE__, __LINE__, "case %zu: error \"%s\" lacks \"%s\"", i, err,
                   cases[i].want);
    }
}

TEST(engine_match_reports_var_msg_and_data)
{
    struct run r;
    CHECK_INT(run_req("SecRule ARGS \"@rx ^a(b+)c$\" \"id:10,phase:2,pass,log,capture,"
                      "msg:'found %{TX.1}',logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'\"\n",
                      GETQ("x=1&Foo=abbbc"), NULL, &r),
              0);
    CHECK_STR(r.ids, " 10");
    CHECK_STR(r.first_var, "ARGS:Foo");
    CHECK_STR(r.first_msg, "found bbb");
    CHECK_STR(r.first_data, "ARGS:Foo=abbbc");
    CHECK(!r.blocked);
}

TEST(engine_transformations_and_nolog)
{
    struct run r;
    /* the query decoder turns %2545 into %45; t:urlDecode then makes E */
    run_req("SecRule ARGS \"@streq select\" \"id:11,phase:2,pass,t:none,t:urlDecode,t:lowercase,log\"\n"
            "SecRule ARGS \"@streq select\" \"id:12,phase:2,pass,t:none,t:urlDecode,t:lowercase,nolog\"\n",
            GETQ("q=SeL%2545ct"), NULL, &r);
    CHECK_STR(r.ids, " 11");
    run_req("SecRule ARGS \"@streq select\" \"id:11,phase:2,pass,t:none,t:lowercase,log\"\n",
            GETQ("q=SeL%2545ct"), NULL, &r);
    CHECK_STR(r.ids, "");
    run_req("SecRule ARGS \"@streq select\" \"id:11,phase:2,pass,t:none,t:lowercase,log\"\n",
            GETQ("q=SeLect"), NULL, &r);
    CHECK_STR(r.ids, " 11");
}

TEST(engine_setvar_arithmetic_and_macros)
{
    struct run r;
    run_req("SecAction \"id:1,phase:1,pass,nolog,setvar:tx.score=2,setvar:tx.inc=3\"\n"
            "SecRule ARGS \"@rx .\" \"id:2,phase:2,pass,nolog,setvar:'tx.score=+%{tx.inc}'\"\n"
            "SecRule ARGS \"@rx z\" \"id:3,phase:2,pass,nolog,setvar:tx.score=-1\"\n",
            GETQ("a=1&b=2&c=z"), "score", &r);
    /* +3 once per matching value (3 values), -1 once: 2+9-1 */
    CHECK_INT(r.txval, 10);
    run_req("SecAction \"id:1,phase:1,pass,nolog,setvar:tx.a=5,setvar:!tx.a\"\n", GETQ("x=1"), "a",
            &r);
    CHECK_INT(r.txval, 0);
}

TEST(engine_chain_runs_child_setvar_only_on_full_match)
{
    const char *rules =
        "SecRule REQUEST_METHOD \"@streq GET\" \"id:20,phase:2,pass,log,msg:'m',chain\"\n"
        "  SecRule ARGS:x \"@streq 1\" \"setvar:tx.hit=+1\"\n";
    struct run r;
    run_req(rules, GETQ("x=1"), "hit", &r);
    CHECK_STR(r.ids, " 20");
    CHECK_INT(r.txval, 1);
    CHECK_STR(r.first_var, "ARGS:x");
    run_req(rules, GETQ("x=2"), "hit", &r);
    CHECK_STR(r.ids, "");
    CHECK_INT(r.txval, 0);
}

TEST(engine_skipafter_and_markers)
{
    const char *rules =
        "SecRule ARGS:skip \"@streq 1\" \"id:30,phase:1,pass,nolog,skipAfter:END\"\n"
        "SecRule ARGS \"@rx .\" \"id:31,phase:1,pass,log\"\n"
        "SecMarker END\n"
        "SecRule ARGS \"@rx .\" \"id:32,phase:1,pass,log\"\n"
        "SecRule ARGS \"@rx .\" \"id:33,phase:1,pass,nolog,skip:1\"\n"
        "SecRule ARGS \"@rx .\" \"id:34,phase:1,pass,log\"\n"
        "SecRule ARGS \"@rx .\" \"id:35,phase:1,pass,log\"\n";
    struct run r;
    run_req(rules, GETQ("skip=1"), NULL, &r);
    CHECK_STR(r.ids, " 32 35");
    run_req(rules, GETQ("skip=0"), NULL, &r);
    CHECK_STR(r.ids, " 31 32 35");
}

TEST(engine_exclusions_static_and_runtime)
{
    struct run r;
    run_req("SecRule ARGS|!ARGS:safe \"@rx evil\" \"id:40,phase:2,pass,log\"\n",
            GETQ("safe=evil"), NULL, &r);
    CHECK_STR(r.ids, "");
    run_req("SecRule ARGS|!ARGS:/^sa/ \"@rx evil\" \"id:40,phase:2,pass,log\"\n",
            GETQ("safe=evil&other=evil"), NULL, &r);
    CHECK_STR(r.ids, " 40");
    CHECK_STR(r.first_var, "ARGS:other");
    run_req("SecAction \"id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=40;ARGS:q\"\n"
            "SecRule ARGS \"@rx evil\" \"id:40,phase:2,pass,log\"\n",
            GETQ("q=evil"), NULL, &r);
    CHECK_STR(r.ids, "");
    run_req("SecAction \"id:1,phase:1,pass,nolog,ctl:ruleRemoveById=40-41\"\n"
            "SecRule ARGS \"@rx evil\" \"id:40,phase:2,pass,log\"\n"
            "SecRule ARGS \"@rx evil\" \"id:42,phase:2,pass,log,tag:'t1'\"\n",
            GETQ("q=evil"), NULL, &r);
    CHECK_STR(r.ids, " 42");
    run_req("SecRule ARGS \"@rx evil\" \"id:40,phase:2,pass,log\"\n"
            "SecRule ARGS \"@rx evil\" \"id:41,phase:2,pass,log,tag:'x'\"\n"
            "SecRuleRemoveById 40\nSecRuleUpdateTargetByTag x \"!ARGS:q\"\n",
            GETQ("q=evil"), NULL, &r);
    CHECK_STR(r.ids, "");
}

TEST(engine_counts_and_collections)
{
    struct run r;
    run_req("SecRule &ARGS \"@eq 3\" \"id:50,phase:2,pass,log\"\n"
            "SecRule &ARGS:nope \"@eq 0\" \"id:51,phase:2,pass,log\"\n"
            "SecRule &REQUEST_HEADERS:Host \"@eq 1\" \"id:52,phase:1,pass,log\"\n"
            "SecRule REQUEST_HEADERS:user-agent \"@streq UA\" \"id:53,phase:1,pass,log\"\n"
            "SecRule ARGS_NAMES \"@streq b\" \"id:54,phase:2,pass,log\"\n"
            "SecRule REQUEST_FILENAME \"@streq /p\" \"id:55,phase:1,pass,log\"\n"
            "SecRule QUERY_STRING \"@streq a=1&b=2&c\" \"id:56,phase:1,pass,log\"\n",
            GETQ("a=1&b=2&c"), NULL, &r);
    CHECK_STR(r.ids, " 52 53 55 56 50 51 54");
}

TEST(engine_blocking_modes)
{
    const char *base = "SecDefaultAction \"phase:2,log,deny,status:418\"\n"
                       "SecRule ARGS \"@rx evil\" \"id:60,phase:2,block\"\n"
                       "SecRule ARGS \"@rx evil\" \"id:61,phase:2,block\"\n";
    char rules[1024];
    struct run r;
    snprintf(rules, sizeof rules, "SecRuleEngine On\n%s", base);
    run_req(rules, GETQ("q=evil"), NULL, &r);
    CHECK(r.blocked);
    CHECK_INT(r.iv.status, 418);
    CHECK_INT(r.iv.rule_id, 60);
    CHECK_STR(r.ids, " 60"); /* the block stops the phase */
    snprintf(rules, sizeof rules, "SecRuleEngine DetectionOnly\n%s", base);
    run_req(rules, GETQ("q=evil"), NULL, &r);
    CHECK(!r.blocked);
    CHECK_STR(r.ids, " 60 61");
    run_req("SecRuleEngine On\nSecRule ARGS \"@rx evil\" \"id:62,phase:1,deny\"\n"
            "SecRule ARGS \"@rx evil\" \"id:63,phase:2,deny\"\n",
            GETQ("q=evil"), NULL, &r);
    CHECK(r.blocked);
    CHECK_INT(r.iv.status, 403);
    CHECK_INT(r.iv.rule_id, 62);
}

TEST(engine_multimatch_sees_intermediate_values)
{
    struct run r;
    run_req("SecRule ARGS \"@streq %41\" \"id:70,phase:2,pass,log,t:none,t:urlDecode\"\n",
            GETQ("q=%2541"), NULL, &r);
    CHECK_STR(r.ids, "");
    run_req("SecRule ARGS \"@streq %41\" \"id:70,phase:2,pass,log,multiMatch,t:none,t:urlDecode,t:urlDecode\"\n",
            GETQ("q=%2541"), NULL, &r);
    CHECK_STR(r.ids, " 70");
}

TEST(engine_urlencoded_body_and_cookies)
{
    struct run r;
    const char *raw = "POST /f HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=x=y ;c\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\n"
                      "u=evil+one&v=";
    run_req("SecRule ARGS_POST:u \"@streq evil one\" \"id:80,phase:2,pass,log\"\n"
            "SecRule REQUEST_COOKIES:b \"@streq x=y \" \"id:81,phase:1,pass,log\"\n"
            "SecRule &REQUEST_COOKIES \"@eq 3\" \"id:82,phase:1,pass,log\"\n"
            "SecRule REQBODY_PROCESSOR \"@streq URLENCODED\" \"id:83,phase:2,pass,log\"\n"
            "SecRule REQUEST_BODY \"@streq u=evil+one&v=\" \"id:84,phase:2,pass,log\"\n",
            raw, NULL, &r);
    CHECK_STR(r.ids, " 81 82 80 83 84");
}

TEST(engine_ip_and_pm_operators)
{
    struct run r;
    run_req("SecRule REMOTE_ADDR \"@ipMatch 10.0.0.0/8,192.168.1.1\" \"id:90,phase:1,pass,log\"\n"
            "SecRule ARGS \"@pm foo BAR\" \"id:91,phase:2,pass,log,capture,msg:'%{TX.0}'\"\n"
            "SecRule ARGS \"!@within abc\" \"id:92,phase:2,pass,log\"\n",
            GETQ("q=xxbarxx"), NULL, &r);
    CHECK_STR(r.ids, " 90 91 92");
}

TEST(engine_allow_skips_to_logging)
{
    struct run r;
    run_req("SecRuleEngine On\n"
            "SecRule REQUEST_HEADERS:User-Agent \"@streq UA\" \"id:100,phase:1,allow,nolog\"\n"
            "SecRule ARGS \"@rx evil\" \"id:101,phase:2,deny,log\"\n"
            "SecAction \"id:102,phase:5,pass,log\"\n",
            GETQ("q=evil"), NULL, &r);
    CHECK(!r.blocked);
    CHECK_STR(r.ids, " 102");
    run_req("SecRuleEngine On\n"
            "SecRule ARGS \"@rx ok\" \"id:103,phase:1,allow:phase,nolog\"\n"
            "SecRule ARGS \"@rx .\" \"id:104,phase:1,pass,log\"\n"
            "SecRule ARGS \"@rx evil\" \"id:105,phase:2,deny,log\"\n",
            GETQ("q=ok-evil"), NULL, &r);
    CHECK(r.blocked);
    CHECK_STR(r.ids, " 105");
}

/* The shortcuts of the rule loop must not change what matches: the shared
 * literal scanner (tiers, "or at the start"), the per-target and per-list
 * summaries, key regexes with a literal test, long setvar templates. */
TEST(engine_shortcuts_keep_semantics)
{
    struct run r;
    /* evasion-tolerant pattern: plain value hits through the tier literal,
     * the quoted evasion through the full regex */
    const char *rx = "SecRuleEngine On\n"
                     "SecRule ARGS \"@rx (?i)c[\\x5c'\\\"]*a[\\x5c'\\\"]*t\\b\" \"id:1,phase:1,deny,t:none\"\n";
    CHECK(run_req(rx, GETQ("a=cat%20x"), NULL, &r) == 0 && r.blocked);
    CHECK(run_req(rx, GETQ("a=c%27a%27t"), NULL, &r) == 0 && r.blocked);
    CHECK(run_req(rx, GETQ("a=dog"), NULL, &r) == 0 && !r.blocked);
    CHECK(run_req(rx, GETQ("a=dog%27s"), NULL, &r) == 0 && !r.blocked);
    /* "or at the start": a separator anywhere, or the command at position 0 */
    const char *bos = "SecRuleEngine On\n"
                      "SecRule ARGS \"@rx (?:^|[;|])\\s*id\\b\" \"id:2,phase:1,deny,t:none\"\n";
    CHECK(run_req(bos, GETQ("a=id"), NULL, &r) == 0 && r.blocked);
    CHECK(run_req(bos, GETQ("a=x;id"), NULL, &r) == 0 && r.blocked);
    CHECK(run_req(bos, GETQ("a=x%20id"), NULL, &r) == 0 && !r.blocked);
    /* a target list skipped as a whole still honours exclusions and
     * still matches the one value that has the literal */
    const char *list = "SecRuleEngine On\n"
                       "SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES|!ARGS:skip \"@rx evil\" \"id:3,phase:1,deny,t:none,t:lowercase\"\n";
    CHECK(run_req(list, GETQ("a=1&b=2"), NULL, &r) == 0 && !r.blocked);
    CHECK(run_req(list, GETQ("a=1&b=EVIL"), NULL, &r) == 0 && r.blocked);
    CHECK(run_req(list, GETQ("skip=evil"), NULL, &r) == 0 && !r.blocked);
    CHECK(run_req(list, GETQ("evil=1"), NULL, &r) == 0 && r.blocked);
    /* key regex with a required literal: only names carrying it are read */
    const char *key = "SecRule ARGS \"@rx .\" \"id:4,phase:1,pass,nolog,setvar:tx.pfx_%{MATCHED_VAR_NAME}=1\"\n"
                      "SecRule TX:/^pfx_args:/ \"@eq 1\" \"id:5,phase:1,pass,log,setvar:tx.n=+1\"\n";
    CHECK(run_req(key, GETQ("a=1&b=2&c=3"), "n", &r) == 0 && r.txval == 3);
    /* a key regex that is just ^word is a prefix test (case-insensitive) */
    const char *key2 = "SecAction \"id:9,phase:1,pass,nolog,setvar:tx.ab_1=1,setvar:tx.AB_2=1,"
                       "setvar:tx.xab_3=1,setvar:tx.ab=1\"\n"
                       "SecRule TX:/^ab_/ \"@eq 1\" \"id:10,phase:1,pass,log,setvar:tx.n=+1\"\n";
    CHECK(run_req(key2, GETQ("a=1"), "n", &r) == 0 && r.txval == 2);
    /* a template with more pieces than the gather array folds them */
    char big[4096] = "SecRule ARGS:a \"@rx .\" \"id:6,phase:1,pass,nolog,setvar:'tx.long=";
    for (int i = 0; i < 40; i++)
        strcat(big, "%{tx.one}-");
    strcat(big, "'\"\nSecRule TX:long \"@rx ^(?:1-){40}$\" \"id:7,phase:1,pass,log,setvar:tx.ok=1\"\n");
    char rules[8192];
    snprintf(rules, sizeof rules, "SecAction \"id:8,phase:1,pass,nolog,setvar:tx.one=1\"\n%s", big);
    CHECK(run_req(rules, GETQ("a=1"), "ok", &r) == 0 && r.txval == 1);
}

/* waf_eq_fold (names and content dedup) against a byte-at-a-time fold: the
 * bytes next to the letters ('@' '[' '`' '{') and high bytes must not fold */
TEST(engine_eq_fold_matches_naive_fold)
{
    static const char pool[] = "aAzZmM@[`{09 \x80\xc1\xe1\xff";
    srand(5);
    for (int k = 0; k < 20000; k++) {
        char a[40], b[40];
        size_t n = (size_t)(rand() % 40);
        for (size_t i = 0; i < n; i++) {
            a[i] = pool[rand() % (int)(sizeof pool - 1)];
            int c = (unsigned char)a[i];
            /* mostly the same byte or its other case, sometimes anything */
            b[i] = rand() % 4 ? (char)(c >= 'a' && c <= 'z' && rand() % 2 ? c - 32
                                      : c >= 'A' && c <= 'Z' && rand() % 2 ? c + 32 : c)
                             : pool[rand() % (int)(sizeof pool - 1)];
        }
        bool want = true;
        for (size_t i = 0; i < n && want; i++) {
            unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
            if (x >= 'A' && x <= 'Z')
                x += 32;
            if (y >= 'A' && y <= 'Z')
                y += 32;
            want = x == y;
        }
        if (waf_eq_fold(a, b, n) != want) {
            CHECK(waf_eq_fold(a, b, n) == want);
            break;
        }
    }
}
