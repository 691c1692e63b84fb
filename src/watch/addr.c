/* Addresses as the watcher keys them: IPv4 /32, IPv6 grouped by a prefix. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/watch.h"

int watch_addr_parse(const char *s, size_t n, struct watch_addr *out)
{
    char tmp[64];
    int plen = -1;
    memset(out, 0, sizeof *out);
    if (n && s[0] == '[') {
        const char *e = memchr(s, ']', n);
        if (!e)
            return -1;
        s++;
        n = (size_t)(e - s);
    }
    const char *slash = memchr(s, '/', n);
    if (slash) {
        size_t pl = n - (size_t)(slash - s) - 1;
        if (pl == 0 || pl > 3)
            return -1;
        plen = 0;
        for (size_t i = 0; i < pl; i++) {
            char c = slash[1 + i];
            if (c < '0' || c > '9')
                return -1;
            plen = plen * 10 + (c - '0');
        }
        n = (size_t)(slash - s);
    }
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (memchr(tmp, ':', n)) {
        if (inet_pton(AF_INET6, tmp, out->a) != 1)
            return -1;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(out->a, v4mapped, 12) && (plen < 0 || plen >= 96)) {
            memmove(out->a, out->a + 12, 4);
            memset(out->a + 4, 0, 12);
            out->fam = 4;
            out->plen = (uint8_t)(plen < 0 ? 32 : plen - 96);
            return 0;
        }
        if (plen > 128)
            return -1;
        out->fam = 6;
        out->plen = (uint8_t)(plen < 0 ? 128 : plen);
    } else {
        if (inet_pton(AF_INET, tmp, out->a) != 1)
            return -1;
        if (plen > 32)
            return -1;
        out->fam = 4;
        out->plen = (uint8_t)(plen < 0 ? 32 : plen);
    }
    /* keep only the network bits so equal prefixes compare equal */
    int bits = out->fam == 4 ? 32 : 128;
    for (int i = out->plen; i < bits; i++)
        out->a[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return 0;
}

char *watch_addr_fmt(const struct watch_addr *a, char *dst, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (cap == 0)
        return dst;
    dst[0] = '\0';
    if (a->fam == 4) {
        if (!inet_ntop(AF_INET, a->a, ip, sizeof ip))
            return dst;
        if (a->plen == 32)
            snprintf(dst, cap, "%s", ip);
        else
            snprintf(dst, cap, "%s/%u", ip, a->plen);
    } else if (a->fam == 6) {
        if (!inet_ntop(AF_INET6, a->a, ip, sizeof ip))
            return dst;
        if (a->plen == 128)
            snprintf(dst, cap, "%s", ip);
        else
            snprintf(dst, cap, "%s/%u", ip, a->plen);
    }
    return dst;
}

void watch_addr_group(struct watch_addr *a, int v6_prefix)
{
    if (a->fam != 6 || v6_prefix <= 0 || v6_prefix >= a->plen)
        return;
    for (int i = v6_prefix; i < 128; i++)
        a->a[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    a->plen = (uint8_t)v6_prefix;
}

bool watch_addr_in(const struct watch_addr *net, const struct watch_addr *a)
{
    if (net->fam != a->fam || a->plen < net->plen)
        return false;
    int full = net->plen / 8, rem = net->plen % 8;
    if (memcmp(net->a, a->a, (size_t)full))
        return false;
    if (rem) {
        uint8_t m = (uint8_t)(0xff00u >> rem);
        if ((net->a[full] & m) != (a->a[full] & m))
            return false;
    }
    return true;
}

bool watch_addr_eq(const struct watch_addr *x, const struct watch_addr *y)
{
    return x->fam == y->fam && x->plen == y->plen && !memcmp(x->a, y->a, 16);
}
