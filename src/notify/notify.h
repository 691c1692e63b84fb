/* notify: tell the admin, without ever blocking the caller.
 *
 * Contract. notify_send() copies the message into a bounded queue and
 * returns at once; a worker thread delivers to every configured channel
 * (Slack incoming webhook, a generic JSON webhook signed with HMAC-SHA256 in
 * "X-Mamori-Signature: sha256=HEX", e-mail over SMTP with STARTTLS).
 * Before queueing: messages matching a mute rule are dropped (counted);
 * a message whose key was seen within dedup_s is merged into the first
 * (counted, and the count is reported with the next digest). Each channel
 * sends at most per_min messages per minute; what does not fit becomes one
 * digest sent when the minute turns. Failed deliveries are retried with
 * exponential backoff (1 s, 2 s, 4 s... at most max_tries). When the queue
 * is full the message is dropped and counted. */
#ifndef MAMORI_NOTIFY_NOTIFY_H
#define MAMORI_NOTIFY_NOTIFY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_MAX_MUTES 64

struct notify_conf {
    const char *slack_url;
    const char *webhook_url, *webhook_secret;
    const char *smtp_url, *smtp_from, *smtp_to, *smtp_user, *smtp_pass;
    bool smtp_insecure;
    const char *mutes[NOTIFY_MAX_MUTES]; /* "kind:NAME", "ip:ADDR" or a substring */
    size_t nmutes;
    int per_min;      /* per channel */
    int dedup_s;
    size_t queue_max; /* 0 = 1024 */
    int max_tries;    /* 0 = 5 */
    int backoff_ms;   /* first retry delay; 0 = 1000 */
    int timeout_ms;   /* per delivery; 0 = 10000 */
};

struct notify_msg {
    const char *kind;     /* "ban", "alert", "disk", "manual" */
    const char *severity; /* low, medium, high */
    const char *subject;
    const char *body;
    const char *key; /* identity for merging; NULL = kind+subject */
    int64_t t;
};

enum notify_result { NOTIFY_QUEUED, NOTIFY_MERGED, NOTIFY_MUTED, NOTIFY_DROPPED };

struct notify_stats {
    uint64_t queued, merged, muted, dropped;
    uint64_t sent, failed, retries, digests, digested;
};

struct notify;
struct notify *notify_new(const struct notify_conf *c, char *err, size_t errlen);
/* Waits up to timeout_ms for the queue to drain (and pending digests to be
 * sent when final), then stops the worker. */
void notify_free(struct notify *n, int timeout_ms);
enum notify_result notify_send(struct notify *n, const struct notify_msg *m);
/* Waits until the queue is empty and nothing is in flight, or timeout. */
bool notify_drain(struct notify *n, int timeout_ms);
void notify_get_stats(struct notify *n, struct notify_stats *st);
int notify_nchannels(const struct notify *n);

/* Exported for tests: the JSON bodies and the signature. */
int notify_slack_json(const struct notify_msg *m, long count, char *out, size_t cap);
int notify_webhook_json(const struct notify_msg *m, long count, char *out, size_t cap);
/* "sha256=" + 64 hex digits into out (cap >= 72). */
int notify_sign(const char *secret, const char *body, size_t n, char *out, size_t cap);

#endif
