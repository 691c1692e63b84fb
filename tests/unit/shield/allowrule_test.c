/* Allowlist rules -> SecLang exclusions, and exclusion proposals from
 * `mamori eval --json` output. */
#include <stdio.h>
#include <stdlib.h>

#include "shield/shield.h"
#include "../t.h"

static int compile(const char *txt, char *out, size_t cap, char *err, size_t errcap)
{
    return (int)shield_allowrule_compile(txt, strlen(txt), "fp.allow", 9000000, out, cap, err,
                                         errcap);
}

TEST(allowrule_line_forms_to_seclang)
{
    char out[4096], err[256];
    const char txt[] = "# false positives on our site\n"
                       "path /api/upload rule 942100 target ARGS:content\n"
                       "\n"
                       "exact /search rule 941100-941199\n"
                       "addr 10.0.0.0/8,192.168.1.5,2001:db8::/32 rule 920350\n"
                       "header X-Monitor=uptime tag attack-protocol\n"
                       "any rule 920300   # missing Accept\n"
                       "rule 913100\n"
                       "path /wiki/ tag attack-xss target ARGS:text\n";
    int n = compile(txt, out, sizeof out, err, sizeof err);
    CHECK(n > 0);
    if (n <= 0) {
        printf("%s\n", err);
        return;
    }
    CHECK_INT(strlen(out), n);
    CHECK(strstr(out, "SecRule REQUEST_FILENAME \"@rx ^/api/upload(?:/|$)\" \"id:9000000,"
                      "phase:1,pass,t:none,nolog,tag:'mamori/allowlist',"
                      "ctl:ruleRemoveTargetById=942100;ARGS:content\"\n") == out);
    CHECK(strstr(out, "SecRule REQUEST_FILENAME \"@streq /search\" \"id:9000001,phase:1,pass,"
                      "t:none,nolog,tag:'mamori/allowlist',ctl:ruleRemoveById=941100-941199\"\n"));
    CHECK(strstr(out, "SecRule REMOTE_ADDR \"@ipMatch 10.0.0.0/8,192.168.1.5,2001:db8::/32\" "
                      "\"id:9000002,"));
    CHECK(strstr(out, "SecRule REQUEST_HEADERS:X-Monitor \"@streq uptime\" \"id:9000003,"
                      "phase:1,pass,t:none,nolog,tag:'mamori/allowlist',"
                      "ctl:ruleRemoveByTag=attack-protocol\"\n"));
    CHECK(strstr(out, "SecAction \"id:9000004,phase:1,pass,t:none,nolog,"
                      "tag:'mamori/allowlist',ctl:ruleRemoveById=920300\"\n"));
    CHECK(strstr(out, "\"id:9000005,") != NULL);
    CHECK(strstr(out, "@rx ^/wiki(?:/|$)\" \"id:9000006,phase:1,pass,t:none,nolog,"
                      "tag:'mamori/allowlist',ctl:ruleRemoveTargetByTag=attack-xss;ARGS:text\"\n"));
}

TEST(allowrule_regex_metacharacters_escaped)
{
    char out[1024], err[256];
    CHECK(compile("path /a.b/(x)+ rule 1\n", out, sizeof out, err, sizeof err) > 0);
    CHECK(strstr(out, "\"@rx ^/a\\.b/\\(x\\)\\+(?:/|$)\"") != NULL);
    CHECK(compile("path / rule 1\n", out, sizeof out, err, sizeof err) > 0);
    CHECK(strstr(out, "\"@rx ^/\" ") != NULL);
}

/* Nothing from the file can add an action or close the quoted string. */
TEST(allowrule_bad_lines_file_line)
{
    char out[4096], err[256];
    static const struct {
        const char *txt, *err;
    } bad[] = {
        {"path /a\"b rule 1\n", "fp.allow:1: bad path '/a\"b' (must start with '/', no spaces or quotes)"},
        {"\npath api rule 1\n", "fp.allow:2: bad path 'api' (must start with '/', no spaces or quotes)"},
        {"path /x rule 1,deny\n", "fp.allow:1: bad rule id '1,deny'"},
        {"path /x rule 942100 target ARGS:a,deny\n", "fp.allow:1: bad target 'ARGS:a,deny' (expected e.g. ARGS:name or REQUEST_COOKIES)"},
        {"path /x rule 942100 target args:x\n", "fp.allow:1: bad target 'args:x' (expected e.g. ARGS:name or REQUEST_COOKIES)"},
        {"addr 10.0.0.0/33 rule 1\n", "fp.allow:1: bad address list '10.0.0.0/33' (addresses or CIDRs, comma-separated)"},
        {"addr 10.0.0.1,\" rule 1\n", "fp.allow:1: bad address list '10.0.0.1,\"' (addresses or CIDRs, comma-separated)"},
        {"header X-A=b\"c rule 1\n", "fp.allow:1: bad header match (expected NAME=VALUE, no quotes or spaces)"},
        {"header X-A rule 1\n", "fp.allow:1: 'header' needs NAME=VALUE"},
        {"header X:A=b rule 1\n", "fp.allow:1: bad header match (expected NAME=VALUE, no quotes or spaces)"},
        {"tag x'y\n", "fp.allow:1: need 'rule ID' or 'tag TAG' (letters, digits, '-_./')"},
        {"path /x\n", "fp.allow:1: need 'rule ID' or 'tag TAG'"},
        {"path /x rule 0\n", "fp.allow:1: bad rule id '0'"},
        {"path /x rule 20-10\n", "fp.allow:1: rule range 20-10 ends before it starts"},
        {"path /x rule 1-5 target ARGS:a\n", "fp.allow:1: a target exclusion takes one rule id, not a range"},
        {"path /x rule 1 target\n", "fp.allow:1: 'target' needs a variable, e.g. ARGS:content"},
        {"path /x rule 1 target ARGS:a extra\n", "fp.allow:1: unexpected 'extra' at the end of the line"},
        {"path /x rule 1 deny\n", "fp.allow:1: unexpected 'deny' (only 'target VAR' may follow)"},
        {"allow /x rule 1\n", "fp.allow:1: unknown word 'allow' (expected path, exact, addr, header, any, rule or tag)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(compile(bad[i].txt, out, sizeof out, err, sizeof err), -1);
        CHECK_STR(err, bad[i].err);
    }
    /* Output too small. */
    CHECK_INT(compile("rule 1\n", out, 20, err, sizeof err), -1);
    CHECK_STR(err, "fp.allow:1: output buffer too small");
}

TEST(allowrule_propose_from_eval_json)
{
    const char json[] =
        "{\"matched\":[{\"id\":941100,\"msg\":\"XSS\",\"var\":\"ARGS:x\",\"data\":\"...\","
        "\"phase\":2,\"severity\":2},"
        "{\"id\":942100,\"msg\":\"SQLi \\\"quoted\\\"\",\"var\":\"ARGS:q\",\"data\":\"\",\"phase\":2,"
        "\"severity\":2},"
        "{\"id\":920350,\"msg\":\"Host is IP\",\"var\":\"REQUEST_HEADERS:host\",\"data\":\"\","
        "\"phase\":1,\"severity\":4},"
        "{\"id\":942200,\"msg\":\"odd key\",\"var\":\"ARGS:a b\\\"c\",\"data\":\"\",\"phase\":2,"
        "\"severity\":2},"
        "{\"id\":949110,\"msg\":\"Inbound Anomaly Score Exceeded\",\"var\":\"TX:anomaly_score\","
        "\"data\":\"\",\"phase\":2,\"severity\":2},"
        "{\"id\":980130,\"msg\":\"x\",\"var\":\"TX:inbound_anomaly_score\",\"data\":\"\","
        "\"phase\":5,\"severity\":-1}],"
        "\"disruptive\":{\"action\":\"deny\",\"status\":403,\"id\":949110},"
        "\"scores\":{\"inbound\":20,\"outbound\":0}}";
    char out[2048], err[256];
    const char *path = "/search/results?x=1";
    long n = shield_propose_exclusion(json, strlen(json), path, strlen(path), out, sizeof out,
                                      err, sizeof err);
    CHECK(n > 0);
    CHECK_STR(out, "exact /search/results rule 941100 target ARGS:x\n"
                   "exact /search/results rule 942100 target ARGS:q\n"
                   "exact /search/results rule 920350 target REQUEST_HEADERS:host\n"
                   "exact /search/results rule 942200 target ARGS\n");
    /* The proposal compiles. */
    char sl[4096];
    CHECK(shield_allowrule_compile(out, (size_t)n, "proposal", 9100000, sl, sizeof sl, err,
                                   sizeof err) > 0);
    CHECK(strstr(sl, "ctl:ruleRemoveTargetById=942100;ARGS:q\"") != NULL);
    /* Errors. */
    CHECK_INT(shield_propose_exclusion("{", 1, "/", 1, out, sizeof out, err, sizeof err), -1);
    CHECK(strstr(err, "not the JSON of 'mamori eval --json'") == err);
    const char pass[] = "{\"matched\":[],\"disruptive\":null}";
    CHECK_INT(shield_propose_exclusion(pass, strlen(pass), "/", 1, out, sizeof out, err,
                                       sizeof err), -1);
    CHECK_STR(err, "no detection rule matched: nothing to exclude");
    CHECK_INT(shield_propose_exclusion(json, strlen(json), "/a b", 4, out, sizeof out, err,
                                       sizeof err), -1);
    CHECK_INT(shield_propose_exclusion(json, strlen(json), path, strlen(path), out, 30, err,
                                       sizeof err), -1);
    CHECK_STR(err, "output buffer too small");
}
