#include "waf/macro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waf/vars_table.h"

static int add_part(struct macro *m, bool is_var, int var, const char *text, size_t len)
{
    struct macro_part *np = realloc(m->parts, (m->nparts + 1) * sizeof(*np));
    if (!np)
        return -1;
    m->parts = np;
    struct macro_part *p = &m->parts[m->nparts];
    p->is_var = is_var;
    p->var = var;
    p->text = malloc(len + 1);
    if (!p->text)
        return -1;
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->len = len;
    m->nparts++;
    return 0;
}

struct macro *macro_compile(const char *text, size_t len, char *err, size_t errlen)
{
    struct macro *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    size_t lit = 0, i = 0;
    while (i < len) {
        if (text[i] == '%' && i + 1 < len && text[i + 1] == '{') {
            const char *end = memchr(text + i + 2, '}', len - i - 2);
            if (!end)
                break; /* no closing brace: the rest is literal, as ModSecurity does */
            if (i > lit && add_part(m, false, 0, text + lit, i - lit) < 0)
                goto fail;
            const char *name = text + i + 2;
            size_t nlen = (size_t)(end - name);
            const char *dot = memchr(name, '.', nlen);
            const char *colon = memchr(name, ':', nlen);
            const char *sep = dot ? dot : colon;
            size_t vlen = sep ? (size_t)(sep - name) : nlen;
            int var = vars_lookup(name, vlen);
            if (var < 0) {
                snprintf(err, errlen, "unknown variable in macro %%{%.*s}", (int)nlen, name);
                goto fail;
            }
            const char *key = sep ? sep + 1 : "";
            size_t klen = sep ? nlen - vlen - 1 : 0;
            if (add_part(m, true, var, key, klen) < 0)
                goto fail;
            i = (size_t)(end - text) + 1;
            lit = i;
        } else {
            i++;
        }
    }
    if (len > lit && add_part(m, false, 0, text + lit, len - lit) < 0)
        goto fail;
    m->constant = true;
    for (size_t k = 0; k < m->nparts; k++)
        if (m->parts[k].is_var)
            m->constant = false;
    if (m->constant && m->nparts == 0 && add_part(m, false, 0, "", 0) < 0)
        goto fail;
    if (m->constant && m->nparts > 1) {
        /* cannot happen: literals are merged; keep the invariant explicit */
        snprintf(err, errlen, "internal: constant macro with %zu parts", m->nparts);
        goto fail;
    }
    return m;
fail:
    macro_free(m);
    return NULL;
}

void macro_free(struct macro *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nparts; i++)
        free(m->parts[i].text);
    free(m->parts);
    free(m);
}

struct str macro_const(const struct macro *m)
{
    return str_make(m->parts[0].text, m->parts[0].len);
}
