/* Privilege separation: refusals that must never silently go on as root.
 * (Dropping for real and banning through the helper: tests/watch/run.) */
#include "../t.h"
#include "watch/privsep.h"

TEST(watch_drop_privileges_refuses_bad_users)
{
    char err[128];
    CHECK_INT(watch_drop_privileges("no-such-user-mamori", err, sizeof err), -1);
    CHECK(strstr(err, "no such user") != NULL);
    CHECK_INT(watch_drop_privileges("root", err, sizeof err), -1);
    CHECK(strstr(err, "is root") != NULL);
}

TEST(watch_nft_helper_rejects_bad_requests_locally)
{
    /* a request that fails validation never reaches the helper; a valid
     * one comes back with the outcome of the "nft" the helper runs */
    struct watch_nft_helper *h = watch_nft_helper_start("/bin/false");
    CHECK(h != NULL);
    if (!h)
        return;
    struct watch_addr bad = {.fam = 9, .plen = 32};
    CHECK_INT(watch_nft_helper_ban(h, &bad, 60), -1);
    struct watch_addr a;
    watch_addr_parse("192.0.2.1", 9, &a);
    CHECK(watch_nft_helper_ban(h, &a, 60) != 0);
    CHECK_INT(watch_nft_helper_ban(h, &a, -5), -1);
    watch_nft_helper_stop(h);
    h = watch_nft_helper_start("/bin/true");
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_INT(watch_nft_helper_ban(h, &a, 60), 0);
    CHECK_INT(watch_nft_helper_unban(h, &a), 0);
    watch_nft_helper_stop(h);
}
