#include "core/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->cap = 0;
    b->max = max;
    b->rpos = 0;
    b->wpos = 0;
    b->fixed = false;
}

void buf_init_fixed(struct buf *b, void *storage, size_t size)
{
    b->data = storage;
    b->cap = size;
    b->max = size;
    b->rpos = 0;
    b->wpos = 0;
    b->fixed = true;
}

void buf_free(struct buf *b)
{
    if (b->fixed) {
        b->rpos = b->wpos = 0;
        return;
    }
    free(b->data);
    buf_init(b, b->max);
}

char *buf_reserve(struct buf *b, size_t n)
{
    size_t used = buf_len(b);

    if (b->data != NULL && b->cap - b->wpos >= n)
        return b->data + b->wpos;
    if (n > b->max || used > b->max - n)
        return NULL;
    /* Moving the unread bytes to the front may be enough. */
    if (b->rpos > 0) {
        memmove(b->data, b->data + b->rpos, used);
        b->rpos = 0;
        b->wpos = used;
        if (b->cap - b->wpos >= n)
            return b->data + b->wpos;
    }
    if (b->fixed)
        return NULL; /* cap == max: moving was all there was */
    size_t want = b->cap ? b->cap : 256;
    while (want < used + n)
        want = want > b->max / 2 ? b->max : want * 2;
    if (want > b->max)
        want = b->max;
    char *p = realloc(b->data, want);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = want;
    return b->data + b->wpos;
}

void buf_consume(struct buf *b, size_t n)
{
    b->rpos += n;
    if (b->rpos >= b->wpos)
        b->rpos = b->wpos = 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = buf_reserve(b, n);

    if (dst == NULL)
        return n > b->max - buf_len(b) ? -ENOBUFS : -ENOMEM;
    if (n > 0)
        memcpy(dst, p, n);
    b->wpos += n;
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    size_t room = buf_room(b);

    va_copy(ap2, ap);
    int n = vsnprintf(room ? b->data + b->wpos : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < room) {
        b->wpos += (size_t)n;
        return 0;
    }
    /* The text must fit the cap; its NUL need not. */
    char *tmp = malloc((size_t)n + 1);
    if (tmp == NULL)
        return -ENOMEM;
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    int rc = buf_append(b, tmp, (size_t)n);
    free(tmp);
    return rc;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}
