/* Allowlist rules for false positives, written as SecLang exclusions with
 * CRS's runtime-exclusion semantics: a phase-1 rule that matches the
 * request (path, exact path, client address or a header value) and then
 * turns a detection rule off for this transaction -- entirely
 * (ctl:ruleRemoveById / ruleRemoveByTag) or for one variable
 * (ctl:ruleRemoveTargetById / ruleRemoveTargetByTag). Such rules must be
 * loaded before CRS, like CRS's REQUEST-900 exclusion files.
 *
 * Everything written into a rule comes from the operator's file or from
 * `mamori eval --json`, and a value that could close a quoted string or
 * add an action (quotes, backslashes, commas, semicolons, spaces, control
 * bytes) is refused rather than escaped, so a generated rule can never do
 * more than the one exclusion it names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "shield/shield_int.h"

#define LINE_MAX_LEN 4096

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A URL path as it may appear inside "@rx ..." or "@streq ...". */
static bool path_ok(const char *s)
{
    if (!s || s[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_alnum(*p) && !strchr("/-._~%!$&'()*+=:@", *p))
            return false;
    return strchr(s, '\'') == NULL && strlen(s) < 1024;
}

/* A header name (RFC 9110 token, without the characters SecLang treats
 * specially in a variable name). */
static bool header_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_alnum(*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* A header value compared with @streq: printable ASCII without quotes,
 * backslashes or spaces (the line form splits on spaces anyway). */
static bool header_value_ok(const char *s)
{
    if (!s || strlen(s) > 256)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '\'')
            return false;
    return true;
}

/* "10.0.0.0/8,192.168.1.5,2001:db8::/32": each item a valid address/CIDR. */
static bool addr_list_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 2048)
        return false;
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    if (!b)
        return false;
    bool ok = true;
    for (const char *p = s; ok;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        ok = n > 0 && shield_iplist_builder_add(b, p, n, NULL, 0) == 0;
        if (!c)
            break;
        p = c + 1;
    }
    shield_iplist_builder_free(b);
    return ok;
}

static bool tag_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_alnum(*p) && !strchr("-_./", *p))
            return false;
    return true;
}

/* A rule target: COLLECTION or COLLECTION:key, e.g. ARGS:content,
 * REQUEST_COOKIES:session, REQUEST_HEADERS:User-Agent, ARGS_NAMES:foo. */
static bool target_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    for (; *p && *p != ':'; p++)
        if (!(*p >= 'A' && *p <= 'Z') && *p != '_')
            return false;
    if (p == (const unsigned char *)s)
        return false;
    if (*p == ':') {
        if (!p[1])
            return false;
        for (p++; *p; p++)
            if (!is_alnum(*p) && !strchr("-_.[]/^$*", *p))
                return false;
    }
    return true;
}

/* Writes the regex "^PREFIX(?:/|$)" with the metacharacters escaped. */
static int prefix_regex(const char *pre, char *out, size_t cap)
{
    size_t n = strlen(pre), o = 0;
    while (n > 1 && pre[n - 1] == '/')
        n--;
    if (o + 2 >= cap)
        return -1;
    out[o++] = '^';
    for (size_t i = 0; i < n; i++) {
        if (o + 3 >= cap)
            return -1;
        if (strchr(".$()*+?[]{}|^", pre[i]))
            out[o++] = '\\';
        out[o++] = pre[i];
    }
    if (n == 1) { /* "/" covers everything */
        out[o] = 0;
        return 0;
    }
    const char tail[] = "(?:/|$)";
    if (o + sizeof tail > cap)
        return -1;
    memcpy(out + o, tail, sizeof tail);
    return 0;
}

int shield_allowrule_to_seclang(const struct shield_allowrule *r, unsigned id, char *out,
                                size_t cap, char *err, size_t errcap)
{
    char cond[2400] = "", what[512];
    int n;
    if (id == 0) {
        seterr(err, errcap, "rule id 0 is not allowed");
        return -1;
    }
    /* What to turn off. */
    if (r->rule_id == 0 && !tag_ok(r->tag)) {
        seterr(err, errcap, "need 'rule ID' or 'tag TAG' (letters, digits, '-_./')");
        return -1;
    }
    if (r->rule_id && r->rule_last && r->rule_last < r->rule_id) {
        seterr(err, errcap, "rule range %u-%u ends before it starts", r->rule_id, r->rule_last);
        return -1;
    }
    if (r->target && !target_ok(r->target)) {
        seterr(err, errcap, "bad target '%.60s' (expected e.g. ARGS:name or REQUEST_COOKIES)",
               r->target);
        return -1;
    }
    char ids[32];
    if (r->rule_id && r->rule_last && r->rule_last != r->rule_id)
        snprintf(ids, sizeof ids, "%u-%u", r->rule_id, r->rule_last);
    else
        snprintf(ids, sizeof ids, "%u", r->rule_id);
    if (r->rule_id)
        n = r->target ? snprintf(what, sizeof what, "ctl:ruleRemoveTargetById=%s;%s", ids, r->target)
                      : snprintf(what, sizeof what, "ctl:ruleRemoveById=%s", ids);
    else
        n = r->target ? snprintf(what, sizeof what, "ctl:ruleRemoveTargetByTag=%s;%s", r->tag,
                                 r->target)
                      : snprintf(what, sizeof what, "ctl:ruleRemoveByTag=%s", r->tag);
    if (n < 0 || (size_t)n >= sizeof what) {
        seterr(err, errcap, "exclusion too long");
        return -1;
    }
    /* When. */
    switch (r->match) {
    case SHIELD_ALLOW_ANY:
        break;
    case SHIELD_ALLOW_PATH: {
        char rx[2200];
        if (!path_ok(r->value) || prefix_regex(r->value, rx, sizeof rx)) {
            seterr(err, errcap, "bad path '%.60s' (must start with '/', no spaces or quotes)",
                   r->value ? r->value : "");
            return -1;
        }
        n = snprintf(cond, sizeof cond, "SecRule REQUEST_FILENAME \"@rx %s\"", rx);
        break;
    }
    case SHIELD_ALLOW_PATH_EXACT:
        if (!path_ok(r->value)) {
            seterr(err, errcap, "bad path '%.60s' (must start with '/', no spaces or quotes)",
                   r->value ? r->value : "");
            return -1;
        }
        n = snprintf(cond, sizeof cond, "SecRule REQUEST_FILENAME \"@streq %s\"", r->value);
        break;
    case SHIELD_ALLOW_ADDR:
        if (!addr_list_ok(r->value)) {
            seterr(err, errcap, "bad address list '%.60s' (addresses or CIDRs, comma-separated)",
                   r->value ? r->value : "");
            return -1;
        }
        n = snprintf(cond, sizeof cond, "SecRule REMOTE_ADDR \"@ipMatch %s\"", r->value);
        break;
    case SHIELD_ALLOW_HEADER:
        if (!header_name_ok(r->header) || !header_value_ok(r->value)) {
            seterr(err, errcap, "bad header match (expected NAME=VALUE, no quotes or spaces)");
            return -1;
        }
        n = snprintf(cond, sizeof cond, "SecRule REQUEST_HEADERS:%s \"@streq %s\"", r->header,
                     r->value);
        break;
    default:
        seterr(err, errcap, "unknown match kind");
        return -1;
    }
    if (n < 0 || (size_t)n >= sizeof cond) {
        seterr(err, errcap, "match value too long");
        return -1;
    }
    if (r->match == SHIELD_ALLOW_ANY)
        n = snprintf(out, cap,
                     "SecAction \"id:%u,phase:1,pass,t:none,nolog,tag:'mamori/allowlist',%s\"\n",
                     id, what);
    else
        n = snprintf(out, cap,
                     "%s \"id:%u,phase:1,pass,t:none,nolog,tag:'mamori/allowlist',%s\"\n", cond,
                     id, what);
    if (n < 0 || (size_t)n >= cap) {
        seterr(err, errcap, "output buffer too small");
        return -1;
    }
    return n;
}

static char *next_word(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *w = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\r')
        s++;
    if (*s)
        *s++ = 0;
    *p = s;
    return w;
}

static int parse_uint(const char *s, unsigned *out)
{
    unsigned long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 999999999ul)
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v == 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int shield_allowrule_parse(char *line, struct shield_allowrule *r, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    char *h = strchr(line, '#');
    if (h)
        *h = 0;
    char *p = line, *w = next_word(&p);
    if (!w)
        return 0;
    r->match = SHIELD_ALLOW_ANY;
    if (!strcmp(w, "any")) {
        w = next_word(&p);
    } else if (!strcmp(w, "path") || !strcmp(w, "exact") || !strcmp(w, "addr") ||
               !strcmp(w, "header")) {
        const char *kind = w;
        char *v = next_word(&p);
        if (!v) {
            seterr(err, errcap, "'%s' needs a value", kind);
            return -1;
        }
        if (!strcmp(kind, "path")) {
            r->match = SHIELD_ALLOW_PATH;
        } else if (!strcmp(kind, "exact")) {
            r->match = SHIELD_ALLOW_PATH_EXACT;
        } else if (!strcmp(kind, "addr")) {
            r->match = SHIELD_ALLOW_ADDR;
        } else {
            char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                seterr(err, errcap, "'header' needs NAME=VALUE");
                return -1;
            }
            *eq = 0;
            r->match = SHIELD_ALLOW_HEADER;
            r->header = v;
            v = eq + 1;
        }
        r->value = v;
        w = next_word(&p);
    }
    if (!w) {
        seterr(err, errcap, "need 'rule ID' or 'tag TAG'");
        return -1;
    }
    char *v = next_word(&p);
    if (!strcmp(w, "rule")) {
        if (!v) {
            seterr(err, errcap, "'rule' needs an id or a range");
            return -1;
        }
        char *dash = strchr(v, '-');
        if (dash)
            *dash = 0;
        if (parse_uint(v, &r->rule_id) || (dash && parse_uint(dash + 1, &r->rule_last))) {
            seterr(err, errcap, "bad rule id '%.40s'", v);
            return -1;
        }
    } else if (!strcmp(w, "tag")) {
        if (!v) {
            seterr(err, errcap, "'tag' needs a tag");
            return -1;
        }
        r->tag = v;
    } else {
        seterr(err, errcap, "unknown word '%.40s' (expected path, exact, addr, header, any, rule "
                            "or tag)", w);
        return -1;
    }
    w = next_word(&p);
    if (w) {
        if (strcmp(w, "target") != 0) {
            seterr(err, errcap, "unexpected '%.40s' (only 'target VAR' may follow)", w);
            return -1;
        }
        r->target = next_word(&p);
        if (!r->target) {
            seterr(err, errcap, "'target' needs a variable, e.g. ARGS:content");
            return -1;
        }
        if (r->rule_last && r->rule_last != r->rule_id) {
            seterr(err, errcap, "a target exclusion takes one rule id, not a range");
            return -1;
        }
        if ((w = next_word(&p))) {
            seterr(err, errcap, "unexpected '%.40s' at the end of the line", w);
            return -1;
        }
    }
    /* Check everything now so errors carry the line number. */
    char tmp[4096];
    if (shield_allowrule_to_seclang(r, 1, tmp, sizeof tmp, err, errcap) < 0)
        return -1;
    return 1;
}

long shield_allowrule_compile(const char *text, size_t n, const char *name, unsigned first_id,
                              char *out, size_t cap, char *err, size_t errcap)
{
    size_t used = 0;
    unsigned long lineno = 0;
    unsigned id = first_id;
    char line[LINE_MAX_LEN], why[256];
    const char *p = text, *end = text + n;
    if (!name)
        name = "(allowlist)";
    if (cap)
        out[0] = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ln = (size_t)((nl ? nl : end) - p);
        lineno++;
        if (ln >= sizeof line) {
            seterr(err, errcap, "%s:%lu: line longer than %d bytes", name, lineno,
                   LINE_MAX_LEN - 1);
            return -1;
        }
        memcpy(line, p, ln);
        line[ln] = 0;
        p = nl ? nl + 1 : end;
        if (memchr(line, 0, ln)) {
            seterr(err, errcap, "%s:%lu: NUL byte in the line", name, lineno);
            return -1;
        }
        struct shield_allowrule r;
        int rc = shield_allowrule_parse(line, &r, why, sizeof why);
        if (rc < 0) {
            seterr(err, errcap, "%s:%lu: %s", name, lineno, why);
            return -1;
        }
        if (rc == 0)
            continue;
        if (id == 0 || id > 999999999u) {
            seterr(err, errcap, "%s:%lu: out of rule ids", name, lineno);
            return -1;
        }
        int w = shield_allowrule_to_seclang(&r, id, out + used, cap - used, why, sizeof why);
        if (w < 0) {
            seterr(err, errcap, "%s:%lu: %s", name, lineno, why);
            return -1;
        }
        used += (size_t)w;
        id++;
    }
    return (long)used;
}

/* Rules that only add up or report scores (CRS's initialisation and
 * blocking-evaluation rules) are not detections and never excluded. */
static bool is_detection(long id, const char *var)
{
    if (id <= 0)
        return false;
    long fam = id / 1000;
    if (fam == 901 || fam == 905 || fam == 949 || fam == 959 || fam == 980 || fam == 999)
        return false;
    if (var && (!strncmp(var, "TX:", 3) || !strcmp(var, "TX")))
        return false;
    return true;
}

/* One exclusion per matched detection rule, as narrow as the output
 * allows: that rule, that variable, that exact path. A key the line form
 * cannot carry (spaces, quotes...) widens to its collection (ARGS). eval
 * names only the last variable a rule matched, so a rule that matched two
 * arguments needs a second round: apply, re-run eval, propose again. */
long shield_propose_exclusion(const char *json, size_t json_n, const char *path, size_t path_n,
                              char *out, size_t cap, char *err, size_t errcap)
{
    char ebuf[200];
    char pbuf[1024];
    long rc = -1;
    size_t used = 0;
    yajl_val root = NULL;
    char *txt = NULL;
    if (cap)
        out[0] = 0;
    if (path_n == 0 || path_n >= sizeof pbuf) {
        seterr(err, errcap, "the path must be 1 to %zu bytes", sizeof pbuf - 1);
        return -1;
    }
    /* Only the path: drop a query string if the caller passed one. */
    const char *q = memchr(path, '?', path_n);
    if (q)
        path_n = (size_t)(q - path);
    memcpy(pbuf, path, path_n);
    pbuf[path_n] = 0;
    if (!path_ok(pbuf)) {
        seterr(err, errcap, "path '%.60s' has characters an exclusion cannot carry "
                            "(write the rule by hand)", pbuf);
        return -1;
    }
    txt = malloc(json_n + 1);
    if (!txt) {
        seterr(err, errcap, "out of memory");
        return -1;
    }
    memcpy(txt, json, json_n);
    txt[json_n] = 0;
    root = yajl_tree_parse(txt, ebuf, sizeof ebuf);
    if (!root) {
        seterr(err, errcap, "not the JSON of 'mamori eval --json': %.120s", ebuf);
        goto out;
    }
    const char *mp[] = {"matched", NULL};
    yajl_val m = yajl_tree_get(root, mp, yajl_t_array);
    if (!m) {
        seterr(err, errcap, "no \"matched\" array (is this 'mamori eval --json' output?)");
        goto out;
    }
    size_t count = 0;
    for (size_t i = 0; i < m->u.array.len; i++) {
        yajl_val o = m->u.array.values[i];
        const char *ip[] = {"id", NULL}, *vp[] = {"var", NULL};
        yajl_val idv = yajl_tree_get(o, ip, yajl_t_number);
        yajl_val vv = yajl_tree_get(o, vp, yajl_t_string);
        if (!idv || !YAJL_IS_INTEGER(idv))
            continue;
        long id = (long)YAJL_GET_INTEGER(idv);
        const char *var = vv ? YAJL_GET_STRING(vv) : NULL;
        if (!is_detection(id, var) || id > 999999999L)
            continue;
        struct shield_allowrule r = {.match = SHIELD_ALLOW_PATH_EXACT, .value = pbuf,
                                     .rule_id = (unsigned)id};
        char coll[64];
        if (var && *var && target_ok(var)) {
            r.target = var;
        } else if (var && *var) {
            size_t cn = strcspn(var, ":");
            if (cn > 0 && cn < sizeof coll) {
                memcpy(coll, var, cn);
                coll[cn] = 0;
                if (target_ok(coll))
                    r.target = coll;
            }
        }
        char seclang[4096];
        if (shield_allowrule_to_seclang(&r, 1, seclang, sizeof seclang, ebuf, sizeof ebuf) < 0)
            continue;
        int n = r.target ? snprintf(out + used, cap - used, "exact %s rule %ld target %s\n", pbuf,
                                    id, r.target)
                         : snprintf(out + used, cap - used, "exact %s rule %ld\n", pbuf, id);
        if (n < 0 || (size_t)n >= cap - used) {
            seterr(err, errcap, "output buffer too small");
            goto out;
        }
        used += (size_t)n;
        count++;
    }
    if (!count) {
        seterr(err, errcap, "no detection rule matched: nothing to exclude");
        goto out;
    }
    rc = (long)used;
out:
    yajl_tree_free(root);
    free(txt);
    return rc;
}
