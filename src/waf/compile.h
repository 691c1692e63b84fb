#ifndef MAMORI_WAF_COMPILE_H
#define MAMORI_WAF_COMPILE_H
#include "waf/program.h"

void compile_target_free(struct target *t);
void compile_actions_free(struct actions *a);

#endif
