/* @detectXSS: does a string, reflected into an HTML page, run script or
 * load active content?
 *
 * The input is tokenized the way an HTML5 browser would, starting from each
 * place a reflected value commonly lands. The first letter of the
 * fingerprint names the starting context that fired:
 *
 *   u  the whole value is a URL (href="HERE"): javascript:, data:text/html
 *   d  page text (strict HTML5 tokenizer: tags, comments, bogus comments)
 *   l  page text, loose: every "<name" opens a tag, even inside what the
 *      strict pass calls a comment, a value or a longer tag name, for
 *      payloads aimed at filters that split differently ("<scr<script>ipt>")
 *   a  between attributes of a tag (<input HERE>)
 *   v  inside an unquoted attribute value (value=HERE)
 *   q s b  inside a "-, '- or `-quoted value: the attack closes the quote
 *   c  inside a style attribute (style="HERE")
 *   e  markup in another charset: UTF-7, 7-bit US-ASCII
 *
 * Each pass is one forward walk with a few locals; checks run over spans of
 * the input that do not overlap within a pass and read bounded prefixes, so
 * the whole thing is linear in the input length and never allocates. What
 * is flagged, and what is deliberately not, is in docs/internals/xss.md. */
#include "waf/detect/detect.h"

#include <stdint.h>
#include <string.h>

struct xss_scan {
    const unsigned char *s;
    size_t n;
    bool loose;     /* every "<alpha" opens a tag, backtick quotes values */
    char ctx;       /* starting context, first letter of the fingerprint */
    struct detect_result *res;
    bool tail_known;    /* close_at and css_at are filled in (lazily, once) */
    size_t close_at[2]; /* 1 + index of the last "</script", "</style"; 0: none */
    size_t css_at;      /* 1 + index of the last '{' or '@'; 0: none */
};

enum xss_tag_kind {
    TK_PLAIN = 0,   /* harmless unless an attribute makes it otherwise */
    TK_SCRIPT,      /* its content is script or CSS: dangerous by itself */
    TK_LOAD,        /* loads or embeds something once given any attribute
                     * value ("<iframe src=", "<object data=", "<svg x=") */
    TK_META,        /* dangerous with http-equiv (refresh, set-cookie) */
    TK_FORM,        /* dangerous with action= (credential hijack) */
    TK_HREF,        /* base/link: dangerous once href= retargets or loads */
};

struct xss_tag {
    enum xss_tag_kind kind;
    const unsigned char *name; /* tag name for the fingerprint (may be NULL) */
    size_t nl;
    bool breakout;  /* attribute list reached by closing a quoted value */
    bool weak;      /* breakout with no quote to close: only whitespace
                     * separates attributes, since base64 ("...Ho/onafe=")
                     * looks just like "/"-separated ones */
};

/* Tags that execute script, load a document or plug-in, switch the parser
 * into a foreign (SVG/MathML/XML) dialect where more things execute, or
 * rewrite how the rest of the page loads. Compared case-insensitively with
 * the local name (after any "prefix:"). Only the script-bodied ones count
 * bare: "<iframe>" or "<svg>" alone does nothing, and "Local<Object>" is a
 * C++ template. */
#define XSS_TAG(name, kind) {name, sizeof(name) - 1, kind}
static const struct {
    const char *name;
    size_t len;
    enum xss_tag_kind kind;
} xss_tags[] = {
    XSS_TAG("script", TK_SCRIPT), XSS_TAG("style", TK_SCRIPT),  XSS_TAG("xml", TK_SCRIPT),
    XSS_TAG("iframe", TK_LOAD),   XSS_TAG("frame", TK_LOAD),    XSS_TAG("frameset", TK_LOAD),
    XSS_TAG("object", TK_LOAD),   XSS_TAG("embed", TK_LOAD),    XSS_TAG("applet", TK_LOAD),
    XSS_TAG("svg", TK_LOAD),      XSS_TAG("math", TK_LOAD),     XSS_TAG("isindex", TK_LOAD),
    XSS_TAG("bgsound", TK_LOAD),  XSS_TAG("layer", TK_LOAD),    XSS_TAG("ilayer", TK_LOAD),
    XSS_TAG("portal", TK_LOAD),   XSS_TAG("vmlframe", TK_LOAD), XSS_TAG("handler", TK_LOAD),
    XSS_TAG("base", TK_HREF),     XSS_TAG("link", TK_HREF),     XSS_TAG("meta", TK_META),
    XSS_TAG("form", TK_FORM),
};

/* Byte classes, so the hot loops test one table entry per byte. */
enum {
    C_WS = 1,      /* HTML whitespace */
    C_SLASH = 2,
    C_GT = 4,
    C_EQ = 8,
    C_LT = 16,
    C_QUOTE = 32,  /* " ' ` */
    C_PAREN = 64,  /* ( */
    C_MARK = 128,  /* : & (a URL scheme or a character reference) */
    C_HIGH = 256,  /* + 0xBC: a '<' in UTF-7 or US-ASCII */
};
static const unsigned short xss_cls[256] = {
    [' '] = C_WS,   ['\t'] = C_WS,  ['\n'] = C_WS,   ['\f'] = C_WS,   ['\r'] = C_WS,
    ['/'] = C_SLASH, ['>'] = C_GT,  ['='] = C_EQ,    ['<'] = C_LT,    ['"'] = C_QUOTE,
    ['\''] = C_QUOTE, ['`'] = C_QUOTE, ['('] = C_PAREN, [':'] = C_MARK, ['&'] = C_MARK,
    ['+'] = C_HIGH, [0xbc] = C_HIGH,
};

static bool xss_ws(unsigned char c)
{
    return xss_cls[c] & C_WS;
}

static bool xss_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char xss_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive equality of a span with a lowercase literal of length
 * k. Callers use XSS_IEQ so the length is a compile-time constant and the
 * common case (different length) costs one compare. */
static bool xss_ieq(const unsigned char *p, size_t n, const char *lit, size_t k)
{
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++)
        if (xss_lower(p[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

/* Case-insensitive "span starts with lowercase literal" (XSS_IPREFIX). */
static bool xss_iprefix(const unsigned char *p, size_t n, const char *lit, size_t k)
{
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (xss_lower(p[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

#define XSS_IEQ(p, n, lit) xss_ieq((p), (n), "" lit, sizeof(lit) - 1)
#define XSS_IPREFIX(p, n, lit) xss_iprefix((p), (n), "" lit, sizeof(lit) - 1)

/* Records the verdict. The fingerprint is "<ctx>:<token>", lowercased and
 * cut to fit, so the log shows where the scan started and what it saw. */
static bool xss_hit(struct xss_scan *sc, const char *reason, const unsigned char *tok,
                    size_t toklen)
{
    struct detect_result *r = sc->res;
    if (!r)
        return true;
    r->reason = reason;
    size_t o = 0;
    r->fingerprint[o++] = sc->ctx;
    r->fingerprint[o++] = ':';
    for (size_t i = 0; i < toklen && o + 1 < sizeof(r->fingerprint); i++) {
        unsigned char c = xss_lower(tok[i]);
        r->fingerprint[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    r->fingerprint[o] = '\0';
    return true;
}

/* True when s[i] is '<' followed by an ASCII letter: what the loose pass
 * treats as a new tag wherever it appears. */
static bool xss_opens_tag(const struct xss_scan *sc, size_t i)
{
    if (!sc->loose || sc->s[i] != '<' || i + 1 >= sc->n)
        return false;
    /* Old IE also took "<:vmlframe" (empty namespace prefix) as a tag. */
    size_t j = sc->s[i + 1] == ':' ? i + 2 : i + 1;
    return j < sc->n && xss_alpha(sc->s[j]);
}

/* Reads one character of an attribute value as the browser sees it after
 * character-reference decoding, advancing *pi. Only references that can
 * spell an ASCII character matter here; anything else comes back as 0x80
 * (a non-ASCII placeholder). Digit runs are consumed whole but the value
 * saturates, so "&#000000106;" is 'j' and a huge number is not ASCII. */
static unsigned xss_value_char(const unsigned char *p, size_t n, size_t *pi)
{
    size_t i = *pi;
    unsigned char c = p[i];
    if (c != '&' || i + 1 >= n) {
        *pi = i + 1;
        return c;
    }
    size_t j = i + 1;
    if (p[j] == '#') {
        j++;
        bool hex = j < n && (p[j] == 'x' || p[j] == 'X');
        if (hex)
            j++;
        uint32_t v = 0;
        size_t start = j;
        for (; j < n; j++) {
            unsigned d;
            unsigned char h = p[j];
            if (h >= '0' && h <= '9')
                d = h - '0';
            else if (hex && xss_lower(h) >= 'a' && xss_lower(h) <= 'f')
                d = (unsigned)(xss_lower(h) - 'a' + 10);
            else
                break;
            v = v > 0x10ffff ? v : v * (hex ? 16u : 10u) + d;
        }
        if (j == start) {
            *pi = i + 1;
            return '&';
        }
        if (j < n && p[j] == ';')
            j++;
        *pi = j;
        return v < 0x80 ? v : 0x80;
    }
    /* The few named references that spell URL-scheme characters. */
    static const struct {
        const char *name;
        unsigned char ch;
    } named[] = {
        {"tab;", '\t'},   {"newline;", '\n'}, {"colon;", ':'},  {"lpar;", '('},
        {"rpar;", ')'},   {"lt;", '<'},       {"gt;", '>'},     {"quot;", '"'},
        {"apos;", '\''},  {"amp;", '&'},      {"sol;", '/'},    {"bsol;", '\\'},
        {"grave;", '`'},  {"equals;", '='},   {"period;", '.'}, {"nbsp;", 0x80},
    };
    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
        size_t k_len = strlen(named[k].name);
        if (xss_iprefix(p + j, n - j, named[k].name, k_len)) {
            *pi = j + k_len;
            return named[k].ch;
        }
    }
    *pi = i + 1;
    return '&';
}

enum xss_url {
    URL_SAFE = 0,
    URL_SCRIPT,   /* javascript:, vbscript:, livescript: */
    URL_DATA,     /* data: with a type a browser renders as a document or runs */
};

/* Classifies the URL that an attribute value p[0..n) would resolve to.
 * Browsers strip leading C0 controls and spaces and drop tab/CR/LF anywhere
 * in a URL, after decoding character references, so "&#x20;jav&#x09;a
 * script&colon;" is still javascript:. Reads a bounded prefix; *after gets
 * the offset just past the scheme's ':' for callers that look further. */
static enum xss_url xss_url_class(const unsigned char *p, size_t n, size_t *after, bool *obf)
{
    char scheme[16];
    size_t sl = 0, i = 0;
    unsigned c = 0;

    while (i < n) {
        size_t save = i;
        c = xss_value_char(p, n, &i);
        if (c > 0x20) {
            i = save;
            break;
        }
    }
    for (;;) {
        if (i >= n)
            return URL_SAFE;
        size_t at = i;
        c = xss_value_char(p, n, &i);
        if (obf && (i - at > 1 || c == '\t' || c == '\n' || c == '\r'))
            *obf = true; /* a reference or a control inside the scheme */
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == ':')
            break;
        if (!(xss_alpha((unsigned char)c) || (sl > 0 && c < 0x80 &&
              ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
            return URL_SAFE;
        if (sl + 1 >= sizeof(scheme))
            return URL_SAFE;
        scheme[sl++] = (char)xss_lower((unsigned char)c);
    }
    scheme[sl] = '\0';
    if (after)
        *after = i;
    if (!strcmp(scheme, "javascript") || !strcmp(scheme, "vbscript") ||
        !strcmp(scheme, "livescript"))
        return URL_SCRIPT;
    if (strcmp(scheme, "data") != 0)
        return URL_SAFE;

    /* data: is harmful only with a type a frame, object or embed renders
     * as a document or runs; "data:," (text/plain) needs a script element,
     * which is flagged on its own, and "Data: ..." is just prose. */
    char type[32];
    size_t tl = 0;
    while (i < n && tl + 1 < sizeof(type)) {
        c = xss_value_char(p, n, &i);
        if (c <= 0x20)
            continue;
        if (c == ';' || c == ',')
            break;
        type[tl++] = (char)xss_lower((unsigned char)c);
    }
    type[tl] = '\0';
    static const char *const active[] = {
        "text/html", "application/xhtml", "image/svg", "text/xml", "application/xml",
        "text/javascript", "application/javascript", "application/x-javascript",
        "text/ecmascript", "application/ecmascript", "text/vbscript",
        "application/x-shockwave-flash", "text/xsl",
    };
    for (size_t k = 0; k < sizeof(active) / sizeof(active[0]); k++)
        if (!strncmp(type, active[k], strlen(active[k])))
            return URL_DATA;
    /* No type but markup for content: "data:,<svg onload=...>". */
    if (tl == 0 && c == ',' && memchr(p + i, '<', n - i))
        return URL_DATA;
    return URL_SAFE;
}

/* Does the rest of a value look like code rather than prose? A handler or a
 * script URL that calls, assigns, indexes or chains nothing does nothing,
 * so "JavaScript: the good parts" and "online=yes" stay quiet. */
static bool xss_codeish(const unsigned char *p, size_t n, bool strict)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '(':
            /* strict: only a call, "f(" or ")(" — not "parts (see above)" */
            if (!strict || (i > 0 && (xss_alpha(p[i - 1]) || (p[i - 1] >= '0' && p[i - 1] <= '9') ||
                                      p[i - 1] == '_' || p[i - 1] == '$' || p[i - 1] == ')' ||
                                      p[i - 1] == ']')))
                return true;
            break;
        case '`': case '=': case '[': case '.': case ';':
        case '&': case '+': case '\\': case '{': case '/':
            return true;
        default:
            break;
        }
    }
    return false;
}

/* CSS in a style attribute that runs script: IE expression(), url() with a
 * script scheme, IE behaviors and Mozilla XBL bindings. CSS comments,
 * backslash escapes and character references are undone first, since
 * "exp/ * * /ression(" (a comment inside the word) and "\65xpression(" are the usual disguises. A small
 * window of the last significant characters is enough to spot the words. */
static const char *xss_css_danger(const unsigned char *p, size_t n, bool bare)
{
    /* In a style attribute any of these is enough. For a bare value that
     * might land inside one, prose must not trip it ("regular expression(s)",
     * "customer behavior: good"), so the words carry their CSS syntax. */
    static const char *const in_style[] = {
        "expression(", "url(javascript:", "url(vbscript:", "behavior:", "-moz-binding:",
    };
    static const char *const in_bare[] = {
        ":expression(", "url(javascript:", "url(vbscript:", "behavior:url(", "-moz-binding:url(",
    };
    const char *const *words = bare ? in_bare : in_style;
    char win[32]; /* ring: the last significant characters, win[wl % 32] next */
    size_t wl = 0;
    size_t i = 0;
    unsigned quote = 0; /* inside a CSS string a comment opener is text */
    while (i < n) {
        unsigned char b = p[i];
        /* Fast path: a character that needs no decoding and is neither a
         * quote nor the end of a word to look for. */
        if (b > 0x20 && b != '/' && b != '\\' && b != '&' && b != '"' && b != '\'' &&
            b != '(' && b != ':') {
            win[wl++ % sizeof(win)] = (char)xss_lower(b);
            i++;
            continue;
        }
        if (!quote && b == '/' && i + 1 < n && p[i + 1] == '*') {
            const unsigned char *e = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (p[j] == '*' && p[j + 1] == '/') {
                    e = p + j;
                    break;
                }
            i = e ? (size_t)(e - p) + 2 : n;
            continue;
        }
        unsigned c = xss_value_char(p, n, &i);
        if (c == '\\') {
            /* CSS escape: up to six hex digits and one optional space, or
             * the next character taken literally. */
            unsigned v = 0;
            size_t k = 0;
            while (i < n && k < 6) {
                unsigned char h = xss_lower(p[i]);
                if (h >= '0' && h <= '9')
                    v = v * 16 + (h - '0');
                else if (h >= 'a' && h <= 'f')
                    v = v * 16 + (unsigned)(h - 'a' + 10);
                else
                    break;
                i++;
                k++;
            }
            if (k > 0) {
                if (i < n && xss_ws(p[i]))
                    i++;
                c = v < 0x80 ? v : 0x80;
            } else if (i < n) {
                c = p[i++];
            } else {
                continue;
            }
        }
        if (c == '"' || c == '\'') {
            quote = !quote ? c : (quote == c ? 0 : quote);
            continue;
        }
        if (c <= 0x20)
            continue;
        win[wl++ % sizeof(win)] = (char)xss_lower((unsigned char)c);
        if (c == '(' || c == ':') {
            _Static_assert(sizeof(in_style) == sizeof(in_bare), "same word count");
            for (size_t w = 0; w < sizeof(in_style) / sizeof(in_style[0]); w++) {
                size_t k = strlen(words[w]), j = 0;
                if (wl < k)
                    continue;
                while (j < k && win[(wl - k + j) % sizeof(win)] == words[w][j])
                    j++;
                if (j == k)
                    return words[w];
            }
        }
    }
    return NULL;
}

/* An event-handler attribute: "on" plus letters, at least five in all
 * (oncut, onend). Any such name counts, not a list of known events:
 * browsers keep adding them and CRS tests made-up ones. */
static bool xss_event_name(const unsigned char *p, size_t n, bool lax)
{
    if (n < 5 || xss_lower(p[0]) != 'o' || xss_lower(p[1]) != 'n')
        return false;
    for (size_t i = 2; i < n; i++) {
        if (xss_alpha(p[i]))
            continue;
        /* lax (a real tag): old Gecko ended the name at punctuation, so
         * "onload!#$%&()=" was onload. Digits, '-' and '_' still make a
         * custom attribute ("online-status"). */
        return lax && i >= 5 && p[i] != 0 && strchr("!#$%&()*~+.,:;?@[]^|\\`{}", p[i]) != NULL;
    }
    return true;
}

/* One attribute as the tokenizer found it. */
struct xss_attr {
    const unsigned char *name, *v;
    size_t nl, vl;
    bool has_value;
    bool open_end; /* the value ran into the end of the input */
    bool tight;    /* '=' right after the name, no whitespace */
};

static bool xss_check_attr(struct xss_scan *sc, const struct xss_tag *tag,
                           const struct xss_attr *at)
{
    const unsigned char *name = at->name, *v = at->v;
    size_t nl = at->nl, vl = at->vl;
    bool has_value = at->has_value, open_end = at->open_end;
    /* In an assumed tag (breakout) the handler must be written "on...=";
     * "const onError = (e) =>" is code, not markup. */
    bool ev = xss_event_name(name, nl, !tag->breakout) && (!tag->breakout || at->tight);

    /* base/link with an href, even a truncated one ("<link href /="): the
     * page supplies the rest and the resource is loaded or all relative
     * URLs move. */
    if (tag->kind == TK_HREF && XSS_IEQ(name, nl, "href"))
        return xss_hit(sc, "base or link href", name, nl);
    if (!has_value)
        return false;
    /* A handler whose value runs off the end of the input takes the page
     * that follows as its code ("<x onend=", "\"onzoom="); so does a
     * loader's source ("<object data ="). */
    if (open_end && (ev || XSS_IEQ(name, nl, "formaction") || tag->kind == TK_LOAD ||
                     tag->kind == TK_SCRIPT))
        return xss_hit(sc, "handler attribute left open at end of input", name, nl);
    /* Otherwise an empty value does nothing, whatever the name. */
    size_t t = 0;
    while (t < vl && v[t] <= 0x20)
        t++;
    if (t == vl)
        return false;

    if (ev && xss_codeish(v, vl, false))
        return xss_hit(sc, "event handler attribute", name, nl);
    /* A loading tag with any attribute value: src, data, code, xmlns... */
    if (tag->kind == TK_LOAD || tag->kind == TK_SCRIPT)
        return xss_hit(sc, "tag that runs or loads active content", tag->name, tag->nl);
    if (XSS_IEQ(name, nl, "style")) {
        const char *w = xss_css_danger(v, vl, false);
        if (w)
            return xss_hit(sc, "script in style attribute", (const unsigned char *)w,
                           strlen(w));
    }
    /* formaction retargets a form, srcdoc is a whole document, and IE's
     * implementation= binds an HTC behavior (<import>, <?import>). */
    if (((XSS_IEQ(name, nl, "formaction") || XSS_IEQ(name, nl, "srcdoc")) &&
         (!tag->breakout || at->tight)) ||
        (!tag->breakout && XSS_IEQ(name, nl, "implementation")))
        return xss_hit(sc, "attribute that loads a document", name, nl);
    /* A namespace declaration turns "x:script" into script and pulls in
     * XInclude or XSLT; an HTML page has no use for one in user input. */
    if (!tag->breakout && (XSS_IEQ(name, nl, "xmlns") || XSS_IPREFIX(name, nl, "xmlns:")))
        return xss_hit(sc, "xml namespace declaration", name, nl);
    /* meta can redirect (refresh), set cookies or switch the charset the
     * rest of the page is decoded with (UTF-7 and friends). */
    if (tag->kind == TK_META && (XSS_IEQ(name, nl, "http-equiv") || XSS_IEQ(name, nl, "charset")))
        return xss_hit(sc, "meta http-equiv or charset", name, nl);
    if (tag->kind == TK_FORM && XSS_IEQ(name, nl, "action"))
        return xss_hit(sc, "form action", name, nl);
    /* SVG animation can set an event handler or href by name. */
    if (XSS_IEQ(name, nl, "attributename") && vl - t >= 2 &&
        (XSS_IPREFIX(v + t, vl - t, "on") || XSS_IPREFIX(v + t, vl - t, "href") ||
         XSS_IPREFIX(v + t, vl - t, "xlink:href")))
        return xss_hit(sc, "svg animation of handler or link", name, nl);

    /* Any attribute whose value is a script or document URL: href, src,
     * action, data, xlink:href, background, and whatever else a browser or
     * plug-in dereferences. SVG "values" holds a ';'-separated list. */
    /* Without ':' or a character reference there is no scheme to find. */
    if (!memchr(v, ':', vl) && !memchr(v, '&', vl))
        return false;
    bool list = XSS_IEQ(name, nl, "values");
    size_t i = 0;
    while (i < vl) {
        size_t end = vl;
        if (list) {
            const unsigned char *semi = memchr(v + i, ';', vl - i);
            if (semi)
                end = (size_t)(semi - v);
        }
        enum xss_url u = xss_url_class(v + i, end - i, NULL, NULL);
        if (u == URL_SCRIPT)
            return xss_hit(sc, "script URL in attribute", name, nl);
        if (u == URL_DATA)
            return xss_hit(sc, "data URL with active content in attribute", name, nl);
        i = end + 1;
    }
    return false;
}

/* Walks an attribute list from *pi until the tag ends, as the HTML5
 * before/after attribute name and value states do. On return *pi is past
 * the closing '>', at the end, or (loose pass) on a '<' opening a new tag. */
static bool xss_scan_attrs(struct xss_scan *sc, size_t *pi, const struct xss_tag *tag)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, i = *pi;
    bool hit = false;

    for (;;) {
        while (i < n && (xss_ws(s[i]) || s[i] == '/'))
            i++;
        if (i >= n)
            break;
        if (s[i] == '>') {
            i++;
            break;
        }
        if (xss_opens_tag(sc, i))
            break;
        size_t ns, nl;
        if (tag->breakout && !sc->loose) {
            /* In an assumed tag only attributes with a value can matter,
             * and the name of one is the word just before its '='; jump
             * there instead of tokenizing every word of a long text. */
            size_t j = i;
            while (j < n && !(xss_cls[s[j]] & (C_EQ | C_GT)))
                j++;
            if (j >= n) {
                i = n;
                break;
            }
            if (s[j] == '>') {
                i = j + 1;
                break;
            }
            size_t e = j;
            while (e > i && xss_ws(s[e - 1]))
                e--;
            ns = e;
            while (ns > i && !(xss_cls[s[ns - 1]] & (C_WS | C_SLASH)))
                ns--;
            nl = e - ns;
            if (nl == 0) { /* "=" opening a name: never a dangerous one */
                i = j + 1;
                continue;
            }
            i = j;
        } else {
            /* A name may start with '=' and holds quotes and '<' (parse
             * errors, but that is what the browser stores). */
            ns = i++;
            unsigned stop = C_WS | C_SLASH | C_GT | C_EQ | (sc->loose ? C_LT : 0);
            while (i < n && (!(xss_cls[s[i]] & stop) || (s[i] == '<' && !xss_opens_tag(sc, i))))
                i++;
            nl = i - ns;
            while (i < n && xss_ws(s[i]))
                i++;
        }
        bool has_value = false, open_end = false, tight = i == ns + nl;
        size_t vs = i, ve = i;
        if (i < n && s[i] == '=') {
            has_value = true;
            i++;
            while (i < n && xss_ws(s[i]))
                i++;
            unsigned char q = i < n ? s[i] : 0;
            if (q == '"' || q == '\'' || (q == '`' && sc->loose)) {
                vs = ++i;
                if (!sc->loose) {
                    const unsigned char *e = memchr(s + i, q, n - i);
                    i = e ? (size_t)(e - s) : n;
                }
                while (i < n && s[i] != q && !xss_opens_tag(sc, i))
                    i++;
                ve = i;
                open_end = i == n;
                if (i < n && s[i] == q)
                    i++;
            } else {
                vs = i;
                unsigned vstop = C_WS | C_GT | (sc->loose ? C_LT : 0);
                while (i < n && (!(xss_cls[s[i]] & vstop) || (s[i] == '<' && !xss_opens_tag(sc, i))))
                    i++;
                ve = i;
                open_end = vs == n;
            }
        }
        if (tag->weak && ns > 0 && s[ns - 1] == '/')
            continue;
        struct xss_attr at = {s + ns, s + vs, nl, ve - vs, has_value, open_end, tight};
        if (xss_check_attr(sc, tag, &at)) {
            hit = true;
            break;
        }
    }
    *pi = i;
    return hit;
}

/* Is the '<' before the tag name at ns glued to an identifier, as in a
 * generic type "List<Script>"? (The loose pass's "<:" counts as well.) */
static bool xss_after_ident(const struct xss_scan *sc, size_t ns)
{
    size_t lt = ns - 1;
    if (sc->s[lt] != '<' && lt > 0)
        lt--; /* "<:name" */
    if (lt == 0)
        return false;
    unsigned char c = sc->s[lt - 1];
    if (!(xss_alpha(c) || (c >= '0' && c <= '9') || c == '_'))
        return false;
    /* Only a type-like identifier makes a generic: "List<Script>" has both
     * names capitalised; "example.com<script>" is a tag glued to text. */
    size_t st = lt - 1;
    while (st > 0 && (xss_alpha(sc->s[st - 1]) || (sc->s[st - 1] >= '0' && sc->s[st - 1] <= '9') ||
                      sc->s[st - 1] == '_'))
        st--;
    unsigned char first = sc->s[st], tag0 = ns < sc->n ? sc->s[ns] : 0;
    return first >= 'A' && first <= 'Z' && tag0 >= 'A' && tag0 <= 'Z';
}

/* Where closing tags and CSS syntax last occur, found in one pass the
 * first time a tag asks, so a thousand "<style>"s still cost one scan. */
static void xss_tail_facts(struct xss_scan *sc)
{
    if (sc->tail_known)
        return;
    sc->tail_known = true;
    for (size_t k = 0; k < sc->n; k++) {
        unsigned char c = sc->s[k];
        if (c == '{' || c == '@')
            sc->css_at = k + 1;
        if (c != '<' || k + 2 >= sc->n || sc->s[k + 1] != '/')
            continue;
        if (XSS_IPREFIX(sc->s + k + 2, sc->n - k - 2, "script"))
            sc->close_at[0] = k + 1;
        else if (XSS_IPREFIX(sc->s + k + 2, sc->n - k - 2, "style"))
            sc->close_at[1] = k + 1;
    }
}

/* Does "</name" (script or style) occur after position from? */
static bool xss_closed_later(struct xss_scan *sc, const struct xss_tag *tag, size_t from)
{
    size_t ls = 0;
    for (size_t k = 0; k < tag->nl; k++)
        if (tag->name[k] == ':')
            ls = k + 1;
    const unsigned char *local = tag->name + ls;
    size_t ll = tag->nl - ls;
    int which = XSS_IEQ(local, ll, "script") ? 0 : XSS_IEQ(local, ll, "style") ? 1 : -1;
    if (which < 0)
        return false;
    xss_tail_facts(sc);
    return sc->close_at[which] > from;
}

/* A start or end tag whose name begins at *pi (just past "<" or "</"). */
static bool xss_scan_tag(struct xss_scan *sc, size_t *pi, bool end_tag)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, i = *pi, ns = i;
    struct xss_tag tag = {TK_PLAIN, NULL, 0, false, false};

    unsigned stop = C_WS | C_SLASH | C_GT | (sc->loose ? C_LT : 0);
    while (i < n && (!(xss_cls[s[i]] & stop) || (s[i] == '<' && !xss_opens_tag(sc, i))))
        i++;
    tag.name = s + ns;
    tag.nl = i - ns;
    if (!end_tag) {
        /* "x:script" is a script element once an xmlns maps x to XHTML. */
        size_t ls = ns;
        for (size_t k = ns; k < i; k++)
            if (s[k] == ':')
                ls = k + 1;
        unsigned char first = ls < i ? xss_lower(s[ls]) : 0;
        for (size_t k = 0; k < sizeof(xss_tags) / sizeof(xss_tags[0]); k++) {
            if ((unsigned char)xss_tags[k].name[0] == first &&
                xss_ieq(s + ls, i - ls, xss_tags[k].name, xss_tags[k].len)) {
                tag.kind = xss_tags[k].kind;
                break;
            }
        }
        /* Script and style run bare, except where a type name stands in
         * code ("List<Script>"): there they need attributes (checked with
         * them) or a closing tag later on ("x<script>...</script>"). A
         * style also needs CSS to run: "--format=<style>" is a placeholder. */
        bool is_style = tag.kind == TK_SCRIPT && XSS_IEQ(s + ls, i - ls, "style");
        if (is_style)
            xss_tail_facts(sc);
        if (tag.kind == TK_SCRIPT &&
            (is_style ? xss_closed_later(sc, &tag, i) || sc->css_at > i
                      : !xss_after_ident(sc, ns) || xss_closed_later(sc, &tag, i))) {
            *pi = i;
            return xss_hit(sc, "tag that runs or loads active content", s + ns, i - ns);
        }
    }
    *pi = i;
    return xss_scan_attrs(sc, pi, &tag);
}

/* Bogus comment ("<?...>", "</1...>", "<!x...>"): text up to the first
 * '>'. Returns the index past it. */
static size_t xss_skip_to_gt(const struct xss_scan *sc, size_t i)
{
    const unsigned char *gt = memchr(sc->s + i, '>', sc->n - i);
    return gt ? (size_t)(gt - sc->s) + 1 : sc->n;
}

/* "<!" at *pi - 1: comment, doctype, CDATA or bogus comment. */
static bool xss_scan_decl(struct xss_scan *sc, size_t *pi)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, i = *pi + 1; /* past '!' */

    if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
        i += 2;
        /* IE conditional comments run their content as markup. */
        if (XSS_IPREFIX(s + i, n - i, "[if"))
            return xss_hit(sc, "conditional comment", s + i, 3);
        /* "<!-->" and "<!--->" close at once; otherwise the comment ends
         * at "-->" or "--!>" (or runs to the end). */
        if (i < n && s[i] == '>') {
            *pi = i + 1;
            return false;
        }
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '>') {
            *pi = i + 2;
            return false;
        }
        for (; i < n; i++) {
            if (s[i] != '-' || i + 2 >= n || s[i + 1] != '-')
                continue;
            if (s[i + 2] == '>') {
                i += 3;
                break;
            }
            if (s[i + 2] == '!' && i + 3 < n && s[i + 3] == '>') {
                i += 4;
                break;
            }
        }
        *pi = i < n ? i : n;
        return false;
    }
    /* Entity declarations redefine text (XML parsers act on them); a
     * doctype with an internal subset is how they get in. */
    if (XSS_IPREFIX(s + i, n - i, "entity"))
        return xss_hit(sc, "entity declaration", s + i, 6);
    if (XSS_IPREFIX(s + i, n - i, "doctype")) {
        /* "<!DOCTYPE x [" or "... SYSTEM "u" [": the '[' follows a name or
         * a quoted id, not "(" as in a regex that mentions doctypes. */
        size_t e = xss_skip_to_gt(sc, i);
        const unsigned char *b = memchr(s + i, '[', e - i);
        if (b) {
            size_t k = (size_t)(b - s);
            while (k > i && xss_ws(s[k - 1]))
                k--;
            unsigned char pc = s[k - 1];
            if (xss_alpha(pc) || (pc >= '0' && pc <= '9') || pc == '"' || pc == '\'' ||
                pc == '_' || pc == '-' || pc == '.' || pc == ':')
                return xss_hit(sc, "doctype with internal subset", s + i, 7);
        }
        *pi = e;
        return false;
    }
    *pi = xss_skip_to_gt(sc, i);
    return false;
}

/* Is p[0..n) a script-running or loading tag name followed by a non-letter
 * (or the end)? Used where the '<' itself is disguised. */
static bool xss_dangerous_name_at(const unsigned char *p, size_t n)
{
    size_t k = 0;
    while (k < n && k < 16 && xss_alpha(p[k]))
        k++;
    if (k == n ? false : xss_alpha(p[k]))
        return false;
    for (size_t t = 0; t < sizeof(xss_tags) / sizeof(xss_tags[0]); t++)
        if ((xss_tags[t].kind == TK_SCRIPT || xss_tags[t].kind == TK_LOAD) &&
            xss_ieq(p, k, xss_tags[t].name, xss_tags[t].len))
            return true;
    return false;
}

/* Markup in a charset the page might be read in: UTF-7 ("+ADw-script+AD4-",
 * old IE sniffing) and 7-bit US-ASCII, where the high bit is dropped and
 * 0xBC/0xBE are '<'/'>' ("\xbcscript\xbe"). A disguised '<' before a
 * dangerous tag name and a disguised '>' after it are required. */
static bool xss_scan_charsets(struct xss_scan *sc)
{
    const unsigned char *s = sc->s, *p;
    size_t n = sc->n;
    size_t last_gt = 0; /* 1 + index of the last 0xBE; 0: none */
    const unsigned char *g = s + n;
    while (g > s)
        if (*--g == 0xbe) {
            last_gt = (size_t)(g - s) + 1;
            break;
        }
    for (p = memchr(s, 0xbc, n); p && last_gt; p = memchr(p + 1, 0xbc, n - (size_t)(p + 1 - s))) {
        size_t i = (size_t)(p - s) + 1;
        if (i < last_gt && xss_dangerous_name_at(s + i, n - i))
            return xss_hit(sc, "tag in US-ASCII (high bit set)", p, 8 < n - i + 1 ? 8 : n - i + 1);
    }
    bool gt7 = false;
    for (size_t i = n; i >= 4; i--)
        if (s[i - 4] == '+' && s[i - 3] == 'A' && s[i - 2] == 'D' && s[i - 1] == '4') {
            gt7 = true;
            last_gt = i - 4;
            break;
        }
    for (p = memchr(s, '+', n); p && gt7; p = memchr(p + 1, '+', n - (size_t)(p + 1 - s))) {
        size_t i = (size_t)(p - s);
        if (n - i >= 5 && !memcmp(p, "+ADw-", 5) && i + 5 < last_gt &&
            xss_dangerous_name_at(s + i + 5, n - i - 5))
            return xss_hit(sc, "tag in UTF-7", p, 5);
    }
    return false;
}

/* Scans from i in the data (text) state to the end of the input. */
static bool xss_scan_data(struct xss_scan *sc, size_t i)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;

    while (i < n) {
        const unsigned char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            return false;
        i = (size_t)(lt - s) + 1;
        if (i >= n)
            return false;
        unsigned char c = s[i];
        if (xss_alpha(c) || (sc->loose && xss_opens_tag(sc, i - 1))) {
            if (xss_scan_tag(sc, &i, false))
                return true;
        } else if (sc->loose) {
            continue; /* "<!", "<?", "</" are text here; their insides get scanned */
        } else if (c == '/') {
            if (i + 1 < n && xss_alpha(s[i + 1])) {
                i++;
                if (xss_scan_tag(sc, &i, true))
                    return true;
            } else {
                i = xss_skip_to_gt(sc, i);
            }
        } else if (c == '!') {
            if (xss_scan_decl(sc, &i))
                return true;
        } else if (c == '?') {
            /* Processing instructions that old IE and XML parsers act on. */
            if (XSS_IPREFIX(s + i + 1, n - i - 1, "import") ||
                XSS_IPREFIX(s + i + 1, n - i - 1, "xml-stylesheet"))
                return xss_hit(sc, "processing instruction", s + i, 7 < n - i ? 7 : n - i);
            i = xss_skip_to_gt(sc, i);
        }
    }
    return false;
}

/* The value started inside a tag: close the attribute value it landed in
 * (quote 0: unquoted) as the browser would, or none (in_list: between
 * attributes, "<input HERE>"), and continue with the rest of the assumed
 * tag, then the text after it. */
static bool xss_scan_breakout(struct xss_scan *sc, unsigned char quote, bool in_list)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, i;

    if (in_list) {
        i = 0;
    } else if (quote) {
        const unsigned char *q = memchr(s, quote, n);
        if (!q)
            return false;
        i = (size_t)(q - s) + 1;
    } else {
        i = 0;
        while (i < n && !(xss_cls[s[i]] & (C_WS | C_GT)))
            i++;
    }
    if (i >= n)
        return false;
    struct xss_tag tag = {TK_PLAIN, NULL, 0, true, quote == 0};
    if (xss_scan_attrs(sc, &i, &tag))
        return true;
    return xss_scan_data(sc, i);
}

bool detect_xss(const char *str, size_t n, struct detect_result *res)
{
    const unsigned char *s = (const unsigned char *)str;
    struct xss_scan sc = {s, n, false, 'd', res, false, {0, 0}, 0};

    if (res) {
        res->reason = NULL;
        res->fingerprint[0] = '\0';
    }
    if (!s || n == 0)
        return false;

    /* Every verdict needs a tag ('<'), an attribute value ('='), a URL
     * scheme (':', possibly spelled "&colon;"). Most values have none. */
    unsigned cls = 0;
    for (size_t i = 0; i < n; i++)
        cls |= xss_cls[s[i]];
    if (!(cls & (C_LT | C_EQ | C_MARK | C_HIGH)))
        return false;

    /* A bare value that is itself a script URL, for href="HERE". Prose
     * mentioning JavaScript needs something code-like after the colon. */
    if (cls & C_MARK) {
        size_t after = 0;
        bool obf = false;
        enum xss_url u = xss_url_class(s, n, &after, &obf);
        if ((u == URL_SCRIPT && (obf || xss_codeish(s + after, n - after, true))) ||
            u == URL_DATA) {
            sc.ctx = 'u';
            return xss_hit(&sc, u == URL_SCRIPT ? "script URL" : "data URL with active content",
                           s, after);
        }
    }

    if (cls & C_LT) {
        sc.ctx = 'd';
        if (xss_scan_data(&sc, 0))
            return true;
        sc.ctx = 'l';
        sc.loose = true;
        if (xss_scan_data(&sc, 0))
            return true;
        sc.loose = false;
    }
    /* Breakouts need an attribute value ('='), or markup after the tag
     * they close ('<'). */
    if (cls & (C_EQ | C_LT)) {
        sc.ctx = 'a';
        if (xss_scan_breakout(&sc, 0, true))
            return true;
        sc.ctx = 'v';
        if (xss_scan_breakout(&sc, 0, false))
            return true;
        if (cls & C_QUOTE) {
            static const char quotes[] = {'"', '\'', '`'};
            static const char ctxs[] = {'q', 's', 'b'};
            for (size_t k = 0; k < sizeof(quotes); k++) {
                if (!memchr(s, quotes[k], n))
                    continue;
                sc.ctx = ctxs[k];
                if (xss_scan_breakout(&sc, (unsigned char)quotes[k], false))
                    return true;
            }
        }
    }
    /* Only values with a '+' (UTF-7) or a high byte (US-ASCII) qualify. */
    sc.ctx = 'e';
    if ((cls & C_HIGH) && xss_scan_charsets(&sc))
        return true;
    /* A value that lands inside style="HERE"; every bare word has '(' and ':'. */
    if ((cls & C_PAREN) && (cls & C_MARK)) {
        const char *w = xss_css_danger(s, n, true);
        if (w) {
            sc.ctx = 'c';
            return xss_hit(&sc, "script in CSS", (const unsigned char *)w, strlen(w));
        }
    }
    return false;
}
