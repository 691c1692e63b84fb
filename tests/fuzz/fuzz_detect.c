/* libFuzzer target for the SQLi and XSS detectors: any bytes, and the
 * result contract (a detection always says why; a clean input leaves the
 * result empty). */
#include <stdint.h>
#include <string.h>

#include "waf/detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct detect_result r;
    memset(&r, 0, sizeof r);
    if (detect_sqli((const char *)data, size, &r)) {
        if (!r.reason || strlen(r.fingerprint) > 15)
            __builtin_trap();
    } else if (r.reason || r.fingerprint[0]) {
        __builtin_trap();
    }
    memset(&r, 0, sizeof r);
    if (detect_xss((const char *)data, size, &r)) {
        if (!r.reason)
            __builtin_trap();
    }
    return 0;
}
