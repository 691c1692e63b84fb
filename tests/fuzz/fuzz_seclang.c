/* libFuzzer target for the SecLang reader and compiler, and the engine that
 * runs what they build: the input is rule text. Whatever compiles is then
 * run against a fixed request with a body, so random rules exercise
 * variables, operators, transformations, actions and flow control too.
 * Inputs that would read other files (Include, *FromFile, unicode maps) are
 * skipped so a run stays hermetic. Contracts checked beyond "no crash":
 * a failed load always says why with "file:line:". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "waf/waf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char REQ[] =
    "POST /a/b.php?x=1&y=%27or+1%3D1--&z=<script> HTTP/1.1\r\n"
    "Host: example.com\r\nUser-Agent: fuzz\r\nCookie: s=1; t=abc\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 19\r\n\r\n"
    "p=..%2fetc%2fpasswd";

static bool touches_files(const char *s)
{
    static const char *bad[] = {"include", "file", "pmf", "ipmatchf", "unicodemap"};
    char low[64];
    for (const char *p = s; *p; p++) {
        size_t k = 0;
        while (p[k] && k < sizeof low - 1) {
            low[k] = (char)((p[k] >= 'A' && p[k] <= 'Z') ? p[k] + 32 : p[k]);
            k++;
        }
        low[k] = '\0';
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            if (strncmp(low, bad[i], strlen(bad[i])) == 0)
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (strlen(text) != size || touches_files(text)) {
        free(text);
        return 0;
    }
    char err[512] = "";
    struct waf_builder *b = waf_builder_new();
    struct waf_program *p = NULL;
    if (waf_builder_add_string(b, text, "fuzz.conf", err, sizeof err) == 0)
        p = waf_builder_finish(b, err, sizeof err);
    else
        waf_builder_free(b);
    if (!p) {
        if (strncmp(err, "fuzz.conf:", 10) != 0 && strstr(err, ":") == NULL)
            __builtin_trap(); /* an error without a location */
        free(text);
        return 0;
    }
    struct waf_tx_opts o = {.client_ip = "192.0.2.1", .arena_cap = 8u << 20};
    struct waf_tx *tx = waf_tx_new(p, &o);
    if (tx) {
        char e[128];
        waf_tx_process_raw_request(tx, REQ, sizeof REQ - 1, e, sizeof e);
        waf_tx_logging(tx);
        size_t n;
        waf_tx_matches(tx, &n);
        waf_tx_free(tx);
    }
    waf_program_free(p);
    waf_thread_cleanup();
    free(text);
    return 0;
}
