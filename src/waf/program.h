/* Internal representation of a compiled SecLang program (shared by the
 * compiler and the engine; not part of the public API).
 *
 * Invariants: after waf_builder_finish nothing here is written again; the
 * engine only reads it, from any number of threads. Strings are owned by the
 * program (allocated at load, freed by waf_program_free). */
#ifndef MAMORI_WAF_PROGRAM_H
#define MAMORI_WAF_PROGRAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "waf/matchers.h"
#include "waf/rx_prefilter.h"
#include "waf/multilit.h"
#include "waf/transforms.h"

#define WAF_PHASES 5

enum var_id {
    V_ARGS, V_ARGS_GET, V_ARGS_POST, V_ARGS_NAMES, V_ARGS_GET_NAMES, V_ARGS_POST_NAMES,
    V_ARGS_COMBINED_SIZE,
    V_REQUEST_HEADERS, V_REQUEST_HEADERS_NAMES, V_REQUEST_COOKIES, V_REQUEST_COOKIES_NAMES,
    V_REQUEST_FILENAME, V_REQUEST_BASENAME, V_REQUEST_URI, V_REQUEST_URI_RAW, V_REQUEST_LINE,
    V_REQUEST_METHOD, V_REQUEST_PROTOCOL, V_REQUEST_BODY, V_REQUEST_BODY_LENGTH, V_QUERY_STRING,
    V_PATH_INFO, V_FULL_REQUEST, V_FULL_REQUEST_LENGTH,
    V_REMOTE_ADDR, V_REMOTE_HOST, V_REMOTE_PORT, V_REMOTE_USER, V_SERVER_ADDR, V_SERVER_NAME,
    V_SERVER_PORT, V_AUTH_TYPE, V_UNIQUE_ID,
    V_TX, V_IP, V_SESSION, V_GLOBAL, V_USER, V_RESOURCE, V_ENV, V_RULE, V_GEO,
    V_MATCHED_VAR, V_MATCHED_VAR_NAME, V_MATCHED_VARS, V_MATCHED_VARS_NAMES,
    V_FILES, V_FILES_NAMES, V_FILES_SIZES, V_FILES_COMBINED_SIZE, V_FILES_TMPNAMES,
    V_FILES_TMP_CONTENT,
    V_MULTIPART_FILENAME, V_MULTIPART_NAME, V_MULTIPART_PART_HEADERS,
    V_MULTIPART_BOUNDARY_QUOTED, V_MULTIPART_BOUNDARY_WHITESPACE, V_MULTIPART_DATA_AFTER,
    V_MULTIPART_DATA_BEFORE, V_MULTIPART_HEADER_FOLDING, V_MULTIPART_LF_LINE,
    V_MULTIPART_CRLF_LF_LINES, V_MULTIPART_MISSING_SEMICOLON, V_MULTIPART_INVALID_QUOTING,
    V_MULTIPART_INVALID_PART, V_MULTIPART_INVALID_HEADER_FOLDING,
    V_MULTIPART_FILE_LIMIT_EXCEEDED, V_MULTIPART_STRICT_ERROR, V_MULTIPART_UNMATCHED_BOUNDARY,
    V_REQBODY_ERROR, V_REQBODY_ERROR_MSG, V_REQBODY_PROCESSOR, V_REQBODY_PROCESSOR_ERROR,
    V_REQBODY_PROCESSOR_ERROR_MSG, V_URLENCODED_ERROR, V_INBOUND_DATA_ERROR,
    V_OUTBOUND_DATA_ERROR, V_XML,
    V_RESPONSE_BODY, V_RESPONSE_HEADERS, V_RESPONSE_HEADERS_NAMES, V_RESPONSE_STATUS,
    V_RESPONSE_PROTOCOL, V_RESPONSE_CONTENT_TYPE, V_RESPONSE_CONTENT_LENGTH, V_STATUS_LINE,
    V_DURATION, V_TIME, V_TIME_DAY, V_TIME_EPOCH, V_TIME_HOUR, V_TIME_MIN, V_TIME_MON,
    V_TIME_SEC, V_TIME_WDAY, V_TIME_YEAR, V_HIGHEST_SEVERITY, V_WEBAPP_ID, V_SESSIONID,
    V_USERID, V_MSC_PCRE_LIMITS_EXCEEDED,
    V_ARGS_JSON, /* internal: JSON body arguments, part of ARGS but not ARGS_POST (as v3) */
    V__COUNT
};

enum sel_kind { SEL_NONE, SEL_NAME, SEL_REGEX };

#define XB_CASE (1ull << 62)
#define XB_ALWAYS (1ull << 63)

struct target {
    enum var_id var;
    enum sel_kind sel_kind;
    bool count;       /* &VAR */
    char *sel;        /* selector text (lower-cased for case-insensitive collections) */
    size_t sel_len;
    struct rx *sel_rx;
    struct pm *sel_pre; /* SEL_REGEX: its required literals (rx_prefilter.h), or NULL */
    char *sel_lit;      /* ... or the one literal it requires (lower case), or NULL */
    size_t sel_lit_len;
    bool sel_prefix;    /* the regex is exactly ^sel_lit: a prefix test decides */
    char *text;       /* as written, for logs: "ARGS:foo" */
    uint32_t sel_hash; /* SEL_NAME: tx_name_hash(sel), for map lookups */
    uint32_t cache_slot; /* > 0: identical targets share one resolution per
                          * phase (tx_resolve_items, entry cache_slot - 1);
                          * 0: resolved every time */
};

enum op_id {
    OP_RX, OP_PM, OP_PMFROMFILE, OP_STREQ, OP_CONTAINS, OP_CONTAINSWORD, OP_BEGINSWITH,
    OP_ENDSWITH, OP_WITHIN, OP_EQ, OP_GE, OP_GT, OP_LE, OP_LT, OP_IPMATCH, OP_IPMATCHFROMFILE,
    OP_VALIDATEBYTERANGE, OP_VALIDATEURLENCODING, OP_VALIDATEUTF8ENCODING, OP_DETECTSQLI,
    OP_DETECTXSS, OP_UNCONDITIONAL, OP_NOMATCH, OP_STRMATCH,
    OP_GEOLOOKUP, /* no GeoIP database support: never matches, GEO stays empty */
    OP_RBL,       /* no DNS lookups from the engine: never matches */
};

struct macro; /* compiled %{...} template, see macro.c */

struct setvar {
    int coll;           /* V_TX, V_IP, V_SESSION, V_GLOBAL, V_USER, V_RESOURCE */
    struct macro *name; /* variable name within the collection */
    enum { SV_SET, SV_ADD, SV_SUB, SV_DEL } op;
    struct macro *value;
};

enum ctl_kind {
    CTL_RULE_ENGINE, CTL_RULE_REMOVE_BY_ID, CTL_RULE_REMOVE_BY_TAG, CTL_RULE_REMOVE_BY_MSG,
    CTL_RULE_REMOVE_TARGET_BY_ID, CTL_RULE_REMOVE_TARGET_BY_TAG, CTL_RULE_REMOVE_TARGET_BY_MSG,
    CTL_REQUEST_BODY_PROCESSOR, CTL_REQUEST_BODY_ACCESS, CTL_FORCE_REQUEST_BODY_VARIABLE,
    CTL_AUDIT_ENGINE, CTL_AUDIT_LOG_PARTS, CTL_REQUEST_BODY_LIMIT, CTL_RESPONSE_BODY_ACCESS,
    CTL_DEBUG_LOG_LEVEL, CTL_HASH_ENGINE,
};

enum engine_mode { ENGINE_ON, ENGINE_OFF, ENGINE_DETECTION_ONLY };
enum body_proc { BP_NONE, BP_URLENCODED, BP_MULTIPART, BP_JSON, BP_XML };

struct ctl {
    enum ctl_kind kind;
    int lo, hi;          /* id range */
    char *str;           /* tag / msg / processor / value */
    int tag_id;          /* *_BY_TAG: the program's id of str, -1 if no rule has it */
    struct target *tgt;  /* for *_TARGET_* */
    int ival;
};

enum disrupt { D_NONE, D_PASS, D_BLOCK, D_DENY, D_DROP, D_ALLOW, D_REDIRECT, D_PROXY };

struct actions {
    int id;
    int phase;                /* 1..5, 0 = not given */
    enum disrupt disrupt;     /* D_NONE = not given */
    int status;               /* 0 = not given */
    char *redirect;
    struct macro *msg, *logdata;
    char **tags;
    size_t ntags;
    char *ver, *rev;
    int severity;             /* -1 = not given */
    int maturity, accuracy;
    int log;                  /* -1 unset, 0 nolog, 1 log */
    int auditlog;
    bool capture, multimatch, chain;
    int skip;
    char *skip_after;
    uint8_t xforms[32];
    size_t nxforms;
    bool xform_none;          /* t:none seen (defaults' transforms are dropped) */
    struct setvar *setvars;
    size_t nsetvars;
    struct ctl *ctls;
    size_t nctls;
    bool allow_phase_only;    /* allow:phase */
    bool allow_request_only;  /* allow:request */
    bool has_expirevar, has_initcol;
};

struct rule {
    struct actions a;
    const char *file;
    int line;
    /* operator */
    enum op_id op;
    bool negate;
    char *op_name;            /* as written, e.g. "rx" */
    char *param;              /* operator argument as written */
    size_t param_len;
    struct macro *param_macro; /* non-NULL when the argument has %{...} */
    struct rx *rx;
    struct pm *rx_pre; /* required-literal prefilter of rx, or NULL */
    struct pm *pm;
    long long param_num; /* @eq @ge @gt @le @lt: the constant argument as a number */
    struct ipset *ipset;
    struct byterange br;
    /* targets */
    struct target *targets;
    size_t ntargets;
    struct target *excl;
    size_t nexcl;
    bool unconditional;       /* SecAction */
    bool marker;              /* SecMarker */
    char *marker_name;
    struct rule *chain_next;  /* next rule of a chain */
    bool is_chain_child;
    bool removed;
    int skip_to;              /* index in the phase to jump to for skipAfter, -1 none */
    int idx;                  /* index within its phase */
    /* effective values after applying SecDefaultAction */
    bool eff_log;
    enum disrupt eff_disrupt;
    int eff_status;
    uint8_t eff_xforms[40];
    size_t eff_nxforms;
    /* eff_pfx[i]: program-wide id of the chain prefix eff_xforms[0..i], so
     * a value's transformation cache is an array indexed by prefix id */
    uint16_t eff_pfx[40];
    /* the shared literal scanner that proves this link cannot match (an
     * @rx literal requirement or an @pm list; compile.c) and the rule's
     * owner bit in it; scan < 0 when the link has none */
    uint16_t *tag_ids; /* a.tags as the program's tag ids (same order) */
    uint64_t tag_mask; /* bit (id % 64) of each of them: most tests end here */
    uint32_t list_slot; /* > 0: id + 1 of (target list, chain), see engine.c */
    int16_t scan[RX_TIERS + 1]; /* per tier (rx_prefilter.h): the scanner, or -1;
                                 * tier k's bit is valid for values without
                                 * the bytes of tier k */
    uint32_t scan_owner[RX_TIERS + 1];
    bool scan_tiered;           /* some tier > 0 is set */
    bool scan_bos[RX_TIERS + 1]; /* that tier's literals or a match at the start */
    struct rx *rx_anch;         /* @rx anchored at the start, when a tier has bos */
};

struct waf_program {
    struct rule **phase_rules[WAF_PHASES + 1];
    size_t nphase[WAF_PHASES + 1];
    struct rule **all;        /* every rule incl. chain children, for freeing */
    size_t nall, capall;
    enum engine_mode engine;
    bool reqbody_access, resbody_access;
    size_t reqbody_limit, reqbody_nofiles_limit, resbody_limit;
    bool reqbody_limit_reject, resbody_limit_reject;
    unsigned json_depth_limit;
    unsigned args_limit;
    unsigned upload_file_limit; /* SecUploadFileLimit, 0 = none (v3's default) */
    uint32_t pcre_match_limit;
    char **resbody_mime;
    size_t nresbody_mime;
    char arg_separator;
    struct xform_unicode_map *unicode;
    struct xform_env xenv;
    char *component_sig;
    size_t nrules;
    size_t nprefix; /* distinct transformation-chain prefixes */
    /* What can make a chain change a value (xform_triggers): bit x of
     * xbyte[b] is set when byte b may make t:x change a value, XB_CASE for
     * the upper-case letters; pfx_trig[k] ORs the bits of prefix k's steps,
     * XB_CASE when one folds case, XB_ALWAYS when one changes every value
     * (pfx_trig[nprefix], no transformation, is 0). A value whose own
     * mask (XB_ALWAYS | the OR of xbyte over its bytes) misses
     * pfx_trig[k] comes out of prefix k as it went in. */
    uint64_t xbyte[256];
    uint64_t *pfx_trig;
    struct mlit **scan;  /* shared literal scanners (usually one) */
    size_t nscan;
    uint32_t *scan_off;  /* scanner i's bits start at word scan_off[i] */
    size_t scan_words;   /* words of bits for all scanners */
    uint8_t byte_tier[256]; /* rx_tier_table() */
    uint8_t byte_tier_bit[256]; /* 1 << (tier - 1) for bytes in a tier, else 0 */
    size_t ntag_names; /* distinct tags: ctl:*ByTag compares ids, not strings */
    size_t ntarget_ids; /* distinct cacheable targets */
    size_t nlist_ids;   /* distinct summarisable (target list, chain) pairs */
    char **files; /* interned rule-file names */
    size_t nfiles;
};

#endif
