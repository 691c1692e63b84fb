/* Capped, rotating, zstd-compressed log files (see caplog.c for the
 * invariants). Thread-safe: any thread may write. */
#ifndef MAMORI_CORE_CAPLOG_H
#define MAMORI_CORE_CAPLOG_H
#include <stddef.h>
#include <stdint.h>

struct caplog;

/* NULL with err ("PATH: reason") when the file cannot be opened. */
struct caplog *caplog_open(const char *path, size_t rotate_bytes, size_t max_bytes, char *err,
                           size_t errlen);
void caplog_close(struct caplog *l);
/* Appends one line (the caller includes its '\n'); 0, or -1 when it was
 * lost (counted in caplog_write_errors). */
int caplog_write(struct caplog *l, const char *line, size_t n);
const char *caplog_path(const struct caplog *l);
int caplog_fd(const struct caplog *l);
size_t caplog_rotate_bytes(const struct caplog *l);
size_t caplog_max_bytes(const struct caplog *l);
uint64_t caplog_bytes_written(const struct caplog *l);
uint64_t caplog_write_errors(const struct caplog *l);

#endif
