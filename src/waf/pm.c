/* @pm / @pmFromFile: case-insensitive Aho-Corasick over byte classes.
 *
 * Layout (all immutable after pm_build):
 *  - Input bytes are ASCII-folded and mapped to classes; every byte that
 *    occurs in no phrase shares class 0, so the alphabet is usually 40-80
 *    classes instead of 256.
 *  - States are numbered in breadth-first order, so every state's fail
 *    state has a smaller number than the state itself.
 *  - States [0, ndense) -- the shallow ones, where a scan over ordinary text
 *    spends nearly all its time -- have a full transition row (the DFA).
 *    Small sets are entirely dense. Deeper states keep only their trie edges
 *    (sorted, in one CSR array) and fall back along fail links until they
 *    reach a dense state. Because fail states are numbered lower, the walk
 *    always ends in a dense row, and memory stays linear in the dictionary
 *    size for big sets.
 *  - Dense rows hold the target's row offset (dense targets) or id with
 *    PM_SPARSE (sparse targets), plus PM_HIT when the target ends a phrase
 *    (directly or through its fail chain); out[state] is then the length of
 *    the longest phrase ending there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "waf/matchers.h"

#define PM_HIT 0x80000000u
#define PM_SPARSE 0x40000000u
#define PM_ID 0x3fffffffu
#define PM_MAX_STATES PM_ID
/* Dense rows for at most this many bytes; the rest of the trie is sparse.
 * 128 KiB: on CRS lists a bigger budget measured no faster (the scan is
 * bound by load latency), only bigger. */
#define PM_DENSE_BUDGET (128u * 1024u)
/* @pmFromFile limits: a data file is a list of phrases, not a corpus. */
#define PM_FILE_MAX (64u * 1024u * 1024u)
#define PM_PATH_MAX 4096

struct pm {
    uint8_t cls[256]; /* folded byte -> class; 0 = in no phrase */
    uint32_t ncls;
    uint32_t nstates;
    uint32_t ndense;
    size_t nphrases;
    uint32_t *dense;    /* ndense * ncls, see pm_encode() */
    uint32_t *fail;     /* nstates */
    uint32_t *out;      /* nstates: longest phrase ending here, 0 if none */
    uint32_t *edge_off; /* nstates + 1: CSR index into edge_* */
    uint8_t *edge_cls;  /* sorted by class within a state */
    uint32_t *edge_next;
    size_t mem;
    /* the phrases as given (non-empty ones), for shared scanners */
    char *list;
    uint32_t *list_off; /* nlist + 1 offsets into list */
    size_t nlist;
};

/* ---- building the trie --------------------------------------------------- */

/* Build-time trie node: children as a singly linked sibling list. */
struct bnode {
    uint32_t child;   /* first child, 0 = none (root is never a child) */
    uint32_t sibling; /* next sibling, 0 = none */
    uint32_t depth;
    uint8_t c;        /* class of the edge into this node */
    bool term;
};

struct btrie {
    struct bnode *n;
    size_t len, cap;
};

static int btrie_new_node(struct btrie *t, uint8_t c, uint32_t depth, uint32_t *id)
{
    if (t->len >= PM_MAX_STATES)
        return -1;
    if (t->len == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        if (ncap > (size_t)PM_MAX_STATES + 1)
            ncap = (size_t)PM_MAX_STATES + 1;
        struct bnode *nn = realloc(t->n, ncap * sizeof(*nn));
        if (!nn)
            return -1;
        t->n = nn;
        t->cap = ncap;
    }
    t->n[t->len] = (struct bnode){0, 0, depth, c, false};
    *id = (uint32_t)t->len++;
    return 0;
}

static uint8_t pm_fold(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
}

/* Inserts one phrase; *added is set when it was not already present. */
static int btrie_add(struct btrie *t, const uint8_t *cls, const char *p, size_t len, bool *added)
{
    uint32_t cur = 0;

    *added = false;
    if (len >= PM_MAX_STATES)
        return -1;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = cls[(uint8_t)p[i]];
        uint32_t ch = t->n[cur].child, prev = 0;
        while (ch && t->n[ch].c != c) {
            prev = ch;
            ch = t->n[ch].sibling;
        }
        if (!ch) {
            if (btrie_new_node(t, c, (uint32_t)(i + 1), &ch) < 0)
                return -1;
            /* t->n may have moved; link by index. */
            if (prev)
                t->n[prev].sibling = ch;
            else
                t->n[cur].child = ch;
        }
        cur = ch;
    }
    if (!t->n[cur].term) {
        t->n[cur].term = true;
        *added = true;
    }
    return 0;
}

/* A dense-row entry, once built: a dense target is stored as its row
 * offset (state * ncls) so the hot loop needs no multiply; a sparse target
 * as its id with PM_SPARSE. PM_HIT marks targets that end a phrase. */
static uint32_t pm_encode(const struct pm *p, uint32_t v)
{
    uint32_t e = v < p->ndense ? v * p->ncls : (v | PM_SPARSE);
    return e | (p->out[v] ? PM_HIT : 0);
}

static uint32_t pm_decode(const struct pm *p, uint32_t e)
{
    return e & PM_SPARSE ? (e & PM_ID) : (e & PM_ID) / p->ncls;
}

/* Goto for any state once fail links up to it are known: sparse states
 * search their edges, then fall back toward the dense prefix. Returns the
 * plain next state id. While building, dense rows still hold plain ids
 * (encoded == false). */
static uint32_t pm_goto(const struct pm *p, uint32_t s, uint8_t c, bool encoded)
{
    if (c == 0)
        return 0;
    while (s >= p->ndense) {
        uint32_t lo = p->edge_off[s], hi = p->edge_off[s + 1];
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (p->edge_cls[mid] < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < p->edge_off[s + 1] && p->edge_cls[lo] == c)
            return p->edge_next[lo];
        s = p->fail[s];
    }
    uint32_t e = p->dense[(size_t)s * p->ncls + c];
    return encoded ? pm_decode(p, e) : e;
}

/* Turns the linked build trie into the BFS-numbered matcher. */
static int pm_finish(struct pm *p, const struct btrie *t)
{
    uint32_t n = (uint32_t)t->len;
    uint32_t *order = NULL;
    int rc = -1;

    p->nstates = n;
    order = malloc((size_t)n * sizeof(*order));   /* BFS position -> build id */
    p->fail = calloc(n, sizeof(*p->fail));
    p->out = calloc(n, sizeof(*p->out));
    p->edge_off = calloc((size_t)n + 1, sizeof(*p->edge_off));
    p->edge_cls = malloc(n ? n : 1);
    p->edge_next = malloc((size_t)n * sizeof(*p->edge_next));
    if (!order || !p->fail || !p->out || !p->edge_off || !p->edge_cls || !p->edge_next)
        goto out;

    /* BFS numbering; children are emitted in class order so that each
     * state's CSR edges come out sorted. */
    {
        uint32_t head = 0, tail = 1;
        order[0] = 0;
        while (head < tail) {
            uint32_t b = order[head++];
            uint32_t first = tail;
            for (uint32_t ch = t->n[b].child; ch; ch = t->n[ch].sibling)
                order[tail++] = ch;
            /* Insertion sort by class: a node has at most ncls children. */
            for (uint32_t i = first + 1; i < tail; i++) {
                uint32_t v = order[i], j = i;
                while (j > first && t->n[order[j - 1]].c > t->n[v].c) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = v;
            }
        }
    }
    /* CSR edges in BFS order. The children of state s are the states it
     * enqueued: contiguous BFS ids, already sorted by class. */
    {
        uint32_t e = 0;
        for (uint32_t s = 0; s < n; s++) {
            p->edge_off[s] = e;
            for (uint32_t ch = t->n[order[s]].child; ch; ch = t->n[ch].sibling)
                e++;
        }
        p->edge_off[n] = e;
        /* Children of s occupy BFS ids [first, first+count) in class order. */
        for (uint32_t s = 0, next_child = 1; s < n; s++) {
            uint32_t cnt = p->edge_off[s + 1] - p->edge_off[s];
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t v = next_child + i;
                p->edge_cls[p->edge_off[s] + i] = t->n[order[v]].c;
                p->edge_next[p->edge_off[s] + i] = v;
            }
            next_child += cnt;
        }
    }

    /* Dense prefix size within the memory budget. */
    {
        size_t row = (size_t)p->ncls * sizeof(uint32_t);
        size_t fit = PM_DENSE_BUDGET / row;
        if (fit < 1)
            fit = 1;
        p->ndense = n < fit ? n : (uint32_t)fit;
        p->dense = malloc((size_t)p->ndense * row);
        if (!p->dense)
            goto out;
    }

    /* Fail links, outputs and dense rows in BFS order: everything a state
     * needs (its fail state and that state's row or edges) is numbered
     * lower and therefore already done. */
    for (uint32_t s = 0; s < n; s++) {
        const struct bnode *bn = &t->n[order[s]];
        p->out[s] = bn->term ? bn->depth : (s ? p->out[p->fail[s]] : 0);
        if (s < p->ndense) {
            uint32_t *row = p->dense + (size_t)s * p->ncls;
            if (s == 0) {
                for (uint32_t c = 0; c < p->ncls; c++)
                    row[c] = 0;
            } else {
                memcpy(row, p->dense + (size_t)p->fail[s] * p->ncls,
                       (size_t)p->ncls * sizeof(uint32_t));
            }
            for (uint32_t e = p->edge_off[s]; e < p->edge_off[s + 1]; e++)
                row[p->edge_cls[e]] = p->edge_next[e];
        }
        for (uint32_t e = p->edge_off[s]; e < p->edge_off[s + 1]; e++) {
            uint32_t v = p->edge_next[e];
            p->fail[v] = s == 0 ? 0 : pm_goto(p, p->fail[s], p->edge_cls[e], false);
        }
    }
    /* out[] is complete now: switch the rows to their match-time form. */
    for (size_t i = 0; i < (size_t)p->ndense * p->ncls; i++)
        p->dense[i] = pm_encode(p, p->dense[i]);
    p->mem = sizeof(*p) + (size_t)p->ndense * p->ncls * 4 + (size_t)n * 4 * 3 + 4 + (size_t)n * 5;
    rc = 0;
out:
    free(order);
    return rc;
}

/* Copies the non-empty phrases into one block (bounded by the callers'
 * limits: @pmFromFile files are capped, @pm arguments are rule text). */
static int pm_keep_list(struct pm *p, const char *const *pats, const size_t *lens, size_t n)
{
    size_t total = 0, cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i]) {
            if (lens[i] > UINT32_MAX - total)
                return -1;
            total += lens[i];
            cnt++;
        }
    p->list = malloc(total ? total : 1);
    p->list_off = malloc((cnt + 1) * sizeof(uint32_t));
    if (!p->list || !p->list_off)
        return -1;
    size_t k = 0, at = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i]) {
            p->list_off[k++] = (uint32_t)at;
            memcpy(p->list + at, pats[i], lens[i]);
            at += lens[i];
        }
    p->list_off[k] = (uint32_t)at;
    p->nlist = cnt;
    p->mem += total + (cnt + 1) * sizeof(uint32_t);
    return 0;
}

struct pm *pm_build(const char *const *pats, const size_t *lens, size_t n)
{
    struct pm *p = calloc(1, sizeof(*p));
    struct btrie t = {0};
    bool used[256] = {false};
    uint32_t root;

    if (!p || (n && (!pats || !lens)))
        goto fail;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < lens[i]; j++)
            used[pm_fold((uint8_t)pats[i][j])] = true;
    p->ncls = 1;
    for (int b = 0; b < 256; b++)
        if (used[b])
            p->cls[b] = (uint8_t)p->ncls++;
    for (int b = 'A'; b <= 'Z'; b++)
        p->cls[b] = p->cls[b + 32];

    if (btrie_new_node(&t, 0, 0, &root) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        bool added;
        if (lens[i] == 0)
            continue;
        if (btrie_add(&t, p->cls, pats[i], lens[i], &added) < 0)
            goto fail;
        p->nphrases += added;
    }
    if (pm_finish(p, &t) < 0)
        goto fail;
    if (pm_keep_list(p, pats, lens, n) < 0)
        goto fail;
    free(t.n);
    return p;
fail:
    free(t.n);
    pm_free(p);
    return NULL;
}

void pm_free(struct pm *p)
{
    if (!p)
        return;
    free(p->dense);
    free(p->fail);
    free(p->out);
    free(p->edge_off);
    free(p->edge_cls);
    free(p->edge_next);
    free(p->list);
    free(p->list_off);
    free(p);
}

size_t pm_count(const struct pm *p)
{
    return p ? p->nphrases : 0;
}

size_t pm_memory(const struct pm *p)
{
    return p ? p->mem : 0;
}

size_t pm_list_count(const struct pm *p)
{
    return p ? p->nlist : 0;
}

const char *pm_list_at(const struct pm *p, size_t i, size_t *len)
{
    *len = p->list_off[i + 1] - p->list_off[i];
    return p->list + p->list_off[i];
}

bool pm_match(const struct pm *p, const char *s, size_t n, size_t *off, size_t *len)
{
    const uint8_t *u = (const uint8_t *)s;
    const uint32_t *dense;
    const uint8_t *cls;
    uint32_t row = 0, st;

    if (!p || !s || p->nphrases == 0)
        return false;
    dense = p->dense;
    cls = p->cls;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = dense[row + cls[u[i]]];
        if (!(e & (PM_HIT | PM_SPARSE))) {
            row = e; /* the common case: dense to dense, no phrase end */
            continue;
        }
        st = pm_decode(p, e);
        /* Deep in the trie: step sparse states until back in a dense one. */
        while (!(e & PM_HIT) && st >= p->ndense && ++i < n) {
            st = pm_goto(p, st, cls[u[i]], true);
            e = p->out[st] ? PM_HIT : 0;
        }
        if (e & PM_HIT) {
            /* The first end position wins; out[] is the longest phrase
             * ending there. */
            if (off)
                *off = i + 1 - p->out[st];
            if (len)
                *len = p->out[st];
            return true;
        }
        row = st * p->ncls;
    }
    return false;
}

/* ---- phrase lists --------------------------------------------------------- */

struct plist {
    const char **p;
    size_t *len;
    size_t n, cap;
};

static int plist_add(struct plist *l, const char *p, size_t len)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        const char **np = realloc(l->p, ncap * sizeof(*np));
        if (!np)
            return -1;
        l->p = np;
        size_t *nl = realloc(l->len, ncap * sizeof(*nl));
        if (!nl)
            return -1;
        l->len = nl;
        l->cap = ncap;
    }
    l->p[l->n] = p;
    l->len[l->n] = len;
    l->n++;
    return 0;
}

static void plist_free(struct plist *l)
{
    free(l->p);
    free(l->len);
}

static bool pm_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int pm_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = pm_fold(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes @pm content syntax into buf (capacity >= len) with lit[i] set
 * for bytes that came from hex or an escape and so never split a phrase.
 * Returns the decoded length, or -1 on a syntax error. */
static long pm_unescape(const char *a, size_t len, char *buf, bool *lit)
{
    size_t i = 0, o = 0;
    bool hex = false;
    int half = -1;

    while (i < len && (a[i] == ' ' || a[i] == '\t'))
        i++;
    if (len - i >= 2 && a[i] == '"' && a[len - 1] == '"') {
        i++;
        len--;
    }
    for (; i < len; i++) {
        uint8_t c = (uint8_t)a[i];
        if (c == '|') {
            if (hex && half >= 0)
                return -1; /* odd number of hex digits */
            hex = !hex;
        } else if (hex) {
            int v = pm_hexval(c);
            if (c == ' ')
                continue;
            if (v < 0)
                return -1;
            if (half < 0) {
                half = v;
            } else {
                buf[o] = (char)(half << 4 | v);
                lit[o++] = true;
                half = -1;
            }
        } else if (c == '\\') {
            if (i + 1 >= len)
                return -1;
            c = (uint8_t)a[++i];
            if (c != ':' && c != ';' && c != '\\' && c != '"')
                return -1;
            buf[o] = (char)c;
            lit[o++] = true;
        } else {
            buf[o] = (char)c;
            lit[o++] = false;
        }
    }
    if (hex)
        return -1;
    return (long)o;
}

static int pm_split(struct plist *l, const char *buf, const bool *lit, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && !(lit && lit[i]) && pm_space((uint8_t)buf[i]))
            i++;
        size_t start = i;
        while (i < len && ((lit && lit[i]) || !pm_space((uint8_t)buf[i])))
            i++;
        if (i > start && plist_add(l, buf + start, i - start) < 0)
            return -1;
    }
    return 0;
}

struct pm *pm_parse_words(const char *arg, size_t len, char *err, size_t errlen)
{
    struct plist l = {0};
    struct pm *p = NULL;
    char *buf = NULL;
    bool *lit = NULL;
    long dn;

    if (!arg)
        len = 0;
    buf = malloc(len ? len : 1);
    lit = malloc(len ? len : 1);
    if (!buf || !lit) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    dn = len ? pm_unescape(arg, len, buf, lit) : 0;
    /* ModSecurity falls back to the raw text when the content syntax is
     * malformed; so do we, so that such rules behave the same. */
    if (dn < 0 ? pm_split(&l, arg, NULL, len) : pm_split(&l, buf, lit, (size_t)dn)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (l.n == 0) {
        snprintf(err, errlen, "no phrase to match");
        goto out;
    }
    p = pm_build(l.p, l.len, l.n);
    if (!p)
        snprintf(err, errlen, "out of memory");
out:
    plist_free(&l);
    free(buf);
    free(lit);
    return p;
}

struct pm *pm_build_from_words(const char *arg, size_t len)
{
    char err[128];
    return pm_parse_words(arg, len, err, sizeof(err));
}

/* Reads a whole regular file of at most PM_FILE_MAX bytes. */
static char *pm_slurp(const char *path, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf = NULL;
    size_t got;

    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    if ((uintmax_t)st.st_size > PM_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, PM_FILE_MAX);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    *outlen = got;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* One phrase per line; CR before LF dropped; a line whose first non-blank
 * byte is '#' is a comment; blank lines are skipped. Anything else is kept
 * byte for byte, inner and trailing blanks included. */
static int pm_lines(struct plist *l, const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t s = i, e = end;
        if (e > s && buf[e - 1] == '\r')
            e--;
        size_t k = s;
        while (k < e && (buf[k] == ' ' || buf[k] == '\t'))
            k++;
        if (k < e && buf[k] != '#' && plist_add(l, buf + s, e - s) < 0)
            return -1;
        i = end + 1;
    }
    return 0;
}

struct pm *pm_build_from_files(const char *paths, const char *base_dir, char *err, size_t errlen)
{
    struct plist l = {0};
    char **bufs = NULL;
    size_t nbufs = 0;
    struct pm *p = NULL;
    const char *s = paths;
    size_t nfiles = 0;

    if (!paths) {
        snprintf(err, errlen, "no file given");
        return NULL;
    }
    for (;;) {
        char path[PM_PATH_MAX];
        size_t plen, blen;
        int w;

        while (*s && pm_space((uint8_t)*s))
            s++;
        if (!*s)
            break;
        plen = 0;
        while (s[plen] && !pm_space((uint8_t)s[plen]))
            plen++;
        if (plen >= PM_PATH_MAX) {
            snprintf(err, errlen, "path too long");
            goto out;
        }
        if (plen > 8 && strncmp(s, "https://", 8) == 0) {
            snprintf(err, errlen, "%.*s: remote lists are not supported",
                     (int)(plen > 200 ? 200 : plen), s);
            goto out;
        }
        if (s[0] == '/' || !base_dir || !*base_dir) {
            w = snprintf(path, sizeof(path), "%.*s", (int)plen, s);
        } else {
            blen = strlen(base_dir);
            w = snprintf(path, sizeof(path), "%s%s%.*s", base_dir,
                         base_dir[blen - 1] == '/' ? "" : "/", (int)plen, s);
        }
        if (w < 0 || (size_t)w >= sizeof(path)) {
            snprintf(err, errlen, "path too long");
            goto out;
        }
        s += plen;

        char **nb = realloc(bufs, (nbufs + 1) * sizeof(*nb));
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        bufs = nb;
        size_t flen = 0;
        bufs[nbufs] = pm_slurp(path, &flen, err, errlen);
        if (!bufs[nbufs])
            goto out;
        nbufs++;
        nfiles++;
        if (pm_lines(&l, bufs[nbufs - 1], flen) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    if (nfiles == 0) {
        snprintf(err, errlen, "no file given");
        goto out;
    }
    p = pm_build(l.p, l.len, l.n);
    if (!p)
        snprintf(err, errlen, "out of memory building the matcher");
out:
    for (size_t i = 0; i < nbufs; i++)
        free(bufs[i]);
    free(bufs);
    plist_free(&l);
    return p;
}
