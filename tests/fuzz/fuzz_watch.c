/* libFuzzer target for the watch parsers and detector: the input is split
 * into lines, each parsed (with a parser whose year inference carries over
 * lines) and fed to a detector with small bounded tables. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_ban(void *ud, const struct watch_ban *b)
{
    char ip[64];
    watch_addr_fmt(&b->addr, ip, sizeof ip);
    (void)ud;
}

static void on_alert(void *ud, const struct watch_alert *a)
{
    (void)ud;
    (void)a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct watch_conf c;
    watch_conf_defaults(&c);
    c.max_tracked = 16;
    c.max_known = 16;
    struct watch_bans *b = watch_bans_new(8);
    struct watch_det *d = b ? watch_det_new(&c, b) : NULL;
    struct watch_parser p;
    struct watch_sink s = {on_ban, on_alert, NULL};
    watch_parser_init(&p, 1795640400);
    const char *q = (const char *)data, *end = q + size;
    while (d && q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
        struct watch_event ev;
        if (watch_parse_line(&p, q, n, &ev) == 1)
            watch_det_feed(d, &ev, 1795640400, &s);
        struct watch_addr a;
        watch_addr_parse(q, n < 64 ? n : 64, &a);
        q += n + 1;
    }
    watch_det_free(d);
    watch_bans_free(b);
    watch_conf_free(&c);
    return 0;
}
