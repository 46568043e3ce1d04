/* buf: one byte buffer type with read and write offsets.
 *
 * Bytes live in data[rpos, wpos). Writers append at wpos, readers consume at
 * rpos. Every buffer has a hard cap (max): a peer can never grow one past it.
 * An ordinary buffer (buf_init) allocates on demand and grows up to max; a
 * fixed one (buf_init_fixed) lives in the caller's storage and never grows. */
#ifndef FERRY_CORE_BUF_H
#define FERRY_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t cap;  /* bytes allocated */
    size_t max;  /* bytes this buffer may ever hold */
    size_t rpos; /* first unread byte */
    size_t wpos; /* one past the last written byte */
    bool fixed;  /* data is the caller's storage: never grown or freed here */
};

/* Sets up an empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Sets up an empty buffer over the caller's storage[0, size): it holds at
 * most size bytes and never grows. The storage stays the caller's: it must
 * outlive the buffer, and buf_free does not free it. */
void buf_init_fixed(struct buf *b, void *storage, size_t size);

/* Frees the storage (a fixed buffer's is left alone); the buffer is empty
 * and may be used again. */
void buf_free(struct buf *b);

/* Bytes waiting to be read. */
static inline size_t buf_len(const struct buf *b) { return b->wpos - b->rpos; }
static inline const char *buf_rptr(const struct buf *b) { return b->data + b->rpos; }

/* Makes room for n more bytes after wpos, moving unread bytes to the front
 * and growing up to max (a fixed buffer only moves). Returns a pointer to the free space, or NULL when n
 * more bytes would pass max or memory is short. */
char *buf_reserve(struct buf *b, size_t n);

/* Free space after wpos without moving or growing anything. */
static inline size_t buf_room(const struct buf *b) { return b->cap - b->wpos; }

/* Records that n bytes were written at the pointer buf_reserve returned. */
static inline void buf_commit(struct buf *b, size_t n) { b->wpos += n; }

/* Consumes n unread bytes; an emptied buffer rewinds to offset 0. */
void buf_consume(struct buf *b, size_t n);

/* Append bytes or formatted text. Return 0, or -ENOBUFS past max, -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
