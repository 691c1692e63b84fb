/* SecLang action lists: "id:1,phase:2,t:none,setvar:'tx.x=+1',..." into
 * struct actions (program.h). Every action is either understood or refused
 * with a message; see docs/seclang.md for the list. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "waf/compile.h"
#include "waf/macro.h"
#include "waf/vars_table.h"

void compile_actions_init(struct actions *a)
{
    memset(a, 0, sizeof(*a));
    a->severity = -1;
    a->log = -1;
    a->auditlog = -1;
    a->maturity = -1;
    a->accuracy = -1;
}

void compile_actions_free(struct actions *a)
{
    macro_free(a->msg);
    macro_free(a->logdata);
    for (size_t i = 0; i < a->ntags; i++)
        free(a->tags[i]);
    free(a->tags);
    free(a->ver);
    free(a->rev);
    free(a->redirect);
    free(a->skip_after);
    for (size_t i = 0; i < a->nsetvars; i++) {
        macro_free(a->setvars[i].name);
        macro_free(a->setvars[i].value);
    }
    free(a->setvars);
    for (size_t i = 0; i < a->nctls; i++) {
        free(a->ctls[i].str);
        if (a->ctls[i].tgt) {
            compile_target_free(a->ctls[i].tgt);
            free(a->ctls[i].tgt);
        }
    }
    free(a->ctls);
}

int compile_parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_severity(const char *v, int *out)
{
    static const char *names[] = {"EMERGENCY", "ALERT", "CRITICAL", "ERROR",
                                  "WARNING", "NOTICE", "INFO", "DEBUG"};
    for (int i = 0; i < 8; i++)
        if (strcasecmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    if (compile_parse_int(v, out) == 0 && *out >= 0 && *out <= 7)
        return 0;
    return -1;
}

int compile_parse_id_range(const char *s, int *lo, int *hi)
{
    const char *dash = strchr(s, '-');
    if (dash && dash != s) {
        char a[32], b[32];
        size_t al = (size_t)(dash - s);
        if (al >= sizeof a || strlen(dash + 1) >= sizeof b)
            return -1;
        memcpy(a, s, al);
        a[al] = '\0';
        snprintf(b, sizeof b, "%s", dash + 1);
        if (compile_parse_int(a, lo) < 0 || compile_parse_int(b, hi) < 0 || *lo > *hi)
            return -1;
        return 0;
    }
    if (compile_parse_int(s, lo) < 0)
        return -1;
    *hi = *lo;
    return 0;
}

static int parse_ctl(struct actions *a, const char *v, char *msg, size_t msglen)
{
    const char *eq = strchr(v, '=');
    if (!eq) {
        snprintf(msg, msglen, "ctl:%s: missing '='", v);
        return -1;
    }
    size_t kl = (size_t)(eq - v);
    const char *val = eq + 1;
    struct ctl c;
    memset(&c, 0, sizeof c);
    static const struct {
        const char *name;
        enum ctl_kind kind;
    } kinds[] = {
        {"ruleEngine", CTL_RULE_ENGINE},
        {"ruleRemoveById", CTL_RULE_REMOVE_BY_ID},
        {"ruleRemoveByTag", CTL_RULE_REMOVE_BY_TAG},
        {"ruleRemoveByMsg", CTL_RULE_REMOVE_BY_MSG},
        {"ruleRemoveTargetById", CTL_RULE_REMOVE_TARGET_BY_ID},
        {"ruleRemoveTargetByTag", CTL_RULE_REMOVE_TARGET_BY_TAG},
        {"ruleRemoveTargetByMsg", CTL_RULE_REMOVE_TARGET_BY_MSG},
        {"requestBodyProcessor", CTL_REQUEST_BODY_PROCESSOR},
        {"requestBodyAccess", CTL_REQUEST_BODY_ACCESS},
        {"forceRequestBodyVariable", CTL_FORCE_REQUEST_BODY_VARIABLE},
        {"auditEngine", CTL_AUDIT_ENGINE},
        {"auditLogParts", CTL_AUDIT_LOG_PARTS},
        {"requestBodyLimit", CTL_REQUEST_BODY_LIMIT},
        {"responseBodyAccess", CTL_RESPONSE_BODY_ACCESS},
        {"debugLogLevel", CTL_DEBUG_LOG_LEVEL},
        {"hashEngine", CTL_HASH_ENGINE},
    };
    bool found = false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == kl && strncasecmp(kinds[i].name, v, kl) == 0) {
            c.kind = kinds[i].kind;
            found = true;
        }
    if (!found) {
        snprintf(msg, msglen, "unsupported ctl:%.*s", (int)kl, v);
        return -1;
    }
    switch (c.kind) {
    case CTL_RULE_ENGINE:
        if (strcasecmp(val, "On") == 0)
            c.ival = ENGINE_ON;
        else if (strcasecmp(val, "Off") == 0)
            c.ival = ENGINE_OFF;
        else if (strcasecmp(val, "DetectionOnly") == 0)
            c.ival = ENGINE_DETECTION_ONLY;
        else
            goto badval;
        break;
    case CTL_RULE_REMOVE_BY_ID:
        if (compile_parse_id_range(val, &c.lo, &c.hi) < 0)
            goto badval;
        break;
    case CTL_RULE_REMOVE_BY_TAG: case CTL_RULE_REMOVE_BY_MSG:
        c.str = strdup(val);
        break;
    case CTL_RULE_REMOVE_TARGET_BY_ID: case CTL_RULE_REMOVE_TARGET_BY_TAG:
    case CTL_RULE_REMOVE_TARGET_BY_MSG: {
        const char *semi = strchr(val, ';');
        if (!semi)
            goto badval;
        char *left = compile_strndup(val, (size_t)(semi - val));
        if (c.kind == CTL_RULE_REMOVE_TARGET_BY_ID) {
            int rc = compile_parse_id_range(left, &c.lo, &c.hi);
            free(left);
            if (rc < 0)
                goto badval;
        } else {
            c.str = left;
        }
        c.tgt = calloc(1, sizeof(*c.tgt));
        bool excl;
        char e[256];
        if (!c.tgt || compile_parse_target(semi + 1, strlen(semi + 1), c.tgt, &excl, e, sizeof e) < 0) {
            snprintf(msg, msglen, "ctl:%.*s: %s", (int)kl, v, c.tgt ? e : "out of memory");
            if (c.tgt) {
                compile_target_free(c.tgt);
                free(c.tgt);
            }
            free(c.str);
            return -1;
        }
        break;
    }
    case CTL_REQUEST_BODY_PROCESSOR:
        if (strcasecmp(val, "URLENCODED") == 0)
            c.ival = BP_URLENCODED;
        else if (strcasecmp(val, "MULTIPART") == 0)
            c.ival = BP_MULTIPART;
        else if (strcasecmp(val, "JSON") == 0)
            c.ival = BP_JSON;
        else if (strcasecmp(val, "XML") == 0)
            c.ival = BP_XML;
        else
            goto badval;
        break;
    case CTL_REQUEST_BODY_ACCESS: case CTL_FORCE_REQUEST_BODY_VARIABLE:
    case CTL_RESPONSE_BODY_ACCESS:
        if (strcasecmp(val, "On") == 0 || strcasecmp(val, "true") == 0)
            c.ival = 1;
        else if (strcasecmp(val, "Off") == 0 || strcasecmp(val, "false") == 0)
            c.ival = 0;
        else
            goto badval;
        break;
    case CTL_AUDIT_ENGINE:
        if (strcasecmp(val, "On") && strcasecmp(val, "Off") && strcasecmp(val, "RelevantOnly"))
            goto badval;
        break;
    case CTL_REQUEST_BODY_LIMIT:
        if (compile_parse_int(val, &c.ival) < 0 || c.ival < 0)
            goto badval;
        break;
    default:
        c.str = strdup(val);
        break;
    }
    struct ctl *nc = realloc(a->ctls, (a->nctls + 1) * sizeof(*nc));
    if (!nc)
        return -1;
    a->ctls = nc;
    a->ctls[a->nctls++] = c;
    return 0;
badval:
    snprintf(msg, msglen, "ctl:%.*s: bad value '%s'", (int)kl, v, val);
    return -1;
}

static int parse_setvar(struct actions *a, const char *v, char *msg, size_t msglen)
{
    struct setvar sv;
    memset(&sv, 0, sizeof sv);
    const char *s = v;
    if (*s == '!') {
        sv.op = SV_DEL;
        s++;
    }
    const char *dot = strchr(s, '.');
    if (!dot) {
        snprintf(msg, msglen, "setvar:%s: expected collection.name", v);
        return -1;
    }
    int coll = vars_lookup(s, (size_t)(dot - s));
    if (coll != V_TX && coll != V_IP && coll != V_SESSION && coll != V_GLOBAL &&
        coll != V_USER && coll != V_RESOURCE) {
        snprintf(msg, msglen, "setvar:%s: collection must be TX, IP, SESSION, GLOBAL, USER or RESOURCE", v);
        return -1;
    }
    sv.coll = coll;
    const char *name = dot + 1;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const char *val = "";
    if (eq) {
        if (sv.op == SV_DEL) {
            snprintf(msg, msglen, "setvar:%s: '!' takes no value", v);
            return -1;
        }
        val = eq + 1;
        if (*val == '+') {
            sv.op = SV_ADD;
            val++;
        } else if (*val == '-') {
            sv.op = SV_SUB;
            val++;
        } else {
            sv.op = SV_SET;
        }
    } else if (sv.op != SV_DEL) {
        sv.op = SV_SET; /* "setvar:tx.flag" sets it to 1 */
        val = "1";
    }
    if (nlen == 0) {
        snprintf(msg, msglen, "setvar:%s: empty variable name", v);
        return -1;
    }
    char e[256];
    sv.name = macro_compile(name, nlen, e, sizeof e);
    sv.value = sv.name ? macro_compile(val, strlen(val), e, sizeof e) : NULL;
    if (!sv.name || !sv.value) {
        macro_free(sv.name);
        snprintf(msg, msglen, "setvar:%s: %s", v, e);
        return -1;
    }
    struct setvar *ns = realloc(a->setvars, (a->nsetvars + 1) * sizeof(*ns));
    if (!ns) {
        macro_free(sv.name);
        macro_free(sv.value);
        return -1;
    }
    a->setvars = ns;
    a->setvars[a->nsetvars++] = sv;
    return 0;
}

/* One action "name" or "name:value" (value already unquoted). */
static int apply_action(struct actions *a, const char *name, const char *val, bool is_default,
                        char *msg, size_t msglen)
{
    char e[256];
#define NEED_VAL()                                                                         \
    do {                                                                                   \
        if (!val) {                                                                        \
            snprintf(msg, msglen, "action '%s' needs a value", name);                      \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)
    if (!strcasecmp(name, "id")) {
        NEED_VAL();
        if (compile_parse_int(val, &a->id) < 0 || a->id <= 0) {
            snprintf(msg, msglen, "bad rule id '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "phase")) {
        NEED_VAL();
        if (!strcasecmp(val, "request"))
            a->phase = 2;
        else if (!strcasecmp(val, "response"))
            a->phase = 4;
        else if (!strcasecmp(val, "logging"))
            a->phase = 5;
        else if (compile_parse_int(val, &a->phase) < 0 || a->phase < 1 || a->phase > 5) {
            snprintf(msg, msglen, "bad phase '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "pass")) {
        a->disrupt = D_PASS;
    } else if (!strcasecmp(name, "block")) {
        a->disrupt = D_BLOCK;
    } else if (!strcasecmp(name, "deny")) {
        a->disrupt = D_DENY;
    } else if (!strcasecmp(name, "drop")) {
        a->disrupt = D_DROP;
    } else if (!strcasecmp(name, "allow")) {
        a->disrupt = D_ALLOW;
        if (val && !strcasecmp(val, "phase"))
            a->allow_phase_only = true;
        else if (val && !strcasecmp(val, "request"))
            a->allow_request_only = true;
        else if (val) {
            snprintf(msg, msglen, "bad allow '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "redirect")) {
        NEED_VAL();
        a->disrupt = D_REDIRECT;
        free(a->redirect);
        a->redirect = strdup(val);
    } else if (!strcasecmp(name, "status")) {
        NEED_VAL();
        if (compile_parse_int(val, &a->status) < 0 || a->status < 100 || a->status > 599) {
            snprintf(msg, msglen, "bad status '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "msg")) {
        NEED_VAL();
        macro_free(a->msg);
        a->msg = macro_compile(val, strlen(val), e, sizeof e);
        if (!a->msg) {
            snprintf(msg, msglen, "msg: %s", e);
            return -1;
        }
    } else if (!strcasecmp(name, "logdata")) {
        NEED_VAL();
        macro_free(a->logdata);
        a->logdata = macro_compile(val, strlen(val), e, sizeof e);
        if (!a->logdata) {
            snprintf(msg, msglen, "logdata: %s", e);
            return -1;
        }
    } else if (!strcasecmp(name, "tag")) {
        NEED_VAL();
        char **nt = realloc(a->tags, (a->ntags + 1) * sizeof(*nt));
        if (!nt)
            return -1;
        a->tags = nt;
        a->tags[a->ntags++] = strdup(val);
    } else if (!strcasecmp(name, "ver")) {
        NEED_VAL();
        free(a->ver);
        a->ver = strdup(val);
    } else if (!strcasecmp(name, "rev")) {
        NEED_VAL();
        free(a->rev);
        a->rev = strdup(val);
    } else if (!strcasecmp(name, "severity")) {
        NEED_VAL();
        if (parse_severity(val, &a->severity) < 0) {
            snprintf(msg, msglen, "bad severity '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "maturity")) {
        NEED_VAL();
        if (compile_parse_int(val, &a->maturity) < 0) {
            snprintf(msg, msglen, "bad maturity '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "accuracy")) {
        NEED_VAL();
        if (compile_parse_int(val, &a->accuracy) < 0) {
            snprintf(msg, msglen, "bad accuracy '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "log")) {
        a->log = 1;
    } else if (!strcasecmp(name, "nolog")) {
        a->log = 0;
    } else if (!strcasecmp(name, "auditlog")) {
        a->auditlog = 1;
    } else if (!strcasecmp(name, "noauditlog")) {
        a->auditlog = 0;
    } else if (!strcasecmp(name, "capture")) {
        a->capture = true;
    } else if (!strcasecmp(name, "multiMatch")) {
        a->multimatch = true;
    } else if (!strcasecmp(name, "chain")) {
        if (is_default) {
            snprintf(msg, msglen, "chain is not allowed in SecDefaultAction");
            return -1;
        }
        a->chain = true;
    } else if (!strcasecmp(name, "skip")) {
        NEED_VAL();
        if (compile_parse_int(val, &a->skip) < 0 || a->skip < 1) {
            snprintf(msg, msglen, "bad skip '%s'", val);
            return -1;
        }
    } else if (!strcasecmp(name, "skipAfter")) {
        NEED_VAL();
        free(a->skip_after);
        a->skip_after = strdup(val);
    } else if (!strcasecmp(name, "t")) {
        NEED_VAL();
        int x = xform_lookup(val, strlen(val));
        if (x < 0) {
            snprintf(msg, msglen, "unknown transformation t:%s", val);
            return -1;
        }
        if (x == XF_NONE) {
            a->nxforms = 0;
            a->xform_none = true;
        } else {
            if (a->nxforms >= sizeof a->xforms) {
                snprintf(msg, msglen, "too many transformations");
                return -1;
            }
            a->xforms[a->nxforms++] = (uint8_t)x;
        }
    } else if (!strcasecmp(name, "setvar")) {
        NEED_VAL();
        return parse_setvar(a, val, msg, msglen);
    } else if (!strcasecmp(name, "ctl")) {
        NEED_VAL();
        return parse_ctl(a, val, msg, msglen);
    } else if (!strcasecmp(name, "expirevar")) {
        NEED_VAL();
        a->has_expirevar = true; /* persistent collections are per-transaction: nothing expires */
    } else if (!strcasecmp(name, "initcol")) {
        NEED_VAL();
        a->has_initcol = true; /* IP/SESSION/... live for the transaction only (docs/seclang.md) */
    } else if (!strcasecmp(name, "setuid") || !strcasecmp(name, "setsid") ||
               !strcasecmp(name, "setenv") || !strcasecmp(name, "sanitiseMatched") ||
               !strcasecmp(name, "sanitizeMatched") || !strcasecmp(name, "sanitiseArg") ||
               !strcasecmp(name, "sanitiseMatchedBytes") || !strcasecmp(name, "auditLogParts")) {
        /* accepted: they affect only logs or environment mamori does not keep */
    } else if (!strcasecmp(name, "xmlns")) {
        NEED_VAL();
    } else {
        snprintf(msg, msglen, "unsupported action '%s'", name);
        return -1;
    }
#undef NEED_VAL
    return 0;
}

/* Parses "a,b:c,d:'x,y'" into actions. */
int compile_parse_actions(const char *s, struct actions *a, bool is_default, char *msg,
                          size_t msglen)
{
    size_t n = strlen(s);
    size_t i = 0;
    char *name = NULL, *val = NULL;
    while (i < n) {
        while (i < n && (isspace((unsigned char)s[i]) || s[i] == ','))
            i++;
        if (i >= n)
            break;
        size_t ns = i;
        while (i < n && s[i] != ':' && s[i] != ',')
            i++;
        size_t ne = i;
        while (ne > ns && isspace((unsigned char)s[ne - 1]))
            ne--;
        name = compile_strndup(s + ns, ne - ns);
        val = NULL;
        if (i < n && s[i] == ':') {
            i++;
            while (i < n && isspace((unsigned char)s[i]))
                i++;
            if (i < n && s[i] == '\'') {
                i++;
                size_t cap = n - i + 1, vl = 0;
                val = malloc(cap);
                bool closed = false;
                while (i < n) {
                    if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                        val[vl++] = '\'';
                        i += 2;
                        continue;
                    }
                    if (s[i] == '\'') {
                        closed = true;
                        i++;
                        break;
                    }
                    val[vl++] = s[i++];
                }
                val[vl] = '\0';
                if (!closed) {
                    snprintf(msg, msglen, "unterminated quote in action '%s'", name);
                    goto fail;
                }
            } else {
                size_t vs = i;
                while (i < n && s[i] != ',')
                    i++;
                size_t ve = i;
                while (ve > vs && isspace((unsigned char)s[ve - 1]))
                    ve--;
                val = compile_strndup(s + vs, ve - vs);
            }
        }
        if (apply_action(a, name, val, is_default, msg, msglen) < 0)
            goto fail;
        free(name);
        free(val);
        name = val = NULL;
    }
    return 0;
fail:
    free(name);
    free(val);
    return -1;
}

