/* pipeq: the requests `ferry get` sent ahead on one connection (pipelining),
 * whose answers are not read yet. Pure bookkeeping: no I/O.
 *
 * Each entry is a URL (its index in the command line) and the Range start
 * its request asked for, oldest first; answers arrive in that order. The
 * look-ahead cursor (next) is the first URL not yet considered for sending
 * ahead. When a URL's turn comes, pq_turn says whether its answer is the
 * next on the wire. Whatever breaks the order (a redirect, a retry, another
 * range, a closed connection) breaks the pipeline: the connection is
 * closed, pq_break empties the queue, and the requests go again. */
#ifndef FERRY_GET_PIPEQ_H
#define FERRY_GET_PIPEQ_H

#include <stdbool.h>
#include <stdint.h>

#define PQ_MAX 16 /* requests in flight on one connection */

struct pq_entry {
    int index;    /* into the URL list */
    int64_t have; /* the Range start its request asked for; 0: none */
};

struct pq {
    struct pq_entry e[PQ_MAX]; /* e[0] is the oldest */
    int n;
    int next; /* the first URL the look-ahead has not considered; 0 when empty */
};

/* What a URL's turn does with the queue. */
enum pq_turn {
    PQ_SEND,  /* nothing was sent ahead: send this URL's request now */
    PQ_TAKE,  /* its request heads the queue as asked (popped): read the answer */
    PQ_BREAK, /* other answers come first, or its request asked another range:
               * close the connection (pq_break), then send */
};

/* Empties the queue and the cursor. */
void pq_clear(struct pq *q);

/* Entries in flight; true when no more may be sent. */
int pq_len(const struct pq *q);
bool pq_full(const struct pq *q);

/* Appends the request sent for index asking from have. 0, or -ENOBUFS when
 * full, -EINVAL when index does not come after the newest entry. */
int pq_push(struct pq *q, int index, int64_t have);

/* The oldest entry, or NULL. */
const struct pq_entry *pq_peek(const struct pq *q);

/* Removes the oldest entry (none: nothing happens). */
void pq_pop(struct pq *q);

/* The first URL after cur that the look-ahead should consider. */
int pq_next(const struct pq *q, int cur);

/* Records that the look-ahead considered every URL before next. */
void pq_considered(struct pq *q, int next);

/* The turn of URL index, which would ask from have now: see enum pq_turn.
 * Pops its entry when it heads the queue. */
enum pq_turn pq_turn(struct pq *q, int index, int64_t have);

/* URL index will not read its answer (it failed before asking): pops its
 * entry when it heads the queue and returns true, then the connection must
 * be closed; false when it was not sent ahead. */
bool pq_drop(struct pq *q, int index);

/* The connection is gone: returns how many requests lost their answers
 * (they go again), and empties the queue. */
int pq_break(struct pq *q);

#endif
