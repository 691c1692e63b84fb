/* Notifications: formats, signature, and that floods stay bounded and the
 * caller never blocks. (Delivery to real sinks: tests/watch/run.) */
#include <time.h>

#include "notify/notify.h"
#include "../t.h"

TEST(notify_formats_and_signature)
{
    char out[1024];
    struct notify_msg m = {.kind = "ban", .severity = "high", .subject = "a \"b\"",
                           .body = "line1\nline2 \xff", .t = 5};
    CHECK(notify_slack_json(&m, 1, out, sizeof out) > 0);
    CHECK_STR(out, "{\"text\":\"*a \\\"b\\\"*\\nline1\\nline2 \\u00ff\"}");
    CHECK(notify_webhook_json(&m, 3, out, sizeof out) > 0);
    CHECK_STR(out, "{\"source\":\"mamori\",\"kind\":\"ban\",\"severity\":\"high\",\"subject\":"
                   "\"a \\\"b\\\"\",\"body\":\"line1\\nline2 \\u00ff\",\"time\":5,\"count\":3}");
    CHECK_INT(notify_webhook_json(&m, 3, out, 20), -1);
    char sig[80];
    /* RFC 4231 test case 2 */
    CHECK_INT(notify_sign("Jefe", "what do ya want for nothing?", 28, sig, sizeof sig), 0);
    CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(notify_flood_is_bounded_and_never_blocks)
{
    struct notify_conf c = {0};
    c.webhook_url = "http://127.0.0.1:9/"; /* discard port: nothing listens */
    c.per_min = 5;
    c.dedup_s = 600;
    c.queue_max = 16;
    c.max_tries = 2;
    c.backoff_ms = 10;
    c.timeout_ms = 500;
    c.mutes[c.nmutes++] = "kind:noise";
    char err[128];
    struct notify *n = notify_new(&c, err, sizeof err);
    CHECK(n != NULL);
    if (!n)
        return;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct notify_msg m = {.kind = "alert", .severity = "high", .subject = "same", .body = "x"};
    for (int i = 0; i < 1000000; i++)
        notify_send(n, &m);
    struct notify_msg mu = {.kind = "noise", .subject = "muted"};
    CHECK_INT(notify_send(n, &mu), NOTIFY_MUTED);
    /* distinct subjects: the queue bounds them, the rest are counted drops */
    char subj[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(subj, sizeof subj, "distinct %d", i);
        struct notify_msg d = {.kind = "alert", .subject = subj, .body = "y"};
        notify_send(n, &d);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    CHECK(secs < 5.0); /* 1,001,000 sends without waiting on the network */
    CHECK(notify_drain(n, 10000));
    struct notify_stats st;
    notify_get_stats(n, &st);
    CHECK_INT(st.merged, 999999);
    CHECK_INT(st.muted, 1);
    CHECK_INT(st.queued + st.dropped, 1001);
    /* deliveries tried: at most the channel's per-minute budget; the rest
     * wait in one digest */
    CHECK(st.sent + st.failed <= 5);
    CHECK_INT(st.digested, st.queued - (st.sent + st.failed));
    notify_free(n, 100);
}
