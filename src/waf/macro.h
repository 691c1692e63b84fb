/* Run-time string templates: "%{tx.anomaly_score}", "%{MATCHED_VAR}",
 * "%{REQUEST_HEADERS.host}" inside msg, logdata, setvar and operator
 * arguments. Compiled once at load into literal and variable parts. */
#ifndef MAMORI_WAF_MACRO_H
#define MAMORI_WAF_MACRO_H
#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct macro_part {
    bool is_var;
    int var;    /* enum var_id when is_var */
    char *text; /* literal text, or the key within the collection ("" if none) */
    size_t len;
};

struct macro {
    struct macro_part *parts;
    size_t nparts;
    bool constant; /* no variable parts: parts[0] is the whole text */
};

/* Returns NULL with err on an unknown variable; text is copied. */
struct macro *macro_compile(const char *text, size_t len, char *err, size_t errlen);
void macro_free(struct macro *m);
/* The literal value of a constant macro. */
struct str macro_const(const struct macro *m);

#endif
