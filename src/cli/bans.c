/* mamori bans list|add|del: the ban list in the event store (and in
 * nftables when "nft on"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "store/store.h"
#include "watch/watch.h"

static void usage(FILE *f)
{
    fputs("usage: mamori bans [--config FILE] [-o KEY=VALUE] [--store DB] [--nft] COMMAND\n"
          "  list [--all] [--json]          active bans (--all: expired ones too)\n"
          "  add ADDR[/LEN] [--for DUR] [--reason TEXT]\n"
          "  del ADDR[/LEN]\n"
          "DUR is seconds or NNs/NNm/NNh/NNd (default: ban_time from the config).\n",
          f);
}

struct list_ctx {
    bool json;
    long n;
    int64_t now;
    struct buf *b;
};

static int print_ban(void *ud, const struct store_ban *sb)
{
    struct list_ctx *c = ud;
    char f[32], u[32], at[32];
    cli_watch_iso(sb->first_seen, f, sizeof f);
    cli_watch_iso(sb->until, u, sizeof u);
    cli_watch_iso(sb->banned_at, at, sizeof at);
    if (c->json) {
        buf_printf(c->b, "%s{\"ip\":\"", c->n ? ",\n" : "\n");
        buf_json_str(c->b, sb->ip, strlen(sb->ip));
        buf_puts(c->b, "\",\"reason\":\"");
        buf_json_str(c->b, sb->reason ? sb->reason : "", sb->reason ? strlen(sb->reason) : 0);
        buf_printf(c->b,
                   "\",\"score\":%.1f,\"banned_at\":\"%s\",\"until\":\"%s\",\"count\":%u,"
                   "\"active\":%s}",
                   sb->score, at, u, sb->count, sb->until > c->now ? "true" : "false");
    } else {
        printf("%-40s %-24s until %s  offence %u%s\n", sb->ip, sb->reason ? sb->reason : "", u,
               sb->count, sb->until > c->now ? "" : "  (expired)");
    }
    c->n++;
    return 0;
}

static int64_t parse_dur(const char *s)
{
    char *e;
    long long v = strtoll(s, &e, 10);
    if (e == s || v <= 0)
        return -1;
    switch (*e) {
    case '\0':
    case 's':
        break;
    case 'm':
        v *= 60;
        break;
    case 'h':
        v *= 3600;
        break;
    case 'd':
        v *= 86400;
        break;
    default:
        return -1;
    }
    return v;
}

int cli_bans(int argc, char **argv)
{
    struct watch_conf c;
    const char *conf_path = NULL, *store_path = NULL, *cmd = NULL, *addr = NULL;
    const char *reason = "manual", *sets[32];
    size_t nsets = 0;
    bool all = false, json = false, nft = false;
    int64_t dur = 0;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc)
            conf_path = argv[++i];
        else if (!strcmp(a, "--store") && i + 1 < argc)
            store_path = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--set")) && i + 1 < argc && nsets < 32)
            sets[nsets++] = argv[++i];
        else if (!strcmp(a, "--nft"))
            nft = true;
        else if (!strcmp(a, "--all"))
            all = true;
        else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--for") && i + 1 < argc) {
            if ((dur = parse_dur(argv[++i])) < 0) {
                fprintf(stderr, "mamori bans: --for: '%s' is not a duration\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "mamori bans: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!cmd)
            cmd = a;
        else if (!addr)
            addr = a;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (cli_watch_load_conf(&c, conf_path) < 0)
        return 2;
    for (size_t i = 0; i < nsets; i++)
        if (cli_watch_set_opt(&c, sets[i]) < 0)
            goto out_conf;
    if (store_path)
        c.store_path = store_path;
    if (nft)
        c.nft = true;
    if (!c.store_path) {
        fprintf(stderr, "mamori bans: no event store ('store PATH' in the config, or --store)\n");
        goto out_conf;
    }
    struct store *s = cli_watch_open_store(&c);
    if (!s)
        goto out_conf;
    int64_t now = (int64_t)time(NULL);
    if (!strcmp(cmd, "list")) {
        struct buf b;
        buf_init(&b, (size_t)1 << 30);
        struct list_ctx lc = {json, 0, now, &b};
        if (json)
            buf_puts(&b, "{\"bans\":[");
        if (store_bans_list(s, !all, now, print_ban, &lc) < 0) {
            fprintf(stderr, "mamori bans: cannot read the store\n");
            rc = 1;
        } else {
            if (json) {
                buf_printf(&b, "],\"count\":%ld}\n", lc.n);
                if (b.p)
                    fwrite(b.p, 1, b.len, stdout);
            } else if (!lc.n) {
                printf("no %sbans\n", all ? "" : "active ");
            }
            rc = 0;
        }
        buf_free(&b);
    } else if (!strcmp(cmd, "add") || !strcmp(cmd, "del")) {
        struct watch_addr a;
        char ip[64];
        if (!addr || watch_addr_parse(addr, strlen(addr), &a) < 0) {
            fprintf(stderr, "mamori bans %s: '%s' is not an address or CIDR\n", cmd,
                    addr ? addr : "");
            rc = 2;
            goto out_store;
        }
        watch_addr_fmt(&a, ip, sizeof ip);
        if (!strcmp(cmd, "add")) {
            if (watch_conf_allowed(&c, &a)) {
                fprintf(stderr, "mamori bans add: %s is allowlisted (loopback or 'allow'); not banned\n", ip);
                rc = 1;
                goto out_store;
            }
            if (!dur)
                dur = c.ban_s;
            struct store_ban sb = {.ip = ip, .reason = reason, .first_seen = now, .last_seen = now,
                                   .banned_at = now, .until = now + dur, .count = 1};
            struct store_event e = {.t = now, .kind = "ban", .rule = "manual", .ip = ip,
                                    .severity = "medium", .message = reason};
            rc = store_ban_put(s, &sb) == 0 && store_event_add(s, &e) == 0 ? 0 : 1;
            if (c.nft && (watch_nft_setup(c.nft_bin) < 0 || watch_nft_ban(c.nft_bin, &a, dur) < 0)) {
                fprintf(stderr, "mamori bans add: nft failed (stored; the watcher retries at start)\n");
                rc = 1;
            }
            if (!rc)
                printf("banned %s for %llds\n", ip, (long long)dur);
        } else {
            int r = store_ban_del(s, ip, now);
            struct store_event e = {.t = now, .kind = "unban", .rule = "manual", .ip = ip,
                                    .severity = "low", .message = "unbanned by hand"};
            store_event_add(s, &e);
            if (c.nft)
                watch_nft_unban(c.nft_bin, &a);
            if (r < 0) {
                fprintf(stderr, "mamori bans del: cannot write the store\n");
                rc = 1;
            } else {
                printf(r ? "unbanned %s\n" : "%s was not banned\n", ip);
                rc = 0;
            }
        }
    } else {
        fprintf(stderr, "mamori bans: unknown command '%s'\n", cmd);
        usage(stderr);
    }
out_store:
    store_close(s);
out_conf:
    watch_conf_free(&c);
    return rc;
}
