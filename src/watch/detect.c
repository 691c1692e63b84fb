/* Attack scores per source address.
 *
 * Each tracked address has a sliding-window counter per service: the points
 * of the current fixed window plus the previous window's points weighted by
 * how much of it still overlaps the last window_s seconds. That is within
 * one window's fraction of the exact "points in the last window_s seconds"
 * and needs 12 bytes per service instead of a list of events; a burst is
 * counted in full. Invariant: tracked <= max_tracked; the least recently
 * seen address is forgotten first (its bans live on in the ban table).
 *
 * Points (why): a failed password or an unknown user is one guess (1); a
 * pre-auth disconnect or a probe without a login attempt is noise that
 * scanners make in bulk (0.5); "too many authentication failures" means
 * several guesses on one connection (2); a proxy block is one attack (1), a
 * malformed request half that; a 401/403 counts 1 and other 4xx 0.5, so a
 * 4xx flood crosses the higher HTTP threshold while a page with a missing
 * image never does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/atab.h"

struct trk {
    struct watch_atab_hdr h;
    float cur[WATCH_NSVC], prev[WATCH_NSVC];
    uint32_t widx[WATCH_NSVC]; /* t / window of cur */
    int64_t first_seen;
};

struct known {
    struct watch_atab_hdr h;
};

struct watch_det {
    const struct watch_conf *c;
    struct watch_bans *bans;
    struct watch_atab trk, known;
    struct watch_det_stats st;
};

const char *watch_sev_name(enum watch_sev s)
{
    return s == WATCH_SEV_HIGH ? "high" : s == WATCH_SEV_MEDIUM ? "medium" : "low";
}

struct watch_det *watch_det_new(const struct watch_conf *c, struct watch_bans *bans)
{
    struct watch_det *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->c = c;
    d->bans = bans;
    if (watch_atab_init(&d->trk, sizeof(struct trk), c->max_tracked) < 0 ||
        watch_atab_init(&d->known, sizeof(struct known), c->max_known) < 0) {
        watch_det_free(d);
        return NULL;
    }
    return d;
}

void watch_det_free(struct watch_det *d)
{
    if (!d)
        return;
    watch_atab_fini(&d->trk);
    watch_atab_fini(&d->known);
    free(d);
}

void watch_det_known(struct watch_det *d, const struct watch_addr *a)
{
    bool created;
    struct watch_addr k = *a;
    watch_addr_group(&k, d->c->v6_prefix);
    watch_atab_put(&d->known, &k, &created, NULL, NULL);
}

static double points(const struct watch_event *ev)
{
    switch (ev->kind) {
    case WATCH_EV_AUTH_FAIL:
    case WATCH_EV_INVALID_USER:
    case WATCH_EV_PROXY_BLOCK:
        return 1.0;
    case WATCH_EV_PREAUTH:
    case WATCH_EV_PROBE:
    case WATCH_EV_PROXY_REJECT:
        return 0.5;
    case WATCH_EV_TOO_MANY:
        return 2.0;
    case WATCH_EV_HTTP_4XX:
        return ev->status == 401 || ev->status == 403 || ev->status == 444 ? 1.0 : 0.5;
    default:
        return 0;
    }
}

/* Moves service s's windows to time t and returns the estimate. */
static double window_score(const struct watch_conf *c, struct trk *r, int s, int64_t t)
{
    int64_t w = c->window_s[s] > 0 ? c->window_s[s] : 1;
    uint32_t idx = (uint32_t)(t / w);
    if (idx == r->widx[s] + 1) {
        r->prev[s] = r->cur[s];
        r->cur[s] = 0;
        r->widx[s] = idx;
    } else if (idx > r->widx[s] + 1) {
        r->prev[s] = r->cur[s] = 0;
        r->widx[s] = idx;
    } /* idx <= widx: same window, or a clock step back: count it now */
    double frac = idx == r->widx[s] ? (double)(t % w) / (double)w : 0;
    return r->prev[s] * (1.0 - frac) + r->cur[s];
}

static int64_t ban_duration(const struct watch_conf *c, uint32_t count)
{
    int64_t d = c->ban_s > 0 ? c->ban_s : 600;
    for (uint32_t i = 1; i < count && d < c->ban_max_s; i++)
        d *= 2;
    return d > c->ban_max_s ? c->ban_max_s : d;
}

static void login_alert(struct watch_det *d, const struct watch_event *ev, const struct watch_addr *k,
                        double s, const struct watch_sink *sink, int64_t t)
{
    bool created;
    struct watch_alert al = {.addr = *k, .t = t, .user = ev->user, .score = s};
    if (s >= d->c->threshold[WATCH_SSH] * 0.4) {
        al.kind = "ssh_login_after_failures";
        al.sev = WATCH_SEV_HIGH;
    } else {
        al.kind = "ssh_login_new_address";
        al.sev = WATCH_SEV_MEDIUM;
    }
    bool known = watch_atab_get(&d->known, k, true) != NULL;
    if (!known)
        watch_atab_put(&d->known, k, &created, NULL, NULL);
    if (known && al.sev != WATCH_SEV_HIGH)
        return;
    d->st.alerts++;
    if (sink && sink->alert)
        sink->alert(sink->ud, &al);
}

void watch_det_feed(struct watch_det *d, const struct watch_event *ev, int64_t now,
                    const struct watch_sink *sink)
{
    const struct watch_conf *c = d->c;
    if (ev->kind == WATCH_EV_NONE || !ev->addr.fam)
        return;
    int64_t t = ev->t ? ev->t : now;
    struct watch_addr k = ev->addr;
    watch_addr_group(&k, c->v6_prefix);
    d->st.events++;
    if (ev->kind == WATCH_EV_AUTH_OK) {
        if (ev->svc == WATCH_SSH) {
            struct trk *r = watch_atab_get(&d->trk, &k, false);
            double sc = r ? window_score(c, r, WATCH_SSH, t) : 0;
            login_alert(d, ev, &k, sc, sink, t);
            if (r)
                r->cur[WATCH_SSH] = r->prev[WATCH_SSH] = 0;
        }
        return;
    }
    if (watch_conf_allowed(c, &ev->addr)) {
        d->st.allowed_skips++;
        return;
    }
    if (watch_bans_check(d->bans, &k, t, NULL)) {
        d->st.banned_events++;
        return;
    }
    bool created;
    uint64_t ev0 = d->trk.evicted;
    struct trk *r = watch_atab_put(&d->trk, &k, &created, NULL, NULL);
    if (!r)
        return;
    d->st.evicted += d->trk.evicted - ev0;
    if (created) {
        r->first_seen = t;
        d->st.tracked = d->trk.n;
        if (d->st.tracked > d->st.tracked_peak)
            d->st.tracked_peak = d->st.tracked;
    }
    if (!r->first_seen)
        r->first_seen = t;
    int s = ev->svc;
    window_score(c, r, s, t);
    r->cur[s] += (float)points(ev);
    double score = window_score(c, r, s, t);
    if (score + 1e-4 < c->threshold[s])
        return;
    struct watch_ban prev, b;
    memset(&b, 0, sizeof b);
    uint32_t count = watch_bans_get(d->bans, &k, &prev) ? prev.count + 1 : 1;
    b.addr = k;
    snprintf(b.reason, sizeof b.reason, "%s:%s", watch_svc_name(ev->svc), watch_kind_name(ev->kind));
    b.score = score;
    b.first_seen = r->first_seen;
    b.last_seen = t;
    b.banned_at = t;
    b.count = count;
    b.until = t + ban_duration(c, count);
    r->cur[s] = r->prev[s] = 0;
    r->first_seen = 0; /* the next offence starts afresh */
    if (watch_bans_put(d->bans, &b) < 0)
        return;
    d->st.bans++;
    if (sink && sink->ban)
        sink->ban(sink->ud, &b);
}

void watch_det_stats(const struct watch_det *d, struct watch_det_stats *st)
{
    *st = d->st;
    st->tracked = d->trk.n;
}
