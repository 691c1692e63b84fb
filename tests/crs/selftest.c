/* Table-driven checks of the harness itself, run before every suite run:
 * if the request builder or the YAML loader drifts from go-ftw's behaviour,
 * every CRS verdict after it is worthless, so the runner stops instead.
 *
 * Each case is a YAML test file (as CRS writes them) and the exact bytes
 * go-ftw puts on the wire for its first stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crs.h"

struct build_case {
    const char *name;
    const char *yaml;
    const char *want; /* raw request */
};

static const struct build_case cases[] = {
    {"defaults and sorted headers",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          headers:\n            User-Agent: x\n"
     "            Host: h\n            Accept: a\n",
     "GET / HTTP/1.1\r\nAccept: a\r\nHost: h\r\nUser-Agent: x\r\nConnection: close\r\n\r\n"},
    {"form body encoded key by key, trailing & dropped",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: POST\n          headers:\n"
     "            Host: h\n          data: \"a=1 OR 1=1&b=x/y&\"\n",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
     "Content-Length: 20\r\n\r\na=1+OR+1%3D1&b=x%2Fy"},
    {"already encoded body left alone",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: POST\n          headers:\n"
     "            content-type: application/x-www-form-urlencoded\n          data: \"a=%27 b\"\n",
     "POST / HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
     "Content-Length: 7\r\n\r\na=%27 b"},
    {"multipart LF to CRLF, CRLF doubled",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: POST\n          headers:\n"
     "            Content-Type: \"multipart/form-data; boundary=b\"\n          data: \"--b\\r\\nx\\n--b--\\n\"\n",
     "POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\nConnection: close\r\n"
     "Content-Length: 16\r\n\r\n--b\r\r\nx\r\n--b--\r\n"},
    {"no auto-completion, empty version, PUT",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: PUT\n          version: \"\"\n"
     "          autocomplete_headers: false\n          data: q=1\n",
     "PUT / \r\n\r\nq=1"},
    {"method regex of go-ftw",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: XPUTX\n          headers:\n"
     "            Connection: keep-alive\n",
     "XPUTX / HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"},
    {"encoded_request with line breaks",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          encoded_request: \"R0VUIC8g\\nSFRUUC8xLjANCg0K\"\n",
     "GET / HTTP/1.0\r\n\r\n"},
    {"template repeat",
     "rule_id: 1\ntests:\n  - stages:\n      - input:\n          method: POST\n          headers:\n"
     "            Content-Type: text/plain\n          data: 'x{{ \"ab\" | repeat 3 }}y'\n",
     "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 8\r\n\r\nxabababy"},
};

static int write_case(const char *dir, const char *yaml)
{
    char path[512];
    snprintf(path, sizeof path, "%s/1.yaml", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(yaml);
    int rc = fwrite(yaml, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int crs_selftest(FILE *out)
{
    char dir[] = "/tmp/crs-selftest-XXXXXX";
    char path[512];
    int failures = 0;
    if (!mkdtemp(dir)) {
        fprintf(out, "crs selftest: cannot create a temporary folder\n");
        return -1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct build_case *c = &cases[i];
        struct crs_suite s;
        struct buf raw;
        char err[512];
        buf_init(&raw, 1 << 20);
        if (write_case(dir, c->yaml) < 0 || crs_suite_load(&s, dir, err, sizeof err) < 0) {
            fprintf(out, "crs selftest: %s: cannot load: %s\n", c->name, err);
            failures++;
            buf_free(&raw);
            continue;
        }
        if (s.ntests != 1 || s.tests[0].nstages != 1 ||
            crs_request_build(&s.tests[0].stages[0], &raw, err, sizeof err) < 0) {
            fprintf(out, "crs selftest: %s: cannot build the request\n", c->name);
            failures++;
        } else if (raw.len != strlen(c->want) || memcmp(raw.p, c->want, raw.len) != 0) {
            fprintf(out, "crs selftest: %s: built\n%.*s\n---- want\n%s\n----\n", c->name, (int)raw.len,
                    raw.p ? raw.p : "", c->want);
            failures++;
        }
        crs_suite_free(&s);
        buf_free(&raw);
    }
    snprintf(path, sizeof path, "%s/1.yaml", dir);
    unlink(path);
    rmdir(dir);
    return failures ? -1 : 0;
}
