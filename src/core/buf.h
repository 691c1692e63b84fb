/* Growable byte buffer with a hard maximum (in the spirit of curl's dynbuf).
 *
 * Contract: buf_append fails with -1 (and leaves the content intact) when the
 * result would pass max; the content is always NUL-terminated after a
 * successful append so it can be handed to C string APIs. */
#ifndef MAMORI_CORE_BUF_H
#define MAMORI_CORE_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_clear(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s as the body of a JSON string (no quotes), escaping as needed;
 * bytes that are not valid UTF-8 become \u00XX of the byte. */
int buf_json_str(struct buf *b, const char *s, size_t n);

#endif
