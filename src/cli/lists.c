/* mamori lists fetch: refreshes an IP list file from a URL. The proxy never
 * makes outbound requests itself (its workers only talk to clients and the
 * upstream); a timer runs this command, which downloads with a size and
 * time bound, checks that every line parses as the list format the proxy
 * reads, replaces the file atomically, and (with --reload) sends SIGHUP so
 * the running proxy swaps the list in — its rate-limit and ban tables are
 * kept across that reload. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "shield/shield.h"

#define LISTS_DEFAULT_MAX (64u << 20)

static void usage(FILE *f)
{
    fputs("usage: mamori lists fetch URL FILE [--max-bytes N] [--timeout S] [--lenient]\n"
          "                          [--reload PID]\n"
          "Downloads an IP list (one address/CIDR per line, Tor exit list, Spamhaus DROP,\n"
          "FireHOL .netset), refuses it unless it parses, replaces FILE atomically and\n"
          "optionally sends SIGHUP to the proxy. Run it from a timer (docs/shield.md).\n"
          "  --lenient   skip bad lines instead of refusing the list (third-party feeds)\n",
          f);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;
    if (n && sz > (size_t)-1 / n)
        return 0;
    return buf_append(b, p, sz * n) < 0 ? 0 : sz * n; /* past --max-bytes: abort */
}

int cli_lists(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "fetch") != 0) {
        usage(argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr);
        return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
    }
    const char *url = NULL, *file = NULL;
    size_t max = LISTS_DEFAULT_MAX;
    long timeout = 60, pid = 0;
    unsigned flags = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--max-bytes") || !strcmp(a, "--timeout") || !strcmp(a, "--reload")) &&
            i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v <= 0) {
                fprintf(stderr, "mamori lists: %s needs a positive number\n", a);
                return 2;
            }
            if (!strcmp(a, "--max-bytes"))
                max = (size_t)v;
            else if (!strcmp(a, "--timeout"))
                timeout = v;
            else
                pid = v;
        } else if (!strcmp(a, "--lenient")) {
            flags |= SHIELD_IPLIST_LENIENT;
        } else if (a[0] == '-') {
            fprintf(stderr, "mamori lists: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!url) {
            url = a;
        } else if (!file) {
            file = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!url || !file) {
        usage(stderr);
        return 2;
    }
    struct buf body;
    buf_init(&body, max);
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "mamori lists: cannot start libcurl\n");
        return 2;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mamori-lists");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, "mamori lists: %s: %s%s\n", url, cerr[0] ? cerr : curl_easy_strerror(rc),
                rc == CURLE_WRITE_ERROR ? " (larger than --max-bytes?)" : "");
        buf_free(&body);
        return 1;
    }
    char err[512];
    struct shield_iplist *l = shield_iplist_load_buffer(body.p ? body.p : "", body.len, url, flags,
                                                        err, sizeof err);
    if (!l) {
        fprintf(stderr, "mamori lists: %s: not a usable list: %s (%s kept as it was)\n", url, err,
                file);
        buf_free(&body);
        return 1;
    }
    size_t entries = shield_iplist_count(l);
    shield_iplist_unref(l);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", file, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f || (body.len && fwrite(body.p, 1, body.len, f) != body.len) || fclose(f) != 0) {
        fprintf(stderr, "mamori lists: %s: %s\n", tmp, strerror(errno));
        unlink(tmp);
        buf_free(&body);
        return 1;
    }
    if (rename(tmp, file) < 0) {
        fprintf(stderr, "mamori lists: %s: %s\n", file, strerror(errno));
        unlink(tmp);
        buf_free(&body);
        return 1;
    }
    printf("mamori lists: %s: %zu entries from %s\n", file, entries, url);
    buf_free(&body);
    if (pid && kill((pid_t)pid, SIGHUP) < 0) {
        fprintf(stderr, "mamori lists: SIGHUP to %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    return 0;
}
