/*
 * common/buf.h - a growable byte buffer with a hard cap.
 *
 * Every buffer that holds input from the network is created with the most
 * it may ever hold; appends past that fail with -ENOSPC instead of growing.
 * The data is always NUL-terminated (the NUL is not counted in len), so a
 * text buffer can be used as a C string.
 *
 * Calling sequence: buf_init() -> appends -> buf_release() (or
 * buf_detach() to take the bytes).  Not thread-safe.
 */
#ifndef CAIRN_COMMON_BUF_H
#define CAIRN_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* hard cap on len */
};

/* Empty buffer that will refuse to grow past max bytes. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes.  0, -ENOSPC past max (b unchanged), or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);
/* Hand the bytes to the caller (free() them); b is left empty.  Never
 * NULL: an empty buffer detaches as "". *len (may be NULL) gets the length. */
char *buf_detach(struct buf *b, size_t *len);
void buf_release(struct buf *b);

#endif
