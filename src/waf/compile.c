/* The SecLang compiler: directives in, an immutable waf_program out.
 *
 * Everything a directive says is either compiled into the program or
 * refused with "file:line: reason": nothing is silently ignored. Directives
 * that configure parts of ModSecurity that mamori replaces with its own
 * (audit log, debug log, temporary files) are accepted, checked, and have no
 * effect; docs/seclang.md lists them. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "waf/compile.h"
#include "waf/macro.h"
#include "waf/rx_prefilter.h"
#include "waf/tx.h"
#include "waf/seclang.h"
#include "waf/vars_table.h"
#include "waf/waf.h"

struct waf_builder {
    struct waf_program *p;
    struct seclang_ctx lex;
    struct actions defaults[WAF_PHASES + 1];
    bool has_default[WAF_PHASES + 1];
    struct rule **list; /* chain starters, markers, actions in file order */
    size_t nlist, caplist;
    struct rule *chain_tail; /* last rule of an open chain */
    char *unicode_path;
    unsigned unicode_cp;
};

static void errf(char *err, size_t errlen, const struct seclang_directive *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void errf(char *err, size_t errlen, const struct seclang_directive *d, const char *fmt, ...)
{
    int w = snprintf(err, errlen, "%s:%d: ", d->file, d->line);
    if (w < 0 || (size_t)w >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + w, errlen - (size_t)w, fmt, ap);
    va_end(ap);
}

char *compile_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- targets ------------------------------------------------------------ */

static bool var_is_lowercase_keyed(int var)
{
    /* Collections whose keys compare case-insensitively (all of them in
     * ModSecurity, except that ARGS names keep their case when reported). */
    (void)var;
    return true;
}

int compile_parse_target(const char *s, size_t n, struct target *t, bool *exclude, char *msg,
                         size_t msglen)
{
    memset(t, 0, sizeof(*t));
    *exclude = false;
    size_t i = 0;
    if (i < n && s[i] == '!') {
        *exclude = true;
        i++;
    }
    if (i < n && s[i] == '&') {
        t->count = true;
        i++;
    }
    size_t name_start = i;
    while (i < n && s[i] != ':')
        i++;
    int var = vars_lookup(s + name_start, i - name_start);
    if (var < 0) {
        snprintf(msg, msglen, "unknown variable '%.*s'", (int)(i - name_start), s + name_start);
        return -1;
    }
    t->var = var;
    t->text = compile_strndup(s, n);
    if (i < n && s[i] == ':') {
        i++;
        const char *sel = s + i;
        size_t sl = n - i;
        if (sl >= 2 && sel[0] == '/' && sel[sl - 1] == '/') {
            t->sel_kind = SEL_REGEX;
            t->sel = compile_strndup(sel + 1, sl - 2);
            /* collection keys compare case-insensitively, so do key regexes
             * (CRS matches tx.multipart_headers_content_types_N in upper case) */
            char *ci = malloc(sl + 4);
            char rerr[256];
            if (!ci)
                return -1;
            memcpy(ci, "(?i)", 4);
            memcpy(ci + 4, sel + 1, sl - 2);
            t->sel_rx = rx_compile(ci, sl + 2, 0, rerr, sizeof rerr);
            /* TX:/^header_name_/ is tried on every TX name: most fail the
             * literal test without running PCRE */
            struct rx_lits *one = t->sel_rx ? rx_prefilter_lits(ci, sl + 2) : NULL;
            if (one && !one->bos && one->n == 1) {
                t->sel_lit = compile_strndup((const char *)one->v[0].s, one->v[0].n);
                t->sel_lit_len = one->v[0].n;
                /* /^header_name_920450_/: plain word characters after ^ */
                bool plain = sl - 2 == (size_t)one->v[0].n + 1 && sel[1] == '^';
                for (size_t k = 2; plain && k < sl - 1; k++)
                    plain = isalnum((unsigned char)sel[k]) || sel[k] == '_' || sel[k] == '-';
                t->sel_prefix = plain && t->sel_lit &&
                                strncasecmp(sel + 2, t->sel_lit, t->sel_lit_len) == 0;
            } else if (t->sel_rx) {
                t->sel_pre = rx_prefilter_build(ci, sl + 2);
            }
            free(one);
            free(ci);
            if (!t->sel_rx) {
                snprintf(msg, msglen, "bad selector regex /%.*s/: %s", (int)(sl - 2), sel + 1,
                         rerr);
                return -1;
            }
        } else {
            if (sl >= 2 && sel[0] == '\'' && sel[sl - 1] == '\'') {
                sel++;
                sl -= 2;
            }
            t->sel_kind = SEL_NAME;
            t->sel = compile_strndup(sel, sl);
            t->sel_len = sl;
            if (var_is_lowercase_keyed(var) && var != V_XML)
                for (size_t k = 0; k < sl; k++)
                    t->sel[k] = (char)tolower((unsigned char)t->sel[k]);
        }
        if (vars_info(var)->kind == VT_SCALAR && var != V_RULE) {
            snprintf(msg, msglen, "variable %s takes no selector", vars_info(var)->name);
            return -1;
        }
    }
    return 0;
}

void compile_target_free(struct target *t)
{
    free(t->sel);
    free(t->text);
    rx_free(t->sel_rx);
    pm_free(t->sel_pre);
    free(t->sel_lit);
}

/* Splits "A|!B:x|C:/re|gex/" on '|' outside /regex/ selectors. */
static int parse_targets(const char *s, struct rule *r, char *msg, size_t msglen)
{
    size_t n = strlen(s);
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        bool in_re = false;
        while (i < n) {
            /* XML:/xpath selectors are paths, not /regex/ */
            bool is_xml = i - start >= 3 && strncasecmp(s + i - 3, "XML", 3) == 0;
            if (!in_re && !is_xml && s[i] == ':' && i + 1 < n && s[i + 1] == '/') {
                in_re = true;
                i += 2;
                continue;
            }
            if (in_re && s[i] == '\\' && i + 1 < n) {
                i += 2;
                continue;
            }
            if (in_re && s[i] == '/' && (i + 1 == n || s[i + 1] == '|')) {
                in_re = false;
                i++;
                continue;
            }
            if (!in_re && s[i] == '|')
                break;
            i++;
        }
        size_t a = start, b = i;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        if (b > a) {
            struct target t;
            bool excl;
            if (compile_parse_target(s + a, b - a, &t, &excl, msg, msglen) < 0) {
                compile_target_free(&t);
                return -1;
            }
            struct target **arr = excl ? &r->excl : &r->targets;
            size_t *cnt = excl ? &r->nexcl : &r->ntargets;
            struct target *na = realloc(*arr, (*cnt + 1) * sizeof(*na));
            if (!na) {
                compile_target_free(&t);
                return -1;
            }
            *arr = na;
            na[(*cnt)++] = t;
        } else if (b == a && i < n) {
            snprintf(msg, msglen, "empty variable in list");
            return -1;
        }
        i++;
    }
    if (r->ntargets == 0) {
        snprintf(msg, msglen, "no variables to inspect");
        return -1;
    }
    return 0;
}

/* ---- operators ---------------------------------------------------------- */

static const struct {
    const char *name;
    enum op_id op;
} op_names[] = {
    {"rx", OP_RX},
    {"pm", OP_PM},
    {"pmf", OP_PMFROMFILE},
    {"pmFromFile", OP_PMFROMFILE},
    {"streq", OP_STREQ},
    {"contains", OP_CONTAINS},
    {"containsWord", OP_CONTAINSWORD},
    {"beginsWith", OP_BEGINSWITH},
    {"endsWith", OP_ENDSWITH},
    {"within", OP_WITHIN},
    {"eq", OP_EQ},
    {"ge", OP_GE},
    {"gt", OP_GT},
    {"le", OP_LE},
    {"lt", OP_LT},
    {"ipMatch", OP_IPMATCH},
    {"ipMatchF", OP_IPMATCHFROMFILE},
    {"ipMatchFromFile", OP_IPMATCHFROMFILE},
    {"validateByteRange", OP_VALIDATEBYTERANGE},
    {"validateUrlEncoding", OP_VALIDATEURLENCODING},
    {"validateUtf8Encoding", OP_VALIDATEUTF8ENCODING},
    {"detectSQLi", OP_DETECTSQLI},
    {"detectXSS", OP_DETECTXSS},
    {"unconditionalMatch", OP_UNCONDITIONAL},
    {"noMatch", OP_NOMATCH},
    {"strmatch", OP_STRMATCH},
    {"geoLookup", OP_GEOLOOKUP},
    {"rbl", OP_RBL},
};

/* The folder of a rule file: where @pmFromFile and @ipMatchFromFile look. */
static void file_dir(const char *file, char *dir, size_t n)
{
    snprintf(dir, n, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, n, ".");
}

static int parse_operator(struct waf_builder *b, const char *s, const char *file, struct rule *r,
                          char *msg, size_t msglen)
{
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '!') {
        r->negate = true;
        i++;
    }
    const char *name = "rx";
    size_t name_len = 2;
    if (i < n && s[i] == '@') {
        i++;
        size_t st = i;
        while (i < n && !isspace((unsigned char)s[i]))
            i++;
        name = s + st;
        name_len = i - st;
        if (i < n)
            i++; /* one separating blank */
    }
    bool found = false;
    for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++) {
        if (strlen(op_names[k].name) == name_len &&
            strncasecmp(op_names[k].name, name, name_len) == 0) {
            r->op = op_names[k].op;
            found = true;
            break;
        }
    }
    if (!found) {
        snprintf(msg, msglen, "unsupported operator @%.*s", (int)name_len, name);
        return -1;
    }
    r->op_name = compile_strndup(name, name_len);
    r->param = compile_strndup(s + i, n - i);
    r->param_len = n - i;
    char e[512];
    switch (r->op) {
    case OP_RX:
        if (strstr(r->param, "%{")) {
            /* compiled per transaction after expansion (engine.c) */
            r->param_macro = macro_compile(r->param, r->param_len, e, sizeof e);
            if (!r->param_macro) {
                snprintf(msg, msglen, "%s", e);
                return -1;
            }
            break;
        }
        r->rx = rx_compile(r->param, r->param_len, b->p->pcre_match_limit, e, sizeof e);
        if (!r->rx) {
            snprintf(msg, msglen, "bad regex: %s", e);
            return -1;
        }
        /* r->rx_pre comes with the scanner's analysis (build_scanners) */
        break;
    case OP_PM:
        r->pm = pm_build_from_words(r->param, r->param_len);
        if (!r->pm) {
            snprintf(msg, msglen, "@pm needs at least one phrase");
            return -1;
        }
        break;
    case OP_PMFROMFILE: {
        char dir[4096];
        file_dir(file, dir, sizeof dir);
        r->pm = pm_build_from_files(r->param, dir, e, sizeof e);
        if (!r->pm) {
            snprintf(msg, msglen, "@pmFromFile: %s", e);
            return -1;
        }
        break;
    }
    case OP_IPMATCH:
        r->ipset = ipset_parse(r->param, r->param_len, e, sizeof e);
        if (!r->ipset) {
            snprintf(msg, msglen, "@ipMatch: %s", e);
            return -1;
        }
        break;
    case OP_IPMATCHFROMFILE: {
        char dir[4096];
        file_dir(file, dir, sizeof dir);
        r->ipset = ipset_from_file(r->param, dir, e, sizeof e);
        if (!r->ipset) {
            snprintf(msg, msglen, "@ipMatchFromFile: %s", e);
            return -1;
        }
        break;
    }
    case OP_VALIDATEBYTERANGE:
        if (byterange_parse(r->param, r->param_len, &r->br, e, sizeof e) < 0) {
            snprintf(msg, msglen, "@validateByteRange: %s", e);
            return -1;
        }
        break;
    case OP_STREQ: case OP_CONTAINS: case OP_CONTAINSWORD: case OP_BEGINSWITH:
    case OP_ENDSWITH: case OP_WITHIN: case OP_EQ: case OP_GE: case OP_GT: case OP_LE:
    case OP_LT: case OP_STRMATCH:
        if (strstr(r->param, "%{")) {
            r->param_macro = macro_compile(r->param, r->param_len, e, sizeof e);
            if (!r->param_macro) {
                snprintf(msg, msglen, "%s", e);
                return -1;
            }
        }
        break;
    default:
        break;
    }
    return 0;
}

/* ---- actions ------------------------------------------------------------ */

/* ---- program building ---------------------------------------------------- */

static int push_rule(struct waf_builder *b, struct rule *r)
{
    struct waf_program *p = b->p;
    if (p->nall == p->capall) {
        size_t nc = p->capall ? p->capall * 2 : 256;
        struct rule **na = realloc(p->all, nc * sizeof(*na));
        if (!na)
            return -1;
        p->all = na;
        p->capall = nc;
    }
    p->all[p->nall++] = r;
    return 0;
}

static int push_list(struct waf_builder *b, struct rule *r)
{
    if (b->nlist == b->caplist) {
        size_t nc = b->caplist ? b->caplist * 2 : 256;
        struct rule **na = realloc(b->list, nc * sizeof(*na));
        if (!na)
            return -1;
        b->list = na;
        b->caplist = nc;
    }
    b->list[b->nlist++] = r;
    return 0;
}

static struct rule *find_rule(struct waf_builder *b, int id)
{
    for (size_t i = 0; i < b->nlist; i++)
        if (!b->list[i]->removed && !b->list[i]->marker && b->list[i]->a.id == id)
            return b->list[i];
    return NULL;
}

static bool rule_has_tag(const struct rule *r, const char *tag)
{
    for (size_t i = 0; i < r->a.ntags; i++)
        if (strcmp(r->a.tags[i], tag) == 0)
            return true;
    return false;
}

static int add_rule(struct waf_builder *b, const struct seclang_directive *d, const char *vars,
                    const char *op, const char *acts, char *err, size_t errlen)
{
    struct rule *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    compile_actions_init(&r->a);
    r->file = d->file;
    r->line = d->line;
    r->skip_to = -1;
    for (int k = 0; k <= RX_TIERS; k++)
        r->scan[k] = -1;
    if (push_rule(b, r) < 0) {
        free(r);
        return -1;
    }
    char msg[768];
    if (vars) {
        if (parse_targets(vars, r, msg, sizeof msg) < 0 ||
            parse_operator(b, op, d->file, r, msg, sizeof msg) < 0) {
            errf(err, errlen, d, "%s", msg);
            return -1;
        }
    } else {
        r->unconditional = true;
        r->op = OP_UNCONDITIONAL;
    }
    if (acts && compile_parse_actions(acts, &r->a, false, msg, sizeof msg) < 0) {
        errf(err, errlen, d, "%s", msg);
        return -1;
    }
    if (b->chain_tail) {
        /* a chain member: only the starter carries id, phase and the
         * disruptive action */
        if (r->a.id || r->a.phase) {
            errf(err, errlen, d, "a chained rule cannot have id or phase");
            return -1;
        }
        if (r->a.disrupt != D_NONE) {
            errf(err, errlen, d, "a chained rule cannot have a disruptive action");
            return -1;
        }
        r->is_chain_child = true;
        b->chain_tail->chain_next = r;
        b->chain_tail = r->a.chain ? r : NULL;
        return 0;
    }
    if (r->a.id == 0) {
        errf(err, errlen, d, "rule has no id");
        return -1;
    }
    if (find_rule(b, r->a.id)) {
        errf(err, errlen, d, "duplicate rule id %d", r->a.id);
        return -1;
    }
    if (r->a.phase == 0)
        r->a.phase = 2;
    b->chain_tail = r->a.chain ? r : NULL;
    return push_list(b, r);
}

static int on_off(const struct seclang_directive *d, bool *out, char *err, size_t errlen)
{
    if (d->nargs != 1) {
        errf(err, errlen, d, "%s takes one argument (On or Off)", d->name);
        return -1;
    }
    if (!strcasecmp(d->args[0], "On"))
        *out = true;
    else if (!strcasecmp(d->args[0], "Off"))
        *out = false;
    else {
        errf(err, errlen, d, "%s: expected On or Off, got '%s'", d->name, d->args[0]);
        return -1;
    }
    return 0;
}

static int size_arg(const struct seclang_directive *d, size_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long v = d->nargs == 1 ? strtoull(d->args[0], &end, 10) : 0;
    if (d->nargs != 1 || errno || end == d->args[0] || *end) {
        errf(err, errlen, d, "%s takes one number", d->name);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int update_target(struct rule *r, const char *targets, const char *replaced, char *msg,
                         size_t msglen)
{
    if (replaced) {
        snprintf(msg, msglen, "replacing a target (third argument) is not supported");
        return -1;
    }
    return parse_targets(targets, r, msg, msglen) < 0 && r->ntargets == 0 ? -1 : 0;
}

static int directive(void *ud, const struct seclang_directive *d, char *err, size_t errlen)
{
    struct waf_builder *b = ud;
    struct waf_program *p = b->p;
    const char *n = d->name;
    char msg[768];

    if (b->chain_tail && strcasecmp(n, "SecRule") != 0) {
        errf(err, errlen, d, "%s after a rule with 'chain': the chain needs a SecRule", n);
        return -1;
    }
    if (!strcasecmp(n, "SecRule")) {
        if (d->nargs < 2 || d->nargs > 3) {
            errf(err, errlen, d, "SecRule takes VARIABLES OPERATOR [ACTIONS]");
            return -1;
        }
        return add_rule(b, d, d->args[0], d->args[1], d->nargs == 3 ? d->args[2] : NULL, err,
                        errlen);
    }
    if (!strcasecmp(n, "SecAction")) {
        if (d->nargs != 1) {
            errf(err, errlen, d, "SecAction takes one argument");
            return -1;
        }
        return add_rule(b, d, NULL, NULL, d->args[0], err, errlen);
    }
    if (!strcasecmp(n, "SecMarker")) {
        if (d->nargs != 1) {
            errf(err, errlen, d, "SecMarker takes one argument");
            return -1;
        }
        struct rule *r = calloc(1, sizeof(*r));
        if (!r || push_rule(b, r) < 0) {
            free(r);
            return -1;
        }
        compile_actions_init(&r->a);
        r->marker = true;
        for (int k = 0; k <= RX_TIERS; k++)
            r->scan[k] = -1;
        r->marker_name = strdup(d->args[0]);
        r->file = d->file;
        r->line = d->line;
        r->skip_to = -1;
        return push_list(b, r);
    }
    if (!strcasecmp(n, "SecDefaultAction")) {
        if (d->nargs != 1) {
            errf(err, errlen, d, "SecDefaultAction takes one argument");
            return -1;
        }
        struct actions a;
        compile_actions_init(&a);
        if (compile_parse_actions(d->args[0], &a, true, msg, sizeof msg) < 0) {
            compile_actions_free(&a);
            errf(err, errlen, d, "%s", msg);
            return -1;
        }
        if (a.phase == 0 || a.id || a.msg || a.logdata || a.nsetvars || a.nctls) {
            compile_actions_free(&a);
            errf(err, errlen, d, "SecDefaultAction needs a phase and takes no id, msg, logdata, setvar or ctl");
            return -1;
        }
        if (a.disrupt == D_NONE) {
            compile_actions_free(&a);
            errf(err, errlen, d, "SecDefaultAction needs a disruptive action (pass, deny, ...)");
            return -1;
        }
        if (b->has_default[a.phase])
            compile_actions_free(&b->defaults[a.phase]);
        b->defaults[a.phase] = a;
        b->has_default[a.phase] = true;
        return 0;
    }
    if (!strcasecmp(n, "SecRuleEngine")) {
        if (d->nargs == 1 && !strcasecmp(d->args[0], "On"))
            p->engine = ENGINE_ON;
        else if (d->nargs == 1 && !strcasecmp(d->args[0], "Off"))
            p->engine = ENGINE_OFF;
        else if (d->nargs == 1 && !strcasecmp(d->args[0], "DetectionOnly"))
            p->engine = ENGINE_DETECTION_ONLY;
        else {
            errf(err, errlen, d, "SecRuleEngine takes On, Off or DetectionOnly");
            return -1;
        }
        return 0;
    }
    if (!strcasecmp(n, "SecRequestBodyAccess"))
        return on_off(d, &p->reqbody_access, err, errlen);
    if (!strcasecmp(n, "SecResponseBodyAccess"))
        return on_off(d, &p->resbody_access, err, errlen);
    if (!strcasecmp(n, "SecRequestBodyLimit"))
        return size_arg(d, &p->reqbody_limit, err, errlen);
    if (!strcasecmp(n, "SecRequestBodyNoFilesLimit"))
        return size_arg(d, &p->reqbody_nofiles_limit, err, errlen);
    if (!strcasecmp(n, "SecResponseBodyLimit"))
        return size_arg(d, &p->resbody_limit, err, errlen);
    if (!strcasecmp(n, "SecRequestBodyInMemoryLimit")) {
        size_t ignored;
        return size_arg(d, &ignored, err, errlen);
    }
    if (!strcasecmp(n, "SecRequestBodyJsonDepthLimit") || !strcasecmp(n, "SecArgumentsLimit") ||
        !strcasecmp(n, "SecPcreMatchLimit") || !strcasecmp(n, "SecPcreMatchLimitRecursion")) {
        size_t v;
        if (size_arg(d, &v, err, errlen) < 0)
            return -1;
        if (v > UINT32_MAX)
            v = UINT32_MAX;
        if (!strcasecmp(n, "SecRequestBodyJsonDepthLimit"))
            p->json_depth_limit = (unsigned)v;
        else if (!strcasecmp(n, "SecArgumentsLimit"))
            p->args_limit = (unsigned)v;
        else if (!strcasecmp(n, "SecPcreMatchLimit"))
            p->pcre_match_limit = (uint32_t)v;
        return 0;
    }
    if (!strcasecmp(n, "SecUploadFileLimit")) {
        size_t v;
        if (size_arg(d, &v, err, errlen) < 0)
            return -1;
        p->upload_file_limit = v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
        return 0;
    }
    if (!strcasecmp(n, "SecRequestBodyLimitAction") || !strcasecmp(n, "SecResponseBodyLimitAction")) {
        bool reject;
        if (d->nargs == 1 && !strcasecmp(d->args[0], "Reject"))
            reject = true;
        else if (d->nargs == 1 && !strcasecmp(d->args[0], "ProcessPartial"))
            reject = false;
        else {
            errf(err, errlen, d, "%s takes Reject or ProcessPartial", n);
            return -1;
        }
        if (!strcasecmp(n, "SecRequestBodyLimitAction"))
            p->reqbody_limit_reject = reject;
        else
            p->resbody_limit_reject = reject;
        return 0;
    }
    if (!strcasecmp(n, "SecResponseBodyMimeType")) {
        for (size_t i = 0; i < d->nargs; i++) {
            /* the argument may hold several types separated by blanks */
            const char *s = d->args[i];
            while (*s) {
                while (*s == ' ')
                    s++;
                const char *e = s;
                while (*e && *e != ' ')
                    e++;
                if (e > s) {
                    char **nm = realloc(p->resbody_mime, (p->nresbody_mime + 1) * sizeof(*nm));
                    if (!nm)
                        return -1;
                    p->resbody_mime = nm;
                    p->resbody_mime[p->nresbody_mime++] = compile_strndup(s, (size_t)(e - s));
                }
                s = e;
            }
        }
        return 0;
    }
    if (!strcasecmp(n, "SecResponseBodyMimeTypesClear")) {
        for (size_t i = 0; i < p->nresbody_mime; i++)
            free(p->resbody_mime[i]);
        p->nresbody_mime = 0;
        return 0;
    }
    if (!strcasecmp(n, "SecArgumentSeparator")) {
        if (d->nargs != 1 || strlen(d->args[0]) != 1) {
            errf(err, errlen, d, "SecArgumentSeparator takes one character");
            return -1;
        }
        p->arg_separator = d->args[0][0];
        return 0;
    }
    if (!strcasecmp(n, "SecCookieFormat")) {
        if (d->nargs != 1 || (strcmp(d->args[0], "0") && strcmp(d->args[0], "1"))) {
            errf(err, errlen, d, "SecCookieFormat takes 0 or 1");
            return -1;
        }
        return 0;
    }
    if (!strcasecmp(n, "SecUnicodeMapFile")) {
        if (d->nargs != 2) {
            errf(err, errlen, d, "SecUnicodeMapFile takes FILE CODEPAGE");
            return -1;
        }
        char path[4096];
        if (d->args[0][0] != '/' && strchr(d->file, '/')) {
            const char *slash = strrchr(d->file, '/');
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - d->file), d->file, d->args[0]);
        } else {
            snprintf(path, sizeof path, "%s", d->args[0]);
        }
        int cp;
        if (compile_parse_int(d->args[1], &cp) < 0 || cp <= 0) {
            errf(err, errlen, d, "SecUnicodeMapFile: bad code page '%s'", d->args[1]);
            return -1;
        }
        if (!p->unicode) {
            p->unicode = calloc(1, sizeof(*p->unicode));
            if (!p->unicode)
                return -1;
        }
        if (xform_unicode_map_load(path, (unsigned)cp, p->unicode, msg, sizeof msg) < 0) {
            errf(err, errlen, d, "SecUnicodeMapFile: %s", msg);
            return -1;
        }
        p->xenv.unicode = p->unicode;
        return 0;
    }
    if (!strcasecmp(n, "SecComponentSignature")) {
        if (d->nargs != 1) {
            errf(err, errlen, d, "SecComponentSignature takes one argument");
            return -1;
        }
        free(p->component_sig);
        p->component_sig = strdup(d->args[0]);
        return 0;
    }
    if (!strcasecmp(n, "SecRuleRemoveById")) {
        if (d->nargs == 0) {
            errf(err, errlen, d, "SecRuleRemoveById needs ids or ranges");
            return -1;
        }
        for (size_t i = 0; i < d->nargs; i++) {
            /* an argument may itself hold several blank-separated ids */
            char *copy = strdup(d->args[i]);
            char *save = NULL;
            for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
                int lo, hi;
                if (compile_parse_id_range(tok, &lo, &hi) < 0) {
                    errf(err, errlen, d, "SecRuleRemoveById: bad id or range '%s'", tok);
                    free(copy);
                    return -1;
                }
                for (size_t k = 0; k < b->nlist; k++)
                    if (!b->list[k]->marker && b->list[k]->a.id >= lo && b->list[k]->a.id <= hi)
                        b->list[k]->removed = true;
            }
            free(copy);
        }
        return 0;
    }
    if (!strcasecmp(n, "SecRuleRemoveByTag") || !strcasecmp(n, "SecRuleRemoveByMsg")) {
        if (d->nargs != 1) {
            errf(err, errlen, d, "%s takes one argument", n);
            return -1;
        }
        bool by_tag = !strcasecmp(n, "SecRuleRemoveByTag");
        for (size_t k = 0; k < b->nlist; k++) {
            struct rule *r = b->list[k];
            if (r->marker)
                continue;
            if (by_tag ? rule_has_tag(r, d->args[0])
                       : (r->a.msg && r->a.msg->constant &&
                          strcmp(macro_const(r->a.msg).p, d->args[0]) == 0))
                r->removed = true;
        }
        return 0;
    }
    if (!strcasecmp(n, "SecRuleUpdateTargetById") || !strcasecmp(n, "SecRuleUpdateTargetByTag") ||
        !strcasecmp(n, "SecRuleUpdateTargetByMsg")) {
        if (d->nargs < 2 || d->nargs > 3) {
            errf(err, errlen, d, "%s takes RULE TARGETS [REPLACED]", n);
            return -1;
        }
        bool by_id = !strcasecmp(n, "SecRuleUpdateTargetById");
        bool by_tag = !strcasecmp(n, "SecRuleUpdateTargetByTag");
        int lo = 0, hi = 0;
        if (by_id && compile_parse_id_range(d->args[0], &lo, &hi) < 0) {
            errf(err, errlen, d, "%s: bad id '%s'", n, d->args[0]);
            return -1;
        }
        for (size_t k = 0; k < b->nlist; k++) {
            struct rule *r = b->list[k];
            if (r->marker || r->unconditional)
                continue;
            bool hit = by_id ? (r->a.id >= lo && r->a.id <= hi)
                             : by_tag ? rule_has_tag(r, d->args[0])
                                      : (r->a.msg && r->a.msg->constant &&
                                         strcmp(macro_const(r->a.msg).p, d->args[0]) == 0);
            if (hit && update_target(r, d->args[1], d->nargs == 3 ? d->args[2] : NULL, msg,
                                     sizeof msg) < 0) {
                errf(err, errlen, d, "%s: %s", n, msg);
                return -1;
            }
        }
        return 0;
    }
    if (!strcasecmp(n, "SecRuleUpdateActionById")) {
        if (d->nargs != 2) {
            errf(err, errlen, d, "SecRuleUpdateActionById takes ID ACTIONS");
            return -1;
        }
        int lo, hi;
        if (compile_parse_id_range(d->args[0], &lo, &hi) < 0) {
            errf(err, errlen, d, "SecRuleUpdateActionById: bad id '%s'", d->args[0]);
            return -1;
        }
        for (size_t k = 0; k < b->nlist; k++) {
            struct rule *r = b->list[k];
            if (r->marker || r->a.id < lo || r->a.id > hi)
                continue;
            struct actions upd;
            compile_actions_init(&upd);
            if (compile_parse_actions(d->args[1], &upd, false, msg, sizeof msg) < 0) {
                compile_actions_free(&upd);
                errf(err, errlen, d, "SecRuleUpdateActionById: %s", msg);
                return -1;
            }
            if (upd.id || upd.phase || upd.chain) {
                compile_actions_free(&upd);
                errf(err, errlen, d, "SecRuleUpdateActionById cannot change id, phase or chain");
                return -1;
            }
            /* merge: what the update names replaces the rule's own */
            if (upd.disrupt != D_NONE)
                r->a.disrupt = upd.disrupt;
            if (upd.status)
                r->a.status = upd.status;
            if (upd.msg) {
                macro_free(r->a.msg);
                r->a.msg = upd.msg;
                upd.msg = NULL;
            }
            if (upd.logdata) {
                macro_free(r->a.logdata);
                r->a.logdata = upd.logdata;
                upd.logdata = NULL;
            }
            if (upd.severity >= 0)
                r->a.severity = upd.severity;
            if (upd.log >= 0)
                r->a.log = upd.log;
            if (upd.auditlog >= 0)
                r->a.auditlog = upd.auditlog;
            if (upd.nxforms || upd.xform_none) {
                memcpy(r->a.xforms, upd.xforms, sizeof upd.xforms);
                r->a.nxforms = upd.nxforms;
                r->a.xform_none = upd.xform_none || r->a.xform_none;
            }
            for (size_t t = 0; t < upd.ntags; t++) {
                char **nt = realloc(r->a.tags, (r->a.ntags + 1) * sizeof(*nt));
                if (!nt)
                    break;
                r->a.tags = nt;
                r->a.tags[r->a.ntags++] = upd.tags[t];
                upd.tags[t] = NULL;
            }
            compile_actions_free(&upd);
        }
        return 0;
    }
    /* Settings of ModSecurity parts that mamori replaces (audit/debug logs,
     * temporary files, persistent storage): accepted with their arguments
     * checked for presence, no effect. */
    static const char *accepted[] = {
        "SecTmpDir", "SecDataDir", "SecAuditEngine", "SecAuditLogRelevantStatus",
        "SecAuditLogParts", "SecAuditLogType", "SecAuditLog", "SecAuditLog2",
        "SecStatusEngine", "SecAuditLogFormat", "SecAuditLogStorageDir", "SecDebugLog",
        "SecDebugLogLevel", "SecTmpSaveUploadedFiles", "SecUploadDir", "SecUploadFileMode",
        "SecUploadKeepFiles", "SecCollectionTimeout",
        "SecAuditLogDirMode", "SecAuditLogFileMode", "SecWebAppId", "SecXmlExternalEntity",
        "SecServerSignature", "SecConnEngine",
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        if (!strcasecmp(n, accepted[i])) {
            if (d->nargs == 0) {
                errf(err, errlen, d, "%s needs an argument", n);
                return -1;
            }
            return 0;
        }
    }
    errf(err, errlen, d, "unsupported directive %s", n);
    return -1;
}

struct waf_builder *waf_builder_new(void)
{
    struct waf_builder *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->p = calloc(1, sizeof(*b->p));
    if (!b->p) {
        free(b);
        return NULL;
    }
    struct waf_program *p = b->p;
    p->engine = ENGINE_ON;
    p->reqbody_access = true;
    p->resbody_access = false;
    p->reqbody_limit = 13107200;
    p->reqbody_nofiles_limit = 131072;
    p->resbody_limit = 524288;
    p->reqbody_limit_reject = true;
    p->json_depth_limit = 512;
    p->args_limit = 1000;
    p->pcre_match_limit = 100000;
    p->arg_separator = '&';
    b->lex.on_directive = directive;
    b->lex.ud = b;
    for (int i = 0; i <= WAF_PHASES; i++)
        compile_actions_init(&b->defaults[i]);
    return b;
}

int waf_builder_add_file(struct waf_builder *b, const char *path, char *err, size_t errlen)
{
    return seclang_load_file(&b->lex, path, err, errlen);
}

int waf_builder_add_string(struct waf_builder *b, const char *text, const char *name, char *err,
                           size_t errlen)
{
    return seclang_load_string(&b->lex, text, name, err, errlen);
}

static void rule_free(struct rule *r)
{
    compile_actions_free(&r->a);
    free(r->op_name);
    free(r->param);
    macro_free(r->param_macro);
    rx_free(r->rx);
    rx_free(r->rx_anch);
    pm_free(r->rx_pre);
    pm_free(r->pm);
    ipset_free(r->ipset);
    for (size_t i = 0; i < r->ntargets; i++)
        compile_target_free(&r->targets[i]);
    free(r->targets);
    for (size_t i = 0; i < r->nexcl; i++)
        compile_target_free(&r->excl[i]);
    free(r->excl);
    free(r->marker_name);
    free(r->tag_ids);
    free(r);
}

void waf_builder_free(struct waf_builder *b)
{
    if (!b)
        return;
    if (b->p)
        waf_program_free(b->p);
    for (int i = 0; i <= WAF_PHASES; i++)
        compile_actions_free(&b->defaults[i]);
    free(b->list);
    seclang_ctx_free(&b->lex);
    free(b);
}

void waf_program_free(struct waf_program *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nall; i++)
        rule_free(p->all[i]);
    free(p->all);
    for (int i = 0; i <= WAF_PHASES; i++)
        free(p->phase_rules[i]);
    for (size_t i = 0; i < p->nresbody_mime; i++)
        free(p->resbody_mime[i]);
    free(p->resbody_mime);
    free(p->unicode);
    free(p->component_sig);
    for (size_t i = 0; i < p->nscan; i++)
        mlit_free(p->scan[i]);
    free(p->scan);
    free(p->scan_off);
    free(p->pfx_trig);
    if (p->files) {
        for (size_t i = 0; i < p->nfiles; i++)
            free(p->files[i]);
        free(p->files);
    }
    free(p);
}

size_t waf_program_rule_count(const struct waf_program *p) { return p->nrules; }

/* Effective per-rule settings: the phase's SecDefaultAction fills what the
 * rule leaves unsaid (log, transformations, the action behind 'block'). */
static void resolve_effective(struct waf_builder *b, struct rule *r, int phase)
{
    const struct actions *def = b->has_default[phase] ? &b->defaults[phase] : NULL;
    r->eff_log = r->a.log >= 0 ? r->a.log == 1 : (def && def->log >= 0 ? def->log == 1 : true);
    enum disrupt dd = def ? def->disrupt : D_PASS;
    r->eff_disrupt = r->a.disrupt;
    /* As in ModSecurity v3, the default's disruptive action only stands in
     * for 'block'; a rule that names none does not disrupt. */
    if (r->eff_disrupt == D_NONE)
        r->eff_disrupt = D_PASS;
    if (r->eff_disrupt == D_BLOCK)
        r->eff_disrupt = (dd == D_BLOCK || dd == D_NONE) ? D_PASS : dd;
    r->eff_status = r->a.status ? r->a.status : (def && def->status ? def->status : 0);
    r->eff_nxforms = 0;
    if (def && !r->a.xform_none)
        for (size_t i = 0; i < def->nxforms && r->eff_nxforms < sizeof r->eff_xforms; i++)
            r->eff_xforms[r->eff_nxforms++] = def->xforms[i];
    for (size_t i = 0; i < r->a.nxforms && r->eff_nxforms < sizeof r->eff_xforms; i++)
        r->eff_xforms[r->eff_nxforms++] = r->a.xforms[i];
}

/* Distinct transformation-chain prefixes of the program (a few dozen for
 * CRS), found at load time so the engine can cache by small integer. */
struct pfx {
    uint8_t n;
    uint8_t x[40];
};
struct pfx_table {
    struct pfx *v;
    size_t n, cap;
};

static int pfx_intern(struct pfx_table *t, struct rule *r)
{
    for (size_t i = 0; i < r->eff_nxforms; i++) {
        size_t len = i + 1, k;
        for (k = 0; k < t->n; k++)
            if (t->v[k].n == len && memcmp(t->v[k].x, r->eff_xforms, len) == 0)
                break;
        if (k == t->n) {
            if (t->n >= UINT16_MAX)
                return -1;
            if (t->n == t->cap) {
                size_t nc = t->cap ? t->cap * 2 : 64;
                struct pfx *nv = realloc(t->v, nc * sizeof(*nv));
                if (!nv)
                    return -1;
                t->v = nv;
                t->cap = nc;
            }
            t->v[k].n = (uint8_t)len;
            memcpy(t->v[k].x, r->eff_xforms, len);
            t->n++;
        }
        r->eff_pfx[i] = (uint16_t)k;
    }
    return 0;
}

/* The tables of what can change a value under each prefix (program.h). */
static int build_triggers(struct waf_program *p, const struct pfx_table *pt)
{
    uint64_t xbit[XF__COUNT];
    _Static_assert(XF__COUNT <= 62, "transformation bits below XB_CASE");
    memset(p->xbyte, 0, sizeof p->xbyte);
    for (int x = 0; x < XF__COUNT; x++) {
        uint8_t set[256];
        enum xform_trigger k = xform_triggers((enum xform_id)x, set);
        xbit[x] = k == XT_ALWAYS ? XB_ALWAYS : (1ull << x) | (k == XT_CASE ? XB_CASE : 0);
        for (int b = 0; b < 256; b++)
            if (set[b])
                p->xbyte[b] |= 1ull << x;
    }
    for (int b = 'A'; b <= 'Z'; b++)
        p->xbyte[b] |= XB_CASE;
    p->pfx_trig = calloc(pt->n + 1, sizeof(uint64_t));
    if (!p->pfx_trig)
        return -1;
    for (size_t k = 0; k < pt->n; k++)
        for (size_t i = 0; i < pt->v[k].n; i++)
            p->pfx_trig[k] |= xbit[pt->v[k].x[i]];
    return 0;
}

/* ---- the shared literal scanners ------------------------------------------
 * Every rule link whose match needs some literal in the value (an @rx with
 * a required-literal set, see rx_prefilter.h, or an @pm phrase list) is an
 * owner of one shared Aho-Corasick scanner (multilit.h). The engine scans
 * each distinct transformed value once and every such rule then reads one
 * bit: clear means it cannot match. One scanner holds the whole CRS; a set
 * too big for one is split in halves until the parts build. */
struct scan_cand {
    struct rule *r;
    struct rx_lits *lits; /* @rx; NULL for @pm (phrases from r->pm) */
    int tier;             /* @rx: the absent-byte assumption (rx_prefilter.h) */
};

static int cand_pats(const struct scan_cand *c, uint32_t owner, struct mlit_pat **pats,
                     size_t *n, size_t *cap)
{
    size_t k = c->lits ? c->lits->n : pm_list_count(c->r->pm);
    if (*n + k > *cap) {
        size_t nc = (*cap ? *cap : 256);
        while (nc < *n + k)
            nc *= 2;
        struct mlit_pat *np = realloc(*pats, nc * sizeof(*np));
        if (!np)
            return -1;
        *pats = np;
        *cap = nc;
    }
    for (size_t i = 0; i < k; i++) {
        struct mlit_pat *mp = &(*pats)[(*n)++];
        if (c->lits) {
            *mp = (struct mlit_pat){c->lits->v[i].s, c->lits->v[i].n, owner};
        } else {
            size_t len;
            const char *ph = pm_list_at(c->r->pm, i, &len);
            *mp = (struct mlit_pat){(const unsigned char *)ph, len, owner};
        }
    }
    return 0;
}

#define SCAN_MAX 32 /* the engine keeps a 32-bit "scanned" mask per value */

static int build_scan_part(struct waf_program *p, struct scan_cand *c, size_t n)
{
    if (n == 0 || p->nscan >= SCAN_MAX)
        return 0;
    struct mlit_pat *pats = NULL;
    size_t npats = 0, cap = 0;
    for (size_t i = 0; i < n; i++)
        if (cand_pats(&c[i], (uint32_t)i, &pats, &npats, &cap) < 0) {
            free(pats);
            return -1;
        }
    struct mlit *m = mlit_build(pats, npats, (uint32_t)n);
    free(pats);
    if (!m) {
        if (n == 1)
            return 0; /* this rule alone is too big: it runs unfiltered */
        if (build_scan_part(p, c, n / 2) < 0)
            return -1;
        return build_scan_part(p, c + n / 2, n - n / 2);
    }
    struct mlit **ns = realloc(p->scan, (p->nscan + 1) * sizeof(*ns));
    uint32_t *no = realloc(p->scan_off, (p->nscan + 1) * sizeof(*no));
    if (ns)
        p->scan = ns;
    if (no)
        p->scan_off = no;
    if (!ns || !no) {
        mlit_free(m);
        return -1;
    }
    p->scan[p->nscan] = m;
    p->scan_off[p->nscan] = (uint32_t)p->scan_words;
    for (size_t i = 0; i < n; i++) {
        c[i].r->scan[c[i].tier] = (int16_t)p->nscan;
        c[i].r->scan_owner[c[i].tier] = (uint32_t)i;
        c[i].r->scan_tiered |= c[i].tier > 0;
        c[i].r->scan_bos[c[i].tier] = c[i].lits && c[i].lits->bos;
    }
    p->scan_words += (n + 63) / 64;
    p->nscan++;
    return 0;
}

static int build_scanners(struct waf_builder *b)
{
    struct waf_program *p = b->p;
    struct scan_cand *c = calloc(p->nall ? p->nall * (RX_TIERS + 1) : 1, sizeof(*c));
    size_t n = 0;
    int rc = -1;
    if (!c)
        return -1;
    for (size_t i = 0; i < p->nall; i++) {
        struct rule *r = p->all[i];
        if (r->marker || r->param_macro)
            continue;
        if (r->op == OP_RX && r->rx) {
            struct rx_lits *l[RX_TIERS + 1];
            rx_prefilter_lits_tiers(r->param, r->param_len, l);
            if (!r->rx_pre)
                r->rx_pre = rx_prefilter_pm(l[0]); /* the rule's own, for values without a scan */
            for (int k = 0; k <= RX_TIERS; k++)
                if (l[k])
                    c[n++] = (struct scan_cand){r, l[k], k};
        } else if ((r->op == OP_PM || r->op == OP_PMFROMFILE) && pm_list_count(r->pm)) {
            c[n++] = (struct scan_cand){r, NULL, 0};
        }
    }
    rx_tier_table(p->byte_tier);
    for (int by = 0; by < 256; by++)
        p->byte_tier_bit[by] = p->byte_tier[by] <= RX_TIERS ? (uint8_t)(1u << (p->byte_tier[by] - 1)) : 0;
    rc = build_scan_part(p, c, n);
    /* "or a match at the start" needs the pattern anchored there */
    for (size_t i = 0; i < p->nall && rc == 0; i++) {
        struct rule *r = p->all[i];
        bool bos = false;
        for (int k = 0; k <= RX_TIERS; k++)
            bos |= r->scan[k] >= 0 && r->scan_bos[k];
        if (!bos || r->rx_anch)
            continue;
        char e[256];
        r->rx_anch = rx_compile_anchored(r->param, r->param_len, p->pcre_match_limit, e, sizeof e);
        if (!r->rx_anch)
            for (int k = 0; k <= RX_TIERS; k++)
                if (r->scan_bos[k])
                    r->scan[k] = -1; /* cannot happen for a pattern that compiled */
    }
    for (size_t i = 0; i < n; i++)
        free(c[i].lits);
    free(c);
    return rc;
}

/* ---- tag ids ----------------------------------------------------------------
 * ctl:ruleRemoveByTag / ruleRemoveTargetByTag are tested against every
 * later rule of the transaction (CRS's 941010 sets one on every ordinary
 * request), so tags become small integers once, at load. */
struct tag_tab {
    const char **name;
    uint32_t *hash;
    uint16_t *id;
    size_t mask, n;
};

static uint32_t tag_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Room for up to count names (the table stays at most half full). */
static int tag_tab_init(struct tag_tab *t, size_t count)
{
    size_t slots = 64;
    while (slots < count * 2 + 1)
        slots *= 2;
    *t = (struct tag_tab){calloc(slots, sizeof(char *)), calloc(slots, sizeof(uint32_t)),
                          calloc(slots, sizeof(uint16_t)), slots - 1, 0};
    return t->name && t->hash && t->id ? 0 : -1;
}

static void tag_tab_free(struct tag_tab *t)
{
    free(t->name);
    free(t->hash);
    free(t->id);
}

/* The id of name; adds it when add is set. -1 when absent (or full). */
static int tag_lookup(struct tag_tab *t, const char *name, bool add)
{
    uint32_t h = tag_hash(name);
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        if (!t->name[i]) {
            if (!add || t->n >= UINT16_MAX)
                return -1;
            t->name[i] = name;
            t->hash[i] = h;
            t->id[i] = (uint16_t)t->n++;
            return t->id[i];
        }
        if (t->hash[i] == h && strcmp(t->name[i], name) == 0)
            return t->id[i];
    }
}

static int assign_tag_ids(struct waf_program *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->nall; i++)
        total += p->all[i]->a.ntags;
    struct tag_tab t;
    int rc = -1;
    if (tag_tab_init(&t, total) < 0)
        goto out;
    for (size_t i = 0; i < p->nall; i++) {
        struct rule *r = p->all[i];
        if (!r->a.ntags)
            continue;
        r->tag_ids = malloc(r->a.ntags * sizeof(uint16_t));
        if (!r->tag_ids)
            goto out;
        for (size_t k = 0; k < r->a.ntags; k++) {
            int id = r->a.tags[k] ? tag_lookup(&t, r->a.tags[k], true) : -1;
            r->tag_ids[k] = id < 0 ? UINT16_MAX : (uint16_t)id; /* past 65,535 tags: never matches */
            r->tag_mask |= 1ull << (r->tag_ids[k] & 63);
        }
    }
    for (size_t i = 0; i < p->nall; i++) {
        struct actions *a = &p->all[i]->a;
        for (size_t k = 0; k < a->nctls; k++) {
            struct ctl *c = &a->ctls[k];
            c->tag_id = (c->kind == CTL_RULE_REMOVE_BY_TAG ||
                         c->kind == CTL_RULE_REMOVE_TARGET_BY_TAG) && c->str
                            ? tag_lookup(&t, c->str, false)
                            : -1;
        }
    }
    p->ntag_names = t.n;
    rc = 0;
out:
    tag_tab_free(&t);
    return rc;
}

/* Rule links whose whole target list is summarisable (cacheable
 * collections, XML) get the id of (target list, chain) so the engine can
 * decide "no value of any target holds a literal" once per list, not once
 * per target of every rule (thirty CRS rules share one 932 list). */
static int assign_list_slots(struct waf_program *p)
{
    char **keys = calloc(p->nall ? p->nall : 1, sizeof(char *));
    struct tag_tab t;
    int rc = -1;
    if (!keys || tag_tab_init(&t, p->nall) < 0) {
        free(keys);
        return -1;
    }
    for (size_t i = 0; i < p->nall; i++) {
        struct rule *r = p->all[i];
        r->list_slot = 0;
        if (r->marker || !r->ntargets)
            continue;
        size_t len = 16;
        bool ok = true;
        for (size_t k = 0; k < r->ntargets && ok; k++) {
            const struct target *tg = &r->targets[k];
            ok = !tg->count && tg->text && (tg->cache_slot || tg->var == V_XML);
            len += ok ? strlen(tg->text) + 1 : 0;
        }
        if (!ok || !(keys[i] = malloc(len)))
            continue;
        size_t at = (size_t)snprintf(keys[i], len, r->a.multimatch ? "m%zu#" : "%zu#",
                                     r->eff_nxforms ? (size_t)r->eff_pfx[r->eff_nxforms - 1]
                                                    : p->nprefix);
        for (size_t k = 0; k < r->ntargets && at < len; k++)
            at += (size_t)snprintf(keys[i] + at, len - at, "%s|", r->targets[k].text);
        int id = tag_lookup(&t, keys[i], true);
        r->list_slot = id < 0 ? 0 : (uint32_t)id + 1;
    }
    p->nlist_ids = t.n;
    rc = 0;
    for (size_t i = 0; i < p->nall; i++)
        free(keys[i]);
    free(keys);
    tag_tab_free(&t);
    return rc;
}

/* Targets: the hash of a name selector (map lookups), and one cache slot
 * per distinct cacheable target text, so the hundred CRS rules that read
 * ARGS share one resolution per phase. */
static int assign_target_slots(struct waf_program *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->nall; i++)
        total += p->all[i]->ntargets;
    struct tag_tab t;
    int rc = -1;
    if (tag_tab_init(&t, total) < 0)
        goto out;
    for (size_t i = 0; i < p->nall; i++) {
        struct rule *r = p->all[i];
        for (size_t k = 0; k < r->ntargets; k++) {
            struct target *tg = &r->targets[k];
            if (tg->sel_kind == SEL_NAME)
                tg->sel_hash = tx_name_hash(tg->sel, tg->sel_len);
            int id = tg->text && tx_target_cacheable((int)tg->var)
                         ? tag_lookup(&t, tg->text, true)
                         : -1;
            tg->cache_slot = id < 0 ? 0 : (uint32_t)id + 1;
        }
    }
    p->ntarget_ids = t.n;
    rc = assign_list_slots(p);
out:
    tag_tab_free(&t);
    return rc;
}

struct waf_program *waf_builder_finish(struct waf_builder *b, char *err, size_t errlen)
{
    struct waf_program *p = b->p;
    struct waf_program *out = NULL;
    if (b->chain_tail) {
        snprintf(err, errlen, "%s:%d: rule ends with 'chain' but no rule follows",
                 b->chain_tail->file, b->chain_tail->line);
        goto out;
    }
    /* Lay the rules out per phase; markers go into every phase so that
     * skipAfter works in whichever phase the skipping rule runs. */
    for (int ph = 1; ph <= WAF_PHASES; ph++) {
        size_t cnt = 0;
        for (size_t i = 0; i < b->nlist; i++)
            if (!b->list[i]->removed && (b->list[i]->marker || b->list[i]->a.phase == ph))
                cnt++;
        p->phase_rules[ph] = calloc(cnt ? cnt : 1, sizeof(struct rule *));
        if (!p->phase_rules[ph]) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        size_t k = 0;
        for (size_t i = 0; i < b->nlist; i++) {
            struct rule *r = b->list[i];
            if (r->removed || !(r->marker || r->a.phase == ph))
                continue;
            p->phase_rules[ph][k++] = r;
        }
        p->nphase[ph] = cnt;
    }
    struct pfx_table pt = {0};
    for (size_t i = 0; i < b->nlist; i++) {
        struct rule *r = b->list[i];
        if (r->removed || r->marker)
            continue;
        p->nrules++;
        for (struct rule *c = r; c; c = c->chain_next) {
            resolve_effective(b, c, r->a.phase);
            if (pfx_intern(&pt, c) < 0) {
                free(pt.v);
                snprintf(err, errlen, "out of memory");
                goto out;
            }
        }
        if (r->a.skip_after) {
            int ph = r->a.phase;
            int self = -1;
            for (size_t k = 0; k < p->nphase[ph]; k++)
                if (p->phase_rules[ph][k] == r)
                    self = (int)k;
            for (size_t k = (size_t)self + 1; k < p->nphase[ph]; k++) {
                struct rule *m = p->phase_rules[ph][k];
                if (m->marker && strcmp(m->marker_name, r->a.skip_after) == 0) {
                    r->skip_to = (int)k + 1;
                    break;
                }
            }
            /* ModSecurity skips to the end of the phase when the marker is
             * missing; keep that, it is how CRS's optional markers work */
            if (r->skip_to < 0)
                r->skip_to = (int)p->nphase[ph];
        }
    }
    p->nprefix = pt.n;
    if (build_triggers(p, &pt) < 0) {
        free(pt.v);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    free(pt.v);
    for (size_t i = 0; i < p->nall; i++) {
        struct rule *r = p->all[i];
        if (r->op >= OP_EQ && r->op <= OP_LT && !r->param_macro)
            r->param_num = waf_num(r->param ? r->param : "", r->param_len);
    }
    if (build_scanners(b) < 0 || assign_tag_ids(p) < 0 || assign_target_slots(p) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* the program owns the interned file names */
    p->files = b->lex.files;
    p->nfiles = b->lex.nfiles;
    b->lex.files = NULL;
    b->lex.nfiles = 0;
    out = p;
    b->p = NULL;
out:
    waf_builder_free(b);
    return out;
}
