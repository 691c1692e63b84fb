/* Byte-string slices: a pointer and a length into someone else's buffer.
 * A slice never owns its bytes; it lives no longer than the buffer. */
#ifndef MAMORI_CORE_STR_H
#define MAMORI_CORE_STR_H
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct str {
    const char *p;
    size_t n;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

static inline struct str str_make(const char *p, size_t n) { return (struct str){p, n}; }
static inline struct str str_c(const char *s) { return (struct str){s, s ? strlen(s) : 0}; }
static inline bool str_eq(struct str a, struct str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline bool str_ieq(struct str a, struct str b)
{
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}
static inline bool str_ieq_c(struct str a, const char *b) { return str_ieq(a, str_c(b)); }

#endif
