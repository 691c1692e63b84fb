#ifndef MAMORI_WAF_VARS_TABLE_H
#define MAMORI_WAF_VARS_TABLE_H
#include <stddef.h>

#include "waf/program.h"

enum var_kind { VT_SCALAR, VT_COLLECTION };
struct var_info {
    const char *name;
    enum var_kind kind;
};
/* Case-insensitive; -1 when unknown. */
int vars_lookup(const char *name, size_t n);
const struct var_info *vars_info(int id);

#endif
