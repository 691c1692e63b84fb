/* mamori's own SQL-injection and XSS detectors (@detectSQLi, @detectXSS).
 *
 * Contract: pure functions over (ptr, len) with fixed-size state, no
 * allocation, no global mutable state, safe on any bytes. They return true
 * when the input looks like an injection and say why in the result (the
 * fingerprint or reason is what the WAF reports as the matched data, TX.0). */
#ifndef MAMORI_WAF_DETECT_DETECT_H
#define MAMORI_WAF_DETECT_DETECT_H
#include <stdbool.h>
#include <stddef.h>

struct detect_result {
    char fingerprint[16]; /* NUL-terminated token-class fingerprint, e.g. "s&1" */
    const char *reason;   /* static text: which rule of the detector fired */
};

bool detect_sqli(const char *s, size_t n, struct detect_result *res);
bool detect_xss(const char *s, size_t n, struct detect_result *res);

#endif
