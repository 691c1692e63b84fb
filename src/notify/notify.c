/* Notifications: bounded queue, one worker thread, three channel kinds.
 * See notify.h for the contract. Invariants: the queue holds at most
 * queue_max messages (fixed-size copies); the dedup table is a fixed array
 * (direct-mapped on the key's hash: a collision only forgets an old key);
 * a channel's digest holds at most DIGEST_LINES subjects and counts the
 * rest. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "notify/notify.h"

#define SUBJ_MAX 256
#define BODY_MAX 2048
#define DEDUP_SLOTS 4096
#define DIGEST_LINES 20
#define NCHAN 3

struct qmsg {
    char kind[16], sev[8];
    char subject[SUBJ_MAX];
    char body[BODY_MAX];
    int64_t t;
    long count; /* 1 + merged copies */
};

struct dedup_slot {
    uint64_t h;
    int64_t t;
    long merged;
};

enum chan_kind { CH_SLACK, CH_WEBHOOK, CH_SMTP };

struct chan {
    bool on;
    enum chan_kind kind;
    double tokens;
    int64_t refill_t;
    /* digest */
    long dig_n;
    int64_t dig_since;
    char dig[DIGEST_LINES][SUBJ_MAX];
};

struct notify {
    struct notify_conf c;
    pthread_mutex_t mu;
    pthread_cond_t cv, idle_cv;
    pthread_t th;
    bool started, stop;
    struct qmsg *q;
    size_t qcap, qhead, qlen;
    bool busy;
    struct dedup_slot dd[DEDUP_SLOTS];
    struct chan ch[NCHAN];
    struct notify_stats st;
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = a; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = b; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

static void copy(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* ---- formats ------------------------------------------------------------ */

static int put_json(char *out, size_t cap, struct buf *b)
{
    if (!b->p || b->len >= cap) {
        buf_free(b);
        return -1;
    }
    memcpy(out, b->p, b->len + 1);
    int n = (int)b->len;
    buf_free(b);
    return n;
}

int notify_slack_json(const struct notify_msg *m, long count, char *out, size_t cap)
{
    struct buf b;
    buf_init(&b, cap);
    buf_puts(&b, "{\"text\":\"*");
    buf_json_str(&b, m->subject ? m->subject : "", m->subject ? strlen(m->subject) : 0);
    buf_puts(&b, "*\\n");
    buf_json_str(&b, m->body ? m->body : "", m->body ? strlen(m->body) : 0);
    if (count > 1)
        buf_printf(&b, "\\n(%ld similar)", count);
    buf_puts(&b, "\"}");
    return put_json(out, cap, &b);
}

int notify_webhook_json(const struct notify_msg *m, long count, char *out, size_t cap)
{
    struct buf b;
    buf_init(&b, cap);
    buf_puts(&b, "{\"source\":\"mamori\",\"kind\":\"");
    buf_json_str(&b, m->kind ? m->kind : "", m->kind ? strlen(m->kind) : 0);
    buf_puts(&b, "\",\"severity\":\"");
    buf_json_str(&b, m->severity ? m->severity : "", m->severity ? strlen(m->severity) : 0);
    buf_puts(&b, "\",\"subject\":\"");
    buf_json_str(&b, m->subject ? m->subject : "", m->subject ? strlen(m->subject) : 0);
    buf_puts(&b, "\",\"body\":\"");
    buf_json_str(&b, m->body ? m->body : "", m->body ? strlen(m->body) : 0);
    buf_printf(&b, "\",\"time\":%lld,\"count\":%ld}", (long long)m->t, count);
    return put_json(out, cap, &b);
}

int notify_sign(const char *secret, const char *body, size_t n, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (cap < 72 || !secret)
        return -1;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, n, mac, &ml))
        return -1;
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < ml; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
    out[7 + 2 * ml] = '\0';
    return 0;
}

/* ---- delivery ----------------------------------------------------------- */

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int http_post(const struct notify *nt, const char *url, const char *body,
                     const char *sig)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    int rc = -1;
    if (!h)
        return -1;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "User-Agent: mamori");
    if (sig) {
        char line[128];
        snprintf(line, sizeof line, "X-Mamori-Signature: %s", sig);
        hd = curl_slist_append(hd, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(nt->c.timeout_ms ? nt->c.timeout_ms : 10000));
    if (curl_easy_perform(h) == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        rc = code >= 200 && code < 300 ? 0 : -1;
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return rc;
}

struct mail_src {
    const char *p;
    size_t left;
};

static size_t mail_read(char *dst, size_t sz, size_t n, void *ud)
{
    struct mail_src *m = ud;
    size_t want = sz * n;
    if (want > m->left)
        want = m->left;
    memcpy(dst, m->p, want);
    m->p += want;
    m->left -= want;
    return want;
}

/* Header text: no CR/LF/control bytes (no header injection). */
static void hdr_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static int smtp_send(const struct notify *nt, const struct qmsg *m)
{
    const struct notify_conf *c = &nt->c;
    CURL *h = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    struct buf b;
    int rc = -1;
    if (!h)
        return -1;
    buf_init(&b, BODY_MAX * 3);
    char subj[SUBJ_MAX], from[256], to[256], date[64];
    copy(subj, sizeof subj, m->subject);
    copy(from, sizeof from, c->smtp_from ? c->smtp_from : "mamori@localhost");
    copy(to, sizeof to, c->smtp_to);
    hdr_clean(subj);
    hdr_clean(from);
    hdr_clean(to);
    time_t t = (time_t)(m->t ? m->t : now_s());
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    buf_printf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "X-Mailer: mamori\r\n\r\n",
               date, from, to, subj);
    for (const char *p = m->body; *p; p++) {
        if (*p == '\n')
            buf_puts(&b, "\r\n");
        else if (*p != '\r')
            buf_putc(&b, *p);
    }
    if (m->count > 1)
        buf_printf(&b, "\r\n(%ld similar)", m->count);
    buf_puts(&b, "\r\n");
    if (!b.p)
        goto out;
    char addr[300];
    snprintf(addr, sizeof addr, "<%s>", to);
    rcpt = curl_slist_append(rcpt, addr);
    snprintf(addr, sizeof addr, "<%s>", from);
    struct mail_src src = {b.p, b.len};
    curl_easy_setopt(h, CURLOPT_URL, c->smtp_url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &src);
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL); /* STARTTLS or fail */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->timeout_ms ? c->timeout_ms : 10000));
    if (c->smtp_insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->smtp_user)
        curl_easy_setopt(h, CURLOPT_USERNAME, c->smtp_user);
    if (c->smtp_pass)
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->smtp_pass);
    rc = curl_easy_perform(h) == CURLE_OK ? 0 : -1;
out:
    buf_free(&b);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    return rc;
}

static int deliver_once(const struct notify *nt, enum chan_kind k, const struct qmsg *m)
{
    struct notify_msg nm = {.kind = m->kind, .severity = m->sev, .subject = m->subject,
                            .body = m->body, .t = m->t};
    char *json = malloc(BODY_MAX * 8);
    int rc = -1;
    if (!json)
        return -1;
    if (k == CH_SLACK) {
        if (notify_slack_json(&nm, m->count, json, BODY_MAX * 8) >= 0)
            rc = http_post(nt, nt->c.slack_url, json, NULL);
    } else if (k == CH_WEBHOOK) {
        int n = notify_webhook_json(&nm, m->count, json, BODY_MAX * 8);
        char sig[80];
        if (n >= 0) {
            const char *s = NULL;
            if (nt->c.webhook_secret && notify_sign(nt->c.webhook_secret, json, (size_t)n, sig,
                                                    sizeof sig) == 0)
                s = sig;
            rc = http_post(nt, nt->c.webhook_url, json, s);
        }
    } else {
        rc = smtp_send(nt, m);
    }
    free(json);
    return rc;
}

/* Called without the lock held. Sleeps between tries but wakes on stop. */
static void deliver(struct notify *nt, enum chan_kind k, const struct qmsg *m)
{
    int tries = nt->c.max_tries > 0 ? nt->c.max_tries : 5;
    long delay = nt->c.backoff_ms > 0 ? nt->c.backoff_ms : 1000;
    for (int i = 0; i < tries; i++) {
        if (deliver_once(nt, k, m) == 0) {
            pthread_mutex_lock(&nt->mu);
            nt->st.sent++;
            pthread_mutex_unlock(&nt->mu);
            return;
        }
        if (i + 1 == tries)
            break;
        pthread_mutex_lock(&nt->mu);
        nt->st.retries++;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += delay / 1000;
        ts.tv_nsec += (delay % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        bool stopping = nt->stop;
        if (!stopping)
            pthread_cond_timedwait(&nt->cv, &nt->mu, &ts);
        pthread_mutex_unlock(&nt->mu);
        if (stopping)
            break; /* shutting down: one more try was made, do not linger */
        delay *= 2;
    }
    pthread_mutex_lock(&nt->mu);
    nt->st.failed++;
    pthread_mutex_unlock(&nt->mu);
}

static bool take_token(struct notify *nt, struct chan *ch, int64_t t)
{
    double per_min = nt->c.per_min > 0 ? nt->c.per_min : 6;
    if (t > ch->refill_t) {
        ch->tokens += (double)(t - ch->refill_t) * per_min / 60.0;
        if (ch->tokens > per_min)
            ch->tokens = per_min;
        ch->refill_t = t;
    }
    if (ch->tokens >= 1) {
        ch->tokens -= 1;
        return true;
    }
    return false;
}

static void digest_add(struct chan *ch, const struct qmsg *m, int64_t t)
{
    if (!ch->dig_n)
        ch->dig_since = t;
    if (ch->dig_n < DIGEST_LINES)
        copy(ch->dig[ch->dig_n], SUBJ_MAX, m->subject);
    ch->dig_n += m->count;
}

/* Builds the digest message for ch (lock held) and clears it. */
static void digest_take(struct chan *ch, struct qmsg *out)
{
    memset(out, 0, sizeof *out);
    copy(out->kind, sizeof out->kind, "digest");
    copy(out->sev, sizeof out->sev, "medium");
    snprintf(out->subject, sizeof out->subject, "mamori: %ld notifications (digest)", ch->dig_n);
    size_t off = 0;
    long shown = ch->dig_n < DIGEST_LINES ? ch->dig_n : DIGEST_LINES;
    for (long i = 0; i < shown && off < sizeof out->body; i++) {
        int w = snprintf(out->body + off, sizeof out->body - off, "- %s\n", ch->dig[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (ch->dig_n > shown && off < sizeof out->body)
        snprintf(out->body + off, sizeof out->body - off, "... and %ld more\n", ch->dig_n - shown);
    out->t = now_s();
    out->count = 1;
    ch->dig_n = 0;
}

static void *worker(void *arg)
{
    struct notify *nt = arg;
    struct qmsg *m = malloc(sizeof *m), *dg = malloc(sizeof *dg);
    if (!m || !dg) {
        free(m);
        free(dg);
        return NULL;
    }
    pthread_mutex_lock(&nt->mu);
    for (;;) {
        int64_t t = now_s();
        /* digests whose minute is over and that have a token again */
        for (int k = 0; k < NCHAN; k++) {
            struct chan *ch = &nt->ch[k];
            if (!ch->on || !ch->dig_n)
                continue;
            if ((t - ch->dig_since >= 60 || nt->stop) && (take_token(nt, ch, t) || nt->stop)) {
                digest_take(ch, dg);
                nt->st.digests++;
                nt->busy = true;
                pthread_mutex_unlock(&nt->mu);
                deliver(nt, (enum chan_kind)k, dg);
                pthread_mutex_lock(&nt->mu);
                nt->busy = false;
            }
        }
        if (nt->qlen == 0) {
            bool pending = false;
            for (int k = 0; k < NCHAN; k++)
                pending |= nt->ch[k].on && nt->ch[k].dig_n > 0;
            if (nt->stop && !pending)
                break;
            pthread_cond_broadcast(&nt->idle_cv);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&nt->cv, &nt->mu, &ts);
            continue;
        }
        *m = nt->q[nt->qhead];
        nt->qhead = (nt->qhead + 1) % nt->qcap;
        nt->qlen--;
        nt->busy = true;
        bool send[NCHAN] = {false};
        for (int k = 0; k < NCHAN; k++) {
            struct chan *ch = &nt->ch[k];
            if (!ch->on)
                continue;
            if (take_token(nt, ch, t)) {
                send[k] = true;
            } else {
                digest_add(ch, m, t);
                nt->st.digested++;
            }
        }
        pthread_mutex_unlock(&nt->mu);
        for (int k = 0; k < NCHAN; k++)
            if (send[k])
                deliver(nt, (enum chan_kind)k, m);
        pthread_mutex_lock(&nt->mu);
        nt->busy = false;
    }
    pthread_cond_broadcast(&nt->idle_cv);
    pthread_mutex_unlock(&nt->mu);
    free(m);
    free(dg);
    return NULL;
}

/* ---- API ---------------------------------------------------------------- */

struct notify *notify_new(const struct notify_conf *c, char *err, size_t errlen)
{
    struct notify *nt = calloc(1, sizeof *nt);
    if (!nt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    nt->c = *c;
    nt->qcap = c->queue_max ? c->queue_max : 1024;
    nt->q = calloc(nt->qcap, sizeof *nt->q);
    if (!nt->q) {
        free(nt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    nt->ch[CH_SLACK].on = c->slack_url != NULL;
    nt->ch[CH_WEBHOOK].on = c->webhook_url != NULL;
    nt->ch[CH_SMTP].on = c->smtp_url != NULL && c->smtp_to != NULL;
    int64_t t = now_s();
    for (int k = 0; k < NCHAN; k++) {
        nt->ch[k].kind = (enum chan_kind)k;
        nt->ch[k].tokens = c->per_min > 0 ? c->per_min : 6;
        nt->ch[k].refill_t = t;
    }
    pthread_mutex_init(&nt->mu, NULL);
    pthread_cond_init(&nt->cv, NULL);
    pthread_cond_init(&nt->idle_cv, NULL);
    static atomic_int curl_once;
    if (atomic_exchange(&curl_once, 1) == 0)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&nt->th, NULL, worker, nt) != 0) {
        snprintf(err, errlen, "cannot start the notification thread");
        notify_free(nt, 0);
        return NULL;
    }
    nt->started = true;
    return nt;
}

bool notify_drain(struct notify *nt, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&nt->mu);
    pthread_cond_broadcast(&nt->cv);
    int r = 0;
    while ((nt->qlen || nt->busy) && r == 0)
        r = pthread_cond_timedwait(&nt->idle_cv, &nt->mu, &ts);
    bool ok = !nt->qlen && !nt->busy;
    pthread_mutex_unlock(&nt->mu);
    return ok;
}

void notify_free(struct notify *nt, int timeout_ms)
{
    if (!nt)
        return;
    if (nt->started) {
        notify_drain(nt, timeout_ms);
        pthread_mutex_lock(&nt->mu);
        nt->stop = true;
        pthread_cond_broadcast(&nt->cv);
        pthread_mutex_unlock(&nt->mu);
        pthread_join(nt->th, NULL);
    }
    pthread_mutex_destroy(&nt->mu);
    pthread_cond_destroy(&nt->cv);
    pthread_cond_destroy(&nt->idle_cv);
    free(nt->q);
    free(nt);
}

static bool muted(const struct notify_conf *c, const struct notify_msg *m)
{
    for (size_t i = 0; i < c->nmutes; i++) {
        const char *r = c->mutes[i];
        if (!strncmp(r, "kind:", 5)) {
            if (m->kind && !strcmp(m->kind, r + 5))
                return true;
        } else if (!strncmp(r, "severity:", 9)) {
            if (m->severity && !strcmp(m->severity, r + 9))
                return true;
        } else if ((m->subject && strstr(m->subject, r)) || (m->body && strstr(m->body, r))) {
            return true;
        }
    }
    return false;
}

enum notify_result notify_send(struct notify *nt, const struct notify_msg *m)
{
    int64_t t = m->t ? m->t : now_s();
    enum notify_result res;
    pthread_mutex_lock(&nt->mu);
    if (muted(&nt->c, m)) {
        nt->st.muted++;
        res = NOTIFY_MUTED;
        goto out;
    }
    uint64_t h = fnv(m->kind, m->key ? m->key : m->subject);
    struct dedup_slot *d = &nt->dd[h % DEDUP_SLOTS];
    long merged = 0;
    if (d->h == h && nt->c.dedup_s > 0 && t - d->t < nt->c.dedup_s) {
        d->merged++;
        nt->st.merged++;
        res = NOTIFY_MERGED;
        goto out;
    }
    if (d->h == h)
        merged = d->merged;
    d->h = h;
    d->t = t;
    d->merged = 0;
    if (nt->qlen == nt->qcap) {
        nt->st.dropped++;
        res = NOTIFY_DROPPED;
        goto out;
    }
    struct qmsg *q = &nt->q[(nt->qhead + nt->qlen) % nt->qcap];
    copy(q->kind, sizeof q->kind, m->kind ? m->kind : "event");
    copy(q->sev, sizeof q->sev, m->severity ? m->severity : "medium");
    copy(q->subject, sizeof q->subject, m->subject ? m->subject : "");
    copy(q->body, sizeof q->body, m->body ? m->body : "");
    q->t = t;
    q->count = 1 + merged;
    nt->qlen++;
    nt->st.queued++;
    pthread_cond_signal(&nt->cv);
    res = NOTIFY_QUEUED;
out:
    pthread_mutex_unlock(&nt->mu);
    return res;
}

void notify_get_stats(struct notify *nt, struct notify_stats *st)
{
    pthread_mutex_lock(&nt->mu);
    *st = nt->st;
    pthread_mutex_unlock(&nt->mu);
}

int notify_nchannels(const struct notify *nt)
{
    int n = 0;
    for (int k = 0; k < NCHAN; k++)
        n += nt->ch[k].on;
    return n;
}
