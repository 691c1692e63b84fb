/* @rx: PCRE2 regexes compiled once at load time, matched from many threads.
 *
 * The compiled code (and its JIT code) is immutable and shared. Everything
 * pcre2_match() writes to -- match data, the JIT stack and the match context
 * that carries the per-pattern match limit -- lives in a per-thread scratch
 * block created on the thread's first match and freed when the thread exits,
 * so no lock is ever taken on the hot path. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waf/matchers.h"

/* Only groups 0..9 are ever reported (TX.0-TX.9), so the per-thread match
 * data needs exactly this many pairs whatever the pattern: a pattern with
 * more groups still matches, pcre2_match() then returns 0 ("ovector too
 * small") with the first RX_PAIRS pairs filled. */
#define RX_PAIRS 10
/* JIT stack: PCRE2's built-in one is 32 KiB of machine stack, which deep
 * CRS patterns on long inputs can exhaust. The maximum is reserved but only
 * touched pages are backed, so 1 MiB per thread costs little. */
#define RX_JIT_STACK_START (32 * 1024)
#define RX_JIT_STACK_MAX (1024 * 1024)

struct rx {
    pcre2_code *code;
    uint32_t match_limit; /* 0: PCRE2's default */
    int groups;
    bool jit;
    bool all; /* ".*", "^.*$": every subject matches whole (CRS 920450 runs it per header) */
    bool byteset; /* one bracket class, "[\n\r]": a table lookup per byte */
    uint64_t set[4];
};

/* A pattern that is one bracket expression and nothing else ("[\n\r]",
 * "[^a-z]"): which bytes it matches is asked of PCRE itself, one byte at a
 * time, so the table has PCRE's exact semantics. */
static void rx_try_byteset(struct rx *r, const char *pattern, size_t len)
{
    if (len < 3 || pattern[0] != '[' || pattern[len - 1] != ']')
        return;
    for (size_t i = 1; i + 1 < len; i++) {
        if (pattern[i] == '\\') {
            i++; /* an escaped byte: \] \n \x0a ... */
            continue;
        }
        if (pattern[i] == '[' || (pattern[i] == ']' && i > 1 && !(i == 2 && pattern[1] == '^')))
            return; /* POSIX classes, nested brackets: leave them to PCRE */
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
    if (!md)
        return;
    uint64_t set[4] = {0, 0, 0, 0};
    bool ok = true;
    for (int b = 0; b < 256 && ok; b++) {
        unsigned char c = (unsigned char)b;
        int rc = pcre2_match(r->code, (PCRE2_SPTR)&c, 1, 0, 0, md, NULL);
        if (rc > 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ok = ov[0] == 0 && ov[1] == 1; /* it consumed exactly that byte */
            set[b >> 6] |= 1ull << (b & 63);
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            ok = false;
        }
    }
    /* and it never matches the empty subject (no empty match anywhere) */
    if (ok && pcre2_match(r->code, (PCRE2_SPTR) "", 0, 0, 0, md, NULL) != PCRE2_ERROR_NOMATCH)
        ok = false;
    pcre2_match_data_free(md);
    if (ok && r->groups == 0) {
        memcpy(r->set, set, sizeof set);
        r->byteset = true;
    }
}

struct rx_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js; /* NULL when JIT is unavailable */
};

static pthread_key_t rx_key;
static pthread_once_t rx_key_once = PTHREAD_ONCE_INIT;
static bool rx_key_ok;

static void rx_scratch_free(void *p)
{
    struct rx_scratch *s = p;
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_jit_stack_free(s->js);
    free(s);
}

static void rx_key_init(void)
{
    rx_key_ok = pthread_key_create(&rx_key, rx_scratch_free) == 0;
}

/* The calling thread's scratch block, created on first use; NULL only when
 * memory is exhausted. */
static struct rx_scratch *rx_scratch_get(void)
{
    struct rx_scratch *s;

    pthread_once(&rx_key_once, rx_key_init);
    if (!rx_key_ok)
        return NULL;
    s = pthread_getspecific(rx_key);
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create(RX_PAIRS, NULL);
    s->mc = pcre2_match_context_create(NULL);
    if (!s->md || !s->mc)
        goto fail;
    /* A missing JIT stack is not fatal: matches then fall back to the
     * interpreter whenever the default JIT stack is too small. */
    s->js = pcre2_jit_stack_create(RX_JIT_STACK_START, RX_JIT_STACK_MAX, NULL);
    if (s->js)
        pcre2_jit_stack_assign(s->mc, NULL, s->js);
    if (pthread_setspecific(rx_key, s) != 0)
        goto fail;
    return s;
fail:
    rx_scratch_free(s);
    return NULL;
}

static struct rx *rx_compile_flags(const char *pattern, size_t len, uint32_t match_limit,
                                   uint32_t extra, char *err, size_t errlen);

struct rx *rx_compile(const char *pattern, size_t len, uint32_t match_limit, char *err,
                      size_t errlen)
{
    return rx_compile_flags(pattern, len, match_limit, 0, err, errlen);
}

struct rx *rx_compile_anchored(const char *pattern, size_t len, uint32_t match_limit, char *err,
                               size_t errlen)
{
    return rx_compile_flags(pattern, len, match_limit, PCRE2_ANCHORED, err, errlen);
}

static struct rx *rx_compile_flags(const char *pattern, size_t len, uint32_t match_limit,
                                   uint32_t extra, char *err, size_t errlen)
{
    struct rx *r = NULL;
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    uint32_t ngroups = 0;

    if (!pattern && len) {
        snprintf(err, errlen, "no pattern");
        return NULL;
    }
    /* ModSecurity compiles an empty @rx as ".*", so TX.0 is the whole
     * value rather than an empty string. */
    if (len == 0) {
        pattern = ".*";
        len = 2;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* ModSecurity v2's @rx flags, which CRS is written and tested against:
     * '.' matches newlines, '$' only at the very end (no multiline). Byte
     * mode, no UTF: values are arbitrary bytes. */
    r->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | extra,
                            &ecode, &eoff, NULL);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ecode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ecode);
        snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)eoff);
        goto fail;
    }
    if (pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &ngroups) != 0)
        ngroups = 0;
    r->groups = (int)ngroups;
    r->match_limit = match_limit;
    /* JIT failure (unsupported platform, out of executable memory) only
     * costs speed; the interpreter gives the same answers. */
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    /* with DOTALL and DOLLAR_ENDONLY these match any subject, from 0 to the end */
    static const char *const match_all[] = {".*", "^.*$", "^.*", ".*$"};
    for (size_t i = 0; i < sizeof match_all / sizeof match_all[0] && !extra; i++)
        r->all |= len == strlen(match_all[i]) && memcmp(pattern, match_all[i], len) == 0;
    if (!extra)
        rx_try_byteset(r, pattern, len);
    return r;
fail:
    rx_free(r);
    return NULL;
}

void rx_free(struct rx *r)
{
    if (!r)
        return;
    pcre2_code_free(r->code);
    free(r);
}

int rx_groups(const struct rx *r)
{
    return r ? r->groups : 0;
}

int rx_match(const struct rx *r, const char *s, size_t n, long *caps, int ncap, int *ncap_out)
{
    struct rx_scratch *sc;
    int rc;

    if (ncap_out)
        *ncap_out = 0;
    if (!r || (!s && n))
        return -1;
    if (!s)
        s = "";
    if (r->byteset) {
        const unsigned char *u = (const unsigned char *)s;
        for (size_t i = 0; i < n; i++)
            if ((r->set[u[i] >> 6] >> (u[i] & 63)) & 1) {
                if (caps && ncap > 0) {
                    caps[0] = (long)i;
                    caps[1] = (long)i + 1;
                    if (ncap_out)
                        *ncap_out = 1;
                }
                return 1;
            }
        return 0;
    }
    if (r->all) {
        if (caps && ncap > 0) {
            caps[0] = 0;
            caps[1] = (long)n;
            if (ncap_out)
                *ncap_out = 1;
        }
        return 1;
    }
    sc = rx_scratch_get();
    if (!sc)
        return -1;
    /* 0 restores PCRE2's built-in limit: the context is shared by every
     * pattern this thread runs. */
    pcre2_set_match_limit(sc->mc, r->match_limit ? r->match_limit : 10000000u);

    /* pcre2_jit_match skips pcre2_match's per-call checks: it is the hot path */
    if (r->jit)
        rc = pcre2_jit_match(r->code, (PCRE2_SPTR)s, n, 0, 0, sc->md, sc->mc);
    else
        rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, sc->md, sc->mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        /* The interpreter keeps its backtracking frames on the heap and is
         * bounded by the same match limit. */
        rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_JIT, sc->md, sc->mc);
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0)
        return -1;

    /* rc == 0: matched, more groups than RX_PAIRS; all RX_PAIRS are set. */
    int filled = rc == 0 ? RX_PAIRS : rc;
    if (caps && ncap > 0) {
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        int want = ncap < filled ? ncap : filled;
        for (int i = 0; i < want; i++) {
            PCRE2_SIZE a = ov[2 * i], b = ov[2 * i + 1];
            if (a == PCRE2_UNSET || b == PCRE2_UNSET || a > n || b > n || a > b) {
                caps[2 * i] = -1;
                caps[2 * i + 1] = -1;
            } else {
                caps[2 * i] = (long)a;
                caps[2 * i + 1] = (long)b;
            }
        }
        if (ncap_out)
            *ncap_out = want;
    }
    return 1;
}
