/* Required-literal prefilter for @rx.
 *
 * For a PCRE pattern, computes a set of literals such that every string the
 * pattern can match contains at least one of them (compared without case).
 * When a value contains none, the regex cannot match and PCRE need not run.
 * This is a static analysis of the pattern text: anything it does not
 * understand makes the node "unknown", which only weakens the set; when the
 * root is unknown there is no prefilter. It never adds a requirement the
 * regex does not have, which is what makes skipping PCRE safe
 * (tests/unit/waf/rx_prefilter_test.c checks it differentially on the CRS
 * patterns and payloads).
 *
 * Each node yields:
 *   exact: the finite set of strings the node matches (when small), or none;
 *   pre:   a set of strings every match starts with (one of them), or none;
 *   suf:   a set of strings every match ends with, or none;
 *   req:   a set of literals one of which every match contains, or none.
 * Concatenation multiplies exact sets while they stay small, extends the
 * prefixes of an exact left part and the suffixes of an exact right part,
 * and finds literals across the junction of two parts (the left part's
 * suffixes times the right part's prefixes: "d" then (?:eclare|iv) needs
 * "declare" or "div", not just "iv"); the requirement is the best of all
 * of these. Alternation unions each set; optional or repeated-from-zero
 * parts lose their requirement and leave only the empty prefix/suffix. */
#include "waf/rx_prefilter.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIT_MAX_LEN RX_LIT_MAX_LEN
#define SET_MAX RX_LITS_MAX
#define DEPTH_MAX 200

struct lit {
    unsigned char s[LIT_MAX_LEN];
    unsigned char n;
};

struct lset {
    bool valid; /* false: unknown / no requirement */
    bool bos;   /* req only: "or the match starts at the subject's start" */
    size_t n;
    struct lit v[SET_MAX];
};

struct node {
    struct lset exact;
    struct lset pre, suf;
    struct lset req;
    bool never; /* matches nothing (only under an absent-byte assumption) */
};

struct parser {
    const unsigned char *p;
    size_t n, i;
    int depth;
    bool fail; /* syntax we do not model at all: give up on the pattern */
    bool extended; /* (?x): whitespace and # comments are not literals */
    bool multiline; /* (?m) seen: ^ is no longer the subject's start */
    const bool *absent; /* bytes assumed not to occur in the subject, or NULL */
};

/* Sets are big fixed arrays; copy only the used part. */
static void set_copy(struct lset *d, const struct lset *s)
{
    d->valid = s->valid;
    d->bos = s->bos;
    d->n = s->n;
    memcpy(d->v, s->v, s->n * sizeof s->v[0]);
}

static void node_copy(struct node *d, const struct node *s)
{
    set_copy(&d->exact, &s->exact);
    set_copy(&d->pre, &s->pre);
    set_copy(&d->suf, &s->suf);
    set_copy(&d->req, &s->req);
    d->never = s->never;
}

static void set_none(struct lset *s)
{
    s->bos = false;
    s->valid = false;
    s->n = 0;
}

static void set_one(struct lset *s, const unsigned char *b, size_t n)
{
    s->bos = false;
    s->valid = true;
    s->n = 1;
    if (n > LIT_MAX_LEN)
        n = LIT_MAX_LEN;
    memcpy(s->v[0].s, b, n);
    s->v[0].n = (unsigned char)n;
}

static bool set_add(struct lset *s, const struct lit *l)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n == l->n && memcmp(s->v[i].s, l->s, l->n) == 0)
            return true;
    if (s->n >= SET_MAX)
        return false;
    s->v[s->n++] = *l;
    return true;
}

/* Score of a requirement: its shortest literal decides how often it passes
 * by chance; fewer literals are cheaper. Empty literal = no requirement. */
#define BOS_SCORE_LEN 3 /* a start-anchored check costs about a 3-byte literal */

static int req_score(const struct lset *s)
{
    if (!s->valid || (s->n == 0 && !s->bos))
        return -1;
    int min = s->bos ? BOS_SCORE_LEN : LIT_MAX_LEN + 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n < min)
            min = s->v[i].n;
    if (min == 0)
        return -1;
    return min * 1000 - (int)s->n;
}

static void pick_best(struct lset *dst, const struct lset *cand)
{
    if (req_score(cand) > req_score(dst))
        set_copy(dst, cand);
}

/* a.exact x b.exact, NULL-safe; false when it grows past SET_MAX */
static bool cross(struct lset *out, const struct lset *a, const struct lset *b)
{
    struct lset *r = malloc(sizeof *r);
    if (!r)
        return false;
    r->valid = true;
    r->bos = false;
    r->n = 0;
    bool ok = true;
    for (size_t i = 0; i < a->n && ok; i++) {
        for (size_t j = 0; j < b->n && ok; j++) {
            struct lit l;
            size_t n1 = a->v[i].n, n2 = b->v[j].n;
            if (n1 + n2 > LIT_MAX_LEN) {
                ok = false;
                break;
            }
            memcpy(l.s, a->v[i].s, n1);
            memcpy(l.s + n1, b->v[j].s, n2);
            l.n = (unsigned char)(n1 + n2);
            ok = set_add(r, &l);
        }
    }
    if (ok)
        set_copy(out, r);
    free(r);
    return ok;
}

/* a x b for prefixes/suffixes/junctions: a string longer than a literal
 * keeps its first (keep_front) or last LIT_MAX_LEN bytes, which is still a
 * prefix (suffix, substring) of every match; false when the set grows past
 * SET_MAX or a side is none. */
static bool cross_trunc(struct lset *out, const struct lset *a, const struct lset *b,
                        bool keep_front)
{
    if (!a->valid || !b->valid)
        return false;
    struct lset *r = malloc(sizeof *r);
    if (!r)
        return false;
    r->valid = true;
    r->bos = false;
    r->n = 0;
    bool ok = true;
    for (size_t i = 0; i < a->n && ok; i++) {
        for (size_t j = 0; j < b->n && ok; j++) {
            unsigned char t[2 * LIT_MAX_LEN];
            size_t n1 = a->v[i].n, n2 = b->v[j].n;
            memcpy(t, a->v[i].s, n1);
            memcpy(t + n1, b->v[j].s, n2);
            size_t n = n1 + n2, off = 0;
            if (n > LIT_MAX_LEN) {
                off = keep_front ? 0 : n - LIT_MAX_LEN;
                n = LIT_MAX_LEN;
            }
            struct lit l;
            memcpy(l.s, t + off, n);
            l.n = (unsigned char)n;
            ok = set_add(r, &l);
        }
    }
    if (ok)
        set_copy(out, r);
    free(r);
    return ok;
}

static void set_empty_str(struct lset *s)
{
    s->bos = false;
    s->valid = true;
    s->n = 1;
    s->v[0].n = 0;
}

/* dst = dst u src; none when either is none or the union is too big */
static void set_union(struct lset *dst, const struct lset *src)
{
    if (!dst->valid || !src->valid) {
        set_none(dst);
        return;
    }
    for (size_t k = 0; k < src->n; k++)
        if (!set_add(dst, &src->v[k])) {
            set_none(dst);
            return;
        }
}

/* Keeps only the first len bytes of every literal, merging duplicates: a
 * prefix of a required literal is required too (a weaker requirement). */
static void set_truncate(struct lset *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct lit l = s->v[i];
        if (l.n > len)
            l.n = (unsigned char)len;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = s->v[k].n == l.n && memcmp(s->v[k].s, l.s, l.n) == 0;
        if (!dup)
            s->v[n++] = l;
    }
    s->n = n;
}

/* dst = dst u src for requirements. A union too big for a set is made to
 * fit by shortening the literals (CRS's long alternations of "process.x",
 * "process.y"... become "process"), down to three bytes; false if even
 * that does not fit. */
static bool req_union(struct lset *dst, const struct lset *src)
{
    size_t k = 0;
    for (size_t len = LIT_MAX_LEN;; len = len > 8 ? len / 2 : len - 1) {
        for (; k < src->n; k++) {
            struct lit l = src->v[k];
            if (l.n > len)
                l.n = (unsigned char)len;
            if (!set_add(dst, &l))
                break;
        }
        if (k == src->n)
            return true;
        if (len <= 3)
            return false;
        set_truncate(dst, len > 8 ? len / 2 : len - 1);
    }
}

static int peek(struct parser *ps) { return ps->i < ps->n ? ps->p[ps->i] : -1; }

static void parse_alt(struct parser *ps, struct node *out);

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Escape after '\\': a literal byte (>= 0), zero-width (-2) or a class (-1). */
static int parse_escape(struct parser *ps)
{
    int c = peek(ps);
    if (c < 0) {
        ps->fail = true;
        return -1;
    }
    ps->i++;
    switch (c) {
    case 'x': {
        if (peek(ps) == '{') {
            size_t j = ps->i + 1;
            int v = 0, digits = 0;
            while (j < ps->n && hexv(ps->p[j]) >= 0 && digits < 8) {
                v = v * 16 + hexv(ps->p[j]);
                j++;
                digits++;
            }
            if (j >= ps->n || ps->p[j] != '}' || digits == 0) {
                ps->fail = true;
                return -1;
            }
            ps->i = j + 1;
            return v <= 0xff ? v : -1;
        }
        int v = 0, digits = 0;
        while (digits < 2 && hexv(peek(ps)) >= 0) {
            v = v * 16 + hexv(peek(ps));
            ps->i++;
            digits++;
        }
        return v;
    }
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return 0x0b;
    case 'a': return 0x07;
    case 'e': return 0x1b;
    case '0': {
        int v = 0, digits = 0;
        while (digits < 2 && peek(ps) >= '0' && peek(ps) <= '7') {
            v = v * 8 + (peek(ps) - '0');
            ps->i++;
            digits++;
        }
        return v;
    }
    case 'A':
        return -3; /* the subject's start */
    case 'b': case 'B': case 'Z': case 'z': case 'G': case 'K':
        return -2;
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h': case 'H':
    case 'V': case 'N': case 'R': case 'X': case 'C':
        return -1;
    case 'p': case 'P':
        if (peek(ps) == '{') {
            while (ps->i < ps->n && ps->p[ps->i] != '}')
                ps->i++;
            if (ps->i < ps->n)
                ps->i++;
        } else if (ps->i < ps->n) {
            ps->i++;
        }
        return -1;
    case 'Q': {
        /* \Q...\E is literal: handled by the caller as a sequence; here,
         * unsupported (rare in rules) */
        ps->fail = true;
        return -1;
    }
    case 'c':
        if (ps->i < ps->n)
            ps->i++;
        return -1;
    default:
        if (c >= '1' && c <= '9') {
            ps->fail = true; /* back-reference: do not model */
            return -1;
        }
        if (c == 'g' || c == 'k') {
            ps->fail = true;
            return -1;
        }
        if (isalnum(c)) {
            ps->fail = true; /* an escape we do not know */
            return -1;
        }
        return c; /* escaped punctuation is itself */
    }
}

/* [...]: the set of bytes when it is small and not negated. */
static void parse_class(struct parser *ps, struct node *out)
{
    bool neg = false;
    bool set[256] = {false};
    bool open = false; /* contains a class escape or a wide range */
    if (peek(ps) == '^') {
        neg = true;
        ps->i++;
    }
    bool first = true;
    for (;;) {
        int c = peek(ps);
        if (c < 0) {
            ps->fail = true;
            return;
        }
        if (c == ']' && !first) {
            ps->i++;
            break;
        }
        first = false;
        int lo;
        if (c == '[' && ps->i + 1 < ps->n && ps->p[ps->i + 1] == ':') {
            /* POSIX class [:alpha:] */
            const unsigned char *e = memchr(ps->p + ps->i + 2, ']', ps->n - ps->i - 2);
            if (!e) {
                ps->fail = true;
                return;
            }
            ps->i = (size_t)(e - ps->p) + 1;
            open = true;
            continue;
        }
        ps->i++;
        if (c == '\\') {
            lo = parse_escape(ps);
            if (lo < 0) {
                if (lo == -2 && ps->p[ps->i - 1] == 'b') /* \b inside a class is backspace */
                    lo = 0x08;
                else {
                    open = true;
                    continue;
                }
            }
        } else {
            lo = c;
        }
        int hi = lo;
        if (peek(ps) == '-' && ps->i + 1 < ps->n && ps->p[ps->i + 1] != ']') {
            ps->i++;
            int d = peek(ps);
            ps->i++;
            if (d == '\\') {
                hi = parse_escape(ps);
                if (hi < 0) {
                    open = true;
                    continue;
                }
            } else {
                hi = d;
            }
            if (hi < lo) {
                ps->fail = true;
                return;
            }
        }
        if (hi - lo > 8)
            open = true;
        else
            for (int k = lo; k <= hi; k++)
                set[k] = true;
    }
    set_none(&out->exact);
    set_none(&out->req);
    set_none(&out->pre);
    set_none(&out->suf);
    out->never = false;
    if (neg || open)
        return;
    if (ps->absent) {
        bool any = false;
        for (int k = 0; k < 256; k++) {
            if (set[k] && ps->absent[k])
                set[k] = false;
            any |= set[k];
        }
        if (!any) {
            out->never = true; /* every byte of the class is absent */
            return;
        }
    }
    /* case folds together: count distinct lower-case bytes */
    struct lset s;
    s.valid = true;
    s.bos = false;
    s.n = 0;
    for (int k = 0; k < 256; k++) {
        if (!set[k])
            continue;
        unsigned char b = (unsigned char)tolower(k);
        struct lit l = {.n = 1};
        l.s[0] = b;
        if (!set_add(&s, &l))
            return;
    }
    if (s.n == 0 || s.n > 6)
        return;
    set_copy(&out->exact, &s);
    set_copy(&out->req, &s);
    set_copy(&out->pre, &s);
    set_copy(&out->suf, &s);
}

static void atom_literal(const struct parser *ps, struct node *out, unsigned char c)
{
    out->never = ps->absent && ps->absent[c];
    unsigned char b = (unsigned char)tolower(c);
    set_one(&out->exact, &b, 1);
    set_one(&out->req, &b, 1);
    set_one(&out->pre, &b, 1);
    set_one(&out->suf, &b, 1);
}

static void atom_empty(struct node *out)
{
    out->never = false;
    set_empty_str(&out->exact);
    set_empty_str(&out->pre);
    set_empty_str(&out->suf);
    set_none(&out->req);
}

/* ^ without (?m), \\A: every match of the node is at the subject's start */
static void atom_bos(struct node *out)
{
    atom_empty(out);
    out->req.valid = true;
    out->req.bos = true;
    out->req.n = 0;
}

static void atom_unknown(struct node *out)
{
    out->never = false;
    set_none(&out->exact);
    set_none(&out->req);
    set_none(&out->pre);
    set_none(&out->suf);
}

/* An atom: literal, escape, class, group, dot, anchor. */
static bool parse_atom(struct parser *ps, struct node *out)
{
    int c = peek(ps);
    if (c < 0 || c == '|' || c == ')')
        return false;
    ps->i++;
    switch (c) {
    case '\\': {
        int v = parse_escape(ps);
        if (v >= 0)
            atom_literal(ps, out, (unsigned char)v);
        else if (v == -3)
            atom_bos(out);
        else if (v == -2)
            atom_empty(out);
        else
            atom_unknown(out);
        return true;
    }
    case '[':
        parse_class(ps, out);
        return true;
    case '.':
        atom_unknown(out);
        return true;
    case '^':
        if (ps->multiline)
            atom_empty(out);
        else
            atom_bos(out);
        return true;
    case '$':
        atom_empty(out);
        return true;
    case '(': {
        if (++ps->depth > DEPTH_MAX) {
            ps->fail = true;
            return false;
        }
        bool lookaround = false, flags_only = false;
        if (peek(ps) == '?') {
            ps->i++;
            int d = peek(ps);
            if (d == ':' || d == '>' || d == '|') {
                ps->i++;
            } else if (d == '=' || d == '!') {
                ps->i++;
                lookaround = true;
            } else if (d == '<' && ps->i + 1 < ps->n &&
                       (ps->p[ps->i + 1] == '=' || ps->p[ps->i + 1] == '!')) {
                ps->i += 2;
                lookaround = true;
            } else if (d == 'P' || d == '<' || d == '\'') {
                /* named group (?P<n>...), (?<n>...), (?'n'...) */
                int close = d == '\'' ? '\'' : '>';
                if (d == 'P')
                    ps->i++;
                if (peek(ps) == '=' || peek(ps) == '>') {
                    ps->fail = true; /* (?P=name) back-reference, (?P>name) call */
                    return false;
                }
                while (ps->i < ps->n && ps->p[ps->i] != close)
                    ps->i++;
                if (ps->i >= ps->n) {
                    ps->fail = true;
                    return false;
                }
                ps->i++;
            } else if (d == '#') {
                while (ps->i < ps->n && ps->p[ps->i] != ')')
                    ps->i++;
                if (ps->i < ps->n)
                    ps->i++;
                ps->depth--;
                atom_empty(out);
                return true;
            } else {
                /* inline flags (?i) (?x) (?i:...) (?-i) */
                bool neg = false;
                while (ps->i < ps->n && ps->p[ps->i] != ')' && ps->p[ps->i] != ':') {
                    int f = ps->p[ps->i];
                    if (f == '-')
                        neg = true;
                    else if (f == 'x')
                        ps->extended = !neg;
                    else if (f == 'm')
                        ps->multiline = true; /* sticky: scoping is not modelled */
                    else if (!strchr("imsnUJ^", f)) {
                        ps->fail = true;
                        return false;
                    }
                    ps->i++;
                }
                if (ps->i >= ps->n) {
                    ps->fail = true;
                    return false;
                }
                if (ps->p[ps->i] == ')') {
                    ps->i++;
                    flags_only = true;
                } else {
                    ps->i++;
                }
            }
        }
        if (flags_only) {
            ps->depth--;
            atom_empty(out);
            return true;
        }
        struct node *inner = malloc(sizeof *inner);
        if (!inner) {
            ps->fail = true;
            return false;
        }
        parse_alt(ps, inner);
        if (peek(ps) != ')') {
            free(inner);
            ps->fail = true;
            return false;
        }
        ps->i++;
        ps->depth--;
        if (lookaround)
            atom_empty(out); /* zero-width: requires nothing we can use */
        else
            node_copy(out, inner);
        free(inner);
        return true;
    }
    case '*': case '+': case '?': case '{':
        if (c == '{') {
            atom_literal(ps, out, '{'); /* a brace that is not a quantifier */
            return true;
        }
        ps->fail = true; /* quantifier with nothing before it */
        return false;
    default:
        if (ps->extended && (isspace(c) || c == '#')) {
            if (c == '#')
                while (ps->i < ps->n && ps->p[ps->i] != '\n')
                    ps->i++;
            atom_empty(out);
            return true;
        }
        atom_literal(ps, out, (unsigned char)c);
        return true;
    }
}

/* Parses "{m}", "{m,}", "{m,n}" at the current position; false if it is not
 * a quantifier (then the brace is a literal). */
static bool parse_braces(struct parser *ps, long *min, long *max)
{
    size_t j = ps->i + 1;
    long a = 0, b = -1;
    bool digits = false;
    while (j < ps->n && isdigit(ps->p[j]) && a < 100000) {
        a = a * 10 + (ps->p[j] - '0');
        j++;
        digits = true;
    }
    if (!digits)
        return false;
    if (j < ps->n && ps->p[j] == '}') {
        b = a;
    } else if (j < ps->n && ps->p[j] == ',') {
        j++;
        if (j < ps->n && isdigit(ps->p[j])) {
            b = 0;
            while (j < ps->n && isdigit(ps->p[j]) && b < 100000) {
                b = b * 10 + (ps->p[j] - '0');
                j++;
            }
        }
        if (j >= ps->n || ps->p[j] != '}')
            return false;
    } else {
        return false;
    }
    ps->i = j + 1;
    *min = a;
    *max = b;
    return true;
}

static void apply_quant(struct parser *ps, struct node *a)
{
    int c = peek(ps);
    long min, max;
    if (c == '*') {
        ps->i++;
        min = 0;
        max = -1;
    } else if (c == '+') {
        ps->i++;
        min = 1;
        max = -1;
    } else if (c == '?') {
        ps->i++;
        min = 0;
        max = 1;
    } else if (c == '{') {
        if (!parse_braces(ps, &min, &max))
            return;
    } else {
        return;
    }
    /* lazy or possessive suffix */
    if (peek(ps) == '?' || peek(ps) == '+')
        ps->i++;
    if (a->never) {
        if (min == 0)
            atom_empty(a); /* it can only repeat zero times */
        return;
    }
    if (min == 0) {
        if (max == 1 && a->exact.valid) {
            struct lit e = {.n = 0};
            if (!set_add(&a->exact, &e))
                set_none(&a->exact);
        } else {
            set_none(&a->exact);
        }
        set_none(&a->req);
        set_empty_str(&a->pre); /* it may be absent: nothing to start or end with */
        set_empty_str(&a->suf);
        return;
    }
    /* min >= 1: the requirement stays; exactness only for {1} */
    if (!(min == 1 && max == 1))
        set_none(&a->exact);
}

/* A sequence of quantified atoms, folded left to right into acc (see the
 * header comment); the sequence is exact only if every atom was. */
static void parse_seq(struct parser *ps, struct node *out)
{
    struct node *a = malloc(sizeof *a), *acc = malloc(sizeof *acc);
    struct lset *t = malloc(sizeof *t), *np = malloc(sizeof *np), *nsuf = malloc(sizeof *nsuf);
    if (!a || !acc || !t || !np || !nsuf) {
        free(a);
        free(acc);
        free(t);
        free(np);
        free(nsuf);
        ps->fail = true;
        return;
    }
    set_empty_str(&acc->exact);
    set_empty_str(&acc->pre);
    set_empty_str(&acc->suf);
    set_none(&acc->req);
    acc->never = false;
    while (!ps->fail && parse_atom(ps, a)) {
        apply_quant(ps, a);
        acc->never |= a->never;
        pick_best(&acc->req, &a->req);
        if (cross_trunc(t, &acc->suf, &a->pre, true))
            pick_best(&acc->req, t); /* across the junction */
        /* prefixes grow while everything so far is exact */
        if (acc->exact.valid) {
            if (!cross_trunc(np, &acc->exact, &a->pre, true))
                set_copy(np, &acc->exact);
        } else {
            set_copy(np, &acc->pre);
        }
        /* suffixes: the atom's, extended backwards when the atom is exact */
        if (a->exact.valid) {
            if (!cross_trunc(nsuf, &acc->suf, &a->exact, false))
                set_copy(nsuf, &a->exact);
        } else {
            set_copy(nsuf, &a->suf);
        }
        if (acc->exact.valid && a->exact.valid) {
            if (!cross(&acc->exact, &acc->exact, &a->exact))
                set_none(&acc->exact);
        } else {
            set_none(&acc->exact);
        }
        set_copy(&acc->pre, np);
        set_copy(&acc->suf, nsuf);
        pick_best(&acc->req, &acc->pre);
        pick_best(&acc->req, &acc->suf);
        pick_best(&acc->req, &acc->exact);
    }
    node_copy(out, acc);
    free(a);
    free(acc);
    free(t);
    free(np);
    free(nsuf);
}

static void parse_alt(struct parser *ps, struct node *out)
{
    struct node *branch = malloc(sizeof *branch);
    if (!branch) {
        ps->fail = true;
        return;
    }
    parse_seq(ps, out);
    while (!ps->fail && peek(ps) == '|') {
        ps->i++;
        parse_seq(ps, branch);
        /* a branch that matches nothing adds nothing */
        if (branch->never)
            continue;
        if (out->never) {
            node_copy(out, branch);
            continue;
        }
        /* requirement of an alternation: the union, if every branch has one */
        if (out->req.valid && branch->req.valid && req_score(&branch->req) > 0 &&
            req_score(&out->req) > 0) {
            out->req.bos |= branch->req.bos;
            if (!req_union(&out->req, &branch->req))
                set_none(&out->req);
        } else {
            set_none(&out->req);
        }
        set_union(&out->exact, &branch->exact);
        set_union(&out->pre, &branch->pre);
        set_union(&out->suf, &branch->suf);
    }
    free(branch);
}

/* Bytes that make a one-byte requirement worth checking: rare in ordinary
 * text, common in attacks. */
static bool rare_byte(unsigned char c)
{
    return c != 0 && strchr("<>'\"`;(){}[]$|&\\%#!^~*@=", c) != NULL;
}

/* Nested sets of bytes rare in ordinary values and common in evasions:
 * tier k holds the bytes of set k (1 is the smallest set); 0xff for a byte
 * in none. */
static const char *const tier_bytes[RX_TIERS] = {
    "\\\"'`$|&;{}[]<>^~*",
    "()!#%=?@+",
    "\t\n\r",
};

void rx_tier_table(uint8_t tier[256])
{
    memset(tier, 0xff, 256);
    for (int c = 0; c < 0x20; c++)
        if (c != '\t' && c != '\n' && c != '\r')
            tier[c] = 1;
    tier[0x7f] = 1;
    for (int k = RX_TIERS; k >= 1; k--)
        for (const char *b = tier_bytes[k - 1]; *b; b++)
            tier[(unsigned char)*b] = (uint8_t)k;
}

/* min literal length first, then fewer literals; an empty set (nothing
 * can match) beats everything */
static long lits_score(const struct rx_lits *l)
{
    if (l->n == 0 && !l->bos)
        return 1L << 30;
    size_t min = l->bos ? BOS_SCORE_LEN : LIT_MAX_LEN + 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].n < min)
            min = l->v[i].n;
    return (long)min * 1000 - (long)l->n;
}

size_t rx_prefilter_lits_tiers(const char *pattern, size_t len, struct rx_lits *out[RX_TIERS + 1])
{
    uint8_t t[256];
    rx_tier_table(t);
    size_t got = 0;
    long best = -1;
    for (int k = 0; k <= RX_TIERS; k++) {
        bool absent[256];
        for (int c = 0; c < 256; c++)
            absent[c] = t[c] <= k;
        out[k] = rx_prefilter_lits_absent(pattern, len, k ? absent : NULL);
        if (out[k] && lits_score(out[k]) <= best) {
            free(out[k]); /* no better than a weaker assumption's: useless */
            out[k] = NULL;
        }
        if (out[k]) {
            best = lits_score(out[k]);
            got++;
        }
    }
    return got;
}

struct rx_lits *rx_prefilter_lits(const char *pattern, size_t len)
{
    return rx_prefilter_lits_absent(pattern, len, NULL);
}

struct rx_lits *rx_prefilter_lits_absent(const char *pattern, size_t len, const bool absent[256])
{
    struct parser ps = {.p = (const unsigned char *)pattern, .n = len, .absent = absent};
    struct node *root = malloc(sizeof *root);
    struct rx_lits *out = NULL;
    if (!root)
        return NULL;
    parse_alt(&ps, root);
    if (ps.fail || ps.i != ps.n)
        goto done;
    if (root->never) {
        /* nothing can match a subject without the absent bytes: the empty
         * set (no literal can be found, so such a subject is rejected) */
        out = calloc(1, sizeof *out);
        goto done;
    }
    if (req_score(&root->req) <= 0)
        goto done;
    for (size_t i = 0; i < root->req.n; i++)
        if (root->req.v[i].n == 1 && !rare_byte(root->req.v[i].s[0]))
            goto done; /* a common single byte would pass almost every value */
    out = malloc(sizeof *out);
    if (!out)
        goto done;
    out->n = root->req.n;
    out->bos = root->req.bos;
    for (size_t i = 0; i < root->req.n; i++) {
        memcpy(out->v[i].s, root->req.v[i].s, root->req.v[i].n);
        out->v[i].n = root->req.v[i].n;
    }
done:
    free(root);
    return out;
}

struct pm *rx_prefilter_pm(const struct rx_lits *l)
{
    if (!l || l->bos || l->n == 0)
        return NULL; /* a phrase list cannot say "or at the start" */
    const char *pats[RX_LITS_MAX];
    size_t lens[RX_LITS_MAX];
    for (size_t i = 0; i < l->n; i++) {
        pats[i] = (const char *)l->v[i].s;
        lens[i] = l->v[i].n;
    }
    return pm_build(pats, lens, l->n);
}

struct pm *rx_prefilter_build(const char *pattern, size_t len)
{
    struct rx_lits *l = rx_prefilter_lits(pattern, len);
    struct pm *pm = rx_prefilter_pm(l);
    free(l);
    return pm;
}
