#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "shield/shield.h"
#include "../t.h"

static struct shield_addr A(const char *s)
{
    struct shield_addr a;
    if (shield_addr_parse(s, strlen(s), &a))
        memset(&a, 0xee, sizeof a);
    return a;
}

static bool in(const struct shield_iplist *l, const char *s)
{
    struct shield_addr a = A(s);
    return shield_iplist_contains(l, &a, NULL);
}

TEST(iplist_plain_and_cidr)
{
    const char txt[] = "# operator list\n"
                       "10.0.0.0/8\n"
                       "192.168.1.5   # one host\n"
                       "\n"
                       "  2001:db8::/32\r\n"
                       "; a comment\n"
                       "203.0.113.7/32\n"
                       "::ffff:198.51.100.0/120\n";
    char err[256];
    struct shield_iplist *l = shield_iplist_load_buffer(txt, sizeof txt - 1, "ops.list", 0, err,
                                                        sizeof err);
    CHECK(l != NULL);
    if (!l) {
        printf("%s\n", err);
        return;
    }
    CHECK_INT(shield_iplist_count(l), 5);
    CHECK(in(l, "10.1.2.3"));
    CHECK(in(l, "10.255.255.255"));
    CHECK(!in(l, "11.0.0.0"));
    CHECK(!in(l, "9.255.255.255"));
    CHECK(in(l, "192.168.1.5"));
    CHECK(!in(l, "192.168.1.4"));
    CHECK(!in(l, "192.168.1.6"));
    CHECK(in(l, "2001:db8:1::5"));
    CHECK(!in(l, "2001:db9::"));
    CHECK(in(l, "203.0.113.7"));
    CHECK(in(l, "198.51.100.77")); /* mapped CIDR folded to 198.51.100.0/24 */
    CHECK(in(l, "::ffff:10.9.9.9")); /* mapped client address is IPv4 */
    CHECK(!in(l, "::"));
    CHECK(!in(l, "0.0.0.0"));
    shield_iplist_unref(l);
}

TEST(iplist_spamhaus_tags_and_longest_prefix)
{
    const char txt[] = "; Spamhaus DROP List 2024/01/01\n"
                       "1.10.16.0/20 ; SBL256894\n"
                       "1.10.16.0/24 ; SBL999\n"
                       "2.56.192.0/22 ; SBL459831\n";
    char err[256];
    struct shield_iplist *l = shield_iplist_load_buffer(txt, sizeof txt - 1, "drop.txt", 0, err,
                                                        sizeof err);
    CHECK(l != NULL);
    if (!l)
        return;
    const char *tag = NULL;
    struct shield_addr a = A("1.10.16.9");
    CHECK(shield_iplist_contains(l, &a, &tag));
    CHECK_STR(tag, "SBL999");
    a = A("1.10.20.9");
    CHECK(shield_iplist_contains(l, &a, &tag));
    CHECK_STR(tag, "SBL256894");
    a = A("2.56.195.255");
    CHECK(shield_iplist_contains(l, &a, &tag));
    CHECK_STR(tag, "SBL459831");
    a = A("2.56.196.0");
    CHECK(!shield_iplist_contains(l, &a, &tag));
    CHECK_STR(tag, "");
    shield_iplist_unref(l);
}

TEST(iplist_tor_formats_and_firehol_ranges)
{
    const char bulk[] = "\xef\xbb\xbf" "185.220.101.1\n185.220.101.2\n"; /* with a BOM */
    const char exits[] = "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"
                         "Published 2024-01-01 00:00:00\n"
                         "LastStatus 2024-01-01 01:00:00\n"
                         "ExitAddress 162.247.74.201 2024-01-01 01:10:00\n";
    const char netset[] = "#\n# firehol_level1\n#\n0.0.0.0/8\n5.188.10.0/23\n"
                          "100.64.0.1-100.64.0.6\n";
    char err[256];
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    CHECK_INT(shield_iplist_builder_add_buffer(b, bulk, sizeof bulk - 1, "tor-bulk", 0, err,
                                               sizeof err), 2);
    CHECK_INT(shield_iplist_builder_add_buffer(b, exits, sizeof exits - 1, "exit-addresses", 0,
                                               err, sizeof err), 1);
    CHECK(shield_iplist_builder_add_buffer(b, netset, sizeof netset - 1, "level1.netset", 0, err,
                                           sizeof err) > 0);
    struct shield_iplist *l = shield_iplist_build(b);
    CHECK(l != NULL);
    if (!l)
        return;
    CHECK(in(l, "185.220.101.2"));
    CHECK(!in(l, "185.220.101.3"));
    CHECK(in(l, "162.247.74.201"));
    CHECK(in(l, "0.1.2.3"));
    CHECK(in(l, "5.188.11.255"));
    CHECK(!in(l, "100.64.0.0"));
    CHECK(in(l, "100.64.0.1"));
    CHECK(in(l, "100.64.0.6"));
    CHECK(!in(l, "100.64.0.7"));
    shield_iplist_unref(l);
}

TEST(iplist_bad_lines_report_file_line)
{
    char err[256];
    const char t1[] = "10.0.0.0/8\n\n300.1.1.1\n";
    CHECK(shield_iplist_load_buffer(t1, sizeof t1 - 1, "a.list", 0, err, sizeof err) == NULL);
    CHECK_STR(err, "a.list:3: not an IP address or CIDR: '300.1.1.1'");
    const char t2[] = "10.0.0.0/33\n";
    CHECK(shield_iplist_load_buffer(t2, sizeof t2 - 1, "b.list", 0, err, sizeof err) == NULL);
    CHECK_STR(err, "b.list:1: IPv4 prefix length over 32: '10.0.0.0/33'");
    const char t3[] = "1.2.3.4 5.6.7.8\n";
    CHECK(shield_iplist_load_buffer(t3, sizeof t3 - 1, "c.list", 0, err, sizeof err) == NULL);
    CHECK_STR(err, "c.list:1: unexpected text after the address: '1.2.3.4'");
    const char t4[] = "2001:db8::/129\n";
    CHECK(shield_iplist_load_buffer(t4, sizeof t4 - 1, "d.list", 0, err, sizeof err) == NULL);
    CHECK_STR(err, "d.list:1: IPv6 prefix length over 128: '2001:db8::/129'");
    const char t5[] = "1.2.3.4/\n";
    CHECK(shield_iplist_load_buffer(t5, sizeof t5 - 1, "e.list", 0, err, sizeof err) == NULL);
    CHECK_STR(err, "e.list:1: bad prefix length: '1.2.3.4/'");
    /* Lenient: bad lines are skipped, the first one is still reported. */
    const char t6[] = "junk\n1.2.3.4\nmore junk\n";
    struct shield_iplist *l = shield_iplist_load_buffer(t6, sizeof t6 - 1, "feed", SHIELD_IPLIST_LENIENT,
                                                        err, sizeof err);
    CHECK(l != NULL);
    CHECK_STR(err, "feed:1: not an IP address or CIDR: 'junk'");
    CHECK(in(l, "1.2.3.4"));
    CHECK_INT(shield_iplist_count(l), 1);
    shield_iplist_unref(l);
    CHECK(shield_iplist_load_file("/nonexistent/x.list", 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/x.list: cannot open") == err);
}

TEST(iplist_empty_and_default_route)
{
    char err[128];
    struct shield_iplist *l = shield_iplist_load_buffer("", 0, "empty", 0, err, sizeof err);
    CHECK(l != NULL);
    CHECK(!in(l, "1.2.3.4"));
    CHECK(!in(l, "::1"));
    shield_iplist_unref(l);
    const char all[] = "0.0.0.0/0\n::/0\n";
    l = shield_iplist_load_buffer(all, sizeof all - 1, "all", 0, err, sizeof err);
    CHECK(in(l, "1.2.3.4"));
    CHECK(in(l, "255.255.255.255"));
    CHECK(in(l, "fe80::1"));
    shield_iplist_unref(l);
}

/* Differential check of the trie against a brute-force scan. */
TEST(iplist_trie_matches_bruteforce)
{
    enum { N = 3000, Q = 20000 };
    static uint32_t key[N];
    static uint8_t plen[N];
    uint64_t x = 88172645463325252ULL;
    struct shield_iplist_builder *b = shield_iplist_builder_new();
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        plen[i] = (uint8_t)(8 + x % 25);
        key[i] = (uint32_t)(x >> 20) & (plen[i] ? ~0u << (32 - plen[i]) : 0);
        key[i] &= 0x0fffffffu; /* crowd them so prefixes nest */
        struct shield_addr a = {.family = 4};
        a.b[0] = (uint8_t)(key[i] >> 24), a.b[1] = (uint8_t)(key[i] >> 16);
        a.b[2] = (uint8_t)(key[i] >> 8), a.b[3] = (uint8_t)key[i];
        shield_iplist_builder_add_addr(b, &a, plen[i]);
    }
    struct shield_iplist *l = shield_iplist_build(b);
    int bad = 0;
    for (int q = 0; q < Q; q++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t k = (uint32_t)x & 0x0fffffffu;
        if (q % 2)
            k = key[x % N] | ((uint32_t)(x >> 40) & 0xff); /* near an entry */
        bool want = false;
        for (int i = 0; i < N && !want; i++)
            want = ((k ^ key[i]) & (~0u << (32 - plen[i]))) == 0;
        struct shield_addr a = {.family = 4};
        a.b[0] = (uint8_t)(k >> 24), a.b[1] = (uint8_t)(k >> 16);
        a.b[2] = (uint8_t)(k >> 8), a.b[3] = (uint8_t)k;
        if (shield_iplist_contains(l, &a, NULL) != want)
            bad++;
    }
    CHECK_INT(bad, 0);
    shield_iplist_unref(l);
}

TEST(addr_parse_and_format)
{
    struct shield_addr a;
    char buf[64];
    CHECK_INT(shield_addr_parse("1.2.3.4", 7, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK_STR(shield_addr_format(&a, buf, sizeof buf), "1.2.3.4");
    CHECK_INT(shield_addr_parse("2001:DB8::1", 11, &a), 0);
    CHECK_STR(shield_addr_format(&a, buf, sizeof buf), "2001:db8::1");
    CHECK_INT(shield_addr_parse("::ffff:1.2.3.4", 14, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK(shield_addr_parse("1.2.3", 5, &a) < 0);
    CHECK(shield_addr_parse("[::1]", 5, &a) < 0);
    CHECK(shield_addr_parse("", 0, &a) < 0);
}

TEST(addr_from_sockaddr_folds_mapped)
{
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    struct shield_addr a;
    char buf[64];
    inet_pton(AF_INET, "198.51.100.7", &s4.sin_addr);
    CHECK_INT(shield_addr_from_sockaddr((struct sockaddr *)&s4, &a), 0);
    CHECK_STR(shield_addr_format(&a, buf, sizeof buf), "198.51.100.7");
    inet_pton(AF_INET6, "::ffff:198.51.100.8", &s6.sin6_addr);
    CHECK_INT(shield_addr_from_sockaddr((struct sockaddr *)&s6, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK_STR(shield_addr_format(&a, buf, sizeof buf), "198.51.100.8");
    inet_pton(AF_INET6, "2001:db8::8", &s6.sin6_addr);
    CHECK_INT(shield_addr_from_sockaddr((struct sockaddr *)&s6, &a), 0);
    CHECK_INT(a.family, 6);
    CHECK_STR(shield_addr_format(&a, buf, sizeof buf), "2001:db8::8");
    struct sockaddr other = {.sa_family = AF_UNIX};
    CHECK_INT(shield_addr_from_sockaddr(&other, &a), -1);
}
