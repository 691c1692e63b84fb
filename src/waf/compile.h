#ifndef MAMORI_WAF_COMPILE_H
#define MAMORI_WAF_COMPILE_H
#include <stdbool.h>
#include <stddef.h>

#include "waf/program.h"

/* Shared by the compiler's files (compile.c, compile_actions.c). */
void compile_target_free(struct target *t);
void compile_actions_free(struct actions *a);
void compile_actions_init(struct actions *a);
int compile_parse_actions(const char *s, struct actions *a, bool is_default, char *msg,
                          size_t msglen);
/* One target "!&VAR:selector"; *exclude says whether it had '!'. */
int compile_parse_target(const char *s, size_t n, struct target *t, bool *exclude, char *msg,
                         size_t msglen);
int compile_parse_int(const char *s, int *out);
int compile_parse_id_range(const char *s, int *lo, int *hi);
char *compile_strndup(const char *s, size_t n);

#endif
