/* Tests for src/waf/detect/sqli.c (@detectSQLi).
 *
 * Tables: attacks that must be flagged, ordinary text that must not, each
 * with an explicit KNOWN_FAIL marker for cases we know we get wrong (the
 * test then insists they are still wrong, so a fix updates the table).
 * Corpus tests read /work/shared at test time and skip with a message when
 * it is absent: CRS's regression tests for rule 942100 and the benchmark
 * corpus (every sqli attack must be seen, no benign value flagged). */
#include "../../t.h"
#include "waf/detect/detect.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>
#include <yaml.h>

#define CRS_942100 "/work/shared/crs/tests/regression/tests/REQUEST-942-APPLICATION-ATTACK-SQLI/942100.yaml"
#define BENCH_CORPUS "/work/shared/bench/corpus.jsonl.zst"

enum { OK = 0, KNOWN_FAIL = 1 };

struct sqli_case {
    const char *in;
    bool want;       /* true: an injection */
    const char *fp;  /* expected fingerprint, or NULL to not check it */
    int mark;        /* OK or KNOWN_FAIL */
};

static void run_table(struct t_ctx *t, const struct sqli_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct detect_result r;
        bool got = detect_sqli(c[i].in, strlen(c[i].in), &r);
        if (c[i].mark == KNOWN_FAIL) {
            if (got == c[i].want)
                t_fail(t, __FILE__, __LINE__, "known failure now passes, update table: \"%s\"",
                       c[i].in);
            continue;
        }
        if (got != c[i].want) {
            t_fail(t, __FILE__, __LINE__, "\"%s\": got %d (fp \"%s\", %s), want %d", c[i].in, got,
                   r.fingerprint, r.reason ? r.reason : "-", c[i].want);
            continue;
        }
        if (got && !r.reason)
            t_fail(t, __FILE__, __LINE__, "\"%s\": detected without a reason", c[i].in);
        if (!got && (r.reason || r.fingerprint[0]))
            t_fail(t, __FILE__, __LINE__, "\"%s\": clean but result not cleared", c[i].in);
        if (c[i].fp && got)
            CHECK_STR(r.fingerprint, c[i].fp);
    }
}

/* Injection shapes, one or more per rule of the detector. */
static const struct sqli_case attacks[] = {
    /* tautologies after breaking out of a quoted or numeric value */
    {"1234 OR 1=1", true, "1&1o1", OK},
    {"-1839' or '1'='1", true, "s&sos", OK},
    {"-1839\" or \"1\"=\"2", true, "s&sos", OK},
    {"EmptyValue' and 526=527", true, "s&1o1", OK},
    {"' or ''='", true, "s&sos", OK},
    {"\" or \"\"=\"", true, "s&sos", OK},
    {"') OR ('a'='a", true, "s)&(sos", OK},
    {"1) or (1=1", true, "1)&(1o1", OK},
    {"' OR 1=1 LIMIT 1 -- ", true, "s&1o1B1c", OK},
    {"1 OR 1=1-- -", true, "1&1o1c", OK},
    {"-1 or 1=1", true, NULL, OK},
    {"1'or'1'='1", true, "s&sos", OK},
    {"\"'or'1'='1", true, NULL, OK},
    {"1' AND 1=1 AND '1'='1", true, NULL, OK},
    {"1 OR 'a'='a'", true, NULL, OK},
    {"x' or name like '%", true, NULL, OK},
    {"' or username is not null or username = '", true, NULL, OK},
    {"' or not 1=2--", true, NULL, OK},
    {"admin'/**/or/**/1=1#", true, "sc&c1o1c", OK},
    {"1 || 1=1", true, NULL, OK},
    {"1' && 2>1 --", true, NULL, OK},
    {"1 xor 1=0", true, NULL, OK},
    {"1'='1", true, "sos", OK},
    {"ab' = 'ab' or '", true, NULL, OK},
    /* logic followed by a comment or a function call */
    {"' or true--", true, "s&1c", OK},
    {"' or 1#", true, "s&1c", OK},
    {"1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--", true, NULL, OK},
    {"1 and ascii(lower(substring((select top 1 name from sysobjects),1,1)))>116", true, NULL, OK},
    /* comment truncation */
    {"admin'--", true, "sc", OK},
    {"admin' /*", true, "sc", OK},
    {"admin' #", true, "sc", OK},
    {"admin')--", true, "s)c", OK},
    {"1';--", true, NULL, OK},
    {"admin@example.com';", true, "s;", OK},
    {"root@example.com'/* comment */;", true, NULL, OK},
    {"x' or username like totpSecret escape 'x';", true, NULL, KNOWN_FAIL},
    /* UNION SELECT */
    {"foo') UNION ALL select NULL --", true, "s)UkE1c", OK},
    {"-1 UNION ALL SELECT NULL,NULL,table_name FROM information_schema.tables--", true, NULL, OK},
    {"' UNION SELECT username, password FROM users--", true, "sUEn,nknc", OK},
    {"1 UNION/**/SELECT 1,2", true, NULL, OK},
    {"1/*!50000union*/ select 1", true, NULL, OK},
    {"1 union(select 1,2)", true, NULL, OK},
    {"1 UnIoN DiStInCt SeLeCt @@version", true, NULL, OK},
    {"1\tunion\nselect\r1", true, NULL, OK},
    /* stacked statements */
    {"1; DROP TABLE users--", true, "1;Tknc", OK},
    {"x'; drop table users; --", true, NULL, OK},
    {"1;SELECT pg_sleep(5)--", true, NULL, OK},
    {"'; EXEC xp_cmdshell('dir')--", true, NULL, OK},
    {"1; exec master..xp_cmdshell 'dir'", true, NULL, OK},
    {"';declare @x varchar(99)--", true, NULL, OK},
    {"1;update users set a=1", true, NULL, OK},
    {"1; insert into log values(1)", true, NULL, OK},
    {"1; insert into users (name) select 1", true, NULL, OK},
    {"1;exec(@q)", true, NULL, OK},
    {"1; exec sp_who;", true, NULL, OK},
    {"admin'-- -", true, "sc", OK},
    {"admin'--+", true, "sc", OK},
    {"1; delete from users", true, NULL, OK},
    {"'; shutdown--", true, NULL, OK},
    {"1;WAITFOR DELAY '0:0:5'", true, NULL, OK},
    {"Robert'); DROP TABLE Students;--", true, NULL, OK},
    /* subqueries */
    {"1) AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT(version(),FLOOR(RAND(0)*2))x FROM "
     "information_schema.tables GROUP BY x)a)--",
     true, NULL, OK},
    {"1 AND 1=CONVERT(int,(SELECT @@version))", true, NULL, OK},
    {"1' RLIKE (SELECT 1)--", true, NULL, OK},
    {"1 and exists(select 1)", true, NULL, OK},
    {"1' or 1 in (select @@version)--", true, NULL, OK},
    {"1'||(select extractvalue(xmltype('<?xml version", true, NULL, OK},
    /* time- and error-based functions */
    {"sleep(20)", true, "f(1)", OK},
    {"2010-01-01'+sleep(20.to_i)+'", true, NULL, OK},
    {"unittests@coreruleset.org\" sleep(10.to_i) \"", true, NULL, OK},
    {"1 or benchmark(1000000,md5(1))", true, NULL, OK},
    {"'||pg_sleep(10)--", true, NULL, OK},
    {"1 AND updatexml(1,concat(0x7e,user()),1)", true, NULL, OK},
    {"' AND extractvalue(1,concat(0x7e,(SELECT database())))--", true, NULL, OK},
    {"1 AND (SELECT 6789 FROM (SELECT(SLEEP(5)))abc)", true, NULL, OK},
    {"1 or sleep (5)", true, NULL, OK},
    {"x' and dbms_pipe.receive_message('a',10)='a", true, NULL, OK},
    {"'-sleep(5)-'", true, NULL, OK},
    {"SLEEP/**/(5)", true, NULL, OK},
    {"pg_sleep(", true, "f(", OK},
    {"BENCHMARK(BM_StringCopy);", false, NULL, OK}, /* a C++ benchmark macro */
    {"foo')waitfor delay'5:0:20'--", true, "s)Wksc", OK},
    {"1' WAITFOR DELAY '0:0:5'--", true, NULL, OK},
    /* ORDER BY / GROUP BY / HAVING / LIMIT probes */
    {"1' ORDER BY 3--+", true, "sBk1c", OK},
    {"1 order by 10#", true, NULL, OK},
    {"' group by columnnames having 1=1 --", true, NULL, OK},
    {"' having 1=1--", true, NULL, OK},
    {"1' limit 1--", true, NULL, OK},
    /* concatenation between quote breakouts */
    {"\" | type %SystemDrive%\\\\config.ini | \"", true, NULL, OK},
    {"x' || version() || '", true, NULL, OK},
    /* nested block comments (CRS 942101 test 9, a path) */
    {"/post/*/*/2 union all/bar", true, "onc", OK},
    {"1 /*/* b */ union", true, NULL, OK},
    /* known gaps: written down so a fix shows up */
    {"1 procedure analyse()", true, NULL, KNOWN_FAIL},
    {"' or 'a' like 'a", true, NULL, OK},
    {"John' or 'Mary", true, NULL, KNOWN_FAIL}, /* s&s: too close to prose */
    {"10 and price < 20", true, NULL, KNOWN_FAIL}, /* bare words outside quotes */
};

TEST(sqli_attack_table)
{
    run_table(t, attacks, sizeof attacks / sizeof attacks[0]);
}

/* Ordinary input that looks a little like SQL: must stay clean. */
static const struct sqli_case benign_cases[] = {
    {"O'Reilly", false, NULL, OK},
    {"O'Reilly and Sons", false, NULL, OK},
    {"Shaquille O'Neal", false, NULL, OK},
    {"D'Angelo's pizza", false, NULL, OK},
    {"rock 'n' roll", false, NULL, OK},
    {"it's 5 o'clock", false, NULL, OK},
    {"don't or won't", false, NULL, OK},
    {"select your size", false, NULL, OK},
    {"Select size", false, NULL, OK},
    {"please select one from the list", false, NULL, OK},
    {"select items from list", false, NULL, OK},
    {"drop me a line", false, NULL, OK},
    {"Drop table lamp", false, NULL, OK},
    {"union station", false, NULL, OK},
    {"Union Select Credit Bank", false, NULL, OK},
    {"1-2 days", false, NULL, OK},
    {"2-3 business days", false, NULL, OK},
    {"and/or", false, NULL, OK},
    {"true or false", false, NULL, OK},
    {"yes or no", false, NULL, OK},
    {"1 or 2", false, NULL, OK},
    {"2 or 3 pieces", false, NULL, OK},
    {"10 and 20", false, NULL, OK},
    {"either 5 or 6", false, NULL, OK},
    {"cats and dogs", false, NULL, OK},
    {"salt & pepper", false, NULL, OK},
    {"AT&T", false, NULL, OK},
    {"john.doe@example.com", false, NULL, OK},
    {"jane_o'connor@example.org", false, NULL, OK},
    {"first.last+tag@mail.co.uk", false, NULL, OK},
    {"2024-05-14", false, NULL, OK},
    {"14/05/2024", false, NULL, OK},
    {"05/14/2024 10:30 AM", false, NULL, OK},
    {"2024-05-14T10:30:00Z", false, NULL, OK},
    {"$1,000", false, NULL, OK},
    {"$19.99", false, NULL, OK},
    {"\xe2\x82\xac 25,00", false, NULL, OK},
    {"1,299.00 USD", false, NULL, OK},
    {"50% off", false, NULL, OK},
    {"SKU-12345-XL", false, NULL, OK},
    {"AB-1234/56", false, NULL, OK},
    {"ISBN 978-3-16-148410-0", false, NULL, OK},
    {"{\"a\":1,\"b\":[1,2,3]}", false, NULL, OK},
    {"{\"name\":\"O'Reilly\",\"qty\":2}", false, NULL, OK},
    {"{\"query\":\"shoes\",\"filter\":{\"size\":\"10\",\"color\":\"red\"}}", false, NULL, OK},
    {"[\"a\",\"b\"]", false, NULL, OK},
    {"red shoes size 10", false, NULL, OK},
    {"how to sleep better", false, NULL, OK},
    {"need more sleep (8 hours)", false, NULL, OK},
    {"order by price", false, NULL, OK},
    {"sort by date desc", false, NULL, OK},
    {"order #12345", false, NULL, OK},
    {"group by category", false, NULL, OK},
    {"limit 10", false, NULL, OK},
    {"from Paris to London", false, NULL, OK},
    {"where is my order?", false, NULL, OK},
    {"Where's my order?", false, NULL, OK},
    {"I can't log in, my password is \"hunter2\"", false, NULL, OK},
    {"He said \"hello\" and left", false, NULL, OK},
    {"5'10\" tall", false, NULL, OK},
    {"6' 2\"", false, NULL, OK},
    {"a 2\" x 4\" board", false, NULL, OK},
    {"Price: 10 - 20", false, NULL, OK},
    {"Temperature -5 to +10", false, NULL, OK},
    {"1+1=2", false, NULL, OK},
    {"x = y + 1", false, NULL, OK},
    {"e=mc^2", false, NULL, OK},
    {"100% cotton", false, NULL, OK},
    {"C++ programming", false, NULL, OK},
    {"C# vs Java", false, NULL, OK},
    {"#hashtag", false, NULL, OK},
    {"Item #3 -- red", false, NULL, OK},
    {"-- none --", false, NULL, OK},
    {"/* not a comment */", false, NULL, OK},
    {"C:\\Users\\Admin\\Documents", false, NULL, OK},
    {"https://example.com/search?q=shoes&page=2", false, NULL, OK},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36",
     false, NULL, OK},
    {"curl/8.5.0", false, NULL, OK},
    {"GA1.2.123456789.1714455836", false, NULL, OK},
    {"e669f7af-de45-4037-a5d6-2f63097a4eec", false, NULL, OK},
    {"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0",
     false, NULL, OK},
    {"49450,57033,97548", false, NULL, OK},
    {"0x1F", false, NULL, OK},
    {"Hello; how are you?", false, NULL, OK},
    {"Done; select a color next", false, NULL, OK},
    {"See you; drop by anytime", false, NULL, OK},
    {"Hi!; union members welcome", false, NULL, OK},
    {"Let's meet at 5; bring snacks", false, NULL, OK},
    {"Mary's and John's", false, NULL, OK},
    {"'single quoted'", false, NULL, OK},
    {"'", false, NULL, OK},
    {"\"", false, NULL, OK},
    {"''", false, NULL, OK},
    {"'a' and 'b'", false, NULL, OK},
    {"\"yes\" or \"no\"", false, NULL, OK},
    {"choose 'x' or 'y'", false, NULL, OK},
    {"Ben & Jerry's", false, NULL, OK},
    {"like new, barely used", false, NULL, OK},
    {"between 10 and 20", false, NULL, OK},
    {"null", false, NULL, OK},
    {"SELECT", false, NULL, OK},
    {"sleep", false, NULL, OK},
    {"waitfor", false, NULL, OK},
    {"1 in 100", false, NULL, OK},
    {"if (you) can", false, NULL, OK},
    {"count(3)", false, NULL, OK},
    {"f(x) = 2x + 1", false, NULL, OK},
    {"(555) 123-4567", false, NULL, OK},
    {"aa' or 'bb", false, NULL, OK},
    {"Joe's #1 fan", false, NULL, OK},
    {"Order: 1234; Status: shipped", false, NULL, OK},
    {"version 2.0 (beta)", false, NULL, OK},
    {"user(s)", false, NULL, OK},
    {"\"Hello\", she said; \"goodbye\".", false, NULL, OK},
    {"1;2;3", false, NULL, OK},
    {"Best of 2023 - Union Jack edition", false, NULL, OK},
    {"(select all that apply)", false, NULL, OK},
    {"(select 2 items)", false, NULL, OK},
    {"5' or 6' tall", false, NULL, OK},
    {"size 10 or 11 = EU 44", false, NULL, OK},
    {"10 and price < 20", false, NULL, OK},
    {"the Jones' house -- nice", false, NULL, OK},
    {"it's 'cool' or 'not'", false, NULL, OK},
    {"x' or y", false, NULL, OK},
    /* as-is text that cannot start an SQL expression (CRS 942101 test 11) */
    {"/post/foo/24 union all select 1,2,3 from aa/bar", false, NULL, OK},
    {".sleep(5) is a method call", false, NULL, OK},
    /* a glob: "/ *" opens a comment holding another opener, the evasion
     * CRS wants flagged (942101 test 9); we accept this false positive */
    {"src/*/*.c", false, NULL, KNOWN_FAIL},
    {"llvm/test/* / lldb/test/*", false, NULL, OK},
    {"/* a /* b */", false, NULL, OK},
    {"exec (Closes: #1021821)", false, NULL, OK},
    {"which include '=' characters", false, NULL, OK},
    {"the comment character (\"#\").", false, NULL, OK},
    {"try the \"--help\" option", false, NULL, OK},
    {"-mcpu=power\" or CFLAGS=\"-g -O2 -mcpu=powerpc\" to make it work", false, NULL, OK},
    {"the original work has been modified.\";", false, NULL, OK},
    {"TV 55\" -- great picture, would buy again", false, NULL, OK},
    {"Jones' # of items sold last year", false, NULL, OK},
    {"Meeting at 5; exec team to join", false, NULL, OK},
    {"Step 1; insert into slot A", false, NULL, OK},
    {"Step 2; select 1 option", false, NULL, OK},
    {"Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbb" "l\xc3\xa9" "e", false, NULL, OK},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e or \xe4\xb8\xad\xe6\x96\x87", false, NULL, OK},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
     false, NULL, OK},
    {"query { product(id: \"42\") { name price } }", false, NULL, OK},
    {"John' or 'Mary", false, NULL, OK},
};

TEST(sqli_benign_table)
{
    size_t n = sizeof benign_cases / sizeof benign_cases[0];
    CHECK(n >= 100);
    run_table(t, benign_cases, n);
}

TEST(sqli_null_and_empty)
{
    struct detect_result r;
    CHECK(!detect_sqli(NULL, 0, &r));
    CHECK(!detect_sqli("", 0, &r));
    CHECK_STR(r.fingerprint, "");
    CHECK(r.reason == NULL);
    CHECK(detect_sqli("1 or 1=1", 8, NULL)); /* result is optional */
    /* length is honoured, not NUL termination */
    CHECK(!detect_sqli("1 or 1=1", 6, &r));
}

TEST(sqli_embedded_nul_and_binary)
{
    static const char nul_attack[] = "1\0 union\0select 1,2";
    static const char nul_text[] = "O'Reilly\0and\0sons";
    struct detect_result r;
    /* NUL counts as a separator, as MySQL's lexer treats it. */
    CHECK(detect_sqli(nul_attack, sizeof nul_attack - 1, &r));
    CHECK(!detect_sqli(nul_text, sizeof nul_text - 1, &r));
    unsigned char bad[] = {0xff, 0xfe, '\'', ' ', 'o', 'r', ' ', '1', '=', '1', '-', '-', 0xc0,
                           0x80, 0xed, 0xa0, 0x80};
    CHECK(detect_sqli((const char *)bad, sizeof bad, &r)); /* invalid UTF-8 around a tautology */
    /* ... but invalid UTF-8 running on after it reads as words, not SQL */
    unsigned char tail[] = {'\'', ' ', 'o', 'r', ' ', '1', '=', '1', ' ', 0xc0, 0x80};
    CHECK(!detect_sqli((const char *)tail, sizeof tail, &r));
    CHECK(strlen(r.fingerprint) <= 15);
}

/* Every prefix of every attack (truncated input, unterminated strings and
 * comments) and every byte value in a few positions: no crash, no
 * out-of-bounds read (ASan), a fingerprint that fits. */
TEST(sqli_prefixes_and_all_bytes)
{
    char buf[256];
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        size_t n = strlen(attacks[i].in);
        for (size_t k = 0; k <= n; k++) {
            char *p = malloc(k ? k : 1); /* exact size so ASan sees overreads */
            struct detect_result r;
            if (!p)
                return;
            memcpy(p, attacks[i].in, k);
            detect_sqli(p, k, &r);
            CHECK(strlen(r.fingerprint) <= 15);
            free(p);
        }
    }
    for (int c = 0; c < 256; c++) {
        struct detect_result r;
        char one = (char)c;
        detect_sqli(&one, 1, &r);
        int n = snprintf(buf, sizeof buf, "1 %c or 1=1 %c", c ? c : 'x', c ? c : 'x');
        buf[3] = (char)c;
        detect_sqli(buf, (size_t)n, &r);
        CHECK(strlen(r.fingerprint) <= 15);
    }
}

/* Deterministic pseudo-random inputs drawn from SQL-ish bytes. */
TEST(sqli_random_bytes)
{
    static const char alpha[] = "'\"`()-#/*;,=<>!|&+@.0x1 \n\\aorselctunidfmSELECTUNION";
    uint32_t x = 2463534242u;
    char *buf = malloc(512);
    if (!buf)
        return;
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = x % 512;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (x & 0x100) ? (char)(x & 0xff) : alpha[x % (sizeof alpha - 1)];
        }
        struct detect_result r;
        detect_sqli(buf, n, &r);
        CHECK(strlen(r.fingerprint) <= 15);
    }
    free(buf);
}

/* Linear time: a long run of tokens that keeps every rule "almost"
 * matching must not be slower per byte than a short one by much. */
TEST(sqli_long_input_linear)
{
    size_t n = 1 << 20;
    char *buf = malloc(n);
    struct detect_result r;
    if (!buf)
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = "1 or (select '"[i % 14];
    detect_sqli(buf, n, &r); /* must return; ASan would flag overruns */
    memset(buf, '\'', n);
    detect_sqli(buf, n, &r);
    memset(buf, '(', n);
    CHECK(!detect_sqli(buf, n, &r));
    /* shapes that made early drafts rescan: backslashes inside a literal,
     * many function names each followed by a comment gap */
    buf[0] = '\'';
    for (size_t i = 1; i < n; i++)
        buf[i] = (i & 1) ? '\\' : 'a';
    clock_t c0 = clock();
    detect_sqli(buf, n, &r);
    for (size_t i = 0; i < n; i++)
        buf[i] = "sleep/**/ "[i % 10];
    detect_sqli(buf, n, &r);
    for (size_t i = 0; i < n; i++)
        buf[i] = "sleep/*"[i % 7];
    detect_sqli(buf, n, &r);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK(secs < 5.0); /* quadratic would be minutes on 1 MB */
    free(buf);
}

/* ---- transformations of rule 942100, emulated for the corpus tests ------ */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* URL decoding in place; plus_space for form bodies and query strings;
 * uni for %uXXXX (full-width forms map to ASCII, others to the low byte,
 * like ModSecurity without a unicode map). Returns the new length. */
static size_t url_decode(char *s, size_t n, bool plus_space, bool uni)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+' && plus_space) {
            s[o++] = ' ';
        } else if (c == '%' && uni && i + 5 < n && (s[i + 1] | 0x20) == 'u' &&
                   hexval((unsigned char)s[i + 2]) >= 0 && hexval((unsigned char)s[i + 3]) >= 0 &&
                   hexval((unsigned char)s[i + 4]) >= 0 && hexval((unsigned char)s[i + 5]) >= 0) {
            int hi = hexval((unsigned char)s[i + 2]) * 16 + hexval((unsigned char)s[i + 3]);
            int lo = hexval((unsigned char)s[i + 4]) * 16 + hexval((unsigned char)s[i + 5]);
            s[o++] = (char)(hi == 0xff && lo >= 0x01 && lo <= 0x5e ? lo + 0x20 : lo);
            i += 5;
        } else if (c == '%' && i + 2 < n &&
                   hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
            s[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            s[o++] = (char)c;
        }
    }
    return o;
}

/* t:utf8toUnicode then t:urlDecodeUni collapse a multi-byte character to
 * one byte (low byte, or ASCII for full-width forms); t:removeNulls. */
static size_t crs_transform(char *s, size_t n)
{
    size_t o = 0;
    n = url_decode(s, n, false, true);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0xc2 && c < 0xe0 && i + 1 < n)
            cp = (uint32_t)(c & 0x1f) << 6 | ((unsigned char)s[i + 1] & 0x3f), len = 2;
        else if (c >= 0xe0 && c < 0xf0 && i + 2 < n)
            cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)((unsigned char)s[i + 1] & 0x3f) << 6 |
                 ((unsigned char)s[i + 2] & 0x3f),
            len = 3;
        else if (c >= 0xf0 && c < 0xf5 && i + 3 < n)
            cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)((unsigned char)s[i + 1] & 0x3f) << 12 |
                 (uint32_t)((unsigned char)s[i + 2] & 0x3f) << 6 | ((unsigned char)s[i + 3] & 0x3f),
            len = 4;
        if (len > 1) {
            cp = (cp >= 0xff01 && cp <= 0xff5e) ? cp - 0xfee0 : (cp & 0xff);
            i += len - 1;
        }
        if (cp)
            s[o++] = (char)cp;
    }
    return o;
}

/* Collects the values rule 942100 inspects for one request. */
struct values {
    char *buf;   /* NUL-separated transformed values */
    size_t len, cap;
};

static void values_add(struct values *v, const char *s, size_t n, bool form_decode)
{
    if (n > SIZE_MAX / 2 - v->len - 2)
        return;
    if (v->len + n + 1 > v->cap) {
        size_t cap = (v->len + n + 1) * 2;
        char *nb = realloc(v->buf, cap);
        if (!nb)
            return;
        v->buf = nb;
        v->cap = cap;
    }
    char *d = v->buf + v->len;
    memcpy(d, s, n);
    if (form_decode)
        n = url_decode(d, n, true, false);
    n = crs_transform(d, n);
    /* NULs are gone after removeNulls, so one separates values. */
    d[n] = '\0';
    v->len += n + 1;
}

/* name=value&name=value: both names (ARGS_NAMES) and values (ARGS). */
static void values_add_form(struct values *v, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t e = amp ? (size_t)(amp - s) : n;
        const char *eq = memchr(s + i, '=', e - i);
        size_t k = eq ? (size_t)(eq - s) : e;
        values_add(v, s + i, k - i, true);
        if (eq)
            values_add(v, eq + 1, e - k - 1, true);
        i = e + 1;
    }
}

static void values_add_cookies(struct values *v, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == ';'))
            i++;
        const char *semi = memchr(s + i, ';', n - i);
        size_t e = semi ? (size_t)(semi - s) : n;
        const char *eq = memchr(s + i, '=', e - i);
        size_t k = eq ? (size_t)(eq - s) : e;
        if (!(k - i >= 5 && memcmp(s + i, "__utm", 5) == 0)) {
            values_add(v, s + i, k - i, false);
            if (eq)
                values_add(v, eq + 1, e - k - 1, false);
        }
        i = e + 1;
    }
}

static void values_add_json(struct values *v, yajl_val node)
{
    if (!node)
        return;
    if (YAJL_IS_OBJECT(node)) {
        for (size_t i = 0; i < node->u.object.len; i++) {
            values_add(v, node->u.object.keys[i], strlen(node->u.object.keys[i]), false);
            values_add_json(v, node->u.object.values[i]);
        }
    } else if (YAJL_IS_ARRAY(node)) {
        for (size_t i = 0; i < node->u.array.len; i++)
            values_add_json(v, node->u.array.values[i]);
    } else if (YAJL_IS_STRING(node)) {
        values_add(v, node->u.string, strlen(node->u.string), false);
    } else if (YAJL_IS_NUMBER(node)) {
        values_add(v, node->u.number.r, strlen(node->u.number.r), false);
    }
}

/* Form fields of a multipart body (file parts are FILES, not ARGS). */
static void values_add_multipart(struct values *v, const char *body, const char *ctype)
{
    const char *b = strstr(ctype, "boundary=");
    char delim[128];
    if (!b)
        return;
    b += 9;
    int dn = snprintf(delim, sizeof delim, "--%.*s", (int)strcspn(b, "; \""), b);
    if (dn <= 2 || (size_t)dn >= sizeof delim)
        return;
    const char *p = strstr(body, delim);
    while (p) {
        p += dn;
        const char *hdr_end = strstr(p, "\r\n\r\n");
        const char *next = strstr(p, delim);
        if (!hdr_end || !next || hdr_end > next)
            break;
        const char *name = strstr(p, "name=\"");
        const char *file = strstr(p, "filename=");
        if (name && name < hdr_end && !(file && file < hdr_end)) {
            name += 6;
            values_add(v, name, strcspn(name, "\""), false);
            const char *val = hdr_end + 4;
            size_t vn = (size_t)(next - val);
            if (vn >= 2)
                vn -= 2; /* CRLF before the delimiter */
            values_add(v, val, vn, false);
        }
        p = next;
    }
}

static bool values_any_sqli(const struct values *v, char *fp, size_t fpn)
{
    size_t i = 0;
    while (i < v->len) {
        size_t n = strlen(v->buf + i);
        struct detect_result r;
        if (detect_sqli(v->buf + i, n, &r)) {
            snprintf(fp, fpn, "%s [%s] in \"%.60s\"", r.fingerprint, r.reason, v->buf + i);
            return true;
        }
        i += n + 1;
    }
    return false;
}

/* ---- CRS regression tests for rule 942100 ---------------------------- */

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *yscalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool ylist_has(yaml_document_t *d, yaml_node_t *n, const char *want)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return false;
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        const char *s = yscalar(yaml_document_get_node(d, *i));
        if (s && strcmp(s, want) == 0)
            return true;
    }
    return false;
}

/* XML body: attribute values and text nodes (the XML:/ * and XML://@ * targets). */
static void values_add_xml(struct values *v, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '=' && (p[1] == '"' || p[1] == '\'')) {
            const char *e = strchr(p + 2, p[1]);
            if (!e)
                break;
            values_add(v, p + 2, (size_t)(e - p - 2), false);
            p = e;
        } else if (*p == '>' && p[1] && p[1] != '<') {
            size_t n = strcspn(p + 1, "<");
            values_add(v, p + 1, n, false);
            p += n;
        }
    }
}

TEST(sqli_crs_942100)
{
    FILE *f = fopen(CRS_942100, "rb");
    if (!f) {
        printf("SKIP sqli_crs_942100: %s not found\n", CRS_942100);
        return;
    }
    yaml_parser_t ps;
    yaml_document_t doc;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_file(&ps, f);
    if (!yaml_parser_load(&ps, &doc)) {
        t_fail(t, __FILE__, __LINE__, "cannot parse %s", CRS_942100);
        yaml_parser_delete(&ps);
        fclose(f);
        return;
    }
    int seen = 0, hit = 0;
    yaml_node_t *tests = ymap_get(&doc, yaml_document_get_root_node(&doc), "tests");
    for (yaml_node_item_t *it = tests ? tests->data.sequence.items.start : NULL;
         it && it < tests->data.sequence.items.top; it++) {
        yaml_node_t *tc = yaml_document_get_node(&doc, *it);
        const char *id = yscalar(ymap_get(&doc, tc, "test_id"));
        yaml_node_t *stages = ymap_get(&doc, tc, "stages");
        if (!stages || stages->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *st = stages->data.sequence.items.start;
             st < stages->data.sequence.items.top; st++) {
            yaml_node_t *stage = yaml_document_get_node(&doc, *st);
            yaml_node_t *in = ymap_get(&doc, stage, "input");
            yaml_node_t *log = ymap_get(&doc, ymap_get(&doc, stage, "output"), "log");
            bool expect = ylist_has(&doc, ymap_get(&doc, log, "expect_ids"), "942100");
            bool refuse = ylist_has(&doc, ymap_get(&doc, log, "no_expect_ids"), "942100");
            if (!expect && !refuse)
                continue;
            struct values v = {0};
            yaml_node_t *hdrs = ymap_get(&doc, in, "headers");
            const char *ctype = yscalar(ymap_get(&doc, hdrs, "Content-Type"));
            const char *data = yscalar(ymap_get(&doc, in, "data"));
            const char *uri = yscalar(ymap_get(&doc, in, "uri"));
            const char *ua = yscalar(ymap_get(&doc, hdrs, "User-Agent"));
            const char *ref = yscalar(ymap_get(&doc, hdrs, "Referer"));
            const char *cookie = yscalar(ymap_get(&doc, hdrs, "Cookie"));
            if (uri && strchr(uri, '?'))
                values_add_form(&v, strchr(uri, '?') + 1, strlen(strchr(uri, '?') + 1));
            if (data && ctype && strstr(ctype, "xml"))
                values_add_xml(&v, data);
            else if (data)
                values_add_form(&v, data, strlen(data));
            if (ua)
                values_add(&v, ua, strlen(ua), false);
            if (ref)
                values_add(&v, ref, strlen(ref), false);
            if (cookie)
                values_add_cookies(&v, cookie);
            char why[160] = "";
            bool got = values_any_sqli(&v, why, sizeof why);
            seen++;
            hit += got == expect;
            if (got != expect)
                t_fail(t, __FILE__, __LINE__, "942100 test %s: detected %d, expected %d %s",
                       id ? id : "?", got, expect, why);
            free(v.buf);
        }
    }
    printf("sqli_crs_942100: %d/%d CRS tests agree\n", hit, seen);
    CHECK(seen >= 15);
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    fclose(f);
}

/* ---- benchmark corpus ---------------------------------------------------- */

static const char *jstr(yajl_val o, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

static void request_values(yajl_val req, struct values *v, char *ctype, size_t ctn)
{
    const char *uri = jstr(req, "uri");
    const char *body = jstr(req, "body");
    const char *hp[] = {"headers", NULL};
    yajl_val hs = yajl_tree_get(req, hp, yajl_t_array);
    ctype[0] = '\0';
    if (uri && strchr(uri, '?'))
        values_add_form(v, strchr(uri, '?') + 1, strlen(strchr(uri, '?') + 1));
    for (size_t i = 0; hs && i < hs->u.array.len; i++) {
        yajl_val pair = hs->u.array.values[i];
        if (!YAJL_IS_ARRAY(pair) || pair->u.array.len != 2)
            continue;
        const char *name = YAJL_GET_STRING(pair->u.array.values[0]);
        const char *val = YAJL_GET_STRING(pair->u.array.values[1]);
        if (!name || !val)
            continue;
        if (!strcasecmp(name, "Cookie"))
            values_add_cookies(v, val);
        else if (!strcasecmp(name, "User-Agent") || !strcasecmp(name, "Referer"))
            values_add(v, val, strlen(val), false);
        else if (!strcasecmp(name, "Content-Type"))
            snprintf(ctype, ctn, "%s", val);
    }
    if (!body || !*body)
        return;
    if (strstr(ctype, "application/x-www-form-urlencoded")) {
        values_add_form(v, body, strlen(body));
    } else if (strstr(ctype, "json")) {
        char err[128];
        yajl_val j = yajl_tree_parse(body, err, sizeof err);
        if (j)
            values_add_json(v, j);
        else
            values_add(v, body, strlen(body), false);
        yajl_tree_free(j);
    } else if (strstr(ctype, "multipart/form-data")) {
        values_add_multipart(v, body, ctype);
    }
}

TEST(sqli_bench_corpus)
{
    if (access(BENCH_CORPUS, R_OK) != 0) {
        printf("SKIP sqli_bench_corpus: %s not found\n", BENCH_CORPUS);
        return;
    }
    FILE *f = popen("zstd -dc " BENCH_CORPUS " 2>/dev/null", "r");
    if (!f) {
        printf("SKIP sqli_bench_corpus: cannot run zstd\n");
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int sqli = 0, sqli_hit = 0, benign = 0, benign_fp = 0, other = 0, other_hit = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        char err[128];
        yajl_val req = yajl_tree_parse(line, err, sizeof err);
        if (!req) {
            t_fail(t, __FILE__, __LINE__, "corpus line does not parse: %s", err);
            continue;
        }
        const char *label = jstr(req, "label");
        const char *cls = jstr(req, "class");
        struct values v = {0};
        char ctype[256], why[160] = "";
        request_values(req, &v, ctype, sizeof ctype);
        bool got = values_any_sqli(&v, why, sizeof why);
        if (label && !strcmp(label, "benign")) {
            benign++;
            if (got) {
                benign_fp++;
                t_fail(t, __FILE__, __LINE__, "benign request flagged: %s", why);
            }
        } else if (cls && !strcmp(cls, "sqli")) {
            sqli++;
            sqli_hit += got;
            if (!got)
                t_fail(t, __FILE__, __LINE__, "sqli request missed: %.200s", jstr(req, "uri"));
        } else {
            other++;
            other_hit += got;
        }
        free(v.buf);
        yajl_tree_free(req);
    }
    free(line);
    pclose(f);
    if (!benign && !sqli) {
        printf("SKIP sqli_bench_corpus: no requests read (is zstd installed?)\n");
        return;
    }
    printf("sqli_bench_corpus: sqli %d/%d detected, benign %d/%d flagged, other attacks %d/%d "
           "flagged\n",
           sqli_hit, sqli, benign_fp, benign, other_hit, other);
}
