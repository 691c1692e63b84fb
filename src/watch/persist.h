/* Bans <-> event store. For the proxy: keep a struct watch_bans, call
 * watch_bans_restore(bans, store, now, true) every few seconds (a read of
 * the bans table, WAL lets it run beside the watcher), and ask
 * watch_bans_check() per connection. Unbans by `mamori bans del` end the row
 * (until = now), so the next restore sees them as expired. */
#ifndef MAMORI_WATCH_PERSIST_H
#define MAMORI_WATCH_PERSIST_H
#include <stdbool.h>
#include <stdint.h>

struct store;
struct watch_bans;
struct watch_ban;

int watch_bans_persist(struct store *s, const struct watch_ban *b);
/* Loads bans (active ones, or all for their offence counts) into b;
 * returns how many, or -1 if the store cannot be read. */
long watch_bans_restore(struct watch_bans *b, struct store *s, int64_t now, bool active_only);

#endif
