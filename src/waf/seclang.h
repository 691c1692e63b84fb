/* SecLang configuration reader (lexing, continuation lines, Include). */
#ifndef MAMORI_WAF_SECLANG_H
#define MAMORI_WAF_SECLANG_H
#include <stdbool.h>
#include <stddef.h>

struct seclang_directive {
    const char *name;
    const char *const *args;
    size_t nargs;
    const char *file; /* interned: lives as long as the ctx's file table */
    int line;
};

struct seclang_ctx {
    int (*on_directive)(void *ud, const struct seclang_directive *d, char *err, size_t errlen);
    void *ud;
    char **files; /* interned file names; ownership may be taken by the caller */
    size_t nfiles;
};

/* pattern may be a glob; "file:line: reason" in err on failure. */
int seclang_load_file(struct seclang_ctx *ctx, const char *pattern, char *err, size_t errlen);
int seclang_load_string(struct seclang_ctx *ctx, const char *text, const char *name, char *err,
                        size_t errlen);
const char *seclang_intern_file(struct seclang_ctx *ctx, const char *path);
void seclang_ctx_free(struct seclang_ctx *ctx);

#endif
