/* mamori notify SUBJECT BODY: send one message to the configured channels
 * and wait (bounded) for delivery. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "notify/notify.h"
#include "watch/watch.h"

int cli_notify(int argc, char **argv)
{
    struct watch_conf c;
    const char *conf_path = NULL, *subject = NULL, *body = NULL, *sets[32];
    const char *severity = "medium";
    size_t nsets = 0;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc)
            conf_path = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--set")) && i + 1 < argc && nsets < 32)
            sets[nsets++] = argv[++i];
        else if (!strcmp(a, "--severity") && i + 1 < argc)
            severity = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: mamori notify [--config FILE] [-o KEY=VALUE] [--severity S] SUBJECT BODY");
            return 0;
        } else if (!subject)
            subject = a;
        else if (!body)
            body = a;
        else {
            fprintf(stderr, "mamori notify: too many arguments\n");
            return 2;
        }
    }
    if (!subject) {
        fprintf(stderr, "usage: mamori notify [--config FILE] [-o KEY=VALUE] SUBJECT BODY\n");
        return 2;
    }
    if (cli_watch_load_conf(&c, conf_path) < 0)
        return 2;
    for (size_t i = 0; i < nsets; i++)
        if (cli_watch_set_opt(&c, sets[i]) < 0)
            goto out;
    struct notify_conf nc;
    char err[256];
    cli_watch_notify_conf(&c, &nc);
    nc.dedup_s = 0;
    struct notify *n = notify_new(&nc, err, sizeof err);
    if (!n) {
        fprintf(stderr, "mamori notify: %s\n", err);
        goto out;
    }
    if (!notify_nchannels(n)) {
        fprintf(stderr, "mamori notify: no channel configured (slack_url, webhook_url, smtp_url+smtp_to)\n");
        notify_free(n, 0);
        goto out;
    }
    struct notify_msg m = {.kind = "manual", .severity = severity, .subject = subject,
                           .body = body ? body : "", .t = (int64_t)time(NULL)};
    enum notify_result r = notify_send(n, &m);
    notify_drain(n, 60000);
    struct notify_stats st;
    notify_get_stats(n, &st);
    notify_free(n, 1000);
    if (r == NOTIFY_MUTED) {
        printf("muted by a mute rule\n");
        rc = 0;
    } else {
        printf("sent %llu, failed %llu (channels: %d)\n", (unsigned long long)st.sent,
               (unsigned long long)st.failed, (int)((c.slack_url != NULL) + (c.webhook_url != NULL) + (c.smtp_url && c.smtp_to)));
        rc = st.failed || !st.sent ? 1 : 0;
    }
out:
    watch_conf_free(&c);
    return rc;
}
