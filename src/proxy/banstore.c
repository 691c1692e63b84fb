/* Bans decided by the watchers (mamori watch, or run --watch), honoured by
 * the proxy itself: a thread re-reads the active bans from the watch store
 * every BANSTORE_REFRESH_S seconds (SQLite WAL lets it read beside the
 * writer) into a bounded, thread-safe table that workers ask per request.
 * This covers hosts without nftables; with nftables the kernel already
 * drops banned clients before they reach the proxy. */
#include "proxy/banstore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "watch/persist.h"
#include "watch/watch.h"

#define BANSTORE_REFRESH_S 2
#define BANSTORE_MAX 100000

static struct {
    struct watch_bans *bans;
    struct store *store;
    pthread_t thread;
    atomic_bool stop;
    bool running;
} bs;

static void *refresher(void *unused)
{
    (void)unused;
    while (!atomic_load(&bs.stop)) {
        watch_bans_restore(bs.bans, bs.store, (int64_t)time(NULL), true);
        for (int i = 0; i < BANSTORE_REFRESH_S * 10 && !atomic_load(&bs.stop); i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int proxy_banstore_start(const char *path, char *err, size_t errlen)
{
    struct store_opts o = {0};
    bs.store = store_open(path, &o, err, errlen);
    if (!bs.store)
        return -1;
    bs.bans = watch_bans_new(BANSTORE_MAX);
    if (!bs.bans) {
        snprintf(err, errlen, "out of memory");
        store_close(bs.store);
        bs.store = NULL;
        return -1;
    }
    long n = watch_bans_restore(bs.bans, bs.store, (int64_t)time(NULL), true);
    if (n < 0) {
        snprintf(err, errlen, "%s: cannot read the bans", path);
        proxy_banstore_stop();
        return -1;
    }
    atomic_store(&bs.stop, false);
    if (pthread_create(&bs.thread, NULL, refresher, NULL) != 0) {
        snprintf(err, errlen, "cannot start the ban refresher");
        proxy_banstore_stop();
        return -1;
    }
    bs.running = true;
    return 0;
}

void proxy_banstore_stop(void)
{
    if (bs.running) {
        atomic_store(&bs.stop, true);
        pthread_join(bs.thread, NULL);
        bs.running = false;
    }
    if (bs.bans)
        watch_bans_free(bs.bans);
    if (bs.store)
        store_close(bs.store);
    bs.bans = NULL;
    bs.store = NULL;
}

bool proxy_banstore_banned(const char *ip)
{
    if (!bs.bans)
        return false;
    struct watch_addr a;
    if (watch_addr_parse(ip, strlen(ip), &a) < 0)
        return false;
    return watch_bans_check(bs.bans, &a, (int64_t)time(NULL), NULL);
}
