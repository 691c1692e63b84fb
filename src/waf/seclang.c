/* SecLang reader: turns configuration text into directives with their
 * arguments and hands each to the compiler (compile.c).
 *
 * Lexing rules (as ModSecurity reads Apache-style config):
 *  - a line ending in a backslash continues on the next line;
 *  - '#' starts a comment only at the start of a (logical) line;
 *  - arguments are separated by blanks; "double" or 'single' quotes group,
 *    and inside quotes only \" (resp. \') is unescaped: every other
 *    backslash is kept, so regexes reach PCRE untouched. */
#include "waf/seclang.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define SECLANG_MAX_ARGS 8
#define SECLANG_MAX_FILE (64u << 20)
#define SECLANG_MAX_INCLUDE_DEPTH 16

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct buf b;
    buf_init(&b, SECLANG_MAX_FILE);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (buf_append(&b, tmp, n) < 0) {
            snprintf(err, errlen, "%s: file larger than %u bytes", path, SECLANG_MAX_FILE);
            fclose(f);
            buf_free(&b);
            return -1;
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        snprintf(err, errlen, "%s: read error", path);
        buf_free(&b);
        return -1;
    }
    if (!b.p && buf_append(&b, "", 0) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

/* Splits one logical line into arguments (copied, NUL-terminated). */
static int split_args(const char *s, size_t n, char **argv, size_t *argc, char *err,
                      size_t errlen)
{
    size_t i = 0;
    *argc = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i >= n)
            break;
        if (*argc >= SECLANG_MAX_ARGS) {
            snprintf(err, errlen, "too many arguments");
            return -1;
        }
        struct buf b;
        buf_init(&b, n + 1);
        if (s[i] == '"' || s[i] == '\'') {
            char q = s[i++];
            bool closed = false;
            while (i < n) {
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == q) {
                    buf_putc(&b, q);
                    i += 2;
                    continue;
                }
                if (s[i] == q) {
                    closed = true;
                    i++;
                    break;
                }
                buf_putc(&b, s[i]);
                i++;
            }
            if (!closed) {
                buf_free(&b);
                snprintf(err, errlen, "unterminated quoted argument");
                return -1;
            }
        } else {
            while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
                buf_putc(&b, s[i]);
                i++;
            }
        }
        if (!b.p && buf_append(&b, "", 0) < 0)
            return -1;
        argv[(*argc)++] = b.p;
    }
    return 0;
}

static int process_text(struct seclang_ctx *ctx, const char *text, size_t len, const char *file,
                        int depth, char *err, size_t errlen);

static int do_include(struct seclang_ctx *ctx, const char *pattern, const char *cur_file,
                      int line, int depth, char *err, size_t errlen)
{
    if (depth >= SECLANG_MAX_INCLUDE_DEPTH) {
        snprintf(err, errlen, "%s:%d: Include nested more than %d deep", cur_file, line,
                 SECLANG_MAX_INCLUDE_DEPTH);
        return -1;
    }
    char path[4096];
    if (pattern[0] != '/' && cur_file && strchr(cur_file, '/')) {
        char dirbuf[4096];
        snprintf(dirbuf, sizeof dirbuf, "%s", cur_file);
        int w = snprintf(path, sizeof path, "%s/%s", dirname(dirbuf), pattern);
        if (w < 0 || (size_t)w >= sizeof path) {
            snprintf(err, errlen, "%s:%d: include path too long", cur_file, line);
            return -1;
        }
    } else {
        snprintf(path, sizeof path, "%s", pattern);
    }
    glob_t g;
    int gr = glob(path, GLOB_ERR, NULL, &g);
    if (gr == GLOB_NOMATCH) {
        if (strpbrk(path, "*?[")) {
            globfree(&g);
            return 0; /* a glob that matches nothing is fine, as in Apache */
        }
        snprintf(err, errlen, "%s:%d: Include: %s: no such file", cur_file ? cur_file : "-",
                 line, path);
        return -1;
    }
    if (gr != 0) {
        snprintf(err, errlen, "%s:%d: Include: cannot read %s", cur_file ? cur_file : "-", line,
                 path);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        char *data;
        size_t dlen;
        char ferr[512];
        if (read_file(g.gl_pathv[i], &data, &dlen, ferr, sizeof ferr) < 0) {
            snprintf(err, errlen, "%s:%d: Include: %s", cur_file ? cur_file : "-", line, ferr);
            rc = -1;
            break;
        }
        const char *fname = seclang_intern_file(ctx, g.gl_pathv[i]);
        rc = fname ? process_text(ctx, data, dlen, fname, depth + 1, err, errlen) : -1;
        free(data);
    }
    globfree(&g);
    return rc;
}

static int process_text(struct seclang_ctx *ctx, const char *text, size_t len, const char *file,
                        int depth, char *err, size_t errlen)
{
    size_t i = 0;
    int lineno = 0;
    struct buf logical;
    buf_init(&logical, SECLANG_MAX_FILE);
    int rc = 0;
    while (i < len && rc == 0) {
        int start_line = lineno + 1;
        buf_clear(&logical);
        /* gather a logical line (joining backslash continuations) */
        for (;;) {
            size_t j = i;
            while (j < len && text[j] != '\n')
                j++;
            lineno++;
            size_t e = j;
            if (e > i && text[e - 1] == '\r')
                e--;
            bool cont = e > i && text[e - 1] == '\\';
            if (cont)
                e--;
            if (buf_append(&logical, text + i, e - i) < 0) {
                snprintf(err, errlen, "%s:%d: line too long", file, start_line);
                rc = -1;
                break;
            }
            i = j < len ? j + 1 : j;
            if (!cont || i >= len)
                break;
        }
        if (rc)
            break;
        const char *s = logical.p ? logical.p : "";
        size_t n = logical.len;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k >= n || s[k] == '#')
            continue;
        char *argv[SECLANG_MAX_ARGS + 1];
        size_t argc = 0;
        char serr[256];
        if (split_args(s + k, n - k, argv, &argc, serr, sizeof serr) < 0) {
            snprintf(err, errlen, "%s:%d: %s", file, start_line, serr);
            for (size_t a = 0; a < argc; a++)
                free(argv[a]);
            rc = -1;
            break;
        }
        if (argc == 0)
            continue;
        if (strcasecmp(argv[0], "Include") == 0 || strcasecmp(argv[0], "IncludeOptional") == 0) {
            if (argc != 2) {
                snprintf(err, errlen, "%s:%d: Include takes one argument", file, start_line);
                rc = -1;
            } else {
                rc = do_include(ctx, argv[1], file, start_line, depth, err, errlen);
            }
        } else {
            struct seclang_directive d = {
                .name = argv[0],
                .args = (const char *const *)argv + 1,
                .nargs = argc - 1,
                .file = file,
                .line = start_line,
            };
            rc = ctx->on_directive(ctx->ud, &d, err, errlen);
        }
        for (size_t a = 0; a < argc; a++)
            free(argv[a]);
    }
    buf_free(&logical);
    return rc;
}

const char *seclang_intern_file(struct seclang_ctx *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        if (strcmp(ctx->files[i], path) == 0)
            return ctx->files[i];
    char **nf = realloc(ctx->files, (ctx->nfiles + 1) * sizeof(*nf));
    if (!nf)
        return NULL;
    ctx->files = nf;
    ctx->files[ctx->nfiles] = strdup(path);
    if (!ctx->files[ctx->nfiles])
        return NULL;
    return ctx->files[ctx->nfiles++];
}

int seclang_load_file(struct seclang_ctx *ctx, const char *pattern, char *err, size_t errlen)
{
    return do_include(ctx, pattern, NULL, 0, 0, err, errlen);
}

int seclang_load_string(struct seclang_ctx *ctx, const char *text, const char *name, char *err,
                        size_t errlen)
{
    const char *fname = seclang_intern_file(ctx, name ? name : "<string>");
    if (!fname)
        return -1;
    return process_text(ctx, text, strlen(text), fname, 0, err, errlen);
}

void seclang_ctx_free(struct seclang_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        free(ctx->files[i]);
    free(ctx->files);
    ctx->files = NULL;
    ctx->nfiles = 0;
}
