/* The watchers' bans, honoured in the proxy (see banstore.c). One table per
 * process, started before the workers and stopped after them. */
#ifndef MAMORI_PROXY_BANSTORE_H
#define MAMORI_PROXY_BANSTORE_H
#include <stdbool.h>
#include <stddef.h>

/* Opens the watch store (SQLite) and starts the refresher; -1 with err. */
int proxy_banstore_start(const char *path, char *err, size_t errlen);
void proxy_banstore_stop(void);
/* True when ip (textual) is banned now; false when no store was started. */
bool proxy_banstore_banned(const char *ip);

#endif
