/* @ipMatch / @ipMatchFromFile: IPv4 and IPv6 address sets.
 *
 * Every entry (an address or a CIDR block) is turned into an inclusive
 * range [lo, hi]. Ranges of one family are sorted and merged, so after
 * building they are disjoint, non-adjacent and ascending; a lookup is one
 * binary search over them -- at most log2(n) 128-bit compares, no matter
 * how many entries overlap -- and memory is one range per block.
 *
 * As in ModSecurity an entry with a ':' is IPv6, anything else IPv4, and the
 * families never mix: "::ffff:10.0.0.1" is not in "10.0.0.0/8". Host bits
 * below the prefix ("10.1.2.3/8") are ignored, as ModSecurity masks them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "waf/matchers.h"

#define IPSET_FILE_MAX (64u * 1024u * 1024u)
#define IPSET_PATH_MAX 4096
/* Longest entry text: a full IPv6 address with embedded IPv4 and /128. */
#define IPSET_ENTRY_MAX 64

/* 128-bit unsigned as two halves; IPv4 uses lo only. */
struct u128 {
    uint64_t hi, lo;
};

struct iprange {
    struct u128 lo, hi;
};

struct rangevec {
    struct iprange *r;
    size_t n, cap;
};

struct ipset {
    struct rangevec v4, v6;
};

static int u128_cmp(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static struct u128 u128_from_bytes(const uint8_t *b, int n)
{
    struct u128 v = {0, 0};
    for (int i = 0; i < n; i++) {
        v.hi = v.hi << 8 | v.lo >> 56;
        v.lo = v.lo << 8 | b[i];
    }
    return v;
}

/* Mask with the low (bits - prefix) bits set, for a family of `bits`. */
static struct u128 u128_hostmask(int bits, int prefix)
{
    int h = bits - prefix; /* host bits, 0..128 */
    struct u128 m;
    if (h >= 128)
        return (struct u128){~0ull, ~0ull};
    if (h >= 64) {
        m.lo = ~0ull;
        m.hi = h == 64 ? 0 : (~0ull >> (128 - h));
    } else {
        m.hi = 0;
        m.lo = h == 0 ? 0 : (~0ull >> (64 - h));
    }
    return m;
}

static int rangevec_push(struct rangevec *v, struct iprange r)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        struct iprange *nr = realloc(v->r, ncap * sizeof(*nr));
        if (!nr)
            return -1;
        v->r = nr;
        v->cap = ncap;
    }
    v->r[v->n++] = r;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    return u128_cmp(((const struct iprange *)a)->lo, ((const struct iprange *)b)->lo);
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static void rangevec_merge(struct rangevec *v)
{
    size_t o = 0;
    if (v->n == 0)
        return;
    qsort(v->r, v->n, sizeof(*v->r), range_cmp);
    for (size_t i = 1; i < v->n; i++) {
        struct iprange *last = &v->r[o];
        struct u128 next = last->hi;
        /* next = hi + 1, saturating at all-ones (range reaches the top). */
        bool top = next.hi == ~0ull && next.lo == ~0ull;
        if (!top) {
            next.lo++;
            if (next.lo == 0)
                next.hi++;
        }
        if (top || u128_cmp(v->r[i].lo, next) <= 0) {
            if (u128_cmp(v->r[i].hi, last->hi) > 0)
                last->hi = v->r[i].hi;
        } else {
            v->r[++o] = v->r[i];
        }
    }
    v->n = o + 1;
}

static bool rangevec_has(const struct rangevec *v, struct u128 a)
{
    size_t lo = 0, hi = v->n;
    /* First range whose lo > a; the candidate is the one before it. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u128_cmp(v->r[mid].lo, a) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && u128_cmp(a, v->r[lo - 1].hi) <= 0;
}

/* Parses a bare address (no prefix) of either family into *v; *bits is 32
 * or 128. Returns false on anything inet_pton does not accept. */
static bool ip_parse_addr(const char *s, size_t n, struct u128 *v, int *bits)
{
    char tmp[IPSET_ENTRY_MAX];
    uint8_t b[16];

    if (n == 0 || n >= sizeof(tmp) || memchr(s, '\0', n))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (memchr(s, ':', n)) {
        if (inet_pton(AF_INET6, tmp, b) != 1)
            return false;
        *v = u128_from_bytes(b, 16);
        *bits = 128;
    } else {
        if (inet_pton(AF_INET, tmp, b) != 1)
            return false;
        *v = u128_from_bytes(b, 4);
        *bits = 32;
    }
    return true;
}

/* Adds one trimmed entry "addr" or "addr/prefix"; err names the entry. */
static int ipset_add_entry(struct ipset *set, const char *e, size_t n, char *err, size_t errlen)
{
    const char *slash = memchr(e, '/', n);
    size_t alen = slash ? (size_t)(slash - e) : n;
    struct u128 a, m;
    int bits, prefix;
    struct iprange r;

    if (!ip_parse_addr(e, alen, &a, &bits)) {
        snprintf(err, errlen, "bad IP address '%.*s'", (int)(n > 80 ? 80 : n), e);
        return -1;
    }
    prefix = bits;
    if (slash) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        if (plen == 0 || plen > 3) {
            snprintf(err, errlen, "bad prefix length in '%.*s'", (int)(n > 80 ? 80 : n), e);
            return -1;
        }
        prefix = 0;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9') {
                snprintf(err, errlen, "bad prefix length in '%.*s'", (int)(n > 80 ? 80 : n), e);
                return -1;
            }
            prefix = prefix * 10 + (p[i] - '0');
        }
        if (prefix > bits) {
            snprintf(err, errlen, "prefix length %d too long for IPv%d in '%.*s'", prefix,
                     bits == 32 ? 4 : 6, (int)(n > 80 ? 80 : n), e);
            return -1;
        }
    }
    m = u128_hostmask(bits, prefix);
    r.lo = (struct u128){a.hi & ~m.hi, a.lo & ~m.lo};
    r.hi = (struct u128){a.hi | m.hi, a.lo | m.lo};
    if (bits == 32) {
        /* Host mask of an IPv4 family stays within the low 32 bits. */
        r.lo.hi = r.hi.hi = 0;
        r.lo.lo &= 0xffffffffull;
        r.hi.lo &= 0xffffffffull;
    }
    if (rangevec_push(bits == 32 ? &set->v4 : &set->v6, r) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static bool ip_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Adds every comma-separated entry of s[0..n); empty entries are skipped.
 * *count is increased by the number added. */
static int ipset_add_list(struct ipset *set, const char *s, size_t n, size_t *count, char *err,
                          size_t errlen)
{
    size_t i = 0;
    while (i <= n) {
        const char *comma = i < n ? memchr(s + i, ',', n - i) : NULL;
        size_t end = comma ? (size_t)(comma - s) : n;
        size_t a = i, b = end;
        while (a < b && ip_blank(s[a]))
            a++;
        while (b > a && ip_blank(s[b - 1]))
            b--;
        if (b > a) {
            if (ipset_add_entry(set, s + a, b - a, err, errlen) < 0)
                return -1;
            (*count)++;
        }
        i = end + 1;
    }
    return 0;
}

static struct ipset *ipset_finish(struct ipset *set)
{
    rangevec_merge(&set->v4);
    rangevec_merge(&set->v6);
    return set;
}

struct ipset *ipset_parse(const char *list, size_t len, char *err, size_t errlen)
{
    struct ipset *set = calloc(1, sizeof(*set));
    size_t count = 0;
    char why[200];

    if (!set) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!list)
        len = 0;
    if (ipset_add_list(set, list, len, &count, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    if (count == 0) {
        snprintf(err, errlen, "no address given");
        goto fail;
    }
    return ipset_finish(set);
fail:
    ipset_free(set);
    return NULL;
}

struct ipset *ipset_from_file(const char *path, const char *base_dir, char *err, size_t errlen)
{
    char full[IPSET_PATH_MAX];
    struct ipset *set = NULL;
    FILE *f = NULL;
    char *buf = NULL;
    struct stat st;
    size_t got, count = 0, lineno = 0; /* count is informational here */
    int w;

    if (!path || !*path) {
        snprintf(err, errlen, "no file given");
        return NULL;
    }
    if (strncmp(path, "https://", 8) == 0) {
        snprintf(err, errlen, "%s: remote lists are not supported", path);
        return NULL;
    }
    if (path[0] == '/' || !base_dir || !*base_dir)
        w = snprintf(full, sizeof(full), "%s", path);
    else
        w = snprintf(full, sizeof(full), "%s%s%s", base_dir,
                     base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path);
    if (w < 0 || (size_t)w >= sizeof(full)) {
        snprintf(err, errlen, "path too long");
        return NULL;
    }
    f = fopen(full, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", full, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", full);
        goto fail;
    }
    if ((uintmax_t)st.st_size > IPSET_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", full, IPSET_FILE_MAX);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    set = calloc(1, sizeof(*set));
    if (!buf || !set) {
        snprintf(err, errlen, "%s: out of memory", full);
        goto fail;
    }
    got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", full);
        goto fail;
    }
    /* One or more comma-separated entries per line; '#' starts a comment
     * line (ModSecurity v2 behaviour); blank lines are skipped. */
    for (size_t i = 0; i < got;) {
        const char *nl = memchr(buf + i, '\n', got - i);
        size_t end = nl ? (size_t)(nl - buf) : got;
        size_t k = i;
        char why[200];
        lineno++;
        while (k < end && ip_blank(buf[k]))
            k++;
        if (k < end && buf[k] != '#' &&
            ipset_add_list(set, buf + k, end - k, &count, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s:%zu: %s", full, lineno, why);
            goto fail;
        }
        i = end + 1;
    }
    /* An empty list is valid (a block list with nothing in it yet); it
     * simply never matches. */
    free(buf);
    fclose(f);
    return ipset_finish(set);
fail:
    free(buf);
    if (f)
        fclose(f);
    ipset_free(set);
    return NULL;
}

void ipset_free(struct ipset *s)
{
    if (!s)
        return;
    free(s->v4.r);
    free(s->v6.r);
    free(s);
}

bool ipset_contains(const struct ipset *s, const char *addr, size_t len)
{
    struct u128 a;
    int bits;

    if (!s || !addr || !ip_parse_addr(addr, len, &a, &bits))
        return false;
    return rangevec_has(bits == 32 ? &s->v4 : &s->v6, a);
}
