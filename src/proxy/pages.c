/* The proxy's own small responses, and the one question the proxy asks the
 * engine beyond its public API. Pages say what happened and give the event
 * id; they never name the product, a version, a rule or an internal. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy/proxy_int.h"
#include "waf/tx.h"

const char *proxy_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

static const char *page_text(int status)
{
    switch (status) {
    case 403: return "This request was blocked by the site's security policy.";
    case 400: return "The request could not be understood.";
    case 408: return "The request took too long to arrive.";
    case 413: return "The request body is too large.";
    case 414: return "The request target is too long.";
    case 431: return "The request headers are too large.";
    case 501: return "This kind of request is not supported.";
    case 502: return "The site is not reachable right now. Please try again later.";
    case 503: return "The site is not available right now. Please try again later.";
    case 504: return "The site took too long to answer. Please try again later.";
    case 505: return "This HTTP version is not supported.";
    default: return "The request could not be completed.";
    }
}

size_t proxy_page(char *out, size_t cap, int status, const char *event_id, bool close,
                  const char *location)
{
    char body[512];
    int bl;
    if (status < 100 || status > 599)
        status = 403;
    if (event_id && *event_id)
        bl = snprintf(body, sizeof body, "%d %s\n\n%s\nEvent id: %s\n", status,
                      proxy_status_reason(status), page_text(status), event_id);
    else
        bl = snprintf(body, sizeof body, "%d %s\n\n%s\n", status, proxy_status_reason(status),
                      page_text(status));
    if (bl < 0 || (size_t)bl >= sizeof body)
        return 0;
    bool redirect = location && status >= 300 && status < 400;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "%s%s%s"
                     "%s"
                     "\r\n%s",
                     status, proxy_status_reason(status), bl, redirect ? "Location: " : "",
                     redirect ? location : "", redirect ? "\r\n" : "",
                     close ? "Connection: close\r\n" : "", body);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* The engine keeps "is the response body inspected" in the transaction
 * (SecResponseBodyAccess, ctl:responseBodyAccess, SecResponseBodyMimeType);
 * the public API has no accessor yet, so read it here, read-only. */
bool proxy_tx_wants_response_body(const struct waf_tx *tx, size_t *limit)
{
    const struct waf_program *p = tx->p;
    *limit = p->resbody_limit;
    if (!tx->resbody_access || tx->engine == ENGINE_OFF)
        return false;
    if (p->nresbody_mime == 0)
        return true;
    struct str ct = tx->sset[V_RESPONSE_CONTENT_TYPE] ? tx->sv[V_RESPONSE_CONTENT_TYPE]
                                                      : STR_LIT("");
    for (size_t i = 0; i < p->nresbody_mime; i++)
        if (strlen(p->resbody_mime[i]) == ct.n && strncasecmp(p->resbody_mime[i], ct.p, ct.n) == 0)
            return true;
    return false;
}
