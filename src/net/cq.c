#include "net/cq.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define APPEND_CHUNK 4096 /* a private chunk's least size */
#define RING_MIN 4

struct cq_chunk *cq_chunk_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct cq_chunk))
        return NULL;
    struct cq_chunk *c = malloc(sizeof *c + cap);
    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->len = 0;
    c->cap = cap;
    return c;
}

struct cq_chunk *cq_chunk_ref(struct cq_chunk *c)
{
    c->refs++;
    return c;
}

void cq_chunk_unref(struct cq_chunk *c)
{
    if (c == NULL)
        return;
    assert(c->refs > 0);
    if (--c->refs == 0)
        free(c);
}

size_t cq_chunk_put(struct cq_chunk *c, const void *p, size_t n)
{
    size_t off = c->len;

    assert(n <= cq_chunk_room(c));
    memcpy(c->data + off, p, n);
    c->len += n;
    return off;
}

void cq_init(struct cq *q, size_t max)
{
    memset(q, 0, sizeof *q);
    q->max = max;
}

static struct cq_ent *slot(const struct cq *q, size_t i)
{
    return &q->ents[(q->head + i) % q->nents];
}

/* Room for one more entry: the ring doubles, its entries in order at 0. */
static int grow(struct cq *q)
{
    if (q->n < q->nents)
        return 0;
    size_t want = q->nents ? q->nents * 2 : RING_MIN;
    if (want > SIZE_MAX / sizeof *q->ents)
        return -ENOMEM;
    struct cq_ent *e = malloc(want * sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < q->n; i++)
        e[i] = *slot(q, i);
    free(q->ents);
    q->ents = e;
    q->nents = want;
    q->head = 0;
    return 0;
}

int cq_push(struct cq *q, struct cq_chunk *c, size_t off, size_t len)
{
    assert(off <= c->len && len <= c->len - off);
    if (len == 0)
        return 0;
    if (len > q->max - q->bytes)
        return -ENOBUFS;
    if (q->n > 0) {
        struct cq_ent *last = slot(q, q->n - 1);
        if (last->c == c && last->off + last->len == off) {
            last->len += len;
            q->bytes += len;
            return 0;
        }
    }
    /* The entry before it (same chunk, with a gap) already counts c. */
    size_t pin = q->n > 0 && slot(q, q->n - 1)->c == c ? 0 : c->cap;
    int rc = grow(q);
    if (rc < 0)
        return rc;
    *slot(q, q->n) = (struct cq_ent){.c = cq_chunk_ref(c), .off = off, .len = len, .pin = pin};
    q->n++;
    q->bytes += len;
    q->pinned += pin;
    return 0;
}

int cq_append(struct cq *q, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > q->max - q->bytes)
        return -ENOBUFS;
    if (q->n > 0) {
        struct cq_ent *last = slot(q, q->n - 1);
        struct cq_chunk *c = last->c;
        /* Ours alone, and our range ends where the chunk does: growing
         * the range in place changes nothing anybody else sees. */
        if (c->refs == 1 && last->off + last->len == c->len && cq_chunk_room(c) >= n) {
            cq_chunk_put(c, p, n);
            last->len += n;
            q->bytes += n;
            return 0;
        }
    }
    struct cq_chunk *c = cq_chunk_new(n > APPEND_CHUNK ? n : APPEND_CHUNK);
    if (c == NULL)
        return -ENOMEM;
    size_t off = cq_chunk_put(c, p, n);
    int rc = cq_push(q, c, off, n);
    cq_chunk_unref(c); /* the queue's reference is the only one left */
    return rc;
}

int cq_iov(const struct cq *q, struct iovec *iov, int max)
{
    int k = 0;

    for (size_t i = 0; i < q->n && k < max; i++, k++) {
        const struct cq_ent *e = slot(q, i);
        iov[k].iov_base = e->c->data + e->off;
        iov[k].iov_len = e->len;
    }
    return k;
}

void cq_consume(struct cq *q, size_t n)
{
    assert(n <= q->bytes);
    q->bytes -= n;
    while (n > 0) {
        struct cq_ent *e = slot(q, 0);
        if (n < e->len) {
            e->off += n;
            e->len -= n;
            break;
        }
        n -= e->len;
        if (q->n > 1 && slot(q, 1)->c == e->c && slot(q, 1)->pin == 0)
            slot(q, 1)->pin = e->pin; /* the chunk is still held: the next one counts it */
        else
            q->pinned -= e->pin;
        cq_chunk_unref(e->c);
        q->head = (q->head + 1) % q->nents;
        q->n--;
    }
    if (q->n == 0)
        cq_free(q);
}

void cq_free(struct cq *q)
{
    for (size_t i = 0; i < q->n; i++)
        cq_chunk_unref(slot(q, i)->c);
    free(q->ents);
    q->ents = NULL;
    q->head = q->n = q->nents = 0;
    q->bytes = 0;
    q->pinned = 0;
}
