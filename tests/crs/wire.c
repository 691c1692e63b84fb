/* "Through the wire": sends a stage's exact bytes to a running mamori proxy
 * over TCP, reads the response status, and collects the rules the proxy
 * logged for that request from its JSON event log. The proxy writes a
 * request's event before it finishes the response, and the runner sends one
 * request at a time, so the lines appended since the previous request are
 * this request's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "crs.h"

#define WIRE_RESP_MAX (4u << 20)
#define WIRE_TIMEOUT_MS 5000

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads the response until the connection closes, its Content-Length is
 * complete, or the timeout; returns the status (0 when none came). */
static int read_response(int fd)
{
    char *buf = malloc(WIRE_RESP_MAX);
    size_t len = 0;
    int status = 0;
    long deadline = now_ms() + WIRE_TIMEOUT_MS;
    if (!buf)
        return 0;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = read(fd, buf + len, WIRE_RESP_MAX - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (!status && len >= 12 && memcmp(buf, "HTTP/1.", 7) == 0)
            status = atoi(buf + 9);
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < end) {
                size_t want = (size_t)(end + 4 - buf) + (size_t)strtoul(cl + 17, NULL, 10);
                if (len >= want)
                    break;
            }
        }
        if (len >= WIRE_RESP_MAX - 1)
            break;
    }
    free(buf);
    return status;
}

int crs_wire_send(struct crs_wire *w, const char *raw, size_t n, int *status,
                  void (*on_rule)(void *ud, int id, const char *line), void *ud, char *err,
                  size_t errlen)
{
    *status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    if (w->source_ip && inet_pton(AF_INET, w->source_ip, &src.sin_addr) == 1 &&
        bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        snprintf(err, errlen, "bind %s: %s", w->source_ip, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
    inet_pton(AF_INET, w->host, &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
        snprintf(err, errlen, "connect %s:%d: %s", w->host, w->port, strerror(errno));
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, raw + off, n - off);
        if (k <= 0)
            break; /* the proxy may refuse early: read what it answered */
        off += (size_t)k;
    }
    *status = read_response(fd);
    close(fd);
    /* the event lines written since the previous request */
    FILE *f = fopen(w->log_path, "r");
    if (!f)
        return 0; /* no event yet: nothing logged */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size < w->log_off)
        w->log_off = 0; /* rotated */
    fseek(f, w->log_off, SEEK_SET);
    char *line = NULL;
    size_t cap = 0;
    ssize_t l;
    while ((l = getline(&line, &cap, f)) > 0) {
        if (line[l - 1] != '\n')
            break; /* a line still being written: read it next time */
        w->log_off += l;
        char ebuf[128];
        yajl_val o = yajl_tree_parse(line, ebuf, sizeof ebuf);
        const char *mp[] = {"mamori.matches", NULL};
        yajl_val ms = o ? yajl_tree_get(o, mp, yajl_t_array) : NULL;
        for (size_t i = 0; ms && i < YAJL_GET_ARRAY(ms)->len; i++) {
            yajl_val m = YAJL_GET_ARRAY(ms)->values[i];
            const char *ip[] = {"id", NULL}, *mg[] = {"msg", NULL}, *dp[] = {"data", NULL},
                       *vp[] = {"var", NULL};
            yajl_val id = yajl_tree_get(m, ip, yajl_t_number);
            yajl_val msg = yajl_tree_get(m, mg, yajl_t_string);
            yajl_val data = yajl_tree_get(m, dp, yajl_t_string);
            yajl_val var = yajl_tree_get(m, vp, yajl_t_string);
            if (!id)
                continue;
            /* a ModSecurity-style line (control bytes as \xHH, as the
             * engine's own log lines), so the tests' regexes read it */
            char ev[3][1024];
            const char *fld[3] = {var ? YAJL_GET_STRING(var) : "", msg ? YAJL_GET_STRING(msg) : "",
                                  data ? YAJL_GET_STRING(data) : ""};
            for (int k = 0; k < 3; k++) {
                size_t wo = 0;
                for (const unsigned char *q = (const unsigned char *)fld[k]; *q && wo + 5 < sizeof ev[k];
                     q++) {
                    if (*q < 0x20 || *q == 0x7f)
                        wo += (size_t)snprintf(ev[k] + wo, sizeof ev[k] - wo, "\\x%02x", *q);
                    else
                        ev[k][wo++] = (char)*q;
                }
                ev[k][wo] = 0;
            }
            char out[4096];
            snprintf(out, sizeof out,
                     "ModSecurity: Warning. Matched against variable `%s' [id \"%lld\"] [msg \"%s\"] "
                     "[data \"%s\"]",
                     ev[0], YAJL_GET_INTEGER(id), ev[1], ev[2]);
            on_rule(ud, (int)YAJL_GET_INTEGER(id), out);
        }
        yajl_tree_free(o);
    }
    free(line);
    fclose(f);
    return 0;
}
