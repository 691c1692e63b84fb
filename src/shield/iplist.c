/* IP lists: immutable sets of IPv4/IPv6 addresses and CIDR blocks.
 *
 * One path-compressed binary trie (PATRICIA) per family. Every node holds
 * a prefix (key masked to plen bits); a node is either an entry from the
 * list or a "glue" node where two branches split. Invariants: a child's
 * prefix extends its parent's prefix by at least one bit and its first
 * extra bit equals the child slot it sits in; n entries need at most
 * 2n - 1 nodes. A lookup walks down from the root comparing the masked
 * prefix at each node, so it costs at most one step per prefix bit (33 for
 * IPv4, 129 for IPv6) whatever the size of the list -- and in practice the
 * depth of the compressed trie, about log2(n).
 *
 * Entries are collected by a builder, sorted and deduplicated, then
 * inserted in order; the finished list is never written again, so any
 * number of threads may read it. Lists are reference-counted so a refresh
 * can swap in a new list while requests still hold the old one. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shield/shield_int.h"

__extension__ typedef unsigned __int128 u128;

#define IPLIST_FILE_MAX (256u * 1024u * 1024u)
#define IPLIST_TAGS_MAX 65535u
#define NIL UINT32_MAX

struct node4 {
    uint32_t key;
    uint32_t child[2];
    uint8_t plen, entry;
    uint16_t tag;
};
struct node6 {
    u128 key;
    uint32_t child[2];
    uint8_t plen, entry;
    uint16_t tag;
};

struct ent4 {
    uint32_t key;
    uint8_t plen;
    uint16_t tag;
};
struct ent6 {
    u128 key;
    uint8_t plen;
    uint16_t tag;
};

struct tagpool {
    char **s;    /* s[0] is "" */
    size_t n, cap;
};

struct shield_iplist_builder {
    struct ent4 *e4;
    size_t n4, cap4;
    struct ent6 *e6;
    size_t n6, cap6;
    struct tagpool tags;
    bool failed; /* out of memory at some point */
};

struct shield_iplist {
    atomic_int ref;
    struct node4 *n4;
    size_t nn4, cap4;
    uint32_t root4;
    struct node6 *n6;
    size_t nn6, cap6;
    uint32_t root6;
    size_t count;
    struct tagpool tags;
};

/* ---- addresses ----------------------------------------------------- */

/* Parses an address; *mapped is set when an IPv4-mapped IPv6 address was
 * folded into IPv4. */
static int addr_parse(const char *s, size_t n, struct shield_addr *out, bool *mapped)
{
    char buf[64];
    if (mapped)
        *mapped = false;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    memset(out, 0, sizeof *out);
    if (memchr(buf, ':', n)) {
        if (inet_pton(AF_INET6, buf, out->b) != 1)
            return -1;
        static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out->b, pfx, 12) == 0) {
            memmove(out->b, out->b + 12, 4);
            memset(out->b + 4, 0, 12);
            out->family = 4;
            if (mapped)
                *mapped = true;
        } else {
            out->family = 6;
        }
        return 0;
    }
    if (inet_pton(AF_INET, buf, out->b) != 1)
        return -1;
    out->family = 4;
    return 0;
}

int shield_addr_parse(const char *s, size_t n, struct shield_addr *out)
{
    return addr_parse(s, n, out, NULL);
}

int shield_addr_from_sockaddr(const struct sockaddr *sa, struct shield_addr *out)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof *out);
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(out->b, &s4->sin_addr, 4);
        out->family = 4;
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (memcmp(s6->sin6_addr.s6_addr, pfx, 12) == 0) {
            memcpy(out->b, s6->sin6_addr.s6_addr + 12, 4);
            out->family = 4;
        } else {
            memcpy(out->b, s6->sin6_addr.s6_addr, 16);
            out->family = 6;
        }
        return 0;
    }
    return -1;
}

const char *shield_addr_format(const struct shield_addr *a, char *out, size_t cap)
{
    if (!cap)
        return out;
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->b, out, (socklen_t)cap))
        out[0] = 0;
    return out;
}

static uint32_t key4(const struct shield_addr *a)
{
    return (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 | a->b[3];
}

static u128 key6(const struct shield_addr *a)
{
    u128 k = 0;
    for (int i = 0; i < 16; i++)
        k = k << 8 | a->b[i];
    return k;
}

static uint32_t mask4(unsigned plen) { return plen == 0 ? 0 : ~(uint32_t)0 << (32 - plen); }
static u128 mask6(unsigned plen) { return plen == 0 ? 0 : ~(u128)0 << (128 - plen); }
static unsigned bit4(uint32_t k, unsigned i) { return (k >> (31 - i)) & 1u; }
static unsigned bit6(u128 k, unsigned i) { return (unsigned)(k >> (127 - i)) & 1u; }
static unsigned cpl4(uint32_t a, uint32_t b)
{
    uint32_t x = a ^ b;
    return x ? (unsigned)__builtin_clz(x) : 32;
}
static unsigned cpl6(u128 a, u128 b)
{
    u128 x = a ^ b;
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    if (hi)
        return (unsigned)__builtin_clzll(hi);
    if (lo)
        return 64 + (unsigned)__builtin_clzll(lo);
    return 128;
}

/* ---- tags ------------------------------------------------------------ */

static void tags_free(struct tagpool *t)
{
    for (size_t i = 1; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    memset(t, 0, sizeof *t);
}

/* Interns a tag; 0 ("") when empty, when the pool is full or on ENOMEM.
 * Consecutive entries usually share a tag or have none, so only the last
 * tag is checked for reuse: lists with a tag per line just use more ids. */
static uint16_t tags_add(struct tagpool *t, const char *s, size_t n)
{
    if (!s || n == 0 || t->n >= IPLIST_TAGS_MAX)
        return 0;
    if (n > 64)
        n = 64;
    if (t->n > 1 && strlen(t->s[t->n - 1]) == n && memcmp(t->s[t->n - 1], s, n) == 0)
        return (uint16_t)(t->n - 1);
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        char **ns = realloc(t->s, nc * sizeof *ns);
        if (!ns)
            return 0;
        t->s = ns;
        t->cap = nc;
    }
    if (t->n == 0)
        t->s[t->n++] = NULL; /* slot 0 = "" */
    char *c = malloc(n + 1);
    if (!c)
        return 0;
    memcpy(c, s, n);
    c[n] = 0;
    t->s[t->n] = c;
    return (uint16_t)t->n++;
}

/* ---- builder --------------------------------------------------------- */

struct shield_iplist_builder *shield_iplist_builder_new(void)
{
    return calloc(1, sizeof(struct shield_iplist_builder));
}

void shield_iplist_builder_free(struct shield_iplist_builder *b)
{
    if (!b)
        return;
    free(b->e4);
    free(b->e6);
    tags_free(&b->tags);
    free(b);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return -1;
        nc *= 2;
    }
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int add_prefix(struct shield_iplist_builder *b, const struct shield_addr *a, unsigned plen,
                      uint16_t tag)
{
    if (a->family == 4) {
        if (plen > 32)
            return -1;
        if (grow((void **)&b->e4, &b->cap4, b->n4 + 1, sizeof *b->e4)) {
            b->failed = true;
            return -1;
        }
        b->e4[b->n4++] = (struct ent4){key4(a) & mask4(plen), (uint8_t)plen, tag};
    } else {
        if (plen > 128)
            return -1;
        if (grow((void **)&b->e6, &b->cap6, b->n6 + 1, sizeof *b->e6)) {
            b->failed = true;
            return -1;
        }
        b->e6[b->n6++] = (struct ent6){key6(a) & mask6(plen), (uint8_t)plen, tag};
    }
    return 0;
}

int shield_iplist_builder_add_addr(struct shield_iplist_builder *b, const struct shield_addr *a,
                                   unsigned prefix_len)
{
    return add_prefix(b, a, prefix_len, 0);
}

/* "a.b.c.d-e.f.g.h" (FireHOL ranges, IPv4 only) as the fewest CIDRs. */
static int add_range4(struct shield_iplist_builder *b, uint32_t lo, uint32_t hi, uint16_t tag)
{
    uint64_t cur = lo, end = (uint64_t)hi + 1;
    while (cur < end) {
        unsigned tz = cur ? (unsigned)__builtin_ctz((uint32_t)cur) : 32;
        while (tz > 0 && cur + ((uint64_t)1 << tz) > end)
            tz--;
        struct shield_addr a = {.family = 4};
        a.b[0] = (uint8_t)(cur >> 24);
        a.b[1] = (uint8_t)(cur >> 16);
        a.b[2] = (uint8_t)(cur >> 8);
        a.b[3] = (uint8_t)cur;
        if (add_prefix(b, &a, 32 - tz, tag))
            return -1;
        cur += (uint64_t)1 << tz;
    }
    return 0;
}

/* 0 ok, -1 bad text, -2 out of memory. */
static int add_text(struct shield_iplist_builder *b, const char *s, size_t n, uint16_t tag,
                    const char **why)
{
    const char *slash = memchr(s, '/', n), *dash = memchr(s, '-', n);
    struct shield_addr a;
    bool mapped;
    *why = "not an IP address or CIDR";
    if (dash && !slash) {
        struct shield_addr z;
        if (addr_parse(s, (size_t)(dash - s), &a, NULL) ||
            addr_parse(dash + 1, n - (size_t)(dash - s) - 1, &z, NULL))
            return -1;
        if (a.family != 4 || z.family != 4) {
            *why = "address ranges are supported for IPv4 only";
            return -1;
        }
        if (key4(&a) > key4(&z)) {
            *why = "range ends before it starts";
            return -1;
        }
        return add_range4(b, key4(&a), key4(&z), tag) ? -2 : 0;
    }
    size_t an = slash ? (size_t)(slash - s) : n;
    if (addr_parse(s, an, &a, &mapped))
        return -1;
    unsigned plen = a.family == 4 ? 32 : 128;
    if (slash) {
        const char *p = slash + 1, *e = s + n;
        if (p == e || e - p > 3) {
            *why = "bad prefix length";
            return -1;
        }
        unsigned v = 0;
        for (; p < e; p++) {
            if (*p < '0' || *p > '9') {
                *why = "bad prefix length";
                return -1;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (mapped) {
            if (v < 96 || v > 128) {
                *why = "prefix of an IPv4-mapped address must be 96..128";
                return -1;
            }
            v -= 96;
        }
        if (v > plen) {
            *why = a.family == 4 ? "IPv4 prefix length over 32" : "IPv6 prefix length over 128";
            return -1;
        }
        plen = v;
    }
    return add_prefix(b, &a, plen, tag) ? -2 : 0;
}

int shield_iplist_builder_add(struct shield_iplist_builder *b, const char *s, size_t n,
                              const char *tag, size_t tag_n)
{
    const char *why;
    uint16_t t = tags_add(&b->tags, tag, tag_n);
    return add_text(b, s, n, t, &why) ? -1 : 0;
}

static bool is_sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static void trim(const char **p, const char **e)
{
    while (*p < *e && is_sp(**p))
        (*p)++;
    while (*e > *p && is_sp((*e)[-1]))
        (*e)--;
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return n == strlen(w) && memcmp(p, w, n) == 0;
}

long shield_iplist_builder_add_buffer(struct shield_iplist_builder *b, const char *buf, size_t n,
                                      const char *name, unsigned flags, char *err, size_t errcap)
{
    long added = 0, bad = 0;
    unsigned long lineno = 0;
    const char *p = buf, *end = buf + n;
    if (err && errcap)
        err[0] = 0;
    if (!name)
        name = "(buffer)";
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3; /* a UTF-8 byte-order mark from a Windows editor */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *ls = p, *tag = NULL, *tag_e = NULL;
        p = nl ? nl + 1 : end;
        lineno++;
        /* '#' starts a comment anywhere; ';' too, and the text after a ';'
         * is the entry's tag (Spamhaus DROP: "1.2.3.0/24 ; SBL123"). */
        for (const char *q = ls; q < le; q++) {
            if (*q == '#') {
                le = q;
                break;
            }
            if (*q == ';') {
                tag = q + 1;
                tag_e = le;
                for (const char *h = tag; h < tag_e; h++)
                    if (*h == '#') {
                        tag_e = h;
                        break;
                    }
                trim(&tag, &tag_e);
                le = q;
                break;
            }
        }
        trim(&ls, &le);
        if (ls == le)
            continue;
        const char *w = ls, *we = ls;
        while (we < le && !is_sp(*we))
            we++;
        const char *rest = we, *rest_e = le;
        trim(&rest, &rest_e);
        /* Tor's exit-addresses format. */
        if (word_is(w, (size_t)(we - w), "ExitNode") || word_is(w, (size_t)(we - w), "Published") ||
            word_is(w, (size_t)(we - w), "LastStatus"))
            continue;
        if (word_is(w, (size_t)(we - w), "ExitAddress")) {
            w = rest;
            we = rest;
            while (we < rest_e && !is_sp(*we))
                we++;
            rest = rest_e;
        }
        const char *why = NULL;
        int rc;
        if (rest != rest_e) {
            why = "unexpected text after the address";
            rc = -1;
        } else {
            uint16_t t = tag ? tags_add(&b->tags, tag, (size_t)(tag_e - tag)) : 0;
            rc = add_text(b, w, (size_t)(we - w), t, &why);
        }
        if (rc == -2) {
            if (err && errcap)
                snprintf(err, errcap, "%s:%lu: out of memory", name, lineno);
            return -1;
        }
        if (rc == -1) {
            if (err && errcap && (bad == 0 || !(flags & SHIELD_IPLIST_LENIENT)))
                snprintf(err, errcap, "%s:%lu: %s: '%.*s'", name, lineno, why,
                         (int)((we - w) > 60 ? 60 : (we - w)), w);
            bad++;
            if (!(flags & SHIELD_IPLIST_LENIENT))
                return -1;
            continue;
        }
        added++;
    }
    return added;
}

long shield_iplist_builder_add_file(struct shield_iplist_builder *b, const char *path,
                                    unsigned flags, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    long rc = -1;
    char *buf = NULL;
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > IPLIST_FILE_MAX) {
        snprintf(err, errcap, "%s: not a regular file of at most %u MB", path,
                 IPLIST_FILE_MAX >> 20);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        snprintf(err, errcap, "%s: out of memory", path);
        goto out;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(err, errcap, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = shield_iplist_builder_add_buffer(b, buf, got, path, flags, err, errcap);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- build ----------------------------------------------------------- */

static int cmp4(const void *x, const void *y)
{
    const struct ent4 *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (int)a->plen - (int)b->plen;
}

static int cmp6(const void *x, const void *y)
{
    const struct ent6 *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (int)a->plen - (int)b->plen;
}

static uint32_t new4(struct shield_iplist *l, uint32_t key, unsigned plen, bool entry, uint16_t tag)
{
    uint32_t i = (uint32_t)l->nn4++;
    l->n4[i] = (struct node4){key, {NIL, NIL}, (uint8_t)plen, entry, entry ? tag : 0};
    return i;
}

static uint32_t new6(struct shield_iplist *l, u128 key, unsigned plen, bool entry, uint16_t tag)
{
    uint32_t i = (uint32_t)l->nn6++;
    l->n6[i] = (struct node6){key, {NIL, NIL}, (uint8_t)plen, entry, entry ? tag : 0};
    return i;
}

/* Capacity for two more nodes is reserved by the caller, so `link` stays
 * valid across new4(). */
static void insert4(struct shield_iplist *l, uint32_t key, unsigned plen, uint16_t tag)
{
    uint32_t *link = &l->root4;
    for (;;) {
        uint32_t idx = *link;
        if (idx == NIL) {
            *link = new4(l, key, plen, true, tag);
            l->count++;
            return;
        }
        struct node4 *nd = &l->n4[idx];
        unsigned c = cpl4(key, nd->key);
        if (c > plen)
            c = plen;
        if (c > nd->plen)
            c = nd->plen;
        if (c == nd->plen) {
            if (plen == nd->plen) {
                if (!nd->entry) {
                    nd->entry = 1;
                    nd->tag = tag;
                    l->count++;
                }
                return;
            }
            link = &nd->child[bit4(key, nd->plen)];
            continue;
        }
        if (c == plen) {
            uint32_t n = new4(l, key, plen, true, tag);
            l->n4[n].child[bit4(l->n4[idx].key, plen)] = idx;
            *link = n;
        } else {
            uint32_t g = new4(l, key & mask4(c), c, false, 0);
            uint32_t n = new4(l, key, plen, true, tag);
            l->n4[g].child[bit4(key, c)] = n;
            l->n4[g].child[bit4(l->n4[idx].key, c)] = idx;
            *link = g;
        }
        l->count++;
        return;
    }
}

static void insert6(struct shield_iplist *l, u128 key, unsigned plen, uint16_t tag)
{
    uint32_t *link = &l->root6;
    for (;;) {
        uint32_t idx = *link;
        if (idx == NIL) {
            *link = new6(l, key, plen, true, tag);
            l->count++;
            return;
        }
        struct node6 *nd = &l->n6[idx];
        unsigned c = cpl6(key, nd->key);
        if (c > plen)
            c = plen;
        if (c > nd->plen)
            c = nd->plen;
        if (c == nd->plen) {
            if (plen == nd->plen) {
                if (!nd->entry) {
                    nd->entry = 1;
                    nd->tag = tag;
                    l->count++;
                }
                return;
            }
            link = &nd->child[bit6(key, nd->plen)];
            continue;
        }
        if (c == plen) {
            uint32_t n = new6(l, key, plen, true, tag);
            l->n6[n].child[bit6(l->n6[idx].key, plen)] = idx;
            *link = n;
        } else {
            uint32_t g = new6(l, key & mask6(c), c, false, 0);
            uint32_t n = new6(l, key, plen, true, tag);
            l->n6[g].child[bit6(key, c)] = n;
            l->n6[g].child[bit6(l->n6[idx].key, c)] = idx;
            *link = g;
        }
        l->count++;
        return;
    }
}

struct shield_iplist *shield_iplist_build(struct shield_iplist_builder *b)
{
    struct shield_iplist *l = NULL;
    if (!b || b->failed || b->n4 > UINT32_MAX / 4 || b->n6 > UINT32_MAX / 4)
        goto out;
    l = calloc(1, sizeof *l);
    if (!l)
        goto out;
    atomic_init(&l->ref, 1);
    l->root4 = l->root6 = NIL;
    if (b->n4)
        qsort(b->e4, b->n4, sizeof *b->e4, cmp4);
    if (b->n6)
        qsort(b->e6, b->n6, sizeof *b->e6, cmp6);
    /* At most two nodes per entry (one entry + one glue). */
    l->cap4 = b->n4 * 2 + 2;
    l->cap6 = b->n6 * 2 + 2;
    l->n4 = malloc(l->cap4 * sizeof *l->n4);
    l->n6 = malloc(l->cap6 * sizeof *l->n6);
    if (!l->n4 || !l->n6) {
        shield_iplist_unref(l);
        l = NULL;
        goto out;
    }
    for (size_t i = 0; i < b->n4; i++)
        if (i == 0 || b->e4[i].key != b->e4[i - 1].key || b->e4[i].plen != b->e4[i - 1].plen)
            insert4(l, b->e4[i].key, b->e4[i].plen, b->e4[i].tag);
    for (size_t i = 0; i < b->n6; i++)
        if (i == 0 || b->e6[i].key != b->e6[i - 1].key || b->e6[i].plen != b->e6[i - 1].plen)
            insert6(l, b->e6[i].key, b->e6[i].plen, b->e6[i].tag);
    /* Give back the unused reservation. */
    if (l->nn4 && l->nn4 < l->cap4) {
        struct node4 *s = realloc(l->n4, l->nn4 * sizeof *s);
        if (s) {
            l->n4 = s;
            l->cap4 = l->nn4;
        }
    }
    if (l->nn6 && l->nn6 < l->cap6) {
        struct node6 *s = realloc(l->n6, l->nn6 * sizeof *s);
        if (s) {
            l->n6 = s;
            l->cap6 = l->nn6;
        }
    }
    l->tags = b->tags;
    memset(&b->tags, 0, sizeof b->tags);
out:
    shield_iplist_builder_free(b);
    return l;
}

struct shield_iplist *shield_iplist_load_buffer(const char *buf, size_t n, const char *name,
                                                unsigned flags, char *err, size_t errcap)
{
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    if (!b) {
        snprintf(err, errcap, "%s: out of memory", name ? name : "(buffer)");
        return NULL;
    }
    if (shield_iplist_builder_add_buffer(b, buf, n, name, flags, err, errcap) < 0) {
        shield_iplist_builder_free(b);
        return NULL;
    }
    struct shield_iplist *l = shield_iplist_build(b);
    if (!l)
        snprintf(err, errcap, "%s: out of memory", name ? name : "(buffer)");
    return l;
}

struct shield_iplist *shield_iplist_load_file(const char *path, unsigned flags, char *err,
                                              size_t errcap)
{
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    if (!b) {
        snprintf(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    if (shield_iplist_builder_add_file(b, path, flags, err, errcap) < 0) {
        shield_iplist_builder_free(b);
        return NULL;
    }
    struct shield_iplist *l = shield_iplist_build(b);
    if (!l)
        snprintf(err, errcap, "%s: out of memory", path);
    return l;
}

/* ---- lookup ---------------------------------------------------------- */

bool shield_iplist_contains(const struct shield_iplist *l, const struct shield_addr *a,
                            const char **tag)
{
    uint32_t best = NIL;
    uint16_t t = 0;
    if (!l)
        return false;
    if (a->family == 4) {
        uint32_t k = key4(a);
        for (uint32_t i = l->root4; i != NIL;) {
            const struct node4 *nd = &l->n4[i];
            if ((k ^ nd->key) & mask4(nd->plen))
                break;
            if (nd->entry) {
                best = i;
                t = nd->tag;
            }
            if (nd->plen == 32)
                break;
            i = nd->child[bit4(k, nd->plen)];
        }
    } else {
        u128 k = key6(a);
        for (uint32_t i = l->root6; i != NIL;) {
            const struct node6 *nd = &l->n6[i];
            if ((k ^ nd->key) & mask6(nd->plen))
                break;
            if (nd->entry) {
                best = i;
                t = nd->tag;
            }
            if (nd->plen == 128)
                break;
            i = nd->child[bit6(k, nd->plen)];
        }
    }
    if (tag)
        *tag = (best != NIL && t && t < l->tags.n) ? l->tags.s[t] : "";
    return best != NIL;
}

size_t shield_iplist_count(const struct shield_iplist *l) { return l ? l->count : 0; }

size_t shield_iplist_memory(const struct shield_iplist *l)
{
    if (!l)
        return 0;
    size_t m = sizeof *l + l->cap4 * sizeof *l->n4 + l->cap6 * sizeof *l->n6 +
               l->tags.cap * sizeof(char *);
    for (size_t i = 1; i < l->tags.n; i++)
        m += strlen(l->tags.s[i]) + 1;
    return m;
}

struct shield_iplist *shield_iplist_ref(struct shield_iplist *l)
{
    if (l)
        atomic_fetch_add_explicit(&l->ref, 1, memory_order_relaxed);
    return l;
}

void shield_iplist_unref(struct shield_iplist *l)
{
    if (!l || atomic_fetch_sub_explicit(&l->ref, 1, memory_order_acq_rel) != 1)
        return;
    free(l->n4);
    free(l->n6);
    tags_free(&l->tags);
    free(l);
}
