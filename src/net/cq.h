/* cq: an output queue of byte ranges in shared, reference-counted chunks.
 *
 * A chunk (struct cq_chunk) is bytes written once and read by many: a
 * broadcast line is formatted once into a chunk, and every queue that is to
 * send it holds a range of that chunk and a reference, not a copy. A queue
 * (struct cq) is a ring of such ranges; consecutive ranges of one chunk
 * merge, so the lines of one loop iteration usually cost a single entry and
 * go out in one writev. The queue has a hard cap in bytes (what its ranges
 * cover), and holds no memory when empty. What it keeps alive is counted
 * apart (cq_pinned): a range keeps its whole chunk, so an owner that bounds
 * what one slow reader costs looks at both.
 *
 * No I/O: cq_iov fills iovecs for the caller's writev and cq_consume drops
 * what was sent. Chunks are not thread-safe (one loop owns them). */
#ifndef FERRY_NET_CQ_H
#define FERRY_NET_CQ_H

#include <stddef.h>

struct iovec;

struct cq_chunk {
    unsigned refs;
    size_t len; /* bytes written: data[0, len) never changes again */
    size_t cap;
    char data[];
};

struct cq_ent {
    struct cq_chunk *c;
    size_t off, len;
    size_t pin; /* c->cap when this entry counts c toward pinned, else 0 */
};

struct cq {
    struct cq_ent *ents; /* ring of nents slots; NULL when empty */
    size_t head, n, nents;
    size_t bytes;  /* what the ranges cover */
    size_t pinned; /* the sizes of the chunks the ranges keep alive */
    size_t max;
};

/* A new chunk with room for cap bytes and one reference (the caller's), or
 * NULL when memory is short. */
struct cq_chunk *cq_chunk_new(size_t cap);

/* Takes one more reference; returns c. */
struct cq_chunk *cq_chunk_ref(struct cq_chunk *c);

/* Drops one reference; the last one frees the chunk. NULL is ignored. */
void cq_chunk_unref(struct cq_chunk *c);

/* Free space at the end of c. */
static inline size_t cq_chunk_room(const struct cq_chunk *c) { return c->cap - c->len; }

/* Copies n bytes to the end of c (n at most cq_chunk_room) and returns
 * their offset. Ranges already handed out are not touched. */
size_t cq_chunk_put(struct cq_chunk *c, const void *p, size_t n);

/* An empty queue that may cover up to max bytes. Allocates nothing. */
void cq_init(struct cq *q, size_t max);

/* Queues c->data[off, off + len), which must be written already. The queue
 * takes its own reference (none when the range continues its last entry).
 * Returns 0, -ENOBUFS when max would be passed (nothing is queued), or
 * -ENOMEM. len 0 queues nothing. */
int cq_push(struct cq *q, struct cq_chunk *c, size_t off, size_t len);

/* Queues a copy of p[0, n): into the last chunk when only this queue holds
 * it and it has room, else into a new chunk of its own. Same returns as
 * cq_push. */
int cq_append(struct cq *q, const void *p, size_t n);

/* Fills iov[0, max) with the first queued ranges; returns how many. */
int cq_iov(const struct cq *q, struct iovec *iov, int max);

/* Drops the first n queued bytes (n at most cq_len), releasing the chunks
 * they finish. An emptied queue frees its ring. */
void cq_consume(struct cq *q, size_t n);

/* Drops everything queued; the queue is empty and may be used again. */
void cq_free(struct cq *q);

/* Bytes queued. */
static inline size_t cq_len(const struct cq *q) { return q->bytes; }

/* The memory the queue keeps alive: the whole size of each chunk it holds
 * a range of, counted once for a run of entries in one chunk (a chunk met
 * again after another one counts again, so this errs high). */
static inline size_t cq_pinned(const struct cq *q) { return q->pinned; }

#endif
