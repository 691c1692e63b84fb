/* A small DEFLATE (RFC 1951) decoder inside a gzip (RFC 1952) wrapper, so
 * rotated logs (auth.log.2.gz) can be read without linking zlib. Whole
 * buffer in, bounded buffer out; concatenated gzip members are decoded one
 * after the other. Corrupt input returns -1 with what was decoded so far
 * left in the output. Speed is adequate for logs of a few MiB. */
#include "audit/audit.h"

#include <string.h>

struct bits {
    const unsigned char *in;
    size_t n, pos;
    unsigned bitbuf, bitcnt;
    int err;
};

static unsigned getbits(struct bits *s, unsigned need)
{
    unsigned long val = s->bitbuf;
    while (s->bitcnt < need) {
        if (s->pos >= s->n) {
            s->err = 1;
            return 0;
        }
        val |= (unsigned long)s->in[s->pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
    s->bitbuf = (unsigned)(val >> need);
    s->bitcnt -= need;
    return (unsigned)(val & ((1UL << need) - 1));
}

/* Canonical Huffman table: count of codes per length, symbols by code. */
struct huff {
    short count[16];
    short symbol[320];
};

static int huff_build(struct huff *h, const short *lengths, int n)
{
    short offs[16];
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++)
        h->count[lengths[i]]++;
    if (h->count[0] == n)
        return 0;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0)
            return -1; /* over-subscribed */
    }
    offs[1] = 0;
    for (int len = 1; len < 15; len++)
        offs[len + 1] = (short)(offs[len] + h->count[len]);
    for (int i = 0; i < n; i++)
        if (lengths[i])
            h->symbol[offs[lengths[i]]++] = (short)i;
    return left;
}

static int huff_decode(struct bits *s, const struct huff *h)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        code |= (int)getbits(s, 1);
        if (s->err)
            return -1;
        int count = h->count[len];
        if (code - count < first)
            return h->symbol[index + (code - first)];
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static const short len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                    2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const short dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                                    6145, 8193, 12289, 16385, 24577};
static const short dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                     6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int inflate_codes(struct bits *s, struct buf *out, size_t start, const struct huff *lc,
                         const struct huff *dc)
{
    for (;;) {
        int sym = huff_decode(s, lc);
        if (sym < 0)
            return -1;
        if (sym < 256) {
            if (buf_putc(out, (char)sym) < 0)
                return -1;
        } else if (sym == 256) {
            return 0;
        } else {
            sym -= 257;
            if (sym >= 29)
                return -1;
            size_t len = (size_t)len_base[sym] + getbits(s, (unsigned)len_extra[sym]);
            int ds = huff_decode(s, dc);
            if (ds < 0 || ds >= 30)
                return -1;
            size_t dist = (size_t)dist_base[ds] + getbits(s, (unsigned)dist_extra[ds]);
            if (s->err || dist > out->len - start)
                return -1;
            for (size_t i = 0; i < len; i++) {
                char ch = out->p[out->len - dist];
                if (buf_putc(out, ch) < 0)
                    return -1;
            }
        }
    }
}

static int inflate_fixed(struct bits *s, struct buf *out, size_t start)
{
    static struct huff lc, dc;
    static int built;
    if (!built) {
        short l[288];
        int i = 0;
        for (; i < 144; i++)
            l[i] = 8;
        for (; i < 256; i++)
            l[i] = 9;
        for (; i < 280; i++)
            l[i] = 7;
        for (; i < 288; i++)
            l[i] = 8;
        huff_build(&lc, l, 288);
        for (i = 0; i < 30; i++)
            l[i] = 5;
        huff_build(&dc, l, 30);
        built = 1;
    }
    return inflate_codes(s, out, start, &lc, &dc);
}

static int inflate_dynamic(struct bits *s, struct buf *out, size_t start)
{
    static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    short lengths[320];
    struct huff lc, dc;
    int nlen = (int)getbits(s, 5) + 257;
    int ndist = (int)getbits(s, 5) + 1;
    int ncode = (int)getbits(s, 4) + 4;
    if (s->err || nlen > 286 || ndist > 30)
        return -1;
    memset(lengths, 0, sizeof lengths);
    for (int i = 0; i < ncode; i++)
        lengths[order[i]] = (short)getbits(s, 3);
    if (s->err || huff_build(&lc, lengths, 19) != 0)
        return -1;
    int idx = 0;
    while (idx < nlen + ndist) {
        int sym = huff_decode(s, &lc);
        if (sym < 0)
            return -1;
        if (sym < 16) {
            lengths[idx++] = (short)sym;
            continue;
        }
        short val = 0;
        int rep;
        if (sym == 16) {
            if (idx == 0)
                return -1;
            val = lengths[idx - 1];
            rep = 3 + (int)getbits(s, 2);
        } else if (sym == 17) {
            rep = 3 + (int)getbits(s, 3);
        } else {
            rep = 11 + (int)getbits(s, 7);
        }
        if (s->err || idx + rep > nlen + ndist)
            return -1;
        while (rep--)
            lengths[idx++] = val;
    }
    if (lengths[256] == 0)
        return -1;
    int r = huff_build(&lc, lengths, nlen);
    if (r < 0 || (r > 0 && nlen - lc.count[0] != 1))
        return -1;
    r = huff_build(&dc, lengths + nlen, ndist);
    if (r < 0 || (r > 0 && ndist - dc.count[0] != 1))
        return -1;
    return inflate_codes(s, out, start, &lc, &dc);
}

static int inflate_raw(struct bits *s, struct buf *out)
{
    size_t start = out->len;
    int last;
    do {
        last = (int)getbits(s, 1);
        int type = (int)getbits(s, 2);
        if (s->err)
            return -1;
        int r;
        if (type == 0) {
            s->bitbuf = 0;
            s->bitcnt = 0;
            if (s->pos + 4 > s->n)
                return -1;
            unsigned len = s->in[s->pos] | (unsigned)s->in[s->pos + 1] << 8;
            unsigned nlen = s->in[s->pos + 2] | (unsigned)s->in[s->pos + 3] << 8;
            s->pos += 4;
            if (len != (~nlen & 0xffff) || s->pos + len > s->n)
                return -1;
            if (buf_append(out, s->in + s->pos, len) < 0)
                return -1;
            s->pos += len;
            r = 0;
        } else if (type == 1) {
            r = inflate_fixed(s, out, start);
        } else if (type == 2) {
            r = inflate_dynamic(s, out, start);
        } else {
            return -1;
        }
        if (r < 0)
            return -1;
    } while (!last);
    return 0;
}

int audit_gunzip(const unsigned char *in, size_t inlen, struct buf *out)
{
    size_t pos = 0;
    int members = 0;
    while (pos + 18 <= inlen) {
        if (in[pos] != 0x1f || in[pos + 1] != 0x8b || in[pos + 2] != 8)
            return members ? 0 : -1;
        unsigned flg = in[pos + 3];
        size_t p = pos + 10;
        if (flg & 4) { /* FEXTRA */
            if (p + 2 > inlen)
                return -1;
            size_t xl = in[p] | (size_t)in[p + 1] << 8;
            p += 2 + xl;
        }
        if (flg & 8) /* FNAME */
            while (p < inlen && in[p++])
                ;
        if (flg & 16) /* FCOMMENT */
            while (p < inlen && in[p++])
                ;
        if (flg & 2)
            p += 2;
        if (p >= inlen)
            return -1;
        struct bits s = {in, inlen, p, 0, 0, 0};
        if (inflate_raw(&s, out) < 0)
            return -1;
        pos = s.pos + 8; /* CRC32 + ISIZE (not verified: logs, not archives) */
        members++;
    }
    return members ? 0 : -1;
}
