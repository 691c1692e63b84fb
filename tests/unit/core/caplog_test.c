/* Capped log files: the cap holds under a flood, rotated files are zstd,
 * sequence numbers continue across reopen. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../t.h"
#include "core/caplog.h"

static unsigned long long dir_bytes(const char *dir, int *nzst)
{
    unsigned long long total = 0;
    *nzst = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0)
            total += (unsigned long long)st.st_size;
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".zst"))
            (*nzst)++;
    }
    if (d)
        closedir(d);
    return total;
}

TEST(caplog_cap_holds_under_flood)
{
    char dir[] = "/tmp/mamori-caplog-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/events.json", dir);
    char err[256];
    struct caplog *l = caplog_open(path, 16384, 65536, err, sizeof err);
    CHECK(l != NULL);
    if (!l)
        return;
    char line[200];
    for (int i = 0; i < 50000; i++) {
        /* varied lines compress less, so the cap is really exercised */
        int n = snprintf(line, sizeof line, "{\"n\":%d,\"r\":\"%08x%08x\"}\n", i, rand(), rand());
        CHECK_INT(caplog_write(l, line, (size_t)n), 0);
    }
    caplog_close(l);
    int nzst;
    unsigned long long total = dir_bytes(dir, &nzst);
    CHECK(total <= 65536);
    CHECK(nzst > 0);
    /* reopening continues the sequence instead of overwriting */
    l = caplog_open(path, 16384, 65536, err, sizeof err);
    CHECK(l != NULL);
    for (int i = 0; l && i < 2000; i++) {
        int n = snprintf(line, sizeof line, "{\"again\":%d,\"r\":\"%08x\"}\n", i, rand());
        caplog_write(l, line, (size_t)n);
    }
    caplog_close(l);
    CHECK(dir_bytes(dir, &nzst) <= 65536);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

TEST(caplog_refuses_bad_sizes_and_paths)
{
    char err[256];
    CHECK(caplog_open("/tmp/x.log", 0, 10, err, sizeof err) == NULL);
    CHECK(caplog_open("/tmp/x.log", 100, 10, err, sizeof err) == NULL);
    CHECK(caplog_open("/nonexistent-dir/x.log", 100, 1000, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot open") != NULL);
}
