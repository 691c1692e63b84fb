/* The shield's own answers: 429 and 403 (HTML for browsers, JSON for
 * everything else) and the proof-of-work challenge page.
 *
 * The challenge page carries its own small SHA-256 in JavaScript: the Web
 * Crypto API exists only in secure contexts, and many self-run sites are
 * still plain HTTP. The nonce is hex and the return path is re-encoded to
 * a safe alphabet before it is written into the page, so nothing from the
 * request can break out of the script string. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shield/shield_int.h"

bool shield_wants_html(const char *accept, size_t n)
{
    /* "text/html" anywhere in Accept (browsers send it first for a page
     * navigation); a bare wildcard is an API client or a script. */
    for (size_t i = 0; i + 9 <= n; i++)
        if (strncasecmp(accept + i, "text/html", 9) == 0)
            return true;
    return false;
}

/* Appends formatted text; returns -1 once the buffer is full. */
static int put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

static const char style[] =
    "<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}"
    "main{max-width:34em;margin:12vh auto;padding:2em;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.4em;margin-top:0}small{color:#777}</style>";

static void fill(struct shield_response *out, int status, bool html, const char *body, size_t n)
{
    out->status = status;
    out->content_type = html ? "text/html; charset=utf-8" : "application/json";
    out->body = body;
    out->body_len = n;
}

int shield_page_429(bool html, unsigned retry_after, char *buf, size_t cap,
                    struct shield_response *out)
{
    size_t len = 0;
    int rc;
    if (retry_after == 0)
        retry_after = 1;
    if (html)
        rc = put(buf, cap, &len,
                 "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                 "<meta http-equiv=\"refresh\" content=\"%u\">"
                 "<title>Too many requests</title>%s</head><body><main>"
                 "<h1>The server is busy</h1><p>Too many requests came from your address. "
                 "Please try again in %u second%s; this page reloads by itself.</p>"
                 "<small>429 Too Many Requests</small></main></body></html>\n",
                 retry_after, style, retry_after, retry_after == 1 ? "" : "s");
    else
        rc = put(buf, cap, &len,
                 "{\"error\":\"rate_limited\",\"message\":\"the server is busy, try again in %u "
                 "seconds\",\"retry_after\":%u}\n",
                 retry_after, retry_after);
    if (rc)
        return -1;
    fill(out, 429, html, buf, len);
    int hn = snprintf(out->headers, sizeof out->headers,
                      "Retry-After: %u\r\nCache-Control: no-store\r\n", retry_after);
    return hn > 0 && (size_t)hn < sizeof out->headers ? 0 : -1;
}

int shield_page_403(bool html, const char *reason, char *buf, size_t cap,
                    struct shield_response *out)
{
    size_t len = 0;
    int rc;
    /* reason is one of the shield's static words; never request text. */
    if (!reason)
        reason = "blocked";
    if (html)
        rc = put(buf, cap, &len,
                 "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                 "<title>Access denied</title>%s</head><body><main><h1>Access denied</h1>"
                 "<p>Requests from your address are not accepted by this site right now.</p>"
                 "<small>403 Forbidden (%s)</small></main></body></html>\n",
                 style, reason);
    else
        rc = put(buf, cap, &len, "{\"error\":\"forbidden\",\"reason\":\"%s\"}\n", reason);
    if (rc)
        return -1;
    fill(out, 403, html, buf, len);
    snprintf(out->headers, sizeof out->headers, "Cache-Control: no-store\r\n");
    return 0;
}

static bool safe_path_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("/._~-%=&+,:@!$*()?", c) != NULL;
}

/* The solver: SHA-256 in plain JavaScript (constants derived once from
 * the primes, as the standard defines them), then a loop in slices of
 * 4096 tries so the page stays responsive. */
static const char solver_js[] =
    "var K=[],H0=[];(function(){for(var n=2,c=0,j;c<64;n++){for(j=2;j*j<=n;j++)if(n%j==0)break;"
    "if(j*j>n){K[c]=(Math.cbrt(n)%1)*4294967296|0;if(c<8)H0[c]=(Math.sqrt(n)%1)*4294967296|0;c++}}})();"
    "function h256(s){var H=H0.slice(),i;"
    "var b=[];for(i=0;i<s.length;i++)b.push(s.charCodeAt(i)&255);var l=b.length*8;b.push(128);"
    "while(b.length%64!=56)b.push(0);for(i=7;i>=0;i--)b.push(i>3?0:(l>>>(i*8))&255);"
    "var W=[];for(var o=0;o<b.length;o+=64){for(i=0;i<16;i++)W[i]=b[o+4*i]<<24|b[o+4*i+1]<<16|b[o+4*i+2]<<8|b[o+4*i+3];"
    "for(i=16;i<64;i++){var x=W[i-15],y=W[i-2];"
    "W[i]=(((x>>>7|x<<25)^(x>>>18|x<<14)^x>>>3)+((y>>>17|y<<15)^(y>>>19|y<<13)^y>>>10)+W[i-16]+W[i-7])|0}"
    "var a=H[0],c=H[1],d=H[2],e=H[3],f=H[4],g=H[5],k=H[6],m=H[7];"
    "for(i=0;i<64;i++){var t1=(m+((f>>>6|f<<26)^(f>>>11|f<<21)^(f>>>25|f<<7))+((f&g)^(~f&k))+K[i]+W[i])|0,"
    "t2=(((a>>>2|a<<30)^(a>>>13|a<<19)^(a>>>22|a<<10))+((a&c)^(a&d)^(c&d)))|0;"
    "m=k;k=g;g=f;f=(e+t1)|0;e=d;d=c;c=a;a=(t1+t2)|0}"
    "H[0]=(H[0]+a)|0;H[1]=(H[1]+c)|0;H[2]=(H[2]+d)|0;H[3]=(H[3]+e)|0;"
    "H[4]=(H[4]+f)|0;H[5]=(H[5]+g)|0;H[6]=(H[6]+k)|0;H[7]=(H[7]+m)|0}return H}"
    "function lz(H){var z=0;for(var i=0;i<8;i++){if(H[i]==0){z+=32;continue}return z+Math.clz32(H[i])}return z}"
    "var c=0;function run(){for(var e=c+4096;c<e;c++){if(lz(h256(N+c))>=D){"
    "location.replace(U+'?n='+N+'&c='+c+'&r='+encodeURIComponent(R));return}}"
    "document.getElementById('p').textContent=c+' tries';setTimeout(run,0)}setTimeout(run,0);";

int shield_page_challenge(const char *nonce, unsigned difficulty, const char *return_to,
                          size_t return_n, char *buf, size_t cap, struct shield_response *out)
{
    char ret[1024];
    size_t rn = 0;
    /* Only local paths: "/" followed by anything but a second "/" or "\". */
    if (return_n == 0 || return_to[0] != '/' ||
        (return_n > 1 && (return_to[1] == '/' || return_to[1] == '\\')))
        return_to = "/", return_n = 1;
    for (size_t i = 0; i < return_n && rn + 4 < sizeof ret; i++) {
        unsigned char ch = (unsigned char)return_to[i];
        if (safe_path_char(ch)) {
            ret[rn++] = (char)ch;
        } else {
            ret[rn++] = '%';
            ret[rn++] = "0123456789ABCDEF"[ch >> 4];
            ret[rn++] = "0123456789ABCDEF"[ch & 15];
        }
    }
    ret[rn] = 0;
    for (const char *p = nonce; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    size_t len = 0;
    if (put(buf, cap, &len,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\">"
            "<title>Checking your browser</title>%s</head><body><main>"
            "<h1>Checking your browser&hellip;</h1>"
            "<p>This site asks your browser to solve a small puzzle before it lets you in. "
            "It takes a second or two and happens once an hour.</p><small id=\"p\"></small>"
            "<noscript><p><b>Please enable JavaScript to continue.</b></p></noscript>"
            "</main><script>var N=\"%s\",D=%u,U=\"%s\",R=\"%s\";%s</script></body></html>\n",
            style, nonce, difficulty, SHIELD_CHALLENGE_PATH, ret, solver_js))
        return -1;
    out->status = 403;
    out->content_type = "text/html; charset=utf-8";
    out->body = buf;
    out->body_len = len;
    snprintf(out->headers, sizeof out->headers, "Cache-Control: no-store\r\n");
    return 0;
}
