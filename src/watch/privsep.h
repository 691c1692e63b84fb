/* Ban helper with privilege and a watcher without (see privsep.c). */
#ifndef MAMORI_WATCH_PRIVSEP_H
#define MAMORI_WATCH_PRIVSEP_H
#include <stddef.h>
#include <stdint.h>

#include "watch/watch.h"

struct watch_nft_helper;
/* Forks the helper (it keeps the caller's privileges); NULL on failure. */
struct watch_nft_helper *watch_nft_helper_start(const char *nft);
/* 0 when nft succeeded, non-zero nft status, -1 if the helper is gone. */
int watch_nft_helper_ban(struct watch_nft_helper *h, const struct watch_addr *a, int64_t timeout_s);
int watch_nft_helper_unban(struct watch_nft_helper *h, const struct watch_addr *a);
void watch_nft_helper_stop(struct watch_nft_helper *h);
/* initgroups + setgid + setuid to user, then checks root cannot be regained
 * and sets no_new_privs. Returns 0 or -1 with a message in err. */
int watch_drop_privileges(const char *user, char *err, size_t errlen);

#endif
