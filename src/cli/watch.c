/* mamori watch: follow logs and ban (live), or replay files (--once).
 *
 * --once reads each FILE from its start (plain, .gz, .zst), scores it with
 * the log's own timestamps and prints every ban and alert the live watcher
 * would have made; --json prints the documented object (docs/watch.md).
 * Without --dry-run, bans still running at the end of a replay are applied
 * (nft and store, when configured). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "notify/notify.h"
#include "store/store.h"
#include "watch/persist.h"
#include "watch/privsep.h"
#include "watch/watch.h"

#define DEFAULT_CONF "/etc/mamori/watch.conf"
#define MAX_ALERTS_KEPT 100000
#define PENDING_MAX 4096

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cli_watch_iso(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

int cli_watch_load_conf(struct watch_conf *c, const char *path)
{
    char err[512];
    watch_conf_defaults(c);
    if (!path) {
        if (access(DEFAULT_CONF, R_OK) != 0)
            return 0;
        path = DEFAULT_CONF;
    }
    if (watch_conf_load(c, path, err, sizeof err) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        return -1;
    }
    return 0;
}

/* "-o key=value" / "--set key=value" */
int cli_watch_set_opt(struct watch_conf *c, const char *kv)
{
    char key[64], err[256];
    const char *eq = strchr(kv, '=');
    if (!eq || (size_t)(eq - kv) >= sizeof key) {
        fprintf(stderr, "mamori: -o expects KEY=VALUE\n");
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if (watch_conf_set(c, key, eq + 1, err, sizeof err) < 0) {
        fprintf(stderr, "mamori: -o %s\n", err);
        return -1;
    }
    return 0;
}

void cli_watch_notify_conf(const struct watch_conf *c, struct notify_conf *n)
{
    memset(n, 0, sizeof *n);
    n->slack_url = c->slack_url;
    n->webhook_url = c->webhook_url;
    n->webhook_secret = c->webhook_secret;
    n->smtp_url = c->smtp_url;
    n->smtp_from = c->smtp_from;
    n->smtp_to = c->smtp_to;
    n->smtp_user = c->smtp_user;
    n->smtp_pass = c->smtp_pass;
    n->smtp_insecure = c->smtp_insecure;
    for (size_t i = 0; i < c->nmutes && i < NOTIFY_MAX_MUTES; i++)
        n->mutes[n->nmutes++] = c->mutes[i];
    n->per_min = c->notify_per_min;
    n->dedup_s = c->notify_dedup_s;
}

struct store *cli_watch_open_store(const struct watch_conf *c)
{
    if (!c->store_path)
        return NULL;
    char err[512];
    struct store_opts so = {.max_age_s = c->store_max_age_s, .max_bytes = c->store_max_bytes};
    struct store *s = store_open(c->store_path, &so, err, sizeof err);
    if (!s)
        fprintf(stderr, "mamori: %s\n", err);
    return s;
}

struct wctx {
    struct watch_conf *c;
    struct watch_parser p;
    struct watch_det *det;
    struct watch_bans *bans;
    struct store *store;
    struct notify *notify;
    struct watch_log *log;
    struct watch_nft_helper *helper; /* set when running without privilege */
    bool once, json, dry_run, live;
    int64_t now;
    uint64_t lines, parsed, unparsed, bytes;
    /* replay output */
    struct watch_ban *bv;
    size_t nb, capb;
    struct watch_alert *av;
    char (*auser)[64];
    size_t na, capa;
    uint64_t alerts_total;
    struct watch_sink sink;
    /* bans the store could not take (disk full): retried every tick */
    struct watch_ban *pend; /* PENDING_MAX, allocated on first need */
    size_t npend;
    uint64_t pend_dropped;
};

static void on_line(void *ud, const char *l, size_t n)
{
    struct wctx *w = ud;
    struct watch_event ev;
    w->lines++;
    w->bytes += n + 1;
    int r = watch_parse_line(&w->p, l, n, &ev);
    if (r < 0) {
        w->unparsed++;
        return;
    }
    if (r == 0)
        return;
    w->parsed++;
    if (w->live)
        ev.t = 0; /* live: the clock decides, not a stamp in some time zone */
    watch_det_feed(w->det, &ev, w->now ? w->now : (int64_t)time(NULL), &w->sink);
}

static void apply_ban(struct wctx *w, const struct watch_ban *b, int64_t now)
{
    char ip[64];
    watch_addr_fmt(&b->addr, ip, sizeof ip);
    if (w->c->nft && b->until > now) {
        int r = w->helper ? watch_nft_helper_ban(w->helper, &b->addr, b->until - now)
                          : watch_nft_ban(w->c->nft_bin, &b->addr, b->until - now);
        if (r != 0)
            fprintf(stderr, "mamori: nft: could not ban %s (is nft usable? run as root)\n", ip);
    }
    if (w->store) {
        if (watch_bans_persist(w->store, b) < 0) {
            if (!w->npend)
                fprintf(stderr, "mamori watch: could not store the ban of %s (disk full?); it stays "
                                "in force in memory%s and is retried\n", ip,
                        w->c->nft ? " and nftables" : "");
            if (!w->pend && !(w->pend = malloc(PENDING_MAX * sizeof *w->pend)))
                return;
            if (w->npend == PENDING_MAX) {
                memmove(w->pend, w->pend + 1, (PENDING_MAX - 1) * sizeof *w->pend);
                w->npend--;
                w->pend_dropped++;
            }
            w->pend[w->npend++] = *b;
        }
        char msg[160];
        snprintf(msg, sizeof msg, "banned %s for %llds (offence %u, score %.1f)", ip,
                 (long long)(b->until - b->banned_at), b->count, b->score);
        struct store_event e = {.t = b->banned_at, .kind = "ban", .rule = b->reason, .ip = ip,
                                .severity = "medium", .message = msg};
        store_event_add(w->store, &e);
    }
}

/* Retries bans the store refused, oldest first, until one fails again. */
static void retry_pending(struct wctx *w)
{
    size_t done = 0;
    while (done < w->npend && watch_bans_persist(w->store, &w->pend[done]) == 0)
        done++;
    if (!done)
        return;
    memmove(w->pend, w->pend + done, (w->npend - done) * sizeof *w->pend);
    w->npend -= done;
    if (!w->npend)
        fprintf(stderr, "mamori watch: the store takes bans again; all pending bans stored\n");
}

static void sink_ban(void *ud, const struct watch_ban *b)
{
    struct wctx *w = ud;
    if (w->once) {
        if (w->nb == w->capb) {
            size_t nc = w->capb ? w->capb * 2 : 1024;
            struct watch_ban *nv = realloc(w->bv, nc * sizeof *nv);
            if (!nv)
                return;
            w->bv = nv;
            w->capb = nc;
        }
        w->bv[w->nb++] = *b;
        return;
    }
    char ip[64], subj[160], body[512], f[32], l[32];
    watch_addr_fmt(&b->addr, ip, sizeof ip);
    int64_t now = time(NULL);
    if (!w->dry_run)
        apply_ban(w, b, now);
    cli_watch_iso(b->first_seen, f, sizeof f);
    cli_watch_iso(b->last_seen, l, sizeof l);
    snprintf(subj, sizeof subj, "mamori banned %s (%s)", ip, b->reason);
    snprintf(body, sizeof body,
             "%s was banned for %lld s: %s, score %.1f, offence %u, seen %s .. %s%s", ip,
             (long long)(b->until - b->banned_at), b->reason, b->score, b->count, f, l,
             w->dry_run ? " (dry run: not applied)" : "");
    if (w->log)
        watch_log_line(w->log, now, body, strlen(body));
    if (w->notify) {
        struct notify_msg m = {.kind = "ban", .severity = "medium", .subject = subj, .body = body,
                               .key = b->reason, .t = now};
        notify_send(w->notify, &m);
    }
}

static void sink_alert(void *ud, const struct watch_alert *a)
{
    struct wctx *w = ud;
    w->alerts_total++;
    if (w->once) {
        if (w->na >= MAX_ALERTS_KEPT)
            return;
        if (w->na == w->capa) {
            size_t nc = w->capa ? w->capa * 2 : 256;
            struct watch_alert *nv = realloc(w->av, nc * sizeof *nv);
            if (!nv)
                return;
            w->av = nv;
            char(*nu)[64] = realloc(w->auser, nc * sizeof *nu);
            if (!nu)
                return;
            w->auser = nu;
            w->capa = nc;
        }
        size_t un = a->user.n < 63 ? a->user.n : 63;
        memcpy(w->auser[w->na], a->user.p ? a->user.p : "", un);
        w->auser[w->na][un] = '\0';
        w->av[w->na] = *a;
        /* the name lives in auser[i] (which may move): no pointer kept */
        w->av[w->na].user = str_make(NULL, 0);
        w->na++;
        return;
    }
    char ip[64], subj[160], body[512], user[64];
    watch_addr_fmt(&a->addr, ip, sizeof ip);
    size_t un = a->user.n < 63 ? a->user.n : 63;
    memcpy(user, a->user.p ? a->user.p : "", un);
    user[un] = '\0';
    for (size_t i = 0; i < un; i++)
        if ((unsigned char)user[i] < 0x20 || (unsigned char)user[i] == 0x7f)
            user[i] = '?';
    int64_t now = time(NULL);
    snprintf(subj, sizeof subj, "mamori: %s from %s", a->kind, ip);
    snprintf(body, sizeof body, "%s (%s): user '%s' logged in from %s; recent failure score %.1f",
             a->kind, watch_sev_name(a->sev), user, ip, a->score);
    if (w->log)
        watch_log_line(w->log, now, body, strlen(body));
    if (w->store) {
        struct store_event e = {.t = now, .kind = "alert", .rule = a->kind, .ip = ip,
                                .severity = watch_sev_name(a->sev), .message = body};
        store_event_add(w->store, &e);
        store_known_add(w->store, ip, now);
    }
    if (w->notify) {
        struct notify_msg m = {.kind = "alert", .severity = watch_sev_name(a->sev),
                               .subject = subj, .body = body, .t = now};
        notify_send(w->notify, &m);
    }
}

static int cmp_ban(const void *x, const void *y)
{
    const struct watch_ban *a = x, *b = y;
    if (a->banned_at != b->banned_at)
        return a->banned_at < b->banned_at ? -1 : 1;
    return memcmp(&a->addr, &b->addr, sizeof a->addr);
}

static void print_json(struct wctx *w, const struct watch_det_stats *st, double secs)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 34);
    char ip[64], f[32], l[32], u[32];
    buf_puts(&b, "{\"bans\":[");
    for (size_t i = 0; i < w->nb; i++) {
        const struct watch_ban *x = &w->bv[i];
        watch_addr_fmt(&x->addr, ip, sizeof ip);
        cli_watch_iso(x->first_seen, f, sizeof f);
        cli_watch_iso(x->last_seen, l, sizeof l);
        cli_watch_iso(x->until, u, sizeof u);
        buf_printf(&b,
                   "%s{\"ip\":\"%s\",\"reason\":\"%s\",\"score\":%.1f,\"first_seen\":\"%s\","
                   "\"last_seen\":\"%s\",\"until\":\"%s\",\"duration_s\":%lld,\"count\":%u}",
                   i ? ",\n" : "\n", ip, x->reason, x->score, f, l, u,
                   (long long)(x->until - x->banned_at), x->count);
    }
    buf_puts(&b, "],\"alerts\":[");
    for (size_t i = 0; i < w->na; i++) {
        const struct watch_alert *a = &w->av[i];
        watch_addr_fmt(&a->addr, ip, sizeof ip);
        cli_watch_iso(a->t, f, sizeof f);
        buf_printf(&b, "%s{\"kind\":\"%s\",\"severity\":\"%s\",\"ip\":\"%s\",\"user\":\"",
                   i ? ",\n" : "\n", a->kind, watch_sev_name(a->sev), ip);
        buf_json_str(&b, w->auser[i], strlen(w->auser[i]));
        buf_printf(&b, "\",\"time\":\"%s\",\"score\":%.1f}", f, a->score);
    }
    buf_printf(&b,
               "],\"lines\":%llu,\"parsed\":%llu,\"unparsed\":%llu,\"alerts_total\":%llu,"
               "\"stats\":{\"events\":%llu,\"allowlisted\":%llu,\"while_banned\":%llu,"
               "\"tracked_peak\":%zu,\"evicted\":%llu,\"seconds\":%.3f}}\n",
               (unsigned long long)w->lines, (unsigned long long)w->parsed,
               (unsigned long long)w->unparsed, (unsigned long long)w->alerts_total,
               (unsigned long long)st->events, (unsigned long long)st->allowed_skips,
               (unsigned long long)st->banned_events, st->tracked_peak,
               (unsigned long long)st->evicted, secs);
    if (b.p)
        fwrite(b.p, 1, b.len, stdout);
    buf_free(&b);
}

static void print_text(struct wctx *w, const struct watch_det_stats *st, double secs)
{
    char ip[64], f[32], l[32];
    for (size_t i = 0; i < w->nb; i++) {
        const struct watch_ban *x = &w->bv[i];
        watch_addr_fmt(&x->addr, ip, sizeof ip);
        cli_watch_iso(x->first_seen, f, sizeof f);
        cli_watch_iso(x->last_seen, l, sizeof l);
        printf("ban   %-40s %-24s score %5.1f  %7llds  offence %u  %s .. %s\n", ip, x->reason,
               x->score, (long long)(x->until - x->banned_at), x->count, f, l);
    }
    for (size_t i = 0; i < w->na; i++) {
        const struct watch_alert *a = &w->av[i];
        watch_addr_fmt(&a->addr, ip, sizeof ip);
        cli_watch_iso(a->t, f, sizeof f);
        printf("alert %-6s %-26s %-40s user=", watch_sev_name(a->sev), a->kind, ip);
        for (size_t j = 0; w->auser[i][j]; j++) {
            unsigned char ch = (unsigned char)w->auser[i][j];
            putchar(ch >= 0x20 && ch < 0x7f ? ch : '?');
        }
        printf(" %s\n", f);
    }
    printf("%llu lines, %llu parsed, %llu unparsed, %zu bans, %llu alerts in %.2fs (%.0f lines/s)\n",
           (unsigned long long)w->lines, (unsigned long long)w->parsed,
           (unsigned long long)w->unparsed, w->nb, (unsigned long long)w->alerts_total, secs,
           secs > 0 ? (double)w->lines / secs : 0.0);
    (void)st;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct nft_ctx {
    int64_t now;
    size_t n, cap;
    struct watch_addr *a;
    int64_t *tmo;
};

static void nft_collect(void *ud, const struct watch_ban *b)
{
    struct nft_ctx *r = ud;
    if (b->until <= r->now)
        return;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        struct watch_addr *na = realloc(r->a, nc * sizeof *na);
        if (!na)
            return;
        r->a = na;
        int64_t *nt = realloc(r->tmo, nc * sizeof *nt);
        if (!nt)
            return;
        r->tmo = nt;
        r->cap = nc;
    }
    r->a[r->n] = b->addr;
    r->tmo[r->n++] = b->until - r->now;
}

static int restore_known(void *ud, const char *ip)
{
    struct wctx *w = ud;
    struct watch_addr a;
    if (watch_addr_parse(ip, strlen(ip), &a) == 0)
        watch_det_known(w->det, &a);
    return 0;
}

static void disk_tick(struct wctx *w, struct watch_disk *dg, int64_t now)
{
    struct watch_disk_report rep[WATCH_MAX_DISKS];
    size_t n = watch_disk_sample(dg, now, rep, WATCH_MAX_DISKS);
    for (size_t i = 0; i < n; i++) {
        if (!rep[i].level)
            continue;
        char names[3][256];
        uint64_t grown[3];
        size_t ng = watch_disk_top_growers(dg, names, grown, 3);
        char subj[320], body[1400];
        snprintf(subj, sizeof subj, "mamori: %.200s is %.0f%% full", rep[i].path, rep[i].used_pct);
        int off = snprintf(body, sizeof body, "%.200s: %.1f%% used, %llu MB free", rep[i].path,
                           rep[i].used_pct, (unsigned long long)(rep[i].avail_bytes >> 20));
        if (rep[i].eta_full_s >= 0 && off > 0 && (size_t)off < sizeof body)
            off += snprintf(body + off, sizeof body - (size_t)off, "; full in about %.1f h",
                            rep[i].eta_full_s / 3600);
        for (size_t j = 0; j < ng && off > 0 && (size_t)off < sizeof body; j++)
            off += snprintf(body + off, sizeof body - (size_t)off, "%s %.200s (+%llu KB)",
                            j ? "," : "; growing fastest:", names[j],
                            (unsigned long long)(grown[j] >> 10));
        if (w->log)
            watch_log_line(w->log, now, body, strlen(body));
        if (w->store) {
            struct store_event e = {.t = now, .kind = "disk", .rule = "disk_usage",
                                    .severity = rep[i].level > 1 ? "high" : "medium",
                                    .message = body};
            store_event_add(w->store, &e);
        }
        if (w->notify) {
            struct notify_msg m = {.kind = "disk", .severity = rep[i].level > 1 ? "high" : "medium",
                                   .subject = subj, .body = body, .key = rep[i].path, .t = now};
            notify_send(w->notify, &m);
        }
    }
}

static void usage(FILE *f)
{
    fputs("usage: mamori watch [--config FILE] [-o KEY=VALUE]... [--dry-run] [FILE...]\n"
          "       mamori watch --once [--json] [--dry-run] [--config FILE] FILE...\n"
          "\n"
          "  --once       replay FILEs (plain, .gz, .zst; '-' = stdin) from the start and print\n"
          "               the bans and alerts they cause, then exit\n"
          "  --json       machine output (the contract is in docs/watch.md)\n"
          "  --dry-run    detect, but change no firewall and no store\n"
          "  --config F   settings (default /etc/mamori/watch.conf if present)\n"
          "  -o KEY=VAL   one setting, as in the config file (e.g. -o 'threshold ssh=3' is\n"
          "               written -o threshold='ssh 3')\n"
          "  --now T      replay: the reference time (Unix seconds) for year inference\n"
          "  --for SECS   live: stop after SECS seconds (tests)\n"
          "  --poll-ms N  live: how often files are checked (default 500)\n"
          "  -o user=U    live: drop to user U after opening files; nft runs in a helper\n",
          f);
}

int cli_watch(int argc, char **argv)
{
    struct watch_conf c;
    const char *conf_path = NULL;
    bool once = false, json = false, dry = false;
    int64_t ref_now = 0;
    double run_for = 0;
    int poll_ms = 500;
    const char *files[WATCH_MAX_FILES];
    size_t nfiles = 0;
    int rc = 2;
    const char *sets[64];
    size_t nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--once"))
            once = true;
        else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--dry-run"))
            dry = true;
        else if (!strcmp(a, "--config") && i + 1 < argc)
            conf_path = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--set")) && i + 1 < argc && nsets < 64)
            sets[nsets++] = argv[++i];
        else if (!strcmp(a, "--now") && i + 1 < argc)
            ref_now = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--for") && i + 1 < argc)
            run_for = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--poll-ms") && i + 1 < argc)
            poll_ms = atoi(argv[++i]);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mamori watch: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (nfiles < WATCH_MAX_FILES) {
            files[nfiles++] = a;
        }
    }
    if (cli_watch_load_conf(&c, conf_path) < 0)
        return 2;
    for (size_t i = 0; i < nsets; i++)
        if (cli_watch_set_opt(&c, sets[i]) < 0)
            goto out_conf;
    if (!nfiles) {
        for (size_t i = 0; i < c.nfiles; i++)
            files[nfiles++] = c.files[i];
    }
    if (!nfiles) {
        fprintf(stderr, "mamori watch: no files (give FILE... or 'file PATH' in the config)\n");
        goto out_conf;
    }
    if (poll_ms < 10)
        poll_ms = 10;

    struct wctx w;
    memset(&w, 0, sizeof w);
    w.c = &c;
    w.once = once;
    w.json = json;
    w.dry_run = dry;
    w.live = !once;
    w.bans = watch_bans_new(c.max_bans);
    w.det = w.bans ? watch_det_new(&c, w.bans) : NULL;
    if (!w.det) {
        fprintf(stderr, "mamori watch: out of memory\n");
        goto out;
    }
    if (!dry)
        w.store = cli_watch_open_store(&c);
    if (!dry && c.store_path && !w.store) {
        if (once)
            goto out;
        /* live: protecting beats remembering; bans still reach nftables */
        fprintf(stderr, "mamori watch: running without the event store\n");
    }
    w.sink = (struct watch_sink){sink_ban, sink_alert, &w};
    int64_t now = ref_now ? ref_now : (int64_t)time(NULL);

    if (once) {
        /* replays start from an empty table: the file decides */
        double t0 = mono_now();
        for (size_t i = 0; i < nfiles; i++) {
            watch_parser_init(&w.p, now);
            if (watch_read_file(files[i], on_line, &w) < 0)
                fprintf(stderr, "mamori watch: %s: cannot read (%s)\n", files[i],
                        errno ? strerror(errno) : "decode error");
        }
        double secs = mono_now() - t0;
        if (w.nb)
            qsort(w.bv, w.nb, sizeof *w.bv, cmp_ban);
        if (!dry && (w.store || c.nft)) {
            int64_t wall = time(NULL);
            if (c.nft && watch_nft_setup(c.nft_bin) < 0)
                fprintf(stderr, "mamori watch: nft setup failed; bans not applied to the firewall\n");
            if (w.store) {
                bool nft = c.nft;
                c.nft = false; /* the kernel gets them in batches below */
                store_begin(w.store);
                for (size_t i = 0; i < w.nb; i++)
                    apply_ban(&w, &w.bv[i], wall);
                store_commit(w.store);
                c.nft = nft;
            }
            if (c.nft) {
                /* the table holds each address's latest ban once */
                struct nft_ctx r = {.now = wall};
                watch_bans_each(w.bans, nft_collect, &r);
                if (r.n && watch_nft_ban_many(c.nft_bin, r.a, r.tmo, r.n) < 0)
                    fprintf(stderr, "mamori watch: nft: adding %zu bans failed\n", r.n);
                free(r.a);
                free(r.tmo);
            }
        }
        struct watch_det_stats st;
        watch_det_stats(w.det, &st);
        if (json)
            print_json(&w, &st, secs);
        else
            print_text(&w, &st, secs);
        struct rusage ru;
        if (getenv("MAMORI_WATCH_STATS") && getrusage(RUSAGE_SELF, &ru) == 0)
            fprintf(stderr, "watch-stats: lines=%llu seconds=%.3f lines_per_s=%.0f peak_rss_kb=%ld tracked_peak=%zu evicted=%llu\n",
                    (unsigned long long)w.lines, secs, secs > 0 ? w.lines / secs : 0.0,
                    ru.ru_maxrss, st.tracked_peak, (unsigned long long)st.evicted);
        rc = 0;
        goto out;
    }

    /* live */
    char err[256];
    struct notify_conf nc;
    cli_watch_notify_conf(&c, &nc);
    w.notify = notify_new(&nc, err, sizeof err);
    if (!w.notify)
        fprintf(stderr, "mamori watch: notifications off: %s\n", err);
    if (c.log_path) {
        w.log = watch_log_open(c.log_path, c.log_max_bytes / 8, c.log_max_bytes);
        if (!w.log)
            fprintf(stderr, "mamori watch: %s: cannot open log: %s\n", c.log_path, strerror(errno));
    }
    if (c.nft && !dry && watch_nft_setup(c.nft_bin) < 0)
        fprintf(stderr, "mamori watch: nft setup failed; bans stay in mamori's own table only\n");
    if (w.store) {
        /* all rows, so repeat offenders keep their count; only active ones
         * go to the kernel */
        struct nft_ctx r = {.now = now};
        if (watch_bans_restore(w.bans, w.store, now, false) < 0)
            fprintf(stderr, "mamori watch: cannot read bans from the store\n");
        watch_bans_each(w.bans, nft_collect, &r);
        if (c.nft && !dry && r.n && watch_nft_ban_many(c.nft_bin, r.a, r.tmo, r.n) < 0)
            fprintf(stderr, "mamori watch: nft: restoring %zu bans failed\n", r.n);
        store_known_list(w.store, restore_known, &w);
        if (r.n)
            fprintf(stderr, "mamori watch: restored %zu active bans\n", r.n);
        free(r.a);
        free(r.tmo);
    }
    struct watch_follow *fol[WATCH_MAX_FILES];
    for (size_t i = 0; i < nfiles; i++) {
        if (!strcmp(files[i], "journal")) {
            /* the systemd journal, from now on, timestamps as ISO 8601 */
            const char *jargv[] = {c.journalctl_bin, "--follow", "--no-pager", "--lines=0",
                                   "--output=short-iso-precise", NULL};
            fol[i] = watch_follow_open_cmd("journal", jargv);
        } else {
            fol[i] = watch_follow_open(files[i], false);
        }
        if (!fol[i]) {
            fprintf(stderr, "mamori watch: %s: cannot follow\n", files[i]);
            nfiles = i;
            goto live_out;
        }
    }
    if (c.user) {
        /* the parser side drops privilege; bans go through a helper that
         * keeps it. Never carry on as root when asked not to. */
        if (c.nft && !dry && !(w.helper = watch_nft_helper_start(c.nft_bin))) {
            fprintf(stderr, "mamori watch: cannot start the nft helper\n");
            rc = 2;
            goto live_out;
        }
        if (watch_drop_privileges(c.user, err, sizeof err) < 0) {
            fprintf(stderr, "mamori watch: %s; stopping\n", err);
            rc = 2;
            goto live_out;
        }
    }
    struct watch_disk *dg = watch_disk_new(&c);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double start = mono_now(), last_disk = -1e9, last_ret = mono_now();
    fprintf(stderr, "mamori watch: following %zu file(s)%s\n", nfiles, dry ? " (dry run)" : "");
    while (!stop_flag) {
        for (size_t i = 0; i < nfiles; i++) {
            w.now = time(NULL);
            watch_parser_init(&w.p, w.now);
            watch_follow_poll(fol[i], on_line, &w);
        }
        double m = mono_now();
        if (dg && m - last_disk >= 60) {
            disk_tick(&w, dg, (int64_t)time(NULL));
            last_disk = m;
        }
        if (w.store && m - last_ret >= 3600) {
            store_retention(w.store, (int64_t)time(NULL), NULL);
            last_ret = m;
        }
        if (w.log)
            watch_log_flush(w.log);
        if (w.store && w.npend)
            retry_pending(&w);
        if (run_for > 0 && m - start >= run_for)
            break;
        usleep((useconds_t)poll_ms * 1000);
    }
    watch_disk_free(dg);
    rc = 0;
live_out:
    for (size_t i = 0; i < nfiles; i++)
        watch_follow_close(fol[i]);
    watch_nft_helper_stop(w.helper);
out:
    if (w.notify)
        notify_free(w.notify, 10000);
    if (w.log)
        watch_log_close(w.log);
    if (w.store)
        store_close(w.store);
    watch_det_free(w.det);
    watch_bans_free(w.bans);
    free(w.bv);
    free(w.pend);
    free(w.av);
    free(w.auser);
out_conf:
    watch_conf_free(&c);
    return rc;
}
