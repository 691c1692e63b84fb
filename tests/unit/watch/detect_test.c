/* Detection: thresholds, windows, /64 grouping, allowlist, repeat offenders,
 * login alerts, and the bounds of the tables. */
#include "../t.h"
#include "watch/atab.h"
#include "watch/watch.h"

struct rec {
    int bans, alerts, high;
    struct watch_ban last;
};

static void on_ban(void *ud, const struct watch_ban *b)
{
    struct rec *r = ud;
    r->bans++;
    r->last = *b;
}

static void on_alert(void *ud, const struct watch_alert *a)
{
    struct rec *r = ud;
    r->alerts++;
    r->high += a->sev == WATCH_SEV_HIGH;
}

static void feed(struct watch_det *d, const struct watch_sink *s, const char *ip,
                 enum watch_kind k, enum watch_svc svc, int64_t t)
{
    struct watch_event ev = {.kind = k, .svc = svc, .t = t};
    watch_addr_parse(ip, strlen(ip), &ev.addr);
    watch_det_feed(d, &ev, t, s);
}

TEST(watch_detect_threshold_window_and_repeat)
{
    struct watch_conf c;
    watch_conf_defaults(&c);
    struct watch_bans *b = watch_bans_new(100);
    struct watch_det *d = watch_det_new(&c, b);
    struct rec r = {0};
    struct watch_sink s = {on_ban, on_alert, &r};
    int64_t t0 = 1795640400;
    for (int i = 0; i < 4; i++)
        feed(d, &s, "203.0.113.1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
    CHECK_INT(r.bans, 0); /* 4 < 5 */
    feed(d, &s, "203.0.113.1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + 5);
    CHECK_INT(r.bans, 1);
    CHECK_INT(r.last.until - r.last.banned_at, 600);
    CHECK_INT(r.last.count, 1);
    /* while banned: nothing new */
    feed(d, &s, "203.0.113.1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + 10);
    CHECK_INT(r.bans, 1);
    struct watch_addr a;
    watch_addr_parse("203.0.113.1", 11, &a);
    CHECK(watch_bans_check(b, &a, t0 + 100, NULL));
    CHECK(!watch_bans_check(b, &a, t0 + 700, NULL));
    /* back after the ban: twice as long */
    for (int i = 0; i < 5; i++)
        feed(d, &s, "203.0.113.1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + 3600 + i);
    CHECK_INT(r.bans, 2);
    CHECK_INT(r.last.count, 2);
    CHECK_INT(r.last.until - r.last.banned_at, 1200);
    /* slow: one per 10 minutes never bans */
    for (int i = 0; i < 20; i++)
        feed(d, &s, "203.0.113.2", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i * 600);
    CHECK_INT(r.bans, 2);
    /* thresholds are per service: 4 ssh + 4 ftp failures ban nobody */
    for (int i = 0; i < 4; i++) {
        feed(d, &s, "203.0.113.3", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
        feed(d, &s, "203.0.113.3", WATCH_EV_AUTH_FAIL, WATCH_FTP, t0 + i);
    }
    CHECK_INT(r.bans, 2);
    /* IPv6: five addresses of one /64 are one offender */
    const char *v6[] = {"2001:db8:5:5::1", "2001:db8:5:5::2", "2001:db8:5:5::3", "2001:db8:5:5::4",
                        "2001:db8:5:5::5"};
    for (int i = 0; i < 5; i++)
        feed(d, &s, v6[i], WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
    CHECK_INT(r.bans, 3);
    char ip[64];
    CHECK_STR(watch_addr_fmt(&r.last.addr, ip, sizeof ip), "2001:db8:5:5::/64");
    watch_addr_parse("2001:db8:5:5:ffff::9", 20, &a);
    CHECK(watch_bans_check(b, &a, t0 + 10, NULL));
    /* loopback and configured admin networks are never banned */
    char err[128];
    CHECK_INT(watch_conf_set(&c, "allow", "198.51.100.0/24", err, sizeof err), 0);
    for (int i = 0; i < 50; i++) {
        feed(d, &s, "127.0.0.1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
        feed(d, &s, "::1", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
        feed(d, &s, "198.51.100.9", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + i);
    }
    CHECK_INT(r.bans, 3);
    watch_det_free(d);
    watch_bans_free(b);
    watch_conf_free(&c);
}

TEST(watch_detect_login_alerts)
{
    struct watch_conf c;
    watch_conf_defaults(&c);
    struct watch_bans *b = watch_bans_new(100);
    struct watch_det *d = watch_det_new(&c, b);
    struct rec r = {0};
    struct watch_sink s = {on_ban, on_alert, &r};
    int64_t t0 = 1795640400;
    feed(d, &s, "192.0.2.50", WATCH_EV_AUTH_OK, WATCH_SSH, t0);
    CHECK_INT(r.alerts, 1); /* new address */
    CHECK_INT(r.high, 0);
    feed(d, &s, "192.0.2.50", WATCH_EV_AUTH_OK, WATCH_SSH, t0 + 100);
    CHECK_INT(r.alerts, 1); /* known now */
    for (int i = 0; i < 3; i++)
        feed(d, &s, "192.0.2.50", WATCH_EV_AUTH_FAIL, WATCH_SSH, t0 + 200 + i);
    feed(d, &s, "192.0.2.50", WATCH_EV_AUTH_OK, WATCH_SSH, t0 + 205);
    CHECK_INT(r.alerts, 2); /* success after failures: high even if known */
    CHECK_INT(r.high, 1);
    watch_det_free(d);
    watch_bans_free(b);
    watch_conf_free(&c);
}

TEST(watch_detect_table_is_bounded)
{
    struct watch_conf c;
    watch_conf_defaults(&c);
    c.max_tracked = 1000;
    struct watch_bans *b = watch_bans_new(50);
    struct watch_det *d = watch_det_new(&c, b);
    struct rec r = {0};
    struct watch_sink s = {on_ban, on_alert, &r};
    char ip[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        feed(d, &s, ip, WATCH_EV_AUTH_FAIL, WATCH_SSH, 1795640400 + i / 100);
    }
    struct watch_det_stats st;
    watch_det_stats(d, &st);
    CHECK_INT(st.tracked, 1000);
    CHECK_INT(st.evicted, 99000);
    /* 200 offenders into a ban table of 50: the oldest go, counted */
    for (int i = 0; i < 200; i++) {
        snprintf(ip, sizeof ip, "172.16.%d.%d", i / 250, i % 250);
        for (int k = 0; k < 5; k++)
            feed(d, &s, ip, WATCH_EV_AUTH_FAIL, WATCH_SSH, 1795650000 + i);
    }
    CHECK_INT(r.bans, 200);
    CHECK_INT(watch_bans_count(b), 50);
    CHECK_INT(watch_bans_evicted(b), 150);
    watch_det_free(d);
    watch_bans_free(b);
    watch_conf_free(&c);
}

TEST(watch_atab_delete_and_reuse)
{
    struct watch_atab tb;
    CHECK_INT(watch_atab_init(&tb, sizeof(struct watch_atab_hdr) + 8, 4), 0);
    struct watch_addr a[6];
    bool created;
    for (int i = 0; i < 6; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        watch_addr_parse(ip, strlen(ip), &a[i]);
    }
    for (int i = 0; i < 4; i++)
        CHECK(watch_atab_put(&tb, &a[i], &created, NULL, NULL) && created);
    CHECK(watch_atab_del(&tb, &a[1]));
    CHECK(!watch_atab_get(&tb, &a[1], false));
    CHECK(watch_atab_put(&tb, &a[4], &created, NULL, NULL) && created);
    CHECK_INT(tb.n, 4);
    CHECK_INT(tb.evicted, 0);
    watch_atab_get(&tb, &a[0], true); /* a[0] is now the most recent */
    CHECK(watch_atab_put(&tb, &a[5], &created, NULL, NULL));
    CHECK_INT(tb.evicted, 1);
    CHECK(!watch_atab_get(&tb, &a[2], false)); /* the least recent went */
    CHECK(watch_atab_get(&tb, &a[0], false));
    watch_atab_fini(&tb);
}

TEST(watch_nft_argv)
{
    char buf[1024];
    char *argv[WATCH_NFT_MAXARGS];
    struct watch_addr a;
    watch_addr_parse("203.0.113.9", 11, &a);
    int n = watch_nft_argv_add("nft", &a, 600, buf, sizeof buf, argv);
    CHECK_INT(n, 7);
    CHECK_STR(argv[1], "add");
    CHECK_STR(argv[2], "element");
    CHECK_STR(argv[3], "inet");
    CHECK_STR(argv[4], "mamori");
    CHECK_STR(argv[5], "ban4");
    CHECK_STR(argv[6], "{ 203.0.113.9 timeout 600s }");
    CHECK(argv[7] == NULL);
    watch_addr_parse("2001:db8:1:2::/64", 17, &a);
    n = watch_nft_argv_del("/usr/sbin/nft", &a, buf, sizeof buf, argv);
    CHECK_INT(n, 7);
    CHECK_STR(argv[0], "/usr/sbin/nft");
    CHECK_STR(argv[5], "ban6");
    CHECK_STR(argv[6], "{ 2001:db8:1:2::/64 }");
    /* every setup step stays inside table inet mamori */
    for (int i = 0;; i++) {
        n = watch_nft_argv_setup("nft", i, buf, sizeof buf, argv);
        if (n == 0)
            break;
        CHECK(n >= 5);
        CHECK_STR(argv[3], "inet");
        CHECK_STR(argv[4], "mamori");
    }
    /* a buffer too small fails cleanly */
    CHECK_INT(watch_nft_argv_add("nft", &a, 600, buf, 20, argv), -1);
}

TEST(watch_conf_file_errors)
{
    struct watch_conf c;
    char err[256];
    watch_conf_defaults(&c);
    CHECK_INT(watch_conf_set(&c, "threshold", "ssh 3", err, sizeof err), 0);
    CHECK(c.threshold[WATCH_SSH] == 3);
    CHECK_INT(watch_conf_set(&c, "window", "http 2m", err, sizeof err), 0);
    CHECK_INT(c.window_s[WATCH_HTTP], 120);
    CHECK_INT(watch_conf_set(&c, "threshold", "smtp 3", err, sizeof err), -1);
    CHECK_INT(watch_conf_set(&c, "allow", "not-an-ip", err, sizeof err), -1);
    CHECK_INT(watch_conf_set(&c, "bogus", "1", err, sizeof err), -1);
    CHECK_INT(watch_conf_set(&c, "ban_time", "1h", err, sizeof err), 0);
    CHECK_INT(c.ban_s, 3600);
    FILE *f = fopen("/tmp/mamori-watch-conf-test.conf", "w");
    CHECK(f != NULL);
    if (f) {
        fputs("# comment\nban_time 10m\n\nstore /tmp/x.db\nmax_tracked lots\n", f);
        fclose(f);
        CHECK_INT(watch_conf_load(&c, "/tmp/mamori-watch-conf-test.conf", err, sizeof err), -1);
        CHECK(strstr(err, "mamori-watch-conf-test.conf:5:") != NULL);
        CHECK_STR(c.store_path, "/tmp/x.db");
        remove("/tmp/mamori-watch-conf-test.conf");
    }
    watch_conf_free(&c);
}
